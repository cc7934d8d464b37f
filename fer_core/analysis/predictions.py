"""Cached model outputs over a whole dataset: probabilities and penultimate features.

Every page that shows a model's behaviour (Model, Embeddings, Label errors) reads these
instead of running the network again. Artifacts are keyed by the data hash and the checkpoint
hash, so a retrained model or another file never serves stale predictions.
"""
from __future__ import annotations

import sys

import numpy as np
import torch
from tqdm import tqdm

from fer_core.training.baselines import BASELINES, baseline_probs, fit_baseline
from fer_core.models.checkpoint import load_checkpoint, model_hash, shipped_checkpoints
from fer_core.data.dataset import Dataset
from fer_core.models.inference import check_images, for_inference, model_normalization, to_input
from fer_core.store import Store

#: Preference order for the default model among the shipped checkpoints.
DEFAULT_MODEL_PREFERENCE = ("resnet18", "compact")


def default_model() -> str | None:
    """The shipped checkpoint the pages use by default (None when none is shipped)."""
    shipped = shipped_checkpoints()
    return next((m for m in DEFAULT_MODEL_PREFERENCE if m in shipped), shipped[0] if shipped else None)


def model_or_default(model: str | None) -> str:
    """`model` (shipped name or checkpoint path) as given, or :func:`default_model` when empty.

    Raises:
        FileNotFoundError: no model given and none shipped.
    """
    model = model or default_model()
    if not model:
        raise FileNotFoundError("no shipped model in fer_core/models/weights/: train one with python -m fer_core.train")
    return str(model)


@torch.inference_mode()
def features_and_probs(model: torch.nn.Module, images: np.ndarray, *, batch_size: int = 512,
                       tta: bool = True, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """(N,48,48) uint8 -> features (N, D) float32 (unflipped images) and probs (N, K) float32.

    With `tta`, the probabilities average each image and its mirror image. A tqdm bar shows
    on a terminal; `progress(fraction, text)` is called after each batch (e.g. st.progress).
    """
    images = check_images(images)
    norm = model_normalization(model)
    dev = next(model.parameters()).device
    feats, probs = [], []
    bar = tqdm(total=len(images), desc="features", unit="img", disable=None, leave=False, file=sys.stderr)
    for i in range(0, len(images), batch_size):
        x = to_input(torch.from_numpy(images[i:i + batch_size]).to(dev), norm)
        f = model.forward_features(x)
        p = torch.softmax(model.forward_head(f).float(), 1)
        if tta:
            p = (p + torch.softmax(model(torch.flip(x, dims=[3])).float(), 1)) / 2
        feats.append(f.float().cpu().numpy())
        probs.append(p.cpu().numpy())
        bar.update(len(x))
        if progress:
            done = min(i + batch_size, len(images))
            progress(done / len(images), f"features: {done:,} / {len(images):,} images")
    bar.close()
    return np.concatenate(feats), np.concatenate(probs).astype(np.float32)


def get_predictions(ds: Dataset, model: str | None = None, *, store: Store | None = None,
                    tta: bool = True, progress=None) -> dict[str, np.ndarray]:
    """Cached probabilities and features of `model` (shipped name or checkpoint path) on `ds`.

    Returns:
        dict with probs (N, K) float32 (rows sum to 1), features (N, D) float32, classes (K,) str.

    Raises:
        FileNotFoundError: no such model (and none shipped when `model` is None).
    """
    model = model_or_default(model)
    store = store or Store()

    def compute():
        net = for_inference(load_checkpoint(model)[0])  # the GPU when there is one
        feats, probs = features_and_probs(net, ds.images, tta=tta, progress=progress)
        return {"probs": probs, "features": feats, "classes": np.array(net.classes)}

    return store.get_or_compute("predictions", {"model": str(model), "tta": tta}, compute,
                                data_hash=ds.data_hash, model_hash=model_hash(model))


def predictions_key(ds: Dataset, model: str | None = None, tta: bool = True) -> str:
    model = model or default_model()
    return Store.key("predictions", {"model": str(model), "tta": tta}, data_hash=ds.data_hash,
                     model_hash=model_hash(model) if model else "")


def baselines_config(ds: Dataset) -> dict:
    return {"names": list(BASELINES), "n_components": 100, "seed": 0, "rbf_max_train": 10000}


def get_baseline_predictions(ds: Dataset, *, store: Store | None = None, progress=None) -> dict[str, np.ndarray]:
    """Fit every PCA baseline on the Training rows; cached probabilities on the other rows.

    Returns:
        dict with rows (M,) int64 dataset indices of the non-Training labeled rows, and for each
        baseline name `probs_<name>` (M, 7) float32 and `fit_seconds_<name>` scalar.

    Raises:
        ValueError: the dataset has no labeled Training rows or nothing else to score.
    """
    store = store or Store()
    cfg = baselines_config(ds)

    def compute():
        tr = (ds.split == "Training") & (ds.labels >= 0)
        rows = np.flatnonzero((ds.split != "Training") & (ds.split != "") & (ds.labels >= 0))
        if tr.sum() < 20 or len(rows) == 0:
            raise ValueError("baselines need labeled Training rows and a test split")
        out = {"rows": rows}
        for i, name in enumerate(cfg["names"]):
            if progress:
                progress(i / len(cfg["names"]), f"fitting {name}")
            est = fit_baseline(name, ds.images[tr], ds.labels[tr], n_components=cfg["n_components"],
                               seed=cfg["seed"], max_train=cfg["rbf_max_train"] if name == "rbf_svm" else 0)
            out[f"probs_{name}"] = baseline_probs(est, ds.images[rows])
            out[f"fit_seconds_{name}"] = np.float64(est.fit_seconds_)
        return out

    return store.get_or_compute("baselines", cfg, compute, data_hash=ds.data_hash)


def baselines_key(ds: Dataset) -> str:
    return Store.key("baselines", baselines_config(ds), data_hash=ds.data_hash)
