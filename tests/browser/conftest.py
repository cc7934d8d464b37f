"""Real-browser fixtures: a Streamlit server on a free port in a temporary cache, and Chromium.

Uses Debian's chromium (``apt-get install chromium``) driven by Playwright (``pip install
playwright``; no ``playwright install`` needed). Tests skip cleanly when either is missing.
Override the browser binary with $FER_CHROMIUM.

    def test_something(streamlit_app):
        page = streamlit_app.goto("dataset")          # waits until the script run is done
        assert page.get_by_text("images match").is_visible()
        streamlit_app.screenshot("dataset")           # test-artifacts/dataset.png, full page

A test runs at VIEWPORT (1500 px wide); to run it at 1280 px too, parametrize the `viewport` fixture:

    @pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
    def test_layout(streamlit_app, viewport): ...
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from browser_helpers import (ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, EXCEPTION, RUN_COUNTER_JS, VIEWPORT,
                             full_page_screenshot, runs_done, serve_dashboard, wait_idle, wait_images)


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives the dashboard in headless Chromium (needs chromium + playwright)")


@pytest.fixture(scope="session")
def _browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


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
        """test-artifacts/<name>.png (<name>_<width>.png when the window is not VIEWPORT's width)."""
        width = self.page.viewport_size["width"]
        suffix = "" if width == VIEWPORT["width"] else f"_{width}"
        return full_page_screenshot(self.page, ARTIFACTS / f"{name}{suffix}.png")


@pytest.fixture
def viewport() -> dict:
    """The browser window's size; a test parametrizes it (VIEWPORTS) to run at 1280 px too."""
    return VIEWPORT


@pytest.fixture
def streamlit_app(streamlit_server, _browser, viewport):
    """(base URL, Playwright page) on the shared server, in a new browser context per test."""
    url, cache = streamlit_server
    context = _browser.new_context(viewport=viewport)
    context.add_init_script(RUN_COUNTER_JS)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield StreamlitApp(url, page, cache)
    finally:
        context.close()
