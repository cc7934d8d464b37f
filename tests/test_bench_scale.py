"""bench/bench_scale.py's parts that need no server: the synthetic data, the growth fit, the
RESULTS.md section writer and a measured subprocess."""
from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import bench_scale
import common

from fer_core.data.dataset import load_dataset


def _source(m: int = 7) -> dict:
    """`m` planted faces: distinct gradients, one blank (all 0) frame, labels and splits to carry."""
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (m, 48, 48), dtype=np.uint8)
    images[0] = 0  # a blank frame: clipping must not make its copies identical to it or to each other
    votes = [f"{i % 10},{(i + 1) % 3},0,0,0,0,0,0,0,0\n" for i in range(m)]
    split = np.array(["Training", "PublicTest", "PrivateTest"] * m)[:m]
    lines = [f"{s},{'' if i == 1 else f'fer{i:07d}.png'},{v}".encode() for i, (s, v) in enumerate(zip(split, votes))]
    return {"images": images, "labels": np.arange(m) % 7, "split": split,
            "ferplus_header": b"Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,"
                              b"unknown,NF\n", "ferplus_lines": lines}


def test_synthetic_copies_differ_carry_labels_and_are_deterministic(tmp_path):
    src, n = _source(), 40  # 7 sources: the originals, then 5 augmented copies each (one partial)
    a, b = tmp_path / "a.csv.gz", tmp_path / "b.csv.gz"
    bench_scale.write_synthetic(src, n, a, tmp_path / "a_fp.csv", seed=1)
    bench_scale.write_synthetic(src, n, b, tmp_path / "b_fp.csv", seed=1)
    assert gzip.decompress(a.read_bytes()) == gzip.decompress(b.read_bytes())  # seeded: the same file
    assert (tmp_path / "a_fp.csv").read_bytes() == (tmp_path / "b_fp.csv").read_bytes()

    ds = load_dataset(a, tmp_path / "a_fp.csv", use_cache=False)  # the product reads it, FER+ aligned
    source, copy = bench_scale.plan(len(src["labels"]), n, seed=1)
    assert len(ds) == n and sorted(source[:7]) == list(range(7)) and copy.max() == 5
    np.testing.assert_array_equal(ds.labels, src["labels"][source])
    np.testing.assert_array_equal(ds.split, src["split"][source])
    np.testing.assert_array_equal(ds.ferplus.votes[:, 0], source % 10)
    assert ds.ferplus.not_face.sum() == (source == 1).sum()  # an empty FER+ name stays empty
    np.testing.assert_array_equal(ds.images[copy == 0], src["images"][source[copy == 0]])  # first pass: originals
    flat = ds.images.reshape(n, -1)
    for r in range(7):  # every copy of a source differs from it and from the other copies
        rows = flat[source == r]
        assert len({x.tobytes() for x in rows}) == len(rows)
    aug = copy > 0  # augmented, yet still near their source (a shifted, re-lit face, not noise)
    diff = np.abs(flat[aug].astype(int) - src["images"][source[aug]].reshape(aug.sum(), -1)).mean(1)
    assert (diff > 0).all()

    c = tmp_path / "c.csv.gz"
    bench_scale.write_synthetic(src, n, c, None, seed=2)
    assert gzip.decompress(c.read_bytes()) != gzip.decompress(a.read_bytes())  # another seed, other faces


def test_growth_exponent_recovers_planted_powers():
    ns = [2_000, 10_000, 36_000, 100_000]
    assert common.growth_exponent(ns, [3e-4 * n for n in ns]) == pytest.approx(1.0)
    assert common.growth_exponent(ns, [1e-7 * n**2 for n in ns]) == pytest.approx(2.0)
    assert common.growth_exponent(ns, [2e-3 * n * np.log(n) for n in ns]) == pytest.approx(1.1, abs=0.05)
    assert common.growth_exponent([5_000], [1.0]) is None  # one size: nothing to fit
    assert common.growth_exponent(ns, [None, 1.0, None, None]) is None  # failed cells left out


def test_results_section_is_replaced_not_duplicated(tmp_path):
    md = tmp_path / "RESULTS.md"
    md.write_text("# Results\n\n## A\n\na\n\n## Scaling\n\nold table\n\n## B\n\nb\n")
    common.replace_section(md, "Scaling", "| new | table |")
    common.replace_section(md, "Scaling", "| newer | table |")
    text = md.read_text()
    assert text.count("## Scaling") == 1 and "old table" not in text and "| new |" not in text
    assert "| newer | table |" in text and text.index("## A") < text.index("## Scaling") < text.index("## B")
    common.replace_section(md, "C", "c")  # a new section goes at the end
    assert md.read_text().rstrip().endswith("## C\n\nc")


def test_tables_flag_a_quadratic_stage_and_record_failures(tmp_path):
    for n, secs in ((1_000, 1.0), (4_000, 16.0)):  # planted: quadratic
        bench_scale.save_cell(tmp_path, n, "slow", {"status": "ok", "seconds": secs, "peak_mb": 100.0, "wall_s": secs})
        bench_scale.save_cell(tmp_path, n, "fast", {"status": "ok", "seconds": n / 1000, "peak_mb": 90.0, "wall_s": 1})
    bench_scale.save_cell(tmp_path, 4_000, "broken", {"status": "timeout", "seconds": None, "peak_mb": 5.0,
                                                      "wall_s": 60.0})
    text, flagged = bench_scale.tables(tmp_path, [1_000, 4_000], ["slow", "fast", "broken"], [], False)
    assert flagged == ["stage slow"]
    assert "| slow | 1.0 s / 100 MB | 16.0 s / 100 MB | **2.00** ⚠ |" in text
    assert "| fast | 1.0 s / 90 MB | 4.0 s / 90 MB | 1.00 |" in text
    assert "| broken | — | timeout (> 60 s) | — |" in text


def test_run_measured_reports_peak_memory_and_kills_on_timeout():
    grow = "import time; x = bytearray(200 * 2**20); x[::4096] = bytes(len(x[::4096])); time.sleep(0.2)"
    r = common.run_measured([sys.executable, "-c", grow], timeout_s=30)
    assert r["rc"] == 0 and not r["timed_out"] and r["peak_mb"] > 200
    big = np.ones(300 * 2**20, np.uint8)  # a large parent: its size must not count as the child's peak
    r = common.run_measured([sys.executable, "-c", "pass"], timeout_s=30)
    assert big.sum() and r["rc"] == 0 and r["peak_mb"] < 100
    del big
    r = common.run_measured([sys.executable, "-c", "import time; time.sleep(30)"], timeout_s=0.5)
    assert r["timed_out"] and r["rc"] != 0 and r["wall_s"] < 10


def test_report_joins_cells_of_separate_runs_without_running_anything(tmp_path, capsys):
    # two runs' cells (e.g. 10k-100k with pages, 350k stages only), joined by --report
    bench_scale.save_cell(tmp_path, 1_000, "dataset", {"status": "ok", "seconds": 2.0, "peak_mb": 50.0, "wall_s": 3})
    bench_scale.save_cell(tmp_path, 1_000, bench_scale.page_cell(""),
                          {"status": "ok", "first_paint_s": 4.0, "second_paint_s": 3.0, "action_s": None})
    bench_scale.save_cell(tmp_path, 8_000, "dataset", {"status": "ok", "seconds": 16.0, "peak_mb": 80.0, "wall_s": 17})
    assert bench_scale.main(["--work", str(tmp_path), "--sizes", "1000,8000", "--stages", "dataset",
                             "--pages", "home", "--report"]) == 0
    out = capsys.readouterr().out
    assert "| dataset | 2.0 s / 50 MB | 16.0 s / 80 MB | 1.00 |" in out
    assert "| home: none (first paint only) | 4.0 / 3.0 | — |" in out
    assert not (tmp_path / "data").exists()  # no synthetic file made, no stage run


def test_a_stage_is_timed_from_scratch_with_the_parts_it_caches_elsewhere(tmp_path, monkeypatch):
    # an interrupted robustness run leaves some corruptions' sweeps (stage robustness_sweep): the
    # next measurement must not reuse them, nor drop another stage's artifacts
    cache = tmp_path / "cache-10"
    for name in ("robustness", "robustness_sweep", "predictions"):
        (cache / name / "k").mkdir(parents=True)
    seen = {}

    def fake_run(cmd, *, env, timeout_s, log):
        seen.update({d.name: d.exists() for d in (cache / "robustness", cache / "robustness_sweep",
                                                 cache / "predictions")})
        log.write("[robustness] built in 12.5 s: ...\n")
        return {"rc": 0, "timed_out": False, "wall_s": 13.0, "peak_mb": 100.0}

    monkeypatch.setattr(bench_scale, "run_measured", fake_run)
    r = bench_scale.run_stage("robustness", 10, tmp_path / "x.csv", None, work=tmp_path, threads=1, timeout_s=60)
    assert seen == {"robustness": False, "robustness_sweep": False, "predictions": True}
    assert r["status"] == "ok" and r["seconds"] == 12.5
