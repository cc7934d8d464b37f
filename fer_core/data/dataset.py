"""Readers for FER2013 (`fer2013.csv[.gz]`), FER+ votes (`fer2013new.csv`), image folders and
Parquet files of faces (:mod:`fer_core.data.parquet`, the distributed job's input).

Image folders: the layouts of :mod:`fer_core.data.layouts` (FER2013 copies, RAF-DB, AffectNet,
CK+, emotion-name folders). A 48x48 image is taken as a face crop as it is; any other photo is
searched for faces and its largest face cropped as the Try a face page crops it
(:mod:`fer_core.data.faces`); the result is cached with the rest of the parse.

Every reader returns one :class:`Dataset`. Bad input raises :class:`DataError` (a
``ValueError``) whose message names the file, the row and the field; no row is dropped
silently.

Command line::

    python -m fer_core.data PATH [--ferplus PATH] [--json]
"""
from __future__ import annotations

import io
import json
import os
import re
import sys
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from fer_core.constants import (FER2013_EMOTIONS, FER2013_TO_FER6, FERPLUS_EMOTIONS, FERPLUS_TO_FER2013,
                        FERPLUS_VOTE_COLUMNS, IMAGE_SIZE, N_PIXELS, SPLITS,
                        get_label_set)
from fer_core.data import faces as face_detection
from fer_core.data.errors import DataError
from fer_core.data.layouts import IMAGE_EXTENSIONS, LABEL_EXTENSIONS, read_layout
from fer_core.data.parquet import is_parquet, parquet_source_hash, read_parquet
from fer_core.store import Store, hash_bytes, hash_file

__all__ = ["IMAGE_EXTENSIONS", "DataError", "Dataset", "FerPlus", "load_dataset", "read_fer2013_csv",
           "read_ferplus_csv", "read_image_folder"]
SAMPLE_DIR = Path(__file__).resolve().parent / "sample"
SAMPLE_CSV = SAMPLE_DIR / "fer2013_sample.csv.gz"
SAMPLE_FERPLUS = SAMPLE_DIR / "fer2013new_sample.csv"
#: Bump when a reader's output changes, so cached parses are rebuilt.
READER_VERSION = 2  # 2: pixel values past int32 and a long first row are errors (were read wrongly)
#: Bump when the image-folder reader's output changes (its own key, so CSV parses are kept).
FOLDER_READER_VERSION = 2  # 2: layouts (RAF-DB, AffectNet, synonyms); faces detected and cropped
#: Photos of a folder are decoded and searched for faces on this many threads (OpenCV and Pillow
#: release the GIL).
FOLDER_THREADS = max(1, min(8, os.cpu_count() or 1))


@dataclass
class FerPlus:
    """FER+ crowd labels, row-aligned with the FER2013 rows of the dataset.

    Attributes:
        votes: (N, 10) int16, votes for FERPLUS_VOTE_COLUMNS (8 emotions, unknown, NF).
        majority: (N,) int64 FER+ class 0..7 by the FER+ paper's majority rule, -1 when
            there is no valid majority (unknown, not a face, or no class above half).
        probs: (N, 8) float32 vote distribution over the 8 emotions (rows sum to 1, or 0 when
            no emotion vote).
        not_face: (N,) bool, True for the rows FER+ left without an image name (173 in full).
        name: (N,) str, FER+ image name ('' for non-faces).
    """

    votes: np.ndarray
    majority: np.ndarray
    probs: np.ndarray
    not_face: np.ndarray
    name: np.ndarray

    def subset(self, idx: np.ndarray) -> "FerPlus":
        return FerPlus(self.votes[idx], self.majority[idx], self.probs[idx], self.not_face[idx],
                       self.name[idx])

    @property
    def majority_fer2013(self) -> np.ndarray:
        """(N,) FER+ majority in FER2013 index space; -1 for none or contempt."""
        return np.where(self.majority >= 0, FERPLUS_TO_FER2013[np.maximum(self.majority, 0)], -1)

    @property
    def plurality_fer2013(self) -> np.ndarray:
        """(N,) the most-voted FER+ emotion (ties: first) in FER2013 space; -1 if no emotion vote
        or contempt."""
        ev = self.votes[:, :8]
        top = ev.argmax(1)
        return np.where(ev.sum(1) > 0, FERPLUS_TO_FER2013[top], -1)


@dataclass
class Dataset:
    """One loaded dataset.

    Attributes:
        images: (N, 48, 48) uint8 grey images.
        labels: (N,) int64 FER2013 class index 0..6 (FER2013_EMOTIONS); -1 = unlabeled.
        split: (N,) str, one of SPLITS, or '' when the source has no split.
        row: (N,) int64 row index in the source file (the sample keeps the full file's rows).
        source: where it came from (path, or 'bundled sample').
        data_hash: content hash of the images, labels and split (the data file or the image
            folder; a subset: its parent's hash and the rows kept). Never includes FER+.
        ferplus: FER+ labels when loaded, else None.
        paths: (N,) str image file per row, for folder datasets; None otherwise.
        ferplus_hash: content hash of the FER+ votes ('' when not loaded).
        previous_hashes: data hashes the same data had in earlier versions of this package (the
            hash of a file loaded with its FER+ votes used to include them), so that records keyed
            by them (flags) can be carried over; empty for a subset.
        faces: (N,) int16 for folder datasets: faces the detector found in each photo (0: the
            whole photo was used; 2 or more: the largest face was used), -1 for an image that was
            already 48x48 (taken as a face crop, not searched); None otherwise.
        layout: the folder layout read (:data:`fer_core.data.layouts.LAYOUTS`), '' for a CSV file.
    """

    images: np.ndarray
    labels: np.ndarray
    split: np.ndarray
    row: np.ndarray
    source: str
    data_hash: str
    ferplus: FerPlus | None = None
    paths: np.ndarray | None = None
    ferplus_hash: str = ""
    previous_hashes: tuple[str, ...] = ()
    faces: np.ndarray | None = None
    layout: str = ""

    def __len__(self) -> int:
        return len(self.labels)

    def input_hash(self, reads) -> str:
        """Hash of the inputs a stage reads (fer_core.stages.INPUTS): :attr:`data_hash` for images,
        labels and split (they come from one file), combined with :attr:`ferplus_hash` only when
        'ferplus' is among `reads`. So loading the FER+ votes or not keeps every other key."""
        if "ferplus" not in reads:
            return self.data_hash
        return hash_bytes(self.data_hash, "ferplus", self.ferplus_hash or "none")

    @property
    def cache_token(self) -> str:
        """Identity of everything loaded (data and FER+ votes), for caches of results that may
        read any of it (e.g. the dashboard's)."""
        return self.input_hash(("ferplus",))

    def subset(self, idx) -> "Dataset":
        """A new Dataset with the rows `idx` (bool mask or integer indices), with its own hashes
        (the parent's and the rows kept), so its artifacts are never the parent's."""
        idx = np.asarray(idx)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ValueError(f"a boolean subset mask must be ({len(self)},), got {idx.shape}")
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64, copy=False)
        rows = idx.tobytes()
        return replace(self, images=self.images[idx], labels=self.labels[idx], split=self.split[idx],
                       row=self.row[idx], ferplus=self.ferplus.subset(idx) if self.ferplus else None,
                       paths=self.paths[idx] if self.paths is not None else None,
                       faces=self.faces[idx] if self.faces is not None else None,
                       data_hash=hash_bytes(self.data_hash, "subset", rows), previous_hashes=(),
                       ferplus_hash=hash_bytes(self.ferplus_hash, "subset", rows) if self.ferplus_hash else "")

    def split_mask(self, name: str) -> np.ndarray:
        """(N,) bool: rows of split `name` (labelled or not)."""
        return self.split == name

    def rows(self, split: str | Iterable[str] | None = None, label_set: str = "fer2013", *,
             labeled: bool = True) -> np.ndarray:
        """(M,) int64 dataset indices of the rows in `split` (one name, several, or None = every
        row) that have a label in `label_set` (with `labeled`; 'ferplus' needs FER+ votes).

        Example:
            >>> test = ds.rows("PrivateTest")                  # labelled PrivateTest rows
            >>> held_out = ds.rows(("PublicTest", "PrivateTest"), "ferplus")
        """
        mask = np.ones(len(self), bool) if split is None else np.isin(
            self.split, [split] if isinstance(split, str) else list(split))
        if labeled:
            mask &= self.labels_in(label_set) >= 0
        return np.flatnonzero(mask)

    def labels_in(self, label_set: str) -> np.ndarray:
        """(N,) labels in `label_set` ('fer2013', 'fer6', 'ferplus'); -1 where undefined."""
        get_label_set(label_set)
        if label_set == "fer2013":
            return self.labels
        if label_set == "fer6":
            return np.where(self.labels >= 0, FER2013_TO_FER6[np.maximum(self.labels, 0)], -1)
        if self.ferplus is None:
            raise ValueError("label set 'ferplus' needs FER+ votes: load fer2013new.csv with --ferplus")
        return self.ferplus.majority

    def ferplus_agreement(self) -> float | None:
        """Share of rows with a FER+ majority in the 7 FER2013 classes whose FER2013 label equals
        it; None without FER+."""
        if self.ferplus is None:
            return None
        maj = self.ferplus.majority_fer2013
        ok = (maj >= 0) & (self.labels >= 0)
        return float((maj[ok] == self.labels[ok]).mean()) if ok.any() else None

    def photo_faces(self) -> dict[str, np.ndarray]:
        """Rows of a photo folder by the faces found: 'no face' (the whole photo was used),
        'several faces' (the largest was used), each (M,) int64 dataset indices; empty when
        the dataset has no searched photos."""
        if self.faces is None or not (self.faces >= 0).any():
            return {}
        return {"no face": np.flatnonzero(self.faces == 0), "several faces": np.flatnonzero(self.faces > 1)}

    def summary(self) -> dict:
        """JSON-ready summary: rows, per-split and per-class counts, FER+ agreement, and for a
        photo folder its layout and the photos searched for a face, with none or several found."""
        splits = [s for s in SPLITS if (self.split == s).any()] + \
                 sorted(set(self.split.tolist()) - set(SPLITS))
        per_split = {}
        for s in splits:
            lab = self.labels[self.split == s]
            per_split[s or "(none)"] = {"total": int(len(lab)), **{
                name: int((lab == i).sum()) for i, name in enumerate(FER2013_EMOTIONS)}}
            if (lab < 0).any():
                per_split[s or "(none)"]["unlabeled"] = int((lab < 0).sum())
        out = {"source": self.source, "rows": len(self), "data_hash": self.data_hash,
               "splits": per_split,
               "classes": {name: int((self.labels == i).sum()) for i, name in enumerate(FER2013_EMOTIONS)}}
        if self.layout:
            out["layout"] = self.layout
        if self.photo_faces():
            out["photos"] = {"searched": int((self.faces >= 0).sum()), "no_face": int((self.faces == 0).sum()),
                             "several_faces": int((self.faces > 1).sum())}
        if self.ferplus is not None:
            fp = self.ferplus
            out["ferplus"] = {
                "agreement_rate": round(self.ferplus_agreement() or 0.0, 4),
                "not_face": int(fp.not_face.sum()),
                "no_majority": int((fp.majority < 0).sum()),
                "majority_counts": {n: int((fp.majority == i).sum()) for i, n in enumerate(FERPLUS_EMOTIONS)},
            }
        return out


# --------------------------------------------------------------------------------------------
# FER2013 csv
# --------------------------------------------------------------------------------------------
#: Leading bytes of the compressed files pandas reads, so that a gzip file named .csv (or a
#: plain one named .csv.gz) is read for what it is.
_COMPRESSION_MAGIC = ((b"\x1f\x8b", "gzip"), (b"PK\x03\x04", "zip"), (b"BZh", "bz2"),
                      (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"))


def _compression(path: Path) -> str | None:
    with open(path, "rb") as f:
        head = f.read(6)
    return next((name for magic, name in _COMPRESSION_MAGIC if head.startswith(magic)), None)


#: Rows of a FER2013 CSV parsed at a time: besides the images, the reader holds one chunk's pixel
#: text (~8 KB a row: ~8 MB), not the whole file's text as strings (which took ~15x the pixel
#: bytes: 1.26 GB peak for FER2013's 83 MB of pixels; bench/RESULTS.md "Near-linear prepare stages").
_CSV_CHUNK_ROWS = 1024


def _read_csv_strings(path: Path) -> pd.DataFrame:
    """The whole CSV as one DataFrame of strings (for a small file: the FER+ votes)."""
    return next(_csv_string_chunks(path, None))


def _csv_string_chunks(path: Path, chunk_rows: int | None):
    """Yield the CSV as DataFrames of strings of `chunk_rows` rows each (None: one DataFrame);
    at least one (an empty one when the file has a header only). A fault anywhere in the file
    raises DataError naming the file and, where it lies in one row, the row and line."""
    if not path.exists():
        raise DataError("file not found", file=path)
    if path.is_dir():
        raise DataError("is a folder, expected a CSV file", file=path)
    compression = _pandas_step(lambda: _compression(path), path, None)
    # index_col=False: a first data row with more fields than the header must not turn the
    # first column into an index (shifting every column); pandas drops the extra fields
    # with a ParserWarning instead, which becomes an error (_pandas_step)
    reader = _pandas_step(lambda: pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False,
                                              compression=compression, engine="c", index_col=False,
                                              chunksize=chunk_rows), path, compression)
    if chunk_rows is None:
        yield reader
        return
    with reader:
        while (chunk := _pandas_step(lambda: next(reader, None), path, compression)) is not None:
            yield chunk


def _pandas_step(step, path: Path, compression: str | None):
    """`step()` (opening the CSV or reading its next chunk) with pandas' faults as DataError."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            out = step()
        if isinstance(out, pd.DataFrame) and any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
            long = next((r for r in _scan(path, compression) if r[0] is not None and r[3] > len(out.columns)), None)
            raise DataError(f"malformed CSV: expected {len(out.columns)} fields (as in the header), saw "
                            f"{long[3] if long else 'more'}", file=path, row=long[0] if long else None,
                            line=long[2] if long else None)
        return out
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError("file is empty", file=path) from None
    except pd.errors.ParserError as e:  # wrong number of fields on a line, unterminated quote
        msg = " ".join(str(e).split())
        m = re.search(r"in line (\d+)", msg) or re.search(r"starting at row (\d+)", msg)
        where = _locate(path, compression, line=int(m.group(1)) + (0 if "in line" in m.group(0) else 1)) \
            if m else None
        row, line = where if where else (None, None)
        raise DataError(f"malformed CSV: {msg}", file=path, row=row, line=line) from None
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8 text (byte 0x{e.object[e.start]:02x} at position {e.start}); save it as a "
                        "UTF-8 CSV", file=path) from None
    except Exception as e:  # noqa: BLE001 - bad gzip/zip/xz data, several files in a zip, a codec not installed
        raise DataError(f"cannot read file ({type(e).__name__}: {' '.join(str(e).split())[:200]})",
                        file=path) from None


def _open_binary(path: Path, compression: str | None):
    import bz2
    import gzip
    import lzma
    import zipfile

    if compression == "zip":
        with zipfile.ZipFile(path) as z:
            return z.open(z.namelist()[0])
    return {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open, None: open}[compression](path, "rb")


def _open_text(path: Path, compression: str | None):
    return io.TextIOWrapper(_open_binary(path, compression), encoding="utf-8-sig", errors="replace", newline="")


def _count_lines(path: Path) -> int:
    """Line breaks in the (decompressed) file plus one: at least its data rows; 0 when the file
    cannot be read (the CSV reader then reports why)."""
    try:
        n = 1
        with _open_binary(path, _compression(path)) as f:
            while block := f.read(1 << 24):
                n += block.count(b"\n")
        return n
    except Exception:  # noqa: BLE001 - only the preallocation is lost
        return 0


def _scan(path: Path, compression: str | None):
    """Yield (data row or None, pandas line, file line, fields) for each record of a CSV file.

    The data row is 0-based (None for the header and blank lines); the pandas line is 1-based as
    pandas' C reader counts (blank lines count, a line break inside quotes does not); the file
    line is the 1-based line where the record starts. Stops quietly when the file cannot be read.
    """
    import csv

    try:
        with _open_text(path, compression) as f:
            reader = csv.reader(f, strict=False)
            data_row, header_seen, start = -1, False, 1
            for tok_line, rec in enumerate(reader, 1):
                blank = not rec or (len(rec) == 1 and not rec[0].strip())
                this = None
                if not blank:
                    if header_seen:
                        data_row += 1
                        this = data_row
                    header_seen = True
                yield this, tok_line, start, len(rec)
                start = reader.line_num + 1
    except Exception:  # noqa: BLE001 - only the location is lost
        return


def _locate(path: Path, compression: str | None, *, row: int | None = None,
            line: int | None = None) -> tuple[int | None, int] | None:
    """(data row, file line) of a data `row` or of pandas' `line` (see :func:`_scan`); None when
    not found."""
    return next(((r, start) for r, tok, start, _ in _scan(path, compression)
                 if (row is not None and r == row) or (line is not None and tok == line)), None)


def _with_lines(path: Path, parse):
    """Run `parse()`; give a DataError about a row the row's true line (blank lines and quoted
    line breaks move it from row + 2)."""
    try:
        return parse()
    except DataError as e:
        if e.row is None or e.file is None:
            raise
        where = _locate(path, _compression(path), row=e.row)
        if where is None or where[1] == e.line:
            raise
        raise DataError(e.problem, file=e.file, row=e.row, field=e.field, line=where[1]) from None


def _require_columns(df: pd.DataFrame, cols, path: Path, *, empty_ok: bool = False) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        hint = next((f" (the header looks {name}-separated: the file must be comma-separated)"
                     for sep, name in (("\t", "tab"), (";", "semicolon")) if len(df.columns) == 1
                     and sep in str(df.columns[0])), "")
        raise DataError(f"missing column(s) {missing}; found {list(df.columns)}{hint}", file=path)
    if len(df) == 0 and not empty_ok:
        raise DataError("file has a header but no data rows", file=path)


def _parse_int_column(values: np.ndarray, path: Path, field_name: str, lo: int, hi: int) -> np.ndarray:
    num = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy()
    bad = np.isnan(num) | (num != np.round(num))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"not an integer: {values[i]!r}", file=path, row=i, field=field_name)
    out_of_range = (num < lo) | (num > hi)
    if out_of_range.any():
        i = int(np.flatnonzero(out_of_range)[0])
        raise DataError(f"value {values[i]} out of range {lo}..{hi}", file=path, row=i, field=field_name)
    return num.astype(np.int64)


def _diagnose_pixels(s: str, path: Path, row: int) -> DataError:
    tokens = s.split()
    for j, t in enumerate(tokens):
        try:
            v = int(t)
        except ValueError:
            return DataError(f"non-numeric pixel value {t[:20]!r} at position {j}", file=path, row=row,
                             field="pixels")
        if not 0 <= v <= 255:
            return DataError(f"pixel value {v} at position {j} out of range 0..255", file=path, row=row,
                             field="pixels")
    return DataError(f"expected {N_PIXELS} pixel values (48x48), got {len(tokens)}", file=path, row=row,
                     field="pixels")


def _parse_pixels(pixels: np.ndarray, path: Path, out: np.ndarray, *, start: int = 0) -> DataError | None:
    """Parse (n,) space-separated strings (data rows start, start + 1, ...) into `out` (n, 2304)
    uint8; the DataError of the first bad row (not raised: the caller reports faults in the file's
    column order), or None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # older numpy: warns at a bad token
        for i, s in enumerate(pixels):
            try:
                v = np.fromstring(s, dtype=np.int64, sep=" ")  # int32 would wrap 4294967301 to 5
            except ValueError:  # numpy >= 2.3 raises on an unparsable token
                return _diagnose_pixels(s, path, start + i)
            if v.size != N_PIXELS or v.min(initial=0) < 0 or v.max(initial=0) > 255:
                return _diagnose_pixels(s, path, start + i)
            out[i] = v
    return None


def read_fer2013_csv(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Parse a Kaggle-format FER2013 file (plain or .gz).

    Columns `emotion` (0..6), `pixels` (2304 values 0..255), `Usage` (Training / PublicTest /
    PrivateTest). An optional `row` column (the bundled sample has it) gives original rows.

    Returns:
        dict with images (N,48,48) uint8, labels (N,) int64, split (N,) str, row (N,) int64.

    Raises:
        DataError: naming file, row and field for any bad value.
    """
    path = Path(path)
    return _with_lines(path, lambda: _read_fer2013_csv(path))


def _read_fer2013_csv(path: Path) -> dict[str, np.ndarray]:
    # Chunk by chunk into one preallocated uint8 array (a first pass counts the lines; grown if a
    # file could not be counted). Faults are reported as the whole-file reader did: a malformed line
    # anywhere first, then the first bad emotion, Usage, pixels, row (each column's first bad row).
    cols, small, pixel_error = None, {"emotion": [], "Usage": [], "row": []}, None
    images, n = np.empty((_count_lines(path), N_PIXELS), np.uint8), 0  # >= the rows: trimmed at the end
    for df in _csv_string_chunks(path, _CSV_CHUNK_ROWS):
        if cols is None:
            cols = list(df.columns)
            _require_columns(df, ("emotion", "pixels", "Usage"), path, empty_ok=True)
        for c, parts in small.items():
            if c in df.columns:
                parts.append(df[c].to_numpy(dtype=object))
        m = len(df)
        if pixel_error is None and m:
            if n + m > len(images):
                images.resize((max(2 * len(images), n + m), N_PIXELS), refcheck=False)
            pixel_error = _parse_pixels(df["pixels"].to_numpy(dtype=object), path, images[n:n + m], start=n)
        n += m
    if n == 0:
        raise DataError("file has a header but no data rows", file=path)
    small = {c: np.concatenate(v) for c, v in small.items() if v}
    labels = _parse_int_column(small["emotion"], path, "emotion", 0, len(FER2013_EMOTIONS) - 1)
    usage = small["Usage"].astype(str)
    bad = ~np.isin(usage, SPLITS)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"unknown Usage {str(usage[i])!r}; expected one of {list(SPLITS)}", file=path, row=i,
                        field="Usage")
    if pixel_error is not None:
        raise pixel_error
    images.resize((n, N_PIXELS), refcheck=False)
    if "row" in small:
        row = _parse_int_column(small["row"], path, "row", 0, 10**9)
    else:
        row = np.arange(n, dtype=np.int64)
    return {"images": images.reshape(n, IMAGE_SIZE, IMAGE_SIZE), "labels": labels, "split": usage, "row": row}


# --------------------------------------------------------------------------------------------
# FER+
# --------------------------------------------------------------------------------------------
def ferplus_majority(votes: np.ndarray) -> np.ndarray:
    """FER+ paper's majority rule on (N, 10) votes -> (N,) class 0..7, or -1.

    As in Microsoft's FERPlus code (`_process_data`, mode 'majority'): single votes are dropped
    as outliers; the top class wins if it holds more than half of the remaining votes, and the
    row is kept only if that class is one of the 8 emotions (not 'unknown' or 'NF').
    """
    v = np.asarray(votes, dtype=np.float64).copy()
    v[v <= 1.0] = 0.0
    total = v.sum(1)
    top = v.argmax(1)
    topval = v[np.arange(len(v)), top]
    ok = (topval > 0.5 * total) & (total > 0) & (top < len(FERPLUS_EMOTIONS))
    return np.where(ok, top, -1).astype(np.int64)


def ferplus_distribution(votes: np.ndarray) -> np.ndarray:
    """(N, 10) votes -> (N, 8) float32 distribution over the 8 emotions (0 rows if no emotion vote)."""
    ev = np.asarray(votes, dtype=np.float32)[:, :len(FERPLUS_EMOTIONS)]
    s = ev.sum(1, keepdims=True)
    return np.divide(ev, s, out=np.zeros_like(ev), where=s > 0)


def read_ferplus_csv(path: str | os.PathLike, *, expected_rows: int | None = None,
                     expected_split: np.ndarray | None = None, fer_path: str | None = None) -> FerPlus:
    """Parse `fer2013new.csv` (row i = FER2013 row i).

    Args:
        expected_rows: FER2013 row count; a different count raises DataError.
        expected_split: (N,) FER2013 Usage per row; a row whose Usage differs raises DataError.
    """
    path = Path(path)
    return _with_lines(path, lambda: _read_ferplus_csv(path, expected_rows, expected_split, fer_path))


def _read_ferplus_csv(path: Path, expected_rows, expected_split, fer_path) -> FerPlus:
    df = _read_csv_strings(path)
    _require_columns(df, ("Usage", "Image name") + FERPLUS_VOTE_COLUMNS, path)
    if expected_rows is not None and len(df) != expected_rows:
        raise DataError(f"has {len(df)} rows but {Path(fer_path).name if fer_path else 'the FER2013 file'} "
                        f"has {expected_rows}: FER+ must be row-aligned with FER2013", file=path)
    votes = np.stack([_parse_int_column(df[c].to_numpy(), path, c, 0, 1000) for c in FERPLUS_VOTE_COLUMNS],
                     axis=1).astype(np.int16)
    if expected_split is not None:
        usage = df["Usage"].to_numpy().astype(str)
        bad = usage != np.asarray(expected_split).astype(str)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"Usage {str(usage[i])!r} but the FER2013 row says {str(expected_split[i])!r}: "
                            f"files are not row-aligned", file=path, row=i, field="Usage")
    name = df["Image name"].to_numpy().astype(str)
    name = np.char.strip(name)
    return FerPlus(votes=votes, majority=ferplus_majority(votes), probs=ferplus_distribution(votes),
                   not_face=(name == ""), name=name)


# --------------------------------------------------------------------------------------------
# Image folders
# --------------------------------------------------------------------------------------------
def _read_face(path: Path, detector: str) -> tuple[np.ndarray, int, tuple[int, int, int, int]]:
    """(48, 48) uint8 face of one image file, the faces found (-1: not searched) and its box."""
    from fer_core.data.photos import ImageError, load_photo
    try:
        photo = load_photo(path)
    except ImageError as e:
        raise DataError(f"unreadable image ({e.problem})", file=path) from None
    if photo.size == (IMAGE_SIZE, IMAGE_SIZE):  # already a FER-style face crop: kept as it is
        return photo.gray, -1, (0, 0, IMAGE_SIZE, IMAGE_SIZE)
    found = face_detection.face_crop(photo.gray, detector=detector)
    return found.crop, found.faces, found.box


def read_image_folder(path: str | os.PathLike, *, detector: str = face_detection.DEFAULT_DETECTOR,
                      progress: bool = False) -> dict[str, np.ndarray]:
    """Read a folder of face images or photos in one of the layouts of :mod:`fer_core.data.layouts`
    (``[<split>/]<emotion>/*.jpg``, RAF-DB, AffectNet, or a plain folder of unlabelled images).

    Split folders: train -> Training, test -> PrivateTest, val -> PublicTest (see the layouts for
    RAF-DB and AffectNet). A 48x48 image (any mode) is taken as a face crop and only made grey;
    any other photo is searched for faces with `detector` and its largest face cropped to 48x48
    (:func:`fer_core.data.faces.face_crop`); a photo with no face is kept whole (resized), and
    counted in ``faces``. Emotions are mapped to FER2013's classes; contempt, which FER2013
    lacks, gets the FER2013 label -1 and its class in FER+-style labels (``fp_votes``: 10 votes
    for the folder's emotion, so ``labels_in('ferplus')`` holds every image's emotion), added
    when any image is labelled contempt. `progress`: a tqdm bar (stderr) over the images.

    Returns:
        dict with images (N,48,48) uint8, labels (N,) int64, split, row, paths (relative to the
        folder), faces (N,) int16 (see :attr:`Dataset.faces`), face_box (N, 4) int32 [x, y, w, h],
        layout (0-d str), and fp_votes / fp_name with contempt.

    Raises:
        DataError: an unreadable image, a folder name that is no emotion, a bad label row (each
            named with its file, row and field).
    """
    from concurrent.futures import ThreadPoolExecutor

    import cv2  # noqa: F401 - imported here, once: a first import from several threads at once sees a half-made module
    from tqdm.auto import tqdm

    root = Path(path)
    listing = read_layout(root)
    with ThreadPoolExecutor(FOLDER_THREADS) as pool:
        read = list(tqdm(pool.map(lambda f: _read_face(f, detector), listing.files), total=len(listing.files),
                         desc=f"{root.name}: faces", unit="image", disable=not progress))
    fp = listing.labels
    out = {"images": np.stack([r[0] for r in read]),
           "labels": np.where(fp >= 0, FERPLUS_TO_FER2013[np.maximum(fp, 0)], -1).astype(np.int64),
           "split": listing.split, "row": np.arange(len(read), dtype=np.int64),
           "paths": np.array([f.relative_to(root).as_posix() for f in listing.files]),
           "faces": np.array([r[1] for r in read], np.int16), "face_box": np.array([r[2] for r in read], np.int32),
           "layout": np.array(listing.layout)}
    if (fp == FERPLUS_EMOTIONS.index("contempt")).any():
        votes = np.zeros((len(fp), len(FERPLUS_VOTE_COLUMNS)), np.int16)
        votes[fp >= 0, fp[fp >= 0]] = 10
        votes[fp < 0, FERPLUS_VOTE_COLUMNS.index("unknown")] = 10
        out.update(fp_votes=votes, fp_name=out["paths"])
    return out


def _hash_folder(root: Path) -> tuple[str, str]:
    """Content hash of the images and label files (list files, annotations) under `root`, and
    the hash of its images alone (what versions before the layouts hashed; equal without label files)."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS + LABEL_EXTENSIONS)
    entries = [(f.suffix.lower() in IMAGE_EXTENSIONS, f"{f.relative_to(root)}:{hash_file(f)}") for f in files]
    return hash_bytes(*[e for _, e in entries]), hash_bytes(*[e for image, e in entries if image])


# --------------------------------------------------------------------------------------------
# Entry point with caching
# --------------------------------------------------------------------------------------------
def load_dataset(path: str | os.PathLike | None = None, ferplus: str | os.PathLike | None = None, *,
                 store: Store | None = None, use_cache: bool = True, progress: bool = False) -> Dataset:
    """Load a dataset, parsing once and serving later loads from the artifact cache.

    Args:
        path: fer2013.csv[.gz], an image folder, or a .parquet file / folder of them (an ``image``
            column: :mod:`fer_core.data.parquet`); None -> the bundled sample (with its FER+).
        ferplus: fer2013new.csv row-aligned with `path` (CSV sources only).
        store: artifact store (default: the repo's cache/).
        use_cache: False parses every time and writes nothing.
        progress: a progress bar (stderr) while the images of a folder are read and searched
            for faces (about 0.1-0.3 s a large photo on one CPU core; once, then cached).
    """
    if path is None:
        path, ferplus, source = SAMPLE_CSV, SAMPLE_FERPLUS, "bundled sample"
    else:
        source = str(path)
    path = Path(path)
    if not path.exists():
        raise DataError("file or folder not found", file=path)
    if ferplus is not None and not Path(ferplus).exists():
        raise DataError("FER+ file not found", file=ferplus)
    kind = "parquet" if is_parquet(path) else "folder" if path.is_dir() else "csv"
    is_folder = kind == "folder"
    if kind != "csv" and ferplus is not None:
        raise DataError("FER+ votes can only be joined to a fer2013.csv file, not an image folder"
                        + (" or Parquet" if kind == "parquet" else ""), file=path)
    # images, labels and split: the source alone (the value the earlier combined hash had without
    # FER+, so flags recorded then keep their dataset); the FER+ votes apart. The parse cache below
    # holds both, so it keeps the combined hash.
    if is_folder:
        source_hash, images_hash = _hash_folder(path)
    else:
        source_hash, images_hash = parquet_source_hash(path) if kind == "parquet" else hash_file(path), ""
    ferplus_hash = hash_file(ferplus) if ferplus else ""
    data_hash = hash_bytes(source_hash, "")
    detector = face_detection.DEFAULT_DETECTOR

    def parse() -> dict[str, np.ndarray]:
        arrays = (read_image_folder(path, detector=detector, progress=progress) if is_folder else
                  read_parquet(path) if kind == "parquet" else read_fer2013_csv(path))
        if ferplus is not None:
            fp = read_ferplus_csv(ferplus, expected_rows=len(arrays["labels"]),
                                  expected_split=arrays["split"], fer_path=str(path))
            arrays.update(fp_votes=fp.votes, fp_name=fp.name)
        return arrays

    config = {"reader": {"folder": "folder", "parquet": "parquet"}.get(kind, "fer2013_csv"),
              "reader_version": READER_VERSION,
              "ferplus": ferplus is not None}
    if is_folder:  # how photos are cropped: a new detector or margin parses the folder again
        config.update(folder_version=FOLDER_READER_VERSION, detector=detector,
                      margin=face_detection.CROP_MARGIN[detector])
    if use_cache:
        arrays = (store or Store()).get_or_compute("dataset", config, parse,
                                                   data_hash=hash_bytes(source_hash, ferplus_hash),
                                                   extra_meta={"source": source})
    else:
        arrays = parse()
    fp = None
    if "fp_votes" in arrays:
        votes = arrays["fp_votes"]
        fp = FerPlus(votes=votes, majority=ferplus_majority(votes), probs=ferplus_distribution(votes),
                     not_face=(arrays["fp_name"] == ""), name=arrays["fp_name"])
    if fp is not None and is_folder:  # the folder's own FER+-style labels (contempt): from its content
        ferplus_hash = hash_bytes(source_hash, "folder labels")
    return Dataset(images=arrays["images"], labels=arrays["labels"].astype(np.int64),
                   split=arrays["split"].astype(str), row=arrays["row"].astype(np.int64), source=source,
                   data_hash=data_hash, ferplus=fp, paths=arrays.get("paths"), ferplus_hash=ferplus_hash,
                   previous_hashes=(hash_bytes(source_hash, ferplus_hash),) if ferplus and ferplus_hash else
                   (hash_bytes(images_hash, ""),) if is_folder and images_hash != source_hash else (),
                   faces=arrays["faces"].astype(np.int16) if "faces" in arrays else None,
                   layout=str(arrays["layout"]) if "layout" in arrays else "")


def main(argv: list[str] | None = None) -> int:
    from fer_core import cli
    p = cli.command_parser("data", "Load a FER dataset and print a summary.", ferplus=True, json=True)
    p.add_argument("path", nargs="?", help="fer2013.csv[.gz] or an image folder (default: bundled sample)")
    p.add_argument("--no-cache", action="store_true", help="parse again, write nothing to cache/")
    a = p.parse_args(argv)
    return cli.run(lambda: _summarize(a))


def _summarize(a) -> int:
    ds = load_dataset(a.path, a.ferplus or None, use_cache=not a.no_cache, progress=not a.json)
    s = ds.summary()
    if a.json:
        print(json.dumps(s, indent=2))
    else:
        print(f"{s['source']}: {s['rows']} images")
        print(pd.DataFrame(s["splits"]).T.to_string())
        if "photos" in s:
            ph = s["photos"]
            print(f"{s['layout']} layout: {ph['searched']} photos searched for a face, {ph['no_face']} with no face "
                  f"(kept whole), {ph['several_faces']} with several (the largest kept)")
        if "ferplus" in s:
            print(f"FER+ agreement with FER2013 labels: {s['ferplus']['agreement_rate']:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
