"""Metrics on hand-made cases, planted duplicates, evaluate() on the sample, the CLI."""
import json

import numpy as np
import pytest
import torch

from fer_core.models.checkpoint import save_checkpoint
from fer_core.data.dataset import load_dataset
from fer_core.training.evaluate import calibration, compute_metrics, duplicate_twins, evaluate, main
from fer_core.models.registry import create_model

NORM = {"mean": 0.5, "std": 0.25}


@pytest.fixture(scope="module")
def sample():
    return load_dataset(use_cache=False)


def _model(label_set="fer2013", k=7):
    torch.manual_seed(0)
    m = create_model("compact", num_classes=k, width=0.5).eval()
    m.normalization, m.label_set = NORM, label_set
    return m


# ---- compute_metrics ----------------------------------------------------------------------
def test_perfect_one_hot_predictions():
    y = np.array([0, 1, 2, 2, 3, 4, 5, 6, 6])
    m = compute_metrics(y, np.eye(7)[y], class_names=list("abcdefg"))
    assert m["accuracy"] == 1 and m["macro_f1"] == 1 and m["top3_accuracy"] == 1
    assert m["ece"] == pytest.approx(0) and m["n"] == 9
    assert np.array_equal(np.array(m["confusion"]), np.diag(np.bincount(y, minlength=7)))
    assert m["per_class"]["c"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}
    assert m["reliability"] == [{"lo": pytest.approx(14 / 15), "hi": 1.0, "count": 9, "confidence": 1.0,
                                 "accuracy": 1.0}]


def test_constant_model():
    y = np.array([3, 3, 3, 0, 1, 6, 6, 2, 4, 5])
    probs = np.tile(np.eye(7)[3], (10, 1))
    m = compute_metrics(y, probs)
    assert m["accuracy"] == pytest.approx(0.3)
    conf = np.array(m["confusion"])
    assert conf[:, 3].tolist() == np.bincount(y, minlength=7).tolist()
    assert conf.sum() == 10 and conf[:, [0, 1, 2, 4, 5, 6]].sum() == 0
    assert m["ece"] == pytest.approx(0.7)  # confidence 1, accuracy 0.3
    assert m["per_class"]["3"]["precision"] == pytest.approx(0.3) and m["per_class"]["3"]["recall"] == 1
    assert m["macro_f1"] == pytest.approx((2 * 0.3 / 1.3) / 7)  # every class is present


def test_calibrated_and_top3_hand_cases():
    # 10 answers at confidence 0.7, 7 right: perfectly calibrated
    y = np.array([0] * 7 + [1] * 3)
    p = np.tile([0.7, 0.1, 0.1, 0.1], (10, 1))
    ece, bins = calibration(y, p)
    assert ece == pytest.approx(0) and bins[0]["count"] == 10 and bins[0]["accuracy"] == pytest.approx(0.7)
    # top-3: the true class ranked 2nd, 3rd, 4th
    p = np.array([[0.4, 0.3, 0.2, 0.1]] * 3)
    m = compute_metrics(np.array([1, 2, 3]), p)
    assert m["accuracy"] == 0 and m["top3_accuracy"] == pytest.approx(2 / 3)
    assert m["nll"] == pytest.approx(-np.mean(np.log([0.3, 0.2, 0.1])))


@pytest.mark.parametrize("k, absent", [(7, ()), (6, (2,)), (8, (0, 7)), (3, (1,))])
def test_compute_metrics_agrees_with_scikit_learn(k, absent):
    """The hand-written scores are scikit-learn's (kept by hand for speed: see _compute_metrics).
    Planted: classes absent from the labels (one of them still predicted), confident rows."""
    from sklearn.metrics import (confusion_matrix, f1_score, log_loss, precision_recall_fscore_support,
                                 top_k_accuracy_score)

    rng = np.random.default_rng(k)
    n = 400
    keep = [c for c in range(k) if c not in absent]
    y = rng.choice(keep, n)
    p = rng.dirichlet(np.full(k, 0.3), n)  # continuous: no ties in the top 3
    p[:20] = 0.9 * np.eye(k)[(y[:20] + 1) % k] + 0.1 * p[:20]  # confidently wrong rows
    if absent:
        p[20:30, absent[0]] += 5.0  # an absent class that is predicted
        p[20:30] /= p[20:30].sum(1, keepdims=True)
    m = compute_metrics(y, p)
    cls = np.arange(k)
    pred = p.argmax(1)
    np.testing.assert_array_equal(np.array(m["confusion"]), confusion_matrix(y, pred, labels=cls))
    prec, rec, f1, sup = precision_recall_fscore_support(y, pred, labels=cls, zero_division=0)
    got = np.array([[m["per_class"][str(c)][f] for f in ("precision", "recall", "f1", "support")] for c in cls])
    np.testing.assert_allclose(got, np.stack([prec, rec, f1, sup], 1), rtol=1e-12, atol=0)
    present = np.union1d(y, pred)  # macro-F1 over the classes in the labels or the predictions
    assert m["macro_f1"] == pytest.approx(f1_score(y, pred, labels=present, average="macro"), rel=1e-12)
    top3 = top_k_accuracy_score(y, p, k=3, labels=cls) if k > 3 else 1.0
    assert m["top3_accuracy"] == pytest.approx(top3, rel=1e-12)
    assert m["nll"] == pytest.approx(log_loss(y, p, labels=cls), rel=1e-9)  # no probability below 1e-12 here


def test_compute_metrics_rejects_bad_input():
    y = np.array([0, 1])
    with pytest.raises(ValueError, match="labels must be"):
        compute_metrics(np.array([0, 1, 1]), np.eye(2))
    with pytest.raises(ValueError, match="0..1"):
        compute_metrics(np.array([0, 2]), np.eye(2))
    with pytest.raises(ValueError, match="sum to 1"):
        compute_metrics(y, np.array([[2.0, 1.0], [0.0, 3.0]]))
    with pytest.raises(ValueError, match="class names"):
        compute_metrics(y, np.eye(2), class_names=["a"])
    with pytest.raises(ValueError, match="N = 0"):
        compute_metrics(np.zeros(0, int), np.zeros((0, 2)))
    with pytest.raises(ValueError, match="integers"):
        compute_metrics(np.array([0.0, 1.0]), np.eye(2))


# ---- duplicates -----------------------------------------------------------------------------
def test_duplicate_twins_finds_exactly_the_planted_copies(rng):
    train = rng.integers(0, 256, (500, 48, 48), dtype=np.uint8)
    test = rng.integers(0, 256, (40, 48, 48), dtype=np.uint8)
    planted = [3, 17, 39]
    for i, j in zip(planted, [0, 250, 499]):
        test[i] = train[j]
    near = train[10].copy()
    near[5, 5] ^= 1  # one grey level off: not a twin
    test[20] = near
    mask = duplicate_twins(test, train)
    assert np.flatnonzero(mask).tolist() == planted
    assert duplicate_twins(test[:0], train).shape == (0,)
    with pytest.raises(ValueError, match="differ"):
        duplicate_twins(test, train.astype(np.int16))


# ---- evaluate() -------------------------------------------------------------------------------
def test_evaluate_on_the_sample(sample):
    model = _model()
    m = evaluate(model, sample, split="PrivateTest")
    n = int((sample.split == "PrivateTest").sum())
    assert m["n"] == n and m["label_set"] == "fer2013" and m["split"] == "PrivateTest"
    assert m["n_dedup"] + m["n_twins"] == n
    twins = duplicate_twins(sample.images[sample.split == "PrivateTest"], sample.images[sample.split == "Training"])
    assert m["n_twins"] == int(twins.sum())
    assert 0 <= m["accuracy_dedup"] <= 1
    fp = m["ferplus"]
    maj = sample.ferplus.majority_fer2013[sample.split == "PrivateTest"]
    assert fp["n"] == int((maj >= 0).sum()) and 0 < fp["n"] < n
    assert m["tta"] is False and evaluate(model, sample, tta=True)["tta"] is True


def test_evaluate_fer6_and_ferplus_models(sample):
    m6 = evaluate(_model("fer6", 6), sample, split="PublicTest")
    assert len(m6["confusion"]) == 6 and "ferplus" in m6
    m8 = evaluate(_model("ferplus", 8), sample)
    assert len(m8["confusion"]) == 8 and "ferplus" not in m8
    assert m8["n"] == int(((sample.split == "PrivateTest") & (sample.ferplus.majority >= 0)).sum())


def test_evaluate_checkpoint_and_errors(tmp_path, sample):
    path = save_checkpoint(tmp_path / "m.pt", _model(), model_name="compact", model_kwargs={"width": 0.5},
                           label_set="fer2013", normalization=NORM)
    m = evaluate(str(path), sample, split="PublicTest")
    assert m["model_hash"] and m["model"] == str(path)
    with pytest.raises(ValueError, match="label set mismatch.*'fer2013'.*'fer6'"):
        evaluate(str(path), sample, label_set="fer6")
    with pytest.raises(ValueError, match="no rows in split 'Validation'"):
        evaluate(str(path), sample, split="Validation")
    with pytest.raises(FileNotFoundError, match="shipped checkpoints"):
        evaluate("no-such-model", sample)
    bare = create_model("compact", width=0.5)
    with pytest.raises(ValueError, match="label_set="):
        evaluate(bare, sample)
    with pytest.raises(ValueError, match="7 outputs"):
        evaluate(bare, sample, label_set="ferplus")


def test_cli_prints_one_json_object(tmp_path, capsys):
    path = save_checkpoint(tmp_path / "m.pt", _model(), model_name="compact", model_kwargs={"width": 0.5},
                           label_set="fer2013", normalization=NORM)
    assert main(["--model", str(path), "--split", "PublicTest", "--tta", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["split"] == "PublicTest" and out["tta"] is True and "accuracy_dedup" in out and "ferplus" in out
    assert main(["--model", str(path), "--label-set", "fer6", "--json"]) == 2
    captured = capsys.readouterr()
    assert "mismatch" in json.loads(captured.out)["error"] and "mismatch" in captured.err
    assert main(["--model", str(tmp_path / "none.pt")]) == 2
    assert "not found" in capsys.readouterr().err
