"""Exact and near-duplicate groups on the full FER2013: the figures and the time they take.

    OMP_NUM_THREADS=1 python bench/bench_duplicates.py [--data PATH] [--threshold 0.9]

The exact figures must match the dataset README: 1,513 groups of pixel-identical images
(1,840 extra copies), 279 PublicTest and 288 PrivateTest images with a Training twin.
"""
import argparse

import numpy as np
from common import DEFAULT_DATA, Timer, header

from fer_core.data.dataset import load_dataset
from fer_core.analysis.duplicates import (NEAR_THRESHOLD, duplicate_table, exact_groups, groups_from_pairs, leakage,
                                 near_duplicate_pairs)


def report(name: str, groups: np.ndarray, ds) -> None:
    t = duplicate_table(groups, ds.labels, ds.split, ds.row)
    print(f"{name}: {len(t)} groups, {int(t['size'].sum())} images ({int(t['size'].sum()) - len(t)} extra copies), "
          f"largest {int(t['size'].max()) if len(t) else 0}")
    print(f"  rows in groups with conflicting labels: {int(t.loc[t.conflicting_labels, 'size'].sum())} "
          f"({int(t.conflicting_labels.sum())} groups); groups across Training and a test split: "
          f"{int(t.crosses_train_test.sum())}")
    for rec in leakage(groups, ds.split).to_dict("records"):
        print(f"  {rec['split']}: {rec['with_training_twin']} of {rec['n']} images have a twin in Training "
              f"({rec['share']:.1%})")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--threshold", type=float, default=NEAR_THRESHOLD)
    a = p.parse_args()
    header("duplicates")
    ds = load_dataset(a.data)
    with Timer() as t:
        exact = exact_groups(ds.images)
    report(f"exact ({t.seconds:.2f} s)", exact, ds)
    report("exact, blank images included", exact_groups(ds.images, ignore_blank=False), ds)
    with Timer() as t:
        pairs, scores = near_duplicate_pairs(ds.images, threshold=a.threshold, progress=True)
    near = groups_from_pairs(pairs, len(ds))
    report(f"near, threshold {a.threshold} ({t.seconds:.1f} s, {len(pairs)} pairs)", near, ds)
    bands = [a.threshold, 0.92, 0.95, 0.98, 0.999]
    print("  pairs by score: " + ", ".join(f">= {b}: {int((scores >= b).sum())}" for b in bands))
    print(f"  every exact group inside one near group: "
          f"{all(len(set(near[exact == g])) == 1 and near[exact == g][0] >= 0 for g in range(exact.max() + 1))}")


if __name__ == "__main__":
    main()
