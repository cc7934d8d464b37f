"""Saliency maps with Captum: which pixels of a 48x48 face drive a class score.

Seven methods, one call (arrays in, arrays out)::

    >>> from fer_core.analysis.attribute import attribute, overlay
    >>> maps = attribute(model, images, method="gradcam")          # (N, 48, 48) float32, >= 0
    >>> rgb = overlay(images[0], maps[0], scale=4)                   # (192, 192, 3) uint8

plus per-class average maps over correctly classified test images (:func:`class_average_maps`)
and the model-randomization sanity check of Adebayo et al. 2018, "Sanity Checks for Saliency
Maps" (:func:`cascading_randomization`): the layers are re-initialised one by one from the top,
and each method's map on the randomized model is compared with its map on the trained model by
Spearman rank correlation. A method whose map barely changes when the weights that produced the
prediction are destroyed explains the input (edges), not the model; Guided Backprop is the
known case, and :func:`flag_untrustworthy` marks such methods.

Maps are importance maps by default (``signed=False``): the absolute value for gradient
methods, the positive part for Grad-CAM and Occlusion. Higher = more important for the target.
"""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from fer_core import stages
from fer_core import validate
from fer_core.analysis.predictions import PREDICTIONS, has_model, has_model_and_labels
from fer_core.config import AttributionConfig, SanityConfig
from fer_core.constants import IMAGE_SIZE
from fer_core.models.checkpoint import load_checkpoint
from fer_core.models.inference import check_images, for_inference, model_normalization, to_input
from fer_core.stages import Stage, register



# ---- the methods: one registry entry each, carrying its Captum call --------------------------
# Each computes raw attributions (B, 1, 48, 48) of normalised input `x` (B, 1, 48, 48), requiring
# grad, for targets `t` (B,); `ca` is captum.attr; options they do not use are ignored.
def _saliency(ca, model, x, t, **_):
    return ca.Saliency(model).attribute(x, target=t, abs=False)


def _integrated_gradients(ca, model, x, t, *, n_steps, norm, **_):
    black = torch.full_like(x, -float(norm["mean"]) / float(norm["std"]))  # pixel value 0
    return ca.IntegratedGradients(model).attribute(x, baselines=black, target=t, n_steps=n_steps,
                                                   internal_batch_size=max(len(x) * n_steps, 1))


def _smoothgrad(ca, model, x, t, *, nt_samples, nt_stdev, seed, norm, **_):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ca.NoiseTunnel(ca.Saliency(model)).attribute(
            x, nt_type="smoothgrad", nt_samples=nt_samples, stdevs=nt_stdev / float(norm["std"]), target=t, abs=False)


def _gradcam(ca, model, x, t, **_):
    g = ca.LayerGradCam(model, model.feature_layer).attribute(x, target=t, relu_attributions=False)
    return ca.LayerAttribution.interpolate(g, (IMAGE_SIZE, IMAGE_SIZE), interpolate_mode="bilinear")


def _guided_backprop(ca, model, x, t, **_):
    return ca.GuidedBackprop(model).attribute(x, target=t)


def _guided_gradcam(ca, model, x, t, **_):
    return ca.GuidedGradCam(model, model.feature_layer).attribute(x, target=t, interpolate_mode="bilinear")


def _occlusion(ca, model, x, t, *, window, stride, **_):
    return ca.Occlusion(model).attribute(x, sliding_window_shapes=(1, window, window), strides=(1, stride, stride),
                                         baselines=0.0, target=t, perturbations_per_eval=32)


@dataclass(frozen=True)
class Method:
    """An attribution method: its display name, relative cost and Captum call."""

    name: str
    title: str                      #: display name
    cost: int                       #: forward+backward passes per image with the default options
    compute: Callable = field(compare=False, repr=False)  #: see the functions above
    needs_feature_layer: bool = False  #: needs ``model.feature_layer`` (the last conv block)
    positive_part: bool = False     #: importance = the positive part (else the absolute value)


#: name -> Method, in the order the pages list them.
REGISTRY: dict[str, Method] = {m.name: m for m in [
    Method("saliency", "Saliency (gradient)", 1, _saliency),
    Method("integrated_gradients", "Integrated Gradients", 32, _integrated_gradients),
    Method("smoothgrad", "SmoothGrad", 16, _smoothgrad),
    Method("gradcam", "Grad-CAM", 1, _gradcam, needs_feature_layer=True, positive_part=True),
    Method("guided_backprop", "Guided Backprop", 1, _guided_backprop),
    Method("guided_gradcam", "Guided Grad-CAM", 2, _guided_gradcam, needs_feature_layer=True),
    Method("occlusion", "Occlusion", 121, _occlusion, positive_part=True),
]}
#: Method name -> display name, in the order the pages list them (a view of :data:`REGISTRY`).
METHODS: dict[str, str] = {n: m.title for n, m in REGISTRY.items()}
#: Relative cost per image (forward+backward passes) with the default options: a guide for the UI.
METHOD_COST: dict[str, int] = {n: m.cost for n, m in REGISTRY.items()}
#: A method whose Spearman correlation with the trained model's map stays above this on average
#: while the top half of the layers is randomized (classifier head first) is flagged as not to be
#: trusted: its map hardly depends on the weights that make the prediction (Adebayo et al. found
#: Guided Backprop invariant to the higher layers). A heuristic cut; the page shows the curves.
TRUST_THRESHOLD = 0.7
#: Captum attaches hooks to the model (Guided Backprop's ReLU hooks, Grad-CAM's layer hooks): one
#: attribution at a time per process, so dashboard sessions sharing a cached model do not mix.
_LOCK = threading.RLock()


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; known: {', '.join(METHODS)}")


def _targets(model: nn.Module, x: torch.Tensor, target) -> torch.Tensor:
    """(B,) int64 targets: the predicted class when `target` is None, else the given class(es)."""
    if target is None:
        with torch.no_grad():
            return model(x).argmax(1)
    t = torch.as_tensor(np.asarray(target), dtype=torch.long, device=x.device)
    return t.expand(len(x)).clone() if t.ndim == 0 else t


def _compute(model: nn.Module, x: torch.Tensor, t: torch.Tensor, method: str, *, n_steps: int,
             nt_samples: int, nt_stdev: float, window: int, stride: int, seed: int, norm: dict) -> torch.Tensor:
    """Raw Captum attribution (B, 48, 48) for normalised input `x` (B,1,48,48), targets `t` (B,)."""
    import warnings

    from captum import attr as ca

    with warnings.catch_warnings():  # "Setting backward hooks on ReLU activations" (Guided Backprop)
        warnings.filterwarnings("ignore", message="Setting backward hooks", category=UserWarning)
        return _captum(ca, model, x, t, method, n_steps=n_steps, nt_samples=nt_samples, nt_stdev=nt_stdev,
                       window=window, stride=stride, seed=seed, norm=norm)


def _captum(ca, model, x, t, method, **kw):
    x = x.detach().clone().requires_grad_(True)
    return REGISTRY[method].compute(ca, model, x, t, **kw).detach()[:, 0]


def attribute(model: nn.Module, images: np.ndarray, *, method: str = "saliency", target=None,
              signed: bool = False, batch_size: int = 32, n_steps: int = 32, nt_samples: int = 16,
              nt_stdev: float = 0.15, window: int = 8, stride: int = 4, seed: int = 0,
              normalization: dict | None = None) -> np.ndarray:
    """Attribution maps of a model's class scores (logits) with respect to the input pixels.

    Args:
        model: a registry model (needs ``feature_layer`` for gradcam / guided_gradcam); left in
            eval mode, weights untouched.
        images: (N, 48, 48) uint8 faces (a single (48, 48) image is promoted).
        method: a key of :data:`METHODS`.
        target: None = each image's predicted class; an int = that class for every image; an
            (N,) int array = one class per image.
        signed: False (default) returns importance >= 0 (absolute gradients, positive part of
            Grad-CAM and Occlusion); True returns Captum's raw signed attribution.
        batch_size: images per Captum call.
        n_steps: Integrated Gradients steps (baseline: a black image).
        nt_samples, nt_stdev: SmoothGrad samples and noise std as a fraction of the pixel range.
        window, stride: Occlusion patch size and step in pixels (patches are set to the mean grey).
        seed: SmoothGrad noise seed (maps are reproducible).
        normalization: {"mean", "std"}; default: the model's own.

    Returns:
        (N, 48, 48) float32 maps, finite. Grad-CAM is computed on `feature_layer` (6x6 for the
        shipped models) and upsampled bilinearly.

    Raises:
        ValueError: unknown method, bad images or targets.
    """
    _check_method(method)
    images = check_images(images)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if REGISTRY[method].needs_feature_layer and not hasattr(model, "feature_layer"):
        raise ValueError(f"{method} needs a model with a `feature_layer` (the last conv block)")
    k = getattr(model, "num_classes", None)
    if target is not None:
        tarr = np.asarray(target)
        if tarr.ndim not in (0, 1) or (tarr.ndim == 1 and len(tarr) != len(images)):
            raise ValueError(f"target must be None, an int or ({len(images)},) ints, got shape {tarr.shape}")
        if k is not None and tarr.size and (tarr.min() < 0 or tarr.max() >= k):
            raise ValueError(f"target classes must be in [0, {k}), got {tarr.tolist()}")
    norm = normalization or model_normalization(model)
    dev = next(model.parameters()).device
    was_training = model.training
    out = []
    with _LOCK:
        model.eval()
        try:
            _attribute_batches(model, images, out, method=method, target=target, batch_size=batch_size, norm=norm,
                               dev=dev, n_steps=n_steps, nt_samples=nt_samples, nt_stdev=nt_stdev, window=window,
                               stride=stride, seed=seed)
        finally:
            model.train(was_training)
            model.zero_grad(set_to_none=True)
    maps = np.concatenate(out) if out else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    if not signed:
        maps = np.maximum(maps, 0) if REGISTRY[method].positive_part else np.abs(maps)
    return np.nan_to_num(maps.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)


def _attribute_batches(model, images, out, *, method, target, batch_size, norm, dev, **kw) -> None:
    """Append one (B, 48, 48) array per batch to `out`."""
    for i in range(0, len(images), batch_size):
        x = to_input(torch.from_numpy(images[i:i + batch_size]).to(dev), norm)
        t = _targets(model, x, target if target is None or np.ndim(target) == 0
                     else np.asarray(target)[i:i + batch_size])
        out.append(_compute(model, x, t, method, norm=norm, **kw).float().cpu().numpy())


# ---- display --------------------------------------------------------------------------------
def normalize_map(m: np.ndarray, *, percentile: float = 99.0) -> np.ndarray:
    """Scale a map to [0, 1]: values above the `percentile` clip to 1 (one hot pixel does not
    wash out the rest); a constant map becomes all zeros."""
    m = np.asarray(m, np.float32)
    m = m - m.min()
    hi = float(np.percentile(m, percentile)) if m.size else 0.0
    if hi <= 1e-12:
        hi = float(m.max())
    return np.clip(m / hi, 0, 1) if hi > 1e-12 else np.zeros_like(m)


def overlay(image: np.ndarray, amap: np.ndarray, *, alpha: float = 0.55, scale: int = 4,
            colormap: str = "jet") -> np.ndarray:
    """Blend a map over a grey face.

    Args:
        image: (H, W) uint8 face (48x48 here).
        amap: (H, W) map, any range (normalised with :func:`normalize_map`).
        alpha: weight of the heat map where the (normalised) map is above 0.6; it fades to the bare
            face below 0.15.
        scale: integer upscaling of the output (bilinear for the map, nearest for the face).
        colormap: 'jet', 'inferno', 'viridis' or 'hot' (OpenCV colormaps).

    Returns:
        (H*scale, W*scale, 3) uint8 RGB.
    """
    import cv2

    maps = {"jet": cv2.COLORMAP_JET, "inferno": cv2.COLORMAP_INFERNO, "viridis": cv2.COLORMAP_VIRIDIS,
            "hot": cv2.COLORMAP_HOT}
    if colormap not in maps:
        raise ValueError(f"colormap must be one of {sorted(maps)}, got {colormap!r}")
    image = np.asarray(image)
    if image.ndim != 2 or np.shape(amap) != image.shape:
        raise ValueError(f"image (H, W) and map of the same shape expected, got {image.shape} and {np.shape(amap)}")
    h, w = image.shape
    size = (w * scale, h * scale)
    face = cv2.resize(image.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    m = cv2.resize(normalize_map(amap), size, interpolation=cv2.INTER_LINEAR)
    heat = cv2.cvtColor(cv2.applyColorMap((m * 255).astype(np.uint8), maps[colormap]), cv2.COLOR_BGR2RGB)
    ramp = np.clip((m - 0.15) / 0.45, 0, 1)  # smoothstep 0.15 -> 0.6: weak values leave the face untinted
    a = (alpha * ramp * ramp * (3 - 2 * ramp))[..., None]
    rgb = (1 - a) * np.repeat(face[..., None], 3, -1) + a * heat
    return np.clip(rgb, 0, 255).astype(np.uint8)


# ---- per-class averages ------------------------------------------------------------------
def class_average_maps(model: nn.Module, images: np.ndarray, labels: np.ndarray, pred_probs: np.ndarray, *,
                       method: str = "gradcam", max_per_class: int = 100, seed: int = 0,
                       progress: Callable[[float, str], None] | None = None, **kwargs) -> dict[str, np.ndarray]:
    """Average map per class over the correctly classified images.

    Each map is scaled to [0, 1] (:func:`normalize_map`) before averaging, so every image
    counts the same. The target of each map is its (true = predicted) class.

    Args:
        images: (N, 48, 48) uint8; labels: (N,) int (-1 = unlabeled, skipped);
        pred_probs: (N, K) the model's probabilities on `images` (rows sum to 1).
        max_per_class: at most this many images per class (a seeded random subset).
        **kwargs: passed to :func:`attribute`.

    Returns:
        dict with maps (K, 48, 48) float32 in [0, 1] (zeros for a class with no correct image),
        mean_faces (K, 48, 48) float32 pixel means of the images used, counts (K,) int64 and
        rows (M,) int64 indices into `images` of the images used.
    """
    images = validate.images(images)
    pred_probs = validate.pred_probs(pred_probs, n=len(images))
    labels = validate.labels(labels, n=len(images), num_classes=pred_probs.shape[1], allow_unlabeled=True)
    k = pred_probs.shape[1]
    rng = np.random.default_rng(seed)
    correct = (pred_probs.argmax(1) == labels) & (labels >= 0)
    maps = np.zeros((k, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    faces = np.zeros_like(maps)
    counts = np.zeros(k, np.int64)
    used = []
    for c in range(k):
        rows = np.flatnonzero(correct & (labels == c))
        if len(rows) > max_per_class:
            rows = np.sort(rng.choice(rows, max_per_class, replace=False))
        if progress:
            progress(c / k, f"class {c + 1} of {k}: {len(rows)} images")
        if len(rows) == 0:
            continue
        m = attribute(model, images[rows], method=method, target=c, **kwargs)
        maps[c] = np.mean([normalize_map(x) for x in m], axis=0)
        faces[c] = images[rows].mean(0)
        counts[c] = len(rows)
        used.append(rows)
    return {"maps": maps, "mean_faces": faces, "counts": counts,
            "rows": np.concatenate(used) if used else np.zeros(0, np.int64)}


# ---- sanity check: cascading model-parameter randomization -------------------------------
def randomization_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's layers from the top (output) down, as randomized by the sanity check:
    the classifier head, then each block of ``model.body`` from the last to the first."""
    layers: list[tuple[str, nn.Module]] = []
    if hasattr(model, "head"):
        layers.append(("head", model.head))
    body = getattr(model, "body", None)
    if body is not None:
        layers += [(f"body.{i}", m) for i, m in reversed(list(enumerate(body.children())))]
    if not layers:
        raise ValueError("the model has no `head` / `body` to randomize")
    return layers


def randomize_(module: nn.Module, generator: torch.Generator) -> None:
    """Re-initialise every conv / linear / batch-norm inside `module` in place (He-normal
    weights, zero biases, identity batch norm with fresh running statistics)."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_parameters()


def spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation between matching rows of a and b, each (N, P); (N,) float64.
    A constant row has no ranking: its correlation is 0."""
    from scipy.stats import rankdata

    a = np.asarray(a, np.float64).reshape(len(a), -1)
    b = np.asarray(b, np.float64).reshape(len(b), -1)
    ra, rb = rankdata(a, axis=1), rankdata(b, axis=1)
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    den = np.sqrt((ra ** 2).sum(1) * (rb ** 2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (ra * rb).sum(1) / den
    return np.where(den > 0, r, 0.0)


def cascading_randomization(model: nn.Module, images: np.ndarray, *, methods: Sequence[str] = tuple(METHODS),
                            seed: int = 0, progress: Callable[[float, str], None] | None = None,
                            **kwargs) -> dict[str, np.ndarray]:
    """Adebayo et al. 2018's cascading randomization test.

    Layers are re-initialised cumulatively from the top (:func:`randomization_layers`); after
    each step every method's maps are recomputed for the class the *trained* model predicted and
    compared with the trained model's maps (Spearman rank correlation of the importance maps,
    per image). The model itself is not modified (a copy is randomized).

    Args:
        images: (N, 48, 48) uint8, a few dozen are enough.
        methods: keys of :data:`METHODS`.
        **kwargs: passed to :func:`attribute`.

    Returns:
        dict with methods (M,) str, layers (L+1,) str ("none" first, then each layer name as it
        is randomized), rho (M, L+1, N) float64 per-image correlations (rho[:, 0] = 1) and
        rho_mean (M, L+1).
    """
    images = check_images(images)
    for m in methods:
        _check_method(m)
    layers = randomization_layers(model)
    with torch.no_grad():
        x = to_input(torch.from_numpy(images).to(next(model.parameters()).device), model_normalization(model))
        target = model.eval()(x).argmax(1).cpu().numpy()
    ref = {m: attribute(model, images, method=m, target=target, **kwargs) for m in methods}
    rho = np.ones((len(methods), len(layers) + 1, len(images)))
    net = copy.deepcopy(model)
    names = dict((id(mod), n) for n, mod in net.named_modules())
    layer_copies = [mod for _, mod in randomization_layers(net)]
    gen = torch.Generator().manual_seed(seed)
    for j, mod in enumerate(layer_copies, start=1):
        if progress:
            progress((j - 1) / len(layer_copies), f"randomizing {names.get(id(mod), j)}")
        randomize_(mod, gen)
        for i, m in enumerate(methods):
            rho[i, j] = spearman_rows(ref[m], attribute(net, images, method=m, target=target, **kwargs))
    return {"methods": np.array(list(methods)), "layers": np.array(["none"] + [n for n, _ in layers]),
            "rho": rho, "rho_mean": rho.mean(2)}


def randomization_summary(result: dict[str, np.ndarray], *, threshold: float = TRUST_THRESHOLD) -> list[dict]:
    """One row per method of a :func:`cascading_randomization` result, each a mean Spearman rho
    over the images: `after_head` (only the classifier re-initialised), `top_half` (mean over
    the steps that randomize the top half of the layers), `mean_rho` (mean over every step),
    `final_rho` (every layer random) and `flagged` (top_half > `threshold`: the map barely
    changes when the weights that make the prediction are destroyed)."""
    rows = []
    for m, r in zip(result["methods"], result["rho_mean"]):
        steps = np.asarray(r[1:], float) if len(r) > 1 else np.ones(1)
        top = float(steps[:max(1, -(-len(steps) // 2))].mean())
        rows.append({"method": str(m), "name": METHODS.get(str(m), str(m)), "after_head": float(steps[0]),
                     "top_half": top, "mean_rho": float(steps.mean()), "final_rho": float(steps[-1]),
                     "flagged": bool(top > threshold)})
    return rows


def flag_untrustworthy(result: dict[str, np.ndarray], *, threshold: float = TRUST_THRESHOLD) -> dict[str, bool]:
    """{method: True when its maps barely change under cascading randomization} (see
    :func:`randomization_summary`)."""
    return {r["method"]: r["flagged"] for r in randomization_summary(result, threshold=threshold)}


# ---- cached artifacts (dataset + shipped model) ---------------------------------------------
def _compute_class_maps(ds, config: AttributionConfig, model, progress, store) -> dict[str, np.ndarray]:
    net = for_inference(load_checkpoint(model)[0])  # the GPU when there is one
    if getattr(net, "label_set", "fer2013") != "fer2013":
        raise ValueError(f"per-class maps compare predictions with the FER2013 labels; model {model.name!r} "
                         f"predicts the {net.label_set!r} classes")
    probs = stages.get(PREDICTIONS, ds, model=model, store=store)["probs"]
    rows = np.flatnonzero(np.isin(ds.split, list(config.splits)))
    if len(rows) == 0:
        rows = np.arange(len(ds))
    out = class_average_maps(net, ds.images[rows], ds.labels[rows], probs[rows], method=config.method,
                             max_per_class=config.max_per_class, seed=config.seed, n_steps=config.n_steps,
                             nt_samples=config.nt_samples, progress=progress)
    out["rows"] = rows[out["rows"]]
    out["classes"] = np.array(net.classes)
    return out


def sanity_images(ds, config) -> np.ndarray:
    """(n,) dataset indices the sanity check uses: a seeded random subset of `config.split`."""
    rows = np.flatnonzero(ds.split == config.split)
    if len(rows) == 0:
        rows = np.arange(len(ds))
    rng = np.random.default_rng(config.seed)
    return np.sort(rng.choice(rows, min(config.n_images, len(rows)), replace=False))


def _compute_sanity(ds, config: SanityConfig, model, progress, store) -> dict[str, np.ndarray]:
    net = for_inference(load_checkpoint(model)[0])  # the GPU when there is one
    rows = sanity_images(ds, config)
    out = cascading_randomization(net, ds.images[rows], methods=config.methods, seed=config.seed,
                                  n_steps=config.n_steps, nt_samples=config.nt_samples, progress=progress)
    out["rows"] = rows
    return out


CLASS_MAPS = register(Stage("class_maps", "model's per-class average Grad-CAM maps (correct test images)",
                            AttributionConfig, _compute_class_maps, reads=("images", "labels", "split"),
                            uses_model=True, enabled=has_model_and_labels))
SANITY = register(Stage("sanity", "saliency sanity check: cascading randomization of the model", SanityConfig,
                        _compute_sanity, reads=("images", "split"), uses_model=True, enabled=has_model))


def class_maps_key(ds, config: AttributionConfig | None = None) -> str:
    """Cache key of :func:`get_class_maps` (config.model: '' = the default model)."""
    return stages.key(CLASS_MAPS, ds, config)


def get_class_maps(ds, config: AttributionConfig | None = None, *, store=None, progress=None) -> dict[str, np.ndarray]:
    """Cached :func:`class_average_maps` of a shipped model on the correctly classified images
    of `config.splits` (all labeled images when the data has none of those splits).

    Returns:
        the dict of :func:`class_average_maps` plus classes (K,) str.
    """
    return stages.get(CLASS_MAPS, ds, config, store=store, progress=progress)


def sanity_key(ds, config: SanityConfig | None = None) -> str:
    """Cache key of :func:`get_sanity`."""
    return stages.key(SANITY, ds, config)


def get_sanity(ds, config: SanityConfig | None = None, *, store=None, progress=None) -> dict[str, np.ndarray]:
    """Cached :func:`cascading_randomization` of a shipped model on :func:`sanity_images`.

    Returns:
        its dict plus rows (n,) the dataset indices of the images.
    """
    return stages.get(SANITY, ds, config, store=store, progress=progress)
