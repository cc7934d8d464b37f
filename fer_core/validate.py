"""Shared input checks: called once at a public function's edge, so private code trusts its inputs.

Each validator returns the array it checked (as a numpy array, in the documented dtype) or raises
ValueError naming the argument, what was expected and what was found::

    >>> from fer_core import validate
    >>> images = validate.images(images)                              # (N, 48, 48) uint8
    >>> p = validate.pred_probs(pred_probs)                           # (N, K) float64, rows sum to 1
    >>> y = validate.labels(labels, n=len(p), num_classes=p.shape[1])  # (N,) int64 in 0..K-1

:func:`read_pred_probs` reads probabilities that a user brings in a file (.npy or .csv) and checks
them the same way, naming the file, row and column of the first problem.

Ground floor: imports only numpy, the standard library, fer_core.constants and fer_core.errors.
"""
from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fer_core.constants import IMAGE_SIZE
from fer_core.errors import located

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


# --------------------------------------------------------------------------------------------
# probabilities from a file
# --------------------------------------------------------------------------------------------
def read_pred_probs(path: str | os.PathLike, *, n: int, class_names: Sequence[str],
                    rows: np.ndarray | None = None, atol: float = ROW_SUM_ATOL) -> np.ndarray:
    """Out-of-sample probabilities from a file, checked against the dataset they rank.

    Accepted files:

    * ``.npy``: a 2-D float array (N, K) (``numpy.save``), rows in the dataset's order.
    * ``.csv``: header optional. Either K numeric columns (rows in the dataset's order; a header,
      when present, names the K classes by name or index 0..K-1, in any order), or a ``row``
      column (the dataset's row ids, each once, in any order) plus K columns named by class
      name or index.

    Args:
        path: the file.
        n: rows the dataset has (N); the file must have exactly these.
        class_names: the K classes in column order (e.g. FER2013_EMOTIONS).
        rows: (N,) the dataset's row ids, which a ``row`` column refers to (default 0..N-1).
        atol: largest accepted |row sum - 1|.

    Returns:
        (N, K) float64, finite, >= 0, rows summing to 1 within `atol`, in the dataset's row
        order and class order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: every message starts with the file's name, then the row (and line) and the
            column where there is one: not a .npy / .csv, an unreadable or non-numeric file, the
            wrong shape (N or K), NaN or infinite, negative values, or a row that does not sum
            to 1 ("rows do not sum to 1: normalise them").
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pred_probs file not found: {path}")
    names = [str(c) for c in class_names]
    k = len(names)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        a = _read_npy(path)
        places = [f"row {i}" for i in range(len(a))] if a.ndim == 2 else []
    elif suffix == ".csv":
        a, places = _read_probs_csv(path, names, n=n, rows=rows)
    else:
        raise ValueError(located(f"pred_probs must be a .npy (numpy.save of an (N, {k}) float array) or a .csv "
                                 f"file, got {path.suffix or 'no suffix'!r}", file=path))
    if a.ndim != 2 or a.shape[1] != k or len(a) != n:
        raise ValueError(located(f"pred_probs must be (N, K) = ({n}, {k}): one row per image of the dataset "
                                 f"(in its order) and one column per class ({', '.join(names)}); the file holds "
                                 f"shape {a.shape}", file=path))
    try:
        return pred_probs(a, n=n, num_classes=k, atol=atol)
    except ValueError:
        raise ValueError(_first_bad_cell(a, path, names, places, atol)) from None


def _read_npy(path: Path) -> np.ndarray:
    with open(path, "rb") as f:
        head = f.read(16)
    if not head.startswith(b"\x93NUMPY"):  # e.g. a CSV or text saved under a .npy name
        raise ValueError(located(f"not a NumPy .npy file (it starts with {head!r}, not the .npy magic "
                                 f"b'\\x93NUMPY'): write the array with numpy.save, or name a CSV file .csv",
                                 file=path))
    try:
        a = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:  # truncated data, an object array
        raise ValueError(located(f"unreadable .npy file ({type(e).__name__}: {e}); write a float (N, K) array "
                                 f"with numpy.save", file=path)) from None
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)) \
            or np.issubdtype(a.dtype, np.bool_):
        raise ValueError(located(f"pred_probs must be a float array, the file holds dtype {a.dtype}", file=path))
    return a.astype(np.float64)


def _class_column(name: str, names: list[str]) -> int | None:
    """Index of a CSV column header among the classes (by name, case-insensitive, or by index)."""
    t = name.strip().lower()
    lower = [c.lower() for c in names]
    if t in lower:
        return lower.index(t)
    if t.isdigit() and int(t) < len(names):
        return int(t)
    return None


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _read_probs_csv(path: Path, names: list[str], *, n: int, rows: np.ndarray | None
                    ) -> tuple[np.ndarray, list[str]]:
    """(N, K) probabilities in dataset row and class order, and where each row is in the file
    ('row 3 (line 5)'; with a `row` column, the row id it gives)."""
    k = len(names)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            table = [(i + 1, r) for i, r in enumerate(csv.reader(f)) if any(c.strip() for c in r)]
    except (UnicodeDecodeError, csv.Error) as e:
        raise ValueError(located(f"not a readable text CSV ({type(e).__name__}: {e})", file=path)) from None
    if not table:
        raise ValueError(located("the file is empty", file=path))
    first = [c.strip() for c in table[0][1]]
    index_header = sorted(first) == sorted(map(str, range(k)))  # "0,...,6" names classes: not a row of numbers
    header = None if all(_is_number(c) for c in first) and not index_header else first
    body = table[1:] if header is not None else table
    if header is None:  # as many columns as the first line has; the shape check then wants K
        order, row_col = list(range(len(table[0][1]))), None
    else:
        row_col = next((j for j, h in enumerate(header) if h.lower() == "row"), None)
        order, seen = [], {}
        for j, h in enumerate(header):
            if j == row_col:
                continue
            c = _class_column(h, names)
            if c is None or c in seen:
                why = "is not a class name or index" if c is None else f"repeats class {names[c]!r}"
                raise ValueError(located(f"column {j + 1} {why}; the header must name the {k} classes "
                                         f"({', '.join(names)}, or 0..{k - 1}), plus an optional 'row' column",
                                         file=path, place="header (line 1)", field=h))
            seen[c] = j
            order.append(c)
        if len(order) != k:
            missing = [names[c] for c in range(k) if c not in seen]
            raise ValueError(located(f"the header names {len(order)} classes, missing {', '.join(missing)}",
                                     file=path, place="header (line 1)"))
    width = len(header) if header is not None else len(order)
    values = np.zeros((len(body), len(order)))
    ids = np.zeros(len(body), np.int64)
    places = []
    for i, (line, cells) in enumerate(body):
        place = f"row {i} (line {line})"
        if len(cells) != width:
            what = f"row + {k} class probabilities" if row_col is not None else \
                f"{k} class probabilities" if header is not None else "as many as the first line"
            raise ValueError(located(f"{len(cells)} values, expected {width} ({what})", file=path, place=place))
        data = [c for j, c in enumerate(cells) if j != row_col]
        for j, (c, cell) in enumerate(zip(order, data)):
            try:
                values[i, c] = float(cell)
            except ValueError:
                col = header[[jj for jj in range(width) if jj != row_col][j]] if header is not None else names[c]
                raise ValueError(located(f"{cell.strip()!r} is not a number", file=path, place=place,
                                         field=col)) from None
        if row_col is not None:
            try:
                ids[i] = int(cells[row_col])
            except ValueError:
                raise ValueError(located(f"{cells[row_col].strip()!r} is not a row id (an integer)", file=path,
                                         place=place, field="row")) from None
        places.append(f"row {ids[i]} (line {line})" if row_col is not None else place)
    if row_col is None:
        return values, places
    return _align_rows(values, ids, places, path=path, n=n, rows=rows)


def _align_rows(values: np.ndarray, ids: np.ndarray, places: list[str], *, path: Path, n: int,
                rows: np.ndarray | None) -> tuple[np.ndarray, list[str]]:
    """Reorder CSV rows by their `row` ids into the dataset's order (each id exactly once)."""
    rows = np.arange(n) if rows is None else np.asarray(rows)
    pos = {int(r): i for i, r in enumerate(rows)}
    out = np.full((n, values.shape[1]), np.nan)
    out_places = [""] * n
    taken = np.zeros(n, bool)
    for i, r in enumerate(ids):
        j = pos.get(int(r))
        if j is None:
            raise ValueError(located(f"{int(r)} is not a row of the dataset", file=path, place=places[i],
                                     field="row"))
        if taken[j]:
            raise ValueError(located(f"row {int(r)} appears twice", file=path, place=places[i], field="row"))
        taken[j] = True
        out[j], out_places[j] = values[i], places[i]
    if not taken.all():
        miss = rows[~taken]
        raise ValueError(located(f"{int((~taken).sum())} of the dataset's {n} rows have no probabilities "
                                 f"(first: row {int(miss[0])}); give one line per image", file=path))
    return out, out_places


def _first_bad_cell(a: np.ndarray, path: Path, names: list[str], places: list[str], atol: float) -> str:
    """The located message of the first non-probability row of `a` ((N, K) of the right shape)."""
    finite = np.isfinite(a)
    bad = ~finite.all(1) | (np.where(finite, a, 0) < 0).any(1) | (np.abs(np.where(finite, a, 0).sum(1) - 1) > atol)
    i = int(np.flatnonzero(bad)[0])
    place = places[i]
    more = f" ({int(bad.sum())} bad rows in all)" if bad.sum() > 1 else ""
    if not finite[i].all():
        j = int(np.flatnonzero(~finite[i])[0])
        return located(f"{a[i, j]} is not a probability (NaN or infinite){more}", file=path, place=place,
                       field=names[j])
    if (a[i] < 0).any():
        j = int(np.flatnonzero(a[i] < 0)[0])
        return located(f"{a[i, j]:g} is negative: probabilities are >= 0{more}", file=path, place=place,
                       field=names[j])
    return located(f"rows do not sum to 1: normalise them (this row sums to {a[i].sum():.4g}, allowed "
                   f"1 +- {atol:g}){more}", file=path, place=place)
