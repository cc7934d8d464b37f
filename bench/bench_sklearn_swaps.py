"""The scikit-learn calls that replaced own code in label_errors/embed, against the code they replaced.

    OMP_NUM_THREADS=1 python bench/bench_sklearn_swaps.py [--n 36000] [--dim 64]

On the bundled sample's features (the default model, 1000 images) and on an N x D synthetic
float32 array: time and largest difference of
* self-excluded k nearest neighbours: NearestNeighbors(k+1).kneighbors(X) with self dropped by hand
  (before) against NearestNeighbors(k).kneighbors() without X (now, embed.knn_graph);
* the neighbours' label distribution: label counts over knn_graph (before) against
  KNeighborsClassifier.predict_proba(None) (now, label_errors.neighbor_label_distribution);
* features-cv probabilities: the own fold loop (kept) against cross_val_predict(method="predict_proba").
"""
import argparse
import time

import numpy as np
from sklearn.neighbors import NearestNeighbors


def knn_by_hand(x, k):
    """embed.knn_graph before: k+1 neighbours of every row, then drop the row itself."""
    dist, idx = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(x).kneighbors(x)
    self_mask = idx == np.arange(len(x))[:, None]
    keep = ~self_mask
    keep[~self_mask.any(1), -1] = False
    return idx[keep].reshape(len(x), k).astype(np.int32), dist[keep].reshape(len(x), k).astype(np.float32)


def neighbor_dist_by_hand(x, labels, k, n_classes, prior=0.1):
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    nb, _ = knn_by_hand(x, k)
    counts = np.stack([(labels[nb] == c).sum(1) for c in range(n_classes)], 1).astype(np.float64)
    return (counts + prior / n_classes) / (counts.sum(1, keepdims=True) + prior)


def timed(fn, *a, **kw):
    t = time.perf_counter()
    out = fn(*a, **kw)
    return out, time.perf_counter() - t


def compare(name, x, labels, k=30, cv=True):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from fer_core.analysis import embed
    from fer_core.analysis import label_errors as le
    print(f"\n## {name}: {x.shape[0]:,} x {x.shape[1]}")
    (nb0, d0), t0 = timed(knn_by_hand, x, k)
    (nb1, d1), t1 = timed(embed.knn_graph, x, k=k)
    print(f"knn_graph          by hand {t0:6.2f} s | kneighbors() {t1:6.2f} s | same rows {np.mean(nb0 == nb1):.4f}, "
          f"max |dist diff| {np.abs(d0 - d1).max():.2g}")
    p0, t0 = timed(neighbor_dist_by_hand, x, labels, k, 7)
    p1, t1 = timed(le.neighbor_label_distribution, x, labels, k=k, n_classes=7)
    print(f"neighbour labels   by hand {t0:6.2f} s | predict_proba {t1:5.2f} s | max |diff| {np.abs(p0 - p1).max():.2g}")
    if cv:
        folds = le.fold_ids(labels, folds=5, seed=0)
        p0, t0 = timed(le.cross_val_probs_features, x, labels, folds, C=0.1)
        splits = [(np.flatnonzero(folds != f), np.flatnonzero(folds == f)) for f in range(5)]
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=300))
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p1, t1 = timed(cross_val_predict, clf, x, labels, cv=splits, method="predict_proba")
        print(f"features-cv        own loop {t0:5.2f} s | cross_val_predict {t1:5.2f} s | "
              f"max |diff| {np.abs(p0 - le._renorm(p1)).max():.2g}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=36000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--no-cv", action="store_true", help="skip the features-cv comparison on the synthetic array")
    a = ap.parse_args()
    import tempfile

    from fer_core.analysis.predictions import get_predictions, model_or_default
    from fer_core.data.dataset import load_dataset
    from fer_core.store import Store
    ds = load_dataset(use_cache=False)
    pred = get_predictions(ds, model_or_default(None), store=Store(tempfile.mkdtemp(prefix="bench-sk-")))
    lab = ds.rows()
    compare("bundled sample, default model's features", pred["features"][lab], ds.labels[lab])
    rng = np.random.default_rng(0)
    y = rng.integers(0, 7, a.n)
    x = (rng.standard_normal((a.n, a.dim)) + 0.5 * np.eye(7, a.dim)[y]).astype(np.float32)
    compare("synthetic", x, y, cv=not a.no_cv)


if __name__ == "__main__":
    main()
