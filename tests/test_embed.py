"""fer_core.analysis.embed: features, maps, cache keys, numbers on planted clusters, selection mapping."""
import numpy as np
import pytest
import torch

from fer_core.analysis import embed
from fer_core.figures import embeddings as figures
from fer_core.models.checkpoint import save_checkpoint
from fer_core.config import ProjectionConfig as P
from fer_core.data.dataset import Dataset, load_dataset
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


def _dataset(labels, seed=0):
    n = len(labels)
    rng = np.random.default_rng(seed)
    return Dataset(images=rng.integers(0, 256, (n, 48, 48), dtype=np.uint8), labels=np.asarray(labels),
                   split=np.array(["Training", "PublicTest", "PrivateTest"] * n)[:n], row=np.arange(n) * 10 + 3,
                   source="planted", data_hash="planted")


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


# ---- colours, figure and the selection-to-row mapping --------------------------------------
def test_selection_maps_through_customdata_with_several_colored_traces():
    rng = np.random.default_rng(1)
    labels = rng.permutation(np.arange(42) % 7)        # 7 classes interleaved: 7 traces
    ds = _dataset(labels)
    colors = embed.point_colors(ds, "label")
    fig = figures.embedding_figure(rng.normal(size=(42, 2)), np.arange(42), colors, hover=embed.hover_texts(ds))
    assert len(fig.data) == 7
    # what Streamlit's event.selection.points holds: trace-local indices plus customdata
    picks = [(0, 1), (3, 0), (6, 5), (3, 2)]
    points = [{"curve_number": c, "point_number": p, "point_index": p, "x": float(fig.data[c].x[p]),
               "y": float(fig.data[c].y[p]), "customdata": int(fig.data[c].customdata[p])} for c, p in picks]
    rows = embed.selection_to_rows(points)
    expected = [int(np.flatnonzero(labels == c)[p]) for c, p in picks]
    assert rows.tolist() == expected
    assert rows.tolist() != [p for _, p in picks]  # the trap: trace-local indices
    assert all(labels[r] == c for r, (c, _) in zip(rows, picks))
    # customdata as a list (Plotly sends arrays for 2-D customdata), duplicates dropped
    assert embed.selection_to_rows([{"customdata": [5, 0.3]}, {"customdata": 5.0}, {"customdata": [2]}]).tolist() == [5, 2]
    assert embed.selection_to_rows([]).shape == (0,)
    with pytest.raises(ValueError, match="customdata"):
        embed.selection_to_rows([{"curve_number": 0, "point_index": 3}])


def test_selection_kind():
    assert embed.selection_kind({"points": [{"customdata": 1}], "box": [], "lasso": []}) == "click"
    assert embed.selection_kind({"points": [{"customdata": 1}], "box": [], "lasso": [{"x": [0]}]}) == "region"
    assert embed.selection_kind({"points": [], "box": [{"x": [0, 1]}], "lasso": []}) == "region"
    assert embed.selection_kind({"points": [], "box": [], "lasso": []}) is None


# ---- large maps: drawn sample, density layer, selections against every point ----------------
def test_display_sample_keeps_every_class_at_the_exact_size_and_is_seeded():
    rng = np.random.default_rng(0)
    y = rng.permutation(np.r_[np.zeros(20000, int), np.full(3000, 3), np.full(5, 1), np.full(200, -1)])
    rows = embed.display_sample(y, 1000, seed=0)
    assert len(rows) == 1000 and (np.diff(rows) > 0).all() and rows.dtype == np.int64
    kept = {c: int((y[rows] == c).sum()) for c in (0, 1, 3, -1)}
    assert kept[1] == 5                                  # the rare class keeps all its 5 rows
    assert kept[-1] >= embed.MIN_PER_CLASS and kept[3] >= embed.MIN_PER_CLASS
    assert abs(kept[0] / kept[3] - 20000 / 3000) < 0.5   # the big classes keep about their ratio
    assert (embed.display_sample(y, 1000, seed=0) == rows).all()
    assert not np.array_equal(embed.display_sample(y, 1000, seed=1), rows)
    assert (embed.display_sample(y, len(y)) == np.arange(len(y))).all()
    assert (embed.display_sample(y[:500], 1000) == np.arange(500)).all()
    # floors alone over the budget: still exactly the budget, one row per class first
    many = np.arange(2000) % 40
    r = embed.display_sample(many, 100)
    assert len(r) == 100 and len(np.unique(many[r])) == 40
    assert len(embed.display_sample(many, 10)) == 10
    with pytest.raises(ValueError, match="labels"):
        embed.display_sample(np.zeros((3, 2)), 2)


def test_rows_in_box_and_lasso_on_planted_points():
    inside = [(1, 1), (4.9, 4.9), (0.5, 9.0), (9.0, 0.5)]
    outside = [(5.1, 5.1), (-0.1, 1.0), (1.0, -0.1), (9.5, 0.6), (20, 20)]
    xy = np.array(inside + outside, dtype=np.float32)
    tri_x, tri_y = [0, 10, 0], [0, 0, 10]             # x >= 0, y >= 0, x + y <= 10
    assert embed.rows_in_lasso(xy, tri_x, tri_y).tolist() == [0, 1, 2, 3]
    assert embed.rows_in_lasso(xy, tri_x + [0], tri_y + [0]).tolist() == [0, 1, 2, 3]  # closed explicitly
    assert embed.rows_in_lasso(xy, [0, 10], [0, 0]).shape == (0,)
    # random points, away from the edges, against the analytic test
    rng = np.random.default_rng(0)
    pts = rng.uniform(-2, 12, (5000, 2))
    s = pts.sum(1)
    pts = pts[(np.abs(s - 10) > 1e-3) & (np.abs(pts) > 1e-3).all(1)]
    truth = np.flatnonzero((pts[:, 0] > 0) & (pts[:, 1] > 0) & (pts.sum(1) < 10))
    assert embed.rows_in_lasso(pts, tri_x, tri_y).tolist() == truth.tolist()
    # a box given the way a drag from top-right to bottom-left sends it (bounds reversed)
    assert embed.rows_in_box(xy, [5.0, 0.5], [5.0, 0.9]).tolist() == [0, 1]
    assert embed.rows_in_box(xy, [-1, 30], [-1, 30]).tolist() == list(range(len(xy)))
    with pytest.raises(ValueError, match="coords2d"):
        embed.rows_in_box(np.zeros((4, 3)), [0, 1], [0, 1])


def test_a_region_on_a_sampled_map_selects_rows_that_were_not_drawn():
    rng = np.random.default_rng(2)
    n = 20000
    xy = rng.uniform(0, 100, (n, 2)).astype(np.float32)
    drawn = embed.display_sample(rng.integers(0, 7, n), 2000)
    in_box = np.flatnonzero((xy[:, 0] >= 10) & (xy[:, 0] <= 30) & (xy[:, 1] >= 20) & (xy[:, 1] <= 50))
    # what Streamlit sends for a box dragged over the drawn scatter: the drawn points inside, and the box
    pts = [{"curve_number": 1, "point_index": k, "customdata": int(r)}
           for k, r in enumerate(np.intersect1d(in_box, drawn))]
    sel = {"points": pts, "point_indices": list(range(len(pts))),
           "box": [{"xref": "x", "yref": "y", "x": [30.0, 10.0], "y": [50.0, 20.0]}], "lasso": []}
    rows = embed.selection_rows(sel, xy)
    assert rows.tolist() == in_box.tolist()
    assert len(np.setdiff1d(rows, drawn)) > 5 * len(pts) // 2        # most of them were not drawn
    assert embed.selection_rows(sel).tolist() == [p["customdata"] for p in pts]  # without coords: as before
    # a lasso (triangle) and a second box together: the union
    tri = {"xref": "x", "yref": "y", "x": [60.0, 90.0, 60.0], "y": [60.0, 60.0, 90.0]}
    in_tri = np.flatnonzero((xy[:, 0] >= 60) & (xy[:, 1] >= 60) & (xy.sum(1) <= 150))
    both = embed.selection_rows({"points": [], "box": sel["box"], "lasso": [tri]}, xy)
    assert both.tolist() == np.union1d(in_box, in_tri).tolist()
    # a click is the clicked point's row, coordinates or not; nothing selected is nothing
    click = {"points": [{"curve_number": 3, "point_index": 0, "customdata": [int(drawn[7])]}], "box": [], "lasso": []}
    assert embed.selection_rows(click, xy).tolist() == [int(drawn[7])]
    assert embed.selection_rows({"points": [], "box": [], "lasso": []}, xy).shape == (0,)


def test_large_map_figure_draws_a_sample_over_a_density_of_all_points():
    rng = np.random.default_rng(3)
    n = 200_000
    xy = rng.normal(size=(n, 2)).astype(np.float32)
    labels = rng.choice(7, n, p=[0.2, 0.0001, 0.15, 0.3, 0.15, 0.1, 0.0999])
    colors = {"kind": "categorical", "codes": labels, "names": list("abcdefg"), "colors": ["#000000"] * 7}
    drawn = embed.display_sample(labels, embed.MAX_DRAWN_POINTS)
    fig = figures.embedding_figure(xy, np.arange(n), colors, sample=drawn, hover=np.array(["h"] * len(drawn)))
    scatter = [t for t in fig.data if t.type == "scattergl"]
    density = [t for t in fig.data if t.type == "heatmap"]
    assert sum(len(t.x) for t in scatter) == len(drawn) <= embed.MAX_DRAWN_POINTS
    assert len(scatter) == 7                               # the rare class too
    assert np.isin(np.concatenate([t.customdata for t in scatter]), drawn).all()
    assert len(density) == 1 and fig.data[0].type == "heatmap" and density[0].hoverinfo == "skip"
    z = np.asarray(density[0].z)
    assert z.max() == 255 and z[z.shape[0] // 2, z.shape[1] // 2] > z[0, 0]  # dense centre, empty corner
    assert "50,000 of 200,000" in fig.layout.annotations[0].text
    small = figures.embedding_figure(xy[:1000], np.arange(1000), dict(colors, codes=labels[:1000]))
    assert not any(t.type == "heatmap" for t in small.data) and not small.layout.annotations
    assert sum(len(t.x) for t in small.data) == 1000
    three = figures.embedding_figure(rng.normal(size=(n, 3)), np.arange(n), colors, sample=drawn)
    assert [t.type for t in three.data] == ["scatter3d"] * 7 and sum(len(t.x) for t in three.data) == len(drawn)


def test_hover_texts_for_the_drawn_rows_only(sample):
    rows = np.array([9, 2, 5])
    assert embed.hover_texts(sample, rows=rows).tolist() == embed.hover_texts(sample)[rows].tolist()


def test_point_colors(sample):
    n = len(sample)
    probs = np.full((n, 7), 0.05)
    probs[np.arange(n), np.maximum(sample.labels, 0)] = 0.7
    probs[:10] = np.roll(probs[:10], 1, axis=1)  # the first 10 wrong
    from fer_core.constants import FER2013_EMOTIONS
    for by in embed.COLOR_BY:
        c = embed.point_colors(sample, by, probs=probs, classes=FER2013_EMOTIONS)
        if c["kind"] == "categorical":
            assert len(c["codes"]) == n and c["codes"].max() < len(c["names"]) == len(c["colors"])
        else:
            assert c["values"].shape == (n,)
    corr = embed.point_colors(sample, "correct", probs=probs, classes=FER2013_EMOTIONS)["codes"]
    assert (corr[:10] == 1).all() and (corr[10:] == 0).all()
    with pytest.raises(ValueError, match="probabilities"):
        embed.point_colors(sample, "prediction")
    with pytest.raises(ValueError, match="FER\\+"):
        embed.point_colors(_dataset([0, 1, 2]), "ferplus")
    fig = figures.embedding_figure(np.zeros((n, 3)), np.arange(n), embed.point_colors(sample, "confidence", probs=probs,
                                                                                   classes=FER2013_EMOTIONS))
    assert fig.data[0].type == "scatter3d" and len(fig.data[0].customdata) == n
    texts = embed.hover_texts(sample, probs, FER2013_EMOTIONS)
    assert texts[0].startswith("#0 ") and "→" in texts[0] and texts[0].endswith("%)")


def test_available_colorings(sample):
    from fer_core.constants import FER2013_EMOTIONS, FERPLUS_EMOTIONS
    assert embed.available_colorings(sample, FER2013_EMOTIONS) == list(embed.COLOR_BY)
    no_fp = _dataset([0, 1, 2])
    assert embed.available_colorings(no_fp) == ["label", "split"]
    assert "correct" not in embed.available_colorings(no_fp, FERPLUS_EMOTIONS)
    assert "correct" in embed.available_colorings(sample, FERPLUS_EMOTIONS)
    assert "correct" not in embed.available_colorings(sample, ["a", "b"])


def test_selection_table(sample):
    rows = np.array([5, 1, 9])
    df = embed.selection_table(sample, rows, probs=np.eye(7)[np.zeros(len(sample), int)], classes=list("abcdefg"))
    assert df["index"].tolist() == [5, 1, 9] and df["row"].tolist() == sample.row[rows].tolist()
    assert set(df.columns) == {"index", "row", "split", "label", "prediction", "confidence"}
    assert (df["prediction"] == "a").all()


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
