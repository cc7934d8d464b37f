"""Robustness sweeps on the full FER2013: the full Gaussian-noise sweep, and the cached page render.

    python bench/bench_robustness.py [--data PATH] [--model compact] [--repeats 3] [--threads 0] [--no-browser]

Targets (issue 6), on the 2-core CPU: the Gaussian-noise sweep (the study's 7 variance levels x
the 3,589 PrivateTest images x 3 repeats) with the compact model in <= 3 min; a cached sweep
renders in <= 2 s. The sweeps go to a temporary FER_CACHE_DIR (the repo's cache/ is untouched):
first the Gaussian sweep (timed), then the page's other default sweeps (blur, eye occlusion,
FGSM), then the Robustness page is rendered from that cache: in-process with Streamlit's AppTest
(the script run alone, first in this process and again), and in headless Chromium (until the
four charts are drawn and every image has loaded: opening the page in a new tab of a fresh
server, then clicking Robustness in the sidebar from the Dataset page, as a user moves
between pages).
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from common import DEFAULT_DATA, ROOT, Timer, header

PAGE_CORRUPTIONS = ("gaussian_blur", "occlusion_eyes", "fgsm")  # the page's default set, with gaussian_noise


def load() -> str:
    a = os.getloadavg()
    return f"load average {a[0]:.2f} / {a[1]:.2f} / {a[2]:.2f} (1 / 5 / 15 min) on {os.cpu_count()} cores"


def render_apptest(runs: int = 3) -> list[float]:
    from streamlit.testing.v1 import AppTest
    times = []
    at = AppTest.from_file(str(ROOT / "pages" / "robustness.py"), default_timeout=300)
    for _ in range(runs):
        t0 = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t0)
        assert not at.exception, [e.value for e in at.exception]
        assert not at.info or not any("not computed" in i.value for i in at.info), [i.value for i in at.info]
    return times


def render_browser(cache: str, navigations: int = 2) -> tuple[float, list[float]]:
    """(first visit in a fresh browser context, [in-app navigations Dataset -> Robustness]), each until the
    script run is done, the four charts are drawn and every image has loaded."""
    sys.path.insert(0, str(ROOT / "tests"))
    from browser_helpers import CHROMIUM, CHROMIUM_ARGS, RUN_COUNTER_JS, runs_done, serve_dashboard, wait_idle, wait_images
    from playwright.sync_api import sync_playwright
    drawn = """() => [...document.querySelectorAll('.js-plotly-plot')]
        .filter(gd => gd._fullData && gd._fullData.length && gd.querySelector('.trace, .hm')).length >= 4"""

    def until_drawn(page, after: int, t0: float) -> float:
        page.wait_for_function("n => (window.__stRunsDone || 0) > n", arg=after, timeout=120_000)
        page.wait_for_function(drawn, timeout=120_000)
        wait_images(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        return time.perf_counter() - t0

    with serve_dashboard(cache) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
        page.context.add_init_script(RUN_COUNTER_JS)
        t0 = time.perf_counter()
        page.goto(f"{url}/robustness")
        first = until_drawn(page, 0, t0)
        wait_idle(page, 0, 120)
        nav, times = page.locator('[data-testid="stSidebarNav"]'), []
        for _ in range(navigations):
            n = runs_done(page)
            nav.get_by_text("Dataset", exact=True).click()
            page.wait_for_function("n => (window.__stRunsDone || 0) > n", arg=n, timeout=120_000)
            wait_idle(page, n, 120)
            n, t0 = runs_done(page), time.perf_counter()
            nav.get_by_text("Robustness", exact=True).click()
            times.append(until_drawn(page, n, t0))
        browser.close()
    return first, times


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--model", default="compact")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--no-browser", action="store_true", help="skip the Chromium render")
    p.add_argument("--cache", help="cache folder to use (default: a new temporary one; an existing one with the "
                                   "sweeps in it skips straight to the render timings)")
    a = p.parse_args()
    import torch
    if a.threads:
        torch.set_num_threads(a.threads)
    cache = a.cache or tempfile.mkdtemp(prefix="fer-bench-robustness-")
    os.environ["FER_CACHE_DIR"] = cache
    from fer_core.analysis import robustness as rb
    from fer_core.config import RobustnessConfig
    from fer_core.data.dataset import load_dataset
    from fer_core.training.evaluate import evaluate
    from fer_core.store import Store

    header("Robustness")
    print(f"torch threads {torch.get_num_threads()}; {load()} at start")
    store = Store(cache)
    ds = load_dataset(a.data, store=store)
    cfg = RobustnessConfig(repeats=a.repeats)
    rows, _ = rb.select_rows(ds, cfg)
    with Timer() as t:
        res = rb.get_sweep(ds, "gaussian_noise", cfg, model=a.model, store=store)
    passes = 1 + (len(res["levels"]) - 1) * a.repeats
    print(f"Gaussian-noise sweep, {len(res['levels'])} levels x {len(rows):,} {cfg.split} images x {a.repeats} repeats "
          f"({passes} passes = {passes * len(rows):,} forward passes, batch 128): {t.seconds:.1f} s this call, "
          f"sweep {float(res['seconds']):.1f} s when computed (the rest: model load, store) -- target <= 180 s")
    s = rb.summarize(res)
    print("  accuracy per variance: " + ", ".join(f"{v:g}: {m:.1%} ± {sd:.1%}" for v, m, sd in
                                                  zip(res["levels"], s["mean"], s["std"])))
    clean = evaluate(a.model, ds, split=cfg.split)["accuracy"]
    print(f"  severity 0 = evaluate's clean accuracy: {float(res['accuracy'][0, 0]):.4%} vs {clean:.4%} "
          f"({'identical' if float(res['accuracy'][0, 0]) == clean else 'DIFFERENT'})")
    print(f"  after the sweep: {load()}")

    for c in PAGE_CORRUPTIONS:
        r = rb.get_sweep(ds, c, cfg, model=a.model, store=store)
        print(f"{c}: {len(r['levels'])} levels, computed in {float(r['seconds']):.1f} s; "
              f"mean accuracy over severities > 0: {float(r['accuracy'][:, 1:].mean()):.1%}")

    (Path(cache) / "settings.json").write_text(json.dumps({"data_source": {"kind": "path", "path": a.data,
                                                                           "ferplus": ""}}))
    times = render_apptest()
    print(f"cached render, AppTest script run of pages/robustness.py (4 sweeps, {len(rows):,} images): first "
          f"{times[0]:.2f} s (imports, dataset from the store, model), then "
          f"{', '.join(f'{x:.2f}' for x in times[1:])} s "
          "-- target <= 2 s")
    if not a.no_browser:
        try:
            first, nav = render_browser(cache)
            print(f"cached render in headless Chromium, until the 4 charts are drawn and every image has loaded: "
                  f"opening the page in a new tab of a fresh server {first:.2f} s (Streamlit's frontend and the "
                  f"server's first imports included); clicking Robustness in the sidebar from the Dataset page "
                  f"{', '.join(f'{x:.2f}' for x in nav)} s -- target <= 2 s")
        except Exception as e:  # no chromium / playwright
            print(f"browser render skipped: {type(e).__name__}: {e}")
    print(f"{load()} at the end")


if __name__ == "__main__":
    main()
