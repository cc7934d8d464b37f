"""Build every artifact the dashboard pages need, in stages, resuming after an interruption.

    python -m fer_core.prepare --data PATH [--ferplus PATH] [--model NAME]

--model picks the model whose outputs the model stages build (predictions, saliency maps,
embeddings, label errors, robustness): a shipped checkpoint name (the pages offer every shipped
model) or a checkpoint path; by default the default shipped model. Each stage is a pure function of (dataset, config) whose result the store caches, so a stage
that finished is never redone, and an interrupted run resumes at the first missing stage.
Later features register their stages with :func:`register_stage`.
"""
from __future__ import annotations

import argparse
import importlib
import shlex
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from tqdm import tqdm

from fer_core.config import PCAConfig
from fer_core.data.dataset import DataError, Dataset, load_dataset
from fer_core.analysis.eigenfaces import eigenfaces, select_split
from fer_core.store import Store


@dataclass(frozen=True)
class Stage:
    """An artifact stage: `key(ds, model)` gives its cache key, `build(ds, store, model)` computes
    and caches it (`model`: shipped name or checkpoint path, None = the default model; stages
    that use no model ignore it)."""

    name: str
    description: str
    key: Callable[[Dataset, str | None], str]
    build: Callable[[Dataset, Store, str | None], object]
    #: False when the stage cannot run for this dataset (e.g. no shipped model); skipped then.
    enabled: Callable[[Dataset], bool] = lambda ds: True


STAGES: dict[str, Stage] = {}


def register_stage(stage: Stage) -> Stage:
    STAGES[stage.name] = stage
    return stage


# ---- eigenfaces ---------------------------------------------------------------------------
def eigenfaces_key(ds: Dataset, config: PCAConfig = PCAConfig()) -> str:
    return Store.key("eigenfaces", config.to_dict(), data_hash=ds.data_hash)


def get_eigenfaces(ds: Dataset, store: Store | None = None, config: PCAConfig = PCAConfig()) -> dict[str, np.ndarray]:
    """Cached :func:`fer_core.analysis.eigenfaces.eigenfaces` of `ds` (computed on first call)."""
    store = store or Store()

    def compute():
        m = select_split(ds.split, config.split)
        return eigenfaces(ds.images[m], ds.labels[m], config)

    return store.get_or_compute("eigenfaces", config.to_dict(), compute, data_hash=ds.data_hash,
                                extra_meta={"source": ds.source, "n_images": len(ds)})


register_stage(Stage("eigenfaces", "mean faces, eigenfaces, explained variance (PCA)",
                     lambda ds, m=None: eigenfaces_key(ds), lambda ds, st, m=None: get_eigenfaces(ds, st)))


# ---- model outputs --------------------------------------------------------------------------
def _has_model(ds: Dataset) -> bool:
    from fer_core.analysis.predictions import default_model
    return default_model() is not None


def _has_splits(ds: Dataset) -> bool:
    return bool(((ds.split == "Training") & (ds.labels >= 0)).sum() >= 20 and
                ((ds.split != "Training") & (ds.split != "")).any())


def _lazy_stage(name: str, description: str, module: str, key: str, build: str,
                enabled: Callable[[Dataset], bool], model_arg: Callable[[str | None], dict] | None = None) -> Stage:
    """Register a stage whose key and build functions live in `fer_core.<module>`, imported on
    first use so `prepare` (and the dashboard's Home) starts without loading torch or Captum.
    `model_arg(model)` gives the keyword arguments that pass the model to both (None: the stage
    uses no model)."""
    def mod():
        return importlib.import_module(f"fer_core.{module}")

    def kw(model):
        return model_arg(model) if model_arg and model else {}
    return register_stage(Stage(name, description, lambda ds, m=None: getattr(mod(), key)(ds, **kw(m)),
                                lambda ds, st, m=None: getattr(mod(), build)(ds, store=st, **kw(m)), enabled))


def _model_kw(model):
    return {"model": model}


def _config_kw(config_name: str, module: str = "config"):
    def kw(model):
        return {"config": getattr(importlib.import_module(f"fer_core.{module}"), config_name)(model=model)}
    return kw


_lazy_stage("predictions", "model's probabilities and features for every image",
            "analysis.predictions", "predictions_key", "get_predictions", _has_model, _model_kw)
_lazy_stage("baselines", "PCA + logistic regression / SVMs / random forest, fit on Training",
            "analysis.predictions", "baselines_key", "get_baseline_predictions", _has_splits)


# ---- saliency (fer_core.analysis.attribute) ----------------------------------------------------------
def _has_model_and_labels(ds: Dataset) -> bool:
    return _has_model(ds) and bool((ds.labels >= 0).any())


_lazy_stage("class_maps", "model's per-class average Grad-CAM maps (correct test images)",
            "analysis.attribute", "class_maps_key", "get_class_maps", _has_model_and_labels, _config_kw("AttributionConfig"))
_lazy_stage("sanity", "saliency sanity check: cascading randomization of the model",
            "analysis.attribute", "sanity_key", "get_sanity", _has_model, _config_kw("SanityConfig"))


# ---- embeddings (default model's features mapped to 2-D; neighbour graph and silhouettes) ---
#: The maps `python -m fer_core.prepare` builds: the dashboard's default UMAP and t-SNE views.
EMBEDDING_STAGES = {"projection_umap": "umap", "projection_tsne": "tsne"}


def _projection_stage(method: str) -> tuple[Callable, Callable]:
    def key(ds, model=None):
        from fer_core.config import ProjectionConfig
        from fer_core.analysis.embed import projection_key
        return projection_key(ds, ProjectionConfig(method=method, dims=2), model=model)

    def build(ds, st, model=None):
        from fer_core.config import ProjectionConfig
        from fer_core.analysis.embed import get_projection
        return get_projection(ds, ProjectionConfig(method=method, dims=2), model=model, store=st)
    return key, build


for _name, _method in EMBEDDING_STAGES.items():
    register_stage(Stage(_name, f"{'UMAP' if _method == 'umap' else 't-SNE'} 2-D map of the model's "
                         "features (Embeddings page)", *_projection_stage(_method), _has_model))


_lazy_stage("embedding_stats", "nearest neighbours, silhouette and kNN label agreement in feature space",
            "analysis.embed", "stats_key", "get_feature_stats", _has_model, _model_kw)
_lazy_stage("label_errors", "out-of-sample probabilities, label-error rankings and the non-face ranking",
            "analysis.label_errors", "label_errors_key", "get_label_errors", _has_model_and_labels,
            _config_kw("LabelErrorConfig", "analysis.label_errors"))
_lazy_stage("duplicates", "near-duplicate groups (re-encoded, shifted, re-lit copies) for the Label errors page",
            "analysis.duplicates", "near_duplicates_key", "get_near_duplicates", lambda ds: len(ds) > 1)


# ---- robustness (fer_core.analysis.robustness) -------------------------------------------------------
def _has_model_and_test_split(ds: Dataset) -> bool:
    return _has_model(ds) and bool(((ds.split == "PrivateTest") & (ds.labels >= 0)).any())


_lazy_stage("robustness", "model's accuracy under Gaussian noise, blur, JPEG, low contrast, eye and "
            "mouth occlusion and FGSM on PrivateTest (3 repeats)", "analysis.robustness", "default_sweep_key",
            "get_default_sweep", _has_model_and_test_split, _model_kw)


# ---- driver -------------------------------------------------------------------------------
def stage_status(ds: Dataset, store: Store | None = None, *, model: str | None = None) -> dict[str, bool]:
    """{stage name: artifact present} for every registered stage (model stages: for `model`,
    None = the default model)."""
    store = store or Store()
    return {name: store.exists(name, s.key(ds, model)) for name, s in STAGES.items() if s.enabled(ds)}


def prepare_command(source: str | None, ferplus: str | None = None, model: str | None = None) -> str:
    """The exact shell command that builds the artifacts for a data source (and a model other
    than the default one)."""
    cmd = "python -m fer_core.prepare"
    if source:
        cmd += f" --data {shlex.quote(str(source))}"
    if ferplus:
        cmd += f" --ferplus {shlex.quote(str(ferplus))}"
    if model:
        cmd += f" --model {shlex.quote(str(model))}"
    return cmd


def run(ds: Dataset, store: Store | None = None, *, only: list[str] | None = None, model: str | None = None,
        log=print) -> dict[str, float]:
    """Build the missing artifacts; returns {stage: seconds} (0 for stages already cached).
    `model`: shipped name or checkpoint path for the model stages (None = the default model)."""
    store = store or Store()
    names = only or list(STAGES)
    unknown = set(names) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown stage(s) {sorted(unknown)}; known: {list(STAGES)}")
    timings = {}
    bar = tqdm(names, desc="prepare", unit="stage", file=sys.stderr)
    for name in bar:
        stage = STAGES[name]
        bar.set_postfix_str(name)
        if not stage.enabled(ds):
            log(f"[{name}] skipped: not available for this dataset")
            continue
        if store.exists(name, stage.key(ds, model)):
            timings[name] = 0.0
            log(f"[{name}] cached")
            continue
        t0 = time.perf_counter()
        stage.build(ds, store, model)
        timings[name] = round(time.perf_counter() - t0, 2)
        log(f"[{name}] built in {timings[name]:.1f} s: {stage.description}")
    return timings


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fer_core.prepare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="fer2013.csv[.gz] or image folder (default: bundled sample)")
    p.add_argument("--ferplus", help="fer2013new.csv row-aligned with --data")
    p.add_argument("--only", nargs="*", help=f"stages to build (default: all)")
    p.add_argument("--model", help="shipped model name or checkpoint path for the model stages (default: the "
                                   "default shipped model)")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    if a.model:
        from fer_core.models.checkpoint import resolve_checkpoint
        try:
            resolve_checkpoint(a.model)
        except FileNotFoundError as e:
            print(f"error: --model {a.model}: {e}", file=sys.stderr)
            return 2
    try:
        ds = load_dataset(a.data, a.ferplus)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"[dataset] {len(ds)} images loaded in {time.perf_counter() - t0:.1f} s ({ds.source})")
    if a.model:
        print(f"[model] {a.model}")
    run(ds, only=a.only, model=a.model)
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
