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
* Clicks and lassos: :func:`point_colors` and :func:`fer_core.figures.embeddings.embedding_figure` give
  every point its dataset row as ``customdata``; :func:`selection_to_rows` maps a Plotly selection
  back to dataset rows through it, never through trace-local point indices.
* Large maps: over :data:`MAX_DRAWN_POINTS` points the figure draws a class-stratified
  :func:`display_sample` over a density image of all points, and :func:`selection_rows` resolves
  a box or lasso against every point's coordinates (:func:`rows_in_box`, :func:`rows_in_lasso`),
  so a region selects the rows that were not drawn too.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from fer_core import stages
from fer_core import validate
from fer_core.analysis.predictions import PREDICTIONS, has_model
from fer_core.config import FeatureStatsConfig, ProjectionConfig
from fer_core.constants import FER2013_EMOTIONS, FERPLUS_EMOTIONS, LABEL_SETS
from fer_core.data.dataset import Dataset
from fer_core.models.checkpoint import ModelRef, model_ref
from fer_core.stages import Stage, register
from fer_core.store import Store

Progress = Callable[[float, str], None]

#: Colour per emotion name (FER2013 and FER+ spellings), shared with dashboard/ui.CLASS_COLORS.
EMOTION_COLORS: dict[str, str] = {
    "angry": "#d62728", "anger": "#d62728", "disgust": "#8c564b", "fear": "#9467bd",
    "happy": "#2ca02c", "happiness": "#2ca02c", "sad": "#1f77b4", "sadness": "#1f77b4",
    "surprise": "#ff7f0e", "neutral": "#7f7f7f", "contempt": "#bcbd22",
}
#: What the map's points can be coloured by (key -> label shown in the dashboard).
COLOR_BY: dict[str, str] = {
    "label": "FER2013 label", "prediction": "prediction", "correct": "correct / wrong",
    "split": "split", "ferplus": "FER+ agreement", "confidence": "confidence",
}
_SPLIT_COLORS = {"Training": "#1f77b4", "PublicTest": "#ff7f0e", "PrivateTest": "#2ca02c", "": "#7f7f7f"}
_NONE_COLOR = "#c7c7c7"


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
        config = replace(config, pca_dims=d.pca_dims)
    return config


def check_embeddings(embeddings: np.ndarray, *, min_rows: int = 2) -> np.ndarray:
    """(N, D) finite float array as float32, or ValueError (:func:`fer_core.validate.embeddings`)."""
    return validate.embeddings(embeddings, min_rows=min_rows)


def project(embeddings: np.ndarray, config: ProjectionConfig = ProjectionConfig(), *,
            n_jobs: int | None = None, progress: Progress | None = None) -> np.ndarray:
    """Map (N, D) features to (N, dims) float32 coordinates with PCA, t-SNE or UMAP.

    t-SNE and UMAP run on the first `config.pca_dims` principal components (the usual
    de-noising step; 0 keeps the raw features). Same inputs and seed give the same map.

    Raises:
        ValueError: bad shape or values, or too few points for the perplexity / n_neighbors.
    """
    cfg = resolve_config(config)
    x = check_embeddings(embeddings, min_rows=cfg.dims + 2)
    n = len(x)
    if cfg.method == "tsne" and n <= 3 * cfg.perplexity:
        raise ValueError(f"t-SNE with perplexity {cfg.perplexity:g} needs more than {3 * cfg.perplexity:g} "
                         f"points, got {n}: lower the perplexity")
    if cfg.method == "umap" and not 2 <= cfg.n_neighbors < n:
        raise ValueError(f"UMAP n_neighbors must be in [2, {n - 1}] for {n} points, got {cfg.n_neighbors}")
    return _compute_projection(x, cfg, n_jobs=n_jobs or os.cpu_count() or 1, progress=progress or (lambda *_: None))


def _pca(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA
    return PCA(n_components=k, random_state=seed).fit_transform(x).astype(np.float32)


def _compute_projection(x: np.ndarray, cfg: ProjectionConfig, *, n_jobs: int, progress: Progress) -> np.ndarray:
    if cfg.method == "pca":
        progress(0.0, "PCA")
        out = _pca(x, cfg.dims, cfg.seed)
        progress(1.0, "PCA done")
        return out
    if 0 < cfg.pca_dims < min(x.shape):
        progress(0.0, f"PCA to {cfg.pca_dims} components")
        x = _pca(x, cfg.pca_dims, cfg.seed)
    name = {"tsne": f"t-SNE ({cfg.tsne_impl})", "umap": "UMAP"}[cfg.method]
    progress(0.1, f"{name} on {len(x):,} points ({x.shape[1]} dims)...")
    if cfg.method == "umap":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "n_jobs overridden by setting random_state" and numba notes
            import umap
            out = umap.UMAP(n_components=cfg.dims, n_neighbors=cfg.n_neighbors, min_dist=cfg.min_dist,
                            random_state=cfg.seed, verbose=False).fit_transform(x)
    elif cfg.tsne_impl == "opentsne":
        from openTSNE import TSNE as OpenTSNE
        out = np.asarray(OpenTSNE(n_components=cfg.dims, perplexity=cfg.perplexity, random_state=cfg.seed,
                                  n_jobs=n_jobs, negative_gradient_method="auto" if cfg.dims <= 2 else "bh",
                                  verbose=False).fit(x))
    else:
        from sklearn.manifold import TSNE
        out = TSNE(n_components=cfg.dims, perplexity=cfg.perplexity, init="pca", learning_rate="auto",
                   random_state=cfg.seed, n_jobs=n_jobs).fit_transform(x)
    progress(1.0, f"{name} done")
    return np.ascontiguousarray(out, dtype=np.float32)


def projection_stage(config: ProjectionConfig) -> str:
    """Store stage of a map: projection_pca, projection_tsne or projection_umap."""
    return f"projection_{resolve_config(config).method}"


def _compute_projection_stage(ds: Dataset, config: ProjectionConfig, model: ModelRef, progress, store) -> dict:
    feats = stages.get(PREDICTIONS, ds, model=model, store=store, progress=progress)["features"]
    t0 = time.perf_counter()
    coords = project(feats, config, progress=progress)
    return {"coords": coords, "seconds": np.float64(time.perf_counter() - t0)}


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
        dict with coords (N, dims) float32 and seconds (scalar, time of the projection alone).
    """
    return stages.get(PROJECTIONS[resolve_config(config).method], ds, config, model=model, store=store, progress=progress)


# ---- numbers: neighbours, silhouette, kNN label agreement ----------------------------------
def knn_graph(embeddings: np.ndarray, *, k: int = 10, n_jobs: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of every row (Euclidean), excluding the row itself.

    Returns:
        (neighbors (N, k) int32 row indices, nearest first; distances (N, k) float32).
    """
    from sklearn.neighbors import NearestNeighbors
    x = check_embeddings(embeddings, min_rows=2)
    k = min(int(k), len(x) - 1)
    if k < 1:
        raise ValueError("k must be >= 1")
    # kneighbors() without X leaves each row itself out (by index: exact duplicates stay neighbours);
    # same rows and distances as the former drop-self-by-hand code (tests/test_embed.py), as fast or
    # faster: 71.7 s vs 75.2 s on 36k x 384, 12.8 s vs 14.2 s on 36k x 64 (bench/bench_sklearn_swaps.py)
    dist, idx = NearestNeighbors(n_neighbors=k, algorithm="brute", n_jobs=n_jobs).fit(x).kneighbors()
    return idx.astype(np.int32), dist.astype(np.float32)


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
    if progress:
        progress(0.0, f"{config.k} nearest neighbours of {len(ds):,} images")
    nb, dist = knn_graph(feats, k=config.k)
    out = {"neighbors": nb, "distances": dist}
    sets = [("fer2013", ds.labels, len(FER2013_EMOTIONS))]
    if ds.ferplus is not None:
        sets.append(("ferplus", ds.ferplus.majority, len(FERPLUS_EMOTIONS)))
    for name, y, k in sets:
        if progress:
            progress(0.5, f"silhouette ({name} labels)")
        s = silhouette_per_class(feats, y, n_classes=k, max_samples=config.silhouette_max_samples, seed=config.seed)
        out[f"silhouette_{name}"] = s["per_class"]
        out[f"silhouette_{name}_overall"] = s["overall"]
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
        silhouette_fer2013 (7,) and silhouette_fer2013_overall, and with FER+ votes
        silhouette_ferplus (8,) and silhouette_ferplus_overall (:func:`silhouette_per_class`).
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
    import shlex
    cfg, d = resolve_config(config).to_dict(), ProjectionConfig().to_dict()
    parts = ["python -m fer_core.embed"]
    for flag, v in (("--data", data), ("--ferplus", ferplus), ("--model", model)):
        if v:
            parts.append(f"{flag} {shlex.quote(str(v))}")
    parts += [f"--{k.replace('_', '-')} {v}" for k, v in cfg.items() if k == "method" or v != d[k]]
    return " ".join(parts)


# ---- colours and selections ---------------------------------------------------------------
def _label_set_of(classes: Iterable[str]) -> str | None:
    classes = tuple(str(c) for c in classes)
    return next((name for name, ls in LABEL_SETS.items() if ls.classes == classes), None)


def available_colorings(ds: Dataset, classes: Iterable[str] | None = None) -> list[str]:
    """The :data:`COLOR_BY` keys that work for `ds` and a model with these classes."""
    out = ["label"]
    if classes is not None:
        out.append("prediction")
        ls = _label_set_of(classes)
        if ls is not None and (ls != "ferplus" or ds.ferplus is not None):
            out.append("correct")
    out.append("split")
    if ds.ferplus is not None:
        out.append("ferplus")
    if classes is not None:
        out.append("confidence")
    return out


def point_colors(ds: Dataset, by: str, *, probs: np.ndarray | None = None,
                 classes: Iterable[str] | None = None) -> dict[str, Any]:
    """How to colour every point of a map.

    Args:
        by: a key of :data:`COLOR_BY`.
        probs: (N, K) model probabilities (needed for prediction, correct, confidence).
        classes: (K,) the model's class names.

    Returns:
        categorical: {"kind": "categorical", "codes": (N,) int, "names": [...], "colors": [...]}
        (code c -> names[c], colors[c]); continuous: {"kind": "continuous", "values": (N,) float,
        "title": str}.

    Raises:
        ValueError: unknown `by`, or it needs probabilities / FER+ votes that are missing.
    """
    n = len(ds)
    if by not in COLOR_BY:
        raise ValueError(f"color by must be one of {list(COLOR_BY)}, got {by!r}")
    if by in ("prediction", "correct", "confidence"):
        if probs is None or classes is None:
            raise ValueError(f"colouring by {by} needs the model's probabilities and classes")
        probs = np.asarray(probs)
        if probs.shape[0] != n:
            raise ValueError(f"probs has {probs.shape[0]} rows, the dataset {n}")
        classes = [str(c) for c in classes]

    def categorical(codes, names, colors):
        return {"kind": "categorical", "codes": np.asarray(codes, dtype=np.int64), "names": list(names),
                "colors": list(colors)}

    if by == "label":
        names = list(FER2013_EMOTIONS) + ["unlabeled"]
        codes = np.where(ds.labels >= 0, ds.labels, len(FER2013_EMOTIONS))
        return categorical(codes, names, [EMOTION_COLORS[c] for c in FER2013_EMOTIONS] + [_NONE_COLOR])
    if by == "prediction":
        return categorical(probs.argmax(1), classes, [EMOTION_COLORS.get(c, _NONE_COLOR) for c in classes])
    if by == "confidence":
        return {"kind": "continuous", "values": probs.max(1).astype(np.float32), "title": "confidence"}
    if by == "correct":
        label_set = _label_set_of(classes)
        if label_set is None:
            raise ValueError(f"cannot compare predictions over {classes} with the dataset's labels")
        truth = ds.labels_in(label_set)
        codes = np.where(truth < 0, 2, np.where(probs.argmax(1) == truth, 0, 1))
        return categorical(codes, ["correct", "wrong", "no label"], ["#2ca02c", "#d62728", _NONE_COLOR])
    if by == "split":
        names = sorted(set(ds.split.tolist()), key=lambda s: (s == "", s not in _SPLIT_COLORS, s))
        lut = {s: i for i, s in enumerate(names)}
        codes = np.array([lut[s] for s in ds.split], dtype=np.int64)
        return categorical(codes, [s or "(no split)" for s in names], [_SPLIT_COLORS.get(s, _NONE_COLOR) for s in names])
    # ferplus
    if ds.ferplus is None:
        raise ValueError("colouring by FER+ agreement needs FER+ votes (fer2013new.csv)")
    from fer_core.data.images import AGREEMENT, agreement_codes
    fp = ds.ferplus
    codes = agreement_codes(ds.labels, fp.majority, fp.majority_fer2013)
    return categorical(codes, [f"FER+ {a}" for a in AGREEMENT], ["#2ca02c", "#d62728", _NONE_COLOR])


def hover_texts(ds: Dataset, probs: np.ndarray | None = None, classes: Iterable[str] | None = None, *,
                rows: np.ndarray | None = None) -> np.ndarray:
    """(N,) str hover line per point: '#index label → prediction (confidence)'.

    With `rows` ((M,) int dataset rows, e.g. a :func:`display_sample`), only those M lines are
    built (a million strings take about 2 s; the 50,000 drawn ones a tenth of that)."""
    idx = np.arange(len(ds)) if rows is None else np.asarray(rows, dtype=np.int64)
    y = ds.labels[idx]
    lab = np.array(list(FER2013_EMOTIONS) + ["unlabeled"])[np.where(y >= 0, y, len(FER2013_EMOTIONS))]
    out = np.char.add(np.char.add("#", idx.astype(str)), np.char.add(" ", lab))
    if probs is not None and classes is not None:
        p = np.asarray(probs) if rows is None else np.asarray(probs)[idx]
        pred = np.asarray([str(c) for c in classes])[p.argmax(1)]
        conf = np.char.add(np.round(p.max(1) * 100).astype(int).astype(str), "%)")
        out = np.char.add(out, np.char.add(np.char.add(" → ", pred), np.char.add(" (", conf)))
    return out


def selection_to_rows(points: Iterable[Mapping[str, Any]]) -> np.ndarray:
    """Dataset rows of the points of a Plotly selection (``event.selection.points``).

    Each point carries its dataset row as ``customdata`` (a number, or a list whose first item is
    the row). The trace-local ``point_index`` is not used: with one trace per colour it restarts
    at 0 in every trace.

    Returns:
        (M,) int64 unique rows, in first-selected order.

    Raises:
        ValueError: a point has no customdata (the figure was not built with rows in customdata).
    """
    rows: list[int] = []
    for p in points or []:
        cd = p.get("customdata") if isinstance(p, Mapping) else None
        if isinstance(cd, (list, tuple, np.ndarray)):
            cd = cd[0] if len(cd) else None
        if cd is None:
            raise ValueError("selected point has no customdata: build the figure with rows in customdata "
                             "(fer_core.figures.embeddings.embedding_figure)")
        rows.append(int(round(float(cd))))
    if not rows:
        return np.zeros(0, dtype=np.int64)
    arr = np.asarray(rows, dtype=np.int64)
    _, first = np.unique(arr, return_index=True)
    return arr[np.sort(first)]


def selection_table(ds: Dataset, rows: np.ndarray, *, probs: np.ndarray | None = None,
                    classes: Iterable[str] | None = None):
    """The selected rows as a DataFrame for display and CSV export: index (dataset row), row (row
    in the source file), split, label, and with `probs` prediction and confidence."""
    import pandas as pd
    rows = np.asarray(rows, dtype=np.int64)
    names = np.array(list(FER2013_EMOTIONS) + ["unlabeled"])
    df = pd.DataFrame({"index": rows, "row": ds.row[rows], "split": ds.split[rows],
                       "label": names[np.where(ds.labels[rows] >= 0, ds.labels[rows], len(FER2013_EMOTIONS))]})
    if probs is not None and classes is not None:
        p = np.asarray(probs)[rows]
        df["prediction"] = np.asarray([str(c) for c in classes])[p.argmax(1)] if len(rows) else []
        df["confidence"] = p.max(1).round(4) if len(rows) else []
    return df


def selection_kind(selection: Mapping[str, Any] | None) -> str | None:
    """'region' for a box or lasso selection, 'click' for clicked point(s), None when empty."""
    if not selection:
        return None
    if selection.get("box") or selection.get("lasso"):
        return "region"
    return "click" if selection.get("points") else None


# ---- large maps: a drawn sample, and selections resolved against every point ------------------
#: The most points the Embeddings page sends to the browser as a scatter. A larger map draws a
#: :func:`display_sample` of this size over a density image of all its points, and box/lasso
#: selections are resolved on the server against every point (:func:`selection_rows`). FER2013's
#: 35,887 points are all drawn.
MAX_DRAWN_POINTS = 50_000
#: Every class keeps at least min(its count, this) points in a :func:`display_sample`.
MIN_PER_CLASS = 50


def display_sample(labels: np.ndarray, max_points: int, *, seed: int = 0,
                   min_per_class: int = MIN_PER_CLASS) -> np.ndarray:
    """Rows of a map to draw: all of them, or a seeded class-stratified sample of `max_points`.

    Each class (each distinct value of `labels`; -1 = unlabeled is a class of its own) gets its
    proportional share of `max_points`, raised to min(its count, `min_per_class`) so that a rare
    class such as disgust stays visible; the classes above their floor share the rest in
    proportion to their size (largest remainders, so the total is exact). Within a class the
    rows are drawn uniformly at random.

    Args:
        labels: (N,) int class per row.
        max_points: how many rows to return at most (>= 1).
        seed: the same labels and seed give the same rows.
        min_per_class: the per-class floor (when the floors alone exceed `max_points`, the budget
            is shared in proportion to the floors instead, at least 1 per class while it lasts).

    Returns:
        (M,) int64 sorted row indices, M = min(N, max_points): np.arange(N) when N <= max_points.

    Example:
        >>> y = np.r_[np.zeros(1000, int), np.ones(5, int)]
        >>> rows = display_sample(y, 100)
        >>> len(rows), int((y[rows] == 1).sum())
        (100, 5)
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be (N,), got shape {y.shape}")
    if int(max_points) < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points}")
    if min_per_class < 0:
        raise ValueError(f"min_per_class must be >= 0, got {min_per_class}")
    if len(y) <= max_points:
        return np.arange(len(y), dtype=np.int64)
    return _compute_display_sample(y, int(max_points), seed=seed, min_per_class=int(min_per_class))


def _largest_remainder(quota: np.ndarray, total: int, cap: np.ndarray) -> np.ndarray:
    """Integers k <= cap, each floor(quota) or one more, the largest fractional parts rounded up
    until the sum reaches `total` (exactly when quota <= cap and quota.sum() == total)."""
    k = np.minimum(np.floor(quota).astype(np.int64), cap)
    frac = np.where(k < cap, quota - k, -1.0)
    for i in np.argsort(-frac, kind="stable")[:max(total - int(k.sum()), 0)]:
        if frac[i] >= 0:
            k[i] += 1
    return k


def _compute_display_sample(y: np.ndarray, max_points: int, *, seed: int, min_per_class: int) -> np.ndarray:
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    floor = np.minimum(counts, min_per_class)
    if floor.sum() < max_points:  # the usual case: proportional, raised to the floors
        fixed = np.zeros(len(counts), dtype=bool)  # classes held at their floor
        while True:
            budget = max_points - floor[fixed].sum()
            quota = np.where(fixed, floor, counts * (budget / max(counts[~fixed].sum(), 1)))
            low = ~fixed & (quota < floor)
            if not low.any():
                break
            fixed |= low
        take = _largest_remainder(np.minimum(quota, counts), max_points, counts)
        for c in np.argsort(take - counts, kind="stable"):  # what capping at a class's size left over
            take[c] += min(max_points - int(take.sum()), counts[c] - take[c])
    else:  # the floors alone exceed the budget: one row per class, the rest in proportion to the floors
        ones = np.minimum(floor, 1)
        if ones.sum() >= max_points:  # more classes than points: one row from each of the largest
            take = np.zeros_like(counts)
            take[np.argsort(-counts, kind="stable")[:max_points]] = 1
        else:
            rest, extra = max_points - int(ones.sum()), floor - ones
            take = ones + _largest_remainder(extra * (rest / extra.sum()), rest, extra)
    rng = np.random.default_rng(seed)
    order = np.argsort(inverse, kind="stable")  # rows grouped by class, ascending within each
    starts = np.r_[0, np.cumsum(counts)]
    parts = []
    for c in np.flatnonzero(take):
        g = order[starts[c]:starts[c + 1]]
        parts.append(g if take[c] >= len(g) else rng.choice(g, int(take[c]), replace=False))
    return np.sort(np.concatenate(parts)).astype(np.int64)


def _check_coords2d(coords2d: np.ndarray) -> np.ndarray:
    xy = np.asarray(coords2d)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"coords2d must be (N, 2), got shape {xy.shape}")
    return xy


def rows_in_box(coords2d: np.ndarray, x_range, y_range) -> np.ndarray:
    """Rows whose point lies in an axis-aligned box (edges included).

    Args:
        coords2d: (N, 2) map coordinates of every point.
        x_range, y_range: the box's two x and two y bounds, in either order (Plotly's box
            selection sends ``{"x": [x0, x1], "y": [y0, y1]}``).

    Returns:
        (M,) int64 sorted row indices.
    """
    return np.flatnonzero(_box_mask(_check_coords2d(coords2d), x_range, y_range)).astype(np.int64)


def rows_in_lasso(coords2d: np.ndarray, xs, ys) -> np.ndarray:
    """Rows whose point lies inside a lasso polygon (closed automatically; even-odd rule).

    Args:
        coords2d: (N, 2) map coordinates of every point.
        xs, ys: (V,) the polygon's vertices (Plotly's lasso selection sends ``{"x": [...], "y": [...]}``).

    Returns:
        (M,) int64 sorted row indices; empty for a polygon of fewer than 3 vertices.
    """
    return np.flatnonzero(_lasso_mask(_check_coords2d(coords2d), xs, ys)).astype(np.int64)


def _box_mask(xy: np.ndarray, x_range, y_range) -> np.ndarray:
    (x0, x1), (y0, y1) = sorted(map(float, x_range)), sorted(map(float, y_range))
    return (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)


def _lasso_mask(xy: np.ndarray, xs, ys) -> np.ndarray:
    from matplotlib.path import Path
    verts = np.column_stack([np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)])
    mask = np.zeros(len(xy), dtype=bool)
    if len(verts) < 3 or not np.isfinite(verts).all():
        return mask
    lo, hi = verts.min(0), verts.max(0)  # only the points in the polygon's bounding box are tested
    cand = np.flatnonzero(_box_mask(xy, (lo[0], hi[0]), (lo[1], hi[1])))
    if len(cand):
        mask[cand] = Path(verts, closed=False).contains_points(xy[cand].astype(np.float64, copy=False))
    return mask


def selection_rows(selection: Mapping[str, Any] | None, coords2d: np.ndarray | None = None) -> np.ndarray:
    """Dataset rows of a Streamlit Plotly selection (``st.session_state[key].selection``).

    Streamlit's selection holds ``points`` (each with the point's ``customdata``), ``box`` (a
    list of ``{"xref", "yref", "x": [x0, x1], "y": [y0, y1]}``) and ``lasso`` (a list of
    ``{"xref", "yref", "x": [...], "y": [...]}``, the polygon's vertices).

    Args:
        selection: the selection dict.
        coords2d: (N, 2) coordinates of every point of the map, row i = dataset row i. Give them
            when the figure draws only a sample (:func:`display_sample`): a box or lasso then
            selects every row inside the region(s) (union of all boxes and lassos), drawn or
            not. Without them, and for clicks, rows come from the selected points' customdata
            (:func:`selection_to_rows`).

    Returns:
        (M,) int64 rows: sorted for a region resolved on coordinates, in selection order otherwise.
    """
    kind = selection_kind(selection)
    if kind is None:
        return np.zeros(0, dtype=np.int64)
    if kind == "region" and coords2d is not None:
        xy = _check_coords2d(coords2d)
        inside = np.zeros(len(xy), dtype=bool)
        for b in selection.get("box") or []:
            if len(b.get("x", [])) == 2 and len(b.get("y", [])) == 2:
                inside |= _box_mask(xy, b["x"], b["y"])
        for la in selection.get("lasso") or []:
            inside |= _lasso_mask(xy, la.get("x", []), la.get("y", []))
        return np.flatnonzero(inside).astype(np.int64)
    return selection_to_rows(selection.get("points", []))


# ---- command line -----------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    from fer_core.data.dataset import DataError, load_dataset
    p = argparse.ArgumentParser(prog="python -m fer_core.embed", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="fer2013.csv[.gz] or image folder (default: the bundled sample)")
    p.add_argument("--ferplus", help="fer2013new.csv row-aligned with --data")
    p.add_argument("--model", default="", help="checkpoint path or shipped name (default: the default model)")
    p.add_argument("--no-stats", action="store_true", help="skip the neighbour graph and silhouettes")
    ProjectionConfig.add_arguments(p)
    a = p.parse_args(argv)
    cfg = ProjectionConfig.from_args(a)
    try:
        ds = load_dataset(a.data, a.ferplus)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
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
