"""Shared bits for the benchmarks: where the full data is, machine description, result lines."""
from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "fer2013" / "fer2013.csv.gz"
DEFAULT_FERPLUS = ROOT.parent / "shared" / "datasets" / "fer2013" / "fer2013new.csv"


def machine() -> str:
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
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
