"""Experiments page in headless Chromium: both charts drawn from the shipped results, no exception."""
import pytest

from fer_core.training.experiments import load_results

pytestmark = pytest.mark.browser


def test_experiments_page(streamlit_app):
    page = streamlit_app.goto("experiments")
    assert page.get_by_role("heading", name="Experiments", exact=True).is_visible()
    shipped = {k: load_results(k) is not None for k in ("data-size", "model-size")}
    # two lazy tabs, one Vega-Lite chart each (no Plotly on the page); only the open tab's is drawn
    assert page.get_by_role("tab", name="Accuracy vs training-set size").get_attribute("aria-selected") == "true"
    dots = page.locator('[data-testid="stVegaLiteChart"] g.mark-symbol path[aria-label*="seed: "]')  # one per run
    if shipped["data-size"]:
        dots.first.wait_for()
        assert dots.count() == len(load_results("data-size")["rows"])
    streamlit_app.act(page.get_by_role("tab", name="Accuracy vs cost").click)
    assert dots.count() == 0
    if shipped["model-size"]:
        # every measured architecture in the cost strip; the cost-axis radio redraws the chart
        strip = page.locator('[data-testid="stVegaLiteChart"] g.mark-symbol path[aria-label*="label: "]')
        strip.first.wait_for()
        assert strip.count() >= len(load_results("model-size")["rows"])
        streamlit_app.act(page.get_by_text("parameters (millions)", exact=True).click)
        strip.first.wait_for()
    assert page.locator(".js-plotly-plot").count() == 0
    assert streamlit_app.exceptions() == []
    streamlit_app.screenshot("experiments")
