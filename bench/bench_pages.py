"""Render time of every dashboard page in a real browser (headless Chromium), on the full data.

Starts `streamlit run dashboard/Home.py` with FER_CACHE_DIR=<cache> (built beforehand with
`python -m fer_core.prepare --data ... --ferplus ...` into the same folder), points the app at the
data file, and for every page measures, each visit in a new tab (a new Streamlit session on the
same server; one browser, so its HTTP cache holds Streamlit's and Plotly's JavaScript after the
first page, as for a returning user; `--fresh-browser` empties it for every visit):

- first paint: from navigation to the page's meaningful content (its heading plus its first
  chart / face image / gallery, loaded) being visible;
- ready: to the end of the script run (Streamlit's "not running" state);
- all charts: until every chart on the page (Plotly or Vega-Lite) has drawn;
- action: the page's main control (a filter, a point or cell click, an upload), from the input
  event to the end of the rerun it triggers with the expected content on screen.

The first visit of a page in a fresh server includes one-off loads (dataset from the cache,
predictions, figures built once per process); later visits are reported separately. Then, in one
tab, it moves through the pages with the sidebar (how people use the app): "nav" is from the
click to the end of the new page's run with its content on screen.

    python bench/bench_pages.py --cache /tmp/fercache-full \
        --data ../shared/datasets/fer2013/fer2013.csv.gz --ferplus ../shared/datasets/fer2013/fer2013new.csv

Targets (issue 7), with artifacts cached: first meaningful paint <= 3 s, filter change or click <= 1 s.
"""
from __future__ import annotations

import argparse
import io
import json
import re
import statistics
import sys
import time
from pathlib import Path

from common import DEFAULT_DATA, DEFAULT_FERPLUS, ROOT, header, point_app_at

sys.path.insert(0, str(ROOT / "tests"))
from browser_helpers import (
    CELL_JS,
    CHROMIUM,
    CHROMIUM_ARGS,
    DONE,
    EXCEPTION,
    RUN_COUNTER_JS,
    VIEWPORT,
    serve_dashboard,
)
from browser_helpers import runs_done as runs

#: A Vega-Lite chart (what a page draws first: the fer_core.figures modules) has drawn its marks.
VEGA_DRAWN = """() => !!document.querySelector('[data-testid="stVegaLiteChart"] .role-mark path')"""
#: Every chart of the page drawn (Plotly and Vega-Lite) and no element still loading its code.
ALL_DRAWN = """() => !document.querySelector('[data-testid="stSkeleton"]') &&
  [...document.querySelectorAll('.js-plotly-plot')].every(g => g._fullData && g._fullData.length) &&
  [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')].every(c => c.querySelector('.role-mark, canvas'))"""
IMG_LOADED = """sel => { const i = document.querySelector(sel); return !!(i && i.complete && i.naturalWidth > 0); }"""
#: A gallery of faces has drawn: st.image thumbnails, or the clickable face grid (Vega-Lite image marks).
GALLERY_DRAWN = """() => [...document.querySelectorAll('[data-testid="stImage"] img')].some(i => i.complete && i.naturalWidth > 0)
  || !!document.querySelector('[data-testid="stVegaLiteChart"] g.mark-image image')"""
PLOT_DRAWN = """() => [...document.querySelectorAll('.js-plotly-plot')].some(g => g._fullData && g._fullData.length)"""

#: A well-separated point of the map (row, page pixels): the most isolated of 300 seeded candidates.
MAP_POINT_JS = """() => {
  const gd = document.querySelectorAll('.js-plotly-plot')[0];
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
  const px = [], py = [], row = [];
  gd._fullData.forEach(t => { if (!t.customdata) return; for (let i = 0; i < t.x.length; i++) {
    px.push(box.left + xa._offset + xa.l2p(t.x[i])); py.push(box.top + ya._offset + ya.l2p(t.y[i]));
    row.push(Number(t.customdata[i])); } });
  let s = 12345, best = -1, bestD = -1;
  for (let c = 0; c < 300; c++) {
    s = (s * 1103515245 + 12345) % 2147483648; const p = s % px.length;
    if (px[p] < box.left + xa._offset + 15 || px[p] > box.left + xa._offset + xa._length - 15 ||
        py[p] < box.top + ya._offset + 15 || py[p] > Math.min(box.top + ya._offset + ya._length, window.innerHeight) - 15) continue;
    let d = Infinity;
    for (let q = 0; q < px.length; q++) if (q !== p) d = Math.min(d, Math.hypot(px[q] - px[p], py[q] - py[p]));
    if (d > bestD) { bestD = d; best = p; }
  }
  return {row: row[best], px: px[best], py: py[best], n: px.length};
}"""

def wait_run(page, after: int, timeout_s: float = 120) -> None:
    """Until more than `after` script runs have finished and none is running."""
    page.wait_for_function("n => (window.__stRunsDone || 0) > n", arg=after, timeout=timeout_s * 1000)
    page.wait_for_selector(DONE, timeout=timeout_s * 1000)


# ---- per page: what "meaningful content" is, and the main control --------------------------------
def ready_home(page):
    page.get_by_role("heading", name="FER Explorer").wait_for()
    page.wait_for_function(VEGA_DRAWN)  # images per split and class


def ready_dataset(page):
    page.get_by_role("heading", name="Dataset").wait_for()
    page.wait_for_function(GALLERY_DRAWN)


def _pick_option(page, box: str, option: str, expect) -> float:
    """Seconds from choosing `option` in the select box labelled `box` to the end of its rerun
    with `expect()` satisfied."""
    page.get_by_role("combobox", name=box, exact=True).click()
    page.keyboard.press("ArrowDown")  # opens the list when the click only focused the box
    opt = page.get_by_role("option", name=option, exact=True)
    opt.wait_for()
    n = runs(page)
    t0 = time.perf_counter()
    opt.click()
    wait_run(page, n)
    expect()
    return time.perf_counter() - t0


def act_dataset(page, ctx):
    def expect():
        page.get_by_text(f"{ctx['n_happy']:,} of {ctx['n']:,} images match").wait_for()
        page.wait_for_function(IMG_LOADED, arg='[data-testid="stImage"] img')
    dt = _pick_option(page, "FER2013 label", "happy", expect)
    page.keyboard.press("Escape")
    return dt, "label filter -> happy"


def ready_eigenfaces(page):
    page.get_by_role("heading", name="Mean faces").wait_for()
    page.wait_for_function(IMG_LOADED, arg='[data-testid="stImage"] img')


def _number_input(page, label_re: str, value: int, expect):
    box = page.get_by_label(re.compile(label_re)).first
    box.fill(str(value))
    n = runs(page)
    t0 = time.perf_counter()
    box.press("Enter")
    wait_run(page, n)
    expect()
    return time.perf_counter() - t0


def act_eigenfaces(page, ctx):
    i = ctx['n'] // 3 + 1
    dt = _number_input(page, r"^Dataset index", i,
                       lambda: page.get_by_text(f"source row {ctx['rows'][i]}", exact=False).first.wait_for())
    return dt, "reconstruction: new dataset index"


def _click_at(page, pt: dict, expect) -> float:
    """Seconds from a mouse click at page pixels (pt["px"], pt["py"]) (hovered first, as a person
    does) to the end of its rerun with `expect()` satisfied."""
    page.mouse.move(pt["px"], pt["py"])
    page.wait_for_timeout(300)
    n = runs(page)
    t0 = time.perf_counter()
    page.mouse.click(pt["px"], pt["py"])
    wait_run(page, n)
    expect()
    return time.perf_counter() - t0


#: The Model page's confusion matrix (Vega-Lite, SVG) has drawn its 49 cells.
CM_DRAWN = """() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"] g.mark-rect path')]
                    .filter(e => (e.getAttribute('aria-label') || '').startsWith('predicted:')).length >= 49"""


def ready_model(page):
    page.get_by_role("heading", name="Confusion matrix").wait_for()
    page.wait_for_function(CM_DRAWN)


def act_model(page, ctx):
    pt = page.evaluate(CELL_JS, [2, 4])
    return (_click_at(page, pt, lambda: page.get_by_text(re.compile(r"images labeled fear predicted sad")).first.wait_for()),
            "confusion cell click (fear -> sad)")


def ready_embeddings(page):
    page.get_by_role("heading", name="Embeddings").wait_for()
    page.wait_for_function("() => { const g = document.querySelectorAll('.js-plotly-plot')[0];"
                           " return g && g._fullLayout && g._fullLayout.xaxis && g._fullData.length > 1 }")


def act_embeddings(page, ctx):
    page.wait_for_selector(DONE)
    pt = page.evaluate(MAP_POINT_JS)

    def expect():
        page.get_by_text(f"Image #{pt['row']}").first.wait_for()
        page.wait_for_function(IMG_LOADED, arg='.st-key-emb_panel [data-testid="stImage"] img')
    return _click_at(page, pt, expect), f"map point click ({pt['n']:,} points drawn)"


def ready_saliency(page):
    page.get_by_role("heading", name="Saliency").wait_for()
    page.wait_for_function(IMG_LOADED, arg='[data-testid="stImage"] img')


def act_saliency(page, ctx):
    i = ctx['n'] // 2 + 7
    dt = _number_input(page, r"^Dataset index", i, lambda: page.wait_for_function(
        IMG_LOADED, arg='[data-testid="stImage"] img'))
    return dt, "new dataset index: 4 attribution maps computed"


def ready_label_errors(page):
    page.get_by_role("heading", name="Label errors").wait_for()
    page.wait_for_function(GALLERY_DRAWN)


def act_label_errors(page, ctx):
    third = page.locator('[data-testid="stButton"] button', has_text="#").nth(2)
    label = third.inner_text().strip()
    n = runs(page)
    t0 = time.perf_counter()
    third.click()
    wait_run(page, n)
    page.get_by_text(f"Image {label}", exact=False).first.wait_for()
    return time.perf_counter() - t0, "gallery face click"


def ready_try_a_face(page):
    page.get_by_role("heading", name="Try a face").wait_for()
    page.get_by_text("Upload a photo or take one").wait_for()


def act_try_a_face(page, ctx):
    chooser = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    n = runs(page)
    t0 = time.perf_counter()
    chooser.set_input_files(ctx["photo"])
    wait_run(page, n)
    page.get_by_text("2 faces", exact=False).first.wait_for()
    return time.perf_counter() - t0, "upload a 640x480 photo with 2 faces"


def ready_robustness(page):
    page.get_by_role("heading", name="Robustness").wait_for()
    page.wait_for_function(VEGA_DRAWN)  # the summary bars


def act_robustness(page, ctx):
    return (_pick_option(page, "Corruption", "Occlusion: eyes",
                         lambda: page.get_by_text("Per-class accuracy: Occlusion: eyes").first.wait_for()),
            "corruption -> eye occlusion (cached sweep)")


def ready_experiments(page):
    page.get_by_role("heading", name="Experiments").wait_for()
    page.wait_for_function(VEGA_DRAWN)  # the learning curve


def act_experiments(page, ctx):
    n = runs(page)
    t0 = time.perf_counter()
    page.get_by_role("tab", name="Accuracy vs cost").click()  # a lazy tab: reruns, draws its chart
    wait_run(page, n)
    page.get_by_text("parameters (millions)", exact=True).wait_for()
    page.locator('[data-testid="stVegaLiteChart"] g.mark-symbol path[aria-label*="label: "]').first.wait_for()
    return time.perf_counter() - t0, "open the accuracy-vs-cost tab"


PAGES = [  # (url path, ready, action)
    ("", ready_home, None),
    ("dataset", ready_dataset, act_dataset),
    ("eigenfaces", ready_eigenfaces, act_eigenfaces),
    ("model", ready_model, act_model),
    ("embeddings", ready_embeddings, act_embeddings),
    ("saliency", ready_saliency, act_saliency),
    ("label_errors", ready_label_errors, act_label_errors),
    ("try_a_face", ready_try_a_face, act_try_a_face),
    ("robustness", ready_robustness, act_robustness),
    ("experiments", ready_experiments, act_experiments),
]


def new_context(browser):
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(RUN_COUNTER_JS)
    return context


def visit(browser, context, url: str, path: str, ready, action, ctx, timeout_s: float) -> dict:
    """One visit in a new tab (a new Streamlit session). With `context` None, in a new browser
    context too (an empty HTTP cache: Streamlit's and Plotly's JavaScript downloaded again)."""
    own = context is None
    context = new_context(browser) if own else context
    page = context.new_page()
    page.set_default_timeout(timeout_s * 1000)
    try:
        t0 = time.perf_counter()
        page.goto(f"{url}/{path}", wait_until="commit")
        ready(page)
        first = time.perf_counter() - t0
        wait_run(page, 0, timeout_s)
        out = {"first_paint_s": first, "ready_s": time.perf_counter() - t0}
        page.wait_for_function(ALL_DRAWN)
        out["all_drawn_s"] = time.perf_counter() - t0
        if action is not None:
            out["action_s"], out["action"] = action(page, ctx)
        out["exceptions"] = [e.inner_text()[:300] for e in page.locator(EXCEPTION).all()]
        return out
    finally:
        page.close()
        if own:
            context.close()


def photo(path: Path, data) -> str:
    from PIL import Image

    from fer_core.analysis.faces import demo_photo
    rgb, _, _ = demo_photo(data.images, data.labels, n=2, seed=1)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=90)
    path.write_bytes(buf.getvalue())
    return str(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", required=True, type=Path, help="FER_CACHE_DIR with the prepared artifacts")
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--ferplus", default=str(DEFAULT_FERPLUS))
    ap.add_argument("--visits", type=int, default=3, help="visits per page (the first in a fresh server is reported apart)")
    ap.add_argument("--pages", nargs="*", help="url paths to measure (default: all; '' is Home)")
    ap.add_argument("--timeout", type=float, default=180)
    ap.add_argument("--fresh-browser", action="store_true",
                    help="every visit in a new browser context (empty HTTP cache) instead of a new tab of one")
    ap.add_argument("--json", type=Path, help="also write every measurement here")
    args = ap.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from fer_core.data.dataset import load_dataset
    header("page render times, headless Chromium, full data")
    args.cache.mkdir(parents=True, exist_ok=True)
    point_app_at(args.cache, args.data, args.ferplus)
    ds = load_dataset(args.data, ferplus=args.ferplus or None, use_cache=False)
    ctx = {"n": len(ds), "n_happy": int((ds.labels == 3).sum()), "rows": ds.row,
           "photo": photo(args.cache / "bench_photo.jpg", ds)}
    pages = [p for p in PAGES if args.pages is None or p[0] in args.pages]
    results = {}
    with open(args.cache / "bench_pages_streamlit.log", "w") as log, sync_playwright() as pw, \
            serve_dashboard(args.cache, log=log, timeout_s=120) as url:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        shared = None if args.fresh_browser else new_context(browser)
        for path, ready, action in pages:
            results[path or "home"] = runs_ = []
            for v in range(args.visits):
                r = visit(browser, shared, url, path, ready, action, ctx, args.timeout)
                runs_.append(r)
                print(f"{path or 'home':13s} visit {v + 1}: first paint {r['first_paint_s']:5.2f} s, ready "
                      f"{r['ready_s']:5.2f} s, all charts {r['all_drawn_s']:5.2f} s" + (f", {r['action']}: {r['action_s']:.2f} s" if "action_s" in r else "")
                      + (f"  EXCEPTIONS: {r['exceptions']}" if r["exceptions"] else ""), flush=True)
        nav = {}
        if not args.pages:
            tab = shared.new_page() if shared else new_context(browser).new_page()
            tab.set_default_timeout(args.timeout * 1000)
            tab.goto(url)
            ready_home(tab)
            wait_run(tab, 0)
            for path, ready, _ in PAGES[1:]:
                link = tab.locator('[data-testid="stSidebarNav"] a[href$="/' + path + '"]')
                n = runs(tab)
                t0 = time.perf_counter()
                link.click()
                tab.wait_for_url(f"**/{path}")
                wait_run(tab, n)
                ready(tab)
                nav[path] = time.perf_counter() - t0
                print(f"{path:13s} via the sidebar: {nav[path]:.2f} s", flush=True)
        browser.close()

    def med(vals):
        return f"{statistics.median(vals):.2f}" if vals else "—"
    print("\n| page | first visit in a fresh server: first paint / ready (s) | later visits: first paint / ready / all "
          "charts drawn (s, median) | via the sidebar (s) | main control | action (s, median of visits) | exceptions |")
    print("|---|---|---|---|---|---|---|")
    for name, rs in results.items():
        first, later = rs[0], rs[1:] or rs
        acts = [r["action_s"] for r in rs if "action_s" in r]
        print(f"| {name} | {first['first_paint_s']:.2f} / {first['ready_s']:.2f} | "
              f"{med([r['first_paint_s'] for r in later])} / {med([r['ready_s'] for r in later])} / "
              f"{med([r['all_drawn_s'] for r in later])} | "
              f"{f'{nav[name]:.2f}' if name in nav else '—'} | {rs[0].get('action', '—')} | {med(acts)} | {sum(len(r['exceptions']) for r in rs)} |")
    if args.json:
        args.json.write_text(json.dumps({"visits": results, "sidebar": nav}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
