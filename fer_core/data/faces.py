"""Faces in a photo: detection (:func:`detect_faces`) and the 48x48 crop (:func:`crop_face`).

One implementation for every user: the image-folder reader crops each photo of a folder with
:func:`face_crop` (the largest face; the whole photo when none is found), the Try a face page and
``python -m fer_core.predict`` crop every face through :mod:`fer_core.analysis.faces`.

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

import os
import threading
from dataclasses import dataclass

import numpy as np

from fer_core.constants import IMAGE_SIZE
from fer_core.data.photos import as_gray

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
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    s = max(1, round(side))
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


@dataclass(frozen=True)
class FaceCrop:
    """One photo's face as a dataset image.

    Attributes:
        crop: (48, 48) uint8 grey face.
        faces: faces the detector found (0: the crop is the whole photo; 2 or more: the largest
            was cropped).
        box: [x, y, w, h] of the cropped face in the photo's pixels (the whole photo when none).
    """

    crop: np.ndarray
    faces: int
    box: tuple[int, int, int, int]


def face_crop(image: np.ndarray, *, detector: str = DEFAULT_DETECTOR, margin: float | None = None) -> FaceCrop:
    """The largest face of a photo as a 48x48 crop, as the Try a face page crops it; the whole
    photo (:func:`whole_image_crop`, as Try a face without detection) when no face is found.

    Args:
        image: (H, W) or (H, W, 3) uint8.
        detector: one of :data:`DETECTORS`.
        margin: crop margin (default: :data:`CROP_MARGIN` of the detector).
    """
    gray = as_gray(image)
    boxes = detect_faces(gray, detector=detector)
    if not len(boxes):
        return FaceCrop(whole_image_crop(gray), 0, (0, 0, gray.shape[1], gray.shape[0]))
    box = boxes[int(np.argmax(boxes[:, 2] * boxes[:, 3]))]  # the largest (first of equals, left to right)
    crop = crop_face(gray, box, margin=CROP_MARGIN[detector] if margin is None else margin)
    return FaceCrop(crop, len(boxes), tuple(int(v) for v in box))
