"""Embeddings on the full FER2013: features, UMAP and t-SNE maps, and the numbers they stand for.

    python bench/bench_embed.py [--data PATH --ferplus PATH] [--model compact] [--skip sklearn_tsne]

Targets (issue 4), on the 2-core CPU: features with the compact model <= 5 min; UMAP 2-D <= 2 min;
t-SNE 2-D <= 5 min. scikit-learn's TSNE and openTSNE are compared on the same PCA-50 input: time,
and quality as kNN preservation (share of each point's 10 nearest neighbours in the input that
stay among its 10 nearest in the map, all points) and trustworthiness (scikit-learn, k = 10, on a
seeded 5,000-point subsample of each map). Nothing is read from or written to cache/.
"""
import argparse
import os
import time
import warnings

import numpy as np
from common import DEFAULT_DATA, DEFAULT_FERPLUS, Timer, header

from fer_core.analysis import embed
from fer_core.models.checkpoint import load_checkpoint
from fer_core.config import ProjectionConfig
from fer_core.data.dataset import load_dataset
from fer_core.analysis.predictions import features_and_probs

K = 10


def knn_preservation(x_high: np.ndarray, x_low: np.ndarray, k: int = K) -> float:
    a, _ = embed.knn_graph(x_high, k=k)
    b, _ = embed.knn_graph(x_low, k=k)
    return float(np.mean([len(np.intersect1d(a[i], b[i], assume_unique=True)) / k for i in range(len(a))]))


def trust(x_high, x_low, n=5000, seed=0) -> float:
    from sklearn.manifold import trustworthiness
    idx = np.random.default_rng(seed).choice(len(x_high), min(n, len(x_high)), replace=False)
    return float(trustworthiness(x_high[idx], x_low[idx], n_neighbors=K))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--ferplus", default=str(DEFAULT_FERPLUS))
    p.add_argument("--model", default="compact")
    p.add_argument("--skip", nargs="*", default=[], choices=["umap", "sklearn_tsne", "opentsne", "stats"])
    a = p.parse_args()
    header("Embeddings")
    print(f"threads: torch {__import__('torch').get_num_threads()}, os.cpu_count() {os.cpu_count()}")
    ds = load_dataset(a.data, a.ferplus if a.ferplus and os.path.exists(a.ferplus) else None)
    net, _ = load_checkpoint(a.model)
    print(f"{len(ds):,} images; model {a.model} ({net.num_features}-d features)")

    with Timer() as t:
        feats, probs = features_and_probs(net, ds.images, tta=True)
    print(f"features + flip-TTA probabilities (what the dashboard caches): {t.seconds:.1f} s (target <= 300 s)")
    x50 = embed._pca(feats, 50, 0)

    maps = {}
    if "umap" not in a.skip:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Timer() as tc:
                embed.project(x50[:300], ProjectionConfig(method="umap", pca_dims=0))  # numba JIT compile
            with Timer() as t:
                maps["umap"] = embed.project(feats, ProjectionConfig(method="umap"))
        print(f"UMAP 2-D (PCA-50, n_neighbors 15, seeded): {t.seconds:.1f} s after a {tc.seconds:.1f} s "
              f"warm-up/JIT compile (target <= 120 s)")
    for impl in ("opentsne", "sklearn"):
        if ("opentsne" if impl == "opentsne" else "sklearn_tsne") in a.skip:
            continue
        if impl == "opentsne":
            try:
                import openTSNE  # noqa: F401
            except ImportError:
                print("openTSNE not installed: skipped")
                continue
        with Timer() as t:
            maps[f"tsne_{impl}"] = embed.project(feats, ProjectionConfig(method="tsne", tsne_impl=impl))
        print(f"t-SNE 2-D {impl} (PCA-50, perplexity 30, seeded): {t.seconds:.1f} s (target <= 300 s)")
    for name, m in maps.items():
        t0 = time.perf_counter()
        kp, tw = knn_preservation(x50, m), trust(x50, m)
        print(f"quality {name}: kNN preservation@{K} {kp:.3f}, trustworthiness@{K} (5k subsample) {tw:.3f} "
              f"({time.perf_counter() - t0:.0f} s to measure)")

    if "stats" not in a.skip:
        with Timer() as t:
            nb, _ = embed.knn_graph(feats, k=K)
        with Timer() as ts:
            sil = embed.silhouette_per_class(feats, ds.labels, n_classes=7)
        print(f"kNN graph (exact, k={K}, {feats.shape[1]}-d): {t.seconds:.1f} s; silhouette (10k stratified "
              f"sample): {ts.seconds:.1f} s")
        stats = {"neighbors": nb, "silhouette_fer2013": sil["per_class"]}
        table, agr = embed.class_separation_table(stats, ds.labels)
        print(f"FER2013 labels: silhouette {float(sil['overall']):.3f}, kNN agreement {float(agr['overall']):.3f}")
        import pandas as pd
        with pd.option_context("display.width", 160, "display.precision", 3):
            print(table.to_string())
        from fer_core.constants import FER2013_EMOTIONS as E
        f, s = E.index("fear"), E.index("sad")
        print(f"fear -> sad: {agr['confusion'][f, s]:.1%} of fear images' {K} nearest neighbours are sad "
              f"(sad is {agr['support'][s] / agr['support'].sum():.1%} of images); fear's own label: "
              f"{agr['confusion'][f, f]:.1%}")


if __name__ == "__main__":
    main()
