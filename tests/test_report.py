"""fer_core.training.report: split scoring on planted predictions."""
import numpy as np
import pytest

from fer_core.data.dataset import load_dataset
from fer_core.training.report import score_split, topk_accuracy, training_twins


def test_topk_hand_case():
    p = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.2, 0.5, 0.3]])
    np.testing.assert_allclose(topk_accuracy(np.array([0, 1, 2]), p), [1 / 3, 1.0, 1.0])


def test_topk_agrees_with_scikit_learn():
    """report.topk_accuracy is top_k_accuracy_score for every k (kept by hand for speed)."""
    from sklearn.metrics import top_k_accuracy_score

    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.full(7, 0.4), 500)  # continuous: no ties
    y = rng.choice([0, 1, 3, 4, 5, 6], 500)  # class 2 never the label
    want = [top_k_accuracy_score(y, p, k=k, labels=np.arange(7)) for k in range(1, 7)] + [1.0]
    np.testing.assert_allclose(topk_accuracy(y, p), want, rtol=1e-12)


def test_perfect_and_planted_twin():
    ds = load_dataset()
    probs = np.eye(7, dtype=np.float32)[ds.labels]
    m = score_split(ds, probs, split="PrivateTest")
    assert m["accuracy"] == 1.0 and m["accuracy_dedup"] == 1.0 and m["n"] == (ds.split == "PrivateTest").sum()
    # plant: copy a Training image over the first PrivateTest image and predict it wrong
    ds.images = ds.images.copy()
    i = np.flatnonzero(ds.split == "PrivateTest")[0]
    ds.images[i] = ds.images[np.flatnonzero(ds.split == "Training")[0]]
    probs[i] = np.roll(probs[i], 1)
    m = score_split(ds, probs, split="PrivateTest")
    assert m["n_twins"] >= 1 and m["accuracy"] < 1.0 and m["accuracy_dedup"] == 1.0


def test_training_twins_kept_per_images_array():
    from fer_core.training.evaluate import duplicate_twins
    ds = load_dataset()
    ds.images = ds.images.copy()
    train, test = np.flatnonzero(ds.split == "Training"), np.flatnonzero(ds.split != "Training")
    ds.images[test[:3]] = ds.images[train[:3]]  # three planted twins
    mask = training_twins(ds)
    assert mask.sum() >= 3 and mask[test[:3]].all() and not mask[train].any()
    np.testing.assert_array_equal(mask[test], duplicate_twins(ds.images[test], ds.images[train]))
    assert training_twins(ds) is mask  # reused while the arrays are the same objects
    ds.images = ds.images.copy()
    ds.images[test[:3]] = 255 - ds.images[test[:3]]  # new array: the twins are gone, the mask follows
    assert not training_twins(ds)[test[:3]].any()


def test_ferplus_target_and_rows_subset():
    ds = load_dataset()
    rows = np.flatnonzero(ds.split == "PublicTest")
    probs = np.full((len(rows), 7), 1 / 7, np.float32)
    m = score_split(ds, probs, split="PublicTest", target="ferplus", rows=rows)
    assert m["n"] == int((ds.ferplus.majority_fer2013[rows] >= 0).sum())
    with pytest.raises(ValueError, match="rows"):
        score_split(ds, probs[:-1], split="PublicTest", rows=rows)
