"""ONNX Runtime vs PyTorch on the CPU: batch-1 latency and batch-256 throughput of an exported model.

    python bench/bench_onnx.py [--model compact] [--threads 1 2] [--rounds 5]

Both runtimes get the same normalised float32 input (real faces from the bundled sample) and the
same thread count; PyTorch runs eager fp32 under inference_mode. The two are timed in
interleaved rounds (so load from other work hits both alike) and the median is reported.
The logits are compared first (max |difference|).
"""
import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import header

from fer_core.models.checkpoint import load_checkpoint
from fer_core.data.dataset import load_dataset
from fer_core.models.export import OnnxModel, export_onnx
from fer_core.models.inference import model_normalization, to_input


def timed(fn, repeats: int) -> float:
    """Median seconds of `repeats` calls (after one warm-up call)."""
    fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="compact")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args()
    header(f"ONNX Runtime vs PyTorch, {a.model}")
    net, _ = load_checkpoint(a.model)
    images = load_dataset(use_cache=False).images[:a.batch]
    x = to_input(torch.from_numpy(images), model_normalization(net))
    xb, x1 = x.numpy(), x[:1].numpy()
    with tempfile.TemporaryDirectory() as tmp:
        r = export_onnx(net, Path(tmp) / "m.onnx", check_images=0)
        onnx_bytes = (Path(tmp) / "m.onnx").read_bytes()
    print(f"export {r['seconds']:.1f} s, {r['bytes'] / 1024:.0f} KB")
    print("| threads | runtime | batch 1 latency (ms, median) | batch %d (img/s, median) |" % a.batch)
    print("|---|---|---|---|")
    for threads in a.threads:
        torch.set_num_threads(threads)
        ort_model = OnnxModel(onnx_bytes, threads=threads)
        sess, name = ort_model.session, ort_model.input_name
        with torch.inference_mode():
            diff = float(np.abs(net(torch.from_numpy(xb)).numpy() - sess.run(None, {name: xb})[0]).max())
            runs = {"pytorch": (lambda: net(torch.from_numpy(x1)), lambda: net(torch.from_numpy(xb))),
                    "onnxruntime": (lambda: sess.run(None, {name: x1}), lambda: sess.run(None, {name: xb}))}
            res = {k: {"lat": [], "thr": []} for k in runs}
            for _ in range(a.rounds):  # interleaved rounds
                for k, (one, many) in runs.items():
                    res[k]["lat"].append(timed(one, 50) * 1000)
                    res[k]["thr"].append(a.batch / timed(many, 5))
        for k in runs:
            print(f"| {threads} | {k} | {statistics.median(res[k]['lat']):.2f} | "
                  f"{statistics.median(res[k]['thr']):,.0f} |")
        print(f"(threads {threads}: max |logit difference| {diff:.2e})")


if __name__ == "__main__":
    main()
