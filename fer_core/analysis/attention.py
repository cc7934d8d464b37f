"""Where the model looks, on every image: each image's saliency map summed over a coarse grid.

A map of 48x48 floats per image is 9 KB; its summary over a 6x6 grid of 8x8-pixel cells (Grad-CAM's
own resolution on the shipped models) is 36 shares, so the whole dataset fits (36k faces: 5 MB;
350k: 50 MB) and can be ranked. The stage ``attention`` builds it (``python -m fer_core.prepare``,
or the distributed job's ``--saliency gradcam``, whose import stores the same artifact).

What it is for: a model that looks at the border of the 48x48 frame (a watermark, a hand, the
background) instead of the face. :func:`border_share` is the share of an image's map in the outer
ring of cells; the Saliency page ranks faces by it and averages the grid per predicted class.

Example:
    >>> out = get_attention(ds, model="compact")           # cached; {"summary": (N, 36), ...}
    >>> border = border_share(out["summary"])              # (N,) in [0, 1]
"""
from __future__ import annotations

import math

import numpy as np

from fer_core import stages
from fer_core.analysis.attribute import attribute
from fer_core.analysis.predictions import has_model
from fer_core.config import AttentionConfig
from fer_core.constants import IMAGE_SIZE
from fer_core.models.checkpoint import load_checkpoint
from fer_core.models.inference import for_inference
from fer_core.stages import Stage, register

#: Cells across each side of the summary grid (8x8-pixel cells of a 48x48 face).
GRID = 6
#: Images per attribution call of the stage (its progress steps).
CHUNK = 512


def saliency_summary(maps: np.ndarray, *, grid: int = GRID) -> np.ndarray:
    """(N, 48, 48) importance maps -> (N, grid*grid) float32: each cell's share of the image's
    total importance (rows sum to 1; all zeros for a map without any), row-major from the top left."""
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3 or maps.shape[1] % grid or maps.shape[2] % grid:
        raise ValueError(f"maps must be (N, H, W) with H and W multiples of {grid}, got {maps.shape}")
    n, h, w = maps.shape
    cells = maps.reshape(n, grid, h // grid, grid, w // grid).sum((2, 4)).reshape(n, grid * grid)
    total = cells.sum(1, keepdims=True)
    return np.divide(cells, total, out=np.zeros_like(cells), where=total > 0).astype(np.float32)


def border_mask(grid: int = GRID) -> np.ndarray:
    """(grid*grid,) bool: the cells of the outer ring (20 of 36 on a 6x6 grid)."""
    m = np.ones((grid, grid), bool)
    m[1:-1, 1:-1] = False
    return m.ravel()


def border_share(summary: np.ndarray) -> np.ndarray:
    """(N, G*G) summaries -> (N,) float32: the share of each image's map in the outer ring of cells
    (0 for a map without any importance)."""
    s = np.asarray(summary, dtype=np.float32)
    grid = math.isqrt(s.shape[1]) if s.ndim == 2 else 0
    if s.ndim != 2 or grid * grid != s.shape[1] or grid < 3:
        raise ValueError(f"summary must be (N, G*G) with G >= 3, got {s.shape}")
    return s[:, border_mask(grid)].sum(1).astype(np.float32)


def grid_map(summary_row: np.ndarray, *, size: int = IMAGE_SIZE) -> np.ndarray:
    """(G*G,) shares -> (size, size) float32 map, each cell a flat block (for drawing over a face)."""
    s = np.asarray(summary_row, dtype=np.float32)
    grid = math.isqrt(s.size)
    if grid * grid != s.size or size % grid:
        raise ValueError(f"a summary of {s.size} cells does not tile {size}x{size}")
    return np.kron(s.reshape(grid, grid), np.ones((size // grid, size // grid), np.float32))


def class_means(summary: np.ndarray, predicted: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean summary per predicted class: ((K, G*G) float32, (K,) counts); a class never predicted
    gets zeros."""
    s, p = np.asarray(summary, dtype=np.float32), np.asarray(predicted, dtype=np.int64)
    counts = np.bincount(p, minlength=num_classes)[:num_classes]
    sums = np.zeros((num_classes, s.shape[1]), np.float64)
    np.add.at(sums, p, s)
    return (sums / np.maximum(counts, 1)[:, None]).astype(np.float32), counts


def _compute(ds, config: AttentionConfig, model, progress, store) -> dict[str, np.ndarray]:
    net = for_inference(load_checkpoint(model)[0])  # the GPU when there is one
    n = len(ds)
    out = np.zeros((n, config.grid * config.grid), np.float32)
    for start in range(0, n, CHUNK):
        maps = attribute(net, ds.images[start:start + CHUNK], method=config.method, batch_size=64)
        out[start:start + CHUNK] = saliency_summary(maps, grid=config.grid)
        if progress:
            done = min(n, start + CHUNK)
            progress(done / n, f"{config.method}: {done:,} / {n:,} images")
    return {"summary": out, "classes": np.array(net.classes)}


ATTENTION = register(Stage("attention", "where the model looks on every image: its saliency map summed over a "
                                        "6x6 grid (ranks faces by attention on the frame's border)",
                           AttentionConfig, _compute, reads=("images",), uses_model=True, enabled=has_model))


def get_attention(ds, model=None, *, config: AttentionConfig | None = None, store=None,
                  progress=None) -> dict[str, np.ndarray]:
    """Cached summaries of `model`'s maps (for its predicted class) on every image of `ds`.

    Returns:
        {"summary": (N, G*G) float32 shares (rows sum to 1, or 0), "classes": (K,) str}.
    """
    return stages.get(ATTENTION, ds, config, model=model, store=store, progress=progress)


def attention_key(ds, model=None, config: AttentionConfig | None = None) -> str:
    """Cache key of :func:`get_attention`."""
    return stages.key(ATTENTION, ds, config, model=model)
