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

from fer_core import stages
from fer_core.config import BaselinePredictionsConfig, PredictionsConfig
from fer_core.data.dataset import Dataset
from fer_core.models import checkpoint
from fer_core.models.checkpoint import DEFAULT_MODEL_PREFERENCE, ModelRef, default_model, load_checkpoint, model_ref
from fer_core.models.inference import check_images, for_inference, model_normalization, to_input
from fer_core.stages import Stage, register
from fer_core.store import Store

__all__ = ["DEFAULT_MODEL_PREFERENCE", "default_model", "model_or_default", "features_and_probs", "get_predictions",
           "predictions_key", "get_baseline_predictions", "baselines_key", "PREDICTIONS", "BASELINES"]


def model_or_default(model: str | None) -> str:
    """`model` (shipped name or checkpoint path) as given, or the default model's name when empty.

    Raises:
        FileNotFoundError: no model given and none shipped.
    """
    return model_ref(model).name


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


# ---- stages ------------------------------------------------------------------------------------
def has_model(ds) -> bool:
    """A model stage can run: a model is shipped (the default one)."""
    return checkpoint.default_model() is not None


def has_model_and_labels(ds) -> bool:
    """A model is shipped and the data has labels."""
    return has_model(ds) and bool((ds.labels >= 0).any())


def has_splits(ds) -> bool:
    """At least 20 labeled Training images and another split to score."""
    return bool(len(ds.rows("Training")) >= 20 and ((ds.split != "Training") & (ds.split != "")).any())


def _compute_predictions(ds: Dataset, config: PredictionsConfig, model: ModelRef, progress, store) -> dict:
    net = for_inference(load_checkpoint(model)[0])  # the GPU when there is one
    feats, probs = features_and_probs(net, ds.images, tta=config.tta, progress=progress)
    return {"probs": probs, "features": feats, "classes": np.array(net.classes)}


def _compute_baselines(ds: Dataset, config: BaselinePredictionsConfig, model, progress, store) -> dict:
    # imported here: scikit-learn is ~40% of this module's import time, which every Ray actor of
    # fer_core.pipeline.distributed pays for the predictions alone
    from fer_core.training.baselines import baseline_probs, fit_baseline, train_rows
    tr = ds.rows("Training")
    rows = ds.rows([s for s in np.unique(ds.split) if s not in ("Training", "")])
    if len(tr) < 20 or len(rows) == 0:
        raise ValueError("baselines need labeled Training rows and a test split")
    out = {"rows": rows}
    for i, name in enumerate(config.names):
        if progress:
            progress(i / len(config.names), f"fitting {name}")
        # the subsample's rows are picked before the images are indexed: 280k Training faces
        # copied (and flattened to float) for each baseline took 7.5 GB
        fit = tr[train_rows(ds.labels[tr], config.rbf_max_train if name == "rbf_svm" else config.max_train,
                            seed=config.seed)]
        est = fit_baseline(name, ds.images[fit], ds.labels[fit], n_components=config.n_components,
                           seed=config.seed, max_train=0)
        out[f"probs_{name}"] = baseline_probs(est, ds.images[rows])
        out[f"fit_seconds_{name}"] = np.float64(est.fit_seconds_)
        out[f"n_train_{name}"] = np.int64(est.n_train_)
    return out


PREDICTIONS = register(Stage("predictions", "model's probabilities and features for every image",
                             PredictionsConfig, _compute_predictions, reads=("images",), uses_model=True,
                             enabled=has_model))
BASELINES = register(Stage("baselines", "PCA + logistic regression / SVMs / random forest, fit on Training",
                           BaselinePredictionsConfig, _compute_baselines, reads=("images", "labels", "split"),
                           enabled=has_splits))


# ---- the functions other code calls: one line each over the registry ---------------------------
def get_predictions(ds: Dataset, model: str | ModelRef | None = None, *, store: Store | None = None,
                    tta: bool = True, progress=None) -> dict[str, np.ndarray]:
    """Cached probabilities and features of `model` (shipped name, checkpoint path or ModelRef;
    None = the default model) on `ds`.

    Returns:
        dict with probs (N, K) float32 (rows sum to 1), features (N, D) float32, classes (K,) str.

    Raises:
        FileNotFoundError: no such model (and none shipped when `model` is None).
    """
    return stages.get(PREDICTIONS, ds, PredictionsConfig(tta=tta), model=model, store=store, progress=progress)


def predictions_key(ds: Dataset, model: str | ModelRef | None = None, tta: bool = True) -> str:
    """Cache key of :func:`get_predictions` (raises as it does when there is no model)."""
    return stages.key(PREDICTIONS, ds, PredictionsConfig(tta=tta), model=model)


def baselines_config(ds: Dataset) -> dict:
    """The baselines stage's default config as a dict."""
    return BaselinePredictionsConfig().to_dict()


def get_baseline_predictions(ds: Dataset, *, store: Store | None = None, progress=None) -> dict[str, np.ndarray]:
    """Fit every PCA baseline on the Training rows; cached probabilities on the other rows.

    Returns:
        dict with rows (M,) int64 dataset indices of the non-Training labeled rows, and for each
        baseline name `probs_<name>` (M, 7) float32, `fit_seconds_<name>` and `n_train_<name>`
        (the Training images it was fit on: a stratified sample above `max_train`) scalars.

    Raises:
        ValueError: the dataset has no labeled Training rows or nothing else to score.
    """
    return stages.get(BASELINES, ds, store=store, progress=progress)


def baselines_key(ds: Dataset) -> str:
    """Cache key of :func:`get_baseline_predictions`."""
    return stages.key(BASELINES, ds)
