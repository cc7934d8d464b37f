"""Parquet files of 48x48 grey faces: the input format of the distributed batch job.

A Parquet source is one ``.parquet`` file or a folder of them (read in sorted name order); each
row group is one unit of work of the distributed job, so write groups of a few thousand faces. Its
``image`` column holds one face per row, either raw pixels (binary of exactly 2,304 bytes,
row-major uint8) or integers 0-255 (a list of 2,304, or 48 lists of 48, as Ray Data writes an
(N, 48, 48) array). Optional columns: ``row`` (int, the row in the original source; default the
position), ``label`` (int 0-6, FER2013 order; -1 = none) and ``split`` (str).

Example:
    >>> files = parquet_files("faces/")               # sorted .parquet files
    >>> arrays = read_parquet("faces/")               # images, labels, split, row
    >>> ds = load_dataset("faces/")                   # a Dataset (fer_core.data.dataset), cached like a CSV
    >>> images = decode_images(table["image"], file="faces/part-0.parquet")   # (N, 48, 48) uint8
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from fer_core.constants import IMAGE_SIZE
from fer_core.data.errors import DataError
from fer_core.data.layouts import IMAGE_EXTENSIONS
from fer_core.errors import located
from fer_core.store import hash_bytes, hash_file

#: the column that holds the faces
IMAGE_COLUMN = "image"
_PIXELS = IMAGE_SIZE * IMAGE_SIZE


def parquet_files(path: str | os.PathLike) -> list[Path]:
    """The Parquet files of a source: `path` itself, or the ``*.parquet`` files under a folder,
    sorted by their path relative to it.

    Raises:
        DataError: `path` does not exist, or a folder holds no .parquet file.
    """
    p = Path(path)
    if not p.exists():
        raise DataError("file or folder not found", file=p)
    if p.is_file():
        return [p]
    files = sorted(f for f in p.rglob("*.parquet") if f.is_file())
    if not files:
        raise DataError("no .parquet files in folder", file=p)
    return files


def is_parquet(path: str | os.PathLike) -> bool:
    """True for a .parquet file, or a folder with .parquet files and no images (else an image folder)."""
    p = Path(path)
    if p.is_file():
        return p.suffix.lower() == ".parquet"
    return p.is_dir() and any(p.rglob("*.parquet")) and not any(
        f.suffix.lower() in IMAGE_EXTENSIONS for f in p.rglob("*") if f.is_file())


def parquet_source_hash(path: str | os.PathLike) -> str:
    """Hash of the source's bytes: the file's, or for a folder its files' relative names and bytes."""
    p, files = Path(path), parquet_files(path)
    return hash_file(files[0]) if p.is_file() else hash_bytes(*[f"{f.relative_to(p)}:{hash_file(f)}" for f in files])


def parquet_hash(path: str | os.PathLike) -> str:
    """The source's data hash, computed like the CSV's and the image folder's (the Dataset that
    ``load_dataset(path)`` returns has it), so the artifacts of its images key on it."""
    return hash_bytes(parquet_source_hash(path), "")


def row_groups(path: str | os.PathLike) -> list[dict]:
    """One entry per row group of every file, in order: {"file", "row_group", "offset", "rows"}
    (offset: the dataset index of the group's first image). Reads only the file footers; each
    entry can be read on its own (a worker of the distributed job reads one).

    Raises:
        DataError: a file is not Parquet, or has no ``image`` column.
    """
    import pyarrow.parquet as pq
    out, offset = [], 0
    for f in parquet_files(path):
        try:
            pf = pq.ParquetFile(f)
        except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError
            raise DataError(f"not a readable Parquet file ({e})", file=f) from None
        names = pf.schema_arrow.names
        if IMAGE_COLUMN not in names:
            raise DataError(f"no {IMAGE_COLUMN!r} column (columns: {', '.join(names) or 'none'}); it must hold "
                            f"the 48x48 faces as {_PIXELS} raw bytes or integers", file=f, field=IMAGE_COLUMN)
        for g in range(pf.metadata.num_row_groups):
            n = pf.metadata.row_group(g).num_rows
            out.append({"file": str(f), "row_group": g, "offset": offset, "rows": n})
            offset += n
    return out


def read_row_group(file: str, row_group: int, offset: int) -> dict[str, np.ndarray]:
    """One row group: {"index": (n,) int64 dataset indices, "row": (n,) int64, "image": (n, 48, 48) uint8}."""
    import pyarrow.parquet as pq
    pf = pq.ParquetFile(file)
    cols = [c for c in (IMAGE_COLUMN, "row") if c in pf.schema_arrow.names]
    t = pf.read_row_group(row_group, columns=cols)
    images = decode_images(t[IMAGE_COLUMN], file=file, offset=offset)
    index = np.arange(offset, offset + len(images), dtype=np.int64)
    row = _int_column(t, "row", file, offset) if "row" in cols else index
    return {"index": index, "row": row, "image": images}


def decode_images(column, *, file: str | os.PathLike | None = None, offset: int = 0) -> np.ndarray:
    """A pyarrow image column -> (N, 48, 48) uint8.

    Accepts binary values of exactly 2,304 bytes (raw pixels), or integer lists of 2,304 values or
    48 x 48 nested lists (Ray Data's tensor columns are read through their storage).

    Raises:
        DataError: naming the file, the first bad row (`offset` + position) and the field.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if isinstance(arr, pa.ExtensionArray):
        arr = arr.storage
    n = len(arr)

    def bad(i: int, problem: str):
        return _error(problem, file=file, row=offset + int(i), field=IMAGE_COLUMN)

    if arr.null_count:
        raise bad(np.flatnonzero(np.asarray(arr.is_null()))[0], "missing image")
    t = arr.type
    if pa.types.is_fixed_size_binary(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t):
        lengths = np.asarray(pc.binary_length(arr)) if not pa.types.is_fixed_size_binary(t) else np.full(n, t.byte_width)
        wrong = np.flatnonzero(lengths != _PIXELS)
        if len(wrong):
            raise bad(wrong[0], f"expected {_PIXELS} raw pixel bytes (48x48 uint8), got {lengths[wrong[0]]} bytes "
                      "(encoded PNG/JPEG files are not read here: store the decoded grey pixels)")
        return np.frombuffer(b"".join(arr.to_pylist()), np.uint8).reshape(n, IMAGE_SIZE, IMAGE_SIZE).copy()
    if not (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)):
        raise bad(0, f"unsupported type {t}; expected binary ({_PIXELS} bytes) or a list of {_PIXELS} integers")
    values, pos = _leaves(arr)
    size = np.diff(pos)
    wrong = np.flatnonzero(size != _PIXELS)
    if len(wrong):
        raise bad(wrong[0], f"expected {_PIXELS} pixel values (48x48), got {size[wrong[0]]}")
    if not pa.types.is_integer(values.type):
        raise bad(0, f"pixel values must be integers 0-255, got {values.type}")
    leaf = values.slice(int(pos[0]), int(pos[-1] - pos[0]))
    if leaf.null_count:
        raise bad(np.flatnonzero(np.asarray(leaf.is_null()))[0] // _PIXELS, "missing pixel value")
    v = np.asarray(leaf).astype(np.int64)
    out_of_range = np.flatnonzero((v < 0) | (v > 255))
    if len(out_of_range):
        raise bad(out_of_range[0] // _PIXELS, f"pixel value {v[out_of_range[0]]} is not in 0-255")
    return v.astype(np.uint8).reshape(n, IMAGE_SIZE, IMAGE_SIZE)


def _leaves(arr):
    """(leaf values array, (N+1,) int64 positions in it where each image's values start) of a
    (nested) list array, through every list level (a slice's offset included)."""
    import pyarrow as pa
    cur, pos = arr, np.arange(len(arr) + 1, dtype=np.int64)
    while pa.types.is_list(cur.type) or pa.types.is_large_list(cur.type) or pa.types.is_fixed_size_list(cur.type):
        if pa.types.is_fixed_size_list(cur.type):
            pos = (cur.offset + pos) * cur.type.list_size
        else:
            pos = np.asarray(cur.offsets, dtype=np.int64)[pos]
        cur = cur.values
    return cur, pos


def _error(problem: str, *, file, row: int, field: str) -> DataError:
    """A DataError at data row `row` of a Parquet source (row = position; Parquet has no lines)."""
    e = DataError(problem, file=file, field=field)
    e.row = row
    e.args = (located(problem, file=file, place=f"row {row}", field=field),)
    return e


def _int_column(t, name: str, file, offset: int) -> np.ndarray:
    import pyarrow as pa
    col = t[name].combine_chunks()
    if not pa.types.is_integer(col.type) or col.null_count:
        raise _error(f"must be integers without gaps, got {col.type}" + (" with nulls" if col.null_count else ""),
                     file=file, row=offset, field=name)
    return np.asarray(col).astype(np.int64)


def read_parquet(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every row group of a Parquet source, in order: {"images": (N, 48, 48) uint8, "labels": (N,)
    int64 (-1 = none), "split": (N,) str ("" = none), "row": (N,) int64}.

    Raises:
        DataError: as :func:`row_groups` and :func:`decode_images`; a label outside -1..6.
    """
    import pyarrow.parquet as pq
    groups = row_groups(path)
    if not sum(g["rows"] for g in groups):
        raise DataError("no faces: the Parquet source has no rows", file=path)
    images, rows, labels, splits = [], [], [], []
    for g in groups:
        part = read_row_group(g["file"], g["row_group"], g["offset"])
        images.append(part["image"])
        rows.append(part["row"])
        schema = pq.ParquetFile(g["file"]).schema_arrow.names
        cols = [c for c in ("label", "split") if c in schema]
        t = pq.ParquetFile(g["file"]).read_row_group(g["row_group"], columns=cols) if cols else None
        labels.append(_int_column(t, "label", g["file"], g["offset"]) if "label" in cols
                      else np.full(g["rows"], -1, np.int64))
        splits.append(np.asarray(t["split"].to_pylist(), dtype=object) if "split" in cols
                      else np.full(g["rows"], "", dtype=object))
    lab = np.concatenate(labels)
    bad = np.flatnonzero((lab < -1) | (lab > 6))
    if len(bad):
        raise _error(f"label {lab[bad[0]]} is not -1 (none) or 0-6", file=path, row=int(bad[0]), field="label")
    split = np.concatenate(splits)
    return {"images": np.concatenate(images), "labels": lab, "split": np.array([s or "" for s in split], dtype=str),
            "row": np.concatenate(rows)}
