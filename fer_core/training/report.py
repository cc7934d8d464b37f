"""Scores of cached predictions on one split, the way the Model page shows them.

Pure functions: dataset arrays and (N, K) probabilities in, metrics dicts and arrays out.
"""
from __future__ import annotations

import numpy as np

from fer_core.constants import FER2013_EMOTIONS
from fer_core.data.dataset import Dataset
from fer_core.training.evaluate import compute_metrics, duplicate_twins


def topk_accuracy(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """(K,) float: share of rows whose label is among the k most probable classes, k = 1..K."""
    labels, pred_probs = np.asarray(labels), np.asarray(pred_probs)
    if pred_probs.ndim != 2 or labels.shape != (len(pred_probs),):
        raise ValueError(f"labels (N,) and pred_probs (N, K) must match, got {labels.shape} {pred_probs.shape}")
    # one sort for every k; scikit-learn's top_k_accuracy_score gives the same numbers (ties
    # aside; tests/test_report.py) but sorts once per k: 7.4 ms against 0.3 ms at n = 3,589, K = 7
    order = np.argsort(-pred_probs, axis=1)
    rank = np.argmax(order == labels[:, None], axis=1)  # 0 = top-1
    return np.array([(rank < k).mean() for k in range(1, pred_probs.shape[1] + 1)])


def target_labels(ds: Dataset, target: str) -> np.ndarray:
    """(N,) labels to score against in FER2013 space: 'fer2013' (file labels) or 'ferplus'
    (FER+ majority mapped to FER2013; -1 where none or contempt)."""
    if target == "fer2013":
        return ds.labels
    if target == "ferplus":
        if ds.ferplus is None:
            raise ValueError("FER+ labels need fer2013new.csv")
        return ds.ferplus.majority_fer2013
    raise ValueError(f"unknown target {target!r}: 'fer2013' or 'ferplus'")


def training_twins(ds: Dataset) -> np.ndarray:
    """(N,) bool: True where a row outside Training has a pixel-identical twin in Training
    (fer_core.training.evaluate.duplicate_twins), False for Training rows.

    Kept on the dataset object for as long as its `images` and `split` arrays are the same
    objects (hashing Training costs ~0.15 s and the Model page scores several models and
    baselines on every rerun); assign new arrays rather than editing them in place."""
    cached = getattr(ds, "_training_twins", None)
    if cached is not None and cached[0] is ds.images and cached[1] is ds.split:
        return cached[2]
    train = ds.split == "Training"
    mask = np.zeros(len(ds), dtype=bool)
    if train.any() and (~train).any():
        mask[~train] = duplicate_twins(ds.images[~train], ds.images[train])
    ds._training_twins = (ds.images, ds.split, mask)
    return mask


def score_split(ds: Dataset, pred_probs: np.ndarray, *, split: str, target: str = "fer2013",
                rows: np.ndarray | None = None) -> dict:
    """Metrics of `pred_probs` on the rows of `split` that have a `target` label.

    Args:
        pred_probs: (N, 7) probabilities for every dataset row, or (M, 7) for `rows`.
        rows: dataset indices that `pred_probs` covers (None = all rows).

    Returns:
        compute_metrics(...) plus `rows` (indices scored), `pred` (their argmax), `labels`,
        `topk` (K,), `n_twins` and `accuracy_dedup` (without test images that have a
        pixel-identical twin in Training; None when scoring Training).
    """
    rows = np.arange(len(ds)) if rows is None else np.asarray(rows)
    if len(pred_probs) != len(rows):
        raise ValueError(f"pred_probs has {len(pred_probs)} rows for {len(rows)} dataset rows")
    lab_all = target_labels(ds, target)
    keep = (ds.split[rows] == split) & (lab_all[rows] >= 0)
    if not keep.any():
        raise ValueError(f"no rows of split {split!r} with a {target} label")
    idx, probs = rows[keep], np.asarray(pred_probs)[keep]
    labels = lab_all[idx]
    out = compute_metrics(labels, probs, class_names=FER2013_EMOTIONS)
    out.update(rows=idx, pred=probs.argmax(1), labels=labels, topk=topk_accuracy(labels, probs))
    if split != "Training" and (ds.split == "Training").any():
        twins = training_twins(ds)[idx]
        out["n_twins"] = int(twins.sum())
        out["accuracy_dedup"] = float((out["pred"][~twins] == labels[~twins]).mean()) if (~twins).any() else None
    else:
        out["n_twins"], out["accuracy_dedup"] = None, None
    return out
