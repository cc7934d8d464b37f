"""Model page on the bundled sample with the shipped model (AppTest)."""
from pathlib import Path

import numpy as np
import pytest

from fer_core.models.checkpoint import shipped_checkpoints
from fer_core.data.dataset import load_dataset
from fer_core.analysis.predictions import get_predictions
from fer_core.training.report import score_split

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
MODEL = str(Path(__file__).resolve().parent.parent / "pages" / "model.py")
pytestmark = [pytest.mark.skipif(not shipped_checkpoints(), reason="no shipped checkpoint"),
              pytest.mark.usefixtures("module_cache")]


def test_model_page_metrics_match_engine():
    at = AppTest.from_file(MODEL, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    ds = load_dataset()
    m = score_split(ds, get_predictions(ds)["probs"], split="PrivateTest")
    shown = {x.label: x.value for x in at.metric}
    assert shown["Accuracy"] == f"{m['accuracy']:.1%}"
    assert shown["Images"] == f"{m['n']:,}"


def test_cell_gallery_count_and_ferplus_target():
    at = AppTest.from_file(MODEL, default_timeout=120).run()
    sel = {s.label: s for s in at.selectbox}
    sel["True"].set_value("happy").run()
    sel = {s.label: s for s in at.selectbox}
    sel["Predicted"].set_value("happy").run()
    assert not at.exception
    ds = load_dataset()
    m = score_split(ds, get_predictions(ds)["probs"], split="PrivateTest")
    n = int(np.asarray(m["confusion"])[3, 3])
    assert any(f"**{n}** images labeled *happy* predicted *happy*" in str(x.value) for x in at.markdown)
    at.radio[0].set_value("FER+ majority").run()
    assert not at.exception


def test_lower_sections_are_lazy_tabs():
    at = AppTest.from_file(MODEL, default_timeout=120).run()
    assert not any("parameters, label set" in c.value for c in at.caption)  # the Training tab is closed
    # confusion, per class, the clickable faces of the cell, reliability, top-k
    assert len(at.get("vega_lite_chart")) == 5 and not at.get("plotly_chart")
    at.session_state["model_more"] = "Training"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("parameters, label set" in c.value for c in at.caption)
    assert len(at.get("vega_lite_chart")) == 4  # reliability and top-k out, training curves in


def test_baselines_button_adds_rows():
    at = AppTest.from_file(MODEL, default_timeout=300)
    at.session_state["model_more"] = "Models and baselines side by side"
    at.run()
    before = len(at.dataframe[-1].value)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.dataframe[-1].value) == before + 4
