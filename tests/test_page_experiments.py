"""Experiments page (AppTest): shipped results, a user's result file, a bad file, no shipped result."""
from pathlib import Path

import pytest

from fer_core.training import experiments
from fer_core.config import DataSizeConfig, ModelSizeConfig
from fer_core.training.experiments import save_results

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "experiments.py")


def texts(at) -> str:
    return "\n".join(str(m.value) for m in [*at.markdown, *at.caption, *at.info, *at.error, *at.code])


def planted(tmp_path) -> tuple[Path, Path]:
    runs = [{"fraction": f, "seed": s, "n_train": int(f * 800), "epochs": 30, "public_acc": a, "private_acc": a + 0.01,
             "private_macro_f1": a - 0.1} for f, accs in ((0.25, (0.40, 0.42)), (0.5, (0.50, 0.52)), (1.0, (0.58, 0.60)))
            for s, a in enumerate(accs)]
    ds = save_results(tmp_path / "ds.json", "data-size", DataSizeConfig(fractions=(0.25, 0.5, 1.0), seeds=2), runs,
                      command="python -m fer_core.experiments data-size --planted", extra={"data_source": "planted"})
    rows = [{"model": "compact", "width": 1.0, "checkpoint": "compact", "params": 420000, "macs": 23_000_000,
             "latency_ms": 2.5, "file_bytes": 880_000, "accuracy": 0.62, "accuracy_note": "stored"},
            {"model": "resnet18", "width": 1.0, "checkpoint": "", "params": 11_000_000, "macs": 1.2e9,
             "latency_ms": 90.0, "file_bytes": 22_000_000, "accuracy": None, "accuracy_note": "no trained checkpoint"}]
    ms = save_results(tmp_path / "ms.json", "model-size", ModelSizeConfig(), rows,
                      command="python -m fer_core.experiments model-size --planted")
    return ds, ms


COST = "Accuracy vs cost"  # the second tab (lazy: its section runs only when open)


def run(at: AppTest | None = None, tab: str | None = None, **inputs) -> AppTest:
    """Run the page (or rerun `at`), open `tab`, then type each input (text_input key -> value)."""
    if at is None:
        at = AppTest.from_file(PAGE, default_timeout=60)
    if tab:
        at.session_state["xp_tab"] = tab
    at.run()
    for key, value in inputs.items():
        at.text_input(key=key).set_value(value).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_shipped_results_render():
    at = run()
    t = texts(at)
    assert "python -m fer_core.experiments data-size" in t and "python -m fer_core.experiments model-size" not in t
    if experiments.load_results("data-size") is not None:
        assert experiments.load_results("data-size")["command"] in t  # provenance is shown
    t = texts(run(at, tab=COST))
    assert "python -m fer_core.experiments model-size" in t and "python -m fer_core.experiments data-size" not in t
    if experiments.load_results("model-size") is not None:
        assert experiments.load_results("model-size")["command"] in t


def test_user_result_files(tmp_path):
    ds, ms = planted(tmp_path)
    at = run(ds_path=str(ds))
    t = texts(at)
    assert "planted" in t and "--planted" in t
    assert "+8.0 accuracy points per doubling (seed noise ±2.8)" in t and "still rising" in t  # 52% -> 60%
    assert len(at.get("vega_lite_chart")) == 1 and not at.get("plotly_chart")  # the learning curve
    at.radio[0].set_value("public_acc").run()  # switching the metric keeps the page alive
    assert not at.exception, [e.value for e in at.exception]
    at = run(at, tab=COST, ms_path=str(ms))
    assert "python -m fer_core.experiments model-size --planted" in texts(at)
    assert len(at.get("vega_lite_chart")) == 1 and not at.get("plotly_chart")  # accuracy vs cost
    at.radio[0].set_value("params").run()  # the cost axis
    assert not at.exception, [e.value for e in at.exception]


def test_bad_and_missing_files(tmp_path, monkeypatch):
    (tmp_path / "bad.json").write_text("{not json")
    at = run(ds_path=str(tmp_path / "bad.json"))
    assert any("not a readable data-size result file" in str(e.value) for e in at.error)
    monkeypatch.setitem(experiments.SHIPPED_RESULTS, "data-size", tmp_path / "none.json")
    monkeypatch.setitem(experiments.SHIPPED_RESULTS, "model-size", tmp_path / "none.json")
    for tab in (None, COST):
        at = run(tab=tab)
        assert sum("No shipped" in str(i.value) for i in at.info) == 1
        assert len(at.get("plotly_chart")) == 0 and len(at.get("vega_lite_chart")) == 0
