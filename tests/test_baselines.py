"""PCA baselines run on the bundled sample, beat chance and report like the CNNs."""
import json

import numpy as np
import pytest

from fer_core.training.baselines import BASELINES, baseline_probs, fit_baseline, main, run_baselines
from fer_core.data.dataset import load_dataset


@pytest.fixture(scope="module")
def sample():
    return load_dataset(use_cache=False)


@pytest.fixture(scope="module")
def results(sample):
    return run_baselines(sample, n_components=30, rbf_max_train=400)


@pytest.mark.parametrize("name", BASELINES)
def test_each_baseline_beats_chance(results, name):
    m = results[name]
    assert m["accuracy"] > 1 / 7 + 0.03  # uniform guessing: 14.3 %
    assert m["n"] == 180 and m["n_components"] == 30 and 0 < m["fit_seconds"] < 300
    assert len(m["confusion"]) == 7 and 0 <= m["ece"] <= 1
    assert m["n_train"] == (400 if name == "rbf_svm" else 640)


def test_probs_cover_all_classes_even_when_one_is_missing(sample):
    tr = sample.split == "Training"
    keep = tr & (sample.labels != 1)  # no disgust in training
    est = fit_baseline("logreg", sample.images[keep], sample.labels[keep], n_components=20)
    p = baseline_probs(est, sample.images[:25])
    assert p.shape == (25, 7) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    assert (p[:, 1] == 0).all()


def test_bad_arguments():
    imgs = np.zeros((10, 48, 48), np.uint8)
    with pytest.raises(ValueError, match="unknown baseline 'knn'"):
        fit_baseline("knn", imgs, np.arange(10) % 2)
    with pytest.raises(ValueError, match="uint8"):
        fit_baseline("logreg", imgs.astype(float), np.arange(10) % 2)
    with pytest.raises(ValueError, match="labels"):
        fit_baseline("logreg", imgs, np.arange(9))
    with pytest.raises(ValueError, match="max_train must be >= 0"):
        fit_baseline("logreg", imgs, np.arange(10) % 2, max_train=-5)
    assert main(["--names", "logreg", "--max-train", "-5"]) == 2  # not a fit on one image per class


def test_cli_json(capsys):
    assert main(["--names", "logreg", "--n-components", "20", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["baselines"]) == {"logreg"} and out["baselines"]["logreg"]["accuracy"] > 1 / 7
    assert main(["--names", "knn"]) == 2
    assert "unknown baseline" in capsys.readouterr().err


def test_fit_seconds_is_the_time_spent_in_fit(sample, monkeypatch):
    from fer_core.training import baselines as B
    clock = iter([100.0, 102.5])  # the two clock reads around est.fit(): 2.5 s apart
    monkeypatch.setattr(B.time, "perf_counter", lambda: next(clock))
    est = B.fit_baseline("logreg", sample.images[:60], sample.labels[:60], n_components=5)
    assert est.fit_seconds_ == 2.5 and est.n_train_ == 60


def test_every_registered_baseline_builds_and_unknown_names_are_refused():
    from fer_core.training import baselines as B
    assert B.BASELINES == tuple(B.CLASSIFIERS) == ("logreg", "linear_svm", "rbf_svm", "random_forest")
    for name in B.BASELINES:
        clf = B._classifier(name, 3)
        assert hasattr(clf, "fit") and hasattr(clf, "predict_proba"), name
    with pytest.raises(ValueError, match="unknown baseline 'knn'; known: logreg, linear_svm"):
        B._classifier("knn", 0)


def test_the_stage_fits_on_a_stratified_sample_above_max_train_and_says_so(sample, tmp_path, monkeypatch):
    from fer_core import stages
    from fer_core.analysis import predictions as P
    from fer_core.config import BaselinePredictionsConfig
    from fer_core.store import Store
    from fer_core.training import baselines as B
    seen = []
    fit = B.fit_baseline
    monkeypatch.setattr(B, "fit_baseline", lambda name, images, labels, **kw: seen.append(labels) or
                        fit(name, images, labels, **kw))
    cfg = BaselinePredictionsConfig(names=("logreg", "random_forest"), n_components=20, max_train=300)
    out = stages.get(P.BASELINES, sample, cfg, store=Store(tmp_path))
    tr = sample.rows("Training")
    # only the sample reaches the fit (no copy of every Training image), with the class shares kept
    assert [len(s) for s in seen] == [int(out["n_train_logreg"]), int(out["n_train_random_forest"])]
    assert abs(len(seen[0]) - 300) <= 7 and len(tr) > 600
    share = np.bincount(sample.labels[tr], minlength=7) / len(tr)
    np.testing.assert_allclose(np.bincount(seen[0], minlength=7) / len(seen[0]), share, atol=0.01)
    assert out["probs_logreg"].shape == (len(out["rows"]), 7)
    note = B.sample_note(out, len(tr))
    assert note.startswith(f"PCA baselines fit on stratified samples of the {len(tr):,} Training images")
    assert f"{len(seen[0]):,} for logreg" in note and "random_forest" in note
    assert B.sample_note(out, len(seen[0])) == ""  # nothing sampled: nothing said
    assert B.sample_note({"probs_logreg": out["probs_logreg"]}, len(tr)) == ""  # an older artifact


def test_probabilities_in_batches_equal_one_pass(sample):
    est = fit_baseline("logreg", sample.images[:200], sample.labels[:200], n_components=10)
    np.testing.assert_allclose(baseline_probs(est, sample.images[:50], batch_size=7),
                               baseline_probs(est, sample.images[:50]), atol=1e-5)  # float32 BLAS order
    assert baseline_probs(est, sample.images[:0]).shape == (0, 7)
