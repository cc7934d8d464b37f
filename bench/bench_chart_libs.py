"""What a chart library costs a new browser tab: a one-page Streamlit app with a heading and an
image ("none"), plus one small Plotly chart ("plotly"), one small Vega-Lite chart ("altair"), or a
Vega-Lite chart above a Plotly chart ("mixed": time to the Vega-Lite chart, then to the Plotly one).

    python bench/bench_chart_libs.py [--visits 5]

Each visit is a new tab of one headless Chromium (Debian's; HTTP cache warm after the first), the
time from navigation to the chart drawn (the image loaded for "none"). The median leaves out the
first visit. Why it matters: bench/RESULTS.md, "Page render times after moving first-drawn charts
off Plotly".
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, header

sys.path.insert(0, str(ROOT / "tests"))
from browser_helpers import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, serve_dashboard  # noqa: E402

APP = '''
import numpy as np, pandas as pd, streamlit as st
kind = st.query_params.get("k", "none")
st.title("Chart library: " + kind)
names = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
z = np.random.default_rng(0).random((7, 7))
if kind in ("altair", "mixed"):
    import altair as alt
    df = pd.DataFrame([(a, b, z[i, j]) for i, a in enumerate(names) for j, b in enumerate(names)], columns=["t", "p", "v"])
    base = alt.Chart(df).encode(x="p:N", y="t:N")
    st.altair_chart(base.mark_rect().encode(color="v:Q") + base.mark_text().encode(text=alt.Text("v:Q", format=".2f")))
if kind in ("plotly", "mixed"):
    import plotly.graph_objects as go
    st.plotly_chart(go.Figure(go.Heatmap(z=z, x=names, y=names, text=np.round(z, 2), texttemplate="%{text}")))
if kind == "none":
    st.image(np.zeros((48, 48), np.uint8), width=200)
'''
VEGA = """() => !!document.querySelector('[data-testid="stVegaLiteChart"] .role-mark path')"""
PLOTLY = """() => [...document.querySelectorAll('.js-plotly-plot')].some(g => g._fullData && g._fullData.length)"""
IMAGE = """() => { const i = document.querySelector('[data-testid="stImage"] img'); return !!(i && i.complete) }"""
READY = {"none": [IMAGE], "plotly": [PLOTLY], "altair": [VEGA], "mixed": [VEGA, PLOTLY]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--visits", type=int, default=5)
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright
    header("chart libraries in a new tab, headless Chromium")
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "app.py"
        app.write_text(APP)
        with sync_playwright() as pw, serve_dashboard(tmp, app=app) as url:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport=VIEWPORT)
            for kind, checks in READY.items():
                times = []
                for _ in range(args.visits):
                    page = context.new_page()
                    t0 = time.perf_counter()
                    page.goto(f"{url}/?k={kind}", wait_until="commit")
                    marks = []
                    for check in checks:
                        page.wait_for_function(check, timeout=60_000)
                        marks.append(time.perf_counter() - t0)
                    times.append(marks)
                    page.close()
                for j, what in enumerate(["Vega-Lite chart", "Plotly chart"] if kind == "mixed" else ["drawn"]):
                    col = [m[j] for m in times]
                    print(f"{kind:7s} {what:16s} median {statistics.median(col[1:] or col):.2f} s  "
                          f"(visits: {', '.join(f'{v:.2f}' for v in col)})")
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
