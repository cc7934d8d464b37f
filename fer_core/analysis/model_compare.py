"""Where two or more models disagree on the same images: their top-1 classes, and how far apart
their predicted probabilities are (Jensen-Shannon divergence, largest probability gap).

Arrays in, arrays out (no Streamlit); the All images table adds these as columns and the face
card shows the models side by side.

Example:
    >>> d = disagreement([pred_a["probs"], pred_b["probs"]])
    >>> order = np.argsort(-d["js"])          # the images the models disagree on most first
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fer_core import validate


def _entropy_bits(p: np.ndarray) -> np.ndarray:
    """Shannon entropy in bits along the last axis (0 log 0 = 0)."""
    p = np.asarray(p, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log2(p), 0.0).sum(-1)


def disagreement(probs: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """How M >= 2 models' predictions of the same images and classes differ, per image.

    Args:
        probs: M arrays (N, K), each model's probabilities (rows sum to 1), the same classes in
            the same order.

    Returns:
        dict with
        top1 (M, N) int64: each model's top-1 class;
        differs (N,) bool: not every model has the same top-1 class;
        js (N,) float64: the Jensen-Shannon divergence of the M distributions in bits (equal weights):
            H(mean of p_m) - mean of H(p_m); 0 = identical, at most log2(M) (1 bit for two models
            that put all mass on different classes). For M = 2 it is the square of scipy's
            ``jensenshannon(p, q, base=2)``;
        gap (N,) float64: the largest difference between two models' probabilities of one class,
            in [0, 1].

    Raises:
        ValueError: fewer than two models, or arrays of different shapes, or not probabilities.
    """
    if len(probs) < 2:
        raise ValueError(f"disagreement needs at least two models' probabilities, got {len(probs)}")
    shapes = {np.shape(p) for p in probs}
    if len(shapes) != 1:
        raise ValueError(f"every model's probabilities must have the same shape (N, K), got {sorted(shapes)}")
    p = np.stack([validate.pred_probs(q, name=f"probs[{m}]") for m, q in enumerate(probs)])
    top1 = p.argmax(-1)
    js = _entropy_bits(p.mean(0)) - _entropy_bits(p).mean(0)
    return {"top1": top1, "differs": (top1 != top1[:1]).any(0), "js": np.clip(js, 0.0, None),
            "gap": (p.max(0) - p.min(0)).max(-1)}
