"""Growth of the prepare stages that were quadratic (exact kNN, near-duplicate candidates) or heavy
(t-SNE / UMAP on every point), before and after the near-linear versions, on synthetic copies of
FER2013 at several sizes; the exponent b of time ~ N^b from the two largest sizes.

    OMP_NUM_THREADS=1 python bench/bench_near_linear.py --features FEATS.npy --stage knn \\
        --sizes 36000 144000 --variant new [--data fer2013.csv.gz] [--json out.json]

--features: an (N, D) .npy of the model's features (the ``predictions`` artifact's ``features``).
Copies: feature rows are repeated with Gaussian noise of about a tenth of the typical distance to
the 10th neighbour per row (new points near, not on, the old ones); images (stage dup) are
repeated mirrored and shifted by 5 px (not near duplicates of their originals at max_shift 2).

Stages: knn (embedding_stats graph, k = 10), dup (near-duplicate pairs), umap, tsne (2-D maps).
Variants: new (as prepare runs now: approximate above 50,000 rows / fit on a 50,000 sample),
old (exact at every size / fit on every point).
"""
import argparse
import json
import time

import numpy as np


def grow_features(x: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    sub = x[rng.choice(len(x), min(2000, len(x)), replace=False)]
    d2 = ((sub[:, None, :] - x[None, :5000, :]) ** 2).sum(-1)
    kth = np.sqrt(np.sort(d2, axis=1)[:, 10]).mean()
    idx = np.arange(n) % len(x)
    noise = rng.normal(0, 0.1 * kth / np.sqrt(x.shape[1]), (n, x.shape[1])).astype(np.float32)
    noise[:len(x)] = 0  # the originals first, unchanged
    return x[idx] + noise


def grow_images(images: np.ndarray, n: int) -> np.ndarray:
    def shift(a, dx):
        return np.roll(a, dx, axis=2)
    variants = [images, images[:, :, ::-1], shift(images, 5), shift(images[:, :, ::-1], -5), shift(images, -5)]
    out = np.concatenate(variants)
    if n > len(out):
        raise ValueError(f"at most {len(out)} images from {len(images)}")
    return np.ascontiguousarray(out[:n])


def run(stage: str, variant: str, x: np.ndarray | None, images: np.ndarray | None, strata: np.ndarray | None) -> dict:
    from fer_core.analysis import duplicates, embed
    from fer_core.config import ProjectionConfig
    big = 10**12
    t = time.perf_counter()
    if stage == "knn":
        embed.knn_graph(x, k=10, exact_max=big if variant == "old" else 50000)
    elif stage == "dup":
        pairs, _ = duplicates.near_duplicate_pairs(images, exact_max=big if variant == "old" else 50000)
        extra = {"pairs": len(pairs)}
    else:
        cfg = ProjectionConfig(method=stage, fit_sample=0 if variant == "old" else 50000)
        embed.project(x, cfg, strata=strata, n_jobs=1)
    out = {"seconds": time.perf_counter() - t}
    if stage == "dup":
        out.update(extra)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--features", help="(N, D) .npy features (stages knn, umap, tsne)")
    p.add_argument("--probs", help="(N, K) .npy probabilities: fit samples stratified by predicted class")
    p.add_argument("--data", help="fer2013.csv[.gz] (stage dup)")
    p.add_argument("--stage", required=True, choices=("knn", "dup", "umap", "tsne"))
    p.add_argument("--variant", default="new", choices=("new", "old"))
    p.add_argument("--sizes", type=int, nargs="+", default=[36000, 144000])
    p.add_argument("--json", help="append the results (one JSON object per line) to this file")
    a = p.parse_args(argv)
    x = images = probs = None
    if a.stage == "dup":
        from fer_core.data.dataset import load_dataset
        images = load_dataset(a.data).images
    else:
        x = np.load(a.features).astype(np.float32)
        probs = np.load(a.probs) if a.probs else None
    if a.stage in ("knn", "dup"):  # compile the approximate search once (numba), outside the timings
        from fer_core.analysis import neighbors
        t = time.perf_counter()
        neighbors.knn_graph(np.random.default_rng(0).normal(size=(3000, 16)).astype(np.float32), k=10, exact_max=0)
        print(f"[jit] pynndescent compile {time.perf_counter() - t:.1f} s", flush=True)
    results = []
    for n in a.sizes:
        xs = grow_features(x, n) if x is not None else None
        strata = np.resize(probs.argmax(1), n) if probs is not None else None
        ims = grow_images(images, n) if images is not None else None
        r = {"stage": a.stage, "variant": a.variant, "n": n, **run(a.stage, a.variant, xs, ims, strata)}
        print(json.dumps(r), flush=True)
        results.append(r)
        if a.json:
            with open(a.json, "a") as f:
                f.write(json.dumps(r) + "\n")
    if len(results) >= 2:
        (n0, t0), (n1, t1) = [(r["n"], r["seconds"]) for r in results[-2:]]
        print(f"exponent b (time ~ N^b) from {n0:,} to {n1:,}: {np.log(t1 / t0) / np.log(n1 / n0):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
