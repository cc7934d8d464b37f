"""Build every artifact the dashboard pages need, in stages, resuming after an interruption.

    python -m fer_core.prepare --data PATH [--ferplus PATH]

Each stage is a pure function of (dataset, config) whose result the store caches, so a stage
that finished is never redone, and an interrupted run resumes at the first missing stage.
Later features register their stages with :func:`register_stage`.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from tqdm import tqdm

from .config import PCAConfig
from .data import DataError, Dataset, load_dataset
from .eigenfaces import eigenfaces, select_split
from .store import Store


@dataclass(frozen=True)
class Stage:
    """An artifact stage: `key(ds)` gives its cache key, `build(ds, store)` computes and caches it."""

    name: str
    description: str
    key: Callable[[Dataset], str]
    build: Callable[[Dataset, Store], object]


STAGES: dict[str, Stage] = {}


def register_stage(stage: Stage) -> Stage:
    STAGES[stage.name] = stage
    return stage


# ---- eigenfaces ---------------------------------------------------------------------------
def eigenfaces_key(ds: Dataset, config: PCAConfig = PCAConfig()) -> str:
    return Store.key("eigenfaces", config.to_dict(), data_hash=ds.data_hash)


def get_eigenfaces(ds: Dataset, store: Store | None = None, config: PCAConfig = PCAConfig()) -> dict[str, np.ndarray]:
    """Cached :func:`fer_core.eigenfaces.eigenfaces` of `ds` (computed on first call)."""
    store = store or Store()

    def compute():
        m = select_split(ds.split, config.split)
        return eigenfaces(ds.images[m], ds.labels[m], config)

    return store.get_or_compute("eigenfaces", config.to_dict(), compute, data_hash=ds.data_hash,
                                extra_meta={"source": ds.source, "n_images": len(ds)})


register_stage(Stage("eigenfaces", "mean faces, eigenfaces, explained variance (PCA)",
                     lambda ds: eigenfaces_key(ds), lambda ds, st: get_eigenfaces(ds, st)))


# ---- driver -------------------------------------------------------------------------------
def stage_status(ds: Dataset, store: Store | None = None) -> dict[str, bool]:
    """{stage name: artifact present} for every registered stage."""
    store = store or Store()
    return {name: store.exists(name, s.key(ds)) for name, s in STAGES.items()}


def prepare_command(source: str | None, ferplus: str | None = None) -> str:
    """The exact shell command that builds the artifacts for a data source."""
    cmd = "python -m fer_core.prepare"
    if source:
        cmd += f" --data {shlex.quote(str(source))}"
    if ferplus:
        cmd += f" --ferplus {shlex.quote(str(ferplus))}"
    return cmd


def run(ds: Dataset, store: Store | None = None, *, only: list[str] | None = None,
        log=print) -> dict[str, float]:
    """Build the missing artifacts; returns {stage: seconds} (0 for stages already cached)."""
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
        if store.exists(name, stage.key(ds)):
            timings[name] = 0.0
            log(f"[{name}] cached")
            continue
        t0 = time.perf_counter()
        stage.build(ds, store)
        timings[name] = round(time.perf_counter() - t0, 2)
        log(f"[{name}] built in {timings[name]:.1f} s: {stage.description}")
    return timings


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fer_core.prepare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="fer2013.csv[.gz] or image folder (default: bundled sample)")
    p.add_argument("--ferplus", help="fer2013new.csv row-aligned with --data")
    p.add_argument("--only", nargs="*", help=f"stages to build (default: all)")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    try:
        ds = load_dataset(a.data, a.ferplus)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"[dataset] {len(ds)} images loaded in {time.perf_counter() - t0:.1f} s ({ds.source})")
    run(ds, only=a.only)
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
