"""Embeddings page in headless Chromium: click a point of the WebGL scatter, lasso a group.

The pixel position of a point comes from Plotly's own axis objects (`_fullLayout.xaxis.l2p`),
so the test clicks exactly where the point is drawn, whichever trace (colour) it is in.
Screenshots: test-artifacts/embeddings_click.png and embeddings_lasso.png.
"""
import re

import pytest

from browser_helpers import FIND_POINT_JS, VIEWPORT_IDS, VIEWPORTS

pytestmark = pytest.mark.browser

#: Rows of the points inside a page-pixel rectangle (the expected lasso result); with w, h > 0
#: instead, the rectangle of that size (inside the plot area) holding the most points.
ROWS_IN_RECT_JS = """([x0, y0, x1, y1, w, h]) => {
  const gd = document.querySelectorAll('.js-plotly-plot')[0];
  const fl = gd._fullLayout, xa = fl.xaxis, ya = fl.yaxis, box = gd.getBoundingClientRect();
  const pts = [];
  gd._fullData.forEach(t => { if (!t.customdata) return;
    for (let i = 0; i < t.x.length; i++)
    pts.push([box.left + xa._offset + xa.l2p(t.x[i]), box.top + ya._offset + ya.l2p(t.y[i]), Number(t.customdata[i])]); });
  if (w > 0) {
    const L = box.left + xa._offset + 5, T = box.top + ya._offset + 5;
    const R = L + xa._length - 10 - w, B = Math.min(T + ya._length, window.innerHeight) - 10 - h;
    let best = -1;
    for (const [px, py] of pts) {
      const a = Math.min(Math.max(px - w / 2, L), R), b = Math.min(Math.max(py - h / 2, T), B);
      const n = pts.filter(q => q[0] > a && q[0] < a + w && q[1] > b && q[1] < b + h).length;
      if (n > best) { best = n; [x0, y0, x1, y1] = [a, b, a + w, b + h]; }
    }
  }
  const rows = pts.filter(q => q[0] > x0 && q[0] < x1 && q[1] > y0 && q[1] < y1).map(q => q[2]);
  return {rows, rect: [x0, y0, x1, y1]};
}"""


def _open(streamlit_app):
    page = streamlit_app.goto("embeddings", timeout_s=240)  # features + UMAP on first visit
    page.locator(".js-plotly-plot >> visible=true").first.wait_for()
    page.wait_for_function("() => { const g = document.querySelectorAll('.js-plotly-plot')[0];"
                           " return g && g._fullLayout && g._fullLayout.xaxis && g._fullData.length > 1 }")
    assert streamlit_app.exceptions() == []
    return page


def test_click_point_shows_its_face_and_row(streamlit_app):
    from fer_core.data.dataset import load_dataset
    ds = load_dataset(use_cache=False)
    page = _open(streamlit_app)
    pt = page.evaluate(FIND_POINT_JS)
    assert pt["n"] == len(ds) and pt["traces"] >= 5, pt  # one trace per class: trace-local indices differ
    # the row read back from the browser is the row whose map coordinates were drawn there
    from fer_core.config import ProjectionConfig
    from fer_core.analysis.embed import get_projection
    from fer_core.store import Store
    coords = get_projection(ds, ProjectionConfig(), store=Store(streamlit_app.cache_dir))["coords"]
    assert abs(coords[pt["row"], 0] - pt["x"]) < 1e-4 and abs(coords[pt["row"], 1] - pt["y"]) < 1e-4, pt
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
    box = panel.locator('[class*="st-key-emb_nb_"]').first
    j = int(re.search(r"st-key-emb_nb_(\d+)", box.get_attribute("class")).group(1))
    streamlit_app.act(box.locator("button").first.click)
    page.locator(".st-key-emb_panel").get_by_role("heading", name=f"Image #{j}").wait_for(timeout=15_000)


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
def test_lasso_selects_the_points_inside(streamlit_app, viewport):
    page = _open(streamlit_app)
    x0, y0, x1, y1 = page.evaluate(ROWS_IN_RECT_JS, [0, 0, 0, 0, 160, 120])["rect"]
    expected = set(page.evaluate(ROWS_IN_RECT_JS, [x0, y0, x1, y1, 0, 0])["rows"])
    assert len(expected) >= 3
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2

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
    # the gallery says in which order it shows them, with the classes it shows (issue 17)
    assert page.get_by_text(re.compile(r"(All \d+ selected images|class-stratified sample|highest label-error "
                                       r"score).*: \w+ \d")).first.is_visible()
    assert streamlit_app.exceptions() == []
    streamlit_app.screenshot("embeddings_lasso")
    # another map (t-SNE) replaces this one and its lasso: the selection and its gallery go too (issue 17)
    streamlit_app.act(page.locator('[data-testid="stButtonGroup"]').get_by_text("t-SNE", exact=True).click,
                      timeout_s=240)
    page.locator(".js-plotly-plot >> visible=true").first.wait_for()
    assert page.get_by_role("heading", name=re.compile(r"selected images")).count() == 0
    assert streamlit_app.exceptions() == []
