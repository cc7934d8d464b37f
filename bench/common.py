"""Shared bits for the benchmarks: where the full data is, machine description, result lines."""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "fer2013" / "fer2013.csv.gz"
DEFAULT_FERPLUS = ROOT.parent / "shared" / "datasets" / "fer2013" / "fer2013new.csv"


def machine() -> str:
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {os.cpu_count()} cores, {gpu}, Python {platform.python_version()}, torch {torch.__version__}"


def header(name: str) -> None:
    print(f"# {name} — {time.strftime('%Y-%m-%d %H:%M')} — {machine()}")


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0


def timed(fn, x, repeats: int) -> float:
    """Median seconds of `repeats` calls fn(x), after one warm-up call."""
    fn(x)
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(x)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def spread(values, fmt: str = "{:,.0f}") -> str:
    """'median [min-max]' of repeated measurements, e.g. '1,129 [1,111-1,134]'."""
    return f"{fmt.format(statistics.median(values))} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


# ---- shared by the browser benchmarks (bench_pages, bench_tab_memory, bench_scale) ------------
def point_app_at(cache: Path, data: str, ferplus: str | None) -> None:
    """Write `cache`/settings.json so a dashboard started with FER_CACHE_DIR=`cache` opens `data`
    (and its FER+ votes) instead of the bundled sample."""
    import json
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "settings.json").write_text(json.dumps(
        {"data_source": {"kind": "path", "path": str(Path(data).resolve()),
                         "ferplus": str(Path(ferplus).resolve()) if ferplus else ""}}))


def rss_mb(pid: int) -> float:
    """Resident memory of process `pid` in MB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def server_pid() -> int:
    """The streamlit server: the child process of this one whose command line runs streamlit."""
    me = str(os.getpid())
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = (d / "stat").read_text().rsplit(")", 1)[1].split()[1]
            cmd = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if ppid == me and b"streamlit" in cmd:
            return int(d.name)
    raise RuntimeError("streamlit server process not found")


# ---- machine facts, measured subprocesses, growth fits, RESULTS.md sections --------------------
def machine_facts() -> dict:
    """{"nproc", "ram_gib", "cpu"} of this machine (for a results table's header)."""
    cpu, ram = platform.processor() or platform.machine(), float("nan")
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
        ram = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                       if line.startswith("MemTotal:"))) / 2**20
    except (OSError, StopIteration):
        pass
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"nproc": n, "ram_gib": round(ram, 1), "cpu": cpu}


#: Runs argv[2:] as a child of this small process and writes the child's exit status and peak
#: resident memory to the file argv[1]. The benchmark process itself is not the parent: the kernel
#: keeps a process's maxrss across exec, so a child forked from a large process would report that
#: process's size as its own peak.
_MEASURE_JS = """import json, os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    json.dump({"rc": os.waitstatus_to_exitcode(status), "peak_kb": usage.ru_maxrss}, f)
"""


def run_measured(cmd: list[str], *, env: dict | None = None, timeout_s: float | None = None, log=None,
                 cwd: Path = ROOT) -> dict:
    """Run `cmd` in a subprocess of its own session; returns {"rc", "wall_s", "peak_mb",
    "timed_out"}: peak_mb is the command's own peak resident memory (ru_maxrss from os.wait4, by a
    small parent: see _MEASURE_JS; None when it was killed). Past `timeout_s` the whole process
    group is killed (timed_out True). `log`: a file for stdout and stderr."""
    import signal
    import subprocess
    import tempfile
    fd, out = tempfile.mkstemp(prefix="fer-measure-", suffix=".json")
    os.close(fd)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _MEASURE_JS, out, *cmd], env=env, cwd=cwd,
                            stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    timed_out = False
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    wall = time.perf_counter() - t0
    try:
        res = json.loads(Path(out).read_text())
    except ValueError:  # killed before it wrote
        res = {"rc": proc.returncode, "peak_kb": None}
    finally:
        os.unlink(out)
    return {"rc": res["rc"], "wall_s": round(wall, 2), "timed_out": timed_out,
            "peak_mb": round(res["peak_kb"] / 1024, 1) if res["peak_kb"] is not None else None}


def growth_exponent(ns, ts) -> float | None:
    """The b of t = a * n**b fitted by least squares on log t against log n (None with fewer than
    two distinct sizes or a non-positive time). 1 = linear, 2 = quadratic."""
    import numpy as np
    pts = [(n, t) for n, t in zip(ns, ts) if t is not None and t > 0 and n > 0]
    if len({n for n, _ in pts}) < 2:
        return None
    x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(x, y, 1)[0])


def replace_section(path: Path, title: str, body: str) -> None:
    """Put `body` under the heading '## <title>' of the markdown file `path`: replaces that
    section (up to the next '## ' heading) when present, else appends it at the end."""
    text = path.read_text() if path.exists() else ""
    lines, head = text.splitlines(keepends=True), f"## {title}"
    start = next((i for i, line in enumerate(lines) if line.rstrip() == head), None)
    block = f"{head}\n\n{body.strip()}\n"
    if start is None:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        text = "".join(lines[:start]) + block + ("\n" + "".join(lines[end:]) if end < len(lines) else "")
    path.write_text(text)
