"""Real-browser fixtures: a Streamlit server on a free port in a temporary cache, and Chromium.

Uses Debian's chromium (``apt-get install chromium``) driven by Playwright (``pip install
playwright``; no ``playwright install`` needed). Tests skip cleanly when either is missing.
Override the browser binary with $FER_CHROMIUM.

    def test_something(streamlit_app):
        page = streamlit_app.goto("dataset")          # waits until the script run is done
        assert page.get_by_text("images match").is_visible()
        streamlit_app.screenshot("dataset")           # test-artifacts/dataset.png, full page
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("FER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
VIEWPORT = {"width": 1500, "height": 1000}
EXCEPTION = '[data-testid="stException"]'


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives the dashboard in headless Chromium (needs chromium + playwright)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: Counts finished script runs in window.__stRunsDone (stApp's data-test-script-state
#: leaving 'running'), so a test can wait for *its* rerun to end.
RUN_COUNTER_JS = """(() => {
  window.__stRunsDone = 0;
  new MutationObserver(records => {
    for (const r of records) if (r.oldValue === 'running') window.__stRunsDone++;
  }).observe(document, {attributes: true, attributeOldValue: true, subtree: true,
                        attributeFilter: ['data-test-script-state']});
})();"""
DONE = '[data-testid="stApp"][data-test-connection-state="CONNECTED"][data-test-script-state="notRunning"]'


def runs_done(page) -> int:
    """Number of script runs (full or fragment) finished since the page was loaded."""
    return page.evaluate("() => window.__stRunsDone || 0")


def wait_idle(page, after: int = 0, timeout_s: float = 60) -> None:
    """Wait until more than `after` script runs have finished and none is running.

    Example:
        n = runs_done(page); page.get_by_role("tab", name="Pixel statistics").click(); wait_idle(page, n)
    """
    page.wait_for_function("n => (window.__stRunsDone || 0) > n", arg=after, timeout=timeout_s * 1000)
    page.wait_for_selector(DONE, timeout=timeout_s * 1000)
    # Element components load lazily after the run (placeholders are stSkeleton): wait for them,
    # then for the DOM to stop changing.
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stSkeleton\"]')",
                           timeout=timeout_s * 1000)
    count, prev = "() => document.querySelectorAll('[data-testid]').length", -1
    deadline = time.time() + timeout_s
    while (n := page.evaluate(count)) != prev and time.time() < deadline:
        prev = n
        page.wait_for_timeout(300)


def wait_images(page, timeout_s: float = 30) -> None:
    """Wait until every <img> of st.image elements has loaded."""
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stImage"] img')]
                                        .every(i => i.complete && i.naturalWidth > 0)""", timeout=timeout_s * 1000)


def full_page_screenshot(page, path: Path) -> Path:
    """Screenshot of the whole page: Streamlit scrolls inside its main block, so the viewport is
    grown to the content height first (and restored after)."""
    js = """() => { const m = document.querySelector('[data-testid="stMain"]');
                    return m ? m.scrollHeight : document.body.scrollHeight; }"""
    h, prev = page.evaluate(js), -1
    while h != prev:  # charts load lazily and change the height
        page.wait_for_timeout(500)
        prev, h = h, page.evaluate(js)
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": int(h) + 40})
    page.wait_for_timeout(800)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path


@pytest.fixture(scope="session")
def _browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextmanager
def serve_dashboard(cache_dir, *, log=subprocess.DEVNULL, timeout_s: float = 60):
    """Run `streamlit run dashboard/Home.py` on a free loopback port with FER_CACHE_DIR=cache_dir;
    yields the base URL once the server answers, and stops it afterwards.

    Raises:
        RuntimeError: the server exited or did not answer within `timeout_s`.
    """
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/Home.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env={**os.environ, "FER_CACHE_DIR": str(cache_dir)}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("streamlit did not start")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def streamlit_server(tmp_path_factory, _browser):
    """Start `streamlit run dashboard/Home.py` on a free loopback port with FER_CACHE_DIR in a
    temporary folder; yields (base_url, cache_dir). Stopped at the end of the session."""
    cache = tmp_path_factory.mktemp("fer-cache-browser")
    with open(cache / "streamlit.log", "w") as log:
        try:
            with serve_dashboard(cache, log=log) as url:
                yield url, cache
        except RuntimeError as e:  # raised only while starting
            log.flush()
            pytest.fail(f"{e}:\n{(cache / 'streamlit.log').read_text()[-3000:]}")


@dataclass
class StreamlitApp:
    """A running dashboard and a fresh browser page on it."""

    url: str
    page: object  # playwright.sync_api.Page
    cache_dir: Path

    def goto(self, path: str = "", timeout_s: float = 60):
        """Open `url/path` (a page's url path, '' for Home) and wait for the run to finish."""
        self.page.goto(f"{self.url}/{path}")
        wait_idle(self.page, 0, timeout_s)
        wait_images(self.page)
        return self.page

    def act(self, action, timeout_s: float = 60):
        """Run `action()` (a click, a fill) and wait for the rerun it triggers to finish."""
        n = runs_done(self.page)
        action()
        wait_idle(self.page, n, timeout_s)
        wait_images(self.page)
        return self.page

    def exceptions(self) -> list[str]:
        return [e.inner_text() for e in self.page.locator(EXCEPTION).all()]

    def screenshot(self, name: str) -> Path:
        return full_page_screenshot(self.page, ARTIFACTS / f"{name}.png")


@pytest.fixture
def streamlit_app(streamlit_server, _browser):
    """(base URL, Playwright page) on the shared server, in a new browser context per test."""
    url, cache = streamlit_server
    context = _browser.new_context(viewport=VIEWPORT)
    context.add_init_script(RUN_COUNTER_JS)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield StreamlitApp(url, page, cache)
    finally:
        context.close()
