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
from browser_helpers import NARROW_VIEWPORT, REVIEW_FACE, drag_select, review_by_keyboard
from test_browser_review import flags_left_as_found  # noqa: F401  (a fixture)

from fer_core.models.checkpoint import shipped_checkpoints

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not shipped_checkpoints(), reason="no shipped checkpoint")]
#: Keys pressed on Review, one face each, and the (decision, corrected label) each saves.
KEYS = {"n": ("not_error", ""), "m": ("mislabeled", ""), "x": ("not_face", ""), "d": ("duplicate", ""),
        "3": ("mislabeled", "happy")}


def select_on_map(streamlit_app, *, w: int = 160, h: int = 120) -> set[int]:
    """Select a group on the Embeddings map the way a user does (the toolbar's box tool, a drag over
    the densest w x h pixel rectangle of the plot) and wait until the app shows the selection.
    Returns the dataset indices of the points drawn inside the rectangle (what should be selected).
    The one place this test touches the map: adapt it when the map's drawing changes."""
    from test_browser_embeddings import ROWS_IN_RECT_JS
    from test_browser_embeddings import _open as open_map
    page = open_map(streamlit_app)
    x0, y0, x1, y1 = page.evaluate(ROWS_IN_RECT_JS, [0, 0, 0, 0, w, h])["rect"]
    inside = set(page.evaluate(ROWS_IN_RECT_JS, [x0, y0, x1, y1, 0, 0])["rows"])
    streamlit_app.act(lambda: drag_select(page, x0, y0, x1, y1))
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
    for key, saved in KEYS.items():
        i = int(re.search(r"image #(\d+)", page.locator(REVIEW_FACE).inner_text()).group(1))
        review_by_keyboard(page, [key])
        decided[i] = saved
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


@pytest.fixture
def label_errors_built(streamlit_server):
    """The label_errors artifact of the default model in the server's cache (the Label errors page
    builds it on a visit; the table's label-error score column needs it)."""
    import fer_core.analysis.label_errors  # noqa: F401  (registers the stage)
    from fer_core import stages
    from fer_core.data.dataset import load_dataset
    from fer_core.store import Store
    return stages.get("label_errors", load_dataset(), store=Store(streamlit_server[1]))


@pytest.mark.parametrize("viewport", [NARROW_VIEWPORT], ids=["1280px"])
def test_table_sorted_by_label_error_score_checked_rows_bulk_flag_and_undo(streamlit_app, viewport, label_errors_built,
                                                                          flags_left_as_found):  # noqa: F811
    import time

    from fer_core.data.dataset import load_dataset
    ds = load_dataset()
    flags, page = flags_left_as_found, streamlit_app.page
    top = np.argsort(-np.asarray(label_errors_built["score_ensemble"]), kind="stable")[:2]
    r0, r1 = (int(ds.row[i]) for i in top)
    flags.add(data_hash=ds.data_hash, row=r0, decision="not_error")  # a decision the undo must bring back
    t0 = time.perf_counter()
    streamlit_app.goto("table", timeout_s=120)
    page.get_by_role("combobox", name="Sort by", exact=True).click()
    streamlit_app.act(page.get_by_role("option", name="label-error score", exact=True).click)
    streamlit_app.act(page.get_by_text("Largest first", exact=True).click)
    grid = page.locator('[data-testid="stDataFrame"]').first
    box = grid.bounding_box()
    for row in (0, 1):  # the row-marker column: a click checks the row
        streamlit_app.act(lambda row=row: page.mouse.click(box["x"] + 16, box["y"] + 36 + 52 * row + 26))
    page.wait_for_function("() => document.querySelector('[data-testid=\"stSidebar\"]').innerText"
                           ".includes('2 images · 2 checked table rows')", timeout=15_000)
    assert _url_selection(page, len(ds)).tolist() == sorted(top.tolist())  # the two highest scores

    streamlit_app.act(page.get_by_role("button", name="Flag all 2 selected").click)
    latest = flags.latest(ds.data_hash).set_index("row")
    assert latest.loc[[r0, r1], "decision"].tolist() == ["mislabeled", "mislabeled"]
    undo = page.get_by_role("button", name=re.compile(r"Undo flag all \(2 mislabeled\)"))
    assert undo.is_enabled()
    streamlit_app.screenshot("chain_table_flagged")
    streamlit_app.act(undo.click)
    latest = flags.latest(ds.data_hash).set_index("row")
    assert latest.loc[r0, "decision"] == "not_error" and r1 not in latest.index  # as before the batch
    assert page.get_by_role("button", name="Undo flag all", exact=True).is_disabled()
    assert streamlit_app.exceptions() == []
    print(f"\ntable: sort, check 2 rows, flag all, undo in {time.perf_counter() - t0:.1f} s")
