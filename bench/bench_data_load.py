"""Data load: first parse of the full fer2013.csv.gz (+ FER+) and the cached load after it.

    python bench/bench_data_load.py [--data PATH] [--ferplus PATH]

Targets (issue 2): first parse <= 15 s, cached load <= 1 s on the 2-core machine.
"""
import argparse
import tempfile

from common import DEFAULT_DATA, DEFAULT_FERPLUS, Timer, header

from fer_core.data.dataset import load_dataset
from fer_core.store import Store


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--ferplus", default=str(DEFAULT_FERPLUS))
    a = p.parse_args()
    header("data load")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp)
        with Timer() as t1:
            ds = load_dataset(a.data, a.ferplus, store=store)
        cached = []
        for _ in range(3):
            with Timer() as t2:
                load_dataset(a.data, a.ferplus, store=store)
            cached.append(t2.seconds)
    print(f"rows {len(ds)}")
    print(f"first parse (csv.gz + FER+, into an empty cache): {t1.seconds:.2f} s  (target <= 15 s)")
    print(f"cached load, best of 3: {min(cached):.2f} s, worst {max(cached):.2f} s  (target <= 1 s)")


if __name__ == "__main__":
    main()
