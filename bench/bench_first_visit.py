"""First visit of every page on the bundled sample, as a new user meets it: a fresh server with an
empty cache, each page opened once in a new tab of headless Chromium (1280 px), timed from the
navigation to the end of its script run with its content on screen.

    python bench/bench_first_visit.py              # with the shipped seed (the default install)
    python bench/bench_first_visit.py --no-seed    # FER_SEED_CACHE=0: everything computed on first use

Target (issue 17): at most 10 s for any page, progress shown while it works.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from common import ROOT, header

sys.path.insert(0, str(ROOT / "tests"))
from browser_helpers import CHROMIUM, CHROMIUM_ARGS, DONE, EXCEPTION, RUN_COUNTER_JS, serve_dashboard, wait_idle  # noqa: E402

PAGES = ["", "dataset", "eigenfaces", "model", "embeddings", "saliency", "label_errors", "try_a_face", "robustness",
         "experiments"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-seed", action="store_true", help="do not read the shipped seed artifacts")
    ap.add_argument("--pages", nargs="*", default=PAGES, help="url paths in visiting order ('' is Home)")
    ap.add_argument("--width", type=int, default=1280)
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    os.environ["FER_SEED_CACHE"] = "0" if a.no_seed else "1"
    header(f"first visit of each page on the bundled sample, empty cache, seed {'off' if a.no_seed else 'on'}")
    rows = []
    with tempfile.TemporaryDirectory() as cache, serve_dashboard(cache, timeout_s=120) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": a.width, "height": 1000})
        for path in a.pages:
            page = ctx.new_page()
            page.add_init_script(RUN_COUNTER_JS)
            t0 = time.perf_counter()
            page.goto(f"{url}/{path}")
            wait_idle(page, 0, timeout_s=300)
            page.wait_for_selector(DONE)
            secs = time.perf_counter() - t0
            rows.append((path or "Home", secs, page.locator(EXCEPTION).count()))
            print(f"  {path or 'Home':14s} {secs:6.1f} s  exceptions {rows[-1][2]}", flush=True)
            page.close()
        browser.close()
    print("| page | first visit (s) | exception boxes |\n| --- | --- | --- |")
    for name, secs, exc in rows:
        print(f"| {name} | {secs:.1f} | {exc} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
