"""Classical baselines: PCA ("eigenfaces") features + a scikit-learn classifier.

Each baseline is one scikit-learn Pipeline: flatten pixels /255 -> PCA fit on the training
images (whitened) -> classifier. They are scored with the same `compute_metrics` as the CNNs.

=============  ==================================================================================
name           classifier
=============  ==================================================================================
logreg         multinomial logistic regression (lbfgs)
linear_svm     LinearSVC, probabilities by 3-fold sigmoid calibration (CalibratedClassifierCV)
rbf_svm        SVC(kernel='rbf', C=10), probabilities by 3-fold sigmoid calibration (one final SVC
               refit on all), fit on a stratified subsample (default 10,000 Training images:
               the full 28,709 takes tens of minutes)
random_forest  300 trees, min_samples_leaf=2
=============  ==================================================================================

Above 50,000 Training images the other three are fit on a stratified sample of that many too
(``max_train``): at 280k images (a synthetic 350k set) the four took 30 minutes and 7.5 GB,
with the sample 3.3 minutes and 2.9 GB (bench/RESULTS.md, "Scaling with the number of faces").

Command line::

    python -m fer_core.baselines --data fer2013.csv.gz --json
"""
from __future__ import annotations

import json
import sys
import time
from typing import Callable

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import SVC, LinearSVC

from fer_core import validate
from fer_core.constants import N_PIXELS

#: Baseline name -> factory(seed) of its classifier, fit on the whitened PCA features; the order is
#: the one the CLI, the Model page and the prepare stage use.
CLASSIFIERS: dict[str, Callable[[int], object]] = {
    "logreg": lambda seed: LogisticRegression(C=1.0, max_iter=2000),
    "linear_svm": lambda seed: CalibratedClassifierCV(LinearSVC(C=0.1, max_iter=5000, random_state=seed), cv=3,
                                                      method="sigmoid"),
    "rbf_svm": lambda seed: CalibratedClassifierCV(SVC(kernel="rbf", C=10.0, gamma="scale", random_state=seed),
                                                   cv=3, method="sigmoid", ensemble=False),
    "random_forest": lambda seed: RandomForestClassifier(n_estimators=300, min_samples_leaf=2, n_jobs=2,
                                                         random_state=seed),
}
BASELINES = tuple(CLASSIFIERS)
#: default training subsample per baseline (None = all images)
DEFAULT_MAX_TRAIN = {"rbf_svm": 10000}


def _flatten(images: np.ndarray) -> np.ndarray:
    return np.asarray(images).reshape(len(images), N_PIXELS).astype(np.float32) / 255.0


def _classifier(name: str, seed: int):
    if name not in CLASSIFIERS:
        raise ValueError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
    return CLASSIFIERS[name](seed)


def _stratified_subsample(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of about `n` rows keeping the class shares (every class keeps >= 1 row)."""
    # not train_test_split(stratify=): it draws other rows (every recorded rbf_svm result would
    # change) and fails on a class with a single image, which this keeps
    rng = np.random.default_rng(seed)
    out = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = max(1, int(round(n * len(idx) / len(labels))))
        out.append(rng.choice(idx, min(k, len(idx)), replace=False))
    return np.sort(np.concatenate(out))


def train_rows(labels: np.ndarray, max_train: int, *, seed: int = 0) -> np.ndarray:
    """Indices of the rows a baseline is fit on: all of them when `max_train` is 0 or not
    smaller than len(labels), else the stratified subsample :func:`fit_baseline` draws. Index
    the images with these before calling it, so that only the subsample is ever copied."""
    labels = np.asarray(labels)
    if max_train < 0:
        raise ValueError(f"max_train must be >= 0 (0 = every image), got {max_train}")
    if not max_train or len(labels) <= max_train:
        return np.arange(len(labels))
    return _stratified_subsample(labels, max_train, seed)


def fit_baseline(name: str, images: np.ndarray, labels: np.ndarray, *, n_components: int = 100, seed: int = 0,
                 max_train: int | None = None):
    """Fit one baseline pipeline.

    Args:
        name: one of BASELINES.
        images: (N, 48, 48) uint8 training images.
        labels: (N,) int classes.
        n_components: PCA components (capped at N - 1).
        max_train: fit on a stratified subsample of this many images (0 = all; None = the
            baseline's default, 10,000 for rbf_svm, all for the others).

    Returns:
        The fitted Pipeline, with attributes `n_train_` (images used) and `fit_seconds_`.
    """
    images, labels = validate.images(images), np.asarray(labels)
    if labels.shape != (len(images),):
        raise ValueError(f"labels must be ({len(images)},), got {labels.shape}")
    clf = _classifier(name, seed)
    if max_train is None:
        max_train = DEFAULT_MAX_TRAIN.get(name, 0)
    if max_train < 0:
        raise ValueError(f"max_train must be >= 0 (0 = every image), got {max_train}")
    if max_train and len(images) > max_train:
        idx = _stratified_subsample(labels, max_train, seed)
        images, labels = images[idx], labels[idx]
    k = int(min(n_components, len(images) - 1, N_PIXELS))
    est = Pipeline([("flatten", FunctionTransformer(_flatten)),
                    ("pca", PCA(n_components=k, whiten=True, svd_solver="randomized", random_state=seed)),
                    ("clf", clf)])
    t = time.perf_counter()
    est.fit(images, labels)
    est.fit_seconds_ = time.perf_counter() - t
    est.n_train_ = int(len(images))
    est.baseline_name_ = name
    return est


def baseline_probs(est, images: np.ndarray, *, num_classes: int = 7, batch_size: int = 16384) -> np.ndarray:
    """(N, 48, 48) uint8 -> (N, num_classes) float32 probabilities, rows sum to 1 (classes the
    estimator never saw get probability 0). In batches: the flattened float copy of 70k faces
    alone is 650 MB."""
    images = np.asarray(images)
    p = np.concatenate([est.predict_proba(images[s:s + batch_size]) for s in range(0, len(images), batch_size)]) \
        if len(images) else np.zeros((0, len(est.classes_)))
    out = np.zeros((len(p), num_classes), np.float32)
    out[:, np.asarray(est.classes_, dtype=int)] = p
    s = out.sum(1, keepdims=True)
    return out / np.where(s > 0, s, 1)


def sample_note(result: dict, n_training: int) -> str:
    """One sentence naming the baselines of a 'baselines' artifact that were fit on a sample of the
    `n_training` Training images, e.g. "PCA baselines fit on stratified samples of the 280,000
    Training images: 50,000 for logreg, ...". "" when every baseline saw them all (artifacts built
    before `n_train_<name>` was recorded say nothing either)."""
    sampled = {n: int(result[f"n_train_{n}"]) for n in BASELINES
               if f"n_train_{n}" in result and int(result[f"n_train_{n}"]) < n_training}
    if not sampled:
        return ""
    parts = ", ".join(f"{v:,} for {n}" for n, v in sampled.items())
    return f"PCA baselines fit on stratified samples of the {n_training:,} Training images: {parts}."


def run_baselines(dataset, *, names=BASELINES, split: str = "PrivateTest", n_components: int = 100,
                  seed: int = 0, rbf_max_train: int = 10000, max_train: int = 50000, progress: bool = False) -> dict:
    """Fit each baseline on the Training rows and score it on `split`.

    Returns:
        {name: compute_metrics(...) + fit_seconds, predict_seconds, n_train, accuracy_dedup, n_dedup}.
    """
    from fer_core.constants import FER2013_EMOTIONS
    from fer_core.training.evaluate import compute_metrics, duplicate_twins

    tr, te = dataset.rows("Training"), dataset.rows(split)
    if not len(tr) or not len(te):
        raise ValueError(f"need labeled Training and {split} rows")
    twins = duplicate_twins(dataset.images[te], dataset.images[tr])
    out = {}
    for name in names:
        if progress:
            print(f"fitting {name} ...", file=sys.stderr, flush=True)
        fit = tr[train_rows(dataset.labels[tr], rbf_max_train if name == "rbf_svm" else max_train, seed=seed)]
        est = fit_baseline(name, dataset.images[fit], dataset.labels[fit], n_components=n_components, seed=seed,
                           max_train=0)
        t = time.perf_counter()
        probs = baseline_probs(est, dataset.images[te])
        pred_s = time.perf_counter() - t
        lab = dataset.labels[te]
        m = compute_metrics(lab, probs, class_names=FER2013_EMOTIONS)
        keep = ~twins
        m.update(split=split, fit_seconds=est.fit_seconds_, predict_seconds=pred_s, n_train=est.n_train_,
                 n_components=int(est.named_steps["pca"].n_components_), n_dedup=int(keep.sum()),
                 accuracy_dedup=float((probs[keep].argmax(1) == lab[keep]).mean()) if keep.any() else None)
        out[name] = m
    return out


def main(argv: list[str] | None = None) -> int:
    from fer_core import cli
    from fer_core.config import BaselineConfig

    p = cli.command_parser("baselines", "PCA + classical classifiers, scored like the CNNs.", config=BaselineConfig,
                           json=True)
    a = p.parse_args(argv)
    return cli.run(lambda: _run_and_print(BaselineConfig.from_args(a), as_json=a.json))


def _run_and_print(cfg, *, as_json: bool) -> int:
    from fer_core.data.dataset import load_dataset
    unknown = [n for n in cfg.names if n not in BASELINES]
    if unknown:
        raise ValueError(f"unknown baseline(s) {unknown}; known: {', '.join(BASELINES)}")
    ds = load_dataset(cfg.data or None)
    res = run_baselines(ds, names=cfg.names, split=cfg.split, n_components=cfg.n_components, seed=cfg.seed,
                        rbf_max_train=cfg.rbf_max_train, max_train=cfg.max_train, progress=not as_json)
    if as_json:
        print(json.dumps({"data_hash": ds.data_hash, "config": cfg.to_dict(), "baselines": res}))
    else:
        print(f"{'baseline':14s} {'n_train':>7s} {'accuracy':>8s} {'dedup':>6s} {'macroF1':>7s} {'ECE':>6s} {'fit s':>7s}")
        for n, m in res.items():
            print(f"{n:14s} {m['n_train']:7d} {m['accuracy']:8.4f} {m['accuracy_dedup'] or 0:6.4f} "
                  f"{m['macro_f1']:7.4f} {m['ece']:6.3f} {m['fit_seconds']:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
