"""Approximate nearest neighbours above a size limit (fer_core.analysis.neighbors) and the stages
that use them: the embedding_stats graph, the label-error neighbours and isolation, the
near-duplicate candidates. The limit is lowered through the keyword so the sets stay small."""
import numpy as np
import pytest

from fer_core.analysis import embed, label_errors, neighbors
from fer_core.analysis.duplicates import near_duplicate_pairs


def _clusters(n=3000, d=16, n_clusters=30, seed=0):
    """Gaussian clusters of unequal spread: neighbours inside a cluster, labels = cluster % 7."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 4, (n_clusters, d))
    c = rng.integers(0, n_clusters, n)
    x = centers[c] + rng.normal(0, 1, (n, d)) * rng.uniform(0.5, 1.5, n_clusters)[c, None]
    return x.astype(np.float32), c % 7


@pytest.fixture(scope="module")
def clustered():
    return _clusters()


def test_approximate_graph_recall_against_exact(clustered):
    x, _ = clustered
    exact, _ = neighbors.knn_graph(x, k=10)                     # 3,000 <= exact_max: exact
    approx, ad = neighbors.knn_graph(x, k=10, exact_max=1000)   # above the limit: NN-descent
    assert approx.shape == exact.shape == (3000, 10) and approx.dtype == np.int64
    assert not (approx == np.arange(3000)[:, None]).any()       # a row is never its own neighbour
    assert (np.diff(ad, axis=1) >= 0).all()                     # nearest first
    assert neighbors.recall(approx, exact) >= 0.95
    assert neighbors.recall(exact, exact) == 1.0
    again, _ = neighbors.knn_graph(x, k=10, exact_max=1000)
    np.testing.assert_array_equal(again, approx)                # seeded: the same graph
    with pytest.raises(ValueError, match="k must be"):
        neighbors.knn_graph(x[:5], k=5)


def test_embedding_stats_graph_and_label_error_neighbours_above_the_limit(clustered):
    x, y = clustered
    nb, _ = embed.knn_graph(x, k=10, exact_max=1000)
    assert nb.dtype == np.int32 and nb.shape == (3000, 10)
    exact_nb, _ = embed.knn_graph(x, k=10)
    assert neighbors.recall(nb, exact_nb) >= 0.95
    agr_a = embed.knn_label_agreement(nb, y, n_classes=7)["overall"]
    agr_e = embed.knn_label_agreement(exact_nb, y, n_classes=7)["overall"]
    assert abs(agr_a - agr_e) < 0.01
    p_exact = label_errors.neighbor_label_distribution(x, y, k=30)
    p_approx = label_errors.neighbor_label_distribution(x, y, k=30, exact_max=1000)
    assert np.allclose(p_approx.sum(1), 1) and np.abs(p_approx - p_exact).mean() < 0.01
    iso_e = label_errors.isolation(x)
    iso_a = label_errors.isolation(x, exact_max=1000)
    assert np.corrcoef(iso_e, iso_a)[0, 1] > 0.99


def test_near_duplicate_candidates_from_the_approximate_graph_find_planted_copies(monkeypatch):
    """500 distinct random-texture 'faces' plus a shifted, a brightened and a noisy copy of 40 of
    them: the approximate candidates (limit 100) find every planted pair, as the exact search does."""
    from scipy.ndimage import gaussian_filter
    rng = np.random.default_rng(1)
    base = np.stack([gaussian_filter(rng.normal(128, 60, (48, 48)), 2.5) for _ in range(500)])
    base = np.clip((base - base.mean((1, 2), keepdims=True)) * 4 + 128, 0, 255).astype(np.uint8)
    src = rng.choice(500, 40, replace=False)
    copies, of = [], []
    for i in src:
        img = base[i].astype(float)
        copies += [np.roll(img, 1, axis=1), img + 20, img + rng.normal(0, 4, img.shape)]
        of += [i] * 3
    images = np.concatenate([base, np.clip(np.stack(copies), 0, 255).astype(np.uint8)])
    exact_pairs, _ = near_duplicate_pairs(images)
    approx_pairs, _ = near_duplicate_pairs(images, exact_max=100)
    planted = {(int(i), 500 + k) for k, i in enumerate(of)}
    found = {tuple(p) for p in approx_pairs.tolist()}
    assert planted <= {tuple(p) for p in exact_pairs.tolist()}
    assert planted <= found, f"missed {sorted(planted - found)[:5]}"
    assert found == {tuple(p) for p in exact_pairs.tolist()}
    from fer_core.analysis import duplicates
    monkeypatch.setattr(duplicates, "PAIR_CHUNK", 7)  # the candidates' rows gathered 7 pairs at a time
    chunked, _ = near_duplicate_pairs(images, exact_max=100)
    assert chunked.tolist() == approx_pairs.tolist()
