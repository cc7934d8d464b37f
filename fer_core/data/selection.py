"""A selection of a dataset's images as a short, URL-safe text (for bookmarks), and back.

A selection is a set of dataset indices (positions in ``Dataset``, 0..N-1) plus where it came
from ("box on UMAP map", "confusion cell angry->sad"). :func:`encode` writes the indices in the
shortest of three forms, each one letter then its body:

* ``r`` ranges: sorted indices, a run as ``a-b``, joined by ``.``: ``r0-9.15.20-30`` (readable;
  short for runs and a few images);
* ``z`` the ranges text compressed (zlib) in base64url: many scattered images;
* ``b`` a bitmap of N bits compressed (zlib) in base64url: a large share of the dataset.

Every character is URL-unreserved (``A-Z a-z 0-9 - . _``), so the text goes into a query
string as it is. :func:`decode` checks everything (form, digits, order, range against N, the
size a compressed body may expand to) and raises :class:`SelectionError` saying what is wrong.

Example:
    >>> encode([0, 1, 2, 3, 9], n=100)
    'r0-3.9'
    >>> decode("r0-3.9", n=100)
    array([0, 1, 2, 3, 9])
"""
from __future__ import annotations

import base64
import binascii
import re
import unicodedata
import zlib
from dataclasses import dataclass

import numpy as np

#: Longest accepted encoded text (characters); a full 35,887-image bitmap needs about 6,000.
MAX_TEXT = 200_000
#: Longest kept source description (characters).
MAX_SOURCE = 120
_RANGES = re.compile(r"^(\d+(-\d+)?)(\.\d+(-\d+)?)*$")


class SelectionError(ValueError):
    """A selection text that cannot be read: the message says what is wrong with it."""


@dataclass(frozen=True)
class Selection:
    """The current selection of one dataset.

    Attributes:
        indices: (M,) int64 sorted unique dataset indices (0..N-1).
        source: where it came from, for people ("box on UMAP map").
        data_hash: ``Dataset.data_hash`` of the dataset the indices belong to.
    """

    indices: np.ndarray
    source: str
    data_hash: str

    def __len__(self) -> int:
        return len(self.indices)


def normalize(indices, *, n: int) -> np.ndarray:
    """`indices` (any integer sequence or bool mask of length n) -> sorted unique int64.

    Raises:
        SelectionError: not integers, or outside 0..n-1.
    """
    a = np.asarray(indices)
    if a.dtype == bool:
        if a.shape != (n,):
            raise SelectionError(f"a boolean selection mask must have {n} entries, got {a.shape}")
        return np.flatnonzero(a).astype(np.int64)
    if a.size == 0:
        return np.zeros(0, np.int64)
    if not np.issubdtype(a.dtype, np.integer):
        raise SelectionError(f"selection indices must be integers, got {a.dtype}")
    a = a.astype(np.int64).ravel()
    # already sorted and unique (a map's region) stays as it is: np.unique takes ~2 s on 500,000 rows
    if not (np.diff(a) > 0).all():
        a = np.unique(a)
    if a[0] < 0 or a[-1] >= n:
        raise SelectionError(f"selection index {a[0] if a[0] < 0 else a[-1]} is outside 0..{n - 1} "
                             f"(the dataset has {n:,} images)")
    return a


def clean_source(text) -> str:
    """A source description safe to show and to put in a URL: printable, one line, at most
    :data:`MAX_SOURCE` characters ('' for None)."""
    s = "".join(ch if unicodedata.category(ch)[0] not in "CZ" or ch == " " else " " for ch in str(text or ""))
    s = " ".join(s.split())
    return s if len(s) <= MAX_SOURCE else s[:MAX_SOURCE - 1] + "…"


def _ranges(a: np.ndarray) -> str:
    if not len(a):
        return ""
    breaks = np.flatnonzero(np.diff(a) != 1)
    starts, ends = np.r_[a[0], a[breaks + 1]], np.r_[a[breaks], a[-1]]
    return ".".join(str(s) if s == e else f"{s}-{e}" for s, e in zip(starts.tolist(), ends.tolist()))


def _ranges_length(a: np.ndarray) -> int:
    """len(_ranges(a)), without writing it."""
    if not len(a):
        return 0
    breaks = np.flatnonzero(np.diff(a) != 1)
    starts, ends = np.r_[a[0], a[breaks + 1]], np.r_[a[breaks], a[-1]]
    span = starts != ends
    return int(_digits(starts).sum() + (_digits(ends[span]) + 1).sum() + len(starts) - 1)


def _digits(v: np.ndarray) -> np.ndarray:
    """Decimal digits of each non-negative integer."""
    return np.searchsorted(10 ** np.arange(1, 19, dtype=np.int64), v, side="right") + 1


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def encode(indices, *, n: int) -> str:
    """The shortest text of the selection `indices` of a dataset of `n` images (see the module
    docstring); ``"r"`` for an empty selection."""
    a = normalize(indices, n=n)
    length = _ranges_length(a)
    if length <= 40:
        return "r" + _ranges(a)
    bits = np.zeros(n, bool)
    bits[a] = True
    options = ["b" + _b64(zlib.compress(np.packbits(bits, bitorder="little").tobytes(), 9))]
    # the list and its compressed form, unless the list is over 4x the bitmap's text: zlib does not
    # bring decimal runs below that, and writing and compressing megabytes of them (a box over half
    # a million points of a 1M map) took seconds
    if length <= 4 * len(options[0]):
        ranges = _ranges(a)
        options += ["r" + ranges, "z" + _b64(zlib.compress(ranges.encode("ascii"), 9))]
    return min(options, key=len)


def _inflate(body: str, limit: int, what: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", body):
        raise SelectionError(f"the {what} form holds characters that are not base64url")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        d = zlib.decompressobj()
        out = d.decompress(raw, limit + 1)
        if len(out) > limit or d.unconsumed_tail or not d.eof:
            raise SelectionError(f"the {what} form does not expand to a selection of this dataset "
                                 "(too long or cut off)")
        return out
    except (binascii.Error, zlib.error, ValueError) as e:
        if isinstance(e, SelectionError):
            raise
        raise SelectionError(f"the {what} form is damaged ({e})") from None


def _parse_ranges(text: str, n: int) -> np.ndarray:
    if text == "":
        return np.zeros(0, np.int64)
    if not _RANGES.match(text):
        bad = next((c for c in text if not (c.isdigit() or c in ".-")), None)
        raise SelectionError(f"unexpected character {bad!r} in the list of indices" if bad else
                             "the list of indices is malformed (expected e.g. 0-9.15.20-30)")
    parts, prev = [], -1
    for piece in text.split("."):
        lo, _, hi = piece.partition("-")
        lo, hi = int(lo), int(hi or lo)
        if hi < lo or lo <= prev:
            raise SelectionError(f"indices are not in increasing order at {piece!r}")
        if hi >= n:
            raise SelectionError(f"index {hi} is outside 0..{n - 1} (the dataset has {n:,} images)")
        parts.append(np.arange(lo, hi + 1, dtype=np.int64))
        prev = hi
    return np.concatenate(parts)


def decode(text: str, *, n: int) -> np.ndarray:
    """(M,) int64 sorted unique indices of the selection text `text` for a dataset of `n` images.

    Raises:
        SelectionError: the text is not one of the forms of :func:`encode`, is damaged, or names
            an index outside 0..n-1; the message says which.
    """
    if not isinstance(text, str) or not text:
        raise SelectionError("the selection is empty text")
    if len(text) > MAX_TEXT:
        raise SelectionError(f"the selection text is {len(text):,} characters; at most {MAX_TEXT:,}")
    kind, body = text[0], text[1:]
    if kind == "r":
        return _parse_ranges(body, n)
    if kind == "z":
        return _parse_ranges(_inflate(body, 8 * n + 16, "compressed list").decode("ascii", "replace"), n)
    if kind == "b":
        raw = _inflate(body, (n + 7) // 8, "bitmap")
        if len(raw) != (n + 7) // 8:
            raise SelectionError(f"the bitmap has {len(raw) * 8} bits; this dataset has {n:,} images")
        bits = np.unpackbits(np.frombuffer(raw, np.uint8), bitorder="little")
        if bits[n:].any():
            raise SelectionError(f"the bitmap selects images beyond the dataset's {n:,}")
        return np.flatnonzero(bits[:n]).astype(np.int64)
    raise SelectionError(f"unknown selection form {kind!r}: expected text starting with r, z or b")
