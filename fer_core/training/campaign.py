"""One prepared command that trains several models side by side on one machine, each inside its
own time budget, and packs what they made into a few files.

Made for a GPU that is lent rarely and briefly (one H200 for about 15 minutes, at most 10 per
command, at most 8 files back): everything the run needs is here and tested on the CPU with tiny
budgets (``tests/test_campaign.py``), so the GPU run is never the first run of this code::

    python -m fer_core.campaign --plan gpu --pack .gpu --out "$OUT" --deadline 540

What it guarantees:
- every job is its own process (``python -m fer_core.train ... --time-budget S``) with its own log;
  a job that crashes takes no other down, and a job that depends on it (a student on its
  teacher) still runs, without the teacher, saying so;
- a job past its budget plus a grace period is stopped, and its best epoch so far is recovered
  from the ``.last.ckpt`` that training rewrites after every epoch;
- the whole run ends by ``--deadline`` seconds after it started, whatever the jobs do;
- the results are packed into at most 8 files of at most 15 MiB each (the device's limits:
  8 files of 16 MiB), with ``summary.json`` (every job's status, metrics, epochs, pace) and
  ``logs.tar.gz`` (every job's log) always among them.

Only numpy, torch, scikit-learn, pandas and tqdm are imported on the way (the GPU machine has no
captum, streamlit, umap or cleanlab).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

__all__ = ["Job", "train_job", "PLANS", "run_campaign", "pack_outputs", "salvage_best", "main"]

MiB = 1 << 20
#: what comes back from the device: at most this many files, each at most this large
MAX_FILES, MAX_FILE_BYTES = 8, 15 * MiB


@dataclass
class Job:
    """One process of a campaign.

    Attributes:
        name: file-safe name (its checkpoint is ``models/<name>.pt``, its log ``logs/<name>.log``).
        argv: the command after the python executable; ``{out}`` is replaced with the checkpoint
            path, ``{budget}`` with the time budget given to it, ``{ckpt:<job>}`` with another
            job's checkpoint (that job then runs first).
        budget: seconds of training it asks for (the time budget passed as ``{budget}``).
        grace: seconds it may run past `budget` (start-up, final scoring) before it is stopped.
        optional_args: pairs of argv items dropped when the job they name failed (a student
            trains without its teacher rather than not at all).
        keep: pack its checkpoint ("fp16" as trained, "int8" converted, "" not at all).
    """

    name: str
    argv: list[str]
    budget: float
    grace: float = 60.0
    keep: str = "fp16"
    after: list[str] = field(default_factory=list)
    # filled in while running
    status: str = "waiting"
    note: str = ""
    started: float | None = None
    ended: float | None = None
    returncode: int | None = None


def train_job(name: str, budget: float, *train_args: str, teacher: str = "", keep: str = "fp16",
              grace: float = 60.0) -> Job:
    """A ``python -m fer_core.train`` job with a time budget; `teacher`: the job whose checkpoint
    it distils (it starts when that one has finished)."""
    argv = ["-m", "fer_core.train", *train_args, "--time-budget", "{budget}", "--out", "{out}", "--no-progress"]
    after = []
    if teacher:
        argv += ["--teacher", f"{{ckpt:{teacher}}}"]
        after.append(teacher)
    return Job(name, argv, budget, grace=grace, keep=keep, after=after)


def _gpu_plan(data_args: list[str], scale: float, extra: list[str], grace: float) -> list[Job]:
    """The H200 plan; budgets in seconds, the whole run fits 540 s (unpacking and packing included).

    From the start: a ResNet-18 teacher (FER2013, 280 s), the FER+ model (ResNet-18 at half width
    on the vote distributions, 440 s) and five K-fold models (half-width ResNet-18, 430 s each) for
    out-of-fold probabilities. When the teacher has finished: the shipped default candidate
    (half-width ResNet-18) and `compact`, both distilled from it (150 s each). Epoch caps are
    generous: each job's time budget sets its schedule.
    """
    s, g = scale, {"grace": grace}
    common = [*data_args, "--threads", "2", *extra]
    half = ["--model", "resnet18", "--width", "0.5", "--epochs", "600"]
    jobs = [
        train_job("teacher7", 280 * s, "--model", "resnet18", "--epochs", "600", "--batch-size", "256",
                  "--label-smoothing", "0.1", *common, keep="int8", **g),
        train_job("ferplus", 440 * s, *half, "--label-set", "ferplus", "--ferplus-target", "distribution",
                  *common, **g),
        train_job("resnet18h", 150 * s, *half, *common, teacher="teacher7", **g),
        train_job("compact", 150 * s, "--model", "compact", "--epochs", "600", *common, teacher="teacher7", **g),
    ]
    for f in range(5):
        jobs.append(train_job(f"fold{f}", 430 * s, *half, "--folds", "5", "--fold", str(f), *common, keep="", **g))
    return jobs


#: plan name -> (data args ["--data", csv, "--ferplus", csv], budget scale, extra train args, grace) -> jobs
PLANS: dict[str, Callable[[list[str], float, list[str], float], list[Job]]] = {"gpu": _gpu_plan}


# --------------------------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------------------------
def _argv(job: Job, jobs: dict[str, Job], models: Path) -> list[str]:
    """The job's command line with its placeholders filled; a failed dependency's option pair is
    dropped (and noted)."""
    out, argv = [], list(job.argv)
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("{ckpt:"):
            dep = a[6:-1]
            ckpt = models / f"{dep}.pt"
            if jobs[dep].status != "ok" or not ckpt.is_file():
                job.note = (job.note + "; " if job.note else "") + f"{out.pop()} dropped: {dep} {jobs[dep].status}"
                i += 1
                continue
            a = str(ckpt)
        out.append(a.replace("{out}", str(models / f"{job.name}.pt")).replace("{budget}", f"{job.budget:.1f}"))
        i += 1
    return out


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the job's process group, then SIGKILL after 10 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def salvage_best(last_ckpt: Path, out: Path) -> bool:
    """Write the best epoch held in a stopped run's ``.last.ckpt`` as an ordinary checkpoint
    `out` (metrics: only the selection, marked salvaged). False when there is nothing to salvage."""
    from fer_core.models.checkpoint import load_training_state, save_checkpoint
    from fer_core.models.registry import create_model
    try:
        ck = load_training_state(last_ckpt)
    except (FileNotFoundError, ValueError):
        return False
    best = ck["train_state"]["best"]
    model = create_model(ck["model_name"], num_classes=int(ck["num_classes"]), **ck["model_kwargs"])
    model.load_state_dict(best["state"])
    metrics = {"selection": {"epoch": int(best["epoch"]), "val_acc": float(best["score"])},
               "salvaged": f"stopped after epoch {ck['train_state']['epoch']}; best epoch {best['epoch']}"}
    save_checkpoint(out, model, model_name=ck["model_name"], model_kwargs=ck["model_kwargs"],
                    label_set=ck["label_set"], normalization=ck["normalization"], train_config=ck["train_config"],
                    history=ck["history"], metrics=metrics, data_hash=ck.get("data_hash", ""))
    return True


def run_campaign(jobs: list[Job], workdir: Path, *, deadline: float, env: dict | None = None,
                 log: Callable[[str], None] = print, poll: float = 0.5) -> list[Job]:
    """Run `jobs` as parallel processes until all are done or `deadline` seconds have passed.

    A job starts once the jobs in its ``after`` list have ended (ok or not); its budget is cut
    to what is left before the deadline. A job past budget + grace, or running at the deadline,
    is stopped and its best epoch salvaged. Writes ``workdir/models/<job>.pt`` and
    ``workdir/logs/<job>.log``.

    Returns:
        the jobs with status ("ok", "ok (salvaged)", "failed (exit N)", "stopped", "skipped: ...")
        and times filled in.
    """
    t0 = time.monotonic()
    models, logs = workdir / "models", workdir / "logs"
    models.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    by_name = {j.name: j for j in jobs}
    unknown = [(j.name, d) for j in jobs for d in j.after if d not in by_name]
    if unknown:
        raise ValueError(f"jobs depend on jobs not in the plan: {unknown}")
    running: dict[str, tuple[subprocess.Popen, float]] = {}
    env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}

    def finish(job: Job, status: str, code: int | None) -> None:
        job.status, job.returncode, job.ended = status, code, time.monotonic() - t0
        ckpt = models / f"{job.name}.pt"
        if status != "ok" and not ckpt.is_file() and salvage_best(models / f"{job.name}.last.ckpt", ckpt):
            job.status = f"{status}, best epoch salvaged"
        log(f"[campaign {job.ended:6.1f}s] {job.name}: {job.status}")

    while True:
        now = time.monotonic() - t0
        left = deadline - now
        for name, (proc, hard) in list(running.items()):
            job = by_name[name]
            code = proc.poll()
            if code is not None:
                del running[name]
                ok = code == 0 and (models / f"{name}.pt").is_file()
                finish(job, "ok" if ok else f"failed (exit {code})", code)
            elif now > hard or left < 5:
                _stop(proc)
                del running[name]
                finish(job, "stopped (over its time)" if now > hard else "stopped (campaign deadline)", None)
        for job in jobs:
            if job.status != "waiting" or any(by_name[d].status in ("waiting", "running") for d in job.after):
                continue
            room = left - job.grace - 5
            if room < max(0.5 * job.budget, 2.0):  # less than half its budget left: not worth starting
                job.status, job.ended = f"skipped: {left:.0f} s left before the deadline", now
                log(f"[campaign {now:6.1f}s] {job.name}: {job.status}")
                continue
            if room < job.budget:
                job.note = (job.note + "; " if job.note else "") + f"budget cut from {job.budget:.0f} s to {room:.0f} s"
                job.budget = room
            argv = [sys.executable, *_argv(job, by_name, models)]
            logf = open(logs / f"{job.name}.log", "w")  # noqa: SIM115 (the child owns it; closed with the process)
            logf.write("$ " + " ".join(argv) + "\n" + (f"# {job.note}\n" if job.note else ""))
            logf.flush()
            proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, env=env, start_new_session=True)
            logf.close()
            job.status, job.started = "running", now
            running[job.name] = (proc, now + job.budget + job.grace)
            log(f"[campaign {now:6.1f}s] {job.name}: started (budget {job.budget:.0f} s)"
                + (f"; {job.note}" if job.note else ""))
        if not running and all(j.status != "waiting" for j in jobs):
            break
        time.sleep(poll)
    return jobs


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------
def job_summary(job: Job, models: Path) -> dict:
    """What a job did: status, times, and from its checkpoint the metrics, epochs and pace."""
    d = {"name": job.name, "status": job.status, "note": job.note, "started_s": job.started, "ended_s": job.ended,
         "returncode": job.returncode, "budget_s": job.budget}
    ckpt = models / f"{job.name}.pt"
    if ckpt.is_file():
        import torch
        c = torch.load(ckpt, map_location="cpu", weights_only=True)
        m, hist = c.get("metrics", {}), c.get("history", [])
        n_train = m.get("n_train")
        secs = sum(h.get("seconds", 0) for h in hist)
        d.update(model_name=c["model_name"], model_kwargs=c["model_kwargs"], label_set=c["label_set"],
                 epochs=len(hist), train_seconds=secs, metrics=m,
                 images_per_second=(n_train * len(hist) / secs) if n_train and secs else None,
                 bytes_fp16=ckpt.stat().st_size)
    return d


def pack_outputs(workdir: Path, out: Path, jobs: list[Job], summary: dict) -> list[Path]:
    """Pack a campaign's results into at most MAX_FILES files of at most MAX_FILE_BYTES in `out`:
    summary.json, logs.tar.gz, oof.npy (when every fold ran), and the kept checkpoints (int8
    where the job asks for it) in tar files filled up to the size limit, largest first. What does
    not fit is listed in summary.json under "left_out"."""
    out.mkdir(parents=True, exist_ok=True)
    models = workdir / "models"
    files: list[Path] = []
    with tarfile.open(out / "logs.tar.gz", "w:gz") as t:
        t.add(workdir / "logs", arcname="logs")
    files.append(out / "logs.tar.gz")
    folds = sorted(models.glob("fold*.oof.npz"))
    if folds:
        import numpy as np

        from fer_core.training.folds import merge_oof
        try:
            probs, info = merge_oof(folds)
            np.save(out / "oof.npy", probs)
            files.append(out / "oof.npy")
            summary["oof"] = info
        except ValueError as e:
            summary["oof"] = {"error": str(e)}
            for f in folds:  # each fold's part comes back in the model tars instead
                shutil.copy(f, workdir / f.name)
    keep = []
    for job in jobs:
        ckpt = models / f"{job.name}.pt"
        if job.keep and ckpt.is_file():
            if job.keep == "int8":
                try:
                    from fer_core.models.quantize import convert
                    q = models / f"{job.name}.int8.pt"
                    convert(ckpt, q, weights="int8")
                    ckpt = q
                except (ImportError, ValueError) as e:
                    summary.setdefault("notes", []).append(f"{job.name}: int8 conversion failed ({e}); fp16 kept")
            keep.append(ckpt)
    keep += sorted(workdir.glob("fold*.oof.npz"))
    keep.sort(key=lambda p: -p.stat().st_size)
    bins: list[list[Path]] = []
    sizes: list[int] = []
    left_out = []
    room = MAX_FILES - len(files) - 1  # summary.json comes last
    for p in keep:  # first fit, largest first
        sz = p.stat().st_size + 4096
        i = next((i for i, s in enumerate(sizes) if s + sz <= MAX_FILE_BYTES), None)
        if i is None and len(bins) < room and sz <= MAX_FILE_BYTES:
            bins.append([])
            sizes.append(0)
            i = len(bins) - 1
        if i is None:
            left_out.append(f"{p.name} ({p.stat().st_size / MiB:.1f} MiB)")
            continue
        bins[i].append(p)
        sizes[i] += sz
    for i, b in enumerate(bins):
        with tarfile.open(out / f"models{i}.tar", "w") as t:
            for p in b:
                t.add(p, arcname=p.name)
        files.append(out / f"models{i}.tar")
    summary["left_out"] = left_out
    summary["files"] = {f.name: f.stat().st_size for f in files}
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    files.append(out / "summary.json")
    return files


def _unpack(pack: Path, dest: Path, log) -> list[str]:
    """Unpack the FER2013 data pack (``fer2013_pack.py unpack``) into `dest`; the train args."""
    t = time.monotonic()
    script = pack / "fer2013_pack.py"
    if not script.is_file():
        raise FileNotFoundError(f"{script} not found: copy ../shared/tools/fer2013_pack.py into the pack folder")
    subprocess.run([sys.executable, str(script), "unpack", str(pack), str(dest), "--npz"], check=True)
    log(f"[campaign] unpacked {pack} in {time.monotonic() - t:.1f} s")
    return ["--data", str(dest / "fer2013.csv"), "--ferplus", str(dest / "fer2013new.csv")]


def main(argv: list[str] | None = None) -> int:
    from fer_core import cli

    p = argparse.ArgumentParser(prog="python -m fer_core.campaign", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--plan", default="gpu", choices=sorted(PLANS), help="which jobs to run")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--pack", help="folder with the FER2013 data pack and fer2013_pack.py (unpacked first)")
    src.add_argument("--data", help="fer2013.csv[.gz] (with --ferplus)")
    p.add_argument("--ferplus", default="", help="fer2013new.csv, with --data")
    p.add_argument("--out", required=True, help="folder for the packed results (at most 8 files)")
    p.add_argument("--workdir", default="", help="scratch folder (default: <out>/../campaign-work)")
    p.add_argument("--deadline", type=float, default=540, help="seconds after which everything is stopped")
    p.add_argument("--time-scale", type=float, default=1.0, help="multiply every job's budget (tests: 0.02)")
    p.add_argument("--grace", type=float, default=45, help="seconds a job may run past its budget (start-up, "
                   "final scoring) before it is stopped")
    p.add_argument("--train-args", default="", help="extra arguments for every training job, e.g. "
                   "'--max-train-images 300' for a CPU test")
    a = p.parse_args(argv)

    def run() -> int:
        t0 = time.monotonic()
        out = Path(a.out)
        work = Path(a.workdir) if a.workdir else out.resolve().parent / "campaign-work"
        (work / "logs").mkdir(parents=True, exist_ok=True)
        logfile = open(work / "logs" / "campaign.log", "a")  # noqa: SIM115 (open for the whole run)

        def log(msg: str) -> None:
            print(msg, flush=True)
            logfile.write(msg + "\n")
            logfile.flush()
        env = {"FER_CACHE_DIR": str(work / "cache")}
        os.environ.update(env)
        if a.pack:
            data_args = _unpack(Path(a.pack), work / "data", log)
        else:
            data_args = ["--data", a.data] + (["--ferplus", a.ferplus] if a.ferplus else [])
        from fer_core.data.dataset import load_dataset  # parse once; every job then reads the cache
        ds = load_dataset(data_args[1], data_args[3] if len(data_args) > 3 else None)
        log(f"[campaign] {len(ds):,} images ready in {time.monotonic() - t0:.1f} s")
        jobs = PLANS[a.plan](data_args, a.time_scale, a.train_args.split(), a.grace)
        left = a.deadline - (time.monotonic() - t0) - 25  # packing
        monitor = None
        if shutil.which("nvidia-smi"):  # GPU load every 5 s, for planning the next run
            monitor = subprocess.Popen(["nvidia-smi", "--query-gpu=timestamp,utilization.gpu,memory.used",
                                        "--format=csv", "-l", "5"], stdout=open(work / "logs" / "gpu.csv", "w"),
                                       stderr=subprocess.DEVNULL)
        try:
            run_campaign(jobs, work, deadline=left, env=env, log=log)
        finally:
            if monitor is not None:
                monitor.terminate()
        import torch
        summary = {"plan": a.plan, "time_scale": a.time_scale, "deadline_s": a.deadline,
                   "torch": torch.__version__, "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available()
                   else None, "jobs": [job_summary(j, work / "models") for j in jobs]}
        logfile.close()
        files = pack_outputs(work, out, jobs, summary)
        print(f"[campaign] done in {time.monotonic() - t0:.1f} s: " + ", ".join(
            f"{f.name} {f.stat().st_size / MiB:.1f} MiB" for f in files))
        for j in summary["jobs"]:
            m = j.get("metrics") or {}
            acc = {k: round(v["accuracy"], 4) for k, v in m.items() if isinstance(v, dict) and "accuracy" in v}
            print(f"  {j['name']:10s} {j['status']:28s} epochs {j.get('epochs', '-')!s:>4}  {acc}")
        return 0
    return cli.run(run, errors=(subprocess.CalledProcessError,))


if __name__ == "__main__":
    sys.exit(main())
