"""The current selection across pages (URL round trip, a bad ?sel=), the Review page's decisions
(saved in the flag store's SQLite file) and flag-all with undo, and the All images table's sort,
filters, paging and select-all (Streamlit AppTest on the bundled sample)."""
from pathlib import Path

import numpy as np
import pytest

from fer_core.data.dataset import load_dataset
from fer_core.data.flags import FlagStore
from fer_core.data.selection import decode, encode
from fer_core.models.checkpoint import shipped_checkpoints
from fer_testutils import run_page

pytest.importorskip("streamlit.testing.v1")
ROOT = Path(__file__).resolve().parent.parent
HOME, REVIEW, TABLE = (str(ROOT / p) for p in ("dashboard/Home.py", "pages/review.py", "pages/table.py"))
pytestmark = pytest.mark.usefixtures("module_cache")


@pytest.fixture(scope="module")
def sample():
    return load_dataset(use_cache=False)


def _at(page, **params):
    """A fresh AppTest of `page` opened with the URL query parameters `params`, run once."""
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(page, default_timeout=300)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()  # (not run_page: an AppTest that has not run yet is falsy)
    assert not at.exception, [e.value for e in at.exception]
    return at


def _button(at, key):
    return next(b for b in at.button if b.key == key)


def _sidebar_text(at) -> str:
    return "\n".join(str(e.value) for e in [*at.sidebar.caption, *at.sidebar.markdown, *at.sidebar.warning])


def _flags(sample):
    return FlagStore().latest(sample.data_hash).set_index("row")


def test_a_link_restores_the_selection_on_every_page(sample):
    picked = [3, 4, 5, 6, 40, 41, 500]
    at = _at(HOME, sel=encode(picked, n=len(sample)), sel_from="box on UMAP map",
             sel_data=sample.data_hash[:12])
    assert "**7 images** · box on UMAP map" in _sidebar_text(at)
    assert at.session_state["selection"].indices.tolist() == picked
    at.switch_page("../pages/review.py").run()  # navigation clears the URL's parameters: written back
    assert not at.exception and at.title[0].value == "Review"
    assert decode(at.query_params["sel"], n=len(sample)).tolist() == picked
    assert at.query_params["sel_from"] == "box on UMAP map"
    assert "Face **1** of 7 · image #3" in [m.value for m in at.markdown]
    _button(at, "selection_clear").click()
    at.run()
    assert "sel" not in at.query_params and "No images selected" in _sidebar_text(at)


@pytest.mark.parametrize("params, message", [
    ({"sel": "r5-2"}, "could not be read: indices are not in increasing order"),
    ({"sel": "r99999"}, "could not be read: index 99999 is outside 0..999"),
    ({"sel": "q!"}, "unknown selection form"),
    ({"sel": "r1-3", "sel_data": "0123456789ab"}, "was made on other data"),
])
def test_a_bad_link_is_a_warning_not_a_traceback(params, message):
    at = _at(HOME, **params)
    assert not at.exception
    assert message in _sidebar_text(at), _sidebar_text(at)
    assert "selection" not in at.session_state and "sel" not in at.query_params  # the bad value is dropped
    at = _at(REVIEW, **params)  # the page on its own says so too
    assert any(message in w.value for w in at.warning)
    assert any("No images are selected" in i.value for i in at.info)


@pytest.mark.skipif(not shipped_checkpoints(), reason="no shipped checkpoint")
def test_review_decisions_are_saved_and_move_on(sample):
    at = _at(REVIEW, sel="r10-14", sel_from="test")
    rows = sample.row[10:15]
    _button(at, "rv_not_error").click()
    at = run_page(REVIEW, at=at)
    assert at.session_state["rv_pos"] == 1 and "Face **2** of 5 · image #11" in [m.value for m in at.markdown]
    _button(at, "rv_class_3").click()  # key 3: mislabeled, really happy
    at = run_page(REVIEW, at=at)
    _button(at, "rv_not_face").click()
    at = run_page(REVIEW, at=at)
    f = _flags(sample)
    assert f.loc[rows[0], "decision"] == "not_error"
    assert f.loc[rows[1], "decision"] == "mislabeled" and int(f.loc[rows[1], "label"]) == 3
    assert f.loc[rows[2], "decision"] == "not_face"
    _button(at, "rv_undo").click()  # back to the face whose decision was undone
    at = run_page(REVIEW, at=at)
    assert at.session_state["rv_pos"] == 2 and rows[2] not in _flags(sample).index
    _button(at, "rv_prev").click()
    at = run_page(REVIEW, at=at)
    assert at.session_state["rv_pos"] == 1 and "decision: **Mislabeled**" in at.markdown[1].value
    for _ in range(4):
        _button(at, "rv_duplicate").click()
        at = run_page(REVIEW, at=at)
    assert at.session_state["rv_pos"] == 5 and any("End of the selection" in s.value for s in at.success)
    assert _button(at, "rv_duplicate").disabled
    # the shortcuts are declared on the buttons
    shortcuts = {b.key: b.proto.shortcut.lower() for b in at.button if b.key and b.key.startswith("rv_")}
    assert {k: shortcuts.get(k) for k in ("rv_prev", "rv_next", "rv_mislabeled", "rv_not_error", "rv_class_0",
                                          "rv_class_6", "rv_undo")} == {
        "rv_prev": "left", "rv_next": "right", "rv_mislabeled": "m", "rv_not_error": "n", "rv_class_0": "0",
        "rv_class_6": "6", "rv_undo": "u"}


def test_flag_all_and_undo_of_exactly_that_batch(sample):
    flags = FlagStore()
    flags.add(data_hash=sample.data_hash, row=int(sample.row[20]), decision="not_error")
    at = _at(REVIEW, sel="r20-29", sel_from="test")
    at.selectbox(key="rv_all_decision").set_value("mislabeled")
    at.selectbox(key="rv_all_label").set_value(4)
    _button(at, "rv_all_go").click()
    at = run_page(REVIEW, at=at)
    f = _flags(sample).loc[sample.row[20:30]]
    assert (f["decision"] == "mislabeled").all() and (f["label"] == 4).all()
    _button(at, "rv_all_undo").click()
    at = run_page(REVIEW, at=at)
    f = _flags(sample)
    assert f.loc[sample.row[20], "decision"] == "not_error"  # the decision before the batch is back
    assert not set(sample.row[21:30]) & set(f.index)
    assert _button(at, "rv_all_undo").disabled


def _shown(at):
    return at.dataframe[0].value


@pytest.mark.skipif(not shipped_checkpoints(), reason="no shipped checkpoint")
def test_table_sort_filter_page_and_select_all(sample):
    at = run_page(TABLE)
    df = _shown(at)
    assert len(df) == 200 and df["index"].tolist() == list(range(200))
    assert df["face"].iloc[0].startswith("data:image/png;base64,")
    assert {"label", "FER+ majority", "prediction", "confidence", "loss", "flag"} <= set(df.columns)
    at.selectbox(key="tbl_sort").set_value("loss")
    at.toggle(key="tbl_desc").set_value(True)
    at = run_page(TABLE, at=at)
    loss = _shown(at)["loss"].to_numpy()
    assert np.all(np.diff(loss[~np.isnan(loss)]) <= 0) and loss[0] == np.nanmax(loss)
    at.multiselect(key="tbl_label").set_value(["fear"])
    at.multiselect(key="tbl_split").set_value(["Training"])
    at = run_page(TABLE, at=at)
    want = np.flatnonzero((sample.labels == 2) & (sample.split == "Training"))
    assert set(_shown(at)["index"]) == set(want) and f"**{len(want):,}** of 1,000 images match" in \
        [m.value for m in at.markdown]
    _button(at, "tbl_select_all").click()
    at = run_page(TABLE, at=at)
    sel = at.session_state["selection"]
    assert sel.indices.tolist() == want.tolist() and sel.source == "table filter: split Training; label fear"
    at.multiselect(key="tbl_label").set_value([])
    at.multiselect(key="tbl_split").set_value([])
    at.selectbox(key="tbl_sort").set_value("index")
    at.toggle(key="tbl_desc").set_value(False)
    at = run_page(TABLE, at=at)
    at.number_input(key="tbl_page").set_value(5)
    at = run_page(TABLE, at=at)
    assert _shown(at)["index"].tolist() == list(range(800, 1000))


def test_table_flag_filter_and_bulk_flag(sample):
    at = _at(TABLE, sel="r100-104", sel_from="test")
    _button(at, "tbl_all_go").click()  # default decision: mislabeled, no corrected label
    at = run_page(TABLE, at=at)
    at.selectbox(key="tbl_flag").set_value("flagged")
    at = run_page(TABLE, at=at)
    assert set(range(100, 105)) <= set(_shown(at)["index"])
    assert (_shown(at)["flag"] != "").all() and (_shown(at)["flag"] != "not_error").all()
    _button(at, "tbl_all_undo").click()
    at = run_page(TABLE, at=at)
    assert not set(range(100, 105)) & set(_shown(at)["index"])


def test_review_and_table_on_an_unlabeled_image_folder_without_ferplus(tmp_path, monkeypatch):
    import json

    from PIL import Image
    rng = np.random.default_rng(0)
    for sub, n in (("train/happy", 3), ("unsorted", 4)):
        (tmp_path / "faces" / sub).mkdir(parents=True)
        for k in range(n):
            Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(tmp_path / "faces" / sub / f"{k}.png")
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("FER_CACHE_DIR", str(cache))
    (cache / "settings.json").write_text(json.dumps(
        {"data_source": {"kind": "path", "path": str(tmp_path / "faces"), "ferplus": ""}}))
    at = _at(TABLE)
    assert not at.error and len(_shown(at)) == 7 and "FER+ majority" not in _shown(at).columns
    assert set(_shown(at)["label"]) == {"happy", "—"}
    at = _at(REVIEW, sel="r0-6")
    assert not at.error and "Face **1** of 7 · image #0" in [m.value for m in at.markdown]
    assert any("No FER+ votes loaded" in i.value for i in at.info)
    for _ in range(7):
        _button(at, "rv_not_face").click()
        at = run_page(REVIEW, at=at)
    assert any("End of the selection: 7 of 7" in s.value for s in at.success)
