"""Seconds to decide 100 faces on the Review page with the keyboard alone (headless Chromium, 1280 px).

Starts `streamlit run dashboard/Home.py` with FER_CACHE_DIR=<cache>, opens
`/review?sel=r<first>-<first+n-1>` (a selection of n faces from the URL) and presses one decision
key per face (n, m, x, d, 3 in turn), each as soon as the previous face's successor is on screen
(counter and image loaded): the time a reviewer who never waits for anything else would take.
The decisions it made are removed from the flag store afterwards.

    python bench/bench_review_keyboard.py                       # bundled sample, temporary cache
    python bench/bench_review_keyboard.py --cache /tmp/fercache-full \
        --data ../shared/datasets/fer2013/fer2013.csv.gz --ferplus ../shared/datasets/fer2013/fer2013new.csv
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, header

sys.path.insert(0, str(ROOT / "tests"))
from browser_helpers import (CHROMIUM, CHROMIUM_ARGS, REVIEW_FACE, RUN_COUNTER_JS, review_by_keyboard,  # noqa: E402
                             serve_dashboard, wait_idle, wait_images)

KEYS = ("n", "m", "x", "d", "3")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", help="FER_CACHE_DIR of the server (default: a temporary folder)")
    ap.add_argument("--data", help="fer2013.csv[.gz] to show (default: the bundled sample)")
    ap.add_argument("--ferplus", default="", help="fer2013new.csv")
    ap.add_argument("--n", type=int, default=100, help="faces to decide")
    ap.add_argument("--first", type=int, default=0, help="dataset index of the first face")
    ap.add_argument("--width", type=int, default=1280)
    a = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from fer_core.data.dataset import load_dataset
    from fer_core.data.flags import FlagStore
    cache = Path(a.cache or tempfile.mkdtemp(prefix="fer-bench-review-"))
    cache.mkdir(parents=True, exist_ok=True)
    if a.data:
        settings = json.loads((cache / "settings.json").read_text()) if (cache / "settings.json").is_file() else {}
        settings["data_source"] = {"kind": "path", "path": str(Path(a.data).resolve()),
                                   "ferplus": str(Path(a.ferplus).resolve()) if a.ferplus else ""}
        (cache / "settings.json").write_text(json.dumps(settings))
    ds = load_dataset(a.data or None, a.ferplus or None)
    flags = FlagStore(cache / "flags.sqlite")
    before = set(flags.history(ds.data_hash)["id"].tolist())
    header(f"Review page: {a.n} faces decided with the keyboard, {a.width} px, {len(ds):,} images")
    try:
        with serve_dashboard(cache) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": a.width, "height": 900}).new_page()
            page.context.add_init_script(RUN_COUNTER_JS)
            t0 = time.perf_counter()
            page.goto(f"{url}/review?sel=r{a.first}-{a.first + a.n - 1}&sel_from=bench")
            wait_idle(page, 0, 600)
            wait_images(page)
            print(f"page open with the first face: {time.perf_counter() - t0:.1f} s "
                  f"({page.locator(REVIEW_FACE).inner_text().splitlines()[0]})")
            t0 = time.perf_counter()
            times = review_by_keyboard(page, [KEYS[k % len(KEYS)] for k in range(a.n)])
            total = time.perf_counter() - t0
            browser.close()
    finally:
        made = [i for i in flags.history(ds.data_hash)["id"].tolist() if i not in before]
        saved = len(made)
        flags.remove(data_hash=ds.data_hash, ids=made)
    print(f"{a.n} faces: {total:.1f} s ({total / a.n:.2f} s per face; press to next face shown: median "
          f"{statistics.median(times):.2f} s, p90 {sorted(times)[int(0.9 * len(times)) - 1]:.2f} s, max "
          f"{max(times):.2f} s); {saved} decisions saved in SQLite (removed again)")
    return 0 if saved == a.n else 1


if __name__ == "__main__":
    sys.exit(main())
