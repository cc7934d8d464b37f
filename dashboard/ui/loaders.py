"""Cached loaders: one generic loader for the engine's artifacts, the model loader, and
:func:`cache_data` for small results derived on a page.

Artifacts (predictions (N, K) + (N, D), features, maps, rankings, sweeps...) are large and
read-only, so :func:`artifact` holds each ONCE per server for every browser session
(``st.cache_resource``), its arrays made read-only so no session can change the shared copy.
(``st.cache_data`` would hand each call, and so each open tab, its own unpickled copy: on the full
FER2013 each Embeddings tab added 55-65 MB to the server.) The loader only calls the engine's
``get_*`` functions; what an artifact is and how it is keyed stays in ``fer_core``.

Example:
    pred = ui.artifact("predictions", ds, model=model)      # {"probs", "features", "classes"}
    if not ui.artifact_cached("projection", ds, model=model, config=cfg): ...
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import streamlit as st

from dashboard.ui.source import store
from fer_core import stages
from fer_core.data.dataset import Dataset
from fer_core.store import Store


def _dataset_token(ds: Dataset) -> str:
    # Everything loaded (data and FER+ votes) identifies a Dataset in the dashboard's caches:
    # data_hash leaves the FER+ votes out (stages that do not read them keep their keys), but a
    # page's cached result may read them (e.g. the FER+ silhouettes of the feature statistics).
    return ds.cache_token


#: Hash a Dataset argument by its content hash (its arrays are never hashed or pickled).
HASH_FUNCS = {Dataset: _dataset_token}


def cache_data(**kw):
    """``st.cache_data`` for small derived results, with Dataset arguments hashed by content
    (``hash_funcs``), so no function takes a ``_ds, data_hash`` pair. Each call returns a copy."""
    return st.cache_data(hash_funcs=HASH_FUNCS, **kw)


# ---- artifacts ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Loader:
    """How the dashboard gets one kind of artifact from the engine.

    Attributes:
        load: ``load(ds, store, **options)`` -> dict of arrays (computed and stored when missing),
            or None from a loader that only loads, when the artifact is not built (None is not
            cached: the next call looks again). Loaders that can compute take ``progress=``.
        key: ``key(ds, **options)`` -> (stage, cache key), for :func:`artifact_cached`; None when
            there is no such question.
        spinner: shown while it loads or computes (after 0.5 s; a cache hit shows nothing).
    """

    load: Callable[..., Any]
    key: Callable[..., tuple[str, str]] | None = None
    spinner: str = "Loading..."


def _model_key(stage: str, module: str):
    """key(ds, model=...) -> (stage, key) of a stage's default config, its module imported first
    (importing it registers the stage)."""
    def key(ds, *, model):
        importlib.import_module(module)
        return stage, stages.key(stage, ds, model=model)
    return key


def _predictions(ds, store, *, model, progress=None):
    from fer_core.analysis.predictions import get_predictions
    return get_predictions(ds, model, store=store, progress=progress)


def _projection(ds, store, *, model, config, progress=None):
    from fer_core.analysis.embed import get_projection
    return get_projection(ds, config, model=model, store=store, progress=progress)


def _projection_key(ds, *, model, config):
    from fer_core.analysis.embed import projection_key, projection_stage
    return projection_stage(config), projection_key(ds, config, model)


def _feature_stats(ds, store, *, model, progress=None):
    from fer_core.analysis.embed import get_feature_stats
    return get_feature_stats(ds, model, store=store, progress=progress)


def _baselines(ds, store):
    from fer_core.analysis.predictions import get_baseline_predictions
    return get_baseline_predictions(ds, store=store)


def _baselines_key(ds):
    from fer_core.analysis.predictions import baselines_key
    return "baselines", baselines_key(ds)


def _label_errors(ds, store, *, model, progress=None):
    from fer_core.analysis.label_errors import LabelErrorConfig, get_label_errors
    return get_label_errors(ds, LabelErrorConfig(model=model), store=store, progress=progress)


def _class_maps(ds, store, *, model, method):
    from fer_core.analysis.attribute import get_class_maps
    from fer_core.config import AttributionConfig
    return get_class_maps(ds, AttributionConfig(model=model, method=method), store=store)


def _attention(ds, store, *, model, progress=None):
    from fer_core.analysis.attention import get_attention
    return get_attention(ds, model, store=store, progress=progress)


def _duplicate_groups(ds, store, *, kind):
    from fer_core.analysis.duplicates import duplicate_groups
    return {"groups": duplicate_groups(ds, kind=kind, store=store)}


def _eigenfaces(ds, store):
    from fer_core.pipeline.prepare import get_eigenfaces
    return get_eigenfaces(ds, store)


def _sweep(ds, store, *, corruption, config, model):
    from fer_core.analysis.robustness import load_sweep
    return load_sweep(ds, corruption, config, model=model, store=store)


#: name -> Loader. One entry per kind of artifact a page shows.
LOADERS: dict[str, Loader] = {
    "predictions": Loader(_predictions, _model_key("predictions", "fer_core.analysis.predictions"), "Running the model over every image (cached afterwards)..."),
    "projection": Loader(_projection, _projection_key, "Loading the map..."),
    "feature_stats": Loader(_feature_stats, _model_key("embedding_stats", "fer_core.analysis.embed"),
                            "Nearest neighbours and silhouettes in feature space (cached afterwards)..."),
    "baselines": Loader(_baselines, _baselines_key, "Fitting PCA baselines on the Training split (cached afterwards)..."),
    "label_errors": Loader(_label_errors, _model_key("label_errors", "fer_core.analysis.label_errors"), "Ranking likely label errors..."),
    "class_maps": Loader(_class_maps, None, "Averaging maps over the correctly classified test images "
                                            "(cached afterwards)..."),
    "attention": Loader(_attention, _model_key("attention", "fer_core.analysis.attention"), "Summing the model's Grad-CAM map of every image over a grid..."),
    "duplicate_groups": Loader(_duplicate_groups, None, "Finding duplicate images..."),
    "eigenfaces": Loader(_eigenfaces, None, "Computing eigenfaces (about 1 s on the sample, 20 s on the full "
                                            "FER2013; cached afterwards)..."),
    "sweep": Loader(_sweep, None, "Loading the sweep..."),  # None when not computed (robustness page)
}


class _NotBuilt(Exception):
    """Raised inside the cached function so that a missing artifact is not cached."""


def _read_only(value):
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, dict):
        for v in value.values():
            _read_only(v)
    return value


@st.cache_resource(show_spinner=False, max_entries=48, hash_funcs=HASH_FUNCS)
def _shared(name: str, ds: Dataset, cache_root: str, options: tuple) -> dict:
    out = LOADERS[name].load(ds, Store(cache_root), **dict(options))
    if out is None:
        raise _NotBuilt
    return _read_only(out)


def artifact(name: str, ds: Dataset, *, spinner: bool = True, **options) -> dict | None:
    """The artifact `name` of :data:`LOADERS` for `ds` (computed and stored on first use), held
    once per server and shared by every session.

    Args:
        name: a key of :data:`LOADERS` ("predictions", "projection", "label_errors", ...).
        ds: the dataset.
        spinner: show the loader's spinner while it loads (False inside another cached function).
        **options: that loader's options (model, config, ...), hashable or Streamlit-hashable.

    Returns:
        dict of read-only arrays (shared: never mutate it or its arrays; copy first), or None
        for a loader that only loads ("sweep") when it is not built.
    """
    if name not in LOADERS:
        raise ValueError(f"unknown artifact {name!r}; known: {list(LOADERS)}")
    args = (name, ds, str(store().root), tuple(sorted(options.items())))
    try:
        if not spinner:
            return _shared(*args)
        with st.spinner(LOADERS[name].spinner):  # transient: drawn only if the call takes over 0.5 s
            return _shared(*args)
    except _NotBuilt:
        return None


def artifact_cached(name: str, ds: Dataset, **options) -> bool:
    """True when the artifact `name` with these options is in the artifact store (nothing computed)."""
    if LOADERS[name].key is None:
        raise ValueError(f"artifact {name!r} has no cache key to ask about")
    stage, key = LOADERS[name].key(ds, **options)
    return store().exists(stage, key)


def compute_artifact(name: str, ds: Dataset, *, progress=None, **options) -> None:
    """Build a missing artifact now, reporting to `progress(fraction, text)` (a progress bar
    cannot live inside a cached function); :func:`artifact` then loads it."""
    LOADERS[name].load(ds, store(), progress=progress, **options)


# ---- models ------------------------------------------------------------------------------------
@st.cache_resource(show_spinner="Loading the model...", max_entries=4)
def load_model(model: str):
    """A shipped model, loaded once per process (read-only: attribution leaves its weights alone)."""
    from fer_core.models.checkpoint import load_checkpoint
    return load_checkpoint(model)[0]


@st.cache_resource(max_entries=8)
def checkpoint_info(model: str) -> dict:
    """A checkpoint's stored fields (history, config, metrics), without the weights."""
    from fer_core.models.checkpoint import load_checkpoint
    from fer_core.models.registry import count_params
    net, info = load_checkpoint(model)
    return {**info, "n_params": count_params(net)}


def shipped_models() -> list[str]:
    """Shipped checkpoint names, default model first."""
    from fer_core.analysis.predictions import default_model
    from fer_core.models.checkpoint import shipped_checkpoints
    names = shipped_checkpoints()
    d = default_model()
    return ([d] if d else []) + [n for n in names if n != d]


def require_models() -> list[str]:
    """shipped_models(); when there is none, say how to train one and stop the page."""
    models = shipped_models()
    if not models:
        st.warning("No trained model is shipped in `fer_core/models/weights/`. Train one with `python -m fer_core.train "
                   "--data fer2013.csv.gz --model compact --out fer_core/models/weights/compact.pt`.")
        st.stop()
    return models
