"""Convert a checkpoint's weight format: float16 <-> int8 (per-output-channel, symmetric).

    convert("compact", "compact-int8.pt")                 # shipped name or path -> new file
    convert("compact-int8.pt", "back.pt", weights="fp16")

The weight formats are described in :mod:`fer_core.models.checkpoint`; this module only rewrites
a file from one to the other and keeps everything else it records. The command that also scores
both files is ``python -m fer_core.quantize`` (:mod:`fer_core.training.quantize`).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from fer_core import __version__
from fer_core.models.checkpoint import (
    WEIGHT_FORMATS,
    atomic_save,
    encode_state,
    load_checkpoint,
    read_checkpoint,
    resolve_checkpoint,
)

#: Fields of the source that the converted file does not copy: the weights (re-encoded), and a
#: resumable run's optimiser state, which belongs to the float32 weights it was saved with.
_NOT_COPIED = ("state_dict", "quant_scales", "weights_format", "train_state")


def convert(src: str | os.PathLike, dst: str | os.PathLike, *, weights: str = "int8") -> Path:
    """Write checkpoint `src` (a shipped name such as 'compact', or a path) to `dst` with its
    weights in format `weights` ('int8' or 'fp16'); return `dst`.

    Every other stored field is copied as it is (model name and kwargs, label set, normalization,
    train_config, history, metrics, data_hash, created, versions), and ``converted_from`` records
    the source's content hash and weight format. `dst` is a new file, so its model hash differs
    and every artifact derived from the model is computed for it afresh.

    Raises:
        FileNotFoundError: no such source. ValueError: an unknown `weights`, `dst` is the source
            file, or the source is not a readable FER Explorer checkpoint (the message names it).
    """
    from fer_core.store import hash_file

    if weights not in WEIGHT_FORMATS:
        raise ValueError(f"weights must be one of {', '.join(WEIGHT_FORMATS)}; got {weights!r}")
    path = resolve_checkpoint(src)
    dst = Path(dst)
    if dst.exists() and dst.resolve() == path.resolve():
        raise ValueError(f"{dst}: is the source checkpoint; write the converted file to another path")
    model, _ = load_checkpoint(path)  # checks that the weights rebuild the model: float32 from any format
    ckpt = read_checkpoint(path)
    state, scales = encode_state(model.state_dict(), weights=weights)
    out = {k: v for k, v in ckpt.items() if k not in _NOT_COPIED}
    out["weights_format"] = weights
    out["converted_from"] = {"model_hash": hash_file(path), "weights_format": ckpt.get("weights_format", "fp16"),
                             "converted": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "package_version": __version__}
    out["state_dict"] = state
    if scales:
        out["quant_scales"] = scales
    return atomic_save(out, dst)
