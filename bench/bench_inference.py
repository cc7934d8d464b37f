"""Inference throughput (batch img/s) and single-image latency of the shipped models on CPU.

    python bench/bench_inference.py [--model compact] [--threads 2]

Variants: eager fp32, eager channels-last, TorchScript (trace + freeze). Median of repeats.
Goal (issue 3): compact >= 1,000 img/s in batches on 2 cores.
"""
import argparse
import statistics
import time

import numpy as np
import torch
from common import header

from fer_core.checkpoint import load_checkpoint, shipped_checkpoints
from fer_core.inference import model_normalization, to_input


def bench(fn, x, repeats):
    fn(x)
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(x)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", nargs="*", default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=256)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    header(f"inference, {a.threads} threads")
    rng = np.random.default_rng(0)
    imgs = torch.from_numpy(rng.integers(0, 256, (a.batch, 48, 48), dtype=np.uint8))
    for name in a.model or shipped_checkpoints():
        net, info = load_checkpoint(name)
        x = to_input(imgs, model_normalization(net))
        x1 = x[:1]
        variants = {"eager": net}
        try:
            variants["eager channels-last"] = None
            with torch.inference_mode():
                variants["torchscript"] = torch.jit.freeze(torch.jit.trace(net, x[:8]).eval())
        except Exception as e:  # noqa: BLE001
            print(f"  torchscript failed: {e}")
        for vname, m in variants.items():
            with torch.inference_mode():
                if vname == "eager channels-last":
                    m = net.to(memory_format=torch.channels_last)
                    xb, xs = x.contiguous(memory_format=torch.channels_last), x1.contiguous(memory_format=torch.channels_last)
                else:
                    xb, xs = x, x1
                tb = bench(m, xb, 10)
                ts = bench(m, xs, 50)
                if vname == "eager channels-last":
                    net.to(memory_format=torch.contiguous_format)
            print(f"{name:10s} {vname:20s} batch {a.batch}: {a.batch / tb:8.0f} img/s   single image: {ts * 1e3:6.2f} ms")


if __name__ == "__main__":
    main()
