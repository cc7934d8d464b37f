"""k nearest neighbours of every row: exact up to a size, approximate (NN-descent) above it.

Every stage that needs each image's nearest neighbours in feature space (the ``embedding_stats``
graph, the label-error neighbours' labels and isolation) calls :func:`knn_graph`. Exact search
compares every row with every other: N^2 D work (about 12 s for FER2013's 35,887 x 384 features,
about 16 min for 350,000). Above `exact_max` rows the graph is built by NN-descent (pynndescent,
installed with umap-learn; Dong et al. 2011), whose cost grows about as N^1.1: a random-projection
forest gives first guesses, then neighbours of neighbours are tried until the lists settle.

Below `exact_max` the result is scikit-learn's exact brute-force search, so the bundled sample and
FER2013 itself (35,887 rows <= the default 50,000) keep their exact graphs. The approximate
graph's recall (share of the exact k neighbours it finds) is measured in bench/RESULTS.md
("Near-linear prepare stages"): 0.996 (k = 10) and 0.998 (k = 30) on FER2013's 35,887 features;
tests/test_neighbors.py checks >= 0.95 on a planted clustered set.
"""
from __future__ import annotations

import numpy as np

__all__ = ["EXACT_MAX", "knn_graph", "recall"]

#: Largest number of rows searched exactly by default (above it: NN-descent). 50,000 keeps
#: FER2013 (35,887) exact; the exact search costs ~N^2 and NN-descent ~N^1.1 (bench/RESULTS.md).
EXACT_MAX = 50_000


def knn_graph(x: np.ndarray, *, k: int, exact_max: int = EXACT_MAX, seed: int = 0,
              n_jobs: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean k nearest neighbours of every row of `x`, each row itself left out.

    Args:
        x: (N, D) float32 finite features (callers validate; for cosine neighbours pass
            L2-normalised rows: the Euclidean order is then the cosine order).
        k: neighbours per row, 1 <= k <= N - 1.
        exact_max: exact brute-force search up to this many rows, NN-descent above.
        seed: random seed of NN-descent (same inputs and seed: the same graph).
        n_jobs: threads of the exact search (None: scikit-learn's default).

    Returns:
        (neighbors (N, k) int64 row indices, nearest first; distances (N, k) float32). Exact
        copies of a row stay its neighbours (only the row itself is left out, by index).
    """
    n = len(x)
    if not 1 <= k <= n - 1:
        raise ValueError(f"k must be in [1, {n - 1}] for {n} rows, got {k}")
    if n <= exact_max:
        from sklearn.neighbors import NearestNeighbors
        # kneighbors() without X leaves each row itself out (by index)
        dist, idx = NearestNeighbors(n_neighbors=k, algorithm="brute", n_jobs=n_jobs).fit(x).kneighbors()
        return idx.astype(np.int64), dist.astype(np.float32)
    return _nn_descent(np.ascontiguousarray(x, dtype=np.float32), k, seed)


#: NN-descent builds lists of at least this many entries and keeps the k nearest: on FER2013's
#: features the 10-neighbour graph's recall is 0.978 built with 11 entries, 0.996 with 21, 0.997
#: with 31 (bench/RESULTS.md "Near-linear prepare stages").
_MIN_BUILD = 21


def _nn_descent(x: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """NN-descent graph (the row itself is its own nearest), self removed, the k nearest kept."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba notes on first compile
        from pynndescent import NNDescent
        index = NNDescent(x, n_neighbors=min(max(k + 1, _MIN_BUILD), len(x)), metric="euclidean",
                          random_state=seed, low_memory=True, compressed=True, verbose=False)
        idx, dist = index.neighbor_graph
    n = len(x)
    own = idx == np.arange(n)[:, None]
    # a row whose list lacks itself (exact copies can fill it): drop its farthest entry instead
    own[~own.any(1), -1] = True
    own &= np.cumsum(own, axis=1) == 1  # one entry per row only
    keep = ~own
    idx = idx[keep].reshape(n, -1)[:, :k]
    dist = dist[keep].reshape(n, -1)[:, :k]
    missing = idx < 0  # NN-descent found fewer than k (tiny or degenerate inputs)
    if missing.any():
        raise ValueError("approximate neighbour search found fewer than k neighbours for some rows; "
                         "use exact search (a larger exact_max)")
    return idx.astype(np.int64), dist.astype(np.float32)


def recall(approx: np.ndarray, exact: np.ndarray) -> float:
    """Share of the exact neighbour lists' entries that the approximate lists hold, in [0, 1].

    Args:
        approx, exact: (N, k) int neighbour indices of the same rows.
    """
    a, e = np.asarray(approx), np.asarray(exact)
    if a.shape != e.shape or a.ndim != 2:
        raise ValueError(f"neighbour lists must have one shape (N, k), got {a.shape} and {e.shape}")
    n, k = e.shape
    if n == 0:
        return float("nan")
    off = (np.arange(n, dtype=np.int64) * (int(max(a.max(), e.max())) + 1))[:, None]
    return float(np.isin(e + off, a + off).sum() / (n * k))
