"""Experiments: stratified subsets, a learning curve end to end on the sample, MAC counting, model size."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from fer_core.training import experiments
from fer_core.models.checkpoint import load_checkpoint, shipped_checkpoints
from fer_core.training.experiments import (count_macs, curve_trend, learning_curve, load_results, measure_model,
                                  pareto_front, stratified_subset)
from fer_core.store import Store


# ---- subsets --------------------------------------------------------------------------------
PLANTED = np.repeat(np.arange(4), [200, 50, 10, 1])


def test_subset_is_stratified():
    idx = stratified_subset(PLANTED, 0.1, seed=0)
    assert np.bincount(PLANTED[idx], minlength=4).tolist() == [20, 5, 1, 1]  # >= 1 per class
    assert len(np.unique(idx)) == len(idx) and np.all(np.diff(idx) > 0)


def test_subset_is_reproducible_and_seeded():
    a, b = stratified_subset(PLANTED, 0.25, seed=3), stratified_subset(PLANTED, 0.25, seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, stratified_subset(PLANTED, 0.25, seed=4))


def test_subsets_of_one_seed_are_nested():
    small, big = stratified_subset(PLANTED, 0.1, seed=1), stratified_subset(PLANTED, 0.5, seed=1)
    assert set(small) <= set(big)
    assert len(stratified_subset(PLANTED, 1.0, seed=1)) == len(PLANTED)


def test_subset_skips_unlabeled_and_checks_arguments():
    labels = np.array([-1, -1, 0, 0, 1, 1])
    assert set(stratified_subset(labels, 1.0, seed=0)) == {2, 3, 4, 5}
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="fraction"):
            stratified_subset(labels, bad, seed=0)
    with pytest.raises(ValueError, match="integer"):
        stratified_subset(np.array([0.5, 1.0]), 0.5, seed=0)


# ---- curve summary --------------------------------------------------------------------------
def _runs(acc: dict) -> list[dict]:
    return [{"fraction": f, "seed": s, "n_train": int(f * 1000), "private_acc": a}
            for f, accs in acc.items() for s, a in enumerate(accs)]


def test_learning_curve_mean_and_spread():
    c = learning_curve(_runs({0.25: [0.40, 0.42, 0.44], 1.0: [0.60, 0.60, 0.63]}))
    assert c["fraction"].tolist() == [0.25, 1.0] and c["n"].tolist() == [3, 3]
    assert c["mean"].tolist() == pytest.approx([0.42, 0.61])
    assert c["std"].iloc[0] == pytest.approx(0.02)
    assert c["sem"].iloc[0] == pytest.approx(0.02 / np.sqrt(3))


def test_trend_rising_flat_and_single_seed():
    rising = curve_trend(learning_curve(_runs({0.25: [0.40, 0.41], 1.0: [0.60, 0.61]})))
    assert rising["rising"] and rising["gain_per_doubling"] == pytest.approx(0.10)  # 20 points over 2 doublings
    flat = curve_trend(learning_curve(_runs({0.5: [0.60, 0.64], 1.0: [0.61, 0.63]})))
    assert not flat["rising"]
    one = curve_trend(learning_curve(_runs({0.5: [0.5], 1.0: [0.6]})))
    assert one["noise"] is None and one["rising"]
    assert curve_trend(learning_curve(_runs({1.0: [0.6]}))) == {}


def test_two_point_learning_curve_on_the_sample_end_to_end(tmp_path, capsys, monkeypatch):
    out = tmp_path / "ds.json"
    args = ["data-size", "--fractions", "0.5,1.0", "--seeds", "1", "--epochs", "1", "--width", "0.5",
            "--batch-size", "64", "--threads", "1", "--no-progress", "--out", str(out)]
    assert experiments.main(args) == 0
    text = capsys.readouterr().out
    assert "fraction 0.5 seed 0" in text and "points per doubling" in text
    doc = load_results("data-size", out)
    assert doc["config"]["fractions"] == [0.5, 1.0] and doc["data_source"] == "bundled sample"
    rows = doc["rows"]
    assert [r["fraction"] for r in rows] == [0.5, 1.0]
    assert rows[0]["n_train"] < rows[1]["n_train"]
    for r in rows:
        assert 0 <= r["private_acc"] <= 1 and 0 <= r["public_acc"] <= 1 and not r["cached"]
    assert len(Store().list("data_size_run")) == 2
    # a second run resumes from the store: nothing is trained again
    monkeypatch.setattr("fer_core.training.train.train", lambda *a, **k: pytest.fail("trained again"))
    assert experiments.main(args[:-2]) == 0
    assert "(cached)" in capsys.readouterr().out
    # --cached-only reports what is stored (here: seed 0) and trains nothing for seed 1
    assert experiments.main(args[:-2] + ["--seeds", "2", "--cached-only", "--json"]) == 0
    assert [(r["fraction"], r["seed"]) for r in json.loads(capsys.readouterr().out)] == [(0.5, 0), (1.0, 0)]
    assert experiments.main(args[:-2] + ["--epochs", "2", "--cached-only"]) == 2
    assert "no run of this curve is in the cache" in capsys.readouterr().err


def test_data_size_errors(capsys):
    assert experiments.main(["data-size", "--model", "nope"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert experiments.main(["data-size", "--fractions", "0,0.5"]) == 2
    assert experiments.main(["data-size", "--data", "/no/such.csv"]) == 2
    assert "not found" in capsys.readouterr().err


def test_min_steps_gives_small_subsets_more_epochs():
    from fer_core.config import DataSizeConfig
    cfg = DataSizeConfig(epochs=3, min_steps=300, batch_size=128)
    assert experiments._run_train_config(cfg, 1435, 0).epochs == 28  # 11 steps per epoch
    assert experiments._run_train_config(cfg, 28709, 0).epochs == 3


# ---- MACs and model size ----------------------------------------------------------------------
def test_mac_count_on_planted_layers():
    assert count_macs(nn.Conv2d(1, 8, 3, padding=1)) == 48 * 48 * 8 * 9
    assert count_macs(nn.Conv2d(1, 8, 3, stride=2, padding=1)) == 24 * 24 * 8 * 9
    dw = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
    assert count_macs(dw, (1, 8, 48, 48)) == 48 * 48 * 8 * 9  # depthwise: 1 input channel per output
    net = nn.Sequential(nn.Conv2d(1, 4, 1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 48 * 48, 7))
    assert count_macs(net) == 48 * 48 * 4 + 4 * 48 * 48 * 7
    assert count_macs(net, (2, 1, 48, 48)) == 2 * count_macs(net)  # the whole batch


def test_mac_count_leaves_the_model_as_it_was():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4)).train()
    before = net[1].running_mean.clone()
    count_macs(net)
    assert net.training and not net[0]._forward_hooks
    torch.testing.assert_close(net[1].running_mean, before)


def test_pareto_front():
    cost = np.array([1.0, 2.0, 3.0, 4.0, 2.0])
    acc = np.array([0.5, 0.4, 0.6, 0.6, np.nan])
    assert pareto_front(cost, acc).tolist() == [True, False, True, False, False]
    with pytest.raises(ValueError):
        pareto_front(cost, acc[:2])


def test_untrained_model_has_no_accuracy():
    r = measure_model("compact", width=0.5, latency_runs=2)
    assert r["accuracy"] is None and r["accuracy_note"] == "no trained checkpoint"
    assert r["params"] > 0 and r["macs"] > r["params"] and r["latency_ms"] > 0
    assert 1.5 * r["params"] < r["file_bytes"] < 2 * r["params"] + 100_000  # fp16 weights + BN buffers


@pytest.mark.skipif("compact" not in shipped_checkpoints(), reason="no shipped compact checkpoint")
def test_model_size_cli_reports_checkpoint_accuracy_only(tmp_path, capsys):
    out = tmp_path / "ms.json"
    assert experiments.main(["model-size", "--models", "compact", "--widths", "0.5", "--latency-runs", "2",
                             "--no-progress", "--out", str(out), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert load_results("model-size", out)["rows"] == rows
    untrained, trained = rows
    assert untrained["checkpoint"] == "" and untrained["accuracy"] is None
    _, info = load_checkpoint("compact")
    assert trained["checkpoint"] == "compact"
    assert trained["accuracy"] == pytest.approx(info["metrics"]["PrivateTest"]["accuracy"])
    assert trained["params"] == sum(p.numel() for p in load_checkpoint("compact")[0].parameters())
    assert experiments.main(["model-size", "--models", "nope"]) == 2


def test_shipped_results_are_well_formed():
    for kind in ("data-size", "model-size"):
        doc = load_results(kind)
        if doc is None:
            pytest.skip(f"no shipped {kind} results")
        assert doc["command"].startswith("python -m fer_core.experiments " + kind)
        assert doc["rows"] and pd.DataFrame(doc["rows"]).notna().any().all()
    assert load_results("data-size", "/no/such.json") is None
    with pytest.raises(ValueError):
        load_results("other")


def test_figures():
    from fer_core.figures.experiments import cost_accuracy_chart
    from fer_core.figures.experiments import learning_curve_chart
    rows = [{"model": "compact", "width": 1.0, "checkpoint": "compact", "params": 420000, "macs": 2.3e7,
             "latency_ms": 2.5, "file_bytes": 880_000, "accuracy": 0.62},
            {"model": "resnet18", "width": 1.0, "checkpoint": "", "params": 1.1e7, "macs": 1.2e9,
             "latency_ms": 90.0, "file_bytes": 2.2e7, "accuracy": None}]

    def frames(chart):
        return [pd.DataFrame(v) for v in chart.to_dict()["datasets"].values()]
    by_file = frames(cost_accuracy_chart(rows, cost="file_bytes"))
    points = next(d for d in by_file if "kind" in d and "series" not in d)
    assert points["kind"].tolist() == ["this project", "published peer", "published peer"]
    assert points["x"].iloc[0] == 880_000 / 1024  # KB
    by_params = frames(cost_accuracy_chart(rows, cost="params"))
    assert next(d for d in by_params if "kind" in d and "series" not in d)["kind"].tolist() == ["this project"]
    strip = next(d for d in by_params if "status" in d)
    assert strip["status"].tolist() == ["trained", "untrained"]  # the untrained one shows its cost, no accuracy
    assert strip["x"].tolist() == [0.42, 11.0]  # millions of parameters
    with pytest.raises(ValueError):
        cost_accuracy_chart(rows, cost="weight")
    spec = learning_curve_chart(_runs({0.25: [0.40, 0.41], 1.0: [0.60, 0.61]}), reference=("shipped", 0.63)).to_dict()
    data = [pd.DataFrame(v) for v in spec["datasets"].values()]
    note = next(d for d in data if "text" in d and d["text"].str.contains("per doubling").any())
    assert note["text"][0] == "still rising: +10.0 points per doubling"  # +20 points over two doublings
    means = next(d for d in data if "lo" in d)
    assert means["value"].round(3).tolist() == [0.405, 0.605] and (means["hi"] > means["lo"]).all()
    assert next(d for d in data if "seed" in d)["value"].tolist() == [0.40, 0.41, 0.60, 0.61]
    assert any(d.get("text", pd.Series(dtype=object)).eq("shipped").any() for d in data)  # the reference level
