"""Review and All images pages in headless Chromium at 1280 px: 100 faces decided with the keyboard
alone (timed; the decisions land in the SQLite flag store), and the table's row selection.

Screenshots land in test-artifacts/ (git-ignored) for a person to look at.
"""
import statistics
import time

import pandas as pd
import pytest

from browser_helpers import (ARTIFACTS, EXCEPTION, REVIEW_FACE, RUN_COUNTER_JS, drag_select,
                             full_page_screenshot, review_by_keyboard, runs_done, wait_idle, wait_images)
from fer_core.models.checkpoint import shipped_checkpoints

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not shipped_checkpoints(), reason="no shipped checkpoint")]
WIDTH = {"width": 1280, "height": 900}
#: Decision of each key: n not an error, m mislabeled, x not a face, d duplicate, 3 mislabeled as happy.
KEYS = {"n": ("not_error", None), "m": ("mislabeled", None), "x": ("not_face", None), "d": ("duplicate", None),
        "3": ("mislabeled", 3)}


@pytest.fixture
def page_1280(streamlit_server, _browser):
    url, cache = streamlit_server
    context = _browser.new_context(viewport=WIDTH)
    context.add_init_script(RUN_COUNTER_JS)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield url, cache, page
    finally:
        context.close()


def _open(page, url: str, timeout_s: float = 300):
    page.goto(url)
    wait_idle(page, 0, timeout_s)
    wait_images(page)
    assert [e.inner_text() for e in page.locator(EXCEPTION).all()] == []


@pytest.fixture
def flags_left_as_found(streamlit_server):
    """The server's flag store, with the decisions a test made removed afterwards (the server and
    its cache are shared by every browser test)."""
    from fer_core.data.dataset import load_dataset
    from fer_core.data.flags import FlagStore
    ds = load_dataset()
    flags = FlagStore(streamlit_server[1] / "flags.sqlite")
    before = set(flags.history(ds.data_hash)["id"].tolist())
    yield flags
    flags.remove(data_hash=ds.data_hash, ids=[i for i in flags.history(ds.data_hash)["id"] if i not in before])


def test_100_faces_decided_with_the_keyboard_only(page_1280, flags_left_as_found):
    from fer_core.data.dataset import load_dataset
    url, _, page = page_1280
    ds = load_dataset()
    first = 200  # rows of the sample no other browser test flags
    _open(page, f"{url}/review?sel=r{first}-{first + 99}&sel_from=keyboard+test")
    assert "Face 1 of 100" in page.locator(REVIEW_FACE).inner_text()
    assert page.locator('[data-testid="stSidebar"]').get_by_text("100 images · keyboard test").is_visible()
    full_page_screenshot(page, ARTIFACTS / "review_1280.png")
    keys = [list(KEYS)[k % len(KEYS)] for k in range(100)]
    t0 = time.perf_counter()
    times = review_by_keyboard(page, keys)
    total = time.perf_counter() - t0
    print(f"\n100 faces decided with the keyboard in {total:.1f} s (per face: median {statistics.median(times):.2f} s, "
          f"max {max(times):.2f} s)")
    assert "End of the selection" in page.locator('[data-testid="stAlertContentSuccess"]').inner_text()
    latest = flags_left_as_found.latest(ds.data_hash).set_index("row")
    for k, key in enumerate(keys):
        row = int(ds.row[first + k])
        decision, label = KEYS[key]
        assert latest.loc[row, "decision"] == decision, (k, key)
        assert (pd.isna(latest.loc[row, "label"]) if label is None else latest.loc[row, "label"] == label), (k, key)
    # U takes the last decision back and shows that face again
    n = runs_done(page)
    page.keyboard.press("u")
    wait_idle(page, n)
    assert "Face 100 of 100" in page.locator(REVIEW_FACE).inner_text()
    assert int(ds.row[first + 99]) not in flags_left_as_found.latest(ds.data_hash)["row"].tolist()
    assert [e.inner_text() for e in page.locator(EXCEPTION).all()] == []


def test_table_rows_checked_become_the_selection(page_1280):
    url, _, page = page_1280
    _open(page, f"{url}/table")
    assert page.get_by_text("1,000 of 1,000 images match").first.is_visible()
    full_page_screenshot(page, ARTIFACTS / "table_1280.png")
    grid = page.locator('[data-testid="stDataFrame"]').first
    box = grid.bounding_box()
    for row in (0, 2):  # the row-marker column: a click checks the row
        n = runs_done(page)
        page.mouse.click(box["x"] + 16, box["y"] + 36 + 52 * row + 26)
        wait_idle(page, n)
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert "2 images · 2 checked table rows" in sidebar.inner_text(), sidebar.inner_text()  # current summary
    assert "sel=r0.2" in page.url
    full_page_screenshot(page, ARTIFACTS / "table_1280_selected.png")
    assert [e.inner_text() for e in page.locator(EXCEPTION).all()] == []


def test_a_box_on_the_map_and_a_confusion_cell_become_the_selection_and_open_in_review(streamlit_app):
    import re

    from browser_helpers import CELL_JS
    from test_browser_embeddings import ROWS_IN_RECT_JS, _open as open_map
    page = open_map(streamlit_app)
    sidebar = page.locator('[data-testid="stSidebar"]')
    x0, y0, x1, y1 = page.evaluate(ROWS_IN_RECT_JS, [0, 0, 0, 0, 160, 120])["rect"]
    streamlit_app.act(lambda: drag_select(page, x0, y0, x1, y1))
    heading = page.get_by_role("heading", name=re.compile(r"selected images"))
    heading.wait_for(timeout=15_000)
    n = int(re.match(r"([\d,]+)", heading.inner_text()).group(1).replace(",", ""))
    page.wait_for_function("t => document.querySelector('[data-testid=\"stSidebar\"]').innerText.includes(t)",
                           arg=f"{n:,} images · box on UMAP map", timeout=15_000)  # the app reran: sidebar current
    streamlit_app.act(lambda: sidebar.locator('[data-testid="stPageLink-NavLink"]', has_text="Review").click())
    page.get_by_role("heading", name="Review").wait_for()
    assert f"Face 1 of {n:,}" in page.locator(REVIEW_FACE).inner_text()
    assert "sel=" in page.url and "box+on+UMAP+map" in page.url.replace("%20", "+")
    assert streamlit_app.exceptions() == []
    # a confusion cell on the Model page replaces it
    streamlit_app.act(lambda: page.get_by_role("link", name="Model").first.click())
    page.locator('[data-testid="stVegaLiteChart"] g.mark-rect path').first.wait_for()
    pt = page.evaluate(CELL_JS, [2, 4])  # fear -> sad
    streamlit_app.act(lambda: page.mouse.click(pt["px"], pt["py"]))
    m = re.search(r"\*?\*?(\d+)\*?\*? images labeled fear predicted sad",
                  page.get_by_text(re.compile(r"images labeled .* predicted")).first.inner_text())
    k = int(m.group(1))
    assert f"{k:,} image{'s' * (k != 1)} · confusion cell fear->sad (PrivateTest)" in sidebar.inner_text()
    assert streamlit_app.exceptions() == []
    streamlit_app.screenshot("model_cell_selection")
