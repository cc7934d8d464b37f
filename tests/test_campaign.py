"""The prepared GPU command (fer_core.campaign), run here on the CPU with tiny budgets and a slice
of the data, in a Python that cannot import what the GPU machine lacks."""
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from fer_core.models.checkpoint import load_checkpoint
from fer_core.training.campaign import MAX_FILE_BYTES, MAX_FILES, Job, PLANS, run_campaign, train_job

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "fer_core" / "data" / "sample"
#: not installed on the GPU machine: importing one there would end the run
MISSING_ON_GPU = ("captum", "streamlit", "umap", "openTSNE", "cleanlab", "pynndescent", "plotly", "altair")
TINY = ["--max-train-images", "128", "--batch-size", "32", "--threads", "1", "--width", "0.25"]


@pytest.fixture
def gpu_like_env(tmp_path, monkeypatch):
    """PYTHONPATH with a sitecustomize that makes the GPU machine's missing packages unimportable."""
    site = tmp_path / "site"
    site.mkdir()
    # a None in sys.modules makes `import x` fail and importlib.util.find_spec("x") answer None,
    # as on a machine without x
    (site / "sitecustomize.py").write_text("import sys\n" + "".join(f"sys.modules[{m!r}] = None\n"
                                                                    for m in MISSING_ON_GPU))
    monkeypatch.setenv("PYTHONPATH", f"{site}:{ROOT}")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return site


def test_the_gpu_plan_runs_here_with_tiny_budgets(tmp_path, gpu_like_env):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "fer_core.campaign", "--plan", "gpu", "--data", str(SAMPLE / "fer2013_sample.csv.gz"),
           "--ferplus", str(SAMPLE / "fer2013new_sample.csv"), "--out", str(out), "--workdir", str(tmp_path / "w"),
           "--deadline", "200", "--grace", "60", "--time-scale", "0.02", "--train-args", " ".join(TINY)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=400)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    files = sorted(out.iterdir())
    assert len(files) <= MAX_FILES and all(f.stat().st_size <= MAX_FILE_BYTES for f in files)
    summary = json.loads((out / "summary.json").read_text())
    jobs = {j["name"]: j for j in summary["jobs"]}
    assert set(jobs) == {j.name for j in PLANS["gpu"](["--data", "x"], 1.0, [], 45)}
    assert all(j["status"] == "ok" for j in jobs.values()), {n: (j["status"], j["note"]) for n, j in jobs.items()}
    # the students waited for their teacher and distilled it
    for s in ("resnet18h", "compact"):
        assert jobs[s]["started_s"] >= jobs["teacher7"]["ended_s"] - 1 and "dropped" not in jobs[s]["note"]
        assert jobs[s]["metrics"]["teacher"]["model_name"] == "resnet18"
        assert jobs[s]["metrics"]["time_budget"]["seconds"] == pytest.approx(150 * 0.02, abs=0.1)
    assert jobs["ferplus"]["label_set"] == "ferplus"
    # every job's log and the campaign's own come back
    with tarfile.open(out / "logs.tar.gz") as t:
        names = {Path(n).name for n in t.getnames()}
    assert {f"{n}.log" for n in jobs} | {"campaign.log"} <= names
    # the out-of-fold probabilities cover all 1,000 rows
    oof = np.load(out / "oof.npy")
    assert oof.shape == (1000, 7) and summary["oof"]["covered"] == 1000
    np.testing.assert_allclose(oof.sum(1), 1, atol=1e-4)
    # the kept checkpoints come back and load
    extracted = tmp_path / "x"
    for tar in out.glob("models*.tar"):
        with tarfile.open(tar) as t:
            t.extractall(extracted, filter="data")
    assert {p.stem.split(".")[0] for p in extracted.glob("*.pt")} == {"teacher7", "ferplus", "resnet18h", "compact"}
    for p in extracted.glob("*.pt"):
        load_checkpoint(p)


def test_a_crash_takes_nothing_down_and_a_stopped_job_keeps_its_best_epoch(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    data = ["--data", str(SAMPLE / "fer2013_sample.csv.gz")]
    jobs = [
        Job("crash", ["-c", "import sys; print('boom'); sys.exit(3)"], budget=5, grace=5),
        # a student whose teacher crashed trains without it
        train_job("student", 4, "--model", "compact", "--epochs", "50", *data, *TINY, teacher="crash", grace=60),
        # no time budget given to training: it runs on until the campaign stops it
        Job("slow", ["-m", "fer_core.train", "--model", "compact", "--epochs", "100000", *data, *TINY,
                     "--out", "{out}", "--no-progress"], budget=12, grace=4),
    ]
    done = {j.name: j for j in run_campaign(jobs, tmp_path, deadline=150, log=lambda m: None)}
    assert done["crash"].status == "failed (exit 3)"
    assert done["student"].status == "ok" and "--teacher dropped: crash failed" in done["student"].note
    assert done["slow"].status == "stopped (over its time), best epoch salvaged"
    model, info = load_checkpoint(tmp_path / "models" / "slow.pt")
    assert "salvaged" in info["metrics"] and info["metrics"]["selection"]["epoch"] >= 1
    assert "boom" in (tmp_path / "logs" / "crash.log").read_text()


def test_a_job_that_cannot_fit_before_the_deadline_is_skipped(tmp_path):
    jobs = [Job("late", ["-c", "pass"], budget=100, grace=10)]
    run_campaign(jobs, tmp_path, deadline=20, log=lambda m: None)
    assert jobs[0].status.startswith("skipped") and not (tmp_path / "logs" / "late.log").exists()


def test_unknown_dependencies_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not in the plan"):
        run_campaign([train_job("s", 5, teacher="nobody")], tmp_path, deadline=10)
