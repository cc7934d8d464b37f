"""K-fold training for out-of-fold probabilities: the fold of each row, and the merge of the
folds' held-out predictions into one (N, K) array.

``python -m fer_core.train --folds 5 --fold f`` trains on every labelled row outside fold f and
writes ``<out stem>.oof.npz`` (the held-out rows' flip-TTA probabilities); after all K runs::

    python -m fer_core.folds merge --out oof.npy runs/fold*.oof.npz

gives the (N, K) file that ``python -m fer_core.label_errors --pred-probs oof.npy`` ranks with.

Folds are stratified by label, and pixel-identical images (FER2013 has 1,513 such groups) stay
in one fold, so no held-out image has a twin among the images its model was trained on.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

__all__ = ["FOLD_SEED", "duplicate_groups", "fold_assignment", "save_oof", "merge_oof", "main"]

#: every job of one K-fold run must see the same folds, whatever its training seed
FOLD_SEED = 0


def duplicate_groups(images: np.ndarray) -> np.ndarray:
    """(N,) int group id per image: pixel-identical images share one id.

    Args:
        images: (N, H, W) uint8.
    """
    flat = np.ascontiguousarray(images.reshape(len(images), -1))
    rows = flat.view(np.dtype((np.void, flat.shape[1]))).ravel()
    _, inverse = np.unique(rows, return_inverse=True)
    return inverse.astype(np.int64).ravel()


def fold_assignment(labels: np.ndarray, images: np.ndarray, *, folds: int, seed: int = FOLD_SEED) -> np.ndarray:
    """(N,) int fold (0..folds-1) of each labelled row, -1 for rows without a label (< 0).

    Stratified by label (scikit-learn's StratifiedGroupKFold) with exact duplicates grouped, so a
    duplicate group never straddles two folds. Deterministic for the same labels, images and seed.

    Raises:
        ValueError: folds < 2, or fewer labelled images than twice the folds.
    """
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    labels = np.asarray(labels)
    if folds < 2:
        raise ValueError(f"K-fold needs at least 2 folds, got {folds}")
    out = np.full(len(labels), -1, np.int64)
    rows = np.flatnonzero(labels >= 0)
    if len(rows) < 2 * folds:
        raise ValueError(f"{len(rows)} labelled images are too few for {folds}-fold training")
    groups = duplicate_groups(images[rows])
    counts = np.bincount(labels[rows])
    if counts[counts > 0].min() >= folds:
        splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(rows, labels[rows], groups)
    else:  # a class with fewer images than folds cannot be stratified
        splitter = GroupKFold(folds).split(rows, labels[rows], groups)
    for f, (_, test) in enumerate(splitter):
        out[rows[test]] = f
    return out


def save_oof(path: str | Path, *, rows: np.ndarray, probs: np.ndarray, fold: int, folds: int, n: int,
             data_hash: str, classes: tuple[str, ...]) -> Path:
    """Write one fold's held-out probabilities: dataset indices `rows` (M,), `probs` (M, K), which
    fold of how many, the dataset's size `n` and hash (a merge refuses folds of other data)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, rows=np.asarray(rows, np.int64), probs=np.asarray(probs, np.float32), fold=np.int64(fold),
             folds=np.int64(folds), n=np.int64(n), data_hash=np.array(data_hash), classes=np.array(list(classes)))
    return path


def merge_oof(paths: list[str | Path]) -> tuple[np.ndarray, dict]:
    """The K folds' held-out probabilities as one (N, K) float32 array.

    Returns:
        (probs (N, K) float32, rows sum to 1; info {"folds", "n", "data_hash", "classes",
        "covered" (rows with out-of-fold probabilities), "uniform" (rows of no fold, i.e. without a
        label: given 1/K, which label-error rankings never read)}).

    Raises:
        ValueError: a file is not a fold file, folds of different data or K, a fold given twice, a
            fold missing, or a row predicted by two folds.
    """
    if not paths:
        raise ValueError("no fold files given")
    parts = []
    for p in paths:
        try:
            with np.load(p, allow_pickle=False) as z:
                parts.append({k: z[k] for k in ("rows", "probs", "fold", "folds", "n", "data_hash", "classes")})
        except (OSError, ValueError, KeyError) as e:
            raise ValueError(f"{p}: not a fold file written by train --folds ({type(e).__name__}: {e})") from None
    first = parts[0]
    for p, d in zip(paths, parts):
        for k in ("folds", "n", "data_hash"):
            if d[k] != first[k]:
                raise ValueError(f"{p}: {k} {d[k]} differs from {paths[0]}'s {first[k]}: folds of different runs")
        if list(d["classes"]) != list(first["classes"]):
            raise ValueError(f"{p}: classes differ from {paths[0]}'s")
    k, n = int(first["folds"]), int(first["n"])
    seen = [int(d["fold"]) for d in parts]
    twice = sorted({f for f in seen if seen.count(f) > 1})
    if twice:
        raise ValueError(f"fold(s) {twice} given twice")
    missing_folds = sorted(set(range(k)) - set(seen))
    if missing_folds:
        raise ValueError(f"fold(s) {missing_folds} of {k} missing: train them with --folds {k} --fold F")
    out = np.full((n, first["probs"].shape[1]), np.nan, np.float32)
    for p, d in zip(paths, parts):
        r = d["rows"]
        if np.isfinite(out[r, 0]).any():
            raise ValueError(f"{p}: rows predicted by two folds (first: {int(r[np.isfinite(out[r, 0])][0])})")
        out[r] = d["probs"]
    uncovered = ~np.isfinite(out[:, 0])
    out[uncovered] = 1.0 / out.shape[1]
    return out, {"folds": k, "n": n, "data_hash": str(first["data_hash"]),
                 "classes": [str(c) for c in first["classes"]], "covered": int((~uncovered).sum()),
                 "uniform": int(uncovered.sum())}


def main(argv: list[str] | None = None) -> int:
    from fer_core import cli

    p = argparse.ArgumentParser(prog="python -m fer_core.folds",
                                description="Merge the held-out probabilities of K fold runs (train --folds K --fold f).")
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("merge", help="write the (N, K) out-of-fold probabilities as .npy")
    m.add_argument("files", nargs="+", help="the <out stem>.oof.npz file of every fold")
    m.add_argument("--out", required=True, help=".npy to write ((N, K) float32; rows without a label: 1/K)")
    a = p.parse_args(argv)

    def run() -> int:
        probs, info = merge_oof(a.files)
        np.save(a.out, probs)
        print(f"wrote {a.out}: {info['n']:,} rows x {probs.shape[1]} classes from {info['folds']} folds; "
              f"{info['covered']:,} rows have out-of-fold probabilities"
              + (f", {info['uniform']:,} unlabelled rows 1/K" if info["uniform"] else ""))
        return 0
    return cli.run(run)


if __name__ == "__main__":
    sys.exit(main())
