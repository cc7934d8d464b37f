"""Seconds of two short stages on the bundled sample with 1, 2, ... CPU threads, optionally beside
a busy process (what `prepare --threads` defaults on).

    python bench/bench_threads.py --threads 1 2 --repeats 5 --busy

Each stage's compute runs directly (no cache), under fer_core.pipeline.prepare.threads(n); the
median of the repeats is printed. --busy starts one process spinning on a CPU for the run.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time


def _spin(stop):
    while not stop.is_set():
        pass


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--busy", action="store_true", help="one spinning process beside the run")
    a = p.parse_args(argv)
    from fer_core import stages
    from fer_core.data.dataset import load_dataset
    from fer_core.models.checkpoint import model_ref
    from fer_core.pipeline.prepare import threads
    ds = load_dataset()
    ref = model_ref(None)
    jobs = {"eigenfaces": (stages.stage("eigenfaces"), None), "predictions": (stages.stage("predictions"), ref)}
    stop = mp.Event()
    busy = mp.Process(target=_spin, args=(stop,), daemon=True) if a.busy else None
    if busy:
        busy.start()
    try:
        for name, (st, model) in jobs.items():
            cfg = st.config()
            for n in a.threads:
                with threads(n):
                    st.compute(ds, cfg, model, None, None)  # warm-up (imports, allocator)
                    times = []
                    for _ in range(a.repeats):
                        t0 = time.perf_counter()
                        st.compute(ds, cfg, model, None, None)
                        times.append(time.perf_counter() - t0)
                print(f"{name:12s} threads={n} busy={a.busy}: median {statistics.median(times):.3f} s "
                      f"(min {min(times):.3f}, max {max(times):.3f}, {a.repeats} runs)", flush=True)
    finally:
        if busy:
            stop.set()
            busy.join()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
