"""Faces in arbitrary photos: robust decoding, detection, 48x48 crops, predictions.

    >>> from fer_core.analysis.faces import load_photo, analyze_photo
    >>> photo = load_photo("group.jpg")                       # any size, colour or grey, EXIF respected
    >>> faces = analyze_photo(photo.rgb, model)               # [{"box": [x, y, w, h], "crop", "probs", "label"}]

The detector is OpenCV's Haar cascade (``haarcascade_frontalface_default.xml``, shipped inside
the opencv-python-headless wheel; Viola & Jones 2001): no download at run time. MTCNN from
``facenet-pytorch`` (weights shipped in its wheel) is used when installed and asked for
(``detector="mtcnn"``); it finds more faces but its package pins torch < 2.3, so it is not a
dependency (see bench/bench_try_a_face.py and bench/RESULTS.md for both measured).

A crop is the detected box grown by a margin on every side (so it is framed like a FER2013
face; :data:`CROP_MARGIN`), made square, padded by edge replication where it leaves the photo,
converted to grey and resized to 48x48 with area averaging.
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

from fer_core import validate
from fer_core.constants import IMAGE_SIZE

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
#: Detection runs on a copy whose longer side is at most this (boxes are mapped back).
DETECT_MAX_SIDE = 640
#: Margin added on each side of a detected box, as a fraction of its size, so that a crop is
#: framed like a FER2013 face. Measured on the bundled sample (faces upscaled to 192 px on a
#: grey canvas): the median Haar box is 0.97 of the face image's side (both cascades, ~215 of
#: 300 found), the median MTCNN box 0.81 (259 of 300).
CROP_MARGIN = {"haar": 0.02, "haar_alt2": 0.02, "mtcnn": 0.12}
HAAR_CASCADES = {"haar": "haarcascade_frontalface_default.xml", "haar_alt2": "haarcascade_frontalface_alt2.xml"}
DETECTORS = (*HAAR_CASCADES, "mtcnn")
DEFAULT_DETECTOR = "haar"


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


# ---- detection ----------------------------------------------------------------------------
_local = threading.local()  # one cascade per thread: Streamlit serves sessions from several threads


def _haar(name: str):
    import cv2

    cache = getattr(_local, "haar", None)
    if cache is None:
        cache = _local.haar = {}
    if name not in cache:
        path = os.path.join(cv2.data.haarcascades, HAAR_CASCADES[name])
        cc = cv2.CascadeClassifier(path)
        if cc.empty():
            raise RuntimeError(f"OpenCV could not load its Haar cascade {path}")
        cache[name] = cc
    return cache[name]


def mtcnn_available() -> bool:
    """True when facenet-pytorch (MTCNN weights in its wheel) can be imported."""
    try:
        import facenet_pytorch  # noqa: F401
        return True
    except Exception:  # noqa: BLE001
        return False


def _mtcnn():
    m = getattr(_local, "mtcnn", None)
    if m is None:
        from facenet_pytorch import MTCNN
        m = _local.mtcnn = MTCNN(keep_all=True, device="cpu", min_face_size=24, post_process=False)
    return m


def detect_faces(image: np.ndarray, *, detector: str = DEFAULT_DETECTOR, min_size: float = 0.1,
                 min_neighbors: int = 5, scale_factor: float = 1.1, max_side: int = DETECT_MAX_SIDE) -> np.ndarray:
    """Face boxes in a photo.

    Args:
        image: (H, W) or (H, W, 3) uint8.
        detector: 'haar' (OpenCV's default frontal cascade), 'haar_alt2' or 'mtcnn' (needs
            facenet-pytorch).
        min_size: smallest face, as a fraction of the photo's shorter side (at least 20 px).
        min_neighbors, scale_factor: Haar cascade options (more neighbours = fewer false faces).
        max_side: detection runs on a copy downscaled to this longer side (speed); boxes are in
            the original photo's pixels.

    Returns:
        (F, 4) int64 boxes [x, y, w, h], left to right; (0, 4) when there is none.
    """
    import cv2

    if detector not in DETECTORS:
        raise ValueError(f"unknown detector {detector!r}; known: {', '.join(DETECTORS)}")
    gray = as_gray(image)
    h, w = gray.shape
    s = min(1.0, max_side / max(h, w))
    small = cv2.resize(gray, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA) \
        if s < 1 else gray
    side = max(20, int(min(small.shape) * min_size))
    if detector == "mtcnn":
        boxes, probs = _mtcnn().detect(np.repeat(small[..., None], 3, -1))
        if boxes is None:
            return np.zeros((0, 4), np.int64)
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        probs = np.asarray(probs, np.float64).reshape(-1)
        b = boxes[(probs >= 0.9) & ((boxes[:, 2] - boxes[:, 0]) >= side)]
        b = np.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1) if len(b) else np.zeros((0, 4))
    else:
        if min(small.shape) < side:
            return np.zeros((0, 4), np.int64)
        b = _haar(detector).detectMultiScale(small, scaleFactor=scale_factor, minNeighbors=min_neighbors,
                                             minSize=(side, side))
        b = np.asarray(b, np.float64).reshape(-1, 4)
    b = np.round(b / s).astype(np.int64)
    b[:, 0:2] = np.maximum(b[:, 0:2], 0)
    b[:, 2] = np.minimum(b[:, 2], w - b[:, 0])
    b[:, 3] = np.minimum(b[:, 3], h - b[:, 1])
    b = b[(b[:, 2] > 0) & (b[:, 3] > 0)]
    return b[np.argsort(b[:, 0], kind="stable")]


def crop_face(image: np.ndarray, box, *, margin: float = CROP_MARGIN[DEFAULT_DETECTOR],
              size: int = IMAGE_SIZE) -> np.ndarray:
    """(size, size) uint8 grey crop of `box` [x, y, w, h] grown by `margin` of its size on each
    side and made square around its centre; parts outside the photo are edge-replicated."""
    import cv2

    gray = as_gray(image)
    x, y, w, h = (float(v) for v in box)
    if w <= 0 or h <= 0:
        raise ValueError(f"box must have a positive size, got {list(box)}")
    side = max(w, h) * (1 + 2 * margin)
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    s = max(1, int(round(side)))
    H, W = gray.shape
    pad = max(0, -x0, -y0, x0 + s - W, y0 + s - H)
    if pad:
        gray = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, y0 = x0 + pad, y0 + pad
    patch = gray[y0:y0 + s, x0:x0 + s]
    interp = cv2.INTER_AREA if s >= size else cv2.INTER_CUBIC
    return cv2.resize(patch, (size, size), interpolation=interp)


def whole_image_crop(image: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """The whole photo as one (size, size) grey face crop (resized, aspect not kept)."""
    import cv2

    gray = as_gray(image)
    interp = cv2.INTER_AREA if min(gray.shape) >= size else cv2.INTER_CUBIC
    return cv2.resize(gray, (size, size), interpolation=interp)


# ---- prediction ---------------------------------------------------------------------------
def analyze_photo(image: np.ndarray, model, *, detect: bool = True, detector: str = DEFAULT_DETECTOR,
                  margin: float | None = None, tta: bool = False) -> list[dict]:
    """Detect, crop and classify every face of a photo.

    Args:
        image: (H, W) or (H, W, 3) uint8.
        model: a loaded model (``load_checkpoint``); its ``classes`` name the probabilities.
        detect: False = the whole image is one face crop (box = the whole image).
        margin: crop margin (default: :data:`CROP_MARGIN` of the detector).
        tta: average each face's prediction with its mirror's.

    Returns:
        One dict per face, left to right: box [x, y, w, h] (ints), crop (48, 48) uint8,
        probs (K,) float32 summing to 1, label (int, the argmax). Empty when no face is found.
    """
    from fer_core.models.inference import predict_probs

    gray = as_gray(image)
    if detect:
        boxes = detect_faces(gray, detector=detector)
        margin = CROP_MARGIN[detector] if margin is None else margin
        crops = np.stack([crop_face(gray, b, margin=margin) for b in boxes]) if len(boxes) else None
    else:
        boxes = np.array([[0, 0, gray.shape[1], gray.shape[0]]])
        crops = whole_image_crop(gray)[None]
    if crops is None:
        return []
    probs = predict_probs(model, crops, tta=tta)
    return [{"box": [int(v) for v in b], "crop": c, "probs": p, "label": int(p.argmax())}
            for b, c, p in zip(boxes, crops, probs)]


# ---- drawing and demo photos ----------------------------------------------------------------
def draw_boxes(rgb: np.ndarray, boxes, labels: list[str] | None = None) -> np.ndarray:
    """A copy of an (H, W, 3) uint8 photo with numbered boxes (and labels) drawn on it."""
    import cv2

    out = np.ascontiguousarray(np.asarray(rgb, np.uint8).copy())
    if out.ndim == 2:
        out = np.repeat(out[..., None], 3, -1)
    t = max(2, round(max(out.shape[:2]) / 300))
    for i, (x, y, w, h) in enumerate(np.asarray(boxes, np.int64).reshape(-1, 4)):
        cv2.rectangle(out, (int(x), int(y)), (int(x + w), int(y + h)), (255, 200, 0), t)
        text = f"{i + 1}" + (f" {labels[i]}" if labels else "")
        fs = max(0.5, t / 3)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, fs, max(1, t // 2))
        ty = int(y) - t if y - th - 2 * t > 0 else int(y + h) + th + t
        cv2.rectangle(out, (int(x), ty - th - t), (int(x) + tw + 2 * t, ty + base), (255, 200, 0), -1)
        cv2.putText(out, text, (int(x) + t, ty), cv2.FONT_HERSHEY_SIMPLEX, fs, (0, 0, 0), max(1, t // 2),
                    cv2.LINE_AA)
    return out


def synthetic_photo(faces: np.ndarray, *, size: tuple[int, int] = (640, 480), face_px: int = 160,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A demo/test "photo": 48x48 faces upscaled to `face_px` and pasted side by side on a
    (height, width) = (size[1], size[0]) colour canvas with a soft gradient and noise.

    Returns:
        rgb (H, W, 3) uint8 and the (F, 4) pasted boxes [x, y, w, h].
    """
    import cv2

    faces = validate.images(faces, name="faces", promote=True)
    w, h = size
    n = len(faces)
    if n * face_px > w or face_px > h:
        raise ValueError(f"{n} faces of {face_px} px do not fit in {w}x{h}")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([150 + 60 * xx, 170 + 40 * yy, 190 - 50 * xx], -1)
    canvas = np.clip(base + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)
    gap = (w - n * face_px) / (n + 1)
    boxes = []
    for i, f in enumerate(faces):
        x = int(round(gap + i * (face_px + gap)))
        y = int(rng.integers(0, h - face_px + 1))
        up = cv2.resize(f, (face_px, face_px), interpolation=cv2.INTER_CUBIC)
        tint = np.array([1.0, 0.92, 0.85])  # a skin-ish tone: the photo is in colour
        canvas[y:y + face_px, x:x + face_px] = np.clip(up[..., None] * tint, 0, 255).astype(np.uint8)
        boxes.append([x, y, face_px, face_px])
    return canvas, np.array(boxes, np.int64).reshape(-1, 4)


def demo_photo(images: np.ndarray, labels: np.ndarray, *, n: int = 3, size: tuple[int, int] = (640, 480),
               face_px: int = 150, detector: str = DEFAULT_DETECTOR, seed: int = 0
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A :func:`synthetic_photo` of `n` faces of different classes that the detector finds one
    by one (FER2013 has many profile, occluded or non-face images that no frontal detector finds).

    Args:
        images: (N, 48, 48) uint8, e.g. the bundled sample; labels: (N,) int.

    Returns:
        rgb (H, W, 3) uint8, boxes (n, 4) as pasted, rows (n,) indices into `images`.
    """
    images = validate.images(images)
    labels = validate.labels(labels, n=len(images), allow_unlabeled=True)
    rng = np.random.default_rng(seed)
    picked: list[int] = []
    for i in rng.permutation(len(images)):
        if len(picked) == n:
            break
        if labels[i] < 0 or any(labels[j] == labels[i] for j in picked):
            continue
        single, _ = synthetic_photo(images[i:i + 1], size=(face_px * 2, face_px * 2), face_px=face_px)
        if len(detect_faces(single, detector=detector)) == 1:
            picked.append(int(i))
    rgb, boxes = synthetic_photo(images[picked], size=size, face_px=face_px, seed=seed)
    return rgb, boxes, np.array(picked, np.int64)
