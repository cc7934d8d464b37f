"""DistributedDataParallel training under torchrun: 2 CPU processes on Gloo, a tiny subset, 1 epoch.

Run as the README's "Beyond one machine" says, through `python -m torch.distributed.run`.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fer_core.training.train import dist_env, shard

ROOT = Path(__file__).resolve().parent.parent


def test_shards_are_disjoint_equal_and_cover_the_epoch():
    order = np.random.default_rng(0).permutation(103)
    parts = [shard(order, r, 4) for r in range(4)]
    assert {len(p) for p in parts} == {25}  # the remainder (3) is dropped, as in drop_last
    assert len(set(np.concatenate(parts))) == 100 and set(np.concatenate(parts)) <= set(order)
    np.testing.assert_array_equal(shard(order, 0, 1), order)


def test_dist_env(monkeypatch):
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    assert dist_env() == (1, 0, 0)
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert dist_env() == (4, 3, 1)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_torchrun_two_cpu_processes_train_one_epoch(tmp_path):
    from fer_core.models.checkpoint import load_checkpoint

    out = tmp_path / "ddp.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FER_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": str(ROOT)}
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "fer_core.train", "--max-train-images", "64", "--epochs", "1", "--width", "0.25",
           "--batch-size", "32", "--threads", "1", "--no-progress", "--out", str(out)]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=280)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert r.stdout.count("saved ") == 1 and r.stdout.count("epoch   1") == 1  # rank 0 alone reports
    assert "x 2 processes (gloo)" in r.stdout
    model, ckpt = load_checkpoint(out)
    m = ckpt["metrics"]
    assert m["distributed"] == {"world_size": 2, "backend": "gloo", "images_per_process_per_epoch": 32,
                                "params_in_sync": True}
    assert m["n_train"] == 64 and len(ckpt["history"]) == 1 and np.isfinite(ckpt["history"][0]["train_loss"])
    assert 0 <= m["PrivateTest"]["accuracy"] <= 1


STOP_IN_EPOCH_2 = """
import sys
import fer_core.training.train as tr
real = tr._train_epoch
def stop(config, st, data, run, epoch, norm):
    if epoch == 2:
        raise SystemExit(3)
    return real(config, st, data, run, epoch, norm)
tr._train_epoch = stop
sys.exit(tr.main(sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_torchrun_resume_continues_every_process(tmp_path):
    """Two processes stopped in epoch 2 and resumed end where an uninterrupted 2-process run
    ends: every process gets back its own augmentation state (gathered into .last.ckpt)."""
    from fer_core.models.checkpoint import load_checkpoint

    env = {**os.environ, "OMP_NUM_THREADS": "1", "FER_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": str(ROOT)}
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    run = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    args = ["--max-train-images", "64", "--epochs", "3", "--width", "0.25", "--batch-size", "32",
            "--threads", "1", "--no-progress"]
    r = subprocess.run(run + ["-m", "fer_core.train", *args, "--out", str(tmp_path / "a.pt")], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    script = tmp_path / "stop.py"
    script.write_text(STOP_IN_EPOCH_2)
    r = subprocess.run(run + [str(script), *args, "--out", str(tmp_path / "b.pt")], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and (tmp_path / "b.last.ckpt").is_file() and not (tmp_path / "b.pt").exists()
    r = subprocess.run(run + ["-m", "fer_core.train", "--resume", str(tmp_path / "b.last.ckpt"), "--no-progress"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "epoch   1" not in r.stdout and r.stdout.count("epoch   2") == 1
    ma, a = load_checkpoint(tmp_path / "a.pt")
    mb, b = load_checkpoint(tmp_path / "b.pt")
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in a["history"]]
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in b["history"]] == strip
    sa, sb = ma.state_dict(), mb.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert b["metrics"]["distributed"]["params_in_sync"]
