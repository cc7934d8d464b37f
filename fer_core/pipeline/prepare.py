"""Build every artifact the dashboard pages need, in stages, resuming after an interruption.

    python -m fer_core.prepare --data PATH [--ferplus PATH] [--model NAME] [--threads N]

--model picks the model whose outputs the model stages build (predictions, saliency maps,
embeddings, label errors, robustness): a shipped checkpoint name (the pages offer every shipped
model) or a checkpoint path; by default the default shipped model. Each stage is a registered
fer_core.stages.Stage whose result the store caches under a key of exactly what it reads, so a
stage that finished is never redone, an interrupted run resumes at the first missing stage, and
loading the FER+ votes or not changes only the stages that read them (embedding_stats).
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import time
from collections.abc import Mapping
from contextlib import contextmanager

from tqdm import tqdm

import fer_core.analysis
from fer_core import cli, stages
from fer_core.analysis import eigenfaces
from fer_core.data.dataset import Dataset, load_dataset
from fer_core.models.checkpoint import ModelRef, model_ref
from fer_core.stages import Stage, register
from fer_core.store import Store

# Importing every analysis module registers the stages declared beside their code, so a new stage
# is one object in one file, found here without a line of its own.
for _module in pkgutil.iter_modules(fer_core.analysis.__path__):
    importlib.import_module(f"fer_core.analysis.{_module.name}")

#: prepare's order of the built-in stages; stages registered later (with prepare=True) follow.
ORDER = ("eigenfaces", "predictions", "baselines", "class_maps", "sanity", "projection_umap", "projection_tsne",
         "embedding_stats", "label_errors", "duplicates", "robustness")
#: The maps `python -m fer_core.prepare` builds: the dashboard's default UMAP and t-SNE views.
EMBEDDING_STAGES = {"projection_umap": "umap", "projection_tsne": "tsne"}


class _PrepareStages(Mapping):
    """{name: Stage} of the stages prepare builds, in its order; a live view of the registry, so
    a stage registered later shows here (and on the Home page) without further code."""

    def _names(self) -> list[str]:
        reg = stages.REGISTRY
        rest = [n for n, s in reg.items() if s.prepare and n not in ORDER]
        return [n for n in ORDER if n in reg and reg[n].prepare] + rest

    def __getitem__(self, name: str) -> Stage:
        if name not in self._names():
            raise KeyError(f"unknown stage {name!r}; known: {self._names()}")
        return stages.REGISTRY[name]

    def __iter__(self):
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


STAGES: Mapping[str, Stage] = _PrepareStages()
register_stage = register  # the name earlier code used


# ---- eigenfaces (kept importable from here: the Eigenfaces page and tests use it) ------------
eigenfaces_key = eigenfaces.eigenfaces_key
get_eigenfaces = eigenfaces.get_eigenfaces


# ---- threads --------------------------------------------------------------------------------
def default_threads(cpus: int | None = None) -> int:
    """Threads prepare uses by default: 1 on a machine with 2 or fewer CPUs, else the CPUs less one.

    Measured on a 2-core machine shared with other busy processes (load average 6-8;
    ``python bench/bench_threads.py --threads 1 2``, median of 5): the eigenfaces stage of the
    bundled sample took 0.76 s with 1 thread and 10.6 s with 2, the predictions stage (resnet18,
    1,000 images) 16.2 s and 21.3 s: a second thread on a shared 2-core machine only waits for
    the other core. Above 2 CPUs one is left for the dashboard and the OS.
    """
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 1 if cpus <= 2 else cpus - 1


@contextmanager
def threads(n: int):
    """Run a block with `n` CPU threads for torch's intra-op pool and, when threadpoolctl is
    installed, for the BLAS/OpenMP pools of numpy and scikit-learn; restored afterwards."""
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    import torch
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # torch's own pool only
            yield
            return
        with threadpool_limits(limits=n):
            yield
    finally:
        torch.set_num_threads(old)


# ---- driver -------------------------------------------------------------------------------
def _resolved(model) -> ModelRef | None:
    """The model, resolved once for every stage (None when none is given or shipped: the model
    stages are then disabled)."""
    try:
        return model_ref(model)
    except FileNotFoundError:
        if model:
            raise
        return None


def stage_status(ds: Dataset, store: Store | None = None, *, model: str | ModelRef | None = None) -> dict[str, bool]:
    """{stage name: artifact present} for every stage prepare builds and can build for `ds` (model
    stages: for `model`, None = the default model)."""
    store = store or Store()
    ref = _resolved(model)
    out = {}
    for name, st in STAGES.items():
        if not st.enabled(ds) or (st.uses_model and ref is None):
            continue
        out[name] = stages.exists(st, ds, model=ref if st.uses_model else None, store=store)
    return out


def prepare_command(source: str | None, ferplus: str | None = None, model: str | None = None) -> str:
    """The exact shell command that builds the artifacts for a data source (and a model other
    than the default one)."""
    return cli.command_line("prepare", data=source, ferplus=ferplus, model=model)


def run(ds: Dataset, store: Store | None = None, *, only: list[str] | None = None,
        model: str | ModelRef | None = None, log=print) -> dict[str, float]:
    """Build the missing artifacts; returns {stage: seconds} (0 for stages already cached).
    `model`: shipped name, checkpoint path or ModelRef for the model stages (None = the default
    model), resolved (and hashed) once for the whole run."""
    store = store or Store()
    names = list(only or STAGES)
    unknown = [n for n in names if n not in STAGES]
    if unknown:
        raise ValueError(f"unknown stage(s) {sorted(unknown)}; known: {list(STAGES)}")
    ref = _resolved(model)
    timings = {}
    bar = tqdm(names, desc="prepare", unit="stage", file=sys.stderr)
    for name in bar:
        st = STAGES[name]
        bar.set_postfix_str(name)
        if not st.enabled(ds) or (st.uses_model and ref is None):
            log(f"[{name}] skipped: not available for this dataset")
            continue
        m = ref if st.uses_model else None
        if stages.exists(st, ds, model=m, store=store):
            timings[name] = 0.0
            log(f"[{name}] cached")
            continue
        t0 = time.perf_counter()
        stages.get(st, ds, model=m, store=store)
        timings[name] = round(time.perf_counter() - t0, 2)
        log(f"[{name}] built in {timings[name]:.1f} s: {st.description}")
    return timings


def main(argv: list[str] | None = None) -> int:
    p = cli.command_parser("prepare", __doc__, data=True, ferplus=True, model=True, raw_description=True)
    p.add_argument("--only", nargs="*", help=f"stages to build (default: all: {', '.join(STAGES)})")
    p.add_argument("--threads", type=int, default=0,
                   help=f"CPU threads for torch, numpy and scikit-learn (default 0 = what suits this machine: 1 "
                        f"with 2 or fewer CPUs, else the CPUs less one; here {default_threads()}). On a shared 2-core "
                        "machine 2 threads ran the eigenfaces stage 14x and the predictions stage 1.3x slower "
                        "than 1 (bench/bench_threads.py)")
    a = p.parse_args(argv)
    if a.threads < 0:
        print(f"error: --threads must be 0 (automatic) or more, got {a.threads}", file=sys.stderr)
        return 2
    return cli.run(lambda: _prepare(a))


def _prepare(a) -> int:
    t0 = time.perf_counter()
    try:
        ref = model_ref(a.model) if a.model else None
    except FileNotFoundError as e:
        raise FileNotFoundError(f"--model {a.model}: {e}") from None
    ds = load_dataset(a.data or None, a.ferplus or None)
    print(f"[dataset] {len(ds)} images loaded in {time.perf_counter() - t0:.1f} s ({ds.source})")
    if a.model:
        print(f"[model] {a.model}")
    n = a.threads or default_threads()
    print(f"[threads] {n}")
    with threads(n):
        run(ds, only=a.only, model=ref)
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
