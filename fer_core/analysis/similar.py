"""Find similar faces: the nearest images to a face in a model's feature space.

"Which training faces does the model think this one looks like?" The query is a dataset image
(its row of the cached features) or any face the model has seen (an uploaded photo's crop,
through :func:`fer_core.analysis.predictions.features_and_probs`). Cosine similarity against every
image, exactly: one query costs one (N, D) matrix-vector product (2 ms for the 35,887 FER2013
images at D = 256), so no index is needed for a click.
"""
from __future__ import annotations

import numpy as np

from fer_core import validate

__all__ = ["nearest"]


def nearest(features: np.ndarray, query: np.ndarray, *, k: int = 12, exclude: int | None = None,
            among: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The `k` images whose features are most similar (cosine) to `query`.

    Args:
        features: (N, D) float features of the dataset's images.
        query: (D,) features of the face to match.
        k: how many to return (fewer when fewer candidates exist).
        exclude: an index never returned (the query's own image).
        among: (M,) indices to search in (e.g. the Training rows only); default every image.

    Returns:
        (indices (k,) int64 into `features`, most similar first; similarities (k,) float32 in [-1, 1]).

    Raises:
        ValueError: features not 2-D, or query of another dimension, or k < 1.
    """
    f = validate.embeddings(features, name="features")
    q = np.asarray(query, dtype=np.float32).ravel()
    if q.shape[0] != f.shape[1]:
        raise ValueError(f"query has {q.shape[0]} features, the images have {f.shape[1]}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    cand = np.arange(len(f)) if among is None else np.asarray(among, dtype=np.int64)
    if exclude is not None:
        cand = cand[cand != exclude]
    sub = f[cand].astype(np.float32, copy=False)
    norms = np.linalg.norm(sub, axis=1) * max(float(np.linalg.norm(q)), 1e-12)
    sims = (sub @ q) / np.maximum(norms, 1e-12)
    k = min(k, len(cand))
    top = np.argpartition(-sims, k - 1)[:k] if k < len(cand) else np.arange(len(cand))
    top = top[np.argsort(-sims[top], kind="stable")]
    return cand[top].astype(np.int64), sims[top].astype(np.float32)
