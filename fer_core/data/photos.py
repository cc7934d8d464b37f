"""Decoding a photo file, whatever its format and mode: :func:`load_photo` -> :class:`Photo`.

Used by the image-folder reader (:mod:`fer_core.data.dataset`) and, through
:mod:`fer_core.analysis.faces`, by the Try a face page and ``python -m fer_core.predict``, so a
photo is read the same way everywhere (EXIF orientation, 16-bit, CMYK, transparency, size limits).
"""
from __future__ import annotations

import io
import os
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

#: Largest photo decoded, in pixels (40 MP; a 20000x20000 "decompression bomb" is refused before
#: its pixels are read).
MAX_PIXELS = 40_000_000
#: Largest file read, in bytes (a path is checked before it is read).
MAX_FILE_BYTES = 200 * 1024 * 1024
#: File types the Try-a-face uploader offers.
UPLOAD_TYPES = ("jpg", "jpeg", "png", "webp", "bmp")
#: Pillow formats load_photo decodes (JPEG includes MPO, the phone-camera JPEG). Others are refused
#: like a non-image: e.g. EPS would run Ghostscript on the file, PSD/ICNS/FITS are not photos.
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "DIB", "GIF", "TIFF", "AVIF", "PPM", "TGA")
#: Leading bytes of the common formats: a file that starts like one but cannot be opened is called
#: corrupt, not "not an image".
_SIGNATURES = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
               (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))
_DECODE_LOCK = threading.Lock()
_ORIENTATION = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270",
                7: "TRANSVERSE", 8: "ROTATE_90"}


class ImageError(ValueError):
    """A file that cannot be used as a photo; the message says why in plain words.

    Attributes:
        problem: what is wrong, without the file name.
        file: the file's name when known (a path or a named file object), else None; the
            message is then ``"<file>: <problem>"``.
    """

    def __init__(self, problem: str, *, file: str | None = None):
        self.problem, self.file = problem, file
        super().__init__(f"{file}: {problem}" if file else problem)


@dataclass
class Photo:
    """A decoded photo: rgb (H, W, 3) uint8, gray (H, W) uint8, and what was done to it."""

    rgb: np.ndarray
    gray: np.ndarray
    format: str = ""
    mode: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.rgb.shape[1], self.rgb.shape[0]


# ---- decoding -----------------------------------------------------------------------------
def _open_bytes(source) -> bytes:
    """The bytes of `source`; raises ImageError (with no file name: the caller adds it)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if p.is_dir():
            raise ImageError("is a folder, not an image file")
        try:
            if p.exists() and not p.is_file():  # a FIFO or a device would block or never end
                raise ImageError("is not a regular file")
            if p.exists() and p.stat().st_size > MAX_FILE_BYTES:
                raise ImageError(f"the file is too large ({p.stat().st_size / 2**20:.0f} MB; the limit is "
                                 f"{MAX_FILE_BYTES / 2**20:.0f} MB)")
            data = p.read_bytes()
        except OSError as e:
            raise ImageError(f"cannot read ({e.strerror or e})") from None
    elif hasattr(source, "read"):
        data = source.read(MAX_FILE_BYTES + 1)
        if not isinstance(data, (bytes, bytearray)):
            raise ImageError("the file object was opened in text mode; open it with 'rb'")
        data = bytes(data)
    else:
        raise ImageError(f"expected bytes, a path or a file object, got {type(source).__name__}")
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"the file is too large (over {MAX_FILE_BYTES / 2**20:.0f} MB)")
    return data


def _source_name(source) -> str | None:
    if isinstance(source, (str, os.PathLike)):
        return Path(source).name or str(source)
    name = getattr(source, "name", None)  # open files and Streamlit's UploadedFile
    return Path(name).name if isinstance(name, str) and name else None


def _sniff(data: bytes) -> str | None:
    """The format the leading bytes announce (JPEG, PNG, GIF, BMP, TIFF, WEBP), or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return next((fmt for sig, fmt in _SIGNATURES if data.startswith(sig)), None)


def _cause(e: BaseException, limit: int = 160) -> str:
    msg = " ".join(str(e).split())
    return f"{type(e).__name__}: {msg[:limit]}{'...' if len(msg) > limit else ''}" if msg else type(e).__name__


def _stretch(a: np.ndarray) -> np.ndarray:
    """Finite min..max -> 0..255 uint8; NaN -> 0, +-inf -> 255 / 0; a constant image -> 0."""
    finite = np.isfinite(a)
    if not finite.any():
        return np.zeros(a.shape, np.uint8)
    lo, hi = float(a[finite].min()), float(a[finite].max())
    with np.errstate(all="ignore"):  # values near the float64 limits
        g = np.zeros(a.shape) if hi <= lo else (np.where(finite, a, lo) - lo) * (255.0 / (hi - lo))
    g = np.nan_to_num(g, nan=0.0)
    g[np.isposinf(a)] = 255.0
    return np.clip(g + 0.5, 0, 255).astype(np.uint8)


def _to_rgb(img, notes: list[str]) -> np.ndarray:
    """Any Pillow mode -> (H, W, 3) uint8 RGB."""
    from PIL import Image

    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        a = np.asarray(img).astype(np.float64)
        if mode == "I" and (a.min() < 0 or a.max() > 65535):  # true 32-bit values: stretch min..max
            notes.append("32-bit integer image rescaled to 0-255")
            return np.repeat(_stretch(a)[..., None], 3, -1)
        hi = 65535.0 if (mode.startswith("I;16") or a.max() > 255) else 255.0
        g = np.clip(a / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        notes.append("16-bit image scaled to 8 bits" if hi > 255 else "32-bit integer image read as 8 bits")
        return np.repeat(g[..., None], 3, -1)
    if mode == "F":
        notes.append("floating-point image rescaled to 0-255")
        return np.repeat(_stretch(np.asarray(img, np.float64))[..., None], 3, -1)
    if mode in ("1", "L"):
        return np.repeat(np.asarray(img.convert("L"))[..., None], 3, -1)
    if mode == "CMYK":
        notes.append("CMYK converted to RGB")
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        notes.append("transparency flattened onto white")
        return np.asarray(Image.alpha_composite(bg, rgba).convert("RGB"))
    if mode == "P":
        notes.append("palette image converted to RGB")
    return np.asarray(img.convert("RGB"))


def load_photo(source: bytes | str | os.PathLike | BinaryIO, *, max_pixels: int = MAX_PIXELS,
               name: str | None = None) -> Photo:
    """Decode a photo from bytes, a path or a file object, whatever its format and mode.

    Respects the EXIF orientation (unreadable EXIF data is ignored, with a note); takes the first
    frame of an animated file; scales 16-bit images to 8 bits; converts CMYK, palette and grey
    images; flattens transparency onto white. Only :data:`PHOTO_FORMATS` are decoded.

    Args:
        source: the file's bytes, its path, or a binary file object.
        max_pixels: larger images are refused from their header, before any pixel is decoded.
        name: the file's name for messages (default: a path's name, a file object's ``name``;
            none for bytes, whose caller names the file itself).

    Raises:
        ImageError: empty file, not an image, corrupt or truncated data, more than `max_pixels`
            pixels or :data:`MAX_FILE_BYTES` bytes, or an unreadable path. Its message names
            the file when it is known (``e.problem`` is the same without the name).
    """
    name = name if name is not None else _source_name(source)
    try:
        return _load_photo(source, max_pixels)
    except ImageError as e:
        raise ImageError(e.problem, file=name) from None


def _load_photo(source, max_pixels: int) -> Photo:
    from PIL import Image, UnidentifiedImageError

    data = _open_bytes(source)
    if len(data) == 0:
        raise ImageError("the file is empty (0 bytes)")
    notes: list[str] = []
    sniffed = _sniff(data)
    # Pillow warns about damaged metadata; the warnings filter is process-global state, so decoding
    # holds a lock (Streamlit serves sessions from threads; a decode takes milliseconds).
    with _DECODE_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data), formats=PHOTO_FORMATS)
        except Image.DecompressionBombError as e:
            raise ImageError(f"the image is far too large to decode safely ({e})") from None
        except UnidentifiedImageError:
            if sniffed:
                raise ImageError(f"the file starts like a {sniffed} image but is corrupt or truncated "
                                 "(its header cannot be read)") from None
            raise ImageError("not an image (or an image format that cannot be read): use a JPEG, PNG, WebP or BMP "
                             "photo") from None
        except Exception as e:  # noqa: BLE001 - any decoder failure is a bad file
            what = f"starts like a {sniffed} image but is corrupt or truncated" if sniffed else \
                "could not be read as an image"
            if "too large" in str(e):  # e.g. a PNG text chunk that inflates to megabytes
                what = "holds metadata too large to read safely"
            raise ImageError(f"the file {what} ({_cause(e)})") from None
        w, h = img.size
        if w < 1 or h < 1:
            raise ImageError(f"the image has no pixels ({w}x{h})")
        if w * h > max_pixels:
            raise ImageError(f"the image is too large: {w}x{h} = {w * h / 1e6:.0f} megapixels "
                             f"(the limit is {max_pixels / 1e6:.0f}); resize it first")
        fmt, mode = img.format or "", img.mode
        try:
            frames = getattr(img, "n_frames", 1)
            if frames > 1:
                img.seek(0)
                notes.append(f"animated ({frames} frames): the first frame is used")
            img.load()
            img = _upright(img, notes)
            rgb = np.ascontiguousarray(_to_rgb(img, notes))
        except ImageError:
            raise
        except (Image.DecompressionBombError, MemoryError) as e:
            raise ImageError(f"the image is too large to decode ({_cause(e)})") from None
        except Exception as e:  # noqa: BLE001 - truncated / corrupt data surfaces on load
            what = f"{fmt} image" if fmt else "image"
            raise ImageError(f"the {what} is corrupt or truncated ({_cause(e)})") from None
    for msg in dict.fromkeys(str(c.message) for c in caught if issubclass(c.category, UserWarning)):
        notes.append(f"damaged file data ignored: {' '.join(msg.split())[:120]}")
    import cv2

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return Photo(rgb=rgb, gray=gray, format=fmt, mode=mode, notes=notes)


def _upright(img, notes: list[str]):
    """Apply the EXIF orientation (2..8); other values and unreadable EXIF data leave the image as is."""
    from PIL import Image

    try:
        orientation = img.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - damaged EXIF must not cost the pixels
        notes.append("EXIF data unreadable: orientation ignored")
        return img
    if orientation in _ORIENTATION:
        notes.append(f"turned upright from its EXIF orientation ({orientation})")
        return img.transpose(getattr(Image.Transpose, _ORIENTATION[orientation]))
    if orientation not in (None, 1):
        notes.append(f"invalid EXIF orientation {orientation!r} ignored")
    return img


def as_gray(image: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, 3) uint8 -> (H, W) uint8 grey (ITU-R 601 luma, as FER2013)."""
    import cv2

    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"image must be (H, W) or (H, W, 3) uint8, got {image.shape} {image.dtype}")
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
