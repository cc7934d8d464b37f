"""fer_core.analysis.embed: features, maps, cache keys, numbers on planted clusters (the map's view code:
tests/test_figures_embeddings.py)."""
import numpy as np
import pytest
import torch

from fer_core.analysis import embed
from fer_core.models.checkpoint import save_checkpoint
from fer_core.config import ProjectionConfig as P
from fer_core.data.dataset import load_dataset
from fer_core.models.registry import create_model
from fer_core.store import Store


@pytest.fixture(scope="module")
def sample():
    return load_dataset(use_cache=False)


def _tiny_checkpoint(path, seed):
    torch.manual_seed(seed)
    model = create_model("compact", width=0.25, blocks=(1, 1, 1)).eval()
    return str(save_checkpoint(path, model, model_name="compact", model_kwargs={"width": 0.25, "blocks": [1, 1, 1]},
                               label_set="fer2013", normalization={"mean": 0.5, "std": 0.25}))


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    return _tiny_checkpoint(d / "a.pt", 0), _tiny_checkpoint(d / "b.pt", 1)


def _planted(n_per=40, d=16, seed=0):
    """Three tight, far-apart clusters labeled angry (0), happy (3), sad (4); 'fear' (2) images
    drawn from the sad cluster: fear's neighbours are sad."""
    rng = np.random.default_rng(seed)
    centers = {0: 0.0, 3: 20.0, 4: 40.0}
    x, y = [], []
    for c, mu in centers.items():
        x.append(rng.normal(mu, 1.0, (n_per, d)))
        y += [c] * n_per
    x.append(rng.normal(40.0, 1.0, (n_per, d)))
    y += [2] * n_per
    return np.concatenate(x).astype(np.float32), np.array(y)




# ---- features and cache keys ----------------------------------------------------------------
def test_features_shape_and_cache_key_follows_the_model(sample, tiny_models):
    a, b = tiny_models
    store = Store()
    fa = embed.get_features(sample, a, store=store)
    assert fa["features"].shape == (len(sample), create_model("compact", width=0.25, blocks=(1, 1, 1)).num_features)
    assert fa["features"].dtype == np.float32 and np.isfinite(fa["features"]).all()
    assert fa["probs"].shape == (len(sample), 7)
    assert embed.features_key(sample, a) != embed.features_key(sample, b)
    cfg = P(method="pca")
    assert embed.projection_key(sample, cfg, a) != embed.projection_key(sample, cfg, b)
    pa = embed.get_projection(sample, cfg, model=a, store=store)["coords"]
    pb = embed.get_projection(sample, cfg, model=b, store=store)["coords"]
    assert pa.shape == pb.shape == (len(sample), 2) and not np.allclose(pa, pb)
    assert len(store.list("projection_pca")) == 2 and len(store.list("predictions")) == 2
    # same model again: served from the cache, identical
    assert np.array_equal(embed.get_projection(sample, cfg, model=a, store=store)["coords"], pa)
    assert len(store.list("projection_pca")) == 2


def test_projection_key_ignores_parameters_the_method_does_not_use(sample, tiny_models):
    a = tiny_models[0]
    k = lambda **kw: embed.projection_key(sample, P(**kw), a)  # noqa: E731
    assert k(method="pca", perplexity=5) == k(method="pca", perplexity=50)
    assert k(method="umap", perplexity=5) == k(method="umap", perplexity=50)
    assert k(method="umap", min_dist=0.0) != k(method="umap", min_dist=0.5)
    assert k(method="tsne", perplexity=5) != k(method="tsne", perplexity=50)
    assert k(method="umap", seed=0) != k(method="umap", seed=1)
    assert embed.resolve_config(P(method="tsne", dims=3)).tsne_impl == "sklearn"


# ---- projections --------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", [P(method="pca"), P(method="pca", dims=3),
                                 P(method="tsne", perplexity=10, tsne_impl="sklearn"),
                                 P(method="tsne", perplexity=10, dims=3),
                                 P(method="umap", n_neighbors=10), P(method="umap", n_neighbors=10, dims=3)],
                         ids=lambda c: f"{c.method}-{c.dims}d-{c.tsne_impl}")
def test_projection_shapes_and_seeding(cfg):
    x, y = _planted()
    a = embed.project(x, cfg, n_jobs=1)
    assert a.shape == (len(x), cfg.dims) and a.dtype == np.float32 and np.isfinite(a).all()
    assert np.array_equal(a, embed.project(x, cfg, n_jobs=1))  # seeded


def test_opentsne_when_installed():
    pytest.importorskip("openTSNE")
    x, _ = _planted()
    cfg = P(method="tsne", perplexity=10, tsne_impl="opentsne")
    a = embed.project(x, cfg, n_jobs=1)
    assert a.shape == (len(x), 2) and np.array_equal(a, embed.project(x, cfg, n_jobs=1))
    assert embed.resolve_config(P(method="tsne")).tsne_impl == "opentsne"


def test_projection_keeps_planted_clusters_apart():
    x, y = _planted()
    a = embed.project(x, P(method="umap", n_neighbors=10), n_jobs=1)
    nb, _ = embed.knn_graph(a, k=5)
    same_cluster = np.where(y == 2, 4, y)  # fear was planted inside sad
    assert (same_cluster[nb] == same_cluster[:, None]).mean() > 0.95


def test_project_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        embed.project(np.zeros(10))
    with pytest.raises(ValueError, match="NaN"):
        embed.project(np.full((20, 3), np.nan))
    with pytest.raises(ValueError, match="perplexity"):
        embed.project(np.random.rand(30, 4), P(method="tsne", perplexity=30))
    with pytest.raises(ValueError, match="n_neighbors"):
        embed.project(np.random.rand(10, 4), P(method="umap", n_neighbors=15))
    with pytest.raises(ValueError, match="method"):
        embed.project(np.random.rand(10, 4), P(method="mds"))


# ---- numbers on planted clusters -----------------------------------------------------------
def test_knn_agreement_and_silhouette_measure_the_planted_confusion():
    x, y = _planted()
    nb, dist = embed.knn_graph(x, k=10)
    assert nb.shape == dist.shape == (len(x), 10)
    assert not (nb == np.arange(len(x))[:, None]).any()  # never its own neighbour
    assert np.all(np.diff(dist, axis=1) >= -1e-5)         # nearest first
    agr = embed.knn_label_agreement(nb, y, n_classes=7)
    assert agr["per_class"][0] == 1.0 and agr["per_class"][3] == 1.0      # separate clusters
    assert 0.3 < agr["per_class"][2] < 0.7 and 0.3 < agr["confusion"][2, 4] < 0.7  # fear inside sad
    assert agr["confusion"][2, 3] == 0 and np.isnan(agr["per_class"][1])   # no disgust images
    np.testing.assert_allclose(np.nansum(agr["confusion"], 1)[[0, 2, 3, 4]], 1.0)
    sil = embed.silhouette_per_class(x, y, n_classes=7)
    assert sil["per_class"][0] > 0.8 and sil["per_class"][3] > 0.8
    assert sil["per_class"][2] < 0.1 and sil["per_class"][4] < 0.1       # fear and sad overlap
    # stratified subsample keeps every class
    sub = embed.silhouette_per_class(x, y, n_classes=7, max_samples=40)
    assert sub["n_used"] <= 44 and np.isfinite(sub["per_class"][[0, 2, 3, 4]]).all()


def test_unlabeled_rows_are_ignored_in_agreement():
    nb = np.array([[1, 2], [0, 2], [0, 1]])
    agr = embed.knn_label_agreement(nb, np.array([0, 0, -1]), n_classes=2)
    np.testing.assert_allclose(agr["per_image"][:2], [1.0, 1.0])
    assert np.isnan(agr["per_image"][2])
    assert agr["overall"] == 1.0


def test_knn_graph_is_the_exact_self_excluded_neighbours_with_duplicates():
    """Integer points (every squared distance exact) with planted copies: each row's k neighbours
    are the k smallest distances to the other rows, copies included, the row itself never."""
    rng = np.random.default_rng(5)
    x = rng.integers(0, 500, (60, 3)).astype(np.float32)
    x[1] = x[2] = x[0]           # two copies of row 0
    x[10:14] = x[9]              # four copies of row 9: more copies than a 3-neighbour list holds
    k = 3
    nb, dist = embed.knn_graph(x, k=k)
    d2 = ((x[:, None].astype(np.int64) - x[None].astype(np.int64)) ** 2).sum(-1).astype(float)
    np.fill_diagonal(d2, np.inf)
    for i in range(len(x)):
        assert i not in nb[i] and len(set(nb[i])) == k
        np.testing.assert_array_equal(np.sort(d2[i, nb[i]]), np.sort(d2[i])[:k])
        np.testing.assert_allclose(dist[i], np.sqrt(np.sort(d2[i])[:k]), rtol=1e-6)
    assert set(nb[0][:2]) == {1, 2} and (dist[0][:2] == 0).all()
    assert set(nb[9]) <= {10, 11, 12, 13} and (dist[9] == 0).all()


def test_nearest_neighbors_matches_graph():
    x, _ = _planted(n_per=10)
    nb, _ = embed.knn_graph(x, k=5)
    for i in (0, 7, 33):
        np.testing.assert_array_equal(embed.nearest_neighbors(x, i, k=5), nb[i])


def test_class_separation_table_names_the_confusion():
    x, y = _planted()
    nb, _ = embed.knn_graph(x, k=10)
    stats = {"neighbors": nb, "silhouette_fer2013": embed.silhouette_per_class(x, y, n_classes=7)["per_class"]}
    table, agr = embed.class_separation_table(stats, y)
    assert table.loc["fear", "most confused with"] == "sad"
    assert table.loc["fear", "that class overall"] == pytest.approx(0.25)
    assert table.loc["happy", "images"] == 40


# ---- prepare stages -------------------------------------------------------------------------
def test_prepare_builds_the_default_maps(sample, tiny_models, monkeypatch):
    import fer_core.models.checkpoint as ckpt
    from fer_core.pipeline import prepare
    monkeypatch.setattr(ckpt, "default_model", lambda: tiny_models[0])
    store = Store()
    for name in ("projection_umap", "projection_tsne", "embedding_stats"):
        assert name in prepare.STAGES
    assert not any(v for k, v in prepare.stage_status(sample, store).items() if k.startswith("projection"))
    prepare.run(sample, store, only=["predictions", "projection_umap", "embedding_stats"], log=lambda *_: None)
    status = prepare.stage_status(sample, store)
    assert status["projection_umap"] and status["embedding_stats"] and not status["projection_tsne"]
    stats = embed.get_feature_stats(sample, store=store)
    assert stats["neighbors"].shape == (len(sample), 10)
    assert stats["silhouette_fer2013"].shape == (7,) and stats["silhouette_ferplus"].shape == (8,)
