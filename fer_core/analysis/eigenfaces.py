"""Mean faces, eigenfaces and reconstructions (randomized PCA, scikit-learn).

Arrays in, arrays out: `images` (N, 48, 48) uint8 -> float32 results in pixel units / 255.
"""
from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from fer_core import stages
from fer_core import validate
from fer_core.config import PCAConfig
from fer_core.constants import FER2013_EMOTIONS, IMAGE_SIZE, N_PIXELS
from fer_core.stages import Stage, register


def _check_images(images: np.ndarray) -> np.ndarray:
    images = validate.images(images)
    if len(images) < 2:
        raise ValueError(f"PCA needs at least 2 images, got {len(images)}")
    return images


def _flat(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), N_PIXELS).astype(np.float32) / 255.0


def fit_pca(images: np.ndarray, *, n_components: int = 200, seed: int = 0) -> dict[str, np.ndarray]:
    """Randomized PCA of the images.

    Returns:
        dict with mean (48,48) float32 in [0,1]; components (k,48,48) float32 unit-norm
        eigenfaces, most variance first; explained_variance_ratio (k,) float32 (share of the
        total pixel variance, so its cumulative sum is the true explained share); singular_values (k,).
    """
    return _fit_pca(_check_images(images), n_components=n_components, seed=seed)


def _fit_pca(images: np.ndarray, *, n_components: int, seed: int) -> dict[str, np.ndarray]:
    k = int(min(n_components, len(images) - 1, N_PIXELS))
    pca = PCA(n_components=k, svd_solver="randomized", random_state=seed, iterated_power=4)
    pca.fit(_flat(images))
    return {"mean": pca.mean_.reshape(IMAGE_SIZE, IMAGE_SIZE).astype(np.float32),
            "components": pca.components_.reshape(k, IMAGE_SIZE, IMAGE_SIZE).astype(np.float32),
            "explained_variance_ratio": pca.explained_variance_ratio_.astype(np.float32),
            "singular_values": pca.singular_values_.astype(np.float32)}


def components_for(explained_variance_ratio: np.ndarray, share: float = 0.9) -> int | None:
    """Smallest number of components whose cumulative explained variance reaches `share`
    (None when the kept components do not reach it)."""
    cum = np.cumsum(explained_variance_ratio)
    hit = np.flatnonzero(cum >= share)
    return int(hit[0]) + 1 if hit.size else None


def project(images: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """(N,48,48) uint8 -> (N,k) float32 PCA coordinates."""
    return (_flat(images) - mean.reshape(1, -1)) @ components.reshape(len(components), -1).T


def reconstruct(image: np.ndarray, mean: np.ndarray, components: np.ndarray, k: int) -> np.ndarray:
    """Reconstruct one (48,48) uint8 image from its first `k` components -> (48,48) float32 in [0,1]."""
    if not 0 <= k <= len(components):
        raise ValueError(f"k must be in 0..{len(components)}, got {k}")
    w = components[:k].reshape(k, N_PIXELS)
    x = image.reshape(1, -1).astype(np.float32) / 255.0 - mean.reshape(1, -1)
    rec = mean.reshape(-1) + (x @ w.T @ w).reshape(-1)
    return np.clip(rec, 0, 1).reshape(IMAGE_SIZE, IMAGE_SIZE).astype(np.float32)


def eigenfaces(images: np.ndarray, labels: np.ndarray, config: PCAConfig = PCAConfig()) -> dict[str, np.ndarray]:
    """Everything the Eigenfaces page shows, as one dict of arrays (cached by `prepare`).

    Each PCA is fitted on at most ``config.fit_sample`` images (a seeded random sample; all of
    FER2013's 28,709 Training images are under it).

    Returns:
        The keys of :func:`fit_pca`, plus class_means (7,48,48) float32 (NaN-free; zeros for an
        absent class), class_counts (7,) int64, class_components (7,kc,48,48) float32 and
        class_evr (7,kc) float32 (zeros where a class has too few images).
    """
    images = _check_images(images)
    labels = validate.labels(labels, n=len(images), allow_unlabeled=True)
    rng = np.random.default_rng(config.seed)

    def sample(idx: np.ndarray) -> np.ndarray:  # the PCA fits' rows: at most config.fit_sample, in order
        if config.fit_sample and len(idx) > config.fit_sample:
            return np.sort(rng.choice(idx, config.fit_sample, replace=False))
        return idx

    out = _fit_pca(images[sample(np.arange(len(images)))], n_components=config.n_components, seed=config.seed)
    nc, kc = len(FER2013_EMOTIONS), config.n_components_per_class
    means = np.zeros((nc, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    comps = np.zeros((nc, kc, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    evr = np.zeros((nc, kc), np.float32)
    counts = np.zeros(nc, np.int64)
    for c in range(nc):
        idx = np.flatnonzero(labels == c)
        counts[c] = len(idx)
        if len(idx):  # every image of the class; a float64 reduce of the uint8 pixels (no float copy)
            means[c] = (images[idx].reshape(-1, N_PIXELS).mean(0, dtype=np.float64) / 255.0).reshape(
                IMAGE_SIZE, IMAGE_SIZE)
        if len(idx) > kc:
            p = _fit_pca(images[sample(idx)], n_components=kc, seed=config.seed)
            comps[c], evr[c] = p["components"], p["explained_variance_ratio"]
    out.update(class_means=means, class_counts=counts, class_components=comps, class_evr=evr)
    return out


def select_split(split: np.ndarray, name: str) -> np.ndarray:
    """Bool mask for PCAConfig.split ('all' keeps every row; falls back to all rows when the
    named split is absent, e.g. an unsplit image folder)."""
    if name == "all":
        return np.ones(len(split), bool)
    m = split == name
    return m if m.any() else np.ones(len(split), bool)


# ---- the cached stage ('eigenfaces', built by python -m fer_core.prepare) ---------------------
def _compute_stage(ds, config: PCAConfig, model, progress, store) -> dict[str, np.ndarray]:
    m = select_split(ds.split, config.split)
    return eigenfaces(ds.images[m], ds.labels[m], config)


STAGE = register(Stage("eigenfaces", "mean faces, eigenfaces, explained variance (PCA)", PCAConfig,
                       _compute_stage, reads=("images", "labels", "split")))


def eigenfaces_key(ds, config: PCAConfig = PCAConfig()) -> str:
    """Cache key of :func:`get_eigenfaces` (fer_core.stages.key)."""
    return stages.key(STAGE, ds, config)


def get_eigenfaces(ds, store=None, config: PCAConfig = PCAConfig()) -> dict[str, np.ndarray]:
    """Cached :func:`eigenfaces` of `ds`'s `config.split` (computed on first call)."""
    return stages.get(STAGE, ds, config, store=store)
