"""Shared input checks: called once at a public function's edge, so private code trusts its inputs.

Each validator returns the array it checked (as a numpy array, in the documented dtype) or raises
ValueError naming the argument, what was expected and what was found::

    >>> from fer_core import validate
    >>> images = validate.images(images)                              # (N, 48, 48) uint8
    >>> p = validate.pred_probs(pred_probs)                           # (N, K) float64, rows sum to 1
    >>> y = validate.labels(labels, n=len(p), num_classes=p.shape[1])  # (N,) int64 in 0..K-1

Ground floor: imports only numpy and fer_core.constants.
"""
from __future__ import annotations

import numpy as np

from fer_core.constants import IMAGE_SIZE

#: Largest |row sum - 1| accepted for probabilities: float32 softmax outputs of 8 classes stay
#: within ~1e-6; 1e-3 also admits probabilities rounded for storage.
ROW_SUM_ATOL = 1e-3


def images(x, *, name: str = "images", promote: bool = False) -> np.ndarray:
    """`x` as an (N, 48, 48) uint8 array.

    Args:
        x: array-like of grey faces.
        name: the argument's name, used in the error message.
        promote: accept a single (48, 48) image and return it as (1, 48, 48).

    Raises:
        ValueError: "<name> must be (N, 48, 48) uint8, got <shape> <dtype>".
    """
    a = np.asarray(x)
    if promote and a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or a.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or a.dtype != np.uint8:
        single = " (or one (48, 48) image)" if promote else ""
        raise ValueError(f"{name} must be (N, {IMAGE_SIZE}, {IMAGE_SIZE}) uint8{single}, got {a.shape} {a.dtype}")
    return a


def labels(y, *, n: int | None = None, num_classes: int | None = None, allow_unlabeled: bool = False,
           name: str = "labels") -> np.ndarray:
    """`y` as an (N,) int64 array of class indices.

    Args:
        y: array-like of integer class indices.
        n: required length (e.g. the number of images or of probability rows); None = any.
        num_classes: classes are 0..num_classes-1; None = any non-negative (or -1) value.
        allow_unlabeled: accept -1 for "no label".
        name: the argument's name, used in the error message.

    Raises:
        ValueError: wrong shape ("labels must be (5,) ..., got (4,)"), a non-integer dtype
            ("labels must be integers, got float64") or a value out of range
            ("labels must be in 0..6, found -2..3").
    """
    a = np.asarray(y)
    if a.ndim != 1 or (n is not None and len(a) != n):
        want = f"({n},)" if n is not None else "(N,)"
        raise ValueError(f"{name} must be {want} integers, got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name} must be integers, got {a.dtype}")
    lo = -1 if allow_unlabeled else 0
    if len(a) and (a.min() < lo or (num_classes is not None and a.max() >= num_classes)):
        hi = str(num_classes - 1) if num_classes is not None else "K-1"
        note = " (-1 = unlabeled)" if allow_unlabeled else ""
        raise ValueError(f"{name} must be in {lo}..{hi}{note}, found {a.min()}..{a.max()}")
    return a.astype(np.int64, copy=False)


def pred_probs(p, *, n: int | None = None, num_classes: int | None = None, name: str = "pred_probs",
               atol: float = ROW_SUM_ATOL) -> np.ndarray:
    """`p` as an (N, K) float64 array of probabilities: finite, >= 0, each row summing to 1 within `atol`.

    Args:
        p: array-like of class probabilities, one row per image.
        n: required number of rows; None = any.
        num_classes: required number of columns K; None = any >= 1.
        name: the argument's name, used in the error message.

    Raises:
        ValueError: wrong shape ("pred_probs must be (N, K), got shape (3,)"), a non-numeric dtype,
            or values that are not probabilities ("pred_probs must be finite, non-negative, with
            rows summing to 1; row 4 sums to 1.8").
    """
    a = np.asarray(p)
    if a.ndim != 2 or a.shape[1] < 1 or (n is not None and len(a) != n) \
            or (num_classes is not None and a.shape[1] != num_classes):
        want = f"({n if n is not None else 'N'}, {num_classes if num_classes is not None else 'K'})"
        raise ValueError(f"{name} must be {want} float, got shape {a.shape}")
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise ValueError(f"{name} must be (N, K) float, got dtype {a.dtype}")
    a = a.astype(np.float64, copy=False)
    bad = ~np.isfinite(a).all(1) | (a < 0).any(1) | (np.abs(a.sum(1) - 1) > atol)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must be finite, non-negative, with rows summing to 1 (within {atol:g}); "
                         f"row {i} is {np.array2string(a[i], precision=3, threshold=10)} "
                         f"(sum {a[i].sum():.4g}), {int(bad.sum())} bad row(s)")
    return a


def embeddings(x, *, n: int | None = None, min_rows: int = 0, name: str = "embeddings") -> np.ndarray:
    """`x` as an (N, D) finite float32 array (D >= 1).

    Args:
        x: array-like of feature vectors, one row per image.
        n: required number of rows; None = any.
        min_rows: at least this many rows.
        name: the argument's name, used in the error message.

    Raises:
        ValueError: wrong shape ("embeddings must be (N, D) with N >= 2, got shape (5,)"),
            a non-numeric dtype, or NaN / infinite values.
    """
    a = np.asarray(x)
    if a.ndim != 2 or a.shape[1] < 1 or len(a) < min_rows or (n is not None and len(a) != n):
        rows = f"N = {n}" if n is not None else f"N >= {min_rows}"
        raise ValueError(f"{name} must be (N, D) with {rows}, got shape {a.shape}")
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise ValueError(f"{name} must be numeric (N, D), got dtype {a.dtype}")
    a = a.astype(np.float32, copy=False)
    if not np.isfinite(a).all():
        bad = int((~np.isfinite(a).all(1)).sum())
        raise ValueError(f"{name} contain NaN or infinite values ({bad} of {len(a)} rows)")
    return a
