"""Two models, one face (issue 17): with a second checkpoint in $FER_MODELS_DIR, the face card shows
each model's prediction, probabilities and Grad-CAM side by side, and the All images table gets
"models disagree" columns it can sort by; with one model both stay as they were (AppTest on the
bundled sample)."""
from pathlib import Path

import numpy as np
import pytest
from fer_testutils import run_page, second_model

from fer_core.models.checkpoint import MODELS_ENV, shipped_checkpoints

pytest.importorskip("streamlit.testing.v1")
pytestmark = [pytest.mark.usefixtures("module_cache"),
              pytest.mark.skipif("compact" not in shipped_checkpoints(), reason="needs the shipped compact model")]
TABLE = str(Path(__file__).resolve().parent.parent / "pages/table.py")


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    second_model(folder)  # compact-b: compact with the neutral logit raised
    return folder


@pytest.fixture(scope="module")
def sample():
    from fer_core.data.dataset import load_dataset
    return load_dataset(use_cache=False)


def _card_script(i: int):
    from dashboard import ui
    from fer_core.data.dataset import load_dataset
    ui.open_card(load_dataset(), i, model="compact")


def _card(i: int):
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_function(_card_script, args=(i,), default_timeout=300)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(at) -> str:
    return "\n".join(str(e.value) for e in [*at.markdown, *at.caption])


def test_the_card_shows_both_models_side_by_side_and_one_model_alone(sample, models_dir, monkeypatch):
    from fer_core.analysis.predictions import features_and_probs
    from fer_core.models.checkpoint import load_checkpoint
    head = sample.images[:100]
    a = features_and_probs(load_checkpoint("compact")[0], head)[1]
    monkeypatch.setenv(MODELS_ENV, str(models_dir))
    b = features_and_probs(load_checkpoint("compact-b")[0], head)[1]
    i = int(np.flatnonzero(a.argmax(1) != b.argmax(1))[0])  # a face the two models disagree on
    at = _card(i)
    text = _texts(at)
    assert "**Every model on this face**" in text and "The 2 models **disagree**" in text, text
    names = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert f"`compact` predicts **{names[a[i].argmax()]}**" in text
    assert f"`compact-b` predicts **{names[b[i].argmax()]}** ({b[i].max():.0%})" in text
    assert sum(c.startswith("Grad-CAM for") for im in at.get("image") for c in im.captions) == 2  # a map per model
    assert len(at.get("vega_lite_chart")) == 3  # each model's probabilities once, and the FER+ votes
    monkeypatch.delenv(MODELS_ENV)  # one model: the card as before, no empty second column
    at = _card(i)
    text = _texts(at)
    assert "Every model on this face" not in text and "compact-b" not in text and "Image #" in text
    assert len(at.get("vega_lite_chart")) == 2  # its probabilities and the FER+ votes


def test_the_table_gets_models_disagree_columns_it_sorts_by(sample, models_dir, monkeypatch):
    from fer_core.analysis.image_table import MODEL_COLUMNS
    at = run_page(TABLE)
    assert not set(MODEL_COLUMNS) & set(at.dataframe[0].value.columns)  # one model
    monkeypatch.setenv(MODELS_ENV, str(models_dir))
    at = run_page(TABLE)
    assert set(MODEL_COLUMNS) <= set(at.dataframe[0].value.columns)
    assert "models JS" in at.selectbox(key="tbl_sort").options
    at.selectbox(key="tbl_sort").set_value("models JS")
    at.toggle(key="tbl_desc").set_value(True)
    at = run_page(TABLE, at=at)
    df = at.dataframe[0].value
    assert np.all(np.diff(df["models JS"].to_numpy()) <= 0) and df["models disagree"].iloc[0]
    top = df.iloc[0]["models' top-1"].split(" | ")
    assert len(top) == 2 and top[0] != top[1] and top[1] == "neutral"  # compact-b's raised class
    assert not df["models disagree"].iloc[-1] or df["models JS"].iloc[-1] > 0
