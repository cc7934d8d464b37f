"""Embeddings page in headless Chromium: click a point of the WebGL scatter, lasso a group.

The pixel position of a point comes from Plotly's own axis objects (`_fullLayout.xaxis.l2p`),
so the test clicks exactly where the point is drawn, whichever trace (colour) it is in.
Screenshots: test-artifacts/embeddings_click.png and embeddings_lasso.png.
"""
import re

import pytest

pytestmark = pytest.mark.browser

#: An isolated point of the first Plotly chart (the map): its row (customdata), trace, and page
#: coordinates; "isolated" = farthest in pixels from any other point, so the click is unambiguous.
FIND_POINT_JS = """() => {
  const gd = document.querySelectorAll('.js-plotly-plot')[0];
  const fl = gd._fullLayout, xa = fl.xaxis, ya = fl.yaxis, box = gd.getBoundingClientRect();
  const pts = [];
  gd._fullData.forEach((t, c) => { for (let i = 0; i < t.x.length; i++)
      pts.push({c, i, row: Number(t.customdata[i]),
                px: box.left + xa._offset + xa.l2p(t.x[i]), py: box.top + ya._offset + ya.l2p(t.y[i])}); });
  let best = null, bestD = -1;
  for (const p of pts) {
    if (p.px < box.left + xa._offset + 15 || p.px > box.left + xa._offset + xa._length - 15 ||
        p.py < box.top + ya._offset + 15 || p.py > box.top + ya._offset + ya._length - 15) continue;
    let d = Infinity;
    for (const q of pts) if (q !== p) d = Math.min(d, Math.hypot(q.px - p.px, q.py - p.py));
    if (d > bestD) { bestD = d; best = p; }
  }
  return {...best, gap: bestD, n: pts.length, traces: gd._fullData.length};
}"""

#: Rows of the points inside a page-pixel rectangle (the expected lasso result).
ROWS_IN_RECT_JS = """([x0, y0, x1, y1]) => {
  const gd = document.querySelectorAll('.js-plotly-plot')[0];
  const fl = gd._fullLayout, xa = fl.xaxis, ya = fl.yaxis, box = gd.getBoundingClientRect();
  const rows = [];
  gd._fullData.forEach(t => { for (let i = 0; i < t.x.length; i++) {
    const px = box.left + xa._offset + xa.l2p(t.x[i]), py = box.top + ya._offset + ya.l2p(t.y[i]);
    if (px > x0 && px < x1 && py > y0 && py < y1) rows.push(Number(t.customdata[i])); } });
  return {rows, center: [box.left + xa._offset + xa._length / 2, box.top + ya._offset + ya._length / 2]};
}"""


def _open(streamlit_app):
    page = streamlit_app.goto("embeddings", timeout_s=240)  # features + UMAP on first visit
    page.locator(".js-plotly-plot >> visible=true").first.wait_for()
    page.wait_for_function("() => { const g = document.querySelectorAll('.js-plotly-plot')[0];"
                           " return g && g._fullLayout && g._fullLayout.xaxis && g._fullData.length > 1 }")
    assert streamlit_app.exceptions() == []
    return page


def test_click_point_shows_its_face_and_row(streamlit_app):
    from fer_core.data import load_dataset
    ds = load_dataset(use_cache=False)
    page = _open(streamlit_app)
    pt = page.evaluate(FIND_POINT_JS)
    assert pt["n"] == len(ds) and pt["traces"] >= 5, pt  # one trace per class: trace-local indices differ
    page.mouse.move(pt["px"], pt["py"])
    page.wait_for_timeout(300)
    streamlit_app.act(lambda: page.mouse.click(pt["px"], pt["py"]))
    panel = page.locator(".st-key-emb_panel")
    panel.get_by_role("heading", name=f"Image #{pt['row']}").wait_for(timeout=15_000)
    assert panel.get_by_text(re.compile(rf"source row {int(ds.row[pt['row']])}\b")).is_visible()
    assert panel.locator('[data-testid="stImage"] img').count() >= 1 + 8  # the face and its 8 neighbours
    assert panel.get_by_text("Predicted probabilities").first.is_visible()
    assert streamlit_app.exceptions() == []
    streamlit_app.screenshot("embeddings_click")

    # a neighbour thumbnail is clickable and moves the panel to it
    btn = panel.get_by_role("button").first
    j = int(re.match(r"#(\d+)", btn.inner_text()).group(1))
    streamlit_app.act(btn.click)
    page.locator(".st-key-emb_panel").get_by_role("heading", name=f"Image #{j}").wait_for(timeout=15_000)


def test_lasso_selects_the_points_inside(streamlit_app):
    page = _open(streamlit_app)
    center = page.evaluate(ROWS_IN_RECT_JS, [0, 0, 0, 0])["center"]
    cx, cy = center
    x0, y0, x1, y1 = cx - 90, cy - 70, cx + 90, cy + 70
    expected = set(page.evaluate(ROWS_IN_RECT_JS, [x0, y0, x1, y1])["rows"])
    assert len(expected) >= 3

    # Streamlit's default drag mode is pan (a click selects one point); pick lasso in the toolbar
    page.mouse.move(cx, cy)
    page.locator('.modebar-btn[data-attr="dragmode"][data-val="lasso"]').first.click()

    def lasso():
        page.mouse.move(x0, y0)
        page.mouse.down()
        for x, y in [(x1, y0), (x1, y1), (x0, y1), (x0, y0 + 1)]:
            page.mouse.move(x, y, steps=8)
        page.mouse.up()

    streamlit_app.act(lasso)
    heading = page.get_by_role("heading", name=re.compile(r"selected images"))
    heading.wait_for(timeout=15_000)
    n = int(re.match(r"([\d,]+)", heading.inner_text()).group(1).replace(",", ""))
    assert abs(n - len(expected)) <= max(1, len(expected) // 50), (n, len(expected))  # border points
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download row indices (CSV)").click()
    import pandas as pd
    got = set(pd.read_csv(dl.value.path())["index"].tolist())
    assert len(got) == n and len(got ^ expected) <= max(1, len(expected) // 50)
    assert streamlit_app.exceptions() == []
    streamlit_app.screenshot("embeddings_lasso")
