"""The stage registry: every cached artifact is one :class:`Stage` object, and one key derivation.

A stage is declared beside its compute code (``fer_core/analysis/<subject>.py``) and registered
with :func:`register`; :func:`get` loads its artifact or computes and stores it, :func:`key` and
:func:`exists` answer without computing. ``python -m fer_core.prepare`` builds every registered
stage (fer_core.pipeline.prepare), and the pages ask the same functions.

The key hashes exactly what the result depends on (:func:`key`): the stage name, its config
(without the model's name), the hash of the dataset inputs the stage `reads`, the model's
content hash when it uses one, and the package version. A stage that does not read the FER+
votes keeps its key whether they are loaded or not; another name or path for the same
checkpoint file gives the same key.

Example (the eigenfaces stage, fer_core/analysis/eigenfaces.py)::

    STAGE = register(Stage("eigenfaces", "mean faces, eigenfaces, explained variance (PCA)",
                           PCAConfig, compute=_compute, reads=("images", "labels", "split")))
    arrays = get("eigenfaces", ds)                 # cached after the first call
    arrays = get(STAGE, ds, PCAConfig(split="all"))
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol

import numpy as np

from fer_core.config import JobConfig
from fer_core.store import Store

#: The dataset inputs a stage can read; the key hashes the ones it declares.
INPUTS = ("images", "labels", "split", "ferplus")

#: compute(ds, config, model, progress, store) -> {name: array}. `model` is a resolved ModelRef
#: (None for a stage without a model); `progress(fraction in [0, 1], text)` or None; `store` to get
#: the stages this one builds on (e.g. ``get("predictions", ds, model=model, store=store)``).
Compute = Callable[..., Mapping[str, Any]]


class ModelLike(Protocol):
    """What a stage needs of a model (fer_core.models.checkpoint.ModelRef)."""

    name: str
    hash: str


def _always(ds) -> bool:
    return True


@dataclass(frozen=True)
class Stage:
    """One cached artifact.

    Attributes:
        name: the store folder (``cache/<name>/<key>/``) and the name prepare prints.
        description: one line for ``prepare`` and the Home page.
        config: its JobConfig subclass; ``config()`` is the default (what prepare builds unless
            `default` is given). A field named ``model`` is not hashed (the model's content hash is).
        compute: ``compute(ds, config, model, progress, store) -> {name: array}`` (see :data:`Compute`).
        reads: the dataset inputs it reads (a subset of :data:`INPUTS`).
        uses_model: True when it reads a model's outputs (the model's content hash is keyed).
        enabled: ``enabled(ds) -> bool``; False: prepare skips it for this dataset.
        key_config: ``key_config(config) -> dict`` when the key must hash more or less than
            ``config.to_dict()`` (e.g. a resolved mode, an algorithm version).
        default: the config prepare builds (None: ``config()``).
        prepare: False for stages computed only on demand (prepare does not build them).
    """

    name: str
    description: str
    config: type[JobConfig]
    compute: Compute
    reads: tuple[str, ...] = ("images", "labels", "split")
    uses_model: bool = False
    enabled: Callable[[Any], bool] = _always
    key_config: Callable[[Any], dict] | None = None
    default: JobConfig | None = None
    prepare: bool = True

    def __post_init__(self):
        unknown = set(self.reads) - set(INPUTS)
        if unknown or not self.reads:
            raise ValueError(f"stage {self.name!r}: reads must be a non-empty subset of {INPUTS}, got {self.reads}")
        object.__setattr__(self, "reads", tuple(sorted(set(self.reads), key=INPUTS.index)))
        if not (isinstance(self.config, type) and issubclass(self.config, JobConfig)):
            raise TypeError(f"stage {self.name!r}: config must be a JobConfig subclass, got {self.config!r}")


#: Every registered stage by name, in registration order (prepare's order).
REGISTRY: dict[str, Stage] = {}
_resolve_model: Callable[[Any], ModelLike] | None = None


def register(stage: Stage) -> Stage:
    """Add `stage` to :data:`REGISTRY` and return it. Registering a name again replaces the entry
    only from the same module (a reload); another module's stage of that name is an error."""
    old = REGISTRY.get(stage.name)
    if old is not None and old.compute.__module__ != stage.compute.__module__:
        raise ValueError(f"stage {stage.name!r} is already registered by {old.compute.__module__}")
    REGISTRY[stage.name] = stage
    return stage


def set_model_resolver(resolve: Callable[[Any], ModelLike]) -> None:
    """Installed by fer_core.models.checkpoint: turns a shipped name, a path or None (the default
    model) into a ModelRef, so :func:`get` and :func:`key` accept what the user typed."""
    global _resolve_model
    _resolve_model = resolve


def stage(name: str | Stage) -> Stage:
    """The registered stage `name` (a Stage passes through).

    Raises:
        KeyError: naming the registered stages.
    """
    if isinstance(name, Stage):
        return name
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown stage {name!r}; registered: {list(REGISTRY)}") from None


def resolve(name: str | Stage, config: JobConfig | None = None, model: Any = None
            ) -> tuple[Stage, JobConfig, ModelLike | None]:
    """(stage, config, model) as :func:`get` uses them: the default config when None; for a stage
    with a model, `model` (or the config's own ``model`` field) resolved once to a ModelRef, None =
    the default model. Key and get both go through here, so they always agree.

    Raises:
        TypeError: `config` is not the stage's config class.
        ValueError: `model` and ``config.model`` name different models.
        FileNotFoundError: the model does not exist (or none is shipped).
    """
    st = stage(name)
    if config is None:
        config = st.default if st.default is not None else st.config()
    if not isinstance(config, st.config):
        raise TypeError(f"stage {st.name!r} takes a {st.config.__name__}, got {type(config).__name__}")
    if not st.uses_model:
        return st, config, None
    own = getattr(config, "model", "") or None
    ref = _model(model if model is not None else own)
    if model is not None and own is not None and _model(own).hash != ref.hash:
        raise ValueError(f"stage {st.name!r}: model={str(model)!r} but config.model={own!r}")
    return st, config, ref


def _model(model: Any) -> ModelLike:
    if hasattr(model, "hash") and hasattr(model, "name"):
        return model
    if _resolve_model is None:
        raise RuntimeError("no model resolver: import fer_core.models.checkpoint first")
    return _resolve_model(model)


def _key_config(st: Stage, config: JobConfig) -> dict:
    d = st.key_config(config) if st.key_config else config.to_dict()
    d.pop("model", None)  # the model enters the key by content hash, never by name or path
    return d


def _input_hash(st: Stage, ds) -> str:
    return ds.input_hash(st.reads)


def key(name: str | Stage, ds, config: JobConfig | None = None, *, model: Any = None) -> str:
    """The artifact's key: hash of (stage name, config without the model name, hash of the
    dataset inputs the stage reads, the model's content hash, package version)."""
    st, config, ref = resolve(name, config, model)
    return Store.key(st.name, _key_config(st, config), data_hash=_input_hash(st, ds),
                     model_hash=ref.hash if ref is not None else "")


def exists(name: str | Stage, ds, config: JobConfig | None = None, *, model: Any = None,
           store: Store | None = None) -> bool:
    """True when the artifact is stored and intact."""
    st = stage(name)
    return (store or Store()).exists(st.name, key(st, ds, config, model=model))


def load(name: str | Stage, ds, config: JobConfig | None = None, *, model: Any = None,
         store: Store | None = None) -> dict[str, np.ndarray] | None:
    """The stored arrays, or None when the artifact has not been computed."""
    st = stage(name)
    return (store or Store()).load(st.name, key(st, ds, config, model=model))


def get(name: str | Stage, ds, config: JobConfig | None = None, *, model: Any = None,
        store: Store | None = None, progress: Callable[[float, str], None] | None = None
        ) -> dict[str, np.ndarray]:
    """The stage's arrays for `ds`: loaded from the store, or computed, stored and returned.

    Args:
        name: a registered stage name or a Stage.
        ds: a fer_core.data.dataset.Dataset (anything with ``input_hash(reads)``).
        config: the stage's config (None: its default).
        model: a ModelRef, a shipped name or a checkpoint path; None = ``config.model`` or the
            default model (stages without a model ignore it).
        store: artifact store (default: cache/).
        progress: ``progress(fraction, text)`` during the computation.
    """
    st, config, ref = resolve(name, config, model)
    store = store or Store()
    data_hash, model_hash = _input_hash(st, ds), (ref.hash if ref is not None else "")
    k = Store.key(st.name, _key_config(st, config), data_hash=data_hash, model_hash=model_hash)
    cached = store.load(st.name, k)
    if cached is not None:
        return cached
    t0 = time.perf_counter()
    arrays = {n: np.asarray(v) for n, v in st.compute(ds, config, ref, progress, store).items()}
    put(st, ds, arrays, config, model=ref, store=store, seconds=time.perf_counter() - t0)
    return arrays


def put(name: str | Stage, ds, arrays: Mapping[str, Any], config: JobConfig | None = None, *, model: Any = None,
        store: Store | None = None, seconds: float | None = None, source: str | None = None,
        n_images: int | None = None, extra_meta: Mapping[str, Any] | None = None):
    """Store `arrays` as the stage's artifact for `ds` under the key :func:`get` looks up, with the
    record every artifact carries (config and model name, inputs read, source, size, compute time),
    and return its folder. :func:`get` stores what it computed through this; an importer of
    results computed elsewhere (fer_core.pipeline.distributed) too, with `source` and `n_images`
    when `ds` is known only by its input hash."""
    st, config, ref = resolve(name, config, model)
    store = store or Store()
    data_hash, model_hash = _input_hash(st, ds), (ref.hash if ref is not None else "")
    k = Store.key(st.name, _key_config(st, config), data_hash=data_hash, model_hash=model_hash)
    named = {"model": ref.name} if ref is not None else {}
    meta = {"compute_seconds": None if seconds is None else round(seconds, 3), "reads": list(st.reads),
            "source": getattr(ds, "source", "") if source is None else source,
            "n_images": len(ds) if n_images is None else n_images, **named, **(extra_meta or {})}
    return store.save(st.name, k, {n: np.asarray(v) for n, v in arrays.items()}, config={**config.to_dict(), **named},
                      data_hash=data_hash, model_hash=model_hash, extra_meta=meta)

