"""Inference throughput (batch img/s) and single-image latency of the shipped models on CPU.

    python bench/bench_inference.py [--model compact] [--threads 1 2] [--batch 256] [--rounds 3]

For every shipped model (or --model), at each thread count, every variant gets the same normalised
float32 input (real faces from the bundled sample) and is timed at batch --batch (throughput) and
batch 1 (latency):

* ``eager``: PyTorch fp32 under ``inference_mode``,
* ``eager channels-last``: the same with model and input in ``channels_last`` memory format,
* ``torchscript``: ``torch.jit.trace`` + ``torch.jit.freeze`` (folds BatchNorm into the convs),
* ``torchscript channels-last``: the frozen trace of the channels-last model, channels-last input,
* ``onnxruntime``: the ONNX export (:func:`fer_core.models.export.export_onnx_bytes`) run by
  :class:`fer_core.models.export.OnnxModel`'s session on the same float32 input,
* ``onnxruntime, uint8 API``: ``OnnxModel.predict_logits(images)`` from (N, 48, 48) uint8, i.e.
  including the normalisation in numpy: what a caller of the package gets.

Each round times every variant once (batch: median of --batch-repeats calls, batch 1: median of
--single-repeats calls, after a warm-up call); rounds are interleaved so load from other work hits
all variants alike, and the median over rounds is printed with the 1-minute load average taken
when the variant's round was measured (range over rounds in brackets).
Goal (issue 3): compact >= 1,000 img/s in batches on 2 cores.
"""
import argparse
import os
import warnings

import numpy as np
import torch
from common import header, spread, timed

from fer_core.models.checkpoint import load_checkpoint, shipped_checkpoints
from fer_core.data.dataset import load_dataset
from fer_core.models.export import OnnxModel, export_onnx_bytes
from fer_core.models.inference import model_normalization, to_input

warnings.filterwarnings("ignore", category=FutureWarning, module="torch.jit")  # trace/freeze deprecation notes


def variants(net, onnx_bytes, images, threads):
    """{name: (fn, batch input, single input)} for one model at one thread count."""
    norm = model_normalization(net)
    x = to_input(torch.from_numpy(images), norm)
    cl = torch.channels_last
    out = {"eager": (net, x, x[:1])}
    net_cl = _channels_last_copy(net)
    out["eager channels-last"] = (net_cl, x.contiguous(memory_format=cl), x[:1].contiguous(memory_format=cl))
    for name, m, xb in (("torchscript", net, x), ("torchscript channels-last", net_cl, x.contiguous(memory_format=cl))):
        try:
            with torch.inference_mode():
                ts = torch.jit.freeze(torch.jit.trace(m, xb[:8]).eval())
            out[name] = (ts, xb, xb[:1])
        except Exception as e:  # noqa: BLE001 - a model that cannot be traced is reported, not fatal
            print(f"  {name} failed: {type(e).__name__}: {e}")
    if onnx_bytes is not None:
        onnx = OnnxModel(onnx_bytes, threads=threads)
        sess, iname = onnx.session, onnx.input_name
        out["onnxruntime"] = (lambda a: sess.run(None, {iname: a}), x.numpy(), x[:1].numpy())
        out["onnxruntime, uint8 API"] = (lambda a: onnx.predict_logits(a, batch_size=len(a)), images, images[:1])
    return out


def _channels_last_copy(net):
    import copy
    return copy.deepcopy(net).to(memory_format=torch.channels_last).eval()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", nargs="*", default=None, help="default: every shipped checkpoint")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch-repeats", type=int, default=5)
    p.add_argument("--single-repeats", type=int, default=50)
    a = p.parse_args()
    header(f"inference, threads {a.threads}, batch {a.batch}, median of {a.rounds} rounds")
    faces = load_dataset(use_cache=False).images
    images = np.ascontiguousarray(np.resize(faces, (a.batch, *faces.shape[1:])))  # repeats if batch > sample
    print(f"| model | runtime | threads | batch {a.batch} img/s | batch 1 ms | load average (1 min) |")
    print("|---|---|---|---|---|---|")
    for name in a.model or shipped_checkpoints():
        net, info = load_checkpoint(name)
        net.eval()
        try:
            onnx_bytes = export_onnx_bytes(net, info=info)
        except Exception as e:  # noqa: BLE001 - fer_core.models.export.ExportError or a missing onnx/onnxscript
            onnx_bytes = None
            print(f"  {name}: no ONNX Runtime variant: {type(e).__name__}: {e}")
        for threads in a.threads:
            torch.set_num_threads(threads)
            vs = variants(net, onnx_bytes, images, threads)
            res = {k: {"thr": [], "lat": [], "load": []} for k in vs}
            with torch.inference_mode():
                for _ in range(a.rounds):
                    for k, (fn, xb, x1) in vs.items():
                        res[k]["load"].append(os.getloadavg()[0])
                        res[k]["thr"].append(a.batch / timed(fn, xb, a.batch_repeats))
                        res[k]["lat"].append(timed(fn, x1, a.single_repeats) * 1e3)
            for k, r in res.items():
                print(f"| {name} | {k} | {threads} | {spread(r['thr'])} | {spread(r['lat'], '{:.2f}')} | "
                      f"{spread(r['load'], '{:.2f}')} |", flush=True)


if __name__ == "__main__":
    main()
