"""A synthetic million-point Embeddings map, for the 1M browser test and bench/bench_map_1m.py.

The features of a million faces cannot be computed on a 2-core machine, so the map is made up:
seven Gaussian blobs (one per FER2013 class, on a ring) and, in the empty middle of the ring, a
tiny planted cluster of :data:`PLANTED` known rows. What is real is the path to the page: the
predictions and projection artifacts are saved in a scratch artifact store under exactly the keys
the Embeddings page looks up (``stages.key`` of the shipped default model and the page's default
map), and the dashboard is served by ``tests/map_1m_app.py``, which swaps the data-source loader
for :func:`synthetic_dataset`. So every page function, cache and selection path runs unchanged.

    cache = tmp / "cache"; info = plant(cache, n=1_000_000)     # ~3 s
    with serve_dashboard(cache, app=APP) as url: ...             # then open url/embeddings

Images: ``np.zeros`` of (N, 48, 48) uint8 is 2.3 GB that the OS never touches (calloc'd pages):
only the planted rows hold faces (from the bundled sample), so the gallery of a box on them shows
real faces; every other face is black.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "tests" / "map_1m_app.py"
#: What the scratch store's root holds so the app builds the same dataset: {"n": N, "seed": s}.
INFO = "synthetic_map.json"
#: Rows of the planted cluster (in the middle of the ring, far from every blob point).
PLANTED = 23
#: The planted cluster's centre and half-width in map units (the blobs sit on a ring of radius 8,
#: sigma 1.2: no blob point comes within 6 sigma of the centre).
PLANT_AT, PLANT_HALF = (0.0, 0.0), 0.6
RING, SIGMA = 8.0, 1.2


def planted_rows(n: int, seed: int = 0) -> np.ndarray:
    """(PLANTED,) int64 sorted rows of the planted cluster (spread over the whole index range)."""
    return np.sort(np.random.default_rng(seed + 1).choice(n, PLANTED, replace=False)).astype(np.int64)


@functools.lru_cache(maxsize=2)
def synthetic_arrays(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """labels (N,) int64, split (N,) str, coords (N, 2) float32 and planted (PLANTED,) rows, the
    same for the same (n, seed)."""
    rng = np.random.default_rng(seed)
    # class sizes roughly as in FER2013 (disgust rare)
    share = np.array([0.138, 0.015, 0.143, 0.251, 0.169, 0.112, 0.172])
    labels = np.searchsorted(np.cumsum(share / share.sum()), rng.random(n), side="right").clip(0, 6)
    angle = 2 * np.pi * labels / 7
    coords = rng.standard_normal((n, 2), dtype=np.float32) * np.float32(SIGMA)
    coords[:, 0] += (RING * np.cos(angle)).astype(np.float32)
    coords[:, 1] += (RING * np.sin(angle)).astype(np.float32)
    planted = planted_rows(n, seed)
    coords[planted] = (np.asarray(PLANT_AT) + rng.uniform(-PLANT_HALF / 2, PLANT_HALF / 2, (PLANTED, 2))
                       ).astype(np.float32)
    split = np.array(["Training", "PublicTest", "PrivateTest"])[
        np.searchsorted([0.8, 0.9], rng.random(n), side="right")]
    return {"labels": labels.astype(np.int64), "split": split, "coords": coords, "planted": planted}


def synthetic_predictions(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """probs (N, 7) float32 (rows sum to 1, the label's class likeliest) and features (N, 8) float32."""
    a = synthetic_arrays(n, seed)
    rng = np.random.default_rng(seed + 2)
    probs = rng.random((n, 7), dtype=np.float32)
    probs[np.arange(n), a["labels"]] += np.float32(2.0)
    probs /= probs.sum(1, keepdims=True)
    features = np.concatenate([a["coords"], rng.standard_normal((n, 6), dtype=np.float32)], axis=1)
    return {"probs": probs, "features": features}


def data_hash(n: int, seed: int = 0) -> str:
    from fer_core.store import hash_bytes
    return hash_bytes("synthetic-map", str(n), str(seed))


@functools.lru_cache(maxsize=2)
def synthetic_dataset(n: int, seed: int = 0):
    """The :class:`~fer_core.data.dataset.Dataset` of the synthetic map: N rows, black faces but
    the planted rows' (bundled sample faces)."""
    from fer_core.data.dataset import Dataset, load_dataset
    a = synthetic_arrays(n, seed)
    images = np.zeros((n, 48, 48), np.uint8)  # untouched pages cost no memory
    sample = load_dataset(use_cache=False).images
    images[a["planted"]] = sample[:PLANTED]
    return Dataset(images=images, labels=a["labels"], split=a["split"], row=np.arange(n, dtype=np.int64),
                   source=f"synthetic map ({n:,} points)", data_hash=data_hash(n, seed))


def plant(cache_dir, *, n: int = 1_000_000, seed: int = 0, model: str | None = None) -> dict:
    """Save the synthetic map's predictions and default projection in the store at `cache_dir`
    under the keys the Embeddings page looks up, and the INFO file the app reads.

    Returns:
        {"n", "seed", "planted": [rows], "box": ((x0, x1), (y0, y1)) around the planted cluster,
        "model"}.
    """
    from fer_core import stages
    from fer_core.analysis import embed, predictions
    from fer_core.config import ProjectionConfig
    from fer_core.constants import FER2013_EMOTIONS
    from fer_core.store import Store
    cache_dir = Path(cache_dir)
    ds = synthetic_dataset(n, seed)
    a = {**synthetic_arrays(n, seed), **synthetic_predictions(n, seed)}
    model = predictions.model_or_default(model)
    store = Store(cache_dir, seed=None)
    pk = predictions.predictions_key(ds, model)
    if not store.exists("predictions", pk):
        store.save("predictions", pk, {"probs": a["probs"], "features": a["features"],
                                       "classes": np.array(FER2013_EMOTIONS)},
                   config={"synthetic": True}, data_hash=ds.data_hash)
    cfg = ProjectionConfig()
    stage, key = embed.projection_stage(cfg), embed.projection_key(ds, cfg, model)
    if not store.exists(stage, key):
        store.save(stage, key, {"coords": a["coords"], "seconds": np.float64(0)}, config={"synthetic": True},
                   data_hash=ds.data_hash)
    assert stages.exists(stage, ds, cfg, model=model, store=store)
    (cache_dir / INFO).write_text(json.dumps({"n": n, "seed": seed}))
    half = PLANT_HALF
    box = ((PLANT_AT[0] - half, PLANT_AT[0] + half), (PLANT_AT[1] - half, PLANT_AT[1] + half))
    inside = ((a["coords"] >= [box[0][0], box[1][0]]) & (a["coords"] <= [box[0][1], box[1][1]])).all(1)
    assert np.flatnonzero(inside).tolist() == a["planted"].tolist(), "a blob point fell into the planted box"
    return {"n": n, "seed": seed, "planted": a["planted"].tolist(), "model": model, "box": box}
