"""Driving the dashboard in headless Chromium: start a server, count script runs, wait, screenshot.

Plain functions and constants (no fixtures), shared by the browser tests (tests/browser/conftest.py
wraps them in fixtures), the load test and bench/bench_pages.py.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("FER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
VIEWPORT = {"width": 1500, "height": 1000}
#: A laptop-sized window (issue 17: labels and charts were cut off at 1280 px).
NARROW_VIEWPORT = {"width": 1280, "height": 900}
#: Both, for `@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)` on a browser test.
VIEWPORTS, VIEWPORT_IDS = (VIEWPORT, NARROW_VIEWPORT), ("1500px", "1280px")
EXCEPTION = '[data-testid="stException"]'

#: Pixel centre of a confusion-matrix cell ([true, predicted]) of the Model page's Vega-Lite chart
#: (SVG: one <path> per cell, in row-major order, each labelled "predicted: ..; true: ..").
CELL_JS = """([t, p]) => {
  const cells = () => [...document.querySelectorAll('[data-testid="stVegaLiteChart"] g.mark-rect path')]
                        .filter(e => (e.getAttribute('aria-label') || '').startsWith('predicted:'));
  cells()[0].scrollIntoView({block: 'center'});
  const all = cells(), k = Math.round(Math.sqrt(all.length));
  const r = all[t * k + p].getBoundingClientRect();
  return {px: r.left + r.width / 2, py: r.top + r.height / 2, label: all[t * k + p].getAttribute('aria-label')};
}"""

#: An isolated point of the first Plotly chart (the map), inside the viewport: its row (customdata),
#: trace, and page coordinates; "isolated" = farthest in pixels from any other point, so the click
#: is unambiguous.
FIND_POINT_JS = """() => {
  const gd = document.querySelectorAll('.js-plotly-plot')[0];
  const fl = gd._fullLayout, xa = fl.xaxis, ya = fl.yaxis, box = gd.getBoundingClientRect();
  const pts = [];
  gd._fullData.forEach((t, c) => { if (!t.customdata || t.meta === 'density picks') return;  // the shading
    for (let i = 0; i < t.x.length; i++)
      pts.push({c, i, row: Number(t.customdata[i]), x: Number(t.x[i]), y: Number(t.y[i]),
                px: box.left + xa._offset + xa.l2p(t.x[i]), py: box.top + ya._offset + ya.l2p(t.y[i])}); });
  let best = null, bestD = -1;
  for (const p of pts) {
    if (p.px < box.left + xa._offset + 15 || p.px > box.left + xa._offset + xa._length - 15 ||
        p.py < box.top + ya._offset + 15 || p.py > box.top + ya._offset + ya._length - 15 ||
        p.py > window.innerHeight - 15) continue;  // clicks land only inside the viewport
    let d = Infinity;
    for (const q of pts) if (q !== p) d = Math.min(d, Math.hypot(q.px - p.px, q.py - p.py));
    if (d > bestD) { bestD = d; best = p; }
  }
  return {...best, gap: bestD, n: pts.length, traces: gd._fullData.length};
}"""



#: The k-th face (page order) of the clickable face grids (dashboard.ui.face_grid: Vega-Lite image
#: marks, each labelled "...; index: <dataset index>; ..."), scrolled into view: its centre and index.
FACE_JS = """(k) => {
  const faces = [...document.querySelectorAll('[data-testid="stVegaLiteChart"] g.mark-image image')];
  faces[k].scrollIntoView({block: 'center'});
  const r = faces[k].getBoundingClientRect();
  const m = /index: (\\d+)/.exec(faces[k].getAttribute('aria-label') || '');
  return {x: r.left + r.width / 2, y: r.top + r.height / 2, index: m ? +m[1] : null, n: faces.length};
}"""


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
        (the dashboard's tabs are lazy: opening one reruns the page)
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


@contextmanager
def serve_dashboard(cache_dir, *, log=subprocess.DEVNULL, timeout_s: float = 60, app="dashboard/Home.py"):
    """Run `streamlit run dashboard/Home.py` (or another `app` script) on a free loopback port with
    FER_CACHE_DIR=cache_dir; yields the base URL once the server answers, and stops it afterwards.

    Raises:
        RuntimeError: the server exited or did not answer within `timeout_s`.
    """
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port),
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


#: Text of the Review page's face counter ("Face 3 of 100 · image #2", or the end of the selection).
REVIEW_FACE = '.st-key-rv_face'


def review_by_keyboard(page, keys, *, timeout_s: float = 30) -> list[float]:
    """On the Review page, press each key of `keys` (a decision: n, m, x, d or a digit) and wait
    until the next face is on screen (its counter and image loaded). Only the keyboard is used.
    Returns the seconds from each press to the next face shown."""
    times = []
    for k, key in enumerate(keys):
        start = page.locator(REVIEW_FACE).inner_text()
        t0 = time.perf_counter()
        page.keyboard.press(key)
        page.wait_for_function(
            """([sel, before]) => { const e = document.querySelector(sel);
                 if (!e || e.innerText === before) return false;
                 return [...e.querySelectorAll('img')].every(i => i.complete && i.naturalWidth > 0); }""",
            arg=[REVIEW_FACE, start], timeout=timeout_s * 1000)
        times.append(time.perf_counter() - t0)
    return times

#: Texts of elements matching a selector that are cut off: the text overflows its box (an ellipsis),
#: or the element reaches past the right edge of the main area (hidden by the page's overflow).
CLIPPED_JS = """(sel) => {
  const main = document.querySelector('[data-testid="stMain"]').getBoundingClientRect();
  const out = [];
  for (const el of document.querySelectorAll(sel)) {
    const cut = [el, ...el.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth + 1
                                                           && getComputedStyle(e).overflow !== 'visible');
    const r = el.getBoundingClientRect();
    if (cut || r.right > main.right + 1) out.push(el.innerText || el.textContent);
  }
  return out;
}"""

#: The axis labels each Vega-Lite chart (SVG) shows: [[text, ...] per chart]. Labels Vega hides
#: for overlapping a neighbour (labelOverlap) are drawn with opacity 0 and left out, and so are
#: labels outside the chart's box.
AXIS_LABELS_JS = """() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')].map(c => {
  const box = c.getBoundingClientRect();
  return [...c.querySelectorAll('g.role-axis-label text')].filter(t => {
    const r = t.getBoundingClientRect();
    return Number(getComputedStyle(t).opacity) > 0 && Number(t.getAttribute('opacity') ?? 1) > 0 && r.width > 0
           && r.left >= box.left - 1 && r.right <= box.right + 1;
  }).map(t => t.textContent);
})"""

#: Texts of elements matching a selector that are not fully seen: at their left or right end (2 px
#: in, vertically centred) the browser shows another element: a chip scrolled out of its row, a
#: covering control, the edge of the window. For elements in the viewport (nothing is scrolled:
#: scrolling would reveal what the test looks for).
HIDDEN_JS = """(sel) => [...document.querySelectorAll(sel)].filter(el => {
  const r = el.getBoundingClientRect(), y = r.top + r.height / 2;
  return ![r.left + 2, r.right - 2].every(x => el.contains(document.elementFromPoint(x, y)));
}).map(el => el.innerText)"""
#: The chips of chosen options in st.multiselect widgets.
CHIPS = '[data-testid="stMultiSelectTagsContainer"] [data-tag]'


# ---- the Embeddings map at scale (tests/browser/test_browser_map_1m.py, bench/bench_map_1m.py) ----
#: A drawn point of the map (first Plotly chart) with no other drawn point within 8 px, inside the
#: plot area: its row (customdata), map x/y and page pixel. A grid of 8 px cells keeps it O(points).
ISOLATED_POINT_JS = """() => {
  const gd = document.querySelectorAll('.js-plotly-plot')[0];
  const fl = gd._fullLayout, xa = fl.xaxis, ya = fl.yaxis, box = gd.getBoundingClientRect();
  const L = box.left + xa._offset, T = box.top + ya._offset, C = 8, grid = new Map(), pts = [];
  gd._fullData.forEach(t => { if (!t.customdata || t.meta === 'density picks') return;  // drawn points only
    for (let i = 0; i < t.x.length; i++) {
      const p = {row: Number(t.customdata[i]), x: Number(t.x[i]), y: Number(t.y[i]),
                 px: L + xa.l2p(t.x[i]), py: T + ya.l2p(t.y[i])};
      const k = Math.floor(p.px / C) + ',' + Math.floor(p.py / C);
      grid.set(k, (grid.get(k) || 0) + 1); pts.push(p); } });
  const lone = p => { const cx = Math.floor(p.px / C), cy = Math.floor(p.py / C);
    for (let dx = -1; dx <= 1; dx++) for (let dy = -1; dy <= 1; dy++)
      if ((grid.get((cx + dx) + ',' + (cy + dy)) || 0) > (dx || dy ? 0 : 1)) return false;
    return true; };
  const ok = pts.filter(p => p.px > L + 40 && p.px < L + xa._length - 40 && p.py > T + 40
                             && p.py < Math.min(T + ya._length, window.innerHeight) - 40 && lone(p));
  return {...ok[Math.floor(ok.length / 2)], n: pts.length, lone: ok.length};
}"""
#: Page pixel of a data point (x, y) of the first Plotly chart.
TO_PX_JS = """([x, y]) => { const g = document.querySelectorAll('.js-plotly-plot')[0];
  const fl = g._fullLayout, b = g.getBoundingClientRect();
  return [b.left + fl.xaxis._offset + fl.xaxis.l2p(x), b.top + fl.yaxis._offset + fl.yaxis.l2p(y)]; }"""


def drag_select(page, x0: float, y0: float, x1: float, y1: float, *, steps: int = 8) -> float:
    """On the first Plotly chart, pick the toolbar's box select and drag from page pixel (x0, y0)
    to (x1, y1) in `steps` mouse moves. Returns time.perf_counter() at the mouse's release (what a
    user waits from)."""
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2)  # shows the toolbar
    page.locator('.modebar-btn[data-attr="dragmode"][data-val="select"]').first.click()
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot')[0]._fullLayout.dragmode === 'select'")
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=steps)
    released = time.perf_counter()
    page.mouse.up()
    return released


def box_drag(page, box, *, steps: int = 4) -> float:
    """:func:`drag_select` over the region ((x0, x1), (y0, y1)) in data coordinates."""
    (bx0, bx1), (by0, by1) = box
    x0, y0 = page.evaluate(TO_PX_JS, [bx0, by1])
    x1, y1 = page.evaluate(TO_PX_JS, [bx1, by0])
    return drag_select(page, x0, y0, x1, y1, steps=steps)
