"""Training throughput of the registry models on the CPU (or a GPU: --device cuda), img/s of one full step.

One step = batch indexing from the in-memory uint8 tensor, the batched augmentation of
`fer_core.training.train` (affine grid_sample, brightness/contrast, random erasing), forward, soft
cross-entropy, backward and an SGD-Nesterov step: exactly what `train()` does per batch.
Shared machines are noisy, so configurations are interleaved over several rounds and the
median step time of each is reported (plus the best round).

    python bench/bench_train_cpu.py                       # compact at widths 0.5..1.25, 2 threads
    python bench/bench_train_cpu.py --specs compact:1 resnet18:1 --batch-size 64 --rounds 3
    python bench/bench_train_cpu.py --epoch-minutes         # add minutes per FER2013 epoch
    python bench/bench_train_cpu.py --device cuda --specs compact:1 resnet18:1 resnet34:1 --batch-size 256

On a GPU it does what `train()` does there: data, augmentation and its generator on the GPU,
channels-last, bfloat16 autocast; each timed step ends with a CUDA synchronize.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from common import header  # noqa: E402

from fer_core.config import TrainConfig  # noqa: E402
from fer_core.models.inference import default_device  # noqa: E402
from fer_core.models.registry import count_params, create_model  # noqa: E402
from fer_core.training.train import augment_batch, channels_last_safe, random_erasing, soft_cross_entropy  # noqa: E402

N_TRAIN = 28709  # FER2013 Training images
N_VAL = 3589


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def make_step(name: str, width: float, channels_last: bool, batch_size: int, dev: torch.device):
    cfg = TrainConfig()
    model = create_model(name, width=width).to(dev)
    cl = channels_last and (dev.type == "cuda" or channels_last_safe(model))  # as train() decides
    fmt = torch.channels_last if cl else torch.contiguous_format
    model = model.to(memory_format=fmt).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    g = torch.Generator(device=dev).manual_seed(0)
    imgs = torch.randint(0, 256, (4 * batch_size, 48, 48), dtype=torch.uint8, device=dev)
    target = torch.eye(7, device=dev)[torch.randint(0, 7, (4 * batch_size,), device=dev)]
    amp = dev.type == "cuda"

    def step():
        idx = torch.randint(0, len(imgs), (batch_size,), generator=g, device=dev)
        x = augment_batch(imgs[idx].unsqueeze(1).float() / 255.0, cfg, g)
        x = random_erasing((x - 0.5) / 0.25, cfg.erasing, g).contiguous(memory_format=fmt)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            loss = soft_cross_entropy(model(x).float(), target[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _sync(dev)

    return step, count_params(model), cl, model


def eval_rate(model, batch_size: int = 512, n: int = 2048) -> float:
    model.eval()
    dev = next(model.parameters()).device
    x = torch.randn(batch_size, 1, 48, 48, device=dev)
    with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
        model(x)
        _sync(dev)
        t = time.perf_counter()
        for _ in range(n // batch_size):
            model(x)
        _sync(dev)
    model.train()
    return n / (time.perf_counter() - t)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--specs", nargs="+", default=["compact:0.5", "compact:0.67", "compact:0.75", "compact:1",
                                                    "compact:1.25"], help="model:width ...")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=12, help="timed steps per round")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps before the first round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--no-channels-last", action="store_true")
    p.add_argument("--epoch-minutes", action="store_true", help="also print minutes per FER2013 epoch")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (the GPU when there is one)")
    a = p.parse_args(argv)
    dev = default_device() if a.device == "auto" else torch.device(a.device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as train() sets it
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    entries = []
    for spec in a.specs:
        name, _, w = spec.partition(":")
        step, params, cl, model = make_step(name, float(w or 1), not a.no_channels_last, a.batch_size, dev)
        for _ in range(a.warmup):
            step()
        entries.append({"spec": spec, "step": step, "params": params, "cl": cl, "model": model, "times": [],
                        "rounds": []})
    for _ in range(a.rounds):
        for e in entries:
            ts = []
            for _ in range(a.steps):
                t = time.perf_counter()
                e["step"]()
                ts.append(time.perf_counter() - t)
            e["times"] += ts
            e["rounds"].append(a.batch_size * len(ts) / sum(ts))
    header(f"training throughput on {dev.type.upper()}")
    print(f"# {a.threads} CPU threads, batch {a.batch_size}, {a.rounds} rounds x {a.steps} steps, median step")
    print(f"{'model:width':16s} {'params':>9s} {'ch_last':>7s} {'train img/s':>11s} {'best round':>10s}"
          + (f" {'eval img/s':>10s} {'min/epoch':>9s}" if a.epoch_minutes else ""))
    for e in entries:
        rate = a.batch_size / statistics.median(e["times"])
        line = f"{e['spec']:16s} {e['params'] / 1e6:8.3f}M {str(e['cl']):>7s} {rate:11.0f} {max(e['rounds']):10.0f}"
        if a.epoch_minutes:
            ev = eval_rate(e["model"])
            line += f" {ev:10.0f} {(N_TRAIN / rate + N_VAL / ev) / 60:9.2f}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
