"""Label errors page on the bundled sample (AppTest): ranking gallery, review, flag, undo, export."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fer_core.analysis import label_errors as le
from fer_core.models.checkpoint import shipped_checkpoints
from fer_core.data.dataset import load_dataset
from fer_core.data.flags import FlagStore
from fer_testutils import run_page

pytest.importorskip("streamlit.testing.v1")
PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "label_errors.py")
pytestmark = [pytest.mark.skipif(not shipped_checkpoints(), reason="no shipped checkpoint"),
              pytest.mark.usefixtures("module_cache")]


@pytest.fixture(scope="module")
def sample():
    return load_dataset(use_cache=False)


def _run(at=None, **state):
    return run_page(PAGE, at=at, **state)


def _button(at, key):
    return next(b for b in at.button if b.key == key)


def test_gallery_is_the_engine_ranking(sample):
    at = _run()
    assert at.title[0].value == "Label errors"
    res = le.get_label_errors(sample)
    top = le.ranking_table(sample, res)["index"].to_numpy()[:24]
    picks = at.session_state["le_pick_grid__ids"]  # the faces the clickable gallery shows
    assert picks == top.tolist()
    assert at.session_state["le_pick"] == int(top[0])  # the most suspicious image is open for review
    assert {m.label: m.value for m in at.metric}["Probabilities"] == str(res["mode"])


def test_decision_marks_are_plain_text(sample):
    """Issue 17: the duplicate marker "⧉" drew as an empty box where the browser's fonts lack it."""
    from dashboard.panels.label_errors import DECISION_MARK
    assert all(m.strip().isascii() and m.strip().isprintable() for m in DECISION_MARK.values())
    assert DECISION_MARK["duplicate"] == "[dup] "
    at = _run()
    assert any("[dup] duplicate" in c.value and "[ok] not an error" in c.value for c in at.caption)


def test_flag_undo_and_export(sample):
    at = _run()
    first = at.session_state["le_pick"]
    at.selectbox(key=f"le_pick_corr_{first}").set_value("happy")
    at.text_input(key=f"le_pick_note_{first}").set_value("'); DROP TABLE flags; --")
    _button(at, f"le_pick_mislabeled_{first}").click()
    at = _run(at)
    flags = FlagStore()
    latest = flags.latest(sample.data_hash)
    assert latest["row"].tolist() == [int(sample.row[first])]
    assert latest["decision"].tolist() == ["mislabeled"] and int(latest["label"][0]) == 3
    assert latest["note"][0] == "'); DROP TABLE flags; --"
    assert {m.label: m.value for m in at.metric}["Flagged"] == "1"
    assert at.session_state["le_pick"] != first  # moved on to the next unreviewed face
    second = at.session_state["le_pick"]
    _button(at, f"le_pick_not_error_{second}").click()
    at = _run(at)
    assert FlagStore().counts(sample.data_hash)["reviewed"] == 2
    # undo removes the last decision only
    next(b for b in at.button if b.label == "Undo last decision").click()
    at = _run(at)
    assert FlagStore().latest(sample.data_hash)["row"].tolist() == [int(sample.row[first])]
    # the Flags tab (lazy: runs only when open) exports CSV with original and corrected labels
    assert not at.get("download_button")
    at = _run(at, le_tab="Flags")
    dl = at.get("download_button")
    assert dl, "no export button"
    csv_text = FlagStore().export_csv(sample.data_hash, sample.labels, rows=sample.row)
    df = pd.read_csv(pd.io.common.StringIO(csv_text))
    assert df[["row", "corrected_label", "decision"]].values.tolist() == [[int(sample.row[first]), "happy", "mislabeled"]]
    assert df["original_label"][0] == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"][int(sample.labels[first])]


def test_filters_narrow_the_gallery(sample):
    at = _run(le_given=["fear"], le_split=["Training"])
    picks = at.session_state["le_pick_grid__ids"]
    assert picks and all(sample.labels[i] == 2 and sample.split[i] == "Training" for i in picks)


def test_outlier_and_duplicate_tabs_render(sample):
    at = _run()  # lazy tabs: only the open one runs
    assert "le_out_pick_grid__ids" not in at.session_state
    at = _run(at, le_tab="Not faces / outliers")
    res = le.get_label_errors(sample)
    top = np.argsort(-res["outlier_score"], kind="stable")[:24]
    picks = at.session_state["le_out_pick_grid__ids"]
    assert picks == top.tolist()
    at = _run(at, le_tab="Duplicates", dup_kind="near-identical (re-encoded, shifted, re-lit copies)")
    assert any("Groups" == m.label for m in at.metric) or any("No duplicates" in i.value for i in at.info)


def test_validation_expander_is_lazy(sample):
    at = _run()
    assert not any("FER+ non-faces are among" in c.value for c in at.caption)
    at = _run(at, le_pak_open=True)
    assert any("FER+ non-faces are among" in c.value for c in at.caption)
    # issue 17: P@2000 of the 1,000-image sample is n/a with its reason, not NaN
    assert any("P@2000 n/a: fewer than 2,000 rows" in c.value for c in at.caption)
    spec = at.get("vega_lite_chart")[0].proto.spec
    assert "P@2000" not in spec and "nan" not in spec.lower() and "P@500" in spec


def test_flags_table_shows_source_row_dataset_index_and_face(sample):
    """Issue 17: the Flags tab showed source rows while the gallery shows dataset indices (#N)."""
    import base64
    import io
    import json

    from PIL import Image

    from dashboard.panels import label_errors as panels
    flags, h = FlagStore(), sample.data_hash
    i = 12
    flags.add(data_hash=h, row=int(sample.row[i]), decision="duplicate")
    try:
        shown = panels.flags_table(sample, flags.latest(h))
        assert shown.loc[0, "row"] == int(sample.row[i]) and shown.loc[0, "index"] == i
        uri = shown.loc[0, "face"]
        assert uri.startswith("data:image/png;base64,")
        face = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
        assert np.array_equal(face, sample.images[i])
        at = _run(le_tab="Flags")
        editor = at.get("data_editor")[0]
        assert editor.value.loc[0, "index"] == i and editor.value.loc[0, "face"] == uri
        config = json.loads(editor.proto.columns)
        assert config["row"]["label"] == "source row" and config["index"]["label"] == "dataset index"
        assert config["face"]["type_config"]["type"] == "image"
    finally:
        flags.undo(data_hash=h)


def test_flags_table_is_an_editor_whose_edits_are_saved_validated_and_undone(sample):
    """The Flags tab's table (st.data_editor): decision, corrected label and note edited in place
    become new decisions in the flag store, with the store's validation and its undo."""
    from dashboard.panels import label_errors as panels
    flags, h = FlagStore(), sample.data_hash
    r0, r1 = int(sample.row[10]), int(sample.row[11])
    flags.add(data_hash=h, row=r0, decision="mislabeled", label=3, note="eyes")
    flags.add(data_hash=h, row=r1, decision="not_error")
    at = _run(le_tab="Flags")
    editor = at.get("data_editor")
    assert len(editor) == 1 and editor[0].proto.editing_mode == 1  # fixed rows, editable cells
    shown = panels.flags_table(sample, flags.latest(h))
    assert editor[0].value[panels.FLAG_COLUMNS[:5]].fillna("").values.tolist() == \
        shown[panels.FLAG_COLUMNS[:5]].fillna("").values.tolist()
    p0, p1 = (int(np.flatnonzero(shown["row"] == r)[0]) for r in (r0, r1))
    assert shown.loc[p0, "corrected_label"] == "happy" and shown.loc[p0, "original_label"] == \
        ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"][int(sample.labels[10])]

    def latest(row):
        return flags.latest(h).set_index("row").loc[row]

    n = len(flags.history(h))
    # a cell set to the value it has is no decision
    assert panels.save_table_edits(sample, flags, shown, {str(p0): {"note": "eyes"}, str(p1): {}}) == []
    assert len(flags.history(h)) == n
    # a corrected label and a decision edited: each row a new decision
    assert panels.save_table_edits(sample, flags, shown, {str(p0): {"corrected_label": "sad"},
                                                           str(p1): {"decision": "mislabeled"}}) == []
    assert len(flags.history(h)) == n + 2
    assert (latest(r0)["decision"], int(latest(r0)["label"]), latest(r0)["note"]) == ("mislabeled", 4, "eyes")
    assert latest(r1)["decision"] == "mislabeled" and pd.isna(latest(r1)["label"])
    # away from mislabeled: the corrected label goes with it
    shown = panels.flags_table(sample, flags.latest(h))
    assert panels.save_table_edits(sample, flags, shown, {p0: {"decision": "not_face", "note": "cartoon"}}) == []
    assert (latest(r0)["decision"], latest(r0)["note"]) == ("not_face", "cartoon") and pd.isna(latest(r0)["label"])
    # a corrected label on another decision is refused by the store's validation; the other row is saved
    shown = panels.flags_table(sample, flags.latest(h))
    errors = panels.save_table_edits(sample, flags, shown, {p0: {"corrected_label": "fear"},
                                                            p1: {"corrected_label": "surprise"}})
    assert len(errors) == 1 and f"row {r0}" in errors[0] and "only goes with decision 'mislabeled'" in errors[0]
    assert latest(r0)["decision"] == "not_face" and int(latest(r1)["label"]) == 5
    # undo takes back the last table edit, as it does a review button's
    flags.undo(data_hash=h)
    assert pd.isna(latest(r1)["label"])
    at = _run(at)
    assert not at.exception


def test_the_top_of_the_ranking_becomes_the_selection_for_review(sample):
    at = _run(le_given=["fear"], le_top_n=7)
    next(b for b in at.button if b.label.startswith("Review the top 7")).click().run()
    assert not at.exception, [e.value for e in at.exception]
    res = le.get_label_errors(sample)
    t = le.ranking_table(sample, res)
    top = t[t["given_label"] == "fear"]["index"].to_numpy()[:7]
    sel = at.session_state["selection"]
    assert sorted(sel.indices.tolist()) == sorted(top.tolist()) and "top 7 label errors" in sel.source
