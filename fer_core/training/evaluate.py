"""Metrics for a classifier's probabilities, duplicate-aware test accuracy, FER+ re-scoring.

Every model (CNN checkpoint or scikit-learn baseline) is scored by the same pure function,
:func:`compute_metrics`, from `labels` and `pred_probs`.

Command line (prints one JSON object with --json)::

    python -m fer_core.evaluate --data fer2013.csv.gz --ferplus fer2013new.csv \
        --split PrivateTest --model compact --tta --json
"""
from __future__ import annotations

import hashlib
import json
import os
import sys

import numpy as np

from fer_core.constants import FER2013_TO_FER6, get_label_set

N_BINS = 15


# --------------------------------------------------------------------------------------------
# pure metrics
# --------------------------------------------------------------------------------------------
def _check_labels_probs(labels, pred_probs, class_names) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels)
    pred_probs = np.asarray(pred_probs, dtype=np.float64)
    if pred_probs.ndim != 2:
        raise ValueError(f"pred_probs must be (N, K), got shape {pred_probs.shape}")
    n, k = pred_probs.shape
    if labels.shape != (n,):
        raise ValueError(f"labels must be ({n},) to match pred_probs {pred_probs.shape}, got {labels.shape}")
    if n == 0:
        raise ValueError("no samples to score (N = 0)")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, got {labels.dtype}")
    if labels.min() < 0 or labels.max() >= k:
        raise ValueError(f"labels must be in 0..{k - 1}, got range {labels.min()}..{labels.max()}")
    if class_names is not None and len(class_names) != k:
        raise ValueError(f"{len(class_names)} class names for {k} probability columns")
    if not np.isfinite(pred_probs).all():
        raise ValueError("pred_probs contains NaN or inf")
    if (pred_probs < -1e-6).any() or not np.allclose(pred_probs.sum(1), 1.0, atol=1e-3):
        raise ValueError("pred_probs rows must be non-negative and sum to 1 (apply softmax first)")
    return labels.astype(np.int64), pred_probs


def compute_metrics(labels: np.ndarray, pred_probs: np.ndarray, *, class_names=None,
                    n_bins: int = N_BINS) -> dict:
    """Accuracy, macro-F1, top-3, per-class scores, confusion and calibration.

    Args:
        labels: (N,) int true classes 0..K-1.
        pred_probs: (N, K) float, rows sum to 1.
        class_names: K names (default "0".."K-1").
        n_bins: equal-width confidence bins for ECE and the reliability diagram.

    Returns:
        JSON-ready dict: n, accuracy, macro_f1 (mean F1 over the classes present in `labels` or
        predicted), top3_accuracy, nll (mean negative log-likelihood), per_class {name: precision,
        recall, f1, support}, confusion (K x K nested list, rows = true class, columns =
        predicted), class_names, ece (expected calibration error of the top-1 confidence, in
        0..1, lower = better calibrated), reliability: list of {lo, hi, count, confidence,
        accuracy} per non-empty bin.

    Example:
        >>> compute_metrics(np.array([0, 1]), np.eye(2))["accuracy"]
        1.0
    """
    labels, p = _check_labels_probs(labels, pred_probs, class_names)
    return _compute_metrics(labels, p, class_names=class_names, n_bins=n_bins)


def _compute_metrics(labels: np.ndarray, p: np.ndarray, *, class_names=None, n_bins: int = N_BINS) -> dict:
    n, k = p.shape
    names = [str(c) for c in (class_names if class_names is not None else range(k))]
    pred = p.argmax(1)
    # By hand, not scikit-learn's confusion_matrix / precision_recall_fscore_support /
    # top_k_accuracy_score / log_loss: the same numbers (tests/test_evaluate.py checks them against
    # those), but those three take 4.3 ms against 0.4 ms here (n = 3,589, K = 7; 16 against 4 ms at
    # n = 28,709; bench/bench_metrics.py), paid per model on every Model page rerun; and log_loss
    # clips at the dtype's eps (2.2e-16; 1.2e-7 in float32) where this nll clips at 1e-12.
    conf = np.zeros((k, k), np.int64)
    np.add.at(conf, (labels, pred), 1)
    tp = np.diag(conf).astype(np.float64)
    support = conf.sum(1)
    predicted = conf.sum(0)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=(precision + recall) > 0)
    present = (support > 0) | (predicted > 0)
    topk = min(3, k)
    top3 = np.argpartition(-p, topk - 1, axis=1)[:, :topk] if k > topk else np.tile(np.arange(k), (n, 1))
    top3_acc = float((top3 == labels[:, None]).any(1).mean())
    nll = float(-np.log(np.clip(p[np.arange(n), labels], 1e-12, None)).mean())
    ece, bins = calibration(labels, p, n_bins=n_bins)
    return {
        "n": int(n),
        "accuracy": float((pred == labels).mean()),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "top3_accuracy": top3_acc,
        "nll": nll,
        "ece": ece,
        "per_class": {names[c]: {"precision": float(precision[c]), "recall": float(recall[c]),
                                 "f1": float(f1[c]), "support": int(support[c])} for c in range(k)},
        "confusion": conf.tolist(),
        "class_names": names,
        "reliability": bins,
    }


def calibration(labels: np.ndarray, pred_probs: np.ndarray, *, n_bins: int = N_BINS) -> tuple[float, list[dict]]:
    """Expected calibration error of the top-1 confidence over `n_bins` equal-width bins.

    Returns:
        (ece in 0..1, reliability bins: {lo, hi, count, confidence (mean top-1 prob),
        accuracy} for each non-empty bin).
    """
    confidence = pred_probs.max(1)
    correct = (pred_probs.argmax(1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    ece, bins = 0.0, []
    for b in range(n_bins):
        m = idx == b
        if not m.any():
            continue
        c, a = float(confidence[m].mean()), float(correct[m].mean())
        ece += m.mean() * abs(a - c)
        bins.append({"lo": float(edges[b]), "hi": float(edges[b + 1]), "count": int(m.sum()),
                     "confidence": c, "accuracy": a})
    return float(ece), bins


# --------------------------------------------------------------------------------------------
# duplicates
# --------------------------------------------------------------------------------------------
def image_hashes(images: np.ndarray) -> np.ndarray:
    """(N, ...) array -> (N,) 16-byte blake2b digests of each row's bytes (dtype 'S16')."""
    flat = np.ascontiguousarray(images).reshape(len(images), -1)
    return np.array([hashlib.blake2b(r.tobytes(), digest_size=16).digest() for r in flat], dtype="S16")


def duplicate_twins(images_test: np.ndarray, images_train: np.ndarray) -> np.ndarray:
    """(N,) bool: True where a test image has a pixel-identical twin among the train images.

    Args:
        images_test: (N, 48, 48) uint8.
        images_train: (M, 48, 48) uint8.
    """
    images_test, images_train = np.asarray(images_test), np.asarray(images_train)
    if images_test.shape[1:] != images_train.shape[1:] or images_test.dtype != images_train.dtype:
        raise ValueError(f"image arrays differ: {images_test.shape} {images_test.dtype} vs "
                         f"{images_train.shape} {images_train.dtype}")
    if len(images_test) == 0 or len(images_train) == 0:
        return np.zeros(len(images_test), bool)
    return np.isin(image_hashes(images_test), image_hashes(images_train))


# --------------------------------------------------------------------------------------------
# model evaluation on a dataset
# --------------------------------------------------------------------------------------------
def split_labels(dataset, label_set: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(indices of `split` rows with a defined label in `label_set`, their labels)."""
    get_label_set(label_set)
    in_split = dataset.split == split
    if not in_split.any():
        present = sorted(set(dataset.split.tolist()))
        raise ValueError(f"no rows in split {split!r}; the dataset has {present}")
    labels = dataset.labels_in(label_set)
    idx = np.flatnonzero(in_split & (labels >= 0))
    return idx, labels[idx]


def _ferplus_in(label_set: str, dataset) -> np.ndarray | None:
    """FER+ majority mapped into `label_set` (fer2013 or fer6); None when not applicable."""
    if dataset.ferplus is None or label_set not in ("fer2013", "fer6"):
        return None
    maj = dataset.ferplus.majority_fer2013
    if label_set == "fer6":
        maj = np.where(maj >= 0, FER2013_TO_FER6[np.maximum(maj, 0)], -1)
    return maj


def evaluate(model_or_name, dataset, *, split: str = "PrivateTest", label_set: str | None = None,
             tta: bool = False, batch_size: int = 512, device=None) -> dict:
    """Score a model on one split of a dataset.

    Args:
        model_or_name: a loaded model, a checkpoint path, or a shipped name ('compact').
        dataset: a :class:`fer_core.data.dataset.Dataset`.
        split: 'PrivateTest' (the held-out test), 'PublicTest' (model selection) or 'Training'.
        label_set: labels to score against; default the checkpoint's. A different one raises.
        tta: average the prediction of each image and its mirror.

    Returns:
        :func:`compute_metrics` plus model, label_set, split, tta, data_hash, model_hash,
        n_twins / accuracy_dedup / n_dedup (the split without its images that have a
        pixel-identical twin in Training; None without Training rows) and, for fer2013/fer6
        models on data with FER+, `ferplus`: the same metrics against the FER+ majority mapped
        to the model's classes (rows without a mapped majority left out).
    """
    from fer_core.models.checkpoint import load_checkpoint
    from fer_core.models.inference import predict_probs

    info: dict = {}
    if isinstance(model_or_name, (str, os.PathLike)):
        model, info = load_checkpoint(model_or_name)
    else:
        model = model_or_name
    model_ls = info.get("label_set") or getattr(model, "label_set", None)
    if label_set is None:
        if model_ls is None:
            raise ValueError("the model carries no label set: pass label_set=")
        label_set = model_ls
    ls = get_label_set(label_set)
    if model_ls is not None and model_ls != label_set:
        raise ValueError(f"label set mismatch: the model was trained on {model_ls!r} "
                         f"({get_label_set(model_ls).num_classes} classes) but {label_set!r} was requested")
    k = getattr(model, "num_classes", None)
    if k is not None and k != ls.num_classes:
        raise ValueError(f"the model has {k} outputs but label set {label_set!r} has {ls.num_classes} classes")

    in_split = dataset.split == split
    if not in_split.any():
        raise ValueError(f"no rows in split {split!r}; the dataset has {sorted(set(dataset.split.tolist()))}")
    all_labels = dataset.labels_in(label_set)
    split_idx = np.flatnonzero(in_split)
    probs = predict_probs(model, dataset.images[split_idx], batch_size=batch_size, tta=tta, device=device)
    lab = all_labels[split_idx]
    ok = lab >= 0
    if not ok.any():
        raise ValueError(f"no row of split {split!r} has a label in {label_set!r}")
    out = compute_metrics(lab[ok], probs[ok], class_names=ls.classes)
    out.update({"model": info.get("path") or getattr(model, "model_name", type(model).__name__),
                "model_name": info.get("model_name") or getattr(model, "model_name", None),
                "model_hash": info.get("model_hash"), "label_set": label_set, "split": split, "tta": tta,
                "data_hash": dataset.data_hash, "n_unlabeled": int((~ok).sum())})

    train_mask = dataset.split == "Training"
    if split != "Training" and train_mask.any():
        twins = duplicate_twins(dataset.images[split_idx[ok]], dataset.images[train_mask])
        keep = ~twins
        out["n_twins"] = int(twins.sum())
        out["n_dedup"] = int(keep.sum())
        pred = probs[ok].argmax(1)
        out["accuracy_dedup"] = float((pred[keep] == lab[ok][keep]).mean()) if keep.any() else None
    else:
        out["n_twins"] = out["n_dedup"] = out["accuracy_dedup"] = None

    maj = _ferplus_in(label_set, dataset)
    if maj is not None:
        m = maj[split_idx]
        fok = m >= 0
        if fok.any():
            out["ferplus"] = compute_metrics(m[fok], probs[fok], class_names=ls.classes)
            out["ferplus"]["note"] = ("FER+ crowd majority mapped to the model's classes; rows with no "
                                      "majority or contempt left out")
    return out


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def _summary_line(m: dict) -> str:
    s = (f"{m['split']} {m['label_set']}: accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}  "
         f"top-3 {m['top3_accuracy']:.4f}  ECE {m['ece']:.4f}  (n={m['n']})")
    if m.get("accuracy_dedup") is not None:
        s += f"\n  without the {m['n_twins']} train twins: accuracy {m['accuracy_dedup']:.4f} (n={m['n_dedup']})"
    if "ferplus" in m:
        s += f"\n  against FER+ majority: accuracy {m['ferplus']['accuracy']:.4f} (n={m['ferplus']['n']})"
    return s


def main(argv: list[str] | None = None) -> int:
    from fer_core.config import EvalConfig
    from fer_core.data.dataset import load_dataset

    from fer_core import cli
    p = cli.command_parser("evaluate", "Score a checkpoint on one split; --json prints one JSON object.",
                           config=EvalConfig, json=True)
    a = p.parse_args(argv)
    cfg = EvalConfig.from_args(a)

    def body() -> int:
        ds = load_dataset(cfg.data or None, cfg.ferplus or None)
        m = evaluate(cfg.model, ds, split=cfg.split, label_set=cfg.label_set or None, tta=cfg.tta,
                     batch_size=cfg.batch_size)
        print(json.dumps(m) if a.json else _summary_line(m))
        return 0
    return cli.run(body, as_json=a.json)


if __name__ == "__main__":
    sys.exit(main())
