"""fer_core.analysis.eigenfaces: shapes, monotone explained variance, reconstruction, planted structure."""
import numpy as np
import pytest

from fer_core.config import PCAConfig
from fer_core.data.dataset import load_dataset
from fer_core.analysis.eigenfaces import components_for, eigenfaces, fit_pca, project, reconstruct
from fer_core.pipeline.prepare import get_eigenfaces, stage_status


def test_shapes_and_monotone_variance():
    ds = load_dataset()
    out = eigenfaces(ds.images, ds.labels, PCAConfig(n_components=50, n_components_per_class=4))
    assert out["mean"].shape == (48, 48) and out["components"].shape == (50, 48, 48)
    evr = out["explained_variance_ratio"]
    assert np.all(np.diff(evr) <= 1e-6) and np.all(evr >= 0) and evr.sum() <= 1 + 1e-5
    assert out["class_means"].shape == (7, 48, 48) and out["class_components"].shape == (7, 4, 48, 48)
    assert out["class_counts"].sum() == len(ds)
    norms = np.linalg.norm(out["components"].reshape(50, -1), axis=1)
    np.testing.assert_allclose(norms, 1, atol=1e-4)


def test_planted_low_rank_data_is_recovered(rng):
    # images = mean + a*u + b*v: two components explain everything, reconstruction from 2 is exact
    u, v = rng.normal(size=2304), rng.normal(size=2304)
    coef = rng.normal(size=(200, 2))
    x = 128 + coef[:, :1] * u * 10 + coef[:, 1:] * v * 4
    images = np.clip(np.round(x), 0, 255).astype(np.uint8).reshape(200, 48, 48)
    p = fit_pca(images, n_components=10)
    assert components_for(p["explained_variance_ratio"], 0.9) <= 2
    rec = reconstruct(images[0], p["mean"], p["components"], 2)
    assert np.abs(rec * 255 - images[0]).mean() < 1.5
    rec0 = reconstruct(images[0], p["mean"], p["components"], 0)
    np.testing.assert_allclose(rec0, np.clip(p["mean"], 0, 1), atol=1e-6)
    assert project(images[:3], p["mean"], p["components"]).shape == (3, 10)


def test_bad_inputs():
    with pytest.raises(ValueError, match="uint8"):
        fit_pca(np.zeros((5, 48, 48), np.float32))
    with pytest.raises(ValueError, match="k must be"):
        reconstruct(np.zeros((48, 48), np.uint8), np.zeros((48, 48)), np.zeros((3, 48, 48)), 4)
    assert components_for(np.array([0.1, 0.1]), 0.9) is None


def test_cached_stage():
    ds = load_dataset()
    assert stage_status(ds)["eigenfaces"] is False
    a = get_eigenfaces(ds)
    assert stage_status(ds)["eigenfaces"] is True
    b = get_eigenfaces(ds)
    np.testing.assert_array_equal(a["components"], b["components"])


def test_fit_sample_bounds_the_fit_and_keeps_every_image_in_the_class_means(rng):
    """Above fit_sample the PCAs see a seeded sample (memory: 350k faces took 7.7 GB fitted on all);
    the class mean faces still average every image, and a planted low-rank structure is still found."""
    basis = rng.normal(size=(3, 48 * 48))
    coef = rng.normal(size=(600, 3)) * [30, 20, 10]
    images = np.clip(128 + coef @ basis, 0, 255).astype(np.uint8).reshape(600, 48, 48)
    labels = np.arange(600) % 7
    full = eigenfaces(images, labels, PCAConfig(n_components=5, n_components_per_class=2, fit_sample=0))
    part = eigenfaces(images, labels, PCAConfig(n_components=5, n_components_per_class=2, fit_sample=200))
    np.testing.assert_allclose(part["class_means"], full["class_means"], atol=1e-5)
    np.testing.assert_allclose(part["class_means"][3], images[labels == 3].mean(0) / 255.0, atol=1e-5)
    assert part["explained_variance_ratio"][:3].sum() > 0.95  # the 3 planted directions, from 200 images
    same = np.abs((part["components"][:3].reshape(3, -1) @ full["components"][:3].reshape(3, -1).T))
    assert (same.max(1) > 0.95).all()
    again = eigenfaces(images, labels, PCAConfig(n_components=5, n_components_per_class=2, fit_sample=200))
    np.testing.assert_array_equal(again["components"], part["components"])  # seeded
