"""Faces in arbitrary photos: robust decoding, detection, 48x48 crops, predictions.

    >>> from fer_core.analysis.faces import load_photo, analyze_photo
    >>> photo = load_photo("group.jpg")                       # any size, colour or grey, EXIF respected
    >>> faces = analyze_photo(photo.rgb, model)               # [{"box": [x, y, w, h], "crop", "probs", "label"}]

Decoding (:mod:`fer_core.data.photos`) and detection and cropping (:mod:`fer_core.data.faces`)
live in the data layer, because the image-folder reader crops the faces of a folder of photos
the same way; they are re-exported here. This module adds what a page needs on top: predictions
for every face of a photo, boxes drawn on it, and demo photos.
"""
from __future__ import annotations

import numpy as np

from fer_core import validate
from fer_core.data.faces import (  # noqa: F401
    CROP_MARGIN,
    DEFAULT_DETECTOR,
    DETECT_MAX_SIDE,
    DETECTORS,
    HAAR_CASCADES,
    FaceCrop,
    crop_face,
    detect_faces,
    face_crop,
    mtcnn_available,
    whole_image_crop,
)
from fer_core.data.photos import (  # noqa: F401
    MAX_FILE_BYTES,
    MAX_PIXELS,
    PHOTO_FORMATS,
    UPLOAD_TYPES,
    ImageError,
    Photo,
    as_gray,
    load_photo,
)


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
