"""Embeddings: a model's penultimate features for every image, their 2-D/3-D maps, and numbers.

    python -m fer_core.embed --data fer2013.csv.gz --ferplus fer2013new.csv --method umap --dims 2

* Features: :func:`get_features` (the cached ``predictions`` artifact of :mod:`fer_core.analysis.predictions`:
  one batched pass over every image, keyed by the data hash and the checkpoint hash).
* Maps: :func:`project` (PCA, t-SNE or UMAP, 2-D or 3-D, seeded) and :func:`get_projection`, its
  cached form (stages ``projection_pca|tsne|umap``).
* Numbers, not only pictures: :func:`silhouette_per_class` and :func:`knn_label_agreement` in
  feature space, so that a reading of a map such as "fear is confused with sad" becomes a
  measured share of fear images' nearest neighbours that are labeled sad (stage
  ``embedding_stats``).
* The map on a page (which points to draw, colours, hover text, selections mapped back to dataset
  rows) is view code: :mod:`fer_core.figures.embeddings`.
"""
from __future__ import annotations

import os
import sys
import time
import warnings
from typing import Callable, Mapping

import numpy as np

from fer_core import cli, stages
from fer_core import validate
from fer_core.analysis import neighbors
from fer_core.analysis.predictions import PREDICTIONS, has_model
from fer_core.config import FeatureStatsConfig, ProjectionConfig
from fer_core.constants import FER2013_EMOTIONS, FERPLUS_EMOTIONS, LABEL_SETS
from fer_core.data.dataset import Dataset
from fer_core.models.checkpoint import ModelRef, model_ref
from fer_core.stages import Stage, register
from fer_core.store import Store

Progress = Callable[[float, str], None]


# ---- features ----------------------------------------------------------------------------------
def get_features(ds: Dataset, model: str | ModelRef | None = None, *, store: Store | None = None,
                 progress: Progress | None = None) -> dict[str, np.ndarray]:
    """Penultimate features of `model` (shipped name, checkpoint path or ModelRef; default model if None).

    One batched pass over every image of `ds` with a progress bar (tqdm, and `progress(fraction,
    text)` when given), cached by data hash and checkpoint hash (the ``predictions`` artifact).

    Returns:
        dict with features (N, D) float32, probs (N, K) float32 (rows sum to 1; flip TTA) and
        classes (K,) str.
    """
    return stages.get(PREDICTIONS, ds, model=model, store=store, progress=progress)


def features_key(ds: Dataset, model: str | ModelRef | None = None) -> str:
    """Cache key of :func:`get_features` (changes with the data and with the checkpoint's bytes)."""
    return stages.key(PREDICTIONS, ds, model=model)


# ---- projections ----------------------------------------------------------------------------
def _has_opentsne() -> bool:
    try:
        import openTSNE  # noqa: F401
        return True
    except ImportError:
        return False


def resolve_config(config: ProjectionConfig) -> ProjectionConfig:
    """`config` with `tsne_impl='auto'` replaced by the implementation that will run, and the
    parameters the method ignores set to their defaults, so equal maps share one cache key."""
    from dataclasses import replace
    d = ProjectionConfig()  # method, dims and tsne_impl: checked by ProjectionConfig itself
    impl = config.tsne_impl
    if config.method == "tsne" and impl == "auto":
        impl = "opentsne" if config.dims == 2 and _has_opentsne() else "sklearn"
    if config.method != "tsne":
        config = replace(config, perplexity=d.perplexity, tsne_impl=d.tsne_impl)
    else:
        config = replace(config, tsne_impl=impl)
    if config.method != "umap":
        config = replace(config, n_neighbors=d.n_neighbors, min_dist=d.min_dist)
    if config.method == "pca":
        config = replace(config, pca_dims=d.pca_dims, fit_sample=d.fit_sample)
    return config


def check_embeddings(embeddings: np.ndarray, *, min_rows: int = 2) -> np.ndarray:
    """(N, D) finite float array as float32, or ValueError (:func:`fer_core.validate.embeddings`)."""
    return validate.embeddings(embeddings, min_rows=min_rows)


def fit_rows(n: int, config: ProjectionConfig | None = None, *,
             strata: np.ndarray | None = None) -> np.ndarray | None:
    """The rows a t-SNE/UMAP map of `n` points is fitted on, or None for all of them.

    Above `config.fit_sample` points (t-SNE, UMAP; 0 = never) a seeded sample of exactly that
    many, stratified by `strata` ((n,) int, e.g. the predicted class: every stratum keeps its
    share, rounded by largest remainder); the rest are placed by the fitted map's transform.

    Returns:
        (fit_sample,) int64 sorted row indices, or None.
    """
    cfg = resolve_config(config or ProjectionConfig())
    m = int(cfg.fit_sample)
    if cfg.method == "pca" or m <= 0 or n <= m:
        return None
    s = np.zeros(n, np.int64) if strata is None else np.asarray(strata)
    if s.shape != (n,):
        raise ValueError(f"strata must be ({n},), got {s.shape}")
    _, inv, counts = np.unique(s, return_inverse=True, return_counts=True)
    quota = counts * (m / n)
    take = np.floor(quota).astype(np.int64)
    take[np.argsort(-(quota - take), kind="stable")[:m - int(take.sum())]] += 1
    rng = np.random.default_rng(cfg.seed)
    rows = [rng.choice(np.flatnonzero(inv == c), t, replace=False) for c, t in enumerate(take) if t]
    return np.sort(np.concatenate(rows)).astype(np.int64)


def project(embeddings: np.ndarray, config: ProjectionConfig = ProjectionConfig(), *,
            strata: np.ndarray | None = None, n_jobs: int | None = None,
            progress: Progress | None = None) -> np.ndarray:
    """Map (N, D) features to (N, dims) float32 coordinates with PCA, t-SNE or UMAP.

    t-SNE and UMAP run on the first `config.pca_dims` principal components (the usual
    de-noising step; 0 keeps the raw features). Above `config.fit_sample` points they are fitted
    on a sample (:func:`fit_rows`, stratified by `strata` when given) and the other points are
    placed by the fitted map's transform (openTSNE, umap-learn; scikit-learn's t-SNE has none:
    the mean position of the 10 nearest fitted points). Same inputs and seed give the same map.

    Raises:
        ValueError: bad shape or values, or too few points for the perplexity / n_neighbors.
    """
    cfg = resolve_config(config)
    x = check_embeddings(embeddings, min_rows=cfg.dims + 2)
    rows = fit_rows(len(x), cfg, strata=strata)
    n = len(x) if rows is None else len(rows)
    if cfg.method == "tsne" and n <= 3 * cfg.perplexity:
        raise ValueError(f"t-SNE with perplexity {cfg.perplexity:g} needs more than {3 * cfg.perplexity:g} "
                         f"points, got {n}: lower the perplexity")
    if cfg.method == "umap" and not 2 <= cfg.n_neighbors < n:
        raise ValueError(f"UMAP n_neighbors must be in [2, {n - 1}] for {n} points, got {cfg.n_neighbors}")
    return _compute_projection(x, cfg, rows, n_jobs=n_jobs or os.cpu_count() or 1,
                               progress=progress or (lambda *_: None))


def _pca(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA
    return PCA(n_components=k, random_state=seed).fit_transform(x).astype(np.float32)


def _compute_projection(x: np.ndarray, cfg: ProjectionConfig, rows: np.ndarray | None = None, *, n_jobs: int,
                        progress: Progress) -> np.ndarray:
    if cfg.method == "pca":
        progress(0.0, "PCA")
        out = _pca(x, cfg.dims, cfg.seed)
        progress(1.0, "PCA done")
        return out
    if 0 < cfg.pca_dims < min(x.shape):
        progress(0.0, f"PCA to {cfg.pca_dims} components")
        x = _pca(x, cfg.pca_dims, cfg.seed)
    name = {"tsne": f"t-SNE ({cfg.tsne_impl})", "umap": "UMAP"}[cfg.method]
    fit = x if rows is None else x[rows]
    progress(0.1, f"{name} on {len(fit):,} points ({x.shape[1]} dims)" +
             ("..." if rows is None else f", the other {len(x) - len(fit):,} placed by transform..."))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "n_jobs overridden by setting random_state" and numba notes
        out, place = _fit(fit, cfg, n_jobs)
        if rows is not None:
            rest = np.ones(len(x), bool)
            rest[rows] = False
            full = np.empty((len(x), cfg.dims), np.float32)
            full[rows] = out
            progress(0.6, f"{name}: placing {int(rest.sum()):,} points by transform...")
            full[rest] = place(x[rest])
            out = full
    progress(1.0, f"{name} done")
    return np.ascontiguousarray(out, dtype=np.float32)


def _fit(x: np.ndarray, cfg: ProjectionConfig, n_jobs: int):
    """(coordinates (n, dims) of the fitted points, place(new (m, D)) -> (m, dims))."""
    if cfg.method == "umap":
        import umap
        reducer = umap.UMAP(n_components=cfg.dims, n_neighbors=cfg.n_neighbors, min_dist=cfg.min_dist,
                            random_state=cfg.seed, verbose=False)
        return reducer.fit_transform(x), reducer.transform
    if cfg.tsne_impl == "opentsne":
        from openTSNE import TSNE as OpenTSNE
        emb = OpenTSNE(n_components=cfg.dims, perplexity=cfg.perplexity, random_state=cfg.seed, n_jobs=n_jobs,
                       negative_gradient_method="auto" if cfg.dims <= 2 else "bh", verbose=False).fit(x)
        return np.asarray(emb), lambda new: np.asarray(emb.transform(new))
    from sklearn.manifold import TSNE
    from sklearn.neighbors import KNeighborsRegressor
    out = TSNE(n_components=cfg.dims, perplexity=cfg.perplexity, init="pca", learning_rate="auto",
               random_state=cfg.seed, n_jobs=n_jobs).fit_transform(x)
    # scikit-learn's t-SNE has no transform: a new point goes to the mean of its 10 nearest fitted points
    return out, KNeighborsRegressor(n_neighbors=min(10, len(x))).fit(x, out).predict


def projection_stage(config: ProjectionConfig) -> str:
    """Store stage of a map: projection_pca, projection_tsne or projection_umap."""
    return f"projection_{resolve_config(config).method}"


def _compute_projection_stage(ds: Dataset, config: ProjectionConfig, model: ModelRef, progress, store) -> dict:
    pred = stages.get(PREDICTIONS, ds, model=model, store=store, progress=progress)
    feats, strata = pred["features"], pred["probs"].argmax(1)  # predicted class: the key stays free of labels
    t0 = time.perf_counter()
    coords = project(feats, config, strata=strata, progress=progress)
    rows = fit_rows(len(feats), config, strata=strata)
    return {"coords": coords, "seconds": np.float64(time.perf_counter() - t0),
            "n_fit": np.int64(len(feats) if rows is None else len(rows)),
            "fit_rows": np.arange(0, dtype=np.int64) if rows is None else rows}


def fit_note(proj: Mapping[str, np.ndarray], n: int) -> str | None:
    """One sentence on how a map artifact was fitted when it was fitted on a sample ("fitted on
    50,000 of 350,000 faces, the rest placed by transform"), else None."""
    n_fit = int(proj.get("n_fit", n))
    if n_fit >= n:
        return None
    return (f"This map was fitted on {n_fit:,} of {n:,} faces (a sample stratified by predicted class), "
            "the rest placed by the fitted map's transform.")


def _projection_key_config(config: ProjectionConfig) -> dict:
    return resolve_config(config).to_dict()


#: One stage per method (stage name = store folder); prepare builds the dashboard's default UMAP and
#: t-SNE maps, PCA maps are computed on demand.
PROJECTIONS = {m: register(Stage(
    f"projection_{m}", f"{label} {'2-D map' if m != 'pca' else 'map'} of the model's features (Embeddings page)",
    ProjectionConfig, _compute_projection_stage, reads=("images",), uses_model=True, enabled=has_model,
    key_config=_projection_key_config, default=ProjectionConfig(method=m, dims=2), prepare=m != "pca"))
    for m, label in (("pca", "PCA"), ("umap", "UMAP"), ("tsne", "t-SNE"))}


def projection_key(ds: Dataset, config: ProjectionConfig = ProjectionConfig(), model: str | ModelRef | None = None) -> str:
    """Cache key of :func:`get_projection`: config, data hash and checkpoint hash."""
    return stages.key(PROJECTIONS[resolve_config(config).method], ds, config, model=model)


def get_projection(ds: Dataset, config: ProjectionConfig = ProjectionConfig(), *, model: str | ModelRef | None = None,
                   store: Store | None = None, progress: Progress | None = None) -> dict[str, np.ndarray]:
    """Cached :func:`project` of `model`'s features on `ds`.

    Returns:
        dict with coords (N, dims) float32, seconds (scalar, time of the projection alone), n_fit
        (the points the map was fitted on: N, or config.fit_sample when N is larger) and
        fit_rows ((n_fit,) int64 rows of that sample, sorted; empty when fitted on all).
    """
    return stages.get(PROJECTIONS[resolve_config(config).method], ds, config, model=model, store=store, progress=progress)


# ---- numbers: neighbours, silhouette, kNN label agreement ----------------------------------
def knn_graph(embeddings: np.ndarray, *, k: int = 10, n_jobs: int | None = None,
              exact_max: int = neighbors.EXACT_MAX, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """k nearest neighbours of every row (Euclidean), excluding the row itself: exact up to
    `exact_max` rows, approximate above (NN-descent; :func:`fer_core.analysis.neighbors.knn_graph`).

    Returns:
        (neighbors (N, k) int32 row indices, nearest first; distances (N, k) float32).
    """
    x = check_embeddings(embeddings, min_rows=2)
    k = min(int(k), len(x) - 1)
    if k < 1:
        raise ValueError("k must be >= 1")
    # exact: NearestNeighbors(brute).kneighbors() without X, which leaves each row itself out (by
    # index: exact duplicates stay neighbours); same rows and distances as the former drop-self-by-hand
    # code (tests/test_embed.py), as fast or faster: 71.7 s vs 75.2 s on 36k x 384, 12.8 s vs 14.2 s
    # on 36k x 64 (bench/bench_sklearn_swaps.py)
    idx, dist = neighbors.knn_graph(x, k=k, exact_max=exact_max, seed=seed, n_jobs=n_jobs)
    return idx.astype(np.int32), dist


def nearest_neighbors(embeddings: np.ndarray, i: int, *, k: int = 8) -> np.ndarray:
    """(k,) int64 rows nearest to row `i` in feature space (Euclidean), nearest first, without `i`."""
    x = check_embeddings(embeddings, min_rows=2)
    if not 0 <= i < len(x):
        raise ValueError(f"row {i} out of range [0, {len(x)})")
    d = ((x - x[i]) ** 2).sum(1)
    d[i] = np.inf
    k = min(k, len(x) - 1)
    top = np.argpartition(d, k - 1)[:k] if k < len(x) - 1 else np.flatnonzero(np.isfinite(d))
    return top[np.argsort(d[top], kind="stable")].astype(np.int64)


def knn_label_agreement(neighbors: np.ndarray, labels: np.ndarray, *, n_classes: int) -> dict[str, np.ndarray]:
    """How often an image's nearest neighbours carry its label.

    Args:
        neighbors: (N, k) int neighbour rows (from :func:`knn_graph`).
        labels: (N,) int class 0..n_classes-1, -1 = unlabeled (ignored as image and as neighbour).

    Returns:
        dict with
        * per_image (N,) float32: share of labeled neighbours with the same label (NaN for an
          unlabeled image or one without labeled neighbours),
        * per_class (K,) float64: mean of per_image over the class (NaN for an empty class),
        * overall: mean of per_image over labeled images,
        * confusion (K, K) float64: row c = how the neighbours of class-c images are labeled
          (rows sum to 1); confusion[fear, sad] is the share of fear images' neighbours that are sad.
        * support (K,) int64: labeled images per class.
    """
    nb = np.asarray(neighbors)
    y = np.asarray(labels).astype(np.int64)
    if nb.ndim != 2 or len(nb) != len(y):
        raise ValueError(f"neighbors must be (N, k) with N = len(labels) = {len(y)}, got {nb.shape}")
    if len(y) and (y.max() >= n_classes or y.min() < -1):
        raise ValueError(f"labels must be in [-1, {n_classes - 1}]")
    ny = y[nb]                                  # (N, k) neighbour labels
    valid = ny >= 0
    same = (ny == y[:, None]) & valid
    nvalid = valid.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_image = np.where((nvalid > 0) & (y >= 0), same.sum(1) / np.maximum(nvalid, 1), np.nan).astype(np.float32)
    labeled = (y >= 0) & (nvalid > 0)
    conf = np.zeros((n_classes, n_classes))
    rows = np.repeat(y, nb.shape[1])
    cols = ny.ravel()
    ok = (rows >= 0) & (cols >= 0)
    np.add.at(conf, (rows[ok], cols[ok]), 1)
    support = np.bincount(y[y >= 0], minlength=n_classes).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = conf / conf.sum(1, keepdims=True)
        per_class = np.array([per_image[labeled & (y == c)].mean() if (labeled & (y == c)).any() else np.nan
                              for c in range(n_classes)])
    overall = float(per_image[labeled].mean()) if labeled.any() else float("nan")
    return {"per_image": per_image, "per_class": per_class, "overall": np.float64(overall),
            "confusion": conf, "support": support}


def silhouette_per_class(embeddings: np.ndarray, labels: np.ndarray, *, n_classes: int,
                         max_samples: int = 10000, seed: int = 0) -> dict[str, np.ndarray]:
    """Silhouette score per class in feature space (Euclidean), on a seeded stratified subsample.

    Each image's silhouette is (b - a) / max(a, b), a = mean distance to its own class, b = mean
    distance to the nearest other class: near 1 = a tight, separate class; near 0 or below = the
    class overlaps others. Unlabeled rows (-1) are left out.

    Returns:
        dict with per_class (K,) float64 (NaN for a class with < 2 images), overall (mean over
        the images used) and n_used.
    """
    from sklearn.metrics import silhouette_samples
    x = check_embeddings(embeddings, min_rows=2)
    y = np.asarray(labels).astype(np.int64)
    if len(y) != len(x):
        raise ValueError(f"labels has {len(y)} rows, embeddings {len(x)}")
    rows = np.flatnonzero(y >= 0)
    if len(rows) > max_samples:  # stratified: the same share of every class
        rng = np.random.default_rng(seed)
        frac = max_samples / len(rows)
        parts = []
        for c in range(n_classes):
            rc = rows[y[rows] == c]
            take = min(len(rc), max(2, int(round(len(rc) * frac))))
            parts.append(rng.choice(rc, take, replace=False))
        rows = np.sort(np.concatenate(parts))
    per_class = np.full(n_classes, np.nan)
    if len(np.unique(y[rows])) < 2:
        return {"per_class": per_class, "overall": np.float64(np.nan), "n_used": np.int64(len(rows))}
    s = silhouette_samples(x[rows], y[rows])
    for c in range(n_classes):
        m = y[rows] == c
        if m.sum() >= 2:
            per_class[c] = s[m].mean()
    return {"per_class": per_class, "overall": np.float64(s.mean()), "n_used": np.int64(len(rows))}


STATS_DEFAULTS = FeatureStatsConfig().to_dict()


def _compute_feature_stats(ds: Dataset, config: FeatureStatsConfig, model: ModelRef, progress, store) -> dict:
    feats = stages.get(PREDICTIONS, ds, model=model, store=store, progress=progress)["features"]
    exact = len(feats) <= config.exact_max
    if progress:
        progress(0.0, f"{config.k} nearest neighbours of {len(ds):,} images" + ("" if exact else " (approximate)"))
    nb, dist = knn_graph(feats, k=config.k, exact_max=config.exact_max, seed=config.seed)
    out = {"neighbors": nb, "distances": dist, "knn_exact": np.bool_(exact)}
    sets = [("fer2013", ds.labels, len(FER2013_EMOTIONS))]
    if ds.ferplus is not None:
        sets.append(("ferplus", ds.ferplus.majority, len(FERPLUS_EMOTIONS)))
    for name, y, k in sets:
        if progress:
            progress(0.5, f"silhouette ({name} labels)")
        s = silhouette_per_class(feats, y, n_classes=k, max_samples=config.silhouette_max_samples, seed=config.seed)
        out[f"silhouette_{name}"] = s["per_class"]
        out[f"silhouette_{name}_overall"] = s["overall"]
        out[f"silhouette_{name}_n"] = s["n_used"]
        out[f"silhouette_{name}_labeled"] = np.int64((np.asarray(y) >= 0).sum())
    return out


#: Reads the FER+ votes: the FER+ silhouettes are part of the artifact.
FEATURE_STATS = register(Stage("embedding_stats", "nearest neighbours, silhouette and kNN label agreement in "
                               "feature space", FeatureStatsConfig, _compute_feature_stats,
                               reads=("images", "labels", "ferplus"), uses_model=True, enabled=has_model))


def stats_key(ds: Dataset, model: str | ModelRef | None = None) -> str:
    """Cache key of :func:`get_feature_stats`."""
    return stages.key(FEATURE_STATS, ds, model=model)


def get_feature_stats(ds: Dataset, model: str | ModelRef | None = None, *, store: Store | None = None,
                      progress: Progress | None = None) -> dict[str, np.ndarray]:
    """Cached neighbour graph and silhouettes of `model`'s features on `ds`.

    Returns:
        dict with neighbors (N, k) int32 and distances (N, k) float32 (:func:`knn_graph`, k = 10),
        knn_exact (bool: False when the graph is approximate, N > config.exact_max),
        silhouette_fer2013 (7,), silhouette_fer2013_overall, silhouette_fer2013_n (images in the
        stratified sample) and silhouette_fer2013_labeled (labeled images), and with FER+ votes the
        same four for ferplus (:func:`silhouette_per_class`).
    """
    return stages.get(FEATURE_STATS, ds, model=model, store=store, progress=progress)


def class_separation_table(stats: Mapping[str, np.ndarray], labels: np.ndarray, *, label_set: str = "fer2013"):
    """Per-class silhouette, kNN agreement, support and the class its neighbours most often carry
    instead, as a DataFrame indexed by class name (label_set 'fer2013' or 'ferplus').

    "share of neighbours" is confusion[c, j] of :func:`knn_label_agreement` for that class j;
    "that class overall" is j's share of all labeled images (what chance alone would give).
    Returns (table, the knn_label_agreement dict)."""
    import pandas as pd
    classes = LABEL_SETS[label_set].classes
    agr = knn_label_agreement(stats["neighbors"], labels, n_classes=len(classes))
    conf = agr["confusion"].copy()
    np.fill_diagonal(conf, -1)
    top = np.nan_to_num(conf, nan=-1).argmax(1)
    sil = stats.get(f"silhouette_{label_set}", np.full(len(classes), np.nan))
    base = agr["support"] / max(agr["support"].sum(), 1)
    df = pd.DataFrame({
        "images": agr["support"], "silhouette": sil, "kNN agreement": agr["per_class"],
        "most confused with": [classes[j] if conf[c, j] >= 0 else "—" for c, j in enumerate(top)],
        "share of neighbours": [conf[c, j] if conf[c, j] >= 0 else np.nan for c, j in enumerate(top)],
        "that class overall": [base[j] if conf[c, j] >= 0 else np.nan for c, j in enumerate(top)],
    }, index=list(classes))
    return df, agr


def strongest_confusion(table, *, min_images: int = 30) -> tuple[str, str, float] | None:
    """(class, most-confused-with class, share of neighbours) of the table's largest confusion
    among classes with at least `min_images` images; None if there is none."""
    t = table[table["images"] >= min_images].dropna(subset=["share of neighbours"])
    if not len(t):
        return None
    c = t["share of neighbours"].idxmax()
    return str(c), str(t.loc[c, "most confused with"]), float(t.loc[c, "share of neighbours"])


def command(config: ProjectionConfig, *, model: str | None = None, data: str | None = None,
            ferplus: str | None = None) -> str:
    """The `python -m fer_core.embed` command that builds this map (flags only where not default)."""
    cfg, d = resolve_config(config).to_dict(), ProjectionConfig().to_dict()
    return cli.command_line("embed", data=data, ferplus=ferplus, model=model,
                            **{k: v for k, v in cfg.items() if k == "method" or v != d[k]})


# ---- command line -----------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    from fer_core import cli
    p = cli.command_parser("embed", __doc__, config=ProjectionConfig, data=True, ferplus=True, model=True,
                           raw_description=True)
    p.add_argument("--no-stats", action="store_true", help="skip the neighbour graph and silhouettes")
    a = p.parse_args(argv)
    return cli.run(lambda: _embed_and_print(a, ProjectionConfig.from_args(a)))


def _embed_and_print(a, cfg: ProjectionConfig) -> int:
    from fer_core.data.dataset import load_dataset
    ds = load_dataset(a.data or None, a.ferplus or None)
    model = model_ref(a.model or None)  # resolved (and hashed) once for the three artifacts
    t0 = time.perf_counter()
    feats = get_features(ds, model)["features"]
    print(f"[features] {feats.shape[0]:,} x {feats.shape[1]} in {time.perf_counter() - t0:.1f} s "
          f"(model {model.name}; cached by data and checkpoint hash)")
    t0 = time.perf_counter()
    proj = get_projection(ds, cfg, model=model)
    rc = resolve_config(cfg)
    print(f"[projection] {rc.method} {rc.dims}-D: computed in {float(proj['seconds']):.1f} s "
          f"(this call {time.perf_counter() - t0:.1f} s); config {rc.to_dict()}")
    if not a.no_stats:
        t0 = time.perf_counter()
        stats = get_feature_stats(ds, model)
        print(f"[stats] neighbour graph and silhouettes in {time.perf_counter() - t0:.1f} s")
        import pandas as pd
        with pd.option_context("display.width", 140, "display.precision", 3):
            sets = [("fer2013", ds.labels)] + ([("ferplus", ds.ferplus.majority)] if ds.ferplus is not None else [])
            for name, y in sets:
                df, agr = class_separation_table(stats, y, label_set=name)
                print(f"\n{name} labels: silhouette {float(stats[f'silhouette_{name}_overall']):.3f}, "
                      f"kNN agreement (k={stats['neighbors'].shape[1]}) {float(agr['overall']):.3f}")
                print(df.to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
