"""Train a registry CNN on FER2013 / FER6 / FER+ labels.

* Images stay in memory as one uint8 tensor on the training device; each batch is augmented
  there as a whole (one affine `grid_sample`, brightness/contrast, random erasing, mixup), so
  there is no per-image PIL work and no DataLoader.
* Model selection: the epoch with the best PublicTest accuracy is kept. PrivateTest is scored
  once, after selection, for the record; it never influences training.
* CUDA + bfloat16 autocast when a GPU is present; CPU otherwise.
* Several processes under ``torchrun`` (DistributedDataParallel): each process trains on its
  own share of every epoch's order and gradients are averaged; ``--batch-size`` stays the
  global batch (each process takes batch_size / processes), so a run is the same optimisation
  problem on 1 or N processes. NCCL on GPUs (one per process), Gloo on CPUs. Only rank 0
  prints and writes the checkpoint.

Command line::

    python -m fer_core.train --data fer2013.csv.gz --model compact --epochs 30 \
        --out fer_core/models/weights/compact.pt
    torchrun --standalone --nproc_per_node 4 -m fer_core.train --data fer2013.csv.gz --model resnet18
    python -m fer_core.train --resume fer_core/models/weights/compact.last.ckpt   # continue a stopped run

Resumable runs (nanoGPT's ``ckpt.pt``): beside ``--out x.pt`` (the selected epoch, float16),
``x.last.ckpt`` is rewritten atomically after every epoch with the float32 weights, optimiser and
schedule state, the epoch, every process's random states, the best epoch so far and the
history. ``--resume x.last.ckpt`` takes the stopped run's settings and continues after its last
finished epoch; the result is the uninterrupted run's.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from fer_core.config import TrainConfig
from fer_core.constants import get_label_set
from fer_core.models.inference import channels_last_safe  # noqa: F401  (also imported from here)
from fer_core.models.registry import create_model, list_models
from fer_core.training.augment import augment_batch, random_erasing

__all__ = ["TrainConfig", "train", "augment_batch", "apply_label_corrections", "dist_env", "main"]

#: decisions in a label-corrections CSV that --exclude-flagged drops (and mislabeled without a corrected label)
EXCLUDE_DECISIONS = ("not_face", "duplicate")


# --------------------------------------------------------------------------------------------
# configuration checks and defaults
# --------------------------------------------------------------------------------------------
def _resolved(config: TrainConfig) -> tuple[float, float]:
    lr = config.lr or (0.1 * config.batch_size / 128 if config.optimizer == "sgd" else 2e-3)
    wd = config.weight_decay if config.weight_decay >= 0 else (5e-4 if config.optimizer == "sgd" else 0.05)
    return lr, wd


def _validate(config: TrainConfig) -> None:
    if config.model not in list_models():
        raise ValueError(f"unknown model {config.model!r}; known models: {', '.join(list_models())}")
    get_label_set(config.label_set)  # the declared choices (optimizer, schedule, ...) TrainConfig checks itself
    if config.epochs < 1 or config.batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {config.epochs}, {config.batch_size}")
    if config.width <= 0:
        raise ValueError(f"width must be > 0, got {config.width}")
    if not 0 <= config.erasing <= 1 or config.mixup < 0 or not 0 <= config.label_smoothing < 1:
        raise ValueError("erasing must be in [0,1], mixup >= 0, label_smoothing in [0,1)")
    if config.time_budget < 0:
        raise ValueError(f"time_budget must be >= 0 seconds, got {config.time_budget}")
    if config.time_budget > 0 and config.schedule != "cosine":
        raise ValueError("--time-budget sets the length of the cosine schedule: use --schedule cosine")
    if config.teacher and not (0 <= config.kd_weight <= 1 and config.kd_temperature > 0):
        raise ValueError(f"kd_weight must be in [0,1] and kd_temperature > 0, got {config.kd_weight}, "
                         f"{config.kd_temperature}")
    if config.folds and (config.folds < 2 or not 0 <= config.fold < config.folds):
        raise ValueError(f"--folds K needs K >= 2 and 0 <= --fold < K, got folds {config.folds}, fold {config.fold}")


def model_kwargs_of(config: TrainConfig) -> dict:
    """The create_model kwargs a config asks for."""
    kw: dict = {"width": float(config.width)}
    if config.dropout >= 0:
        kw["dropout"] = float(config.dropout)
    return kw


# --------------------------------------------------------------------------------------------
# label corrections
# --------------------------------------------------------------------------------------------
def apply_label_corrections(rows: np.ndarray, labels: np.ndarray, csv_path: str, *,
                            exclude_flagged: bool = False, known_rows: np.ndarray | None = None
                            ) -> tuple[np.ndarray, np.ndarray, dict]:
    """Apply a reviewed flags CSV (label-errors page export) to FER2013 labels.

    Args:
        rows: (N,) source row indices (Dataset.row) of the images to correct.
        labels: (N,) FER2013 labels 0..6.
        csv_path: flags CSV (:func:`fer_core.data.flags.read_corrections`): columns `row`,
            `corrected_label` (FER2013 name or index; empty = no change) and `decision`
            (mislabeled, not_error, not_face, duplicate).
        exclude_flagged: keep=False for images flagged not_face or duplicate, or mislabeled
            without a corrected label.
        known_rows: every row of the dataset (default `rows`): listed rows outside `rows` but
            in `known_rows` are skipped, rows in neither raise FlagError (a ValueError).

    Returns:
        (new labels (N,), keep (N,) bool, counts {"listed", "applied", "corrected", "excluded", "outside"}).
    """
    from fer_core.training.corrections import apply_corrections
    from fer_core.data.flags import read_corrections
    return apply_corrections(rows, labels, read_corrections(csv_path), exclude_flagged=exclude_flagged,
                             known_rows=known_rows)


# --------------------------------------------------------------------------------------------
# loss
# --------------------------------------------------------------------------------------------
def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor, *, class_weights: torch.Tensor | None = None,
                       smoothing: float = 0.0) -> torch.Tensor:
    """Mean over the batch of -sum_c w_c y'_c log softmax(logits)_c, y' = y (1 - eps) + eps / K.

    Args:
        logits: (B, K) any float dtype (computed in float32).
        target: (B, K) float32 probabilities, rows sum to 1 (one-hot, votes, mixup pairs).
        class_weights: (K,) w_c, or None for 1.
        smoothing: label smoothing eps in [0, 1).
    """
    return F.cross_entropy(logits.float(), target, weight=class_weights, label_smoothing=smoothing)


# --------------------------------------------------------------------------------------------
# data preparation
# --------------------------------------------------------------------------------------------
def _prepare(config: TrainConfig, dataset) -> dict:
    ls = get_label_set(config.label_set)
    if config.label_set == "ferplus" and dataset.ferplus is None:
        raise ValueError("label set 'ferplus' needs the FER+ votes: pass --ferplus fer2013new.csv")
    fer_labels = dataset.labels.copy()
    keep = np.ones(len(dataset), bool)
    corr_counts = None
    is_train = dataset.split == "Training"
    if config.label_corrections:
        tr = np.flatnonzero(is_train)
        new, k, corr_counts = apply_label_corrections(dataset.row[tr], fer_labels[tr], config.label_corrections,
                                                      exclude_flagged=config.exclude_flagged, known_rows=dataset.row)
        from fer_core.store import hash_file
        corr_counts["file_hash"] = hash_file(config.label_corrections)
        if config.label_set == "ferplus" and corr_counts["corrected"]:
            print("note: label corrections are FER2013 labels; ignored for label set 'ferplus' "
                  "(exclusions still apply)", file=sys.stderr)
        else:
            fer_labels[tr] = new
        keep[tr] = k
    if config.label_set == "fer2013":
        labels = fer_labels
    elif config.label_set == "fer6":
        from fer_core.constants import FER2013_TO_FER6
        labels = np.where(fer_labels >= 0, FER2013_TO_FER6[np.maximum(fer_labels, 0)], -1)
    else:
        labels = dataset.ferplus.majority
    if config.folds:  # every labelled row outside the held-out fold, whatever its split
        from fer_core.training.folds import fold_assignment
        fold_of = fold_assignment(labels, dataset.images, folds=config.folds)
        train_idx = np.flatnonzero((keep | ~is_train) & (fold_of >= 0) & (fold_of != config.fold))
    else:
        train_idx = np.flatnonzero(is_train & keep & (labels >= 0))
    if config.max_train_images and len(train_idx) > config.max_train_images:
        rng = np.random.default_rng(config.seed)
        train_idx = np.sort(rng.choice(train_idx, config.max_train_images, replace=False))
    if len(train_idx) == 0:
        raise ValueError("no Training rows with a label: the dataset needs a 'Training' split")
    if config.folds:  # no selection split: the last epoch is kept; the held-out fold is scored
        val_idx = np.zeros(0, np.int64)
        test_idx = np.flatnonzero(fold_of == config.fold)
        scored = (("held-out fold", test_idx),)
    else:
        val_idx = dataset.rows("PublicTest", config.label_set)
        test_idx = dataset.rows("PrivateTest", config.label_set)
        scored = (("PublicTest", val_idx), ("PrivateTest", test_idx))
    y = labels[train_idx]
    if config.label_set == "ferplus" and config.ferplus_target == "distribution":
        soft = dataset.ferplus.probs[train_idx].astype(np.float32)
    else:
        soft = np.eye(ls.num_classes, dtype=np.float32)[y]
    imgs = dataset.images[train_idx]
    norm = {"mean": float(imgs.mean() / 255.0), "std": float(imgs.std() / 255.0)}
    return {"ls": ls, "labels": labels, "train_idx": train_idx, "val_idx": val_idx, "test_idx": test_idx,
            "scored": scored, "y": y, "soft": soft, "normalization": norm, "corrections": corr_counts}


def _epoch_order(y: np.ndarray, k: int, mode: str, rng: np.random.Generator) -> np.ndarray:
    """Indices into the training set for one epoch under the imbalance mode."""
    n = len(y)
    if mode == "oversample":  # draw n with probability ~ 1/class count: classes balanced on average
        counts = np.bincount(y, minlength=k).astype(np.float64)
        w = 1.0 / counts[y]
        return rng.choice(n, n, replace=True, p=w / w.sum())
    if mode == "undersample":  # each class cut to the smallest class's count, fresh draw each epoch
        present = [c for c in range(k) if (y == c).any()]
        m = min(int((y == c).sum()) for c in present)
        idx = np.concatenate([rng.choice(np.flatnonzero(y == c), m, replace=False) for c in present])
        return rng.permutation(idx)
    return rng.permutation(n)


def _class_weights(y: np.ndarray, k: int) -> np.ndarray:
    """(K,) float32 inverse-frequency weights N / (K_present * n_c) (scikit-learn's
    'balanced'), 0 for classes absent from `y` (N,) int."""
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(y)
    w = np.zeros(k, np.float32)
    w[present] = compute_class_weight("balanced", classes=present, y=y)
    return w


class CosineHorizon:
    """Linear warm-up over `warm` steps, then cosine from 1 to 0 at step `total`: the LambdaLR
    factor. An object rather than a closure so that (1) a time budget can move `total` while the
    run goes (:func:`plan_epochs`) and (2) LambdaLR's state_dict saves `warm` and `total` with the
    run, so a resumed run keeps the planned length."""

    def __init__(self, warm: int, total: int):
        self.warm, self.total = warm, total

    def __call__(self, step: int) -> float:
        warm = min(self.warm, max(self.total - 1, 0))
        if step < warm:
            return (step + 1) / warm
        prog = (step - warm) / max(1, self.total - warm)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, prog)))


def _lr_lambda(config: TrainConfig, total_steps: int, steps_per_epoch: int) -> CosineHorizon:
    return CosineHorizon(int(round(config.warmup_epochs * steps_per_epoch)), total_steps)


def plan_epochs(*, budget: float, elapsed: float, epoch_seconds: list[float], planned: int, max_epochs: int) -> int:
    """How many epochs a time-budgeted run should have in all, after the epochs timed so far.

    The pace is the slower of the last epoch and the mean of the last three (the first epoch,
    with its warm-up costs, counts only while it is the only one): the run gets as many epochs
    as fit in the time left at that pace. For the first two epochs (the first one's warm-up costs
    misjudge the pace) and while less than half of the plan has run (other jobs sharing the GPU
    finish or start), the plan may grow or shrink; after that it only shrinks, since a longer
    cosine would raise the learning rate again. Never fewer epochs than have run (then the run
    stops), never more than `max_epochs`.

    Args:
        budget: seconds for all epochs; elapsed: seconds spent on the epochs so far.
        epoch_seconds: duration of each finished epoch (at least one).
        planned: the current plan (epochs in all); max_epochs: the config's --epochs.
    """
    done = len(epoch_seconds)
    recent = epoch_seconds[1:][-3:] or epoch_seconds[-1:]
    pace = max(epoch_seconds[-1], sum(recent) / len(recent))
    fit = done + int(max(0.0, budget - elapsed) // max(pace, 1e-9))
    new = max(done, min(fit, max_epochs))
    return new if done <= 2 or done < planned / 2 else min(planned, new)


def _evaluate_split(model, images, labels, norm, batch_size, device) -> dict:
    from fer_core.models.inference import predict_probs
    probs = predict_probs(model, images, batch_size=max(256, batch_size), device=device, normalization=norm)
    n = len(labels)
    # compute_metrics' nll and top-3 (kept by hand there: see its comment); ties in the top 3 go
    # to the lower class index (stable sort), as in every history recorded so far
    p_true = np.clip(probs[np.arange(n), labels], 1e-12, None)
    top3 = np.argsort(-probs, 1)[:, :3]
    return {"loss": float(-np.log(p_true).mean()), "acc": float((probs.argmax(1) == labels).mean()),
            "top3": float((top3 == labels[:, None]).any(1).mean()), "probs": probs}


# --------------------------------------------------------------------------------------------
# several processes (torchrun)
# --------------------------------------------------------------------------------------------
def dist_env() -> tuple[int, int, int]:
    """(world size, rank, local rank) from torchrun's WORLD_SIZE, RANK and LOCAL_RANK; (1, 0, 0)
    in a plain process."""
    world = int(os.environ.get("WORLD_SIZE") or 1)
    rank = int(os.environ.get("RANK") or 0)
    return world, rank, int(os.environ.get("LOCAL_RANK") or rank)


def shard(order: np.ndarray, rank: int, world: int) -> np.ndarray:
    """Process `rank`'s share of an epoch order: every world-th index from position rank, all
    shares cut to the same length (DistributedSampler's interleaving, dropping the remainder
    instead of padding)."""
    n = len(order) // world
    return order[rank::world][:n]


def _params_in_sync(model: nn.Module) -> bool:
    """True when every process holds the same weights (a DDP desync check: one all_gather)."""
    with torch.no_grad():
        ps = [p.detach().double() for p in model.parameters()]
        mine = torch.stack([sum(p.sum() for p in ps), sum((p * p).sum() for p in ps)])
    alls = [torch.zeros_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(alls, mine)
    return all(torch.equal(a, alls[0]) for a in alls)


# --------------------------------------------------------------------------------------------
# training: the steps
# --------------------------------------------------------------------------------------------
#: TrainConfig fields that may differ between a stopped run and its resumption: where the files
#: are (the data and the teacher are compared by their hashes instead), how many CPU threads run
#: it, and the time budget (a resumed run gets a new one for the epochs left)
RESUME_MAY_DIFFER = ("data", "ferplus", "label_corrections", "out", "threads", "teacher", "time_budget")


@dataclass
class _Run:
    """Where a run executes: its device and its place among torchrun's processes."""

    device: torch.device
    world: int  # processes (1 without torchrun)
    rank: int
    progress: bool  # show bars (rank 0 only)
    callback: Callable[[dict], None] | None  # rank 0 only

    @property
    def distributed(self) -> bool:
        return self.world > 1


@dataclass
class _Data:
    """The training set on the device, the batch geometry and the PublicTest rows."""

    images: torch.Tensor  # (N, 48, 48) uint8
    soft: torch.Tensor  # (N, K) float32 targets, rows sum to 1
    y: np.ndarray  # (N,) int hard labels (accuracy, imbalance)
    y_t: torch.Tensor  # y on the device
    class_weights: torch.Tensor | None  # (K,) float32 with --imbalance class_weights
    batch_size: int  # per process
    steps_per_epoch: int
    val_images: np.ndarray  # (V, 48, 48) uint8 PublicTest images
    val_labels: np.ndarray  # (V,) int
    teacher: _Teacher | None = None


@dataclass
class _Teacher:
    """A frozen teacher for knowledge distillation, on the training device."""

    model: nn.Module
    normalization: dict  # the teacher's own input normalisation
    hash: str  # content hash of its checkpoint (provenance, resume check)
    name: str

    def soft_targets(self, x: torch.Tensor, student_norm: dict, temperature: float, amp: bool) -> torch.Tensor:
        """(B, K) float32: the mean of the teacher's temperature-softened probabilities of the batch
        `x` (normalised for the student) and of its mirror image (flip TTA)."""
        tn = self.normalization
        xt = (x * student_norm["std"] + student_norm["mean"] - tn["mean"]) / tn["std"]
        with torch.no_grad(), torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
            logits = torch.cat([self.model(xt), self.model(xt.flip(-1))]).float()
        p = torch.softmax(logits / temperature, 1)
        return (p[:len(x)] + p[len(x):]) / 2


@dataclass
class _State:
    """What one epoch changes; all of it goes into the ``.last.ckpt``."""

    model: nn.Module
    net: nn.Module  # the model, or its DistributedDataParallel wrapper
    mem_fmt: torch.memory_format
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    np_rng: np.random.Generator  # epoch orders and mixup weights (the same on every process)
    g: torch.Generator  # augmentation, erasing, mixup pairs (one per process)
    history: list[dict] = field(default_factory=list)
    best_score: float = -1.0  # PublicTest accuracy of the best epoch (the epoch number without PublicTest)
    best_state: dict | None = None  # its weights
    best_epoch: int = 0
    epoch: int = 0  # epochs finished
    planned_epochs: int = 0  # the schedule's length in epochs (config.epochs, or the time budget's plan)


def _load_data(config: TrainConfig, dataset):
    """`dataset`, or the one `config.data` (+ `config.ferplus`) names."""
    if dataset is not None:
        return dataset
    from fer_core.data.dataset import load_dataset
    if config.label_set == "ferplus" and config.data and not config.ferplus:
        raise ValueError("label set 'ferplus' needs the FER+ votes: pass --ferplus fer2013new.csv")
    return load_dataset(config.data or None, config.ferplus or None)


@contextmanager
def _session(config: TrainConfig, device: str | None, progress: bool, callback):
    """Pick the device, join torchrun's process group (NCCL on CUDA with one GPU per
    LOCAL_RANK, Gloo on CPU) and set torch's threads; undo both on exit."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    world, rank, local_rank = dist_env()
    created_group = False
    if world > 1:
        if dev.type == "cuda":
            dev = torch.device("cuda", local_rank)
            torch.cuda.set_device(dev)
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
            created_group = True
        progress, callback = progress and rank == 0, callback if rank == 0 else None
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    old_threads = torch.get_num_threads()
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    try:
        yield _Run(dev, world, rank, progress, callback)
        if created_group:  # no rank tears the group down while a peer still uses it
            dist.barrier()
    finally:
        torch.set_num_threads(old_threads)
        if created_group:
            dist.destroy_process_group()


def _build_model(config: TrainConfig, prep: dict, run: _Run) -> tuple[nn.Module, nn.Module, torch.memory_format]:
    """A fresh `config.model` on the device carrying normalization, label_set and classes.

    Returns:
        (model, the network to call: the model or its DDP wrapper, its memory format).
    """
    ls = prep["ls"]
    model = create_model(config.model, num_classes=ls.num_classes, **model_kwargs_of(config)).to(run.device)
    use_cl = config.channels_last and (run.device.type == "cuda" or channels_last_safe(model))
    mem_fmt = torch.channels_last if use_cl else torch.contiguous_format
    model = model.to(memory_format=mem_fmt)
    model.normalization, model.label_set, model.classes = prep["normalization"], ls.name, ls.classes
    if not run.distributed:
        return model, model, mem_fmt
    from torch.nn.parallel import DistributedDataParallel
    dev = run.device
    return model, DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None), mem_fmt


def _build_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    """SGD (Nesterov momentum 0.9) or AdamW; weight decay on conv/linear weights only (not on
    biases and norm parameters)."""
    lr, wd = _resolved(config)
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)
    return torch.optim.AdamW(groups, lr=lr)


def _load_teacher(config: TrainConfig, prep: dict, run: _Run, mem_fmt: torch.memory_format) -> _Teacher | None:
    """The --teacher checkpoint, frozen, in eval mode on the device (None without one).

    Raises:
        ValueError: its label set is not the student's.
    """
    if not config.teacher:
        return None
    from fer_core.models.checkpoint import load_checkpoint
    model, info = load_checkpoint(config.teacher, map_location=run.device)
    if info["label_set"] != prep["ls"].name:
        raise ValueError(f"teacher {config.teacher} predicts label set {info['label_set']!r}, but this run learns "
                         f"{prep['ls'].name!r}: distil from a teacher of the same label set")
    for p in model.parameters():
        p.requires_grad_(False)
    model = model.to(memory_format=mem_fmt).eval()
    return _Teacher(model, dict(info["normalization"]), info["model_hash"], info["model_name"])


def _training_data(config: TrainConfig, prep: dict, dataset, run: _Run) -> _Data:
    """Move the training images and targets to the device and fix the batch geometry:
    `config.batch_size` is the global batch (each process takes batch_size / processes), and
    the ragged last batch of an epoch is dropped (BatchNorm)."""
    dev, world = run.device, run.world
    y = prep["y"]
    k = prep["ls"].num_classes
    cw = torch.from_numpy(_class_weights(y, k)).to(dev) if config.imbalance == "class_weights" else None
    n_all = len(_epoch_order(y, k, config.imbalance, np.random.default_rng(0)))
    n_epoch = n_all // world  # per process
    if n_epoch < 1:
        raise ValueError(f"{world} processes but only {n_all} training images per epoch")
    bs = min(max(1, config.batch_size // world), n_epoch)
    return _Data(images=torch.from_numpy(dataset.images[prep["train_idx"]]).to(dev),
                 soft=torch.from_numpy(prep["soft"]).to(dev), y=y, y_t=torch.from_numpy(y).to(dev),
                 class_weights=cw, batch_size=bs, steps_per_epoch=max(1, n_epoch // bs),
                 val_images=dataset.images[prep["val_idx"]], val_labels=prep["labels"][prep["val_idx"]])


def _build_schedule(config: TrainConfig, opt: torch.optim.Optimizer, data: _Data
                    ) -> torch.optim.lr_scheduler.LRScheduler:
    """Per-step learning rate: OneCycle, or linear warm-up then cosine to 0 (also the fallback
    for runs too short for OneCycle's phases)."""
    total = data.steps_per_epoch * config.epochs
    if config.schedule == "onecycle" and total >= 4:  # OneCycleLR needs >= 1 step per phase
        lr, _ = _resolved(config)
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total,
                                                   pct_start=min(0.5, max(0.25, 2.0 / total)))
    return torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(config, total, data.steps_per_epoch))


def _train_epoch(config: TrainConfig, st: _State, data: _Data, run: _Run, epoch: int, norm: dict) -> dict:
    """One pass over this epoch's order (this process's share of it): augment, forward, loss,
    step, schedule step per batch.

    Returns:
        {"epoch", "train_loss" (mean over the epoch's images), "train_acc" (0..1, of the
        augmented batches), "lr" (after the epoch's last step)}; totals over all processes.
    """
    from tqdm.auto import tqdm

    dev, bs = run.device, data.batch_size
    k = data.soft.shape[1]
    st.model.train()
    order = _epoch_order(data.y, k, config.imbalance, st.np_rng)  # the same on every process (same seed)
    order = torch.from_numpy(shard(order, run.rank, run.world) if run.distributed else order).to(dev)
    loss_sum = torch.zeros((), device=dev)
    correct = torch.zeros((), device=dev)
    seen = 0
    amp = config.amp and dev.type == "cuda"
    inner = tqdm(range(data.steps_per_epoch), desc=f"epoch {epoch}", leave=False, unit="step",
                 disable=not run.progress)
    for step in inner:
        bidx = order[step * bs:(step + 1) * bs]
        x = data.images[bidx].unsqueeze(1).float() / 255.0
        x = augment_batch(x, config, st.g)
        x = (x - norm["mean"]) / norm["std"]
        x = random_erasing(x, config.erasing, st.g)
        target = data.soft[bidx]
        if config.mixup > 0:
            lam = float(st.np_rng.beta(config.mixup, config.mixup))
            perm = torch.randperm(len(bidx), generator=st.g, device=dev)
            x = lam * x + (1 - lam) * x[perm]
            target = lam * target + (1 - lam) * target[perm]
        x = x.contiguous(memory_format=st.mem_fmt)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            logits = st.net(x)
        loss = soft_cross_entropy(logits, target, class_weights=data.class_weights, smoothing=config.label_smoothing)
        if data.teacher is not None:  # Hinton et al.: T^2 keeps the soft term's gradients at the hard term's scale
            t = config.kd_temperature
            soft = data.teacher.soft_targets(x, norm, t, amp)
            kd = F.kl_div(F.log_softmax(logits.float() / t, 1), soft, reduction="batchmean") * (t * t)
            loss = (1 - config.kd_weight) * loss + config.kd_weight * kd
        st.opt.zero_grad(set_to_none=True)
        loss.backward()
        st.opt.step()
        st.sched.step()
        loss_sum += loss.detach() * len(bidx)
        correct += (logits.detach().argmax(1) == data.y_t[bidx]).sum()
        seen += len(bidx)
        if run.progress and step % 20 == 0:
            inner.set_postfix(loss=f"{loss_sum.item() / seen:.3f}")
    if run.distributed:  # totals over all processes; BatchNorm statistics as rank 0 has them
        tot = torch.stack([loss_sum.float(), correct.float(), torch.tensor(float(seen), device=dev)])
        dist.all_reduce(tot)
        loss_sum, correct, seen = tot[0], tot[1], int(tot[2].item())
        for b in st.model.buffers():
            dist.broadcast(b, 0)
    return {"epoch": epoch, "train_loss": float(loss_sum) / seen, "train_acc": float(correct) / seen,
            "lr": float(st.opt.param_groups[0]["lr"])}


def _select(st: _State, rec: dict, data: _Data, run: _Run, norm: dict) -> None:
    """Score the epoch on PublicTest (adds val_loss, val_acc, val_top3 to `rec`) and keep its
    weights when its accuracy beats every earlier epoch's (without PublicTest rows: the last
    epoch). PrivateTest is never looked at here."""
    if len(data.val_labels):
        v = _evaluate_split(st.model, data.val_images, data.val_labels, norm, data.batch_size, run.device)
        rec.update(val_loss=v["loss"], val_acc=v["acc"], val_top3=v["top3"])
        score = v["acc"]
    else:
        score = float(rec["epoch"])
    if score > st.best_score:
        st.best_score, st.best_epoch = score, rec["epoch"]
        st.best_state = {kk: vv.detach().clone() for kk, vv in st.model.state_dict().items()}


def _rng_states(st: _State, run: _Run) -> list[dict]:
    """Every process's random states, indexed by rank (an all_gather under torchrun)."""
    mine = {"torch": torch.get_rng_state(), "augment": st.g.get_state(), "numpy": st.np_rng.bit_generator.state}
    if run.device.type == "cuda":
        mine["cuda"] = torch.cuda.get_rng_state(run.device)
    if not run.distributed:
        return [mine]
    states: list = [None] * run.world
    dist.all_gather_object(states, mine)
    return [{k: (v.cpu() if torch.is_tensor(v) else v) for k, v in s.items()} for s in states]


def _save_last(path: Path, config: TrainConfig, st: _State, run: _Run, prep: dict, data_hash: str,
               data: _Data) -> None:
    """Write the ``.last.ckpt``: weights, optimiser, schedule, the epoch, every process's random
    states, the best epoch so far and the history (rank 0 writes; every process joins the
    gather of random states)."""
    from fer_core.models.checkpoint import save_training_state

    rng = _rng_states(st, run)
    if run.rank != 0:
        return
    corrections = prep["corrections"] or {}
    train_state = {"epoch": st.epoch, "world_size": run.world, "optimizer": st.opt.state_dict(),
                   "schedule": st.sched.state_dict(), "rng": rng,
                   "best": {"score": st.best_score, "epoch": st.best_epoch,
                            "state": {k: v.detach().cpu() for k, v in st.best_state.items()}},
                   "corrections_hash": corrections.get("file_hash", ""), "planned_epochs": st.planned_epochs,
                   "teacher_hash": data.teacher.hash if data.teacher is not None else ""}
    save_training_state(path, st.model, model_name=config.model, model_kwargs=model_kwargs_of(config),
                        label_set=prep["ls"].name, normalization=prep["normalization"], train_state=train_state,
                        train_config=config.to_dict(), history=st.history, data_hash=data_hash)


def _check_resumable(ckpt: dict, path, config: TrainConfig, data_hash: str, prep: dict, run: _Run,
                     teacher: _Teacher | None) -> None:
    """Refuse to resume a run that would not be the stopped one continued: another config (any
    field but RESUME_MAY_DIFFER), other data or corrections, another number of processes."""
    saved = ckpt.get("train_config") or {}
    now = config.to_dict()
    differ = [f"{k} ({saved.get(k)!r} in the checkpoint, {now[k]!r} now)" for k in now
              if k not in RESUME_MAY_DIFFER and saved.get(k) != now[k]]
    ts = ckpt["train_state"]
    corrections = (prep["corrections"] or {}).get("file_hash", "")
    if ckpt.get("data_hash") != data_hash:
        differ.append(f"training data (hash {ckpt.get('data_hash')} in the checkpoint, {data_hash} now)")
    if ts.get("corrections_hash", "") != corrections:
        differ.append("label corrections file (another content)")
    if ts.get("teacher_hash", "") != (teacher.hash if teacher is not None else ""):
        differ.append("teacher (another checkpoint content)")
    if ts.get("world_size", 1) != run.world:
        differ.append(f"processes ({ts.get('world_size', 1)} in the checkpoint, {run.world} now)")
    if differ:
        raise ValueError(f"cannot resume {path}: this run differs from the stopped one in " + "; ".join(differ)
                         + ". Resume with the stopped run's settings, or start a new run without --resume")


def _restore(st: _State, ckpt: dict, run: _Run) -> None:
    """Put a stopped run's state (a :func:`load_training_state` dict) into `st`."""
    ts = ckpt["train_state"]
    dev = run.device
    st.model.load_state_dict(ckpt["state_dict"])
    st.opt.load_state_dict(ts["optimizer"])
    st.sched.load_state_dict(ts["schedule"])
    st.epoch, st.history = int(ts["epoch"]), [dict(h) for h in ckpt["history"]]
    st.planned_epochs = int(ts.get("planned_epochs") or st.planned_epochs)
    best = ts["best"]
    st.best_score, st.best_epoch = float(best["score"]), int(best["epoch"])
    st.best_state = {k: v.to(dev) for k, v in best["state"].items()}
    rng = ts["rng"][run.rank]
    torch.set_rng_state(rng["torch"])
    st.g.set_state(rng["augment"])
    st.np_rng.bit_generator.state = rng["numpy"]
    if dev.type == "cuda" and "cuda" in rng:
        torch.cuda.set_rng_state(rng["cuda"], dev)


def _final_metrics(config: TrainConfig, st: _State, prep: dict, dataset, data: _Data, run: _Run) -> dict:
    """Load the selected epoch's weights into the model (eval mode, contiguous) and score it:
    selection, PublicTest and PrivateTest compute_metrics (PrivateTest only here, for the
    record), label-correction counts, n_train, device, train_seconds, distributed."""
    from fer_core.training.evaluate import compute_metrics

    has_val = len(data.val_labels) > 0
    st.model.load_state_dict(st.best_state)
    st.model = st.model.to(memory_format=torch.contiguous_format).eval()
    metrics: dict = {"selection": {"split": "PublicTest" if has_val else "last epoch",
                                   "epoch": st.best_epoch, "val_acc": st.best_score if has_val else None}}
    for split, idx in prep["scored"]:
        if len(idx):
            r = _evaluate_split(st.model, dataset.images[idx], prep["labels"][idx], prep["normalization"],
                                data.batch_size, run.device)
            metrics[split] = compute_metrics(prep["labels"][idx], r["probs"], class_names=prep["ls"].classes)
    if prep["corrections"] is not None:
        metrics["label_corrections"] = prep["corrections"]
    metrics["n_train"] = int(len(prep["train_idx"]))
    metrics["device"] = str(run.device)
    metrics["train_seconds"] = float(sum(h["seconds"] for h in st.history))
    if run.distributed:
        metrics["distributed"] = {"world_size": run.world, "backend": dist.get_backend(),
                                  "images_per_process_per_epoch": int(data.steps_per_epoch * data.batch_size),
                                  "params_in_sync": _params_in_sync(st.model)}
    return metrics


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------
def train(config: TrainConfig, dataset=None, progress: bool = True, *, device: str | None = None,
          callback: Callable[[dict], None] | None = None,
          resume: str | os.PathLike | None = None) -> tuple[nn.Module, dict]:
    """Train `config.model` and return the PublicTest-selected model.

    Args:
        config: the run's TrainConfig.
        dataset: a loaded Dataset; default: load `config.data` (+ `config.ferplus`).
        progress: show tqdm bars.
        device: 'cuda' / 'cpu'; default CUDA when available.
        callback: called with each epoch's history dict (e.g. to drive a progress widget).
        resume: a ``<out stem>.last.ckpt`` written by a stopped run with the same config (but
            for RESUME_MAY_DIFFER) and data: its finished epochs are not run again; weights,
            optimiser, schedule, random states, best epoch and history continue, so the result
            is the uninterrupted run's (the same bits on the same machine and threads).

    With `config.out` set, ``<out stem>.last.ckpt`` (:func:`fer_core.models.checkpoint.last_path`)
    is rewritten atomically after every epoch with everything `resume` needs.

    Under torchrun (WORLD_SIZE > 1) every process calls this: it joins the process group (NCCL
    on CUDA, one GPU per LOCAL_RANK; Gloo on CPU), trains its share of each epoch, and only rank
    0 shows progress, calls `callback` and writes `config.out`; metrics gain ``distributed``.

    Returns:
        (model in eval mode carrying `normalization`, `label_set`, `classes`, `model_name`,
        info): info has model_name, model_kwargs, label_set, normalization, train_config,
        history (one dict per epoch: epoch, train_loss, train_acc, val_loss, val_acc, val_top3,
        lr, seconds), metrics (selection + PublicTest and PrivateTest compute_metrics of the
        selected model), data_hash and, when `config.out` is set, path.
    """
    from tqdm.auto import tqdm

    from fer_core.models.checkpoint import last_path, load_training_state

    _validate(config)
    ckpt = load_training_state(resume) if resume else None
    dataset = _load_data(config, dataset)
    prep = _prepare(config, dataset)
    norm = prep["normalization"]
    # provenance: the inputs this run read (the FER+ votes only for the FER+ label set)
    reads = ("images", "labels", "split") + (("ferplus",) if config.label_set == "ferplus" else ())
    data_hash = dataset.input_hash(reads)
    with _session(config, device, progress, callback) as run:
        torch.manual_seed(config.seed)
        np_rng = np.random.default_rng(config.seed)
        g = torch.Generator(device=run.device)
        g.manual_seed(config.seed + run.rank)  # each process its own augmentation; the epoch order stays shared
        model, net, mem_fmt = _build_model(config, prep, run)
        opt = _build_optimizer(config, model)
        data = _training_data(config, prep, dataset, run)
        data.teacher = _load_teacher(config, prep, run, mem_fmt)
        if ckpt is not None:
            _check_resumable(ckpt, resume, config, data_hash, prep, run, data.teacher)
        st = _State(model, net, mem_fmt, opt, _build_schedule(config, opt, data), np_rng, g,
                    planned_epochs=config.epochs)
        if ckpt is not None:
            _restore(st, ckpt, run)
        last = last_path(config.out) if config.out else None
        has_val = len(data.val_labels) > 0
        bar = tqdm(total=st.planned_epochs, initial=st.epoch, desc=f"train {config.model}", unit="epoch",
                   disable=not run.progress)
        budget = _Budget(config.time_budget, st.epoch) if config.time_budget > 0 else None
        while st.epoch < st.planned_epochs:
            epoch = st.epoch + 1
            t0 = time.perf_counter()
            rec = _train_epoch(config, st, data, run, epoch, norm)
            _select(st, rec, data, run, norm)
            rec["seconds"] = time.perf_counter() - t0
            st.epoch = epoch
            if budget is not None:  # the schedule's length from the pace so far
                _replan(st, budget, rec["seconds"], config, data, run)
                bar.total = st.planned_epochs
            rec["planned_epochs"] = st.planned_epochs
            st.history.append(rec)
            bar.update(1)
            bar.set_postfix(loss=f"{rec['train_loss']:.3f}", val=f"{rec.get('val_acc', float('nan')):.3f}",
                            best=f"{st.best_score:.3f}@{st.best_epoch}" if has_val else "-")
            if last is not None:
                _save_last(last, config, st, run, prep, data_hash, data)
            if run.callback is not None:
                run.callback(dict(rec))
        bar.close()
        metrics = _final_metrics(config, st, prep, dataset, data, run)
        if budget is not None:
            metrics["time_budget"] = budget.summary(st)
        if data.teacher is not None:
            metrics["teacher"] = {"checkpoint": config.teacher, "model_name": data.teacher.name,
                                  "model_hash": data.teacher.hash, "kd_weight": config.kd_weight,
                                  "kd_temperature": config.kd_temperature}
        oof = _held_out_probs(config, st, prep, dataset, run) if config.folds else None
        rank = run.rank

    model = st.model
    model.model_name = config.model
    info = {"model_name": config.model, "model_kwargs": model_kwargs_of(config), "label_set": prep["ls"].name,
            "normalization": norm, "train_config": config.to_dict(), "history": st.history,
            "metrics": metrics, "data_hash": data_hash}
    if config.out and rank == 0:
        from fer_core.models.checkpoint import save_checkpoint
        info["path"] = str(save_checkpoint(config.out, model, **info))
        if oof is not None:
            from fer_core.training.folds import save_oof
            info["oof_path"] = str(save_oof(oof_path(config.out), rows=prep["test_idx"], probs=oof, fold=config.fold,
                                            folds=config.folds, n=len(dataset), data_hash=data_hash,
                                            classes=prep["ls"].classes))
    return model, info


def oof_path(out: str | os.PathLike) -> Path:
    """Where a --folds run writing `out` puts its held-out probabilities: ``x.pt`` -> ``x.oof.npz``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.oof.npz")


def _held_out_probs(config: TrainConfig, st: _State, prep: dict, dataset, run: _Run) -> np.ndarray:
    """(M, K) flip-TTA probabilities of the held-out fold's rows (prep["test_idx"]) by the kept model."""
    from fer_core.models.inference import predict_probs
    return predict_probs(st.model, dataset.images[prep["test_idx"]], batch_size=512, tta=True, device=run.device,
                         normalization=prep["normalization"])


class _Budget:
    """A run's time budget: when its epochs started and how long each took."""

    def __init__(self, seconds: float, start_epoch: int):
        self.seconds, self.start_epoch = float(seconds), start_epoch
        self.epoch_seconds: list[float] = []
        self.plans: list[int] = []

    def summary(self, st: _State) -> dict:
        used = sum(self.epoch_seconds)
        return {"seconds": self.seconds, "used_seconds": used, "epochs_run": len(self.epoch_seconds),
                "planned_epochs": st.planned_epochs, "plans": list(self.plans),
                "stopped": "schedule complete" if st.epoch >= st.planned_epochs and used <= self.seconds
                else "out of time"}


def _replan(st: _State, budget: _Budget, seconds: float, config: TrainConfig, data: _Data, run: _Run) -> None:
    """After an epoch of a time-budgeted run: re-plan the schedule's length (:func:`plan_epochs`;
    under torchrun every process takes the smallest plan, so they stop together) and move the
    cosine's end there."""
    budget.epoch_seconds.append(seconds)
    new = plan_epochs(budget=budget.seconds, elapsed=sum(budget.epoch_seconds), epoch_seconds=budget.epoch_seconds,
                      planned=st.planned_epochs, max_epochs=config.epochs)
    if run.distributed:
        t = torch.tensor([new], device=run.device)
        dist.all_reduce(t, op=dist.ReduceOp.MIN)
        new = int(t.item())
    new = max(new, st.epoch)
    budget.plans.append(new)
    st.planned_epochs = new
    for f in st.sched.lr_lambdas:
        f.total = new * data.steps_per_epoch


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    from dataclasses import replace

    from fer_core import cli

    p = cli.command_parser("train", "Train a CNN on FER2013; the best PublicTest epoch is kept.", config=TrainConfig)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--resume", default="", metavar="LAST_CKPT",
                   help="continue a stopped run from the <out stem>.last.ckpt it wrote after each epoch; its "
                        "settings are the defaults (a flag that changes the run is refused)")
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--resume", default="")
    resume = pre.parse_known_args(argv)[0].resume

    def defaults_from_resume() -> None:  # the stopped run's config becomes the defaults
        from fer_core.models.checkpoint import load_training_state
        p.set_defaults(**TrainConfig.from_dict(load_training_state(resume)["train_config"]).to_dict())
    if resume and cli.run(defaults_from_resume):
        return 2
    a = p.parse_args(argv)
    cfg = TrainConfig.from_args(a)
    if not cfg.out:
        cfg = replace(cfg, out=f"runs/{cfg.model}-{cfg.label_set}-{time.strftime('%Y%m%d-%H%M%S')}.pt")
    return cli.run(lambda: _train_and_report(cfg, resume=resume, progress=not a.no_progress))


def _train_and_report(cfg: TrainConfig, *, resume: str, progress: bool) -> int:
    if cfg.data and not Path(cfg.data).exists():
        raise FileNotFoundError(f"data file not found: {cfg.data}")
    if cfg.ferplus and not Path(cfg.ferplus).exists():
        raise FileNotFoundError(f"FER+ file not found: {cfg.ferplus}")
    from tqdm.auto import tqdm

    def log(rec: dict) -> None:
        val = (f"  val loss {rec['val_loss']:.4f} acc {rec['val_acc']:.4f} top3 {rec['val_top3']:.4f}"
               if "val_acc" in rec else "")
        tqdm.write(f"epoch {rec['epoch']:3d}  train loss {rec['train_loss']:.4f} acc {rec['train_acc']:.4f}"
                   f"{val}  lr {rec['lr']:.4g}  {rec['seconds']:.0f}s", file=sys.stdout)
        sys.stdout.flush()

    if resume:
        print(f"resuming {resume}", file=sys.stderr)
    model, info = train(cfg, progress=progress, callback=log, resume=resume or None)
    if dist_env()[1] != 0:  # under torchrun only rank 0 reports
        return 0
    m = info["metrics"]
    sel = m["selection"]
    print(f"saved {info['path']}  (best epoch {sel['epoch']} by {sel['split']})")
    for split in ("PublicTest", "PrivateTest", "held-out fold"):
        if split in m:
            print(f"  {split}: accuracy {m[split]['accuracy']:.4f}  macro-F1 {m[split]['macro_f1']:.4f}")
    if "oof_path" in info:
        print(f"  held-out probabilities (flip TTA): {info['oof_path']}")
    if "time_budget" in m:
        b = m["time_budget"]
        print(f"  time budget {b['seconds']:.0f} s: {b['epochs_run']} epochs in {b['used_seconds']:.0f} s "
              f"({b['stopped']})")
    print(f"  {m['train_seconds'] / 60:.1f} min on {m['device']}"
          + (f" x {m['distributed']['world_size']} processes ({m['distributed']['backend']})"
             if "distributed" in m else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
