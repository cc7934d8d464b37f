"""Server memory per open browser tab: the Embeddings page on the full data in 1, 4 and 8 tabs.

Starts `streamlit run dashboard/Home.py` with a scratch FER_CACHE_DIR whose artifact folders are
links to `--cache` (built beforehand: `python -m fer_core.prepare --data ... --ferplus ... --only
predictions projection_umap embedding_stats`; the given cache is only read), points the app at the
data file, and opens the Embeddings page in new tabs of one headless Chromium (each tab is a new
Streamlit session), waiting in each until the map has drawn. It reads the server process's
resident memory (VmRSS of /proc/<pid>/status) before any tab, after 1, 4 and 8 open tabs, and
`--after` seconds after closing them all, and prints the cost of each extra tab:
(RSS with 8 tabs - RSS with 1 tab) / 7.

    python bench/bench_tab_memory.py --cache /work/cache-full \\
        --data ../shared/datasets/fer2013/fer2013.csv.gz --ferplus ../shared/datasets/fer2013/fer2013new.csv

Issue 16 measured 55-65 MB per extra tab (8 tabs: 824 -> 1,387 MB) while every session got its own
unpickled copy of the predictions (st.cache_data); the target is a few MB.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from common import DEFAULT_DATA, DEFAULT_FERPLUS, ROOT, header

sys.path.insert(0, str(ROOT / "tests"))
from browser_helpers import CHROMIUM, CHROMIUM_ARGS, DONE, EXCEPTION, VIEWPORT, serve_dashboard  # noqa: E402

#: The map (the page's Plotly chart) has drawn its points.
MAP_DRAWN = """() => [...document.querySelectorAll('.js-plotly-plot')].some(g => g._fullData && g._fullData.length)"""


def rss_mb(pid: int) -> float:
    """Resident memory of process `pid` in MB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def server_pid() -> int:
    """The streamlit server: the child process of this one whose command line runs streamlit."""
    me = str(os.getpid())
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = (d / "stat").read_text().rsplit(")", 1)[1].split()[1]
            cmd = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if ppid == me and b"streamlit" in cmd:
            return int(d.name)
    raise RuntimeError("streamlit server process not found")


def scratch_cache(cache: Path, data: str, ferplus: str) -> Path:
    """A temporary FER_CACHE_DIR: links to `cache`'s artifact folders, its own settings.json."""
    tmp = Path(tempfile.mkdtemp(prefix="fer-tabmem-"))
    for entry in cache.iterdir():
        if entry.is_dir():
            (tmp / entry.name).symlink_to(entry.resolve())
    (tmp / "settings.json").write_text(json.dumps(
        {"data_source": {"kind": "path", "path": str(Path(data).resolve()),
                         "ferplus": str(Path(ferplus).resolve()) if ferplus else ""}}))
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", required=True, type=Path, help="FER_CACHE_DIR with the prepared artifacts (read only)")
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--ferplus", default=str(DEFAULT_FERPLUS))
    ap.add_argument("--tabs", type=int, nargs="+", default=[1, 4, 8], help="open tabs at each reading (increasing)")
    ap.add_argument("--after", type=float, default=180, help="seconds after closing every tab before the last reading")
    ap.add_argument("--settle", type=float, default=5, help="seconds to wait before each reading")
    ap.add_argument("--timeout", type=float, default=300, help="seconds a tab may take to draw the map")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    header(f"server memory per Embeddings tab, full data, code in {ROOT}")
    cache = scratch_cache(args.cache, args.data, args.ferplus)
    readings = []

    def read(what: str, n_tabs: int) -> float:
        time.sleep(args.settle)
        mb = rss_mb(pid)
        readings.append((what, n_tabs, mb))
        print(f"{what:32s} {n_tabs:2d} tabs  server RSS {mb:8,.0f} MB", flush=True)
        return mb

    with open(cache / "streamlit.log", "w") as log, sync_playwright() as pw, \
            serve_dashboard(cache, log=log, timeout_s=120) as url:
        pid = server_pid()
        read("server started", 0)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=VIEWPORT)
        tabs = []
        for n in args.tabs:
            while len(tabs) < n:
                t0 = time.perf_counter()
                tabs.append(open_tab(context, url, args.timeout))
                print(f"  tab {len(tabs)} drew the map in {time.perf_counter() - t0:.1f} s", flush=True)
            read(f"{n} Embeddings tab(s) open", n)
        for t in tabs:
            t.close()
        context.close()
        browser.close()
        time.sleep(max(args.after - args.settle, 0))
        read(f"{args.after:.0f} s after closing them", 0)

    by_tabs = {n: mb for what, n, mb in readings if what.endswith("open")}
    lo, hi = min(by_tabs), max(by_tabs)
    per_tab = (by_tabs[hi] - by_tabs[lo]) / (hi - lo) if hi > lo else float("nan")
    print(f"\nper extra tab: {per_tab:,.1f} MB  (({hi} tabs: {by_tabs[hi]:,.0f} MB - {lo} tab: {by_tabs[lo]:,.0f} MB) "
          f"/ {hi - lo}); after closing: {readings[-1][2]:,.0f} MB")
    print("| open tabs | " + " | ".join(str(n) for n in by_tabs) + f" | {args.after:.0f} s after closing | MB per extra tab |")
    print("|---" * (len(by_tabs) + 3) + "|")
    print("| server RSS (MB) | " + " | ".join(f"{mb:,.0f}" for mb in by_tabs.values())
          + f" | {readings[-1][2]:,.0f} | {per_tab:,.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
