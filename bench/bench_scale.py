"""Scaling benchmark (issue 18): every prepare stage, each page and the server's memory per tab, on
synthetic FER2013-format datasets of 10k to 350k faces.

The datasets are made from the full FER2013 (`--source`, default ../shared/datasets/fer2013/): a
seeded permutation of its rows, repeated; the first pass keeps the original images, every later
pass (copy 1, 2, ...) is an augmented copy (shifted up to 3 px, mirrored half the time, re-lit by a
gamma, gain and offset, Gaussian noise), never pixel-identical to its source or to another copy.
Labels, Usage splits and FER+ votes are carried over from the source row (FER+ image names get a
`_c<copy>` suffix). Written as `fer2013.csv.gz`-format files (what users open; gzip level 1) plus a
row-aligned `fer2013new.csv`, cached under `--work`/data (the N-face file is a prefix of any larger one).

Up to 35,887 faces a file holds only original faces (a seeded random subset); above, copies. The
copies are what the duplicates stage looks for (shifted, re-lit faces): from 36k on it finds
groups of them, as it would in a dataset augmented on disk (5,000 faces made from the 1,000-face
sample, `--source fer_core/data/sample/fer2013_sample.csv.gz`: 3,184 faces in 1,197 groups).

Per size, each in a subprocess of its own (its peak memory is its own: ru_maxrss from os.wait4 in
a small parent process, common.run_measured), into a per-size cache `--work`/cache-N that starts without the stage's artifact:

- `imports`: importing prepare (torch, every analysis module): the floor of every stage process;
- `dataset`: the CSV parse (`fer_core.data.dataset.load_dataset` into the empty cache);
- each stage of `python -m fer_core.prepare` in its order: `python -m fer_core.prepare --data F
  --ferplus V --only STAGE --threads T`; the time is the one prepare reports for the stage (the
  dataset then comes from the cache), the peak is the whole process's (Python, torch, the cached
  dataset and the stage). A stage that fails or passes `--timeout` is recorded as such.

Then, unless `--no-browser`, a Streamlit server on that cache (`streamlit run dashboard/Home.py`,
tests/browser_helpers.serve_dashboard) and headless Chromium (1500 px, bench_pages' timing): Home
once to load the dataset into the server, then per page of `--pages` a first visit (its artifacts
loaded into the server) and a second visit: the first paint of each and the page's main control
(MAIN_CONTROLS below) in the second. Last, bench_tab_memory's reading of the server's RSS with
1 and 4 Embeddings tabs (the heaviest page) open and `--after` seconds after closing them.

Threads: OMP/MKL/OpenBLAS/Numba at `--threads` (default 1) in every child and in the server, and
`prepare --threads` the same (torch's intra-op pool and threadpoolctl's limits): timings on a
shared machine are steadier with one thread, and the exponents then do not mix in how well a
stage uses a second core.

Results go to `--work`/results/N/<cell>.json as each cell finishes; a rerun skips cells already
done (`--force` redoes them). Finally the growth exponent b of t = a N^b (least squares on log t
against log N, over the sizes with a result) per stage and per page; b > 1.2 is flagged.

    python bench/bench_scale.py --work /tmp/fer-scale                    # 10k, 36k, 100k, 350k
    python bench/bench_scale.py --work /tmp/fer-scale --sizes 2000,5000 --pages embeddings
    python bench/bench_scale.py --work /tmp/fer-scale --no-browser --stages dataset,duplicates --timeout 1800
    python bench/bench_scale.py --work /tmp/fer-scale --record           # also writes bench/RESULTS.md
    python bench/bench_scale.py --work /tmp/fer-scale --report --record  # the tables of cells measured before

How long. MEASURED (dev CPU: 2 cores shared with other work, load average 8-15, 1 thread): at
2,000 and 5,000 faces the stage processes took 17 min per size (each process also pays 15-30 s of
imports; the stage times in the table leave them out), the browser part 4-5 min per size for one
page plus the tab readings (about 10 min with the six default pages), and making the files 30-40 s
(mostly reading the full FER2013 once). ESTIMATE, not measured: the full data's `prepare` took
14 min idle with 2 threads (RESULTS.md, "One prepare command on the full data"), so 36k takes
30-60 min here; 100k and 350k take about 3x and 10x that if every stage is near-linear, and far
longer with a quadratic one (exact kNN, exact t-SNE/UMAP fits): give them a `--timeout` and a
machine of their own. Writing the 350k file: about 5 min (0.3 ms a row to format, gzip level 1).
MEASURED 2026-12-05 (3), two runs side by side, one thread each: 10k stages + pages + tabs 11 min,
36k 25 min, 100k 47 min; 350k stages without robustness 2 h (predictions 32 min, baselines 30 min,
label_errors 17 min); robustness at 350k ~40 min more (estimated from 100k).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import (
    DEFAULT_DATA,
    DEFAULT_FERPLUS,
    ROOT,
    growth_exponent,
    machine_facts,
    point_app_at,
    replace_section,
    run_measured,
)

SIZES = (10_000, 36_000, 100_000, 350_000)
#: Images augmented per random-number stream (fixed: the data must not depend on how it is cut).
CHUNK = 5_000
#: Growth exponents above this are flagged.
FLAG_EXPONENT = 1.2
PSEUDO_STAGES = ("imports", "dataset")
SECTION = "Scaling with the number of faces (issue 18)"
RESULTS_MD = ROOT / "bench" / "RESULTS.md"


# ---- synthetic data ----------------------------------------------------------------------------
def plan(m: int, n: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Which source row each of `n` synthetic faces comes from, and its copy number.

    Returns:
        source (n,) int64 in [0, m): a seeded permutation of the `m` source rows, repeated;
        copy (n,) int64: 0 for the first pass (the original image), 1, 2, ... after.
    """
    perm = np.random.default_rng(seed).permutation(m)
    i = np.arange(n)
    return perm[i % m], i // m


def augment(images: np.ndarray, copy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Augmented copies of (k, 48, 48) uint8 `images`: shift (up to 3 px), mirror (half), gamma
    0.8-1.25, gain 0.85-1.15, offset +-15, Gaussian noise sigma 2-6. `copy` (k,) >= 1 marks the
    rare copy that clipping leaves uniform or equal to its source (a blank frame): its first row
    gets the copy number's bits, so no copy is pixel-identical to its source or to another copy."""
    k = len(images)
    dy, dx = rng.integers(-3, 4, (2, k))
    ys = np.clip(np.arange(48)[None] - dy[:, None], 0, 47)
    xs = np.clip(np.arange(48)[None] - dx[:, None], 0, 47)
    xs = np.where((rng.random(k) < 0.5)[:, None], xs[:, ::-1], xs)
    out = images[np.arange(k)[:, None, None], ys[:, :, None], xs[:, None, :]].astype(np.float32) / 255
    gamma = np.exp(rng.uniform(np.log(0.8), np.log(1.25), k))[:, None, None]
    gain, bias, sigma = (rng.uniform(lo, hi, k)[:, None, None] for lo, hi in ((0.85, 1.15), (-15, 15), (2, 6)))
    out = 255 * out ** gamma * gain + bias + rng.standard_normal(out.shape, dtype=np.float32) * sigma
    out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    flat = out.reshape(k, -1)
    bad = (flat == images.reshape(k, -1)).all(1) | (flat.std(1) < 1)
    if bad.any():
        bits = (copy[bad, None] >> np.arange(8)[None]) & 1
        out[bad, 0, :8] = np.where(bits == 1, 255, 0)
        out[bad, 0, 8] = 128
    return out


def synth_chunks(images: np.ndarray, source: np.ndarray, copy: np.ndarray, *, seed: int = 0):
    """Yield (start, (k, 48, 48) uint8) chunks of the synthetic images (originals for copy 0)."""
    for start in range(0, len(source), CHUNK):
        src, cp = source[start:start + CHUNK], copy[start:start + CHUNK]
        out = images[src].copy()
        aug = cp > 0
        if aug.any():
            out[aug] = augment(out[aug], cp[aug], np.random.default_rng([seed, start]))
        yield start, out


_NUM = [str(v).encode() for v in range(256)]


def pixels_text(img: np.ndarray) -> bytes:
    """FER2013's 'pixels' field: 2304 space-separated values."""
    return b" ".join(map(_NUM.__getitem__, img.reshape(-1).tolist()))


def write_synthetic(src: dict, n: int, csv_path: Path, ferplus_path: Path | None, *, seed: int = 0) -> None:
    """Write `n` synthetic faces made from `src` as a fer2013-format .csv.gz (emotion, pixels,
    Usage) and, when `src` has "ferplus_lines" and `ferplus_path` is given, a row-aligned FER+ file.

    Args:
        src: images (M, 48, 48) uint8, labels (M,), split (M,) str; optional ferplus_header (bytes)
            and ferplus_lines (M bytes lines "Usage,Image name,votes...").
    """
    source, copy = plan(len(src["labels"]), n, seed=seed)
    part = csv_path.with_name(csv_path.name + ".part")
    with gzip.open(part, "wb", compresslevel=1) as f:
        f.write(b"emotion,pixels,Usage\n")
        for start, imgs in synth_chunks(src["images"], source, copy, seed=seed):
            rows = source[start:start + len(imgs)]
            f.write(b"".join(b"%d,%s,%s\n" % (src["labels"][r], pixels_text(im), str(src["split"][r]).encode())
                             for r, im in zip(rows, imgs)))
    if ferplus_path is not None and "ferplus_lines" in src:
        fpart = ferplus_path.with_name(ferplus_path.name + ".part")
        with open(fpart, "wb") as f:
            f.write(src["ferplus_header"])
            for r, c in zip(source, copy):
                usage, name, rest = src["ferplus_lines"][r].split(b",", 2)
                if c and name.strip():
                    name = name.strip().replace(b".png", b"_c%d.png" % c)
                f.write(b"%s,%s,%s" % (usage, name, rest))
        os.replace(fpart, ferplus_path)
    os.replace(part, csv_path)


def read_source(data: Path, ferplus: Path | None) -> dict:
    """The full FER2013 (and its FER+ votes as raw lines) to make the synthetic files from."""
    from fer_core.data.dataset import read_fer2013_csv
    src = read_fer2013_csv(data)
    if ferplus:
        lines = Path(ferplus).read_bytes().splitlines(keepends=True)
        lines = [ln if ln.endswith(b"\n") else ln + b"\n" for ln in lines if ln.strip()]
        if len(lines) - 1 != len(src["labels"]):
            raise SystemExit(f"{ferplus}: {len(lines) - 1} rows, {data} has {len(src['labels'])}")
        src.update(ferplus_header=lines[0], ferplus_lines=lines[1:])
    return src


def synthetic_files(work: Path, n: int, *, source: Path, ferplus: Path | None, seed: int, src_cache: dict
                    ) -> tuple[Path, Path | None]:
    """The cached synthetic files of `n` faces under `work`/data (made when missing)."""
    d = work / "data"
    d.mkdir(parents=True, exist_ok=True)
    csv_path = d / f"fer2013-synth-{n}-s{seed}.csv.gz"
    fp_path = d / f"fer2013new-synth-{n}-s{seed}.csv" if ferplus else None
    if csv_path.exists() and (fp_path is None or fp_path.exists()):
        return csv_path, fp_path
    t0 = time.perf_counter()
    if "src" not in src_cache:
        print(f"reading {source} to make the synthetic files ...", flush=True)
        src_cache["src"] = read_source(source, ferplus)
    write_synthetic(src_cache["src"], n, csv_path, fp_path, seed=seed)
    print(f"[{n:>9,}] wrote {csv_path.name} ({csv_path.stat().st_size / 2**20:,.0f} MB) in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    return csv_path, fp_path


# ---- cells: one JSON each ----------------------------------------------------------------------
def cell_path(work: Path, n: int, cell: str) -> Path:
    return work / "results" / str(n) / f"{cell}.json"


def load_cell(work: Path, n: int, cell: str) -> dict | None:
    p = cell_path(work, n, cell)
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None


def save_cell(work: Path, n: int, cell: str, result: dict) -> dict:
    p = cell_path(work, n, cell)
    p.parent.mkdir(parents=True, exist_ok=True)
    result = {"size": n, "cell": cell, "when": time.strftime("%Y-%m-%d %H:%M"), **result}
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, p)
    return result


# ---- stages ------------------------------------------------------------------------------------
#: Pseudo-stages measured like the stages: the floor every stage process pays (importing prepare,
#: with torch and every analysis module; its peak is the baseline of the stages' peaks), and the
#: CSV parse into the empty cache.
IMPORTS_JS = """import time
t = time.perf_counter()
import fer_core.pipeline.prepare
print(f"[imports] built in {time.perf_counter() - t:.2f} s")"""
DATASET_JS = """import sys, time
from fer_core.data.dataset import load_dataset
t = time.perf_counter()
ds = load_dataset(sys.argv[1], sys.argv[2] or None)
print(f"[dataset] built in {time.perf_counter() - t:.2f} s: {len(ds)} images")"""


def child_env(cache: Path, threads: int) -> dict:
    """The environment of every child: this checkout's code, the size's cache, no seed, `threads`."""
    t = str(threads)
    return {**os.environ, "PYTHONPATH": str(ROOT), "FER_CACHE_DIR": str(cache), "FER_SEED_CACHE": "0",
            "OMP_NUM_THREADS": t, "MKL_NUM_THREADS": t, "OPENBLAS_NUM_THREADS": t, "NUMBA_NUM_THREADS": t,
            "PYTHONUNBUFFERED": "1"}


def prepare_stages() -> list[str]:
    """The stages `python -m fer_core.prepare` builds, in its order, in the checked-out code."""
    out = subprocess.run([sys.executable, "-c", "from fer_core.pipeline.prepare import STAGES; print(*STAGES)"],
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, capture_output=True, text=True,
                         check=True)
    return out.stdout.split()


#: stages that cache parts under another artifact name, cleared with them: an interrupted
#: robustness run left some corruptions' sweeps, and the next one timed only the rest
PART_ARTIFACTS = {"robustness": ("robustness_sweep",)}


def run_stage(stage: str, n: int, csv_path: Path, fp_path: Path | None, *, work: Path, threads: int,
              timeout_s: float) -> dict:
    """Build one stage of size `n` from scratch in a subprocess; the result cell (not saved)."""
    import shutil
    cache = work / f"cache-{n}"
    for name in (stage, *PART_ARTIFACTS.get(stage, ())):  # measured from scratch, not "cached"
        shutil.rmtree(cache / name, ignore_errors=True)
    if stage == "imports":
        cmd = [sys.executable, "-c", IMPORTS_JS]
    elif stage == "dataset":
        cmd = [sys.executable, "-c", DATASET_JS, str(csv_path), str(fp_path or "")]
    else:
        cmd = [sys.executable, "-m", "fer_core.prepare", "--data", str(csv_path), "--only", stage,
               "--threads", str(threads)] + (["--ferplus", str(fp_path)] if fp_path else [])
    log_path = work / "logs" / str(n) / f"{stage}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        r = run_measured(cmd, env=child_env(cache, threads), timeout_s=timeout_s, log=log)
    text = log_path.read_text(errors="replace")
    m = re.search(rf"\[{re.escape(stage)}\] built in ([\d.]+) s", text)
    if r["timed_out"]:
        status = "timeout"
    elif r["rc"] != 0:
        status = "failed"
    elif re.search(rf"\[{re.escape(stage)}\] skipped", text):
        status = "skipped"
    else:
        status = "ok" if m else "failed"
    out = {"kind": "stage", "status": status, "seconds": float(m.group(1)) if m else None, **r,
           "threads": threads, "log": str(log_path)}
    if status == "failed":
        out["error"] = text.strip().splitlines()[-6:]
    return out


# ---- pages -------------------------------------------------------------------------------------
#: Each page's main control: its main interaction, timed (bench_pages.visit) from the input event
#: to the end of the rerun it triggers with the expected content on screen. Url path: what is done.
MAIN_CONTROLS = {
    "": "none (first paint only)",
    "dataset": "Split filter -> PrivateTest ('N of M images match' updated)",
    "table": "All images: Sort by -> loss (to the end of its rerun)",
    "model": "click a confusion-matrix cell, fear -> sad (its images listed)",
    "embeddings": "click an isolated map point (its face card shown)",
    "label_errors": "Ranking -> cleanlab (the re-ranked gallery drawn)",
    "eigenfaces": "reconstruction of a new dataset index",
    "saliency": "a new dataset index (4 attribution maps)",
    "robustness": "Corruption -> eye occlusion",
    "experiments": "open the accuracy-vs-cost tab",
    "try_a_face": "upload a 640x480 photo with 2 faces",
}


def _page_actions():
    """{page url path: (ready(page), action(page, ctx) -> (seconds, what) or None)} for
    MAIN_CONTROLS; the pages not redefined here are bench_pages' own."""
    import bench_pages as bp

    def act_dataset(page, ctx):
        def expect():
            page.get_by_text(f"{ctx['n_private']:,} of {ctx['n']:,} images match").wait_for()
        return bp._pick_option(page, "Split", "PrivateTest", expect), "Split filter -> PrivateTest"

    def ready_table(page):
        page.get_by_role("heading", name="All images").wait_for()
        page.locator('[data-testid="stDataFrame"]').first.wait_for()

    def act_table(page, ctx):
        def expect():
            page.locator('[data-testid="stDataFrame"]').first.wait_for()
        return bp._pick_option(page, "Sort by", "loss", expect), "Sort by -> loss"

    def act_label_errors(page, ctx):
        return (bp._pick_option(page, "Ranking", "cleanlab", lambda: page.wait_for_function(bp.GALLERY_DRAWN)),
                "Ranking -> cleanlab")

    return {"": (bp.ready_home, None),
            "dataset": (bp.ready_dataset, act_dataset),
            "table": (ready_table, act_table),
            "model": (bp.ready_model, bp.act_model),
            "embeddings": (bp.ready_embeddings, bp.act_embeddings),
            "label_errors": (bp.ready_label_errors, act_label_errors),
            **{p: (ready, act) for p, ready, act in bp.PAGES
               if p in ("eigenfaces", "saliency", "robustness", "experiments", "try_a_face")}}


DEFAULT_PAGES = ("", "dataset", "table", "model", "embeddings", "label_errors")


def page_cell(path: str) -> str:
    return f"page-{path or 'home'}"


def run_pages(n: int, csv_path: Path, fp_path: Path | None, pages: list[str], *, work: Path, threads: int,
              timeout_s: float, force: bool) -> None:
    """First paint (first and second visit) and main-control time of each page; one cell each."""
    todo = [p for p in pages if force or not load_cell(work, n, page_cell(p))]
    if not todo:
        return
    sys.path.insert(0, str(ROOT / "tests"))
    import bench_pages as bp
    from browser_helpers import CHROMIUM, CHROMIUM_ARGS, serve_dashboard
    from playwright.sync_api import sync_playwright

    from fer_core.data.dataset import load_dataset
    from fer_core.store import Store
    cache = work / f"cache-{n}"
    point_app_at(cache, str(csv_path), str(fp_path) if fp_path else None)
    ds = load_dataset(csv_path, fp_path, store=Store(cache))
    ctx = {"n": len(ds), "n_happy": int((ds.labels == 3).sum()), "n_private": int((ds.split == "PrivateTest").sum()),
           "rows": ds.row, "photo": bp.photo(work / "bench_photo.jpg", ds)}
    del ds
    actions = _page_actions()
    os.environ.update(child_env(cache, threads))
    (work / "logs" / str(n)).mkdir(parents=True, exist_ok=True)
    with open(work / "logs" / str(n) / "streamlit-pages.log", "w") as log, sync_playwright() as pw, \
            serve_dashboard(cache, log=log, timeout_s=180) as url:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = bp.new_context(browser)
        t0 = time.perf_counter()
        try:  # the dataset into the server's cache, so each page's first visit is its own cost
            bp.visit(browser, context, url, "", bp.ready_home, None, ctx, timeout_s)
            print(f"[{n:>9,}] server up, Home loaded in {time.perf_counter() - t0:.1f} s", flush=True)
        except Exception as e:  # noqa: BLE001 - recorded per page below
            print(f"[{n:>9,}] Home failed to load: {str(e).splitlines()[0][:200]}", flush=True)
        for path in todo:
            ready, action = actions[path]
            res = {"kind": "page", "page": path or "home"}
            try:
                v1 = bp.visit(browser, context, url, path, ready, None, ctx, timeout_s)
                v2 = bp.visit(browser, context, url, path, ready, action, ctx, timeout_s)
                res.update(status="ok", first_paint_s=round(v1["first_paint_s"], 2), ready_s=round(v1["ready_s"], 2),
                           second_paint_s=round(v2["first_paint_s"], 2),
                           action_s=round(v2["action_s"], 2) if "action_s" in v2 else None,
                           action=v2.get("action"), exceptions=v1["exceptions"] + v2["exceptions"])
            except Exception as e:  # noqa: BLE001 - a page that fails or times out is a result
                res.update(status="timeout" if "Timeout" in type(e).__name__ else "failed",
                           error=str(e).splitlines()[:3])
            save_cell(work, n, page_cell(path), res)
            print(f"[{n:>9,}] page {path or 'home':13s} {_page_text(res)}", flush=True)
        browser.close()


def run_tabs(n: int, csv_path: Path, fp_path: Path | None, tabs: list[int], *, work: Path, threads: int,
             after_s: float, timeout_s: float) -> dict:
    """bench_tab_memory's readings: server RSS with `tabs` Embeddings tabs open, then closed."""
    import bench_tab_memory as btm
    os.environ.update(child_env(work / f"cache-{n}", threads))
    try:
        readings = btm.measure(work / f"cache-{n}", str(csv_path), str(fp_path) if fp_path else "", tabs=tabs,
                               after_s=after_s, settle_s=5, timeout_s=timeout_s)
        res = {"status": "ok", "readings": [{"what": w, "tabs": t, "rss_mb": round(mb, 1)} for w, t, mb in readings]}
    except Exception as e:  # noqa: BLE001 - recorded, the run goes on
        res = {"status": "timeout" if "Timeout" in type(e).__name__ else "failed", "error": str(e).splitlines()[:3]}
    return {"kind": "tabs", **res}


# ---- tables ------------------------------------------------------------------------------------
def _stage_text(r: dict | None) -> str:
    if r is None:
        return "—"
    if r["status"] == "ok":
        return f"{r['seconds']:,.1f} s / {r['peak_mb']:,.0f} MB"
    if r["status"] == "timeout":
        return f"timeout (> {r['wall_s']:,.0f} s)"
    return r["status"]


def _page_text(r: dict | None) -> str:
    if r is None:
        return "—"
    if r["status"] != "ok":
        return r["status"]
    act = f"; {r['action_s']:.2f}" if r.get("action_s") is not None else ""
    exc = f" ({len(r['exceptions'])} exception boxes)" if r.get("exceptions") else ""
    return f"{r['first_paint_s']:.1f} / {r['second_paint_s']:.1f}{act}{exc}"


def _exp_text(b: float | None) -> str:
    return "—" if b is None else f"**{b:.2f}** ⚠" if b > FLAG_EXPONENT else f"{b:.2f}"


def tables(work: Path, sizes: list[int], stages: list[str], pages: list[str], with_tabs: bool) -> tuple[str, list[str]]:
    """Markdown tables of every cell found for `sizes`; and the names flagged (exponent > 1.2)."""
    head = "| " + " | ".join(f"{n:,}" for n in sizes)
    flagged, out = [], []
    out += ["Stages: time the stage took (as prepare reports it) / peak RSS of its process.", "",
            f"| stage {head} | exponent (time) |", "|---" * (len(sizes) + 2) + "|"]
    for s in stages:
        cells = {n: load_cell(work, n, s) for n in sizes}
        ok = {n: c for n, c in cells.items() if c and c["status"] == "ok"}
        b = growth_exponent(list(ok), [c["seconds"] for c in ok.values()])
        if b is not None and b > FLAG_EXPONENT:
            flagged.append(f"stage {s}")
        out.append(f"| {s} | " + " | ".join(_stage_text(cells[n]) for n in sizes) + f" | {_exp_text(b)} |")
    if pages:
        out += ["", "Pages: first paint of the first visit / of the second visit; main control (s), the second visit.",
                "", f"| page: main control {head} | exponent (first paint) | exponent (control) |",
                "|---" * (len(sizes) + 3) + "|"]
        for p in pages:
            cells = {n: load_cell(work, n, page_cell(p)) for n in sizes}
            ok = {n: c for n, c in cells.items() if c and c["status"] == "ok"}
            b1 = growth_exponent(list(ok), [c["first_paint_s"] for c in ok.values()])
            b2 = growth_exponent(list(ok), [c.get("action_s") for c in ok.values()])
            flagged += [f"page {p or 'home'} ({w})" for w, b in (("first paint", b1), ("control", b2))
                        if b is not None and b > FLAG_EXPONENT]
            out.append(f"| {p or 'home'}: {MAIN_CONTROLS.get(p, '—')} | " + " | ".join(_page_text(cells[n]) for n in sizes)
                       + f" | {_exp_text(b1)} | {_exp_text(b2)} |")
    if with_tabs:
        out += ["", "Server RSS (MB) with Embeddings tabs open (bench_tab_memory):", "",
                ("| faces | server started | readings | after closing: --after s later; then after one more visit "
                 "| MB per extra tab |"), "|---|---|---|---|---|"]
        for n in sizes:
            c = load_cell(work, n, "tabs")
            if not c:
                continue
            if c["status"] != "ok":
                out.append(f"| {n:,} | {c['status']} | | | |")
                continue
            rd = c["readings"]
            open_ = [r for r in rd if r["what"].endswith("open")]
            per = ((open_[-1]["rss_mb"] - open_[0]["rss_mb"]) / (open_[-1]["tabs"] - open_[0]["tabs"])
                   if len(open_) > 1 else float("nan"))
            out.append(f"| {n:,} | {rd[0]['rss_mb']:,.0f} | "
                       + ", ".join(f"{r['tabs']} tab{'s' * (r['tabs'] > 1)}: {r['rss_mb']:,.0f}" for r in open_)
                       + " | " + "; ".join(f"{r['rss_mb']:,.0f}" for r in rd[1:] if not r["what"].endswith("open"))
                       + f" | {per:,.1f} |")
    return "\n".join(out), flagged


def record_body(text: str, flagged: list[str], *, command: str, threads: int) -> str:
    """The RESULTS.md section: machine, date, command, tables, flags."""
    m = machine_facts()
    flags = ("**Exponent > 1.2**: " + ", ".join(flagged) + ".") if flagged else "No exponent above 1.2."
    return (f"`{command}` — {time.strftime('%Y-%m-%d')}, {m['cpu']}, nproc {m['nproc']}, {m['ram_gib']} GiB RAM; "
            f"{threads} thread(s) (OMP/MKL/OpenBLAS/Numba and `prepare --threads`). Synthetic FER2013-format data "
            "(augmented copies of the full FER2013, labels, splits and FER+ votes carried over). The exponent b "
            f"fits t = a N^b by least squares on log-log over the sizes with a result; timeouts are left out "
            f"(the true exponent is then higher). On a shared machine, an exponent from two close sizes or from "
            f"times of a few seconds is mostly noise.\n\n{text}\n\n{flags}")


# ---- main --------------------------------------------------------------------------------------
def _ints(s: str) -> list[int]:
    return [int(x.replace("_", "")) for x in s.split(",") if x.strip()]


def _names(s: str) -> list[str]:
    return [x.strip() for x in s.split(",")]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True, help="data, caches, logs and results (reused by a rerun)")
    ap.add_argument("--sizes", type=_ints, default=list(SIZES), help="comma-separated face counts")
    ap.add_argument("--stages", type=_names, help="comma-separated: imports, dataset and prepare's stages (default: all)")
    ap.add_argument("--pages", type=_names, default=list(DEFAULT_PAGES),
                    help="comma-separated url paths ('home' or '' for Home; default: %(default)s)")
    ap.add_argument("--no-browser", action="store_true", help="stages only: no pages, no tab memory")
    ap.add_argument("--tabs", type=_ints, default=[1, 4], help="Embeddings tabs open at each memory reading")
    ap.add_argument("--after", type=float, default=150,
                    help="seconds after closing the tabs before the last reading (Streamlit keeps a closed tab's "
                         "session for server.disconnectedSessionTTL, 120 s by default, before freeing it)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds a stage may take before it is killed")
    ap.add_argument("--page-timeout", type=float, default=300, help="seconds a page visit or action may take")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads of every stage and the server")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--source", type=Path, default=DEFAULT_DATA, help="the FER2013 file the faces are made from")
    ap.add_argument("--source-ferplus", type=Path, default=DEFAULT_FERPLUS, help="its FER+ votes ('' for none)")
    ap.add_argument("--force", action="store_true", help="redo cells that have a result")
    ap.add_argument("--record", action="store_true", help=f"write the tables to {RESULTS_MD.name} ({SECTION!r})")
    ap.add_argument("--report", action="store_true",
                    help="run nothing: print (and with --record write) the tables of the cells already measured, "
                         "e.g. to join sizes measured by separate runs")
    a = ap.parse_args(argv)
    a.pages = ["" if p in ("home", "") else p for p in a.pages]
    actions = _page_actions()
    unknown = [p for p in a.pages if p not in actions]
    known = prepare_stages()
    stages = a.stages or [*PSEUDO_STAGES, *known]
    unknown += [s for s in stages if s not in PSEUDO_STAGES and s not in known]
    if unknown:
        ap.error(f"unknown stage(s) or page(s) {unknown}; stages: {', '.join([*PSEUDO_STAGES, *known])}; "
                 f"pages: {', '.join(p or 'home' for p in actions)}")
    ferplus = a.source_ferplus if str(a.source_ferplus) else None
    m = machine_facts()
    print(f"# bench_scale — {time.strftime('%Y-%m-%d %H:%M')} — {m['cpu']}, nproc {m['nproc']}, {m['ram_gib']} GiB; "
          f"{a.threads} thread(s); sizes {a.sizes}; code in {ROOT}", flush=True)
    src_cache: dict = {}
    for n in [] if a.report else a.sizes:
        csv_path, fp_path = synthetic_files(a.work, n, source=a.source, ferplus=ferplus, seed=a.seed,
                                            src_cache=src_cache)
        failed_before = False
        for s in stages:
            done = load_cell(a.work, n, s)
            if done and not a.force:
                print(f"[{n:>9,}] {s:18s} {_stage_text(done)} (done before)", flush=True)
                failed_before |= done["status"] in ("failed", "timeout")
                continue
            print(f"[{n:>9,}] {s:18s} ...", end=" ", flush=True)
            r = run_stage(s, n, csv_path, fp_path, work=a.work, threads=a.threads, timeout_s=a.timeout)
            if failed_before:
                r["note"] = "an earlier stage failed: may include building what it needs"
            failed_before |= r["status"] in ("failed", "timeout")
            save_cell(a.work, n, s, r)
            print(f"{_stage_text(r)}  (process {r['wall_s']:,.1f} s)" + (f"\n    {r['error'][-1]}" if "error" in r else ""),
                  flush=True)
        if a.no_browser:
            continue
        run_pages(n, csv_path, fp_path, a.pages, work=a.work, threads=a.threads, timeout_s=a.page_timeout,
                  force=a.force)
        if a.force or not load_cell(a.work, n, "tabs"):
            r = save_cell(a.work, n, "tabs", run_tabs(n, csv_path, fp_path, a.tabs, work=a.work, threads=a.threads,
                                                       after_s=a.after, timeout_s=a.page_timeout))
            print(f"[{n:>9,}] tabs: " + (", ".join(f"{x['what']} {x['rss_mb']:,.0f} MB" for x in r["readings"])
                                         if r["status"] == "ok" else r["status"]), flush=True)
    with_pages = not a.no_browser or a.report
    text, flagged = tables(a.work, a.sizes, stages, a.pages if with_pages else [], with_pages)
    print("\n" + text + "\n\n" + (f"exponent > {FLAG_EXPONENT}: {', '.join(flagged)}" if flagged else
                                  f"no exponent above {FLAG_EXPONENT}"))
    if a.record:
        command = "python bench/bench_scale.py " + " ".join(argv if argv is not None else sys.argv[1:])
        replace_section(RESULTS_MD, SECTION, record_body(text, flagged, command=command, threads=a.threads))
        print(f"\nwrote the section {SECTION!r} of {RESULTS_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
