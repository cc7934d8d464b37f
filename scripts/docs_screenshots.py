"""Take the README screenshots: docs/screenshots/<page>.png for every page.

    python scripts/docs_screenshots.py [--data PATH --ferplus PATH] [--out docs/screenshots] [--pages NAME ...]

Starts `streamlit run dashboard/Home.py` on a free loopback port with a fresh temporary
FER_CACHE_DIR (so Home shows the missing-artifact state, and the repo's cache/ is untouched),
opens each page in headless Debian Chromium (Playwright, `executable_path=/usr/bin/chromium`),
takes a full-page screenshot at 1440 px wide and stores it as a palette PNG (< 300 KB).
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from browser_helpers import (CHROMIUM, CHROMIUM_ARGS, FACE_JS, FIND_POINT_JS, RUN_COUNTER_JS,  # noqa: E402
                             full_page_screenshot, runs_done, serve_dashboard, wait_idle, wait_images)

#: Screenshot name -> url path.
PAGES = {"home": "", "dataset": "dataset", "eigenfaces": "eigenfaces", "embeddings": "embeddings", "model": "model",
         "saliency": "saliency", "label_errors": "label_errors", "try_a_face": "try_a_face",
         "robustness": "robustness", "experiments": "experiments", "table": "table",
         # views reached by an action on a page (ACTIONS), shot at the window's size
         "face_card": "dataset", "review": "review", "try_a_face_similar": "try_a_face"}
#: shots of the window only (a dialog, a page's top): the rest are full-page
WINDOW_ONLY = {"face_card", "review"}


def click_isolated_point(page) -> None:
    """Embeddings: click the map's most isolated point so the side panel shows a face."""
    page.locator(".js-plotly-plot >> visible=true").first.wait_for()
    page.wait_for_timeout(1000)  # the WebGL scatter draws after the element appears
    pt = page.evaluate(FIND_POINT_JS)
    n = runs_done(page)
    page.mouse.move(pt["px"], pt["py"])
    page.wait_for_timeout(300)  # Plotly clicks the point it hovers
    page.mouse.click(pt["px"], pt["py"])
    wait_idle(page, n, 60)
    wait_images(page)


def run_quick_sweep(page) -> None:
    """Robustness: the fresh cache has no sweep; run the page's quick sweep (about 15 s on the sample)."""
    n = runs_done(page)
    page.get_by_role("button", name="Run a quick sweep now", exact=False).click()
    wait_idle(page, n, 300)
    page.get_by_role("heading", name="Accuracy against severity").wait_for(timeout=60_000)
    wait_images(page)


#: What to do on a page before its screenshot.
def open_face_card(page) -> None:
    """Click the fifth face of the Dataset grid: its card opens, with its similar faces."""
    face = page.evaluate(FACE_JS, 4)
    n = runs_done(page)
    page.mouse.click(face["x"], face["y"])
    wait_idle(page, n, 60)
    n = runs_done(page)
    page.locator('[role="dialog"]').get_by_role("button", name="Find 12 similar faces").click()
    wait_idle(page, n, 60)


def review_a_selection(page) -> None:
    """Make the first 100 images of the sample the current selection (as a shared link would) and
    open the Review page on it."""
    from fer_core.data.dataset import load_dataset
    from fer_core.data.selection import encode
    ds = load_dataset()
    url = page.url.split("?")[0]
    page.goto(f"{url}?sel={encode(range(100), n=len(ds))}&sel_from=first+100+images&sel_data={ds.data_hash[:12]}")
    wait_idle(page, 0, 120)
    wait_images(page)


def find_similar_to_photo(page) -> None:
    n = runs_done(page)
    page.get_by_text("Sample photo").click()
    wait_idle(page, n, 180)
    n = runs_done(page)
    page.get_by_text("Find similar faces in the dataset").first.click()
    wait_idle(page, n, 180)


ACTIONS = {"embeddings": click_isolated_point, "robustness": run_quick_sweep, "face_card": open_face_card,
           "review": review_a_selection, "try_a_face_similar": find_similar_to_photo}


def shrink(src: Path, dst: Path, colors: int = 112) -> int:
    """Crop trailing whitespace and save as a palette PNG that keeps the accent colours."""
    im = Image.open(src).convert("RGB")
    a = np.asarray(im)
    rows = np.flatnonzero((a[:, 320:] < 250).any(axis=(1, 2)))
    im = im.crop((0, 0, im.width, min(im.height, int(rows.max()) + 40)))
    base = im.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).getpalette()
    base = base[:3 * colors]
    px = np.asarray(im).reshape(-1, 3).astype(int)
    sat = px[(px.max(1) - px.min(1)) > 60]  # chart colours and red captions that median cut merges away
    extra = []
    if len(sat):
        keys, counts = np.unique((sat // 16) * 16 + 8, axis=0, return_counts=True)
        extra = [int(v) for k in keys[np.argsort(-counts)][:256 - colors] for v in k]
    pal = Image.new("P", (1, 1))
    pal.putpalette(base + extra + [0] * (768 - len(base) - len(extra)))
    im.quantize(palette=pal, dither=Image.Dither.NONE).save(dst, optimize=True)
    return dst.stat().st_size


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="fer2013.csv[.gz] (default: the bundled sample)")
    p.add_argument("--ferplus", help="fer2013new.csv")
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    p.add_argument("--width", type=int, default=1440)
    p.add_argument("--pages", nargs="*", choices=list(PAGES), default=list(PAGES), help="pages to shoot (default: all)")
    a = p.parse_args(argv)
    from playwright.sync_api import sync_playwright
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fer-docs-") as cache:
        if a.data:
            (Path(cache) / "settings.json").write_text(json.dumps(
                {"data_source": {"kind": "path", "path": a.data, "ferplus": a.ferplus or ""}}))
        with serve_dashboard(cache, timeout_s=120) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            ctx = browser.new_context(viewport={"width": a.width, "height": 900})
            ctx.add_init_script(RUN_COUNTER_JS)
            page = ctx.new_page()
            for name, path in ((n, PAGES[n]) for n in a.pages):
                page.goto(f"{url}/{path}")
                wait_idle(page, 0, 180)
                wait_images(page)
                if name in ACTIONS:
                    ACTIONS[name](page)
                if page.locator('[data-testid="stException"]').count():
                    print(f"{name}: the page shows an exception", file=sys.stderr)
                    return 1
                raw = Path(cache) / f"{name}.png"
                if name in WINDOW_ONLY:
                    page.wait_for_timeout(800)
                    page.screenshot(path=str(raw))
                else:
                    full_page_screenshot(page, raw)
                size = shrink(raw, out / f"{name}.png")
                print(f"{out / f'{name}.png'}: {size // 1024} KB")
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
