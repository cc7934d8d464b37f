"""Build the bundled demo sample `fer_core/data/sample/` from the full FER2013 + FER+ files.

    python scripts/make_sample.py ../shared/datasets/fer2013/fer2013.csv.gz \
        ../shared/datasets/fer2013/fer2013new.csv [--seed 0]

Stratified by split x class (proportional, at least 10 per cell): 640 Training, 180 PublicTest,
180 PrivateTest rows. The sample keeps each image's original row index in a `row` column and
writes the matching FER+ rows to a row-aligned `fer2013new_sample.csv`.
"""
import argparse

import numpy as np
import pandas as pd

from fer_core.data.dataset import SAMPLE_CSV, SAMPLE_FERPLUS  # noqa: E402

PER_SPLIT = {"Training": 640, "PublicTest": 180, "PrivateTest": 180}
MIN_PER_CELL = 10


def stratified_rows(df: pd.DataFrame, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = []
    for split, n in PER_SPLIT.items():
        part = df[df["Usage"] == split]
        counts = part["emotion"].value_counts().sort_index()
        alloc = np.maximum(MIN_PER_CELL, np.floor(counts / counts.sum() * n).astype(int))
        while alloc.sum() > n:  # trim the largest cells to hit n exactly
            alloc[alloc.idxmax()] -= 1
        while alloc.sum() < n:
            alloc[(counts / counts.sum() * n - alloc).idxmax()] += 1
        for emo, k in alloc.items():
            idx = part.index[part["emotion"] == emo].to_numpy()
            rows.append(rng.choice(idx, size=k, replace=False))
    return np.sort(np.concatenate(rows))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("fer2013")
    p.add_argument("ferplus")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    df = pd.read_csv(a.fer2013)
    fp = pd.read_csv(a.ferplus)
    assert len(df) == len(fp), "FER+ must be row-aligned"
    rows = stratified_rows(df, a.seed)
    out = df.loc[rows, ["emotion", "pixels", "Usage"]].copy()
    out.insert(0, "row", rows)
    SAMPLE_CSV.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(SAMPLE_CSV, index=False, compression={"method": "gzip", "compresslevel": 9, "mtime": 0})
    fp.loc[rows].to_csv(SAMPLE_FERPLUS, index=False)
    print(f"{len(rows)} rows -> {SAMPLE_CSV} ({SAMPLE_CSV.stat().st_size / 1e6:.2f} MB), {SAMPLE_FERPLUS}")
    print(out.groupby(["Usage", "emotion"]).size().unstack())


if __name__ == "__main__":
    main()
