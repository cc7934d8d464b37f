"""Likely label errors and non-faces, ranked.

    python -m fer_core.label_errors --data fer2013.csv.gz [--ferplus fer2013new.csv] \\
        [--model compact] [--mode auto] --out ranking.csv [--outliers-out outliers.csv]

Pipeline (every step arrays in, arrays out; the whole run is cached through the store):

1. **Out-of-sample probabilities** (`pred_probs`, (N, 7), rows sum to 1) from models that did
   not see the image's label. ``--mode kfold`` trains K fold models (use a GPU);
   ``features-cv`` fits K-fold logistic regression on the frozen penultimate features of the
   shipped model (the CPU mode); ``model`` uses the shipped model's own probabilities (fast, but
   in-sample for the Training rows). ``auto`` = kfold with CUDA, else features-cv.
   ``--pred-probs FILE`` brings your own instead (an (N, 7) .npy or .csv, e.g. from K-fold
   training elsewhere; mode 'given'): :func:`fer_core.validate.read_pred_probs` checks it.
2. **Rankings** of likely label errors (higher score = more likely mislabeled):
   ``study`` (misclassified images first, sorted by the wrong class's probability, the method of
   the source study), ``cleanlab`` (confident learning: ``cleanlab.filter.find_label_issues``
   first, then ``get_label_quality_scores`` normalized margin), ``self_confidence`` (1 - p(given
   label)), and ``ensemble`` (this project's default: normalized margin on the average of the
   out-of-sample probabilities, the shipped model's flip-TTA probabilities and the label
   distribution of the 30 nearest neighbours in feature space).
3. **Outliers / non-faces** (higher = less face-like): the rank-maximum of signals that each
   catch one kind of non-face: near-uniform pixels (blank frames), saturated pixels (text on white,
   icons), isolation in feature space (distance to the 10 nearest non-identical neighbours) and
   misalignment (fer_core.models.aligner: a tiny self-supervised CNN that tells aligned face crops from
   rotated, flipped, shifted and shrunk copies of them).

FER+ votes are never an input: they only validate the rankings (:func:`validate_rankings`).
"""
from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fer_core import cli
from fer_core import stages
from fer_core import validate
from fer_core.analysis import neighbors
from fer_core.analysis.predictions import PREDICTIONS, has_model_and_labels
from fer_core.config import JobConfig, opt
from fer_core.constants import FER2013_EMOTIONS
from fer_core.data.dataset import Dataset, load_dataset
from fer_core.data.images import pixel_stats
from fer_core.models.aligner import SHIPPED as ALIGNER
from fer_core.stages import Stage, register
from fer_core.store import Store, hash_file

#: Ranking methods, default first. Each maps (labels, pred_probs, ...) -> scores (N,).
METHODS = ("ensemble", "study", "cleanlab", "self_confidence")
METHOD_HELP = {
    "ensemble": "normalized margin on out-of-sample + model probabilities + neighbours' labels (default)",
    "study": "misclassified images first, by the predicted (wrong) class's probability (source study)",
    "cleanlab": "confident learning: cleanlab find_label_issues first, then normalized margin",
    "self_confidence": "1 - probability of the given label (cleanlab self_confidence)",
}
MODES = ("auto", "kfold", "features-cv", "model")
MODE_HELP = {
    "given": "out-of-sample probabilities given in a file (--pred-probs)",
    "kfold": "out-of-sample: K fold models, each predicting the images it did not train on",
    "features-cv": "out-of-sample: K-fold logistic regression on the model's frozen features (CPU mode)",
    "model": "the model's own probabilities: in-sample for the images it trained on",
}
#: Outlier signals, combined by rank maximum.
OUTLIER_SIGNALS = ("blank", "saturation", "isolation", "misalignment")
PRECISION_KS = (100, 500, 2000)
VERSION = 2


@dataclass(frozen=True)
class LabelErrorConfig(JobConfig):
    """How out-of-sample probabilities and the rankings are computed."""

    mode: str = opt("auto", "kfold (train K models; GPU), features-cv (K-fold logistic regression on "
                    "the model's frozen features; CPU), model (the model's own probabilities), "
                    "auto (kfold with CUDA, else features-cv)", MODES)
    model: str = opt("", "shipped model name or checkpoint path (empty: the default model)")
    folds: int = opt(5, "K of the K-fold cross-validation")
    seed: int = opt(0, "random seed (fold assignment, kfold training, outlier augmentations)")
    C: float = opt(0.1, "features-cv: inverse L2 strength of the logistic regression")
    knn_k: int = opt(30, "neighbours whose labels enter the ensemble score")
    knn_weight: float = opt(0.25, "weight of the neighbours' label distribution in the ensemble")
    knn_exact_max: int = opt(50000, "exact nearest neighbours (ensemble, isolation) up to this many images; above, "
                             "approximate ones (NN-descent, pynndescent: ~N^1.1, recall ~0.99)")
    kfold_epochs: int = opt(30, "kfold: epochs per fold model")
    kfold_model: str = opt("", "kfold: architecture to train per fold (empty: the model's own)")
    pred_probs: str = opt("", "an (N, K) .npy or .csv of out-of-sample probabilities to rank with, e.g. from "
                          "K-fold training; replaces --mode. One row per image in the data's order (or a "
                          "'row' column), one column per class (a CSV header names them); the file's content "
                          "keys the cache, not its path")


# --------------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------------
def _check(labels: np.ndarray, pred_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labels (N,) int64 in 0..K-1, pred_probs (N, K) float64 rows summing to 1), validated once
    at a public function's edge; the private `_rank_*` below trust their inputs."""
    p = validate.pred_probs(pred_probs)
    return validate.labels(labels, n=len(p), num_classes=p.shape[1]), p


# --------------------------------------------------------------------------------------------
# rankings: arrays in, arrays out
# --------------------------------------------------------------------------------------------
def rank_study(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """The source study's ranking: misclassified images first, sorted by the probability of the
    (wrong) predicted class; then the correctly classified ones by 1 - p(given).

    Returns:
        (N,) float64 in [0, 2]; higher = more likely mislabeled.
    """
    return _rank_study(*_check(labels, pred_probs))


def _rank_study(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    pred = p.argmax(1)
    return np.where(pred != y, 1.0 + p.max(1), 1.0 - p[np.arange(len(y)), y])


def rank_self_confidence(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """(N,) 1 - p(given label) (cleanlab's self_confidence); higher = more likely mislabeled."""
    from cleanlab.rank import get_label_quality_scores
    y, p = _check(labels, pred_probs)
    return 1.0 - get_label_quality_scores(y, p, method="self_confidence")  # cleanlab checks its inputs again


def rank_margin(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """(N,) 1 - cleanlab normalized margin quality, in [0, 1]; higher = more likely mislabeled."""
    return _rank_margin(*_check(labels, pred_probs))


def _rank_margin(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    from cleanlab.rank import get_label_quality_scores
    return 1.0 - get_label_quality_scores(y, p, method="normalized_margin")


def rank_confident_learning(labels: np.ndarray, pred_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Confident learning (cleanlab): the images `find_label_issues` flags come first.

    Returns:
        (scores (N,) float64 in [0, 2], higher = more likely mislabeled; is_issue (N,) bool).
    """
    from cleanlab.filter import find_label_issues
    y, p = _check(labels, pred_probs)
    present = np.bincount(y, minlength=p.shape[1]) > 0
    if present.sum() < 2:
        is_issue = np.zeros(len(y), bool)
    else:  # cleanlab needs every class present in `labels`: drop empty columns
        cols = np.flatnonzero(present)
        remap = np.full(p.shape[1], -1)
        remap[cols] = np.arange(len(cols))
        q = p[:, cols] / np.maximum(p[:, cols].sum(1, keepdims=True), 1e-12)
        is_issue = find_label_issues(remap[y], q, filter_by="prune_by_noise_rate", n_jobs=1)
    return is_issue.astype(np.float64) + _rank_margin(y, p), is_issue


def neighbor_label_distribution(embeddings: np.ndarray, labels: np.ndarray, *, k: int = 30,
                                n_classes: int = 7, prior: float = 0.1, exact_max: int = neighbors.EXACT_MAX,
                                seed: int = 0) -> np.ndarray:
    """Share of each class among every image's k nearest neighbours (cosine), itself excluded.

    Args:
        embeddings: (N, D) features.
        labels: (N,) int given labels 0..n_classes-1.
        k: neighbours.
        prior: pseudo-count spread over the classes, so no class gets probability 0.
        exact_max: exact neighbours up to this many rows, approximate (NN-descent) above
            (:func:`fer_core.analysis.neighbors.knn_graph`).
        seed: random seed of the approximate search.

    Returns:
        (N, n_classes) float64, rows sum to 1.
    """
    x = validate.embeddings(embeddings, min_rows=2)
    labels = validate.labels(labels, n=len(x), num_classes=n_classes)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    k = min(int(k), len(x) - 1)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    # every row's k nearest neighbours without itself, counted by label: the same counts as
    # KNeighborsClassifier(brute).predict_proba(None) x k, which this replaced to share the
    # approximate search above exact_max (tests/test_label_errors.py)
    idx, _ = neighbors.knn_graph(x, k=k, exact_max=exact_max, seed=seed)
    counts = np.zeros((len(x), n_classes))
    np.add.at(counts, (np.repeat(np.arange(len(x)), k), labels[idx].ravel()), 1)
    return (counts + prior / n_classes) / (k + prior)


def rank_ensemble(labels: np.ndarray, pred_probs: np.ndarray, *, model_probs: np.ndarray | None = None,
                  neighbor_probs: np.ndarray | None = None, neighbor_weight: float = 0.25) -> np.ndarray:
    """This project's default ranking: normalized margin on a mixture of probability sources.

    The mixture is the mean of `pred_probs` (out-of-sample) and `model_probs` (the shipped
    model, flip TTA) when given, then (1 - neighbor_weight) of that plus neighbor_weight times
    the neighbours' label distribution when given.

    Returns:
        (N,) float64 in [0, 1]; higher = more likely mislabeled.
    """
    y, p = _check(labels, pred_probs)
    if model_probs is not None:
        p = (p + validate.pred_probs(model_probs, n=len(p), num_classes=p.shape[1], name="model_probs")) / 2
    if neighbor_probs is not None:
        q = validate.pred_probs(neighbor_probs, n=len(p), num_classes=p.shape[1], name="neighbor_probs")
        p = (1 - neighbor_weight) * p + neighbor_weight * q
    return _rank_margin(y, p)


def suggested_labels(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """(N,) int64: the most probable class other than the given label."""
    return _suggested(*_check(labels, pred_probs))


def _suggested(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    q = p.copy()
    q[np.arange(len(y)), y] = -1
    return q.argmax(1)


def precision_at_k(scores: np.ndarray, is_error: np.ndarray, *, ks=PRECISION_KS,
                   valid: np.ndarray | None = None) -> dict[int, float]:
    """Share of true errors among the k highest-scoring images, for each k.

    Args:
        scores: (N,) higher = more suspicious.
        is_error: (N,) bool ground truth.
        valid: (N,) bool rows that have a ground truth (others are skipped in the ranking).

    Returns:
        {k: precision}; NaN when fewer than k valid rows.
    """
    scores, is_error = np.asarray(scores, dtype=np.float64), np.asarray(is_error, bool)
    if scores.shape != is_error.shape:
        raise ValueError(f"scores {scores.shape} and is_error {is_error.shape} differ")
    valid = np.ones(len(scores), bool) if valid is None else np.asarray(valid, bool)
    order = np.argsort(-scores, kind="stable")
    order = order[valid[order]]
    return {int(k): float(is_error[order[:k]].mean()) if len(order) >= k else float("nan") for k in ks}


def ferplus_disagreement(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """FER+ validation target: (is_error, valid), both (N,) bool.

    is_error = the FER2013 label differs from the FER+ plurality label; valid = the image has a
    FER2013 label and a FER+ plurality in the 7 FER2013 classes (not contempt, not no-vote).
    """
    if ds.ferplus is None:
        raise ValueError("FER+ votes are not loaded")
    pl = ds.ferplus.plurality_fer2013
    valid = (pl >= 0) & (ds.labels >= 0)
    return valid & (pl != ds.labels), valid


# --------------------------------------------------------------------------------------------
# outliers / non-faces
# --------------------------------------------------------------------------------------------
def _rank01(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata
    return rankdata(x, method="average") / max(len(x), 1)


#: Pixel standard deviation (grey levels) below which an image is a blank frame. In FER2013 the
#: 14 images under 8 are all blank (FER+ marks all 14 not-a-face); the next face is at ~12.
BLANK_STD = 8.0


def pixel_signals(images: np.ndarray) -> dict[str, np.ndarray]:
    """(N,48,48) uint8 -> blank (N,) = max(0, BLANK_STD - pixel std): > 0 only for near-uniform
    frames, 0 for every ordinary image; saturation (N,) = share of pixels below 5 or above 250
    (text on white, icons). Higher = less face-like for both."""
    x = np.asarray(images)
    if x.ndim != 3 or x.dtype != np.uint8:
        raise ValueError(f"images must be (N, H, W) uint8; got {x.shape} {x.dtype}")
    # in chunks (pixel_stats' contrast is the pixel std): a float copy of all 350k faces took 6 GB
    flat = x.reshape(len(x), -1)
    sat = np.concatenate([((flat[s:s + 8192] < 5) | (flat[s:s + 8192] > 250)).mean(1)
                          for s in range(0, len(x), 8192)]) if len(x) else np.zeros(0)
    return {"blank": np.maximum(0.0, BLANK_STD - pixel_stats(x)["contrast"].to_numpy()), "saturation": sat}


def isolation(embeddings: np.ndarray, *, k: int = 10, exact_max: int = neighbors.EXACT_MAX,
              seed: int = 0) -> np.ndarray:
    """(N,) mean cosine distance to the k nearest neighbours that are not identical copies
    (distance > 1e-5); higher = more isolated. Copies are skipped so that duplicated blank frames
    do not hide each other. Neighbours among the 3k + 1 nearest, exact up to `exact_max` rows,
    approximate (NN-descent) above (:func:`fer_core.analysis.neighbors.knn_graph`)."""
    x = np.asarray(embeddings, dtype=np.float32)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    kk = min(len(x) - 1, 3 * k + 1)
    if kk < 1:
        return np.zeros(len(x))
    dist = neighbors.knn_graph(x, k=kk, exact_max=exact_max, seed=seed)[1]  # the row itself left out
    d = np.where(dist < 1e-5, np.nan, dist)  # exact copies
    out = np.zeros(len(x))
    for i, row in enumerate(d):
        r = row[np.isfinite(row)][:k]
        out[i] = r.mean() if len(r) else 0.0
    return out


def rank_outliers(signals: dict[str, np.ndarray]) -> np.ndarray:
    """(N,) rank maximum over the signals (each mapped to its rank in (0, 1]): an image is as
    suspicious as its most extreme signal. Higher = less face-like."""
    if not signals:
        raise ValueError("no outlier signals")
    return np.max([_rank01(np.asarray(v, dtype=np.float64)) for v in signals.values()], 0)


# --------------------------------------------------------------------------------------------
# out-of-sample probabilities
# --------------------------------------------------------------------------------------------
def resolve_mode(mode: str) -> str:
    """The mode that runs for `mode` (a LabelErrorConfig.mode, checked by the config): 'auto' is
    kfold with CUDA, else features-cv."""
    if mode == "auto":
        import torch
        return "kfold" if torch.cuda.is_available() else "features-cv"
    return mode


def run_mode(config: LabelErrorConfig) -> str:
    """The mode a config runs: 'given' with a --pred-probs file, else :func:`resolve_mode`."""
    return "given" if config.pred_probs else resolve_mode(config.mode)


def read_given_probs(path: str, ds: Dataset) -> np.ndarray:
    """(N, 7) float64 probabilities from a --pred-probs file, checked against `ds` (one row per
    image, a 'row' column mapped through ``ds.row``); see :func:`fer_core.validate.read_pred_probs`."""
    return validate.read_pred_probs(path, n=len(ds), class_names=FER2013_EMOTIONS, rows=ds.row)


def fold_ids(labels: np.ndarray, *, folds: int, seed: int) -> np.ndarray:
    """(N,) int fold of each labeled image (stratified by label), -1 for unlabeled rows."""
    from sklearn.model_selection import StratifiedKFold
    labels = np.asarray(labels)
    out = np.full(len(labels), -1, np.int64)
    rows = np.flatnonzero(labels >= 0)
    counts = np.bincount(labels[rows], minlength=1)
    rarest = int(counts[counts > 0].min()) if len(rows) else 0
    n_splits = min(folds, max(2, rarest))  # no more folds than the rarest class has images
    if len(rows) < 2 * n_splits:
        raise ValueError(f"{len(rows)} labeled images are too few for {folds}-fold cross-validation")
    if rarest < n_splits:  # a class with a single image cannot be stratified: plain K-fold
        from sklearn.model_selection import KFold
        splitter = KFold(n_splits, shuffle=True, random_state=seed).split(rows)
    else:
        splitter = StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(rows, labels[rows])
    for f, (_, test) in enumerate(splitter):
        out[rows[test]] = f
    return out


def cross_val_probs_features(features: np.ndarray, labels: np.ndarray, folds: np.ndarray, *, C: float = 0.1,
                             n_classes: int = 7, progress=None) -> np.ndarray:
    """K-fold logistic regression on frozen features.

    Args:
        features: (N, D) float.
        labels: (N,) int, -1 = unlabeled.
        folds: (N,) fold ids from :func:`fold_ids` (-1 = unlabeled: predicted by every fold's
            model, averaged).

    Returns:
        (N, n_classes) float64 out-of-fold probabilities, rows sum to 1.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    # Not sklearn's cross_val_predict(method="predict_proba"): it gives the same labeled-row
    # probabilities (tests/test_label_errors.py) but cannot also score the unlabeled rows with each
    # fold's model (it would fit every fold twice), nor report progress per fold.
    out = np.zeros((len(labels), n_classes))
    unl = folds < 0
    ks = sorted(set(folds[~unl].tolist()))
    for j, f in enumerate(ks):
        if progress:
            progress(j / len(ks), f"fold {j + 1}/{len(ks)}: logistic regression on features")
        tr, te = (folds != f) & ~unl, folds == f
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=300))
        with warnings.catch_warnings():  # lbfgs stops at max_iter with ~1e-4 changes: harmless here
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(features[tr], labels[tr])
        cols = clf.classes_
        out[np.ix_(te, cols)] = clf.predict_proba(features[te])
        if unl.any():
            out[np.ix_(unl, cols)] += clf.predict_proba(features[unl]) / len(ks)
    return _renorm(out)


def _renorm(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, None)
    return p / p.sum(1, keepdims=True)


def cross_val_probs_kfold(ds: Dataset, folds: np.ndarray, *, arch: str, epochs: int, seed: int,
                          progress=None) -> np.ndarray:
    """Train one `arch` model per fold on the other folds (10% of them held out to pick the
    epoch) and predict the held-out fold with flip TTA. GPU when present.

    Returns:
        (N, 7) float64 out-of-fold probabilities (unlabeled rows: mean over the fold models).
    """
    from fer_core.config import TrainConfig
    from fer_core.models.inference import predict_probs
    from fer_core.training.train import train
    out = np.zeros((len(ds), len(FER2013_EMOTIONS)))
    unl = folds < 0
    ks = sorted(set(folds[~unl].tolist()))
    rng = np.random.default_rng(seed)
    for j, f in enumerate(ks):
        if progress:
            progress(j / len(ks), f"fold {j + 1}/{len(ks)}: training {arch} for {epochs} epochs")
        split = np.where(folds == f, "PrivateTest", "Training").astype(object)
        split[unl] = ""
        tr = np.flatnonzero(split == "Training")
        split[rng.choice(tr, max(1, len(tr) // 10), replace=False)] = "PublicTest"
        sub = Dataset(ds.images, ds.labels.copy(), split.astype(str), ds.row, ds.source,
                      f"{ds.data_hash}-fold{f}of{len(ks)}-seed{seed}")
        cfg = TrainConfig(model=arch, epochs=epochs, seed=seed + f)
        model, _ = train(cfg, sub, progress=progress is None)
        te = folds == f
        out[te] = predict_probs(model, ds.images[te], tta=True)
        if unl.any():
            out[unl] += predict_probs(model, ds.images[unl], tta=True) / len(ks)
    return _renorm(out)


# --------------------------------------------------------------------------------------------
# the cached job
# --------------------------------------------------------------------------------------------
def _key_config(config: LabelErrorConfig) -> dict:
    """What the key hashes: the resolved mode, only the fields that mode uses, the algorithm
    version and the face aligner's hash (the model enters by content hash; a --pred-probs file by
    its content hash, so the same file under another path is the same artifact)."""
    d = config.to_dict()
    d["mode"] = run_mode(config)
    if d["mode"] != "kfold":
        d.pop("kfold_epochs"), d.pop("kfold_model")
    if d["mode"] in ("kfold", "given"):
        d.pop("C")
    if d["mode"] == "given":
        d.pop("folds")
        if not Path(config.pred_probs).is_file():
            raise FileNotFoundError(f"pred_probs file not found: {config.pred_probs}")
        d["pred_probs"] = hash_file(config.pred_probs)
    else:
        d.pop("pred_probs")
    d["version"] = VERSION
    d["aligner"] = hash_file(ALIGNER) if ALIGNER.is_file() else "missing"
    return d


def _compute(ds: Dataset, config: LabelErrorConfig, model, progress, store) -> dict[str, np.ndarray]:
    """The label_errors stage. Reads images and labels only: the FER+ votes validate the rankings
    at display time (:func:`validate_rankings`) and never enter the artifact."""
    from fer_core.models.aligner import misalignment_scores
    from fer_core.models.checkpoint import load_checkpoint
    cfg = _key_config(config)

    def step(frac, text):
        if progress:
            progress(frac, text)

    t0 = time.perf_counter()
    labels = ds.labels.astype(np.int64)
    lab = labels >= 0
    if len(np.unique(labels[lab])) < 2:
        raise ValueError("ranking label errors needs labeled images of at least 2 classes")
    given = read_given_probs(config.pred_probs, ds) if cfg["mode"] == "given" else None  # checked before any work
    step(0.0, f"{model.name}: features and probabilities of {len(ds):,} images")
    pred = stages.get(PREDICTIONS, ds, model=model, store=store,
                      progress=(lambda f, t: step(0.3 * f, t)) if progress else None)
    feats, model_probs = pred["features"], _renorm(pred["probs"].astype(np.float64))
    if cfg["mode"] == "given":
        oos = _renorm(given)  # no exact zeros: the ensemble mixes it with the model's probabilities
    elif cfg["mode"] == "features-cv":
        folds = fold_ids(labels, folds=cfg["folds"], seed=cfg["seed"])
        oos = cross_val_probs_features(feats, labels, folds, C=cfg["C"],
                                       progress=(lambda f, t: step(0.3 + 0.3 * f, t)) if progress else None)
    elif cfg["mode"] == "kfold":
        folds = fold_ids(labels, folds=cfg["folds"], seed=cfg["seed"])
        arch = cfg["kfold_model"] or load_checkpoint(model)[1]["model_name"]
        oos = cross_val_probs_kfold(ds, folds, arch=arch, epochs=cfg["kfold_epochs"], seed=cfg["seed"],
                                    progress=(lambda f, t: step(0.3 + 0.3 * f, t)) if progress else None)
    else:
        oos = model_probs
    step(0.6, f"{cfg['knn_k']} nearest neighbours in feature space")
    nprobs = np.full_like(model_probs, 1 / model_probs.shape[1])
    if lab.sum() > cfg["knn_k"]:
        nprobs[lab] = neighbor_label_distribution(feats[lab], labels[lab], k=cfg["knn_k"],
                                                  exact_max=cfg["knn_exact_max"], seed=cfg["seed"])
    out = {"pred_probs": oos.astype(np.float32), "model_probs": model_probs.astype(np.float32),
           "neighbor_probs": nprobs.astype(np.float32)}
    y, p = labels[lab], oos[lab]
    scores = {
        "ensemble": rank_ensemble(y, p, model_probs=model_probs[lab], neighbor_probs=nprobs[lab],
                                  neighbor_weight=cfg["knn_weight"]),
        "study": rank_study(y, p),
        "self_confidence": rank_self_confidence(y, p),
    }
    scores["cleanlab"], issue = rank_confident_learning(y, p)
    for m in METHODS:
        full = np.zeros(len(ds))
        full[lab] = scores[m]
        out[f"score_{m}"] = full
    out["cleanlab_issue"] = np.zeros(len(ds), bool)
    out["cleanlab_issue"][lab] = issue
    sug = np.full(len(ds), -1, np.int64)
    sug[lab] = suggested_labels(y, (p + model_probs[lab]) / 2)
    out["suggested"] = sug

    step(0.7, "outlier signals: pixels, isolation, misalignment")
    sig = pixel_signals(ds.images)
    sig["isolation"] = isolation(feats, exact_max=cfg["knn_exact_max"], seed=cfg["seed"])
    out["knn_exact"] = np.bool_(len(feats) <= cfg["knn_exact_max"])
    sig["misalignment"] = misalignment_scores(ds.images)
    for s in OUTLIER_SIGNALS:
        out[f"outlier_{s}"] = np.asarray(sig[s], dtype=np.float64)
    out["outlier_score"] = rank_outliers(sig)
    out["mode"] = np.array(cfg["mode"])
    out["seconds"] = np.float64(time.perf_counter() - t0)
    step(1.0, "done")
    return out


STAGE = register(Stage("label_errors", "out-of-sample probabilities, label-error rankings and the non-face ranking",
                       LabelErrorConfig, _compute, reads=("images", "labels"), uses_model=True,
                       enabled=has_model_and_labels, key_config=_key_config))


def label_errors_key(ds: Dataset, config: LabelErrorConfig = LabelErrorConfig()) -> str:
    """Cache key of :func:`get_label_errors` (the same whether FER+ votes are loaded or not)."""
    return stages.key(STAGE, ds, config)


def get_label_errors(ds: Dataset, config: LabelErrorConfig = LabelErrorConfig(), *, store: Store | None = None,
                     progress=None) -> dict[str, np.ndarray]:
    """Cached out-of-sample probabilities, every ranking and the outlier ranking for `ds`.

    Returns:
        dict with
        pred_probs (N, 7) float32 out-of-sample probabilities (rows sum to 1),
        model_probs (N, 7) float32 the model's own flip-TTA probabilities,
        neighbor_probs (N, 7) float32 neighbours' label distribution,
        score_<method> (N,) float64 for each of METHODS (higher = more likely mislabeled; 0 for
        unlabeled rows), cleanlab_issue (N,) bool, suggested (N,) int64 (-1 for unlabeled),
        outlier_score (N,) float64 (higher = less face-like) and outlier_<signal> (N,) for each of
        OUTLIER_SIGNALS, mode (str), seconds, knn_exact (bool: False when the neighbours were
        approximate, N > config.knn_exact_max).

    Raises:
        ValueError: the dataset has fewer than 2 labeled classes or too few images.
    """
    return stages.get(STAGE, ds, config, store=store, progress=progress)


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------
def ranking_table(ds: Dataset, result: dict, *, method: str = "ensemble") -> pd.DataFrame:
    """Labeled images, most suspicious first: row, score, given_label, suggested_label (names),
    plus index (position in `ds`), split, p_given, p_suggested."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    idx = ds.rows()
    s = result[f"score_{method}"][idx]
    order = idx[np.argsort(-s, kind="stable")]
    names = np.array(FER2013_EMOTIONS)
    p = result["pred_probs"]
    sug = result["suggested"][order]
    return pd.DataFrame({
        "row": ds.row[order], "score": result[f"score_{method}"][order],
        "given_label": names[ds.labels[order]], "suggested_label": names[sug],
        "index": order, "split": ds.split[order],
        "p_given": p[order, ds.labels[order]], "p_suggested": p[order, sug],
    })


def outlier_table(ds: Dataset, result: dict) -> pd.DataFrame:
    """Every image, least face-like first: row, score, index, split, label and each signal's value."""
    order = np.argsort(-result["outlier_score"], kind="stable")
    names = np.array(FER2013_EMOTIONS + ("",))
    df = pd.DataFrame({"row": ds.row[order], "score": result["outlier_score"][order], "index": order,
                       "split": ds.split[order], "label": names[ds.labels[order]]})
    for s in OUTLIER_SIGNALS:
        df[s] = result[f"outlier_{s}"][order]
    return df


def validate_rankings(ds: Dataset, result: dict, *, ks=PRECISION_KS) -> pd.DataFrame:
    """Precision@k of every method against FER+ (label != FER+ plurality), beside the base rate;
    and non-faces found by the outlier ranking. Needs FER+ loaded.

    Returns:
        DataFrame indexed by method with columns P@k for each k; a 'base rate' row (the share of
        errors among the valid images, i.e. a random ranking's expected precision) and, for the
        outlier ranking, the row 'non-faces in top 500' under column P@500 as a count.
    """
    is_err, valid = ferplus_disagreement(ds)
    rows = {m: precision_at_k(result[f"score_{m}"], is_err, ks=ks, valid=valid) for m in METHODS}
    base = float(is_err[valid].mean()) if valid.any() else float("nan")
    rows["base rate"] = {int(k): base for k in ks}
    df = pd.DataFrame(rows).T
    df.columns = [f"P@{k}" for k in df.columns]
    return df


def precision_not_available(ds: Dataset, table: pd.DataFrame) -> dict[str, str]:
    """Why a column of :func:`validate_rankings`'s table has no value: {"P@k": "n/a: fewer than k
    rows ..."} for each k above the number of images that FER+ can check (NaN in the table)."""
    n_valid = int(ferplus_disagreement(ds)[1].sum())
    return {c: f"n/a: fewer than {k:,} rows ({n_valid:,} images here have a FER2013 label and a FER+ plurality "
               "label to check it against)"
            for c in table.columns if (k := int(str(c).removeprefix("P@"))) > n_valid}


def precision_text(ds: Dataset, table: pd.DataFrame) -> str:
    """:func:`validate_rankings`'s table as text, "n/a" where a k is above the rows there are, and
    one line per such k saying so (for the command line; the dashboard shows the same reasons)."""
    shown = table.map(lambda v: "n/a" if pd.isna(v) else f"{v:.3f}")
    return "\n".join([shown.to_string(), *(f"{c} {why}" for c, why in precision_not_available(ds, table).items())])


def nonfaces_in_top(ds: Dataset, result: dict, *, k: int = 500) -> tuple[int, int]:
    """(FER+ non-faces among the k least face-like images, FER+ non-faces in all)."""
    if ds.ferplus is None:
        raise ValueError("FER+ votes are not loaded")
    top = np.argsort(-result["outlier_score"], kind="stable")[:k]
    return int(ds.ferplus.not_face[top].sum()), int(ds.ferplus.not_face.sum())


def command(data: str | None = None, model: str | None = None, *, ferplus: str | None = None) -> str:
    """The shell command that computes the rankings (and writes both CSVs) for a data source."""
    return cli.command_line("label_errors", data=data if data != "bundled sample" else None, ferplus=ferplus,
                            model=model, out="ranking.csv", outliers_out="outliers.csv")


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    p = cli.command_parser("label_errors", __doc__, data=True, raw_description=True)
    p.add_argument("--ferplus", default="", help="fer2013new.csv: only to validate the rankings (never an input)")
    p.add_argument("--method", default="ensemble", choices=METHODS, help="ranking written to --out")
    p.add_argument("--out", help="ranking CSV: row, score, given_label, suggested_label (most suspicious first)")
    p.add_argument("--outliers-out", help="outlier CSV: row, score (higher = less face-like)")
    LabelErrorConfig.add_arguments(p)
    a = p.parse_args(argv)
    return cli.run(lambda: _rank_and_write(a, LabelErrorConfig.from_args(a)))


def _rank_and_write(a, config: LabelErrorConfig) -> int:
    ds = load_dataset(a.data or None, a.ferplus or None)
    mode = run_mode(config)
    print(f"[label_errors] {len(ds):,} images; mode {mode}"
          + (" (out-of-sample: K-fold logistic regression on the frozen features)" if mode == "features-cv" else "")
          + (" (in-sample for Training rows)" if mode == "model" else ""), file=sys.stderr)
    res = get_label_errors(ds, config)
    print(f"[label_errors] mode that ran: {res['mode']} ({float(res['seconds']):.1f} s when computed)")
    cols = ["row", "score", "given_label", "suggested_label"]
    if a.out:
        ranking_table(ds, res, method=a.method)[cols].to_csv(a.out, index=False)
        print(f"[label_errors] wrote {a.out} ({a.method})")
    if a.outliers_out:
        outlier_table(ds, res)[["row", "score"]].to_csv(a.outliers_out, index=False)
        print(f"[label_errors] wrote {a.outliers_out}")
    if ds.ferplus is not None:
        v = validate_rankings(ds, res)
        print("precision@k against 'FER2013 label != FER+ plurality' (FER+ used only here):")
        print(precision_text(ds, v))
        found, total = nonfaces_in_top(ds, res)
        print(f"FER+ non-faces among the 500 least face-like: {found} / {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
