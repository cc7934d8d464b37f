"""Batched augmentation on the training device: one affine `grid_sample` for the whole batch,
brightness/contrast, Gaussian noise and random erasing, each drawn from a seeded generator (no
per-image PIL work, no DataLoader)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from fer_core.config import TrainConfig

__all__ = ["augment_batch", "random_erasing"]


def _u(n: int, lo: float, hi: float, g: torch.Generator, device) -> torch.Tensor:
    return torch.rand(n, generator=g, device=device) * (hi - lo) + lo


def augment_batch(x: torch.Tensor, config: TrainConfig, g: torch.Generator) -> torch.Tensor:
    """Random geometric + photometric augmentation of a batch in [0, 1].

    Args:
        x: (B, 1, 48, 48) float in [0, 1], on any device.
        config: its hflip, shift, rotation, scale, brightness, contrast and noise fields are used.
        g: a torch.Generator on x's device (seeded by the caller).

    Returns:
        (B, 1, 48, 48) float in [0, 1] (a new tensor).
    """
    b, dev = x.shape[0], x.device
    geometric = config.rotation > 0 or config.scale > 0 or config.shift > 0
    flip = (torch.rand(b, generator=g, device=dev) < 0.5) if config.hflip else torch.zeros(b, dtype=torch.bool, device=dev)
    if geometric:
        ang = _u(b, -config.rotation, config.rotation, g, dev) * (math.pi / 180)
        s = _u(b, 1 - config.scale, 1 + config.scale, g, dev)
        t = _u(2 * b, -2 * config.shift, 2 * config.shift, g, dev).view(b, 2)  # [-1,1] grid spans the image twice
        fx = 1 - 2 * flip.float()
        cos, sin = torch.cos(ang) / s, torch.sin(ang) / s
        theta = torch.stack([torch.stack([cos * fx, -sin, t[:, 0]], 1),
                             torch.stack([sin * fx, cos, t[:, 1]], 1)], 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    elif config.hflip:
        x = torch.where(flip.view(b, 1, 1, 1), x.flip(-1), x)
    if config.contrast > 0 or config.brightness > 0:
        c = _u(b, 1 - config.contrast, 1 + config.contrast, g, dev).view(b, 1, 1, 1)
        br = _u(b, -config.brightness, config.brightness, g, dev).view(b, 1, 1, 1)
        m = x.mean((1, 2, 3), keepdim=True)
        x = ((x - m) * c + m + br).clamp(0, 1)
    if config.noise > 0:  # Gaussian noise, variance ~ U[0, noise] per image
        std = torch.sqrt(_u(b, 0.0, config.noise, g, dev)).view(b, 1, 1, 1)
        x = (x + torch.randn(x.shape, generator=g, device=dev) * std).clamp(0, 1)
    return x


def random_erasing(x: torch.Tensor, p: float, g: torch.Generator, *, area=(0.02, 0.25),
                   ratio=(0.3, 3.3), value: float = 0.0) -> torch.Tensor:
    """Zhong et al. random erasing, vectorised: with probability `p` per image, one rectangle of
    `area` share and aspect `ratio` is set to `value` (0 = the mean after normalisation)."""
    if p <= 0:
        return x
    b, _, h, w = x.shape
    dev = x.device
    apply = torch.rand(b, generator=g, device=dev) < p
    a = _u(b, *area, g, dev) * h * w
    r = torch.exp(_u(b, math.log(ratio[0]), math.log(ratio[1]), g, dev))
    eh = torch.sqrt(a * r).round().clamp(1, h)
    ew = torch.sqrt(a / r).round().clamp(1, w)
    y0 = (torch.rand(b, generator=g, device=dev) * (h - eh + 1)).floor()
    x0 = (torch.rand(b, generator=g, device=dev) * (w - ew + 1)).floor()
    ys = torch.arange(h, device=dev).view(1, h)
    xs = torch.arange(w, device=dev).view(1, w)
    in_y = (ys >= y0[:, None]) & (ys < (y0 + eh)[:, None])
    in_x = (xs >= x0[:, None]) & (xs < (x0 + ew)[:, None])
    mask = (in_y[:, :, None] & in_x[:, None, :] & apply[:, None, None]).unsqueeze(1)
    return torch.where(mask, torch.full_like(x, value), x)
