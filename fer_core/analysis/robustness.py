"""Robustness sweeps: accuracy under noise, blur, occlusion, lighting and adversarial attacks.

    python -m fer_core.robustness --data fer2013.csv.gz --model compact --corruption gaussian_noise --repeats 3

* Corruptions: pure functions ``images (N, 48, 48) uint8 -> (N, 48, 48) uint8`` with one
  severity parameter each (:func:`gaussian_noise`, :func:`salt_and_pepper`, :func:`gaussian_blur`,
  :func:`jpeg`, :func:`brightness`, :func:`contrast`, :func:`occlude`, :func:`rotate`,
  :func:`downscale`), and the attacks :func:`fgsm` and :func:`pgd` (Captum's ``captum.robust``
  FGSM and PGD on the model in [0, 1] pixel space, results rounded to 8 bits as a saved image
  would be). :data:`CORRUPTIONS` gives each one's severity table; level 0 is the clean image.
  The Gaussian-noise levels are those of the source study: variance 0, 0.01, 0.05, 0.07, 0.1,
  0.15, 0.2 on images scaled to [0, 1].
* Sweeps: :func:`sweep` runs a model over every severity, repeated over R seeds (a random
  corruption draws new noise per repeat; a deterministic one runs once and is copied), and
  returns accuracy (R, S), per-class accuracy (R, S, K) and the predictions (R, S, N).
  :func:`get_sweep` is its cached form (store stage ``robustness_sweep``: one artifact per model
  and corruption, keyed by the config, the severity table, the data hash and the model hash).
* Summary: :func:`summary_table` gives per model the clean accuracy, the mean accuracy over
  corruptions and severities (mCA) and an ImageNet-C-style mean corruption error (mCE).
  ``python -m fer_core.prepare`` builds the default sweep (stage ``robustness``).

Example:
    >>> from fer_core.analysis.robustness import gaussian_noise, sweep
    >>> noisy = gaussian_noise(images, 0.05, rng=0)                  # (N, 48, 48) uint8
    >>> res = sweep(model, images, labels, "gaussian_noise", repeats=3)
    >>> res["accuracy"].mean(0)                                       # (7,) accuracy per level
"""
from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np

from fer_core import cli
from fer_core import stages
from fer_core import validate
from fer_core.analysis.predictions import has_model
from fer_core.config import RobustnessConfig
from fer_core.constants import IMAGE_SIZE
from fer_core.data.dataset import Dataset
from fer_core.models.checkpoint import load_checkpoint, model_ref
from fer_core.stages import Stage, register
from fer_core.store import Store

Progress = Callable[[float, str], None]

#: Part of every sweep's cache key: bump it when a corruption or the sweep changes its numbers.
SWEEP_VERSION = 1
#: FER2013 faces are roughly aligned: rows of the eye line and of the mouth (mean face of the
#: data: darkest rows 16-18 and 36-38) and the columns the occluding bars span.
EYE_ROW, EYE_COLS = 17, (6, 42)
MOUTH_ROW, MOUTH_COLS = 37, (12, 36)


# ---- input checks (images: fer_core.validate.images) -------------------------------------
def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _level(value, name: str, lo: float = 0.0, hi: float = np.inf) -> float:
    v = float(value)
    if not (np.isfinite(v) and lo <= v <= hi):
        raise ValueError(f"{name} must be in [{lo:g}, {hi:g}], got {value!r}")
    return v


def _to_u8(x: np.ndarray) -> np.ndarray:
    """float pixels in 0..255 (any range) -> uint8, rounded and clipped."""
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


# ---- corruptions: (N, 48, 48) uint8 -> (N, 48, 48) uint8 ---------------------------------
def gaussian_noise(images: np.ndarray, variance: float, *, rng=None) -> np.ndarray:
    """Add zero-mean Gaussian noise of `variance` to the images scaled to [0, 1], clip, round.

    `variance` 0.01 is a standard deviation of 0.1 (25.5 grey levels); 0 returns a copy.
    """
    x, v = validate.images(images), _level(variance, "variance", 0, 1)
    if v == 0:
        return x.copy()
    noise = _rng(rng).standard_normal(x.shape, dtype=np.float32) * np.float32(np.sqrt(v) * 255)
    return _to_u8(x.astype(np.float32) + noise)


def salt_and_pepper(images: np.ndarray, amount: float, *, rng=None) -> np.ndarray:
    """Set a share `amount` of the pixels to black or white (half each, chosen at random)."""
    x, a = validate.images(images), _level(amount, "amount", 0, 1)
    out = x.copy()
    if a > 0:
        u = _rng(rng).random(x.shape, dtype=np.float32)
        out[u < a / 2] = 0
        out[(u >= a / 2) & (u < a)] = 255
    return out


def gaussian_blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of standard deviation `sigma` pixels (OpenCV, kernel 2*ceil(3 sigma)+1, reflected border)."""
    import cv2
    x, s = validate.images(images), _level(sigma, "sigma", 0, 48)
    if s == 0:
        return x.copy()
    k = 2 * int(np.ceil(3 * s)) + 1
    return np.stack([cv2.GaussianBlur(im, (k, k), s, borderType=cv2.BORDER_REFLECT_101) for im in x]) \
        if len(x) else x.copy()


def jpeg(images: np.ndarray, quality: float) -> np.ndarray:
    """Encode each image as JPEG at `quality` (1-99) and decode it (OpenCV); 100 = not compressed."""
    import cv2
    x, q = validate.images(images), int(round(_level(quality, "quality", 1, 100)))
    if q >= 100:
        return x.copy()
    out = np.empty_like(x)
    for i, im in enumerate(x):
        ok, buf = cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, q])
        if not ok:
            raise ValueError(f"OpenCV could not JPEG-encode image {i}")
        out[i] = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return out


def brightness(images: np.ndarray, offset: float) -> np.ndarray:
    """Add `offset` (in [-1, 1], units of the full pixel range) to every pixel, clip: > 0 brighter."""
    x, o = validate.images(images), _level(offset, "offset", -1, 1)
    return x.copy() if o == 0 else _to_u8(x.astype(np.float32) + np.float32(o * 255))


def contrast(images: np.ndarray, factor: float) -> np.ndarray:
    """Scale each image's deviations from its own mean by `factor` (1 = unchanged, 0 = flat grey)."""
    x, f = validate.images(images), _level(factor, "factor", 0, 10)
    if f == 1:
        return x.copy()
    xf = x.astype(np.float32)
    m = xf.mean((1, 2), keepdims=True)
    return _to_u8((xf - m) * np.float32(f) + m)


def occlude(images: np.ndarray, size: float, *, region: str = "random", fill: int = 0, rng=None) -> np.ndarray:
    """Black out part of each face.

    Args:
        size: 'eyes' and 'mouth': height in pixels of a bar across the eye line (columns 6-41,
            centred on row 17) or the mouth (columns 12-35, row 37), like sunglasses or a mask;
            'random': side of a square at a random place inside each image. 0 = unchanged.
        region: 'eyes', 'mouth' or 'random'.
        fill: grey value of the patch (0 = black).
    """
    x, s = validate.images(images), int(round(_level(size, "size", 0, IMAGE_SIZE)))
    out = x.copy()
    if s == 0 or not len(x):
        return out
    if region in ("eyes", "mouth"):
        row, (c0, c1) = (EYE_ROW, EYE_COLS) if region == "eyes" else (MOUTH_ROW, MOUTH_COLS)
        r0 = int(np.clip(row - s // 2, 0, IMAGE_SIZE - s))
        out[:, r0:r0 + s, c0:c1] = fill
    elif region == "random":
        g = _rng(rng)
        ys, xs = g.integers(0, IMAGE_SIZE - s + 1, len(x)), g.integers(0, IMAGE_SIZE - s + 1, len(x))
        for i, (y0, x0) in enumerate(zip(ys, xs)):
            out[i, y0:y0 + s, x0:x0 + s] = fill
    else:
        raise ValueError(f"region must be 'eyes', 'mouth' or 'random', got {region!r}")
    return out


def rotate(images: np.ndarray, degrees: float, *, rng=None) -> np.ndarray:
    """Rotate each image about its centre by `degrees`, clockwise or counter-clockwise at random
    (bilinear, edge pixels repeated outside the frame)."""
    import cv2
    x, d = validate.images(images), _level(degrees, "degrees", 0, 180)
    if d == 0 or not len(x):
        return x.copy()
    signs = _rng(rng).choice(np.array([-1.0, 1.0]), len(x))
    c = ((IMAGE_SIZE - 1) / 2, (IMAGE_SIZE - 1) / 2)
    return np.stack([cv2.warpAffine(im, cv2.getRotationMatrix2D(c, float(sg * d), 1.0), (IMAGE_SIZE, IMAGE_SIZE),
                                    flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                     for im, sg in zip(x, signs)])


def downscale(images: np.ndarray, size: float) -> np.ndarray:
    """Shrink to `size` x `size` pixels (area averaging) and enlarge back to 48 x 48 (bilinear)."""
    import cv2
    x, s = validate.images(images), int(round(_level(size, "size", 1, IMAGE_SIZE)))
    if s >= IMAGE_SIZE or not len(x):
        return x.copy()
    return np.stack([cv2.resize(cv2.resize(im, (s, s), interpolation=cv2.INTER_AREA), (IMAGE_SIZE, IMAGE_SIZE),
                                interpolation=cv2.INTER_LINEAR) for im in x])


# ---- adversarial attacks (captum.robust) ---------------------------------------------------
def _pixel_model(model):
    """The model as a function of (B, 1, 48, 48) pixels in [0, 1] (its normalisation inside)."""
    import torch

    from fer_core.models.inference import model_normalization
    norm = model_normalization(model)
    mean, std = float(norm["mean"]), float(norm["std"])

    class PixelModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model

        def forward(self, x):
            return self.net((x - mean) / std)
    return PixelModel().eval()


def _attack(model, images, labels, epsilon: float, *, method: str, steps: int, batch_size: int,
            device) -> np.ndarray:
    import torch
    from captum.robust import FGSM, PGD

    x, eps = validate.images(images), _level(epsilon, "epsilon", 0, 1)
    y = validate.labels(labels, n=len(x))
    if eps == 0 or not len(x):
        return x.copy()
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    was_training, model_dev = model.training, next(model.parameters()).device
    net = _pixel_model(model.to(dev))
    loss = torch.nn.CrossEntropyLoss(reduction="none")
    atk = (FGSM if method == "fgsm" else PGD)(net, loss_func=loss, lower_bound=0.0, upper_bound=1.0)
    out = np.empty_like(x)
    try:
        _attack_batches(atk, x, y, out, eps=eps, method=method, steps=steps, batch_size=batch_size, dev=dev)
    finally:
        model.train(was_training)
        model.to(model_dev)
    return out


def _attack_batches(atk, x, y, out, *, eps, method, steps, batch_size, dev) -> None:
    import torch
    with warnings.catch_warnings():
        # Captum notes that it switched on requires_grad for the input: expected here
        warnings.filterwarnings("ignore", message="Input Tensor .* did not already require gradients")
        for i in range(0, len(x), batch_size):
            xb = torch.from_numpy(x[i:i + batch_size]).to(dev).unsqueeze(1).float() / 255.0
            yb = torch.from_numpy(y[i:i + batch_size].astype(np.int64)).to(dev)
            if method == "fgsm":
                adv = atk.perturb(xb, eps, yb)
            else:
                adv = atk.perturb(xb, eps, 2.5 * eps / steps, steps, yb)
            out[i:i + batch_size] = _to_u8(adv.detach()[:, 0].cpu().numpy() * 255.0)


def fgsm(model, images: np.ndarray, labels: np.ndarray, epsilon: float, *, batch_size: int = 256,
         device=None) -> np.ndarray:
    """Fast Gradient Sign Method (Goodfellow et al. 2015; captum.robust.FGSM), untargeted.

    Each image moves by `epsilon` (in [0, 1] pixel units: 1/255 = one grey level) along the sign
    of the gradient of the cross-entropy of its true label, clipped to [0, 1], rounded to uint8.

    Args:
        model: a registry model (its normalisation is applied inside).
        images: (N, 48, 48) uint8; labels: (N,) int, the true classes in the model's label set.

    Returns:
        (N, 48, 48) uint8; epsilon 0 returns the images unchanged.
    """
    return _attack(model, images, labels, epsilon, method="fgsm", steps=1, batch_size=batch_size, device=device)


def pgd(model, images: np.ndarray, labels: np.ndarray, epsilon: float, *, steps: int = 10, batch_size: int = 256,
        device=None) -> np.ndarray:
    """Projected gradient descent in the L-inf ball of radius `epsilon` (Madry et al. 2018;
    captum.robust.PGD): `steps` steps of size 2.5 x epsilon / steps from the clean image
    (no random start, so it is deterministic). Same arguments and result as :func:`fgsm`."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    return _attack(model, images, labels, epsilon, method="pgd", steps=steps, batch_size=batch_size, device=device)


# ---- severity tables -------------------------------------------------------------------------
#: How a registry entry applies its corruption: apply(images, level, *, rng, model, labels, pgd_steps,
#: batch_size) -> (N, 48, 48) uint8; each entry takes what it needs and ignores the rest.
Apply = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Corruption:
    """A corruption, its severity axis and the function that applies it. `levels[0]` is the clean
    image (severity 0)."""

    name: str
    title: str
    param: str                      #: what a level measures (axis title)
    levels: tuple[float, ...]
    random: bool                    #: draws random numbers: repeats differ
    group: str                      #: noise, blur, digital, lighting, occlusion, geometry, adversarial
    fmt: str = "{:g}"               #: how a level is written ("eps": as k/255)
    apply: Apply | None = field(default=None, compare=False, repr=False)  #: see :data:`Apply`

    @property
    def attack(self) -> bool:
        return self.group == "adversarial"

    def label(self, level: float) -> str:
        if self.fmt == "eps":
            return "0" if level == 0 else f"{level * 255:g}/255"
        return self.fmt.format(level)


#: Attack radii, whole grey levels only: the attacked images are rounded to 8 bits, where a
#: half-level step would round unpredictably.
_EPS = (0.0, 1 / 255, 2 / 255, 4 / 255, 8 / 255)



def _random(fn) -> Apply:
    """A corruption drawing from `rng`."""
    return lambda images, level, *, rng=None, **_: fn(images, level, rng=rng)


def _fixed(fn) -> Apply:
    """A deterministic corruption of (images, level)."""
    return lambda images, level, **_: fn(images, level)


def _bar(region: str) -> Apply:
    return lambda images, level, *, rng=None, **_: occlude(images, level, region=region, rng=rng)


def _fgsm(images, level, *, model, labels, batch_size=256, **_) -> np.ndarray:
    return fgsm(model, images, labels, level, batch_size=batch_size)


def _pgd(images, level, *, model, labels, pgd_steps=10, batch_size=256, **_) -> np.ndarray:
    return pgd(model, images, labels, level, steps=pgd_steps, batch_size=batch_size)


#: name -> Corruption (with the function that applies it), in the order the pages list them.
CORRUPTIONS: dict[str, Corruption] = {c.name: c for c in [
    Corruption("gaussian_noise", "Gaussian noise", "variance ([0, 1] pixels)",
               (0.0, 0.01, 0.05, 0.07, 0.1, 0.15, 0.2), True, "noise", apply=_random(gaussian_noise)),
    Corruption("salt_pepper", "Salt and pepper", "share of pixels", (0.0, 0.01, 0.02, 0.05, 0.1, 0.2), True, "noise",
               "{:.0%}", apply=_random(salt_and_pepper)),
    Corruption("gaussian_blur", "Gaussian blur", "sigma (pixels)", (0.0, 0.5, 1.0, 1.5, 2.0, 3.0), False, "blur",
               apply=_fixed(gaussian_blur)),
    Corruption("jpeg", "JPEG compression", "quality (100 = none)", (100, 50, 30, 20, 10, 5), False, "digital",
               apply=_fixed(jpeg)),
    Corruption("brightness", "Brightness", "offset (share of range)", (0.0, 0.1, 0.2, 0.3, 0.4, 0.5), False,
               "lighting", "+{:g}", apply=_fixed(brightness)),
    Corruption("darkness", "Darkness", "offset (share of range)", (0.0, -0.1, -0.2, -0.3, -0.4, -0.5), False,
               "lighting", apply=_fixed(brightness)),
    Corruption("contrast", "Contrast", "contrast factor", (1.0, 0.6, 0.4, 0.3, 0.2, 0.1), False, "lighting",
               apply=_fixed(contrast)),
    Corruption("occlusion_eyes", "Occlusion: eyes", "bar height (pixels)", (0, 4, 8, 12, 16), False, "occlusion",
               apply=_bar("eyes")),
    Corruption("occlusion_mouth", "Occlusion: mouth", "bar height (pixels)", (0, 4, 8, 12, 16), False, "occlusion",
               apply=_bar("mouth")),
    Corruption("occlusion_random", "Occlusion: random patch", "patch side (pixels)", (0, 8, 12, 16, 20, 24), True,
               "occlusion", apply=_bar("random")),
    Corruption("rotation", "Rotation", "degrees (random sign)", (0, 5, 10, 15, 20, 30, 45), True, "geometry", "{:g}°",
               apply=_random(rotate)),
    Corruption("downscale", "Down-then-up scaling", "resolution (pixels)", (48, 32, 24, 16, 12, 8), False, "geometry",
               "{:g} px", apply=_fixed(downscale)),
    Corruption("fgsm", "FGSM attack", "epsilon ([0, 1] pixels)", _EPS, False, "adversarial", "eps", apply=_fgsm),
    Corruption("pgd", "PGD attack", "epsilon ([0, 1] pixels)", _EPS, False, "adversarial", "eps", apply=_pgd),
]}


def get_corruption(name: str) -> Corruption:
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; known: {', '.join(CORRUPTIONS)}")
    return CORRUPTIONS[name]


def image_rng(seed: int, repeat: int, level_index: int, key: int) -> np.random.Generator:
    """The generator of one image's random corruption in a sweep: it depends on the seed, the
    repeat, the severity index and the image's key (its dataset row) only, so a subsample or a
    few example faces see exactly what the full sweep saw."""
    return np.random.default_rng([int(seed), int(repeat), int(level_index), int(key)])


def corrupt_level(images: np.ndarray, name: str, levels: Sequence[float], level_index: int, *, keys: np.ndarray,
                  seed: int = 0, repeat: int = 0, model=None, labels=None, pgd_steps: int = 10,
                  batch_size: int = 256) -> np.ndarray:
    """`images` at severity `levels[level_index]` as a sweep's repeat `repeat` corrupts them: random
    corruptions draw per image from :func:`image_rng` (keys = the images' dataset rows)."""
    spec, v = get_corruption(name), float(levels[level_index])
    if not spec.random or v == spec.levels[0]:
        return corrupt(images, name, v, model=model, labels=labels, pgd_steps=pgd_steps, batch_size=batch_size)
    x = validate.images(images)
    if len(keys) != len(x):
        raise ValueError(f"{len(keys)} keys for {len(x)} images")
    out = np.empty_like(x)
    for i, key in enumerate(keys):
        out[i] = corrupt(x[i:i + 1], name, v, rng=image_rng(seed, repeat, level_index, key))[0]
    return out


def corrupt(images: np.ndarray, name: str, level: float, *, rng=None, model=None, labels=None,
            pgd_steps: int = 10, batch_size: int = 256) -> np.ndarray:
    """Apply corruption `name` (a key of :data:`CORRUPTIONS`) at `level` to (N, 48, 48) uint8 images.

    Attacks (fgsm, pgd) also need `model` and the true `labels`; random corruptions use `rng`
    (a Generator or a seed). Returns (N, 48, 48) uint8.
    """
    spec = get_corruption(name)
    if spec.attack and (model is None or labels is None):
        raise ValueError(f"{name} is an attack: pass model= and labels=")
    return spec.apply(images, level, rng=rng, model=model, labels=labels, pgd_steps=pgd_steps, batch_size=batch_size)


# ---- sweeps ----------------------------------------------------------------------------------
def _predict(net, images: np.ndarray, *, tta: bool, batch_size: int) -> np.ndarray:
    from fer_core.models.inference import predict_logits
    return predict_logits(net, images, batch_size=batch_size, tta=tta).argmax(1).astype(np.int16)


def _fast_copy(model):
    """An eval-mode copy of the model for inference: channels-last on CPU (~1.3-2x faster for the
    depthwise convolutions of `compact` at batch 128), on the default device."""
    import copy

    from fer_core.models.inference import for_inference
    return for_inference(copy.deepcopy(model))


def sweep(model, images: np.ndarray, labels: np.ndarray, corruption: str, *, levels: Sequence[float] | None = None,
          repeats: int = 3, seed: int = 0, keys: np.ndarray | None = None, tta: bool = False, pgd_steps: int = 10,
          batch_size: int = 128, progress: Progress | None = None) -> dict[str, np.ndarray]:
    """Accuracy of `model` on `images` corrupted at every severity level, over `repeats` seeds.

    Image i in repeat r at level s draws from :func:`image_rng` (seed, r, s, keys[i]), so the
    same seed gives the same numbers, and severity 0 (the clean images) reproduces the model's
    clean accuracy exactly.
    A deterministic corruption (blur, JPEG, lighting, eye/mouth bars, scaling, attacks) is run
    once per level and copied to every repeat. Runs on the GPU when there is one.

    Args:
        model: a registry model (any nn.Module (B,1,48,48) -> (B,K) logits with `num_classes`).
        images: (N, 48, 48) uint8; labels: (N,) int in [0, K).
        corruption: a key of :data:`CORRUPTIONS`; levels: its severity levels (default: the table's).
        keys: (N,) non-negative int per image (the dataset rows; default 0..N-1).
        progress: called as progress(fraction, text) after each model pass (e.g. st.progress).

    Returns:
        dict with levels (S,) float64; accuracy (R, S) float64; class_accuracy (R, S, K) float64
        (NaN for a class without images); class_counts (K,) int64; preds (R, S, N) int16;
        seconds (scalar, wall time).
    """
    x = validate.images(images)
    spec = get_corruption(corruption)
    k = int(getattr(model, "num_classes", 0))
    y = validate.labels(labels, n=len(x), num_classes=k or None)  # the model's classes
    if len(x) == 0:
        raise ValueError("no images to sweep")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    lv = np.asarray(spec.levels if levels is None else levels, dtype=np.float64)
    if lv.ndim != 1 or not len(lv) or not np.isfinite(lv).all():
        raise ValueError(f"levels must be a non-empty 1-D list of numbers, got {levels!r}")
    keys = np.arange(len(x)) if keys is None else np.asarray(keys, dtype=np.int64)
    if keys.shape != (len(x),) or (len(keys) and keys.min() < 0):
        raise ValueError(f"keys must be ({len(x)},) non-negative int, got shape {keys.shape}")
    return _compute_sweep(model, x, y.astype(np.int64), spec, lv, keys, repeats=repeats, seed=seed, tta=tta,
                          pgd_steps=pgd_steps, batch_size=batch_size, progress=progress or (lambda *_: None),
                          k=k or int(y.max()) + 1)


def _compute_sweep(model, x, y, spec: Corruption, lv, keys, *, repeats, seed, tta, pgd_steps, batch_size, progress, k):
    from tqdm import tqdm

    t0 = time.perf_counter()
    net = _fast_copy(model)
    clean = spec.levels[0]
    runs = [repeats if spec.random and v != clean else 1 for v in lv]  # deterministic: one pass, copied
    jobs = [(s, r) for s in range(len(lv)) for r in range(runs[s])]
    preds = np.zeros((repeats, len(lv), len(x)), np.int16)
    bar = tqdm(total=len(jobs) * len(x), desc=spec.name, unit="img", disable=None, leave=False, file=sys.stderr)
    for j, (s, r) in enumerate(jobs):
        xc = corrupt_level(x, spec.name, lv, s, keys=keys, seed=seed, repeat=r, model=net, labels=y,
                           pgd_steps=pgd_steps, batch_size=batch_size)
        p = _predict(net, xc, tta=tta, batch_size=batch_size)
        preds[r if runs[s] > 1 else slice(None), s] = p
        bar.update(len(x))
        progress((j + 1) / len(jobs), f"{spec.title}: {spec.param} {spec.label(lv[s])}, repeat {r + 1} "
                 f"({j + 1}/{len(jobs)} passes over {len(x):,} images)")
    bar.close()
    correct = preds == y
    counts = np.bincount(y, minlength=k).astype(np.int64)
    per_class = np.zeros((repeats, len(lv), k))
    for c in range(k):
        m = y == c
        per_class[:, :, c] = correct[:, :, m].mean(2) if m.any() else np.nan
    return {"levels": lv, "accuracy": correct.mean(2), "class_accuracy": per_class, "class_counts": counts,
            "preds": preds, "seconds": np.float64(time.perf_counter() - t0)}


# ---- cached sweeps over a dataset -------------------------------------------------------------
def select_rows(ds: Dataset, config: RobustnessConfig, label_set: str = "fer2013") -> tuple[np.ndarray, np.ndarray]:
    """(dataset rows, labels in `label_set`) of the labeled images of `config.split`, sorted; a
    seeded random subsample of `config.max_images` of them when that is set.

    Raises:
        ValueError: the split has no labeled image.
    """
    rows = ds.rows(config.split, label_set)
    if not len(rows):
        raise ValueError(f"no labeled {config.split} images in this data ({ds.source}): a robustness sweep needs "
                         "a test split (FER2013's Usage column, or a test/ folder)")
    if 0 < config.max_images < len(rows):
        rows = np.sort(np.random.default_rng(config.seed).choice(rows, config.max_images, replace=False))
    return rows, ds.labels_in(label_set)[rows]


def quick_config(ds: Dataset, config: RobustnessConfig = RobustnessConfig(), *, max_images: int = 500
                 ) -> RobustnessConfig:
    """`config` on a subsample of `max_images` (the full split when it is not larger)."""
    n = len(ds.rows(config.split))
    return replace(config, max_images=max_images if n > max_images else 0)


@dataclass(frozen=True)
class SweepConfig(RobustnessConfig):
    """One corruption's sweep (stage 'robustness_sweep'): a RobustnessConfig and the corruption."""

    corruption: str = "gaussian_noise"


def _base_config(config: RobustnessConfig) -> RobustnessConfig:
    """The RobustnessConfig part of `config` (a SweepConfig without its corruption)."""
    return RobustnessConfig(**{f: getattr(config, f) for f in RobustnessConfig.__dataclass_fields__})


def sweep_config(config: RobustnessConfig, corruption: str, model=None) -> dict:
    """What a sweep artifact's key hashes: the config without the corruption list, with this
    corruption and its severity table (PGD's step count only for PGD). `model` is not hashed
    (the model enters the key by content hash)."""
    spec = get_corruption(corruption)
    d = _base_config(config).to_dict()
    d.pop("corruptions")
    if corruption != "pgd":
        d.pop("pgd_steps")
    return {"corruption": corruption, "levels": [float(v) for v in spec.levels], "version": SWEEP_VERSION, **d}


def _compute_sweep_stage(ds: Dataset, config: SweepConfig, model, progress, store) -> dict[str, np.ndarray]:
    net, info = load_checkpoint(model)
    rows, labels = select_rows(ds, config, info.get("label_set") or "fer2013")
    out = sweep(net, ds.images[rows], labels, config.corruption, repeats=config.repeats, seed=config.seed,
                keys=rows, tta=config.tta, pgd_steps=config.pgd_steps, progress=progress)
    return {**out, "rows": rows.astype(np.int64)}


def has_model_and_test_split(ds) -> bool:
    """A model is shipped and the data has labeled PrivateTest images."""
    return has_model(ds) and bool(len(ds.rows("PrivateTest")))


SWEEP = register(Stage("robustness_sweep", "one corruption's accuracy over its severities (on demand)", SweepConfig,
                       _compute_sweep_stage, reads=("images", "labels", "split"), uses_model=True,
                       enabled=has_model_and_test_split, key_config=lambda c: sweep_config(c, c.corruption),
                       prepare=False))


def _sweep_config(corruption: str, config: RobustnessConfig) -> SweepConfig:
    get_corruption(corruption)  # a clear error naming the known corruptions
    return SweepConfig(**_base_config(config).to_dict(), corruption=corruption)


def sweep_key(ds: Dataset, corruption: str, config: RobustnessConfig = RobustnessConfig(), model=None) -> str:
    """Cache key of :func:`get_sweep`."""
    return stages.key(SWEEP, ds, _sweep_config(corruption, config), model=model)


def load_sweep(ds: Dataset, corruption: str, config: RobustnessConfig = RobustnessConfig(), *,
               model=None, store: Store | None = None) -> dict[str, np.ndarray] | None:
    """The cached sweep, or None when it has not been computed."""
    return stages.load(SWEEP, ds, _sweep_config(corruption, config), model=model, store=store)


def get_sweep(ds: Dataset, corruption: str, config: RobustnessConfig = RobustnessConfig(), *,
              model=None, store: Store | None = None, progress: Progress | None = None
              ) -> dict[str, np.ndarray]:
    """Cached :func:`sweep` of `model` (shipped name, checkpoint path or ModelRef; None = the
    default model) on `config.split` of `ds`.

    Returns:
        :func:`sweep`'s dict plus rows (N,) int64, the dataset rows that were corrupted.
    """
    return stages.get(SWEEP, ds, _sweep_config(corruption, config), model=model, store=store, progress=progress)


# ---- the default sweep (prepare stage "robustness") --------------------------------------------
def _default_config(config: RobustnessConfig) -> dict:
    levels = {c: [float(v) for v in get_corruption(c).levels] for c in config.corruptions}
    return {**config.to_dict(), "levels": levels, "version": SWEEP_VERSION}


def _compute_default_stage(ds: Dataset, config: RobustnessConfig, model, progress, store) -> dict[str, np.ndarray]:
    res = {}
    for i, c in enumerate(config.corruptions):
        step = (lambda f, t, i=i: progress((i + f) / len(config.corruptions), t)) if progress else None
        res[c] = get_sweep(ds, c, config, model=model, store=store, progress=step)
    mean = [float(r["accuracy"][:, 1:].mean()) for r in res.values()]
    clean = float(next(iter(res.values()))["accuracy"][0, 0]) if res else float("nan")
    return {"corruptions": np.array(list(res), dtype=str), "mean_accuracy": np.array(mean),
            "clean_accuracy": np.float64(clean)}


STAGE = register(Stage("robustness", "model's accuracy under Gaussian noise, blur, JPEG, low contrast, eye and "
                       "mouth occlusion and FGSM on PrivateTest (3 repeats)", RobustnessConfig, _compute_default_stage,
                       reads=("images", "labels", "split"), uses_model=True, enabled=has_model_and_test_split,
                       key_config=_default_config))


def default_sweep_key(ds: Dataset, config: RobustnessConfig = RobustnessConfig(), model=None) -> str:
    """Cache key of :func:`get_default_sweep`."""
    return stages.key(STAGE, ds, config, model=model)


def get_default_sweep(ds: Dataset, config: RobustnessConfig = RobustnessConfig(), *, model=None,
                      store: Store | None = None, progress: Progress | None = None) -> dict[str, np.ndarray]:
    """Every corruption of `config` for `model` (None = the default model; each corruption cached
    on its own, so an interrupted run resumes), and their summary: corruptions (C,) str,
    mean_accuracy (C,) float64 (over severities > 0 and repeats) and clean_accuracy (scalar)."""
    return stages.get(STAGE, ds, config, model=model, store=store, progress=progress)


# ---- summaries for tables and figures -----------------------------------------------------------
def summarize(result: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Mean, standard deviation, min and max over repeats of accuracy (S,) each; class_mean (S, K)."""
    acc = np.asarray(result["accuracy"], dtype=np.float64)
    return {"mean": acc.mean(0), "std": acc.std(0, ddof=1) if len(acc) > 1 else np.zeros(acc.shape[1]),
            "min": acc.min(0), "max": acc.max(0), "class_mean": np.asarray(result["class_accuracy"]).mean(0)}


def summary_table(results: dict[tuple[str, str], dict], *, reference: str | None = None):
    """Per model: clean accuracy, mean corrupted accuracy and mean corruption error.

    Args:
        results: {(model, corruption): sweep result}. Adversarial attacks are left out of the means
            (as in ImageNet-C, whose mCE averages common corruptions only).
        reference: model whose errors normalise the mCE (ImageNet-C: CE_c = sum_s E_s,c(model) /
            sum_s E_s,c(reference), mCE = mean over corruptions); default the first model. Only the
            corruptions every model has are averaged, so the models are compared on the same set.

    Returns:
        DataFrame indexed by model with clean accuracy, mCA (mean accuracy over corruptions and
        severities > 0), drop (clean - mCA), mCE (relative to `reference`, 1 for it; NaN when
        it has no common corruption) and corruptions (how many were averaged).
    """
    import pandas as pd
    models = list(dict.fromkeys(m for m, _ in results))
    common = [c for c in CORRUPTIONS if not CORRUPTIONS[c].attack and all((m, c) in results for m in models)]
    reference = reference if reference in models else (models[0] if models else None)

    def err(m, c):
        return 1 - np.asarray(results[(m, c)]["accuracy"], dtype=np.float64)[:, 1:].mean(0)

    rows = []
    for m in models:
        any_res = next(r for (mm, _), r in results.items() if mm == m)
        clean = float(np.asarray(any_res["accuracy"])[:, 0].mean())
        mca = float(np.mean([1 - err(m, c).mean() for c in common])) if common else float("nan")
        mce = float(np.mean([err(m, c).sum() / max(err(reference, c).sum(), 1e-12) for c in common])) \
            if common else float("nan")
        rows.append({"model": m, "clean accuracy": clean, "mCA": mca, "drop": clean - mca, "mCE": mce,
                     "corruptions": len(common)})
    return pd.DataFrame(rows).set_index("model") if rows else pd.DataFrame(
        columns=["clean accuracy", "mCA", "drop", "mCE", "corruptions"])


def examples(model, images: np.ndarray, labels: np.ndarray, corruption: str, *, keys: Sequence[int],
             seed: int = 0, repeat: int = 0, pgd_steps: int = 10) -> dict[str, np.ndarray]:
    """A few faces at every severity as a sweep's repeat `repeat` saw them, with the model's predictions.

    Args:
        images: (M, 48, 48) uint8 faces; labels: (M,) their true classes (for the attacks);
        keys: (M,) their dataset rows (the keys of :func:`image_rng`).

    Returns:
        dict with images (S, M, 48, 48) uint8, preds (S, M) int64, confidence (S, M) float32.
    """
    from fer_core.models.inference import predict_probs
    spec = get_corruption(corruption)
    x, keys = validate.images(images), np.asarray(keys, dtype=np.int64)
    imgs = np.stack([corrupt_level(x, corruption, spec.levels, s, keys=keys, seed=seed, repeat=repeat, model=model,
                                   labels=np.asarray(labels, dtype=np.int64), pgd_steps=pgd_steps)
                     for s in range(len(spec.levels))])
    probs = predict_probs(model, imgs.reshape(-1, IMAGE_SIZE, IMAGE_SIZE)).reshape(len(imgs), len(x), -1)
    return {"images": imgs, "preds": probs.argmax(-1), "confidence": probs.max(-1)}


def noise_augmented(info: dict) -> bool:
    """True when a checkpoint (its info dict from load_checkpoint) was trained with Gaussian-noise
    augmentation (TrainConfig.noise > 0), the fix the source study proposed."""
    return float((info.get("train_config") or {}).get("noise", 0) or 0) > 0


def command(corruptions: Sequence[str], *, model: str | None = None, data: str | None = None,
            config: RobustnessConfig = RobustnessConfig()) -> str:
    """The shell command that computes these sweeps."""
    d = RobustnessConfig()
    changed = {f: getattr(config, f) for f in ("repeats", "max_images", "seed", "split")
               if getattr(config, f) != getattr(d, f)}
    return cli.command_line("robustness", data=data, model=model, corruption=list(corruptions), **changed)


# ---- command line ---------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    p = cli.command_parser("robustness", __doc__, data=True, model=True, raw_description=True)
    p.add_argument("--corruption", nargs="+", choices=list(CORRUPTIONS), metavar="NAME",
                   help=f"corruptions to sweep (default: the prepare set). Known: {', '.join(CORRUPTIONS)}")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0 = torch's default)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    RobustnessConfig.add_arguments(p, skip=("corruptions",))
    a = p.parse_args(argv)
    cfg = RobustnessConfig.from_args(a, **({"corruptions": tuple(a.corruption)} if a.corruption else {}))
    if a.threads:
        import torch
        torch.set_num_threads(a.threads)
    return cli.run(lambda: _sweep_and_print(a, cfg))


def _sweep_and_print(a, cfg: RobustnessConfig) -> int:
    from fer_core.data.dataset import load_dataset
    ds = load_dataset(a.data or None)
    ref = model_ref(a.model or None)  # resolved and hashed once for every sweep
    model = ref.name
    select_rows(ds, cfg)
    results, out = {}, {}
    for c in cfg.corruptions:
        t0 = time.perf_counter()
        r = results[(model, c)] = get_sweep(ds, c, cfg, model=ref)
        spec, s = CORRUPTIONS[c], summarize(r)
        out[c] = {"levels": r["levels"].tolist(), "mean": s["mean"].round(4).tolist(),
                  "std": s["std"].round(4).tolist(), "seconds": round(float(r["seconds"]), 1)}
        if not a.json:
            print(f"[{c}] {len(r['rows']):,} images x {len(r['levels'])} levels x {cfg.repeats} repeats: computed in "
                  f"{float(r['seconds']):.1f} s (this call {time.perf_counter() - t0:.1f} s)")
            print("    " + "  ".join(f"{spec.label(v)}: {m:.1%}±{sd:.1%}" for v, m, sd in
                                     zip(r["levels"], s["mean"], s["std"])))
    table = summary_table(results)
    if a.json:
        import json
        print(json.dumps({"model": model, "config": cfg.to_dict(), "sweeps": out,
                          "summary": table.reset_index().to_dict("records")}, indent=2, default=float))
    else:
        print(table.to_string(float_format=lambda v: f"{v:.3f}", na_rep="n/a"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
