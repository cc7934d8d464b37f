"""Export a trained checkpoint to ONNX, and run an exported file with ONNX Runtime.

    python -m fer_core.export --model compact --format onnx --out compact.onnx

The file takes ``image``: (N, 1, 48, 48) float32 (any N) and returns ``logits``: (N, K)
float32. Everything another program needs is in the file's metadata (string key/values,
``InferenceSession.get_modelmeta().custom_metadata_map``):

* ``classes``: JSON list of the K class names, in logit order,
* ``normalization``: JSON ``{"mean", "std"}``; the input is ``(pixels / 255 - mean) / std`` of
  a grey 48x48 face crop (``preprocessing`` says so in words),
* ``label_set``, ``model_name``, ``model_kwargs``, ``metrics`` (PrivateTest accuracy stored
  in the checkpoint), ``source_model_hash``, ``fer_explorer_version``, ``torch_version``.

The export uses torch's ``torch.export``-based exporter (``dynamo=True``, the default since
torch 2.9; the TorchScript one is deprecated) with a dynamic batch axis. After writing, the
file is run through ONNX Runtime on 100 real faces (the bundled sample) and its logits must
match PyTorch's within ``--atol`` (1e-4), or the export fails.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

from fer_core.constants import IMAGE_SIZE

FORMAT = "fer-explorer-onnx/1"
INPUT_NAME, OUTPUT_NAME = "image", "logits"
MIN_OPSET = 18
PREPROCESSING = ("grey 48x48 face crop as uint8; x = (pixels / 255 - mean) / std with mean and std from "
                 "'normalization'; input 'image' is (N, 1, 48, 48) float32; output 'logits' is (N, K), "
                 "softmax gives the probabilities of 'classes'")


class ExportError(ValueError):
    """The model cannot be exported, or the exported file does not reproduce it."""


def _short(e: BaseException) -> str:
    """First meaningful line of an exporter error, without terminal colour codes."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()
    first = text.splitlines()[0] if text else type(e).__name__
    cause = e.__cause__
    while cause is not None and cause.__cause__ is not None:
        cause = cause.__cause__
    if cause is not None:
        c = re.sub(r"\x1b\[[0-9;]*m", "", str(cause)).strip().splitlines()
        first += f" Cause: {type(cause).__name__}: {c[0] if c else ''}"
    return first


def _metadata(model, info: dict) -> dict[str, str]:
    from fer_core import __version__
    import torch

    classes = list(getattr(model, "classes", None) or info.get("classes") or [])
    norm = dict(getattr(model, "normalization", None) or info.get("normalization") or {})
    if not classes or set(norm) < {"mean", "std"}:
        raise ExportError("the model carries no class names or normalization: load it with "
                          "fer_core.models.checkpoint.load_checkpoint (or set model.classes and model.normalization)")
    pt = ((info.get("metrics") or {}).get("PrivateTest") or {})
    return {
        "format": FORMAT,
        "classes": json.dumps(classes),
        "label_set": str(getattr(model, "label_set", None) or info.get("label_set") or ""),
        "normalization": json.dumps({"mean": float(norm["mean"]), "std": float(norm["std"])}),
        "preprocessing": PREPROCESSING,
        "input_size": str(IMAGE_SIZE),
        "model_name": str(info.get("model_name") or getattr(model, "model_name", type(model).__name__)),
        "model_kwargs": json.dumps(info.get("model_kwargs") or {}),
        "metrics": json.dumps({"PrivateTest_accuracy": pt.get("accuracy")} if pt else {}),
        "source_model_hash": str(info.get("model_hash") or ""),
        "fer_explorer_version": __version__,
        "torch_version": str(torch.__version__),
    }


def export_onnx_bytes(model, *, info: dict | None = None, opset: int = MIN_OPSET) -> bytes:
    """Serialised ONNX model (with metadata) of a loaded FER model; see the module docstring.

    Args:
        model: an nn.Module mapping (B, 1, 48, 48) -> (B, K) logits that carries ``classes`` and
            ``normalization`` (as :func:`fer_core.models.checkpoint.load_checkpoint` returns it).
        info: the checkpoint's info dict (model name, kwargs, metrics, hash), when known.
        opset: ONNX opset version, >= 18.

    Raises:
        ExportError: the model cannot be exported (e.g. data-dependent control flow, an operator
            with no ONNX translation); the message names the cause.
    """
    import onnx
    import torch

    if opset < MIN_OPSET:
        raise ExportError(f"opset must be >= {MIN_OPSET} (the exporter's minimum), got {opset}")
    meta = _metadata(model, info or {})
    was_training = model.training
    model.eval()
    x = torch.zeros(2, 1, IMAGE_SIZE, IMAGE_SIZE)
    noise = io.StringIO()
    try:  # the exporter prints its progress and, on failure, whole graphs: keep them off the terminal
        with contextlib.redirect_stdout(noise), contextlib.redirect_stderr(noise), torch.inference_mode(False):
            prog = torch.onnx.export(model, (x,), None, dynamo=True, opset_version=opset, verbose=False,
                                     input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                     dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))
            proto = prog.model_proto
    except Exception as e:  # torch.onnx.OnnxExporterError and whatever torch.export raises
        raise ExportError(f"model {meta['model_name']!r} cannot be exported to ONNX: {_short(e)}") from e
    finally:
        model.train(was_training)
    onnx.helper.set_model_props(proto, meta)
    proto.doc_string = f"FER Explorer {meta['model_name']}: {PREPROCESSING}"
    proto.producer_name = "fer_core.export"
    return proto.SerializeToString()


def check_onnx(model, onnx_model: bytes | str | os.PathLike, images: np.ndarray) -> float:
    """Largest |logit difference| between PyTorch and ONNX Runtime on `images` ((N, 48, 48) uint8)."""
    from fer_core.models.inference import predict_logits

    ref = predict_logits(model, images, batch_size=256)
    got = OnnxModel(onnx_model).predict_logits(images)
    return float(np.abs(ref - got).max()) if len(images) else 0.0


def export_onnx(model_or_name, out: str | os.PathLike, *, opset: int = MIN_OPSET, check_images: int = 100,
                atol: float = 1e-4) -> dict:
    """Export a checkpoint (shipped name or .pt path, or a loaded model) to an ONNX file and check it.

    Args:
        model_or_name: 'compact', a checkpoint path, or a loaded model (see :func:`export_onnx_bytes`).
        out: the .onnx file to write (written only when the check passes).
        check_images: run this many bundled-sample faces through both runtimes (0 = no check).
        atol: largest allowed |logit difference|.

    Returns:
        {path, bytes, seconds, max_abs_diff (None without a check), n_checked, metadata}.

    Raises:
        FileNotFoundError: no such checkpoint. ExportError: not exportable, or the check failed.
    """
    from fer_core.models.checkpoint import load_checkpoint

    t0 = time.perf_counter()
    info: dict = {}
    model = model_or_name
    if isinstance(model_or_name, (str, os.PathLike)):
        model, info = load_checkpoint(model_or_name)
    data = export_onnx_bytes(model, info=info, opset=opset)
    diff, n = None, 0
    if check_images > 0:
        from fer_core.data.dataset import load_dataset
        images = load_dataset(use_cache=False).images[:check_images]
        n = len(images)
        diff = check_onnx(model, data, images)
        if not diff <= atol:
            raise ExportError(f"the exported model does not reproduce PyTorch: max |logit difference| {diff:.3g} "
                              f"> {atol:g} on {n} images (the model's output may depend on Python-side code "
                              f"that the exporter cannot see)")
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return {"path": str(path), "bytes": len(data), "seconds": time.perf_counter() - t0, "max_abs_diff": diff,
            "n_checked": n, "metadata": OnnxModel(data).metadata}


def get_onnx(name: str, *, store=None, opset: int = MIN_OPSET) -> bytes:
    """ONNX bytes of a checkpoint, exported once and cached in the store (stage 'onnx', keyed by the
    checkpoint's hash and the torch / onnxscript versions)."""
    import onnxscript
    import torch

    from fer_core.models.checkpoint import load_checkpoint, model_hash
    from fer_core.store import Store

    store = store or Store()

    def compute():
        model, info = load_checkpoint(name)
        return {"onnx": np.frombuffer(export_onnx_bytes(model, info=info, opset=opset), np.uint8)}

    cfg = {"format": "onnx", "opset": opset, "torch": str(torch.__version__), "onnxscript": onnxscript.__version__}
    return store.get_or_compute("onnx", cfg, compute, model_hash=model_hash(name))["onnx"].tobytes()


# --------------------------------------------------------------------------------------------
# running an exported file
# --------------------------------------------------------------------------------------------
class OnnxModel:
    """An exported FER model run by ONNX Runtime on the CPU, with the same predict interface as
    :mod:`fer_core.models.inference` (``predict_probs(model, images)`` accepts it too).

    Attributes:
        classes: the K class names; normalization: {"mean", "std"}; metadata: every stored field
        (JSON values decoded); num_classes: K; model_name.

    Example:
        >>> m = OnnxModel("compact.onnx")
        >>> m.predict_probs(images)          # (N, 48, 48) uint8 -> (N, K) float32
    """

    def __init__(self, source: bytes | str | os.PathLike, *, threads: int = 0):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads > 0:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        src = source if isinstance(source, bytes) else str(source)
        if not isinstance(source, bytes) and not Path(src).is_file():
            raise FileNotFoundError(f"ONNX file not found: {src}")
        try:
            self.session = ort.InferenceSession(src, opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for a bad file
            name = "the ONNX bytes" if isinstance(source, bytes) else src
            raise ValueError(f"{name}: not a loadable ONNX model ({type(e).__name__}: {e})") from None
        raw = self.session.get_modelmeta().custom_metadata_map
        if "classes" not in raw or "normalization" not in raw:
            raise ValueError("not a FER Explorer ONNX file: its metadata has no 'classes' / 'normalization' "
                             "(export it with python -m fer_core.export)")
        self.metadata = {k: _maybe_json(v) for k, v in raw.items()}
        self.classes = tuple(self.metadata["classes"])
        self.normalization = dict(self.metadata["normalization"])
        self.label_set = self.metadata.get("label_set", "")
        self.model_name = self.metadata.get("model_name", "onnx")
        self.num_classes = len(self.classes)
        self.input_name = self.session.get_inputs()[0].name

    def predict_logits(self, images: np.ndarray, *, batch_size: int = 256, tta: bool = False) -> np.ndarray:
        """(N, 48, 48) uint8 -> (N, K) float32 logits (with `tta`, averaged with the mirror's)."""
        return self._predict(images, batch_size, tta, probs=False)

    def predict_probs(self, images: np.ndarray, *, batch_size: int = 256, tta: bool = False) -> np.ndarray:
        """(N, 48, 48) uint8 -> (N, K) float32 probabilities, rows sum to 1."""
        return self._predict(images, batch_size, tta, probs=True)

    def _predict(self, images, batch_size, tta, *, probs) -> np.ndarray:
        from fer_core.models.inference import check_images

        images = check_images(images)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        mean, std = float(self.normalization["mean"]), float(self.normalization["std"])
        outs = []
        for i in range(0, len(images), batch_size):
            x = ((images[i:i + batch_size].astype(np.float32) / 255.0 - mean) / std)[:, None]
            views = [x, x[..., ::-1]] if tta else [x]
            acc = 0
            for v in views:
                out = self.session.run(None, {self.input_name: np.ascontiguousarray(v, np.float32)})[0]
                acc = acc + (_softmax(out) if probs else out)
            outs.append(acc / len(views))
        return np.concatenate(outs).astype(np.float32) if outs else np.zeros((0, self.num_classes), np.float32)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _maybe_json(v: str):
    try:
        return json.loads(v)
    except ValueError:
        return v


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    from fer_core import cli
    from fer_core.config import ExportConfig

    p = cli.command_parser("export", __doc__, config=ExportConfig, json=True, raw_description=True)
    a = p.parse_args(argv)
    cfg = ExportConfig.from_args(a)
    return cli.run(lambda: _export(cfg, as_json=a.json), as_json=a.json, errors=(ExportError,))


def _export(cfg, *, as_json: bool) -> int:
    r = export_onnx(cfg.model, cfg.out or f"{Path(cfg.model).stem}.onnx", opset=cfg.opset,
                    check_images=cfg.check_images, atol=cfg.atol)
    if as_json:
        print(json.dumps(r))
        return 0
    m = r["metadata"]
    print(f"wrote {r['path']} ({r['bytes'] / 1024:.0f} KB, {r['seconds']:.1f} s): {m['model_name']}, "
          f"{len(m['classes'])} classes, input (N, 1, 48, 48) float32 -> logits (N, {len(m['classes'])})")
    if r["max_abs_diff"] is not None:
        print(f"  checked on {r['n_checked']} bundled-sample faces: max |logit difference| vs PyTorch "
              f"{r['max_abs_diff']:.2e} (limit {cfg.atol:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
