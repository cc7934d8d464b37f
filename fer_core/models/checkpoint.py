"""Checkpoints that rebuild their model with nothing else (nanoGPT's `ckpt.pt` idea).

A checkpoint is one ``torch.save`` dict (loadable with ``weights_only=True``): the model name
and kwargs, the label set and its class names, the input normalisation, the training config,
the per-epoch history, the metrics, the data hash, versions, and the weights in one of two
formats (``weights_format``):

* ``fp16``: every floating tensor in float16 (shipped files stay small; BN statistics and
  weights are far inside fp16 range).
* ``int8``: every floating tensor with ndim > 1 (conv and linear weights) quantised
  symmetrically per output channel: ``scale[c] = max|w[c]| / 127`` and ``q = round(w / scale)``
  in -127..127, stored as an int8 tensor in ``state_dict`` and its (C,) float32 scales in
  ``quant_scales`` under the same key; everything else in float16. About half the fp16 file for a
  conv-heavy model; each weight is off by at most ``scale[c] / 2``.

:func:`load_checkpoint` reads both (files without ``weights_format`` are fp16) and returns a
float32 model; ``python -m fer_core.quantize`` converts a file from one format to the other.

Shipped checkpoints live in ``fer_core/models/weights/<name>.pt`` and load by name::

    model, info = load_checkpoint("compact")
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fer_core import __version__, stages
from fer_core.constants import get_label_set
from fer_core.models.registry import create_model
from fer_core.store import hash_file

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
FORMAT = "fer-explorer-checkpoint/1"
_REQUIRED = ("format", "model_name", "model_kwargs", "num_classes", "label_set", "normalization", "state_dict")
#: Weight formats of a saved checkpoint (``weights_format``; a file without it is fp16).
WEIGHT_FORMATS = ("fp16", "int8")
#: What a file may record: a resumable training state keeps its weights in float32.
_STORED_FORMATS = (*WEIGHT_FORMATS, "fp32")
_QMAX = 127


def _plain(obj: Any) -> Any:
    """JSON round-trip: numpy scalars and tuples become plain Python (loadable with weights_only)."""
    def default(o):
        if hasattr(o, "item"):
            return o.item()
        if hasattr(o, "tolist"):
            return o.tolist()
        return str(o)
    return json.loads(json.dumps(obj, default=default))


#: More folders of checkpoints (``os.pathsep``-separated), listed beside the shipped ones: your own
#: trained models, without copying them into the package.
MODELS_ENV = "FER_MODELS_DIR"


def model_dirs() -> list[Path]:
    """Where checkpoints are found by name: fer_core/models/weights/, then each existing folder
    of ``$FER_MODELS_DIR``."""
    extra = [Path(p).expanduser() for p in os.environ.get(MODELS_ENV, "").split(os.pathsep) if p.strip()]
    return [WEIGHTS_DIR, *(p for p in extra if p.is_dir())]


def shipped_checkpoints() -> list[str]:
    """Names of the available checkpoints (file stems), sorted: those shipped in
    fer_core/models/weights/ and those in the folders of ``$FER_MODELS_DIR`` (a shipped name wins)."""
    return sorted({p.stem for d in model_dirs() for p in d.glob("*.pt")})


def resolve_checkpoint(path_or_name: str | os.PathLike) -> Path:
    """An existing file path, or a shipped name -> fer_core/models/weights/<name>.pt.

    Raises:
        FileNotFoundError: naming the path tried and the shipped names.
    """
    if isinstance(path_or_name, ModelRef):
        return path_or_name.path
    p = Path(path_or_name)
    if p.is_file():
        return p
    s = str(path_or_name)
    looks_like_name = s and os.sep not in s and "/" not in s and p.suffix != ".pt"
    cand = next((d / f"{s}.pt" for d in model_dirs() if (d / f"{s}.pt").is_file()), WEIGHTS_DIR / f"{s}.pt") \
        if looks_like_name else p
    if cand.is_file():
        return cand
    shipped = shipped_checkpoints()
    known = ", ".join(shipped) if shipped else "none yet"
    what = f"no shipped checkpoint named {s!r} ({cand})" if looks_like_name else f"checkpoint file not found: {p}"
    raise FileNotFoundError(f"{what}; shipped checkpoints: {known}")


#: Preference order for the default model among the shipped checkpoints.
DEFAULT_MODEL_PREFERENCE = ("resnet18", "compact")


def default_model() -> str | None:
    """The shipped checkpoint the pages and the model stages use by default (None when none is
    shipped). The one place the default model is chosen."""
    shipped = shipped_checkpoints()
    return next((m for m in DEFAULT_MODEL_PREFERENCE if m in shipped), shipped[0] if shipped else None)


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: what artifacts derived from a model are keyed by.

    Attributes:
        name: as the user gave it (a shipped name such as 'compact', or a checkpoint path).
        path: the checkpoint file.
        hash: hex blake2b-128 of the file's bytes (computed once per file version, see :func:`model_ref`).
    """

    name: str
    path: Path
    hash: str

    def __str__(self) -> str:
        return self.name


#: (resolved path, mtime_ns, size) -> content hash: a checkpoint is hashed once per file version.
_HASHES: dict[tuple[str, int, int], str] = {}


def model_ref(model: "ModelRef | str | os.PathLike | None" = None) -> ModelRef:
    """Resolve a model once: a :class:`ModelRef` as is; a shipped name or checkpoint path; None or
    '' = :func:`default_model`. The file's content hash is memoised on (path, mtime, size), so a
    Home rerun asking for eight keys reads the checkpoint once, and a rewritten file is hashed again.

    Raises:
        FileNotFoundError: no such file / shipped name (message lists the shipped names), or no
            model given and none shipped.
    """
    if isinstance(model, ModelRef):
        return model
    name = str(model) if model else default_model()
    if not name:
        raise FileNotFoundError("no shipped model in fer_core/models/weights/: train one with python -m fer_core.train")
    path = resolve_checkpoint(name)
    st = path.stat()
    memo = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    h = _HASHES.get(memo)
    if h is None:
        h = _HASHES[memo] = hash_file(path)
    return ModelRef(name=name, path=path, hash=h)


stages.set_model_resolver(model_ref)  # stages.key/get accept a shipped name or path and resolve it here


def model_hash(path_or_name: "ModelRef | str | os.PathLike") -> str:
    """Content hash of a checkpoint file (keys artifacts derived from the model); memoised per
    file version by :func:`model_ref`."""
    return model_ref(path_or_name).hash


def save_checkpoint(path: str | os.PathLike, model: nn.Module, *, model_name: str, model_kwargs: dict,
                    label_set: str, normalization: dict, train_config: dict | None = None,
                    history: list[dict] | None = None, metrics: dict | None = None,
                    data_hash: str = "", weights: str = "fp16") -> Path:
    """Write a self-describing checkpoint atomically; return its path.

    Args:
        model: the trained model (any device); its state_dict is copied to CPU.
        model_name, model_kwargs: what :func:`fer_core.models.registry.create_model` needs.
        label_set: 'fer2013', 'fer6' or 'ferplus'; the class names are stored with it.
        normalization: {"mean": float, "std": float} of the input in [0,1] pixel units.
        train_config: TrainConfig.to_dict(); history: one dict per epoch; metrics: final metrics.
        data_hash: hash of the training data file(s).
        weights: 'fp16' (every floating tensor in float16) or 'int8' (conv and linear weights
            quantised per output channel, the rest float16; see the module docstring).
    """
    ls = get_label_set(label_set)
    if set(normalization) < {"mean", "std"}:
        raise ValueError(f"normalization needs 'mean' and 'std', got {sorted(normalization)}")
    num_classes = int(getattr(model, "num_classes", ls.num_classes))
    if num_classes != ls.num_classes:
        raise ValueError(f"model has {num_classes} outputs but label set {label_set!r} has {ls.num_classes}")
    state, scales = encode_state(model.state_dict(), weights=weights)
    ckpt: dict[str, Any] = {
        "format": FORMAT, "model_name": model_name, "model_kwargs": dict(model_kwargs),
        "num_classes": num_classes, "label_set": label_set, "classes": list(ls.classes),
        "normalization": {"mean": float(normalization["mean"]), "std": float(normalization["std"])},
        "train_config": _plain(train_config or {}), "history": _plain(history or []),
        "metrics": _plain(metrics or {}),
        "data_hash": data_hash, "package_version": __version__, "torch_version": str(torch.__version__),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "weights_format": weights, "state_dict": state,
    }
    if scales:
        ckpt["quant_scales"] = scales
    return atomic_save(ckpt, path)


def quantize_per_channel(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-output-channel int8 quantisation of a weight (C, ...), C = dim 0.

    Returns:
        (q: int8 tensor of w's shape in -127..127, scale: (C,) float32 = max|w[c]| / 127; a
        channel of zeros gets scale 1, so it dequantises to zeros). ``q * scale`` differs from
        `w` by at most ``scale / 2`` in each channel.
    """
    w = w.detach().to("cpu", torch.float32)
    amax = w.abs().reshape(len(w), -1).amax(1)
    scale = torch.where(amax > 0, amax / _QMAX, torch.ones_like(amax))
    q = torch.round(w / scale.reshape(-1, *([1] * (w.ndim - 1)))).clamp_(-_QMAX, _QMAX).to(torch.int8)
    return q, scale


def dequantize_per_channel(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """float32 ``q * scale`` with `scale` (C,) broadcast over q's dims but 0."""
    return q.to(torch.float32) * scale.to(torch.float32).reshape(-1, *([1] * (q.ndim - 1)))


def encode_state(state_dict: dict[str, torch.Tensor], *, weights: str = "fp16"
                 ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """A state dict in a checkpoint's weight format, on the CPU: (state, quant_scales).

    'fp16': floating tensors in float16, scales empty. 'int8': floating tensors with ndim > 1 as
    int8 with their (C,) float32 scales in `quant_scales` (same key), other floating tensors in
    float16. Integer tensors (BN's num_batches_tracked) are kept as they are.
    """
    if weights not in WEIGHT_FORMATS:
        raise ValueError(f"weights must be one of {', '.join(WEIGHT_FORMATS)}; got {weights!r}")
    state, scales = {}, {}
    for k, v in state_dict.items():
        v = v.detach()
        if not v.is_floating_point():
            state[k] = v.cpu()
        elif weights == "int8" and v.ndim > 1 and v.numel() > 0:
            state[k], scales[k] = quantize_per_channel(v)
        else:
            state[k] = v.to("cpu", torch.float16)
    return state, scales


def decode_state(ckpt: dict, *, path: str | os.PathLike = "checkpoint") -> dict[str, torch.Tensor]:
    """The stored state dict of a checkpoint with int8 weights dequantised (float32); fp16 and
    float32 tensors as stored (the model's load_state_dict casts them).

    Raises:
        ValueError: naming `path`: an unknown ``weights_format``, or int8 weights whose scales are
            missing or do not match them.
    """
    fmt = ckpt.get("weights_format", "fp16")
    state = dict(ckpt["state_dict"])
    if fmt not in _STORED_FORMATS:
        raise ValueError(f"{path}: unknown weights_format {fmt!r} (known: {', '.join(_STORED_FORMATS)}); "
                         f"written by a newer FER Explorer?")
    if fmt != "int8":
        return state
    scales = ckpt.get("quant_scales")
    scales = scales if isinstance(scales, dict) else {}  # no scales: the first int8 weight says so
    for k, v in state.items():
        if isinstance(v, torch.Tensor) and v.dtype == torch.int8:
            s = scales.get(k)
            if not isinstance(s, torch.Tensor) or s.shape != (len(v),):
                found = "missing" if s is None else f"shape {tuple(getattr(s, 'shape', ()))}"
                raise ValueError(f"{path}: int8 weight {k!r} {tuple(v.shape)} needs ({len(v)},) scales in "
                                 f"quant_scales, found {found}")
            state[k] = dequantize_per_channel(v, s)
    extra = sorted(set(scales) - set(state))
    if extra:
        raise ValueError(f"{path}: quant_scales for weights the file does not hold: {extra[:5]}")
    return state


def atomic_save(obj: dict, path: str | os.PathLike) -> Path:
    """torch.save `obj` to a temporary file beside `path`, then rename it over `path` (a reader
    or a stopped run never sees half a file); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The stored dict of a checkpoint file as it is (weights not decoded), its fields checked.

    Raises:
        ValueError: naming the file: not readable by ``torch.load(weights_only=True)`` (corrupt,
            truncated, a foreign pickle), or not a FER Explorer checkpoint (required fields missing).
    """
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle/zip errors of a corrupt or foreign file
        raise ValueError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from None
    missing = [k for k in _REQUIRED if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise ValueError(f"{path}: not a FER Explorer checkpoint (missing {missing})")
    return ckpt


def load_checkpoint(path_or_name: str | os.PathLike, map_location: str | torch.device = "cpu"
                    ) -> tuple[nn.Module, dict]:
    """Rebuild a model from a checkpoint file or a shipped name ('compact').

    Returns:
        (model in eval mode with float32 weights on `map_location`, info). The model carries
        ``normalization``, ``label_set``, ``classes`` and ``model_name`` attributes. `info` holds
        every stored field except the weights and their scales, plus ``path``, ``model_hash`` and
        ``weights_format`` ('fp16' for files written before it was recorded).

    Raises:
        FileNotFoundError: no such file / shipped name (message lists the shipped names).
        ValueError: the file is not a FER Explorer checkpoint, or its int8 weights and scales do
            not match (see :func:`decode_state`).
    """
    path = model_ref(path_or_name).path if isinstance(path_or_name, ModelRef) else resolve_checkpoint(path_or_name)
    ckpt = read_checkpoint(path)
    model = create_model(ckpt["model_name"], num_classes=int(ckpt["num_classes"]), **ckpt["model_kwargs"])
    ref = model.state_dict()
    state = {k: v.to(ref[k].dtype) if k in ref else v for k, v in decode_state(ckpt, path=path).items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as e:  # missing / unexpected keys, wrong shapes: a damaged or mislabelled file
        raise ValueError(f"{path}: its weights do not fit model {ckpt['model_name']!r} "
                         f"{ckpt['model_kwargs']}: {'; '.join(x.strip() for x in str(e).splitlines()[1:])[:300]}"
                         ) from None
    model.to(map_location).eval()
    info = {k: v for k, v in ckpt.items() if k not in ("state_dict", "quant_scales")}
    info.setdefault("weights_format", "fp16")
    info["path"] = str(path)
    info["model_hash"] = model_ref(path).hash
    model.normalization = dict(info["normalization"])
    model.label_set = info["label_set"]
    model.classes = tuple(info.get("classes") or get_label_set(info["label_set"]).classes)
    return model, info


# --------------------------------------------------------------------------------------------
# training state (resumable runs)
# --------------------------------------------------------------------------------------------
def last_path(out: str | os.PathLike) -> Path:
    """Where a run writing the selected checkpoint `out` keeps its resumable state:
    ``runs/x.pt`` -> ``runs/x.last.ckpt`` (Lightning's name for the same thing). Not ``.pt``: a
    run writing into fer_core/models/weights/ (as the README's does) would otherwise add a
    "shipped" model ``x.last`` to :func:`shipped_checkpoints`."""
    out = Path(out)
    return out.with_name(f"{out.stem}.last.ckpt")


def save_training_state(path: str | os.PathLike, model: nn.Module, *, model_name: str, model_kwargs: dict,
                        label_set: str, normalization: dict, train_state: dict, train_config: dict,
                        history: list[dict], data_hash: str) -> Path:
    """Write a run's resumable state atomically (nanoGPT's ``ckpt.pt``); return its path.

    The file is also an ordinary checkpoint (:func:`load_checkpoint` rebuilds the last epoch's
    model from it), with the weights kept in float32 so that a resumed run continues exactly.

    Args:
        model: the model being trained; its state_dict is copied to CPU as it is (float32).
        train_state: what the training loop needs to continue: ``epoch`` (the last finished
            one, 1-based), ``optimizer`` and ``schedule`` state dicts, ``rng`` states, ``best``
            ({"score", "epoch", "state"}), ``world_size``, ``corrections_hash``. Tensors and
            plain Python values only (loadable with ``weights_only=True``).
        train_config, history, data_hash, model_name, model_kwargs, label_set, normalization:
            as for :func:`save_checkpoint`.
    """
    ls = get_label_set(label_set)
    state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    ckpt = {"format": FORMAT, "model_name": model_name, "model_kwargs": dict(model_kwargs),
            "num_classes": ls.num_classes, "label_set": label_set, "classes": list(ls.classes),
            "normalization": {"mean": float(normalization["mean"]), "std": float(normalization["std"])},
            "train_config": _plain(train_config), "history": _plain(history), "metrics": {},
            "data_hash": data_hash, "package_version": __version__, "torch_version": str(torch.__version__),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "weights_format": "fp32", "state_dict": state,
            "train_state": train_state}
    return atomic_save(ckpt, path)


def load_training_state(path: str | os.PathLike) -> dict:
    """Read a file written by :func:`save_training_state` (CPU tensors).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not readable, or a checkpoint without training state (e.g. the selected
            ``x.pt`` rather than ``x.last.ckpt``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint to resume not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle/zip errors of a corrupt or foreign file
        raise ValueError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(ckpt, dict) or "train_state" not in ckpt or "state_dict" not in ckpt:
        raise ValueError(f"{path}: no training state to resume from (no optimiser state or epoch); resume "
                         f"from the <name>.last.ckpt that a run writes beside its checkpoint")
    return ckpt
