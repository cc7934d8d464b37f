"""The Embeddings page at a million points: first paint, a click and a box, in headless Chromium.

    python bench/bench_map_1m.py [--n 1000000] [--visits 3] [--width 1280]

The map is synthetic (tests/map_1m.py: seven blobs and a planted cluster of 23 rows; its
predictions and projection saved in a scratch store under the page's own keys), served by
tests/map_1m_app.py. Each visit is a new tab (the server's caches warm after the first):

* first paint: navigation to the map's scatter drawn (Plotly's traces in the DOM);
* click: a click on an isolated drawn point to its image's panel on screen ("Image #row");
* box: from the release of a box dragged over the planted cluster to "23 selected images" on
  screen (the heading counts exactly its rows).

Prints each visit and the medians (the first visit also builds the server's caches: it is
reported apart and left out of the median when there are more visits).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

from common import ROOT, header

sys.path.insert(0, str(ROOT / "tests"))
import map_1m
from browser_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ISOLATED_POINT_JS,
    RUN_COUNTER_JS,
    box_drag,
    serve_dashboard,
    wait_idle,
)

MAP_DRAWN = """() => { const g = document.querySelectorAll('.js-plotly-plot')[0];
  return !!(g && g._fullLayout && g._fullLayout.xaxis && g._fullData.length > 1) }"""


def visit(context, url: str, info: dict) -> dict:
    page = context.new_page()
    page.set_default_timeout(120_000)
    t0 = time.perf_counter()
    page.goto(f"{url}/embeddings", wait_until="commit")
    page.wait_for_function(MAP_DRAWN, timeout=120_000)
    first = time.perf_counter() - t0
    wait_idle(page, 0, 120)
    pt = page.evaluate(ISOLATED_POINT_JS)
    page.mouse.move(pt["px"], pt["py"])
    page.wait_for_timeout(300)
    t0 = time.perf_counter()
    page.mouse.click(pt["px"], pt["py"])
    page.get_by_role("heading", name=f"Image #{pt['row']}").wait_for(timeout=60_000)
    click = time.perf_counter() - t0
    wait_idle(page, 0, 60)
    t0 = box_drag(page, info["box"])
    n = len(info["planted"])
    page.get_by_role("heading", name=f"{n} selected images").wait_for(timeout=60_000)
    box = time.perf_counter() - t0
    page.close()
    return {"first paint": first, "click": click, "box": box}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--visits", type=int, default=3)
    ap.add_argument("--width", type=int, default=1280)
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright
    header(f"Embeddings map at {args.n:,} points, headless Chromium at {args.width} px")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        info = map_1m.plant(tmp, n=args.n)
        print(f"synthetic map planted in {time.perf_counter() - t0:.1f} s")
        with sync_playwright() as pw, serve_dashboard(tmp, app=map_1m.APP, timeout_s=120) as url:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": args.width, "height": 900})
            context.add_init_script(RUN_COUNTER_JS)
            runs = []
            for k in range(args.visits):
                r = visit(context, url, info)
                runs.append(r)
                print(f"visit {k + 1}: " + ", ".join(f"{m} {v:.2f} s" for m, v in r.items()), flush=True)
            browser.close()
    warm = runs[1:] or runs
    print("median (warm visits): " + ", ".join(f"{m} {statistics.median(r[m] for r in warm):.2f} s"
                                               for m in runs[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
