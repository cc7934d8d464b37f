"""Maps of large datasets: t-SNE / UMAP fitted on a stratified sample, the rest placed by the fitted
map's transform (ProjectionConfig.fit_sample, lowered here so the sets stay small)."""
import numpy as np
import pytest

from fer_core.analysis import embed
from fer_core.config import ProjectionConfig as P


def _four_clusters(n=1600, d=20, seed=0):
    rng = np.random.default_rng(seed)
    c = rng.integers(0, 4, n)
    centers = np.eye(4, d) * 30
    return (centers[c] + rng.normal(0, 1, (n, d))).astype(np.float32), c


def test_fit_rows_is_a_seeded_stratified_sample():
    strata = np.repeat([0, 1, 2], [600, 300, 100])
    rows = embed.fit_rows(1000, P(method="tsne", fit_sample=100), strata=strata)
    assert rows.shape == (100,) and (np.diff(rows) > 0).all()
    assert np.bincount(strata[rows]).tolist() == [60, 30, 10]   # every stratum keeps its share
    np.testing.assert_array_equal(rows, embed.fit_rows(1000, P(method="tsne", fit_sample=100), strata=strata))
    assert embed.fit_rows(1000, P(method="tsne", fit_sample=1000)) is None   # small enough: fit on all
    assert embed.fit_rows(1000, P(method="umap", fit_sample=0)) is None      # 0 = never sample
    assert embed.fit_rows(5000, P(method="pca", fit_sample=10)) is None      # PCA always fits all
    assert embed.resolve_config(P(method="pca", fit_sample=10)) == embed.resolve_config(P(method="pca"))


@pytest.mark.parametrize("cfg", [P(method="tsne", fit_sample=400, perplexity=20),
                                 P(method="tsne", dims=3, fit_sample=400, perplexity=20),
                                 P(method="umap", fit_sample=400, n_neighbors=10)],
                         ids=["opentsne", "sklearn-3d", "umap"])
def test_points_placed_by_transform_land_in_their_planted_cluster(cfg):
    x, c = _four_clusters()
    coords = embed.project(x, cfg, strata=c, n_jobs=1)
    rows = embed.fit_rows(len(x), cfg, strata=c)
    assert coords.shape == (len(x), cfg.dims) and np.isfinite(coords).all()
    rest = np.setdiff1d(np.arange(len(x)), rows)
    centroids = np.stack([coords[rows][c[rows] == k].mean(0) for k in range(4)])
    nearest = np.linalg.norm(coords[rest, None] - centroids[None], axis=2).argmin(1)
    assert (nearest == c[rest]).mean() >= 0.98


def test_projection_artifact_records_the_fit_sample(tmp_path):
    """The stage on the bundled sample with a tiny model: fit_sample below the 1,000 images gives an
    artifact that says how many points the map was fitted on, and the page's sentence says so."""
    import torch

    from fer_core.data.dataset import load_dataset
    from fer_core.models.checkpoint import save_checkpoint
    from fer_core.models.registry import create_model
    from fer_core.store import Store
    torch.manual_seed(0)
    model = create_model("compact", width=0.25, blocks=(1, 1, 1)).eval()
    ckpt = str(save_checkpoint(tmp_path / "m.pt", model, model_name="compact",
                               model_kwargs={"width": 0.25, "blocks": [1, 1, 1]}, label_set="fer2013",
                               normalization={"mean": 0.5, "std": 0.25}))
    ds, store = load_dataset(use_cache=False), Store(tmp_path / "cache")
    cfg = P(method="tsne", fit_sample=300)
    proj = embed.get_projection(ds, cfg, model=ckpt, store=store)
    assert int(proj["n_fit"]) == 300 and proj["fit_rows"].shape == (300,)
    assert proj["coords"].shape == (len(ds), 2) and np.isfinite(proj["coords"]).all()
    pred = embed.get_features(ds, ckpt, store=store)
    np.testing.assert_array_equal(proj["fit_rows"], embed.fit_rows(len(ds), cfg, strata=pred["probs"].argmax(1)))
    assert embed.fit_note(proj, len(ds)) == ("This map was fitted on 300 of 1,000 faces (a sample stratified by "
                                             "predicted class), the rest placed by the fitted map's transform.")
    assert embed.projection_key(ds, cfg, model=ckpt) != embed.projection_key(ds, P(method="tsne"), model=ckpt)
    full = embed.get_projection(ds, P(method="tsne"), model=ckpt, store=store)
    assert int(full["n_fit"]) == len(ds) and len(full["fit_rows"]) == 0 and embed.fit_note(full, len(ds)) is None
