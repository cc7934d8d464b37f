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
    picks = [int(b.key.removeprefix("le_pick_btn_")) for b in at.button if b.key and b.key.startswith("le_pick_btn_")]
    assert picks == top.tolist()
    assert at.session_state["le_pick"] == int(top[0])  # the most suspicious image is open for review
    assert {m.label: m.value for m in at.metric}["Probabilities"] == str(res["mode"])


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
    picks = [int(b.key.removeprefix("le_pick_btn_")) for b in at.button if b.key and b.key.startswith("le_pick_btn_")]
    assert picks and all(sample.labels[i] == 2 and sample.split[i] == "Training" for i in picks)


def test_outlier_and_duplicate_tabs_render(sample):
    at = _run()  # lazy tabs: only the open one runs
    assert not [b for b in at.button if b.key and b.key.startswith("le_out_pick_btn_")]
    at = _run(at, le_tab="Not faces / outliers")
    res = le.get_label_errors(sample)
    top = np.argsort(-res["outlier_score"], kind="stable")[:24]
    picks = [int(b.key.removeprefix("le_out_pick_btn_")) for b in at.button if b.key and b.key.startswith("le_out_pick_btn_")]
    assert picks == top.tolist()
    assert not [b for b in at.button if b.key and b.key.startswith("le_pick_btn_")]
    at = _run(at, le_tab="Duplicates", dup_kind="near-identical (re-encoded, shifted, re-lit copies)")
    assert any("Groups" == m.label for m in at.metric) or any("No duplicates" in i.value for i in at.info)


def test_validation_expander_is_lazy(sample):
    at = _run()
    assert not any("FER+ non-faces are among" in c.value for c in at.caption)
    at = _run(at, le_pak_open=True)
    assert any("FER+ non-faces are among" in c.value for c in at.caption)
