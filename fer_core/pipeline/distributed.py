"""A model's outputs over many images on many machines (Ray Data), and their import into the store.

    python -m fer_core.distributed predictions --engine ray --data PATH --out DIR [--model NAME]
        [--address ADDR] [--num-cpus N] [--batch-size B] [--actors N] [--saliency gradcam] [--import]
    python -m fer_core.distributed import DIR

`predictions` runs the predictions stage's own model math (fer_core.analysis.predictions.
features_and_probs: penultimate features and flip-TTA probabilities) over a data source and writes
Parquet shards: ``DIR/shards/*.parquet`` (columns index, row, probs, features, seconds, and saliency with
--saliency) and ``DIR/manifest.json`` (source, data hash, model name and content hash, the
artifact key, timings). With ``--engine ray`` the work is a Ray Data pipeline: blocks of images ->
``map_batches`` over a fixed pool of actors (``ActorPoolStrategy``), each of which loads the model
once (one GPU per actor when the cluster has GPUs, else one CPU) -> ``write_parquet``.
``--engine local`` runs the same actor class in this process, block by block (no Ray needed).

Data sources: a fer2013.csv[.gz] or an image folder (read on the driver by the reader the app
uses, so the data hash is the app's), or Parquet (a file or a folder of them, with an ``image``
column, fer_core.data.parquet): only the footers are read on the driver, each worker reads its
row groups. `import` checks that every image is there exactly once, that the model file here is
the one that ran, and stores the probabilities and features as the ``predictions`` artifact under
the key ``stages.get("predictions", ds, model=...)`` looks up, so the pages use it as is; the
saliency summaries (``--saliency``) likewise as the ``attention`` artifact
(fer_core.analysis.attention), which the Saliency page ranks faces by.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_core import __version__, cli, stages
from fer_core.analysis.attention import ATTENTION, GRID, saliency_summary
from fer_core.analysis.attribute import METHODS, attribute
from fer_core.analysis.predictions import PREDICTIONS, features_and_probs
from fer_core.config import AttentionConfig, PredictionsConfig
from fer_core.data.dataset import DataError, load_dataset
from fer_core.data.parquet import (
    IMAGE_COLUMN,
    decode_images,
    is_parquet,
    parquet_hash,
    read_row_group,
    row_groups,
)
from fer_core.models.checkpoint import ModelRef, load_checkpoint, model_ref
from fer_core.models.inference import for_inference
from fer_core.store import Store

ENGINES = ("ray", "local")
#: Subfolder of --out with the Parquet shards, and the manifest beside it.
SHARDS, MANIFEST = "shards", "manifest.json"
FORMAT = "fer-predictions-shards/1"
#: Side of the saliency summary grid: Grad-CAM's own resolution on the shipped models (6x6 cells of 8x8 px),
#: the attention stage's default (fer_core.analysis.attention).
SALIENCY_GRID = GRID
_IMAGE_BYTES = 48 * 48


class DistributedError(RuntimeError):
    """The job cannot run or its output cannot be imported (the message says why and what to do)."""


# ---- the source -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """What the job reads: `kind` 'csv' / 'folder' (read here: `images`, `rows`) or 'parquet'
    (`groups`: row groups the workers read, fer_core.data.parquet.row_groups)."""

    path: str
    kind: str
    data_hash: str
    n_images: int
    images: np.ndarray | None = None
    rows: np.ndarray | None = None
    groups: tuple[dict, ...] = ()


def open_source(data: str | os.PathLike | None) -> Source:
    """The job's input: None/'' = the bundled sample, a fer2013.csv[.gz], an image folder, or Parquet.

    Raises:
        DataError: missing path, unreadable file, a Parquet file without an ``image`` column.
    """
    if data and not Path(data).exists():
        raise DataError("file or folder not found", file=data)
    if data and is_parquet(data):
        groups = tuple(row_groups(data))
        return Source(str(data), "parquet", parquet_hash(data), sum(g["rows"] for g in groups), groups=groups)
    ds = load_dataset(data or None, use_cache=False)
    kind = "folder" if data and Path(data).is_dir() else "csv"
    return Source(ds.source, kind, ds.data_hash, len(ds), images=ds.images, rows=ds.row)


def _image_table(index: np.ndarray, row: np.ndarray, images: np.ndarray):
    """A pyarrow block: index, row (int64) and image (2,304 raw bytes per face)."""
    import pyarrow as pa
    flat = pa.py_buffer(np.ascontiguousarray(images, np.uint8).tobytes())
    img = pa.Array.from_buffers(pa.binary(_IMAGE_BYTES), len(images), [None, flat])
    return pa.table({"index": pa.array(index, pa.int64()), "row": pa.array(row, pa.int64()), IMAGE_COLUMN: img})


def blocks(source: Source, batch_size: int) -> list:
    """The units of work, in dataset order: image blocks of `batch_size` rows (pyarrow tables) for
    a source read here; one-row tables naming a row group (file, row_group, offset) for Parquet."""
    import pyarrow as pa
    if source.kind == "parquet":
        return [pa.table({k: [g[k]] for k in ("file", "row_group", "offset")}) for g in source.groups]
    idx = np.arange(source.n_images, dtype=np.int64)
    return [_image_table(idx[i:i + batch_size], source.rows[i:i + batch_size], source.images[i:i + batch_size])
            for i in range(0, source.n_images, batch_size)]


# ---- the work: one model per worker ----------------------------------------------------------------
class Predictor:
    """A worker: loads the model once, then maps blocks to output tables (the Ray actor class).

    Args:
        model: shipped name or checkpoint path, resolved on the worker.
        model_hash: the content hash the driver resolved; a worker whose file differs refuses to run.
        tta: flip-TTA probabilities (as the predictions stage).
        saliency: '' or an attribution method (fer_core.analysis.attribute.METHODS) for the summary.
        threads: torch CPU threads (0 = leave as is).
        batch_size: images per forward pass inside a block.
    """

    def __init__(self, model: str, model_hash: str, *, tta: bool = True, saliency: str = "", threads: int = 0,
                 batch_size: int = 512):
        import torch
        if threads:
            torch.set_num_threads(threads)
        ref = model_ref(model)
        if ref.hash != model_hash:
            raise DistributedError(f"model {model!r} on this worker is {ref.path} (content hash {ref.hash}), not the "
                                   f"driver's checkpoint ({model_hash}): install the same file on every node")
        self.net = for_inference(load_checkpoint(ref)[0])  # the GPU Ray gave this actor, when it has one
        self.tta, self.saliency, self.batch_size = tta, saliency, batch_size

    def __call__(self, batch):
        """A pyarrow table (image block, or row groups to read) -> table of index, row, probs,
        features (float32 lists), saliency (with a method) and seconds (the block's time per image)."""
        import pyarrow as pa
        t0 = time.perf_counter()
        index, row, images = _images_of(batch)
        feats, probs = features_and_probs(self.net, images, tta=self.tta, batch_size=self.batch_size)
        cols = {"index": pa.array(index, pa.int64()), "row": pa.array(row, pa.int64()),
                "probs": _float_lists(probs), "features": _float_lists(feats)}
        if self.saliency:
            maps = attribute(self.net, images, method=self.saliency, batch_size=64)
            cols["saliency"] = _float_lists(saliency_summary(maps))
        # this block's time in the worker, shared out per image: their sum is the work without Ray's overhead
        cols["seconds"] = pa.array(np.full(len(index), (time.perf_counter() - t0) / max(len(index), 1), np.float32))
        return pa.table(cols)


def _images_of(batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if IMAGE_COLUMN in batch.column_names:
        return (np.asarray(batch["index"]), np.asarray(batch["row"]), decode_images(batch[IMAGE_COLUMN]))
    parts = [read_row_group(f, g, o) for f, g, o in zip(*(batch[c].to_pylist() for c in ("file", "row_group", "offset")))]
    return tuple(np.concatenate([p[k] for p in parts]) for k in ("index", "row", "image"))


def _float_lists(a: np.ndarray):
    """(N, D) float32 -> a pyarrow fixed-size list column (plain Parquet: any reader opens it)."""
    import pyarrow as pa
    a = np.ascontiguousarray(a, np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(a.reshape(-1)), a.shape[1])


# ---- engines ----------------------------------------------------------------------------------------
def _run_local(work: list, shards: Path, predictor: dict, log) -> dict:
    import pyarrow.parquet as pq
    import torch
    old = torch.get_num_threads()  # the worker sets this process's threads: restored after
    try:
        worker = Predictor(**predictor, threads=predictor.get("threads") or _default_threads())
        for i, block in enumerate(work):
            pq.write_table(worker(block), shards / f"part-{i:05d}.parquet")
    finally:
        torch.set_num_threads(old)
    return {"workers": 1}


def _default_threads() -> int:
    """fer_core.pipeline.prepare.default_threads's rule (1 thread with 2 or fewer CPUs, else the CPUs
    less one), not imported from there: prepare imports every analysis module, umap and numba too."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 1 if cpus <= 2 else cpus - 1


def _run_ray(work: list, shards: Path, predictor: dict, *, batch_size: int, address: str | None,
             num_cpus: int | None, actors: int, log) -> dict:
    try:
        import ray
        import ray.data
    except ImportError:
        raise DistributedError("--engine ray needs Ray Data: pip install ray==2.60.0 (or use --engine local)") from None
    started = not ray.is_initialized()
    t0 = time.perf_counter()
    if started:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        try:
            ray.init(address=address or None, num_cpus=None if address else num_cpus, include_dashboard=False,
                     log_to_driver=False, logging_level=logging.WARNING)
        except Exception as e:  # noqa: BLE001 - a local Ray that does not start raises a bare Exception
            ray.shutdown()  # stops whatever part of a local Ray did start
            where = f"the Ray cluster at {address}" if address else "a local Ray"
            raise DistributedError(f"could not start or reach {where}: {e} (a local Ray gives its processes 30 s "
                                   "to start: on a busy machine try again, or use --engine local)") from None
    init_s = time.perf_counter() - t0
    try:
        res = ray.cluster_resources()
        gpus, cpus = int(res.get("GPU", 0)), max(1, int(res.get("CPU", 1)))
        n = actors or min(gpus or cpus, len(work))
        log(f"[ray] {cpus} CPUs, {gpus} GPUs; {n} actor(s) with {'1 GPU' if gpus else '1 CPU'} each")
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = sys.stderr.isatty()
        ctx.raise_original_map_exception = True  # a worker's DataError comes back as itself, not wrapped
        ds = ray.data.from_arrow(work)  # one block per unit of work
        ds = ds.map_batches(Predictor, fn_constructor_kwargs={**predictor, "threads": 1 if not gpus else 0},
                            batch_size=None if work and "file" in work[0].column_names else batch_size,
                            batch_format="pyarrow", compute=ray.data.ActorPoolStrategy(size=n),
                            num_cpus=1, num_gpus=1 if gpus else 0)
        try:
            ds.write_parquet(str(shards))
        except Exception as e:
            err = _user_error(e)
            if err is e:
                raise
            raise err from None
        return {"workers": n, "gpus": gpus, "cpus": cpus, "ray_init_seconds": round(init_s, 2),
                "address": address or "local"}
    finally:
        if started:
            ray.shutdown()


def _user_error(e: BaseException) -> BaseException:
    """A worker's own bad-input error (DataError, DistributedError, FileNotFoundError) from inside
    Ray's wrappers (RayTaskError, Ray Data's UserCodeException), else `e` itself."""
    found, seen, cur = e, set(), e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, (DataError, DistributedError, FileNotFoundError)) and \
                not type(cur).__module__.startswith("ray"):
            found = cur
        cause = getattr(cur, "cause", None)
        cur = cause if isinstance(cause, BaseException) else (cur.__cause__ or cur.__context__)
    return found


# ---- the job ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Recorded:
    """A dataset known only by its data hash, for :func:`stages.key`: the predictions stage reads
    only the images, so its input hash is the data hash (fer_core.data.dataset.Dataset.input_hash)."""

    data_hash: str

    def input_hash(self, reads) -> str:
        if "ferplus" in reads:
            raise ValueError("a recorded dataset has no FER+ votes")
        return self.data_hash


def artifact_key(data_hash: str, model: ModelRef, *, tta: bool = True) -> str:
    """The predictions artifact's key for a source of this data hash and this model."""
    return stages.key(PREDICTIONS, _Recorded(data_hash), PredictionsConfig(tta=tta), model=model)


def run_predictions(data: str | os.PathLike | None, out: str | os.PathLike, *, engine: str = "ray",
                    model: str | None = None, address: str | None = None, num_cpus: int | None = None,
                    actors: int = 0, batch_size: int = 512, tta: bool = True, saliency: str = "",
                    log=print) -> dict:
    """Run the model over every image of `data` and write Parquet shards and a manifest to `out`.

    Args:
        data: fer2013.csv[.gz], image folder, .parquet file or folder; None = the bundled sample.
        out: output folder (its ``shards/`` and ``manifest.json`` are replaced).
        engine: 'ray' (Ray Data; a local cluster unless `address`) or 'local' (this process).
        model: shipped name or checkpoint path (None = the default model).
        address: Ray cluster address ('auto', 'ray://host:10001'); None = start a local Ray.
        num_cpus: CPUs of the local Ray (None = all); not with `address`.
        actors: actor pool size (0 = one per GPU, else one per CPU, at most one per block).
        batch_size: images per block (and per map_batches call).
        tta, saliency: as :class:`Predictor`.

    Returns:
        the manifest (dict), also written to ``out/manifest.json``.

    Raises:
        FileNotFoundError: unknown model. DataError: bad data path or file. ValueError: bad options.
        DistributedError: Ray missing, or a worker with another checkpoint.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {batch_size}")
    if actors < 0:
        raise ValueError(f"--actors must be >= 0, got {actors}")
    if saliency and saliency not in METHODS:
        raise ValueError(f"unknown saliency method {saliency!r}; known: {', '.join(METHODS)}")
    if address and num_cpus:
        raise ValueError("--num-cpus sizes a local Ray; a cluster (--address) brings its own CPUs")
    if engine == "local" and (address or num_cpus):
        raise ValueError("--address and --num-cpus are Ray options: use them with --engine ray")
    try:
        ref = model_ref(model)
    except FileNotFoundError as e:
        raise FileNotFoundError(f"--model {model}: {e}" if model else str(e)) from None
    t0 = time.perf_counter()
    source = open_source(data)
    if source.n_images == 0:
        raise DataError("no images", file=source.path)
    read_s = time.perf_counter() - t0
    log(f"[data] {source.n_images:,} images ({source.kind}: {source.path}) in {read_s:.1f} s")
    out = Path(out)
    shards = out / SHARDS
    if shards.exists():
        shutil.rmtree(shards)
    (out / MANIFEST).unlink(missing_ok=True)
    shards.mkdir(parents=True)
    work = blocks(source, batch_size)
    # a checkpoint path travels absolute (a shipped name resolves in each worker's own install)
    predictor = {"model": str(ref.path.resolve()) if Path(ref.name).exists() else ref.name, "model_hash": ref.hash,
                 "tta": tta, "saliency": saliency, "batch_size": batch_size}
    t1 = time.perf_counter()
    info = (_run_local(work, shards, predictor, log) if engine == "local" else
            _run_ray(work, shards, predictor, batch_size=batch_size, address=address, num_cpus=num_cpus,
                     actors=actors, log=log))
    run_s = time.perf_counter() - t1
    work_s = _worker_seconds(shards)
    manifest = {
        "format": FORMAT, "engine": engine, "source": source.path, "source_kind": source.kind,
        "data_hash": source.data_hash, "n_images": source.n_images, "model": ref.name, "model_hash": ref.hash,
        "classes": _classes(ref), "tta": tta, "saliency": saliency, "saliency_grid": SALIENCY_GRID if saliency else 0,
        "batch_size": batch_size, "version": __version__,
        "artifact": {"stage": PREDICTIONS.name, "key": artifact_key(source.data_hash, ref, tta=tta)},
        "read_seconds": round(read_s, 2), "seconds": round(run_s, 2), "worker_seconds": round(work_s, 2),
        "images_per_second": round(source.n_images / run_s, 1) if run_s > 0 else None,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **info}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2))
    log(f"[{engine}] {source.n_images:,} images in {run_s:.1f} s ({manifest['images_per_second']} images/s, "
        f"{info['workers']} worker(s) busy {work_s:.1f} s in all) -> {shards}")
    return manifest


def _worker_seconds(shards: Path) -> float:
    """Seconds the workers spent reading and computing, summed (the shards' `seconds` column)."""
    import pyarrow.parquet as pq
    return float(sum(np.asarray(pq.read_table(f, columns=["seconds"])["seconds"], np.float64).sum()
                     for f in shards.glob("*.parquet")))


def _classes(ref: ModelRef) -> list[str]:
    return list(load_checkpoint(ref)[0].classes)


# ---- import into the store --------------------------------------------------------------------------
def read_shards(out: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """(manifest, arrays in dataset order): probs (N, K) and features (N, D) float32, row (N,)
    int64, and saliency (N, grid*grid) when computed.

    Raises:
        DistributedError: no manifest, no shards, or images missing / repeated (naming them).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    out = Path(out)
    try:
        manifest = json.loads((out / MANIFEST).read_text())
    except FileNotFoundError:
        raise DistributedError(f"{out}: no {MANIFEST} (not the output of `python -m fer_core.distributed "
                               "predictions`, or the job did not finish)") from None
    except ValueError as e:
        raise DistributedError(f"{out / MANIFEST}: not valid JSON ({e})") from None
    if manifest.get("format") != FORMAT:
        raise DistributedError(f"{out / MANIFEST}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    files = sorted((out / SHARDS).glob("*.parquet"))
    if not files:
        raise DistributedError(f"{out / SHARDS}: no .parquet shards")
    t = pa.concat_tables([pq.read_table(f) for f in files])
    n = int(manifest["n_images"])
    index = np.asarray(t["index"]).astype(np.int64)
    counts = np.bincount(index[(index >= 0) & (index < n)], minlength=n)
    missing, repeated = np.flatnonzero(counts == 0), np.flatnonzero(counts > 1)
    if len(missing) or len(repeated) or len(index) != n:
        what = (f"{len(missing)} of {n} images missing (first: index {missing[0]})" if len(missing) else
                f"{len(repeated)} images repeated (first: index {repeated[0]})" if len(repeated) else
                f"{len(index)} rows for {n} images")
        raise DistributedError(f"{out / SHARDS}: {what}; run the job again")
    order = np.argsort(index, kind="stable")
    arrays = {"row": np.asarray(t["row"]).astype(np.int64)[order]}
    for name in ("probs", "features", "saliency"):
        if name in t.column_names:
            col = t[name].combine_chunks()
            arrays[name] = np.asarray(col.flatten()).astype(np.float32).reshape(len(col), -1)[order]
    return manifest, arrays


def import_predictions(out: str | os.PathLike, *, store: Store | None = None, log=print) -> tuple[str, Path]:
    """Store the shards of `out` as the ``predictions`` artifact of their source and model (and,
    when the job computed saliency summaries, as the ``attention`` artifact too).

    The key is the one ``stages.get("predictions", load_dataset(source), model=model)`` computes
    (the stage's config, the data hash, the model's content hash, this package's version), so
    every page loads it instead of running the model.

    Returns:
        (key, artifact folder).

    Raises:
        DistributedError: as :func:`read_shards`; shards of another package version; the model is
            not here or is another file than the one that ran.
    """
    manifest, arrays = read_shards(out)
    if manifest.get("version") != __version__:
        raise DistributedError(f"{out}: written by fer_core {manifest.get('version')}, this is {__version__}: "
                               "artifacts are keyed by version; run the job again with this version")
    try:
        ref = model_ref(manifest["model"])
    except FileNotFoundError as e:
        raise DistributedError(f"{out}: model {manifest['model']!r} is not here ({e})") from None
    if ref.hash != manifest["model_hash"]:
        raise DistributedError(f"{out}: computed with another file for model {manifest['model']!r} (content hash "
                               f"{manifest['model_hash']}, here {ref.hash}); the pages would not use it")
    config = PredictionsConfig(tta=bool(manifest["tta"]))
    key = artifact_key(manifest["data_hash"], ref, tta=config.tta)
    data = {"probs": arrays["probs"], "features": arrays["features"], "classes": np.array(manifest["classes"])}
    folder = stages.put(PREDICTIONS, _Recorded(manifest["data_hash"]), data, config, model=ref, store=store,
                        seconds=manifest.get("seconds"), source=manifest["source"], n_images=int(manifest["n_images"]),
                        extra_meta={"imported_from": str(Path(out).resolve()), "engine": manifest["engine"]})
    log(f"[import] {manifest['n_images']:,} images of {manifest['source']} -> {folder}")
    if "saliency" in arrays and manifest.get("saliency"):  # the attention stage's artifact (Saliency page)
        att = AttentionConfig(method=manifest["saliency"], grid=int(manifest.get("saliency_grid") or GRID))
        afolder = stages.put(ATTENTION, _Recorded(manifest["data_hash"]),
                             {"summary": arrays["saliency"], "classes": data["classes"]}, att, model=ref, store=store,
                             source=manifest["source"], n_images=int(manifest["n_images"]),
                             extra_meta={"imported_from": str(Path(out).resolve()), "engine": manifest["engine"]})
        log(f"[import] {att.method} summaries ({att.grid}x{att.grid}) -> {afolder}")
    return key, folder


# ---- command ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    p = cli.command_parser("distributed", __doc__, raw_description=True)
    sub = p.add_subparsers(dest="job", required=True, metavar="{predictions,import}")
    pp = sub.add_parser("predictions", help="probabilities and features of every image -> Parquet shards")
    pp.add_argument("--engine", choices=ENGINES, default="ray", help="ray: Ray Data (default); local: this process")
    pp.add_argument("--data", default="", help="fer2013.csv[.gz], image folder, or .parquet file/folder with an "
                    "'image' column (default: the bundled sample)")
    pp.add_argument("--out", required=True, help="output folder: shards/*.parquet and manifest.json")
    pp.add_argument("--model", default="", help=cli.COMMON_ARGS["model"])
    pp.add_argument("--address", default="", help="Ray cluster address (e.g. auto, ray://head:10001); "
                    "default: start a local Ray")
    pp.add_argument("--num-cpus", type=int, default=0, help="CPUs of the local Ray (default: all)")
    pp.add_argument("--actors", type=int, default=0, help="actor pool size (default: one per GPU, else per CPU)")
    pp.add_argument("--batch-size", type=int, default=512, help="images per block and per model call")
    pp.add_argument("--tta", action=argparse.BooleanOptionalAction, default=True,
                    help="flip-TTA probabilities (default, what the pages read; --no-tta imports under its own key)")
    pp.add_argument("--saliency", default="", choices=["", *METHODS], metavar="METHOD",
                    help=f"also a per-image saliency summary (6x6 shares of the map) with this method ({', '.join(METHODS)}); Grad-CAM "
                         "takes about as long as the flip-TTA predictions on a CPU (it doubles the job)")
    pp.add_argument("--import", dest="import_", action="store_true",
                    help="then import the shards into the artifact store (cache/ or $FER_CACHE_DIR)")
    ip = sub.add_parser("import", help="store the shards as the predictions artifact the pages read")
    ip.add_argument("out", help="the folder `predictions --out` wrote")
    a = p.parse_args(argv)
    return cli.run(lambda: _main(a), errors=(DistributedError,))


def _main(a) -> int:
    if a.job == "import":
        import_predictions(a.out)
        return 0
    run_predictions(a.data or None, a.out, engine=a.engine, model=a.model or None, address=a.address or None,
                    num_cpus=a.num_cpus or None, actors=a.actors, batch_size=a.batch_size, tta=a.tta,
                    saliency=a.saliency)
    if a.import_:
        import_predictions(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
