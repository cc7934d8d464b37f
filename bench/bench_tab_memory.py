"""Server memory per open browser tab: the Embeddings page on the full data in 1, 4 and 8 tabs.

Starts `streamlit run dashboard/Home.py` with a scratch FER_CACHE_DIR whose artifact folders are
links to `--cache` (built beforehand: `python -m fer_core.prepare --data ... --ferplus ... --only
predictions projection_umap embedding_stats`; the given cache is only read), points the app at the
data file, and opens the Embeddings page in new tabs of one headless Chromium (each tab is a new
Streamlit session), waiting in each until the map has drawn. It reads the server process's
resident memory (VmRSS of /proc/<pid>/status) before any tab, after 1, 4 and 8 open tabs,
`--after` seconds after closing them all, and once more after one Home visit opened and closed
(Streamlit drops expired sessions only when its session store is next written), and prints the
cost of each extra tab:
(RSS with 8 tabs - RSS with 1 tab) / 7.

    python bench/bench_tab_memory.py --cache /work/cache-full \\
        --data ../shared/datasets/fer2013/fer2013.csv.gz --ferplus ../shared/datasets/fer2013/fer2013new.csv

Issue 16 measured 55-65 MB per extra tab (8 tabs: 824 -> 1,387 MB) while every session got its own
unpickled copy of the predictions (st.cache_data); the target is a few MB.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from common import (
    DEFAULT_DATA,
    DEFAULT_FERPLUS,
    ROOT,
    header,
    point_app_at,
    rss_mb,
    server_pid,
)

sys.path.insert(0, str(ROOT / "tests"))
from browser_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DONE,
    EXCEPTION,
    VIEWPORT,
    serve_dashboard,
)

#: The map (the page's Plotly chart) has drawn its points.
MAP_DRAWN = """() => [...document.querySelectorAll('.js-plotly-plot')].some(g => g._fullData && g._fullData.length)"""


def scratch_cache(cache: Path, data: str, ferplus: str) -> Path:
    """A temporary FER_CACHE_DIR: links to `cache`'s artifact folders, its own settings.json."""
    tmp = Path(tempfile.mkdtemp(prefix="fer-tabmem-"))
    for entry in cache.iterdir():
        if entry.is_dir():
            (tmp / entry.name).symlink_to(entry.resolve())
    point_app_at(tmp, data, ferplus)
    return tmp


def open_tab(context, url: str, timeout_s: float):
    """A new tab on the Embeddings page, returned once its run has finished and the map has drawn."""
    page = context.new_page()
    page.set_default_timeout(timeout_s * 1000)
    page.goto(f"{url}/embeddings")
    page.wait_for_function(MAP_DRAWN, timeout=timeout_s * 1000)
    page.wait_for_selector(DONE, timeout=timeout_s * 1000)
    if page.locator(EXCEPTION).count():
        raise RuntimeError(f"exception on the page: {page.locator(EXCEPTION).first.inner_text()[:500]}")
    return page


def measure(cache: Path, data: str, ferplus: str, *, tabs=(1, 4, 8), after_s: float = 180, settle_s: float = 5,
            timeout_s: float = 300, rounds: int = 1) -> list[tuple[str, int, float]]:
    """Server RSS readings [(what, open tabs, MB)]: at start, with each count of `tabs` (increasing)
    Embeddings tabs open, `after_s` seconds after closing them all, and after one more (Home) visit
    opened and closed (progress printed). With `rounds` > 1 the tabs are opened and closed again
    that many times in all, with a reading at the top count and after each close: memory that
    sessions hand back and the next ones reuse stays level, a leak grows by the tabs' cost a round."""
    from playwright.sync_api import sync_playwright

    cache = scratch_cache(cache, data, ferplus)
    readings = []

    def read(what: str, n_tabs: int) -> float:
        time.sleep(settle_s)
        mb = rss_mb(pid)
        readings.append((what, n_tabs, mb))
        print(f"{what:40s} {n_tabs:2d} tabs  server RSS {mb:8,.0f} MB", flush=True)
        return mb

    with open(cache / "streamlit.log", "w") as log, sync_playwright() as pw, \
            serve_dashboard(cache, log=log, timeout_s=120) as url:
        pid = server_pid()
        read("server started", 0)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for r in range(1, rounds + 1):
            context = browser.new_context(viewport=VIEWPORT)
            opened = []
            for n in tabs if r == 1 else tabs[-1:]:
                while len(opened) < n:
                    t0 = time.perf_counter()
                    opened.append(open_tab(context, url, timeout_s))
                    print(f"  tab {len(opened)} drew the map in {time.perf_counter() - t0:.1f} s", flush=True)
                read(f"{n} Embeddings tab(s) open" if r == 1 else f"round {r}: {n} tabs open", n)
            context.close()
            time.sleep(max(after_s - settle_s, 0))
            if r == 1:
                read(f"{after_s:.0f} s after closing them", 0)
            # Streamlit keeps a closed tab's session in a TTL cache that drops expired entries only
            # on its next write (streamlit.runtime.caching.ttl_cache): when the next tab connects
            # and closes, as on any server with more than one visitor. One Home visit, then a reading.
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            page.goto(url, timeout=timeout_s * 1000)
            page.wait_for_selector(DONE, timeout=timeout_s * 1000)
            context.close()
            read("then one Home visit opened and closed" if r == 1 else f"round {r}: closed, then one visit", 0)
        browser.close()
    return readings


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", required=True, type=Path, help="FER_CACHE_DIR with the prepared artifacts (read only)")
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--ferplus", default=str(DEFAULT_FERPLUS))
    ap.add_argument("--tabs", type=int, nargs="+", default=[1, 4, 8], help="open tabs at each reading (increasing)")
    ap.add_argument("--after", type=float, default=180, help="seconds after closing every tab before the last reading")
    ap.add_argument("--settle", type=float, default=5, help="seconds to wait before each reading")
    ap.add_argument("--timeout", type=float, default=300, help="seconds a tab may take to draw the map")
    ap.add_argument("--rounds", type=int, default=1, help="open and close the tabs this many times (the later "
                    "rounds open the largest count only)")
    ap.add_argument("--ttl", type=float, default=0, help="the server's disconnectedSessionTTL in seconds (0: "
                    "Streamlit's default, 120 s); set --after above it")
    args = ap.parse_args(argv)
    header(f"server memory per Embeddings tab, full data, code in {ROOT}")
    if args.ttl:
        os.environ["STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL"] = str(int(args.ttl))
    readings = measure(args.cache, args.data, args.ferplus, tabs=args.tabs, after_s=args.after, settle_s=args.settle,
                       timeout_s=args.timeout, rounds=args.rounds)
    later = [x for x in readings if x[0].startswith("round ")]
    readings = readings[:len(readings) - len(later)]  # the later rounds' readings come last

    by_tabs = {n: mb for what, n, mb in readings if what.endswith("open")}
    lo, hi = min(by_tabs), max(by_tabs)
    per_tab = (by_tabs[hi] - by_tabs[lo]) / (hi - lo) if hi > lo else float("nan")
    print(f"\nper extra tab: {per_tab:,.1f} MB  (({hi} tabs: {by_tabs[hi]:,.0f} MB - {lo} tab: {by_tabs[lo]:,.0f} MB) "
          f"/ {hi - lo}); {args.after:.0f} s after closing: {readings[-2][2]:,.0f} MB, then after one more visit: "
          f"{readings[-1][2]:,.0f} MB")
    print("| open tabs | " + " | ".join(str(n) for n in by_tabs)
          + f" | {args.after:.0f} s after closing | then one more visit | MB per extra tab |")
    print("|---" * (len(by_tabs) + 4) + "|")
    print("| server RSS (MB) | " + " | ".join(f"{mb:,.0f}" for mb in by_tabs.values())
          + f" | {readings[-2][2]:,.0f} | {readings[-1][2]:,.0f} | {per_tab:,.1f} |")
    for what, _, mb in later:
        print(f"{what}: {mb:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
