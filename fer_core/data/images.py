"""Pure helpers behind the image views: filters, per-image statistics, tiling into a sprite.

Arrays in, arrays out; no Streamlit. `images` is always (N, 48, 48) uint8.

Example:
    >>> ds = load_dataset()
    >>> m = filter_mask(ds, splits=["Training"], agreement=["disagree"])
    >>> sprite = tile(ds.images[m][:24], cols=8, scale=2)      # (H, W) uint8
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from fer_core import validate
from fer_core.constants import FER2013_EMOTIONS, IMAGE_SIZE, SPLITS
from fer_core.data.dataset import Dataset

#: FER+ agreement categories, in the order of the codes returned by :func:`agreement_codes`.
#: "agree": FER+ majority == FER2013 label; "disagree": a FER+ majority exists and differs
#: (contempt, which FER2013 lacks, counts as disagree); "no majority": FER+ has no valid
#: majority (split votes, unknown or not a face).
AGREEMENT: tuple[str, ...] = ("agree", "disagree", "no majority")


# ---- labels and filters -------------------------------------------------------------------
def agreement_codes(labels: np.ndarray, ferplus_majority: np.ndarray,
                    ferplus_majority_fer2013: np.ndarray) -> np.ndarray:
    """(N,) int8 index into :data:`AGREEMENT` for each row.

    Args:
        labels: (N,) FER2013 labels 0..6 (-1 unlabeled counts as disagree when FER+ has a majority).
        ferplus_majority: (N,) FER+ majority 0..7 or -1.
        ferplus_majority_fer2013: (N,) the same majority mapped to FER2013 indices (-1 for contempt).
    """
    labels, maj, maj7 = (np.asarray(a) for a in (labels, ferplus_majority, ferplus_majority_fer2013))
    if not labels.shape == maj.shape == maj7.shape:
        raise ValueError(f"shapes differ: labels {labels.shape}, majority {maj.shape}, mapped {maj7.shape}")
    out = np.where(maj7 == labels, 0, 1).astype(np.int8)
    out[maj < 0] = 2
    return out


def filter_mask(ds: Dataset, *, splits: Iterable[str] | None = None, labels: Iterable[int] | None = None,
                ferplus_labels: Iterable[int] | None = None, agreement: Iterable[str] | None = None,
                faces: str = "all") -> np.ndarray:
    """(N,) bool mask of the rows passing every filter; None or empty = no filter on that field.

    Args:
        splits: split names to keep ('' keeps rows without a split).
        labels: FER2013 class indices to keep (-1 keeps unlabeled rows).
        ferplus_labels: FER+ majority indices 0..7 to keep (-1 keeps rows without a majority).
        agreement: names from :data:`AGREEMENT`.
        faces: 'all', 'faces' (drop FER+ not-a-face rows) or 'not_face' (keep only those).

    FER+ filters need `ds.ferplus`; without it they raise ValueError.
    """
    m = np.ones(len(ds), bool)
    if splits:
        m &= np.isin(ds.split, list(splits))
    if labels:
        m &= np.isin(ds.labels, list(labels))
    fp = ds.ferplus
    if (ferplus_labels or agreement or faces != "all") and fp is None:
        raise ValueError("FER+ filters need FER+ votes: load fer2013new.csv")
    if ferplus_labels:
        m &= np.isin(fp.majority, list(ferplus_labels))
    if agreement:
        unknown = set(agreement) - set(AGREEMENT)
        if unknown:
            raise ValueError(f"unknown agreement value(s) {sorted(unknown)}; known: {AGREEMENT}")
        codes = agreement_codes(ds.labels, fp.majority, fp.majority_fer2013)
        m &= np.isin(codes, [AGREEMENT.index(a) for a in agreement])
    if faces == "faces":
        m &= ~fp.not_face
    elif faces == "not_face":
        m &= fp.not_face
    elif faces != "all":
        raise ValueError(f"faces must be 'all', 'faces' or 'not_face', got {faces!r}")
    return m


def split_class_counts(split: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> pd.DataFrame:
    """Counts per class (rows, in `classes` order, plus 'none' for -1 if present) x split (columns,
    SPLITS order first), with a 'total' column."""
    split, labels = np.asarray(split), np.asarray(labels)
    names = [s for s in SPLITS if (split == s).any()] + sorted(set(split.tolist()) - set(SPLITS))
    idx = list(range(len(classes))) + ([-1] if (labels < 0).any() else [])
    data = {s or "(no split)": [int(((split == s) & (labels == c)).sum()) for c in idx] for s in names}
    df = pd.DataFrame(data, index=[classes[c] if c >= 0 else "none" for c in idx])
    df["total"] = df.sum(axis=1)
    return df


# ---- pixel statistics ---------------------------------------------------------------------
def pixel_stats(images: np.ndarray, *, chunk: int = 4096) -> pd.DataFrame:
    """Per-image brightness (mean, 0..255) and contrast (standard deviation, 0..~128).

    Returns:
        DataFrame with N rows and float32 columns `brightness`, `contrast`. Uniform images
        (contrast near 0) are usually blank or broken rows.
    """
    images = validate.images(images)
    n = len(images)
    bright, contrast = np.empty(n, np.float32), np.empty(n, np.float32)
    for s in range(0, n, chunk):
        x = images[s:s + chunk].reshape(-1, IMAGE_SIZE * IMAGE_SIZE).astype(np.float32)
        mu = x.mean(1)
        bright[s:s + chunk] = mu
        contrast[s:s + chunk] = np.sqrt(np.maximum((x * x).mean(1) - mu * mu, 0))
    return pd.DataFrame({"brightness": bright, "contrast": contrast})


def class_histograms(images: np.ndarray, labels: np.ndarray, *, n_classes: int = len(FER2013_EMOTIONS),
                     bins: int = 32) -> np.ndarray:
    """(n_classes, bins) float64 pixel-intensity histograms, each row a density summing to 1
    (zeros for an empty class). Bin b covers intensities [b*256/bins, (b+1)*256/bins)."""
    images = validate.images(images)
    labels = validate.labels(labels, n=len(images), allow_unlabeled=True)
    if 256 % bins:
        raise ValueError(f"bins must divide 256, got {bins}")
    out = np.zeros((n_classes, bins))
    for c in range(n_classes):
        sel = images[labels == c]
        if len(sel):
            h = np.bincount(sel.reshape(-1) // (256 // bins), minlength=bins).astype(np.float64)
            out[c] = h / h.sum()
    return out


def box_stats(values: np.ndarray, groups: np.ndarray, n_groups: int) -> pd.DataFrame:
    """Tukey box-plot numbers of `values` per group 0..n_groups-1 (rows; NaN for an empty group).

    Columns q1, median, q3, lowerfence, upperfence (most extreme values within 1.5 IQR), mean, n.
    Lets a chart draw 35,887 points' boxes from 7 rows.
    """
    values, groups = np.asarray(values, np.float64), np.asarray(groups)
    rows = []
    for g in range(n_groups):
        v = values[groups == g]
        if not len(v):
            rows.append(dict(q1=np.nan, median=np.nan, q3=np.nan, lowerfence=np.nan, upperfence=np.nan,
                             mean=np.nan, n=0))
            continue
        q1, med, q3 = np.percentile(v, [25, 50, 75])
        iqr = q3 - q1
        rows.append(dict(q1=q1, median=med, q3=q3, lowerfence=v[v >= q1 - 1.5 * iqr].min(),
                         upperfence=v[v <= q3 + 1.5 * iqr].max(), mean=v.mean(), n=len(v)))
    return pd.DataFrame(rows)


# ---- rendering helpers (arrays only) ------------------------------------------------------
def upscale(image: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour upscale of a (H, W) or (H, W, C) array by an integer factor."""
    if scale < 1 or int(scale) != scale:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def png_data_uri(image: np.ndarray, *, scale: int = 1) -> str:
    """One (h, w) uint8 image as a ``data:image/png;base64,...`` URI (for a table's image column),
    upscaled `scale` times with nearest neighbour. A 48x48 face is about 2 KB."""
    import base64
    import io

    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(upscale(np.asarray(image, dtype=np.uint8), scale)).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] -> uint8 0..255 (clipped)."""
    return (np.clip(np.asarray(image, np.float32), 0, 1) * 255 + 0.5).astype(np.uint8)


def signed_to_unit(component: np.ndarray) -> np.ndarray:
    """An eigenface (any sign and scale) -> [0, 1] with 0 at mid-grey, so the sign stays visible."""
    c = np.asarray(component, np.float32)
    peak = float(np.abs(c).max())
    return np.full_like(c, 0.5) if peak == 0 else 0.5 + 0.5 * c / peak


#: Plain stand-ins for characters that the captions' font may lack (Pillow's built-in font has
#: ASCII and a little Latin-1: a missing glyph is drawn as an empty box).
PLAIN_TEXT = {"×": "x", "—": "-", "–": "-", "→": "->", "←": "<-", "≥": ">=", "≤": "<=", "…": "...", "−": "-",
              "’": "'", "‘": "'", "“": '"', "”": '"', "✓": "ok", "⚠": "!"}


def _font_glyphs(font):
    """has(ch): whether `font` draws a glyph for ch (not the empty box of a missing one)."""
    from functools import lru_cache

    def shape(ch: str):
        mask, offset = font.getmask2(ch, mode="L")
        return mask.size, bytes(mask), offset
    missing = shape("\U0010fffd")  # a private-use character no font has

    @lru_cache(maxsize=512)
    def has(ch: str) -> bool:
        return ch.isspace() or shape(ch) != missing
    return has


def drawable_text(text: str, has) -> str:
    """`text` with each character that the font lacks (`has(ch)` false) replaced: from
    :data:`PLAIN_TEXT`, else by its accent-free letter (é -> e), else by "?"."""
    import unicodedata
    out = []
    for ch in text:
        if has(ch):
            out.append(ch)
            continue
        base = unicodedata.normalize("NFKD", ch)[:1]
        out.append(PLAIN_TEXT.get(ch) or (base if base != ch and base.isascii() and has(base) else "?"))
    return "".join(out)


def tile(images: np.ndarray, *, cols: int, scale: int = 2, gap: int = 2, captions: Sequence[str] | None = None,
         caption_colors: Sequence[tuple[int, int, int]] | None = None, font_size: int = 11,
         background: int = 255) -> np.ndarray:
    """Tile images into one sprite, upscaled with nearest neighbour, with optional captions.

    Args:
        images: (N, h, w) uint8 (or float in [0, 1], converted with :func:`to_uint8`).
        cols: images per row.
        scale: integer upscale factor of each image.
        gap: pixels between cells.
        captions: N strings drawn under each image (one line; cut to the cell width; characters
            the font lacks are written plainly, see :func:`drawable_text`).
        caption_colors: N RGB colours for the captions (default dark grey).

    Returns:
        (H, W) uint8 without captions, (H, W, 3) uint8 RGB with captions.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must be (N, h, w), got {images.shape}")
    if images.dtype != np.uint8:
        images = to_uint8(images)
    n, h, w = images.shape
    if captions is not None and len(captions) != n:
        raise ValueError(f"{len(captions)} captions for {n} images")
    cols = max(1, min(cols, n)) if n else max(1, cols)
    rows = -(-n // cols) if n else 0
    ch, cw = h * scale, w * scale
    cap_h = int(font_size * 1.5) if captions is not None else 0
    H, W = rows * (ch + cap_h + gap) - (gap if rows else 0), cols * (cw + gap) - gap
    out = np.full((max(H, 1), max(W, 1)), background, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = r * (ch + cap_h + gap), c * (cw + gap)
        out[y:y + ch, x:x + cw] = upscale(images[i], scale)
    if captions is None:
        return out
    from PIL import Image, ImageDraw, ImageFont
    im = Image.fromarray(out).convert("RGB")
    draw = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=font_size)
    has = _font_glyphs(font)
    for i, text in enumerate(captions):
        text = drawable_text(str(text), has)
        r, c = divmod(i, cols)
        y, x = r * (ch + cap_h + gap) + ch + 1, c * (cw + gap)
        while text and draw.textlength(text, font=font) > cw:
            text = text[:-1]
        color = tuple(caption_colors[i]) if caption_colors is not None else (40, 40, 40)
        draw.text((x + 1, y), text, fill=color, font=font)
    return np.asarray(im)


def ferplus_crosstab(labels: np.ndarray, ferplus_majority: np.ndarray) -> pd.DataFrame:
    """Counts of FER2013 label (rows, FER2013_EMOTIONS order) x FER+ majority (columns).

    Columns are the FER+ emotions reordered to match the rows (anger, disgust, fear, happiness,
    sadness, surprise, neutral), then contempt and 'no majority', so agreement is the diagonal.
    Every class is present even when its count is 0; unlabeled rows (-1) are left out.
    """
    from fer_core.constants import FERPLUS_EMOTIONS, FERPLUS_TO_FER2013
    labels, maj = np.asarray(labels), np.asarray(ferplus_majority)
    if labels.shape != maj.shape:
        raise ValueError(f"labels {labels.shape} and majority {maj.shape} differ in shape")
    nc, nf = len(FER2013_EMOTIONS), len(FERPLUS_EMOTIONS)
    ok = (labels >= 0) & (labels < nc)
    col = np.where(maj >= 0, maj, nf)[ok]
    counts = np.bincount(labels[ok] * (nf + 1) + col, minlength=nc * (nf + 1)).reshape(nc, nf + 1)
    order = [int(np.flatnonzero(FERPLUS_TO_FER2013 == c)[0]) for c in range(nc)]
    order += [j for j in range(nf) if j not in order] + [nf]
    names = list(FERPLUS_EMOTIONS) + ["no majority"]
    return pd.DataFrame(counts[:, order], index=list(FER2013_EMOTIONS), columns=[names[j] for j in order])


# ---- PNG export ---------------------------------------------------------------------------
def png_bytes(image: np.ndarray, *, scale: int = 1) -> bytes:
    """One (h, w) uint8 image as PNG bytes (upscaled by `scale`, nearest neighbour)."""
    import io

    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(upscale(np.asarray(image, np.uint8), scale)).save(buf, format="PNG")
    return buf.getvalue()


def png_data_uri(image: np.ndarray, *, scale: int = 1) -> str:
    """One image as a ``data:image/png;base64,...`` URI (for a table's image column)."""
    import base64
    return "data:image/png;base64," + base64.b64encode(png_bytes(image, scale=scale)).decode("ascii")


def png_zip(images: np.ndarray, folders: Sequence[str], names: Sequence[str]) -> bytes:
    """A zip of PNGs, image i at ``folders[i]/names[i].png`` (e.g. ``<label>/<row>.png``).

    Args:
        images: (N, h, w) uint8.
        folders, names: N strings each; '/' and '\\' in them are replaced by '_'.

    Raises:
        ValueError: lengths differ.
    """
    import io
    import zipfile
    images = np.asarray(images)
    if not len(images) == len(folders) == len(names):
        raise ValueError(f"{len(images)} images, {len(folders)} folders and {len(names)} names")
    clean = lambda s: str(s).replace("/", "_").replace("\\", "_") or "_"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:  # PNG is compressed already
        for img, folder, name in zip(images, folders, names):
            z.writestr(f"{clean(folder)}/{clean(name)}.png", png_bytes(img))
    return buf.getvalue()
