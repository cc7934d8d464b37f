"""Experiments page in headless Chromium: both charts drawn from the shipped results, no exception."""
import pytest

from fer_core.experiments import load_results

pytestmark = pytest.mark.browser


def test_experiments_page(streamlit_app):
    page = streamlit_app.goto("experiments")
    assert page.get_by_role("heading", name="Experiments", exact=True).is_visible()
    assert page.get_by_role("heading", name="Accuracy vs training-set size").is_visible()
    assert page.get_by_role("heading", name="Accuracy vs cost").is_visible()
    shipped = [k for k in ("data-size", "model-size") if load_results(k) is not None]
    page.locator(".js-plotly-plot >> visible=true").nth(len(shipped) - 1).wait_for() if shipped else None
    assert page.locator(".js-plotly-plot").count() == len(shipped)
    if "model-size" in shipped:
        # the cost-axis radio redraws the Pareto chart without an exception
        streamlit_app.act(page.get_by_text("parameters (millions)", exact=True).click)
        page.locator(".js-plotly-plot >> visible=true").last.wait_for()
    assert streamlit_app.exceptions() == []
    streamlit_app.screenshot("experiments")
