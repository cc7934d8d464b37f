"""Faces in arbitrary photos: robust decoding, detection, 48x48 crops, predictions.

    >>> from fer_core.faces import load_photo, analyze_photo
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

from .constants import IMAGE_SIZE

#: Largest photo decoded, in pixels (40 MP; a 20000x20000 "decompression bomb" is refused before
#: its pixels are read).
MAX_PIXELS = 40_000_000
#: File types the Try-a-face uploader offers (any format Pillow reads is accepted by load_photo).
UPLOAD_TYPES = ("jpg", "jpeg", "png", "webp", "bmp")
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
    """A file that cannot be used as a photo; the message says why in plain words."""


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
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if p.is_dir():
            raise ImageError(f"{p}: is a folder, not an image file")
        try:
            return p.read_bytes()
        except OSError as e:
            raise ImageError(f"{p}: cannot read ({e.strerror or e})") from None
    if hasattr(source, "read"):
        return source.read()
    raise ImageError(f"expected bytes, a path or a file object, got {type(source).__name__}")


def _to_rgb(img, notes: list[str]) -> np.ndarray:
    """Any Pillow mode -> (H, W, 3) uint8 RGB."""
    from PIL import Image

    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        a = np.asarray(img).astype(np.float64)
        hi = 65535.0 if (mode.startswith("I;16") or a.max() > 255) else 255.0
        g = np.clip(a / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        notes.append("16-bit image scaled to 8 bits" if hi > 255 else "32-bit integer image read as 8 bits")
        return np.repeat(g[..., None], 3, -1)
    if mode == "F":
        a = np.nan_to_num(np.asarray(img, np.float64))
        lo, hi = float(a.min()), float(a.max())
        g = ((a - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(a)).astype(np.uint8)
        notes.append("floating-point image rescaled to 0-255")
        return np.repeat(g[..., None], 3, -1)
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


def load_photo(source: bytes | str | os.PathLike | BinaryIO, *, max_pixels: int = MAX_PIXELS) -> Photo:
    """Decode a photo from bytes, a path or a file object, whatever its format and mode.

    Respects the EXIF orientation; takes the first frame of an animated file; scales 16-bit
    images to 8 bits; converts CMYK, palette and grey images; flattens transparency onto white.

    Raises:
        ImageError: empty file, not an image, corrupt or truncated data, more than `max_pixels`
            pixels (checked from the header, before decoding) or an unreadable path.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    data = _open_bytes(source)
    if len(data) == 0:
        raise ImageError("the file is empty (0 bytes)")
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as e:
        raise ImageError(f"the image is far too large to decode safely ({e})") from None
    except UnidentifiedImageError:
        raise ImageError("not an image (or an image format that cannot be read): use a JPEG, PNG, WebP or BMP "
                         "photo") from None
    except Exception as e:  # noqa: BLE001 - any decoder failure is a bad file
        raise ImageError(f"the file could not be read as an image ({type(e).__name__}: {e})") from None
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
        orientation = img.getexif().get(0x0112, 1)
        img = ImageOps.exif_transpose(img)
        if orientation not in (None, 1):
            notes.append(f"turned upright from its EXIF orientation ({orientation})")
        rgb = np.ascontiguousarray(_to_rgb(img, notes))
    except ImageError:
        raise
    except Exception as e:  # noqa: BLE001 - truncated / corrupt data surfaces on load
        raise ImageError(f"the image is corrupt or truncated ({type(e).__name__}: {e})") from None
    import cv2

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return Photo(rgb=rgb, gray=gray, format=fmt, mode=mode, notes=notes)


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
    from .inference import predict_probs

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

    faces = np.asarray(faces, np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
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
