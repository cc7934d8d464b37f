"""Robustness page on the bundled sample with the shipped model (AppTest)."""
import json
from pathlib import Path

import numpy as np
import pytest

from fer_core.analysis import robustness as rb
from fer_core.models.checkpoint import shipped_checkpoints
from fer_core.config import RobustnessConfig
from fer_core.data.dataset import load_dataset
from fer_core.training.evaluate import evaluate
from fer_testutils import run_page, write_fer_csv

pytest.importorskip("streamlit.testing.v1")
PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "robustness.py")
pytestmark = [pytest.mark.skipif(not shipped_checkpoints(), reason="no shipped checkpoint"),
              pytest.mark.usefixtures("module_cache")]


def _run(at=None, **state):
    return run_page(PAGE, at=at, **state)


def test_without_a_cached_sweep_offers_the_command_and_a_quick_sweep_then_shows_the_results():
    at = _run()
    assert at.title[0].value == "Robustness"
    assert any("not computed yet" in i.value for i in at.info)
    assert any("python -m fer_core.robustness --model compact --corruption" in c.value for c in at.code)
    assert not at.subheader  # nothing to show yet
    next(b for b in at.button if b.label.startswith("Run a quick sweep")).click()
    _run(at)
    assert [s.value for s in at.subheader] == ["Summary", "Accuracy against severity", "One corruption in detail"]
    clean = evaluate("compact", load_dataset(use_cache=False), split="PrivateTest")["accuracy"]
    shown = {m.label: m.value for m in at.metric}
    assert shown["compact: clean accuracy"] == f"{clean:.1%}"  # severity 0 = the clean accuracy
    assert not any("not computed yet" in i.value for i in at.info)
    assert any("No shipped model was trained with noise augmentation" in c.value for c in at.caption)


def test_cached_sweeps_render_and_the_detail_panel_switches():
    at = _run()  # the module's cache already holds the quick sweep of the first test
    assert any("Showing 4 sweep(s) on 180 labeled PrivateTest images" in c.value and "without flip TTA" in c.value
               for c in at.caption)
    at.selectbox(key="rb_detail_corr").set_value("occlusion_eyes")
    _run(at)
    assert any("deterministic corruption" in c.value for c in at.caption)
    at.select_slider(key="rb_lv_occlusion_eyes").set_value(4)
    _run(at)


def test_choosing_nothing_and_an_uncached_corruption():
    at = _run()
    at.multiselect[1].set_value([])
    _run(at)
    assert any("Choose at least one" in i.value for i in at.info)
    at.multiselect[1].set_value(["gaussian_noise", "jpeg"])  # noise cached, JPEG not: noise shown, JPEG offered
    _run(at)
    assert any("1 of the 2 chosen sweeps are not computed yet (compact/jpeg)" in i.value for i in at.info)
    assert "Summary" in [s.value for s in at.subheader]


def test_a_noise_augmented_model_is_chosen_and_labeled(monkeypatch):
    monkeypatch.setattr(rb, "noise_augmented", lambda info: True)
    at = _run()
    assert at.multiselect[0].format_func("compact") == "compact (noise-augmented)"
    assert not any("No shipped model was trained with noise augmentation" in c.value for c in at.caption)


def test_data_without_a_test_split_gets_a_message(module_cache, tmp_path):
    ds = load_dataset(use_cache=False)
    path = tmp_path / "train_only.csv"
    tr = np.flatnonzero(ds.split == "Training")[:30]
    write_fer_csv(path, [(ds.labels[i], " ".join(map(str, ds.images[i].ravel())), "Training") for i in tr])
    (module_cache / "settings.json").write_text(json.dumps({"data_source": {"kind": "path", "path": str(path),
                                                                            "ferplus": ""}}))
    try:
        at = _run()
        assert any("no labeled PrivateTest images" in w.value for w in at.warning)
    finally:
        (module_cache / "settings.json").unlink()
    assert RobustnessConfig().split == "PrivateTest"
