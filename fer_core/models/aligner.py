"""Face-alignment checker: a tiny CNN that tells a FER2013-style aligned face crop from a
misaligned one (rotated, upside down, shifted, shrunk off-centre). Self-supervised: the
negatives are made from the faces themselves (:func:`misaligned_copies`), so no label is needed.
Its probability is the "misalignment" signal of the non-face ranking (fer_core.analysis.label_errors):
sideways, off-centre and tiny faces, and many icons and text images, score high.

    python -m fer_core.aligner --data fer2013.csv.gz --out fer_core/models/weights/aux/face_aligner.pt

The shipped checker (`fer_core/models/weights/aux/face_aligner.pt`, fp16, ~0.1 MB; kept out of
`weights/*.pt` so it is not listed as an expression model) was trained with that command.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fer_core import validate
from fer_core.config import JobConfig, opt

SHIPPED = Path(__file__).resolve().parent / "weights" / "aux" / "face_aligner.pt"


@dataclass(frozen=True)
class AlignerConfig(JobConfig):
    """Training of the alignment checker."""

    data: str = opt("", "fer2013.csv[.gz] or image folder (empty: the bundled sample)")
    epochs: int = opt(5, "passes; each draws fresh positives and fresh misaligned copies")
    per_epoch: int = opt(16000, "aligned images per epoch (as many misaligned copies are added)")
    width: int = opt(16, "channels of the first conv (then 2x, 4x, 4x)")
    batch_size: int = opt(128, "images per step")
    lr: float = opt(3e-3, "AdamW learning rate")
    seed: int = opt(0, "random seed (sampling, copies, weights)")
    threads: int = opt(0, "CPU threads for torch (0 = torch's default)")
    out: str = opt(str(SHIPPED), "where to write the checker")


def create_aligner(width: int = 16) -> nn.Module:
    """(B, 1, 48, 48) standardized images -> (B,) logits of "misaligned"."""
    def block(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU())
    w = width
    return nn.Sequential(block(1, w), nn.MaxPool2d(2), block(w, 2 * w), nn.MaxPool2d(2), block(2 * w, 4 * w),
                         nn.MaxPool2d(2), block(4 * w, 4 * w), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4 * w, 1), nn.Flatten(0))


def standardize(images: np.ndarray) -> torch.Tensor:
    """(N,48,48) uint8 -> (N,1,48,48) float32, each image to zero mean and unit-ish std."""
    x = torch.from_numpy(np.ascontiguousarray(images)).float().unsqueeze(1) / 255.0
    return (x - x.mean((2, 3), keepdim=True)) / (x.std((2, 3), keepdim=True) + 0.05)


def misaligned_copies(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each (N,48,48) uint8 image turned into a misaligned version: rotated by 90 or 270
    degrees, flipped upside down, rotated 30-60 degrees, shrunk to 40-60% off-centre, or shifted
    by 10-17 px (borders reflected)."""
    import cv2
    out = np.empty_like(images)
    for j, x in enumerate(images):
        kind = rng.integers(0, 6)
        if kind == 0:
            y = np.rot90(x, 1)
        elif kind == 1:
            y = np.rot90(x, 3)
        elif kind == 2:
            y = x[::-1]
        elif kind == 3:
            m = cv2.getRotationMatrix2D((24, 24), float(rng.uniform(30, 60) * rng.choice([-1, 1])), 1.0)
            y = cv2.warpAffine(x, m, (48, 48), borderMode=cv2.BORDER_REFLECT)
        elif kind == 4:
            m = cv2.getRotationMatrix2D((float(rng.uniform(10, 38)), float(rng.uniform(10, 38))), 0,
                                        float(rng.uniform(0.4, 0.6)))
            y = cv2.warpAffine(x, m, (48, 48), borderMode=cv2.BORDER_REFLECT)
        else:
            dx, dy = rng.integers(10, 18, 2) * rng.choice([-1, 1], 2)
            y = cv2.warpAffine(x, np.float32([[1, 0, dx], [0, 1, dy]]), (48, 48), borderMode=cv2.BORDER_REFLECT)
        out[j] = y
    return out


def train_aligner(images: np.ndarray, config: AlignerConfig = AlignerConfig(), *, progress: bool = True
                  ) -> tuple[nn.Module, list[float]]:
    """Train the checker on `images` (N,48,48) uint8 (aligned faces, mostly).

    Returns:
        (model in eval mode, mean training loss per epoch).
    """
    from tqdm.auto import tqdm
    images = validate.images(images)
    if len(images) < 2:
        raise ValueError("the alignment checker needs at least 2 images")
    if config.threads:
        torch.set_num_threads(config.threads)
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    model = create_aligner(config.width)
    opt_ = torch.optim.AdamW(model.parameters(), config.lr, weight_decay=1e-4)
    n = min(config.per_epoch, len(images))
    losses = []
    for ep in range(config.epochs):
        pos = images[rng.permutation(len(images))[:n]]
        x = np.concatenate([pos, misaligned_copies(images[rng.permutation(len(images))[:n]], rng)])
        y = torch.from_numpy(np.r_[np.zeros(n), np.ones(n)].astype(np.float32))
        order = rng.permutation(len(x))
        model.train()
        total = 0.0
        for i in tqdm(range(0, len(x), config.batch_size), desc=f"aligner epoch {ep + 1}/{config.epochs}",
                      disable=not progress, leave=False, file=sys.stderr):
            b = order[i:i + config.batch_size]
            loss = nn.functional.binary_cross_entropy_with_logits(model(standardize(x[b])), y[b])
            opt_.zero_grad()
            loss.backward()
            opt_.step()
            total += float(loss.detach()) * len(b)
        losses.append(total / len(x))
    return model.eval(), losses


def save_aligner(model: nn.Module, path: str | Path, *, config: AlignerConfig, data_hash: str, losses) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "config": config.to_dict(), "data_hash": data_hash,
                "losses": [float(v) for v in losses]}, path)


def load_aligner(path: str | Path | None = None) -> nn.Module:
    """The checker at `path` (default: the shipped one), in eval mode.

    Raises:
        FileNotFoundError: naming the path and the command that makes it.
    """
    path = Path(path or SHIPPED)
    if not path.is_file():
        raise FileNotFoundError(f"alignment checker not found: {path}; make it with "
                                f"python -m fer_core.aligner --data fer2013.csv.gz --out {path}")
    ck = torch.load(path, map_location="cpu", weights_only=True)
    model = create_aligner(int(ck["config"]["width"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ck["state_dict"].items()})
    return model.eval()


@torch.inference_mode()
def misalignment_scores(images: np.ndarray, model: nn.Module | None = None, *, batch_size: int = 1024) -> np.ndarray:
    """(N,48,48) uint8 -> (N,) float64 probability of "misaligned" (higher = less like an aligned
    face crop)."""
    model = model or load_aligner()
    out = [torch.sigmoid(model(standardize(images[i:i + batch_size]))).numpy()
           for i in range(0, len(images), batch_size)]
    return np.concatenate(out).astype(np.float64) if out else np.zeros(0)


def main(argv: list[str] | None = None) -> int:
    from fer_core import cli
    a = cli.command_parser("aligner", __doc__, config=AlignerConfig, raw_description=True).parse_args(argv)
    return cli.run(lambda: _train_and_save(AlignerConfig.from_args(a)))


def _train_and_save(config: AlignerConfig) -> int:
    from fer_core.data.dataset import load_dataset
    ds = load_dataset(config.data or None)
    t0 = time.perf_counter()
    model, losses = train_aligner(ds.images, config)
    save_aligner(model, config.out, config=config, data_hash=ds.data_hash, losses=losses)
    print(f"[aligner] {len(ds):,} images, {config.epochs} epochs in {time.perf_counter() - t0:.0f} s; "
          f"loss per epoch {', '.join(f'{v:.3f}' for v in losses)}; wrote {config.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
