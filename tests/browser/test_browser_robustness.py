"""Robustness page in headless Chromium: the quick sweep runs from the button, the charts draw.

Screenshot: test-artifacts/robustness.png.
"""
import pytest

from browser_helpers import wait_images
from fer_core.models.checkpoint import shipped_checkpoints

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not shipped_checkpoints(), reason="no shipped checkpoint")]

#: Vega-Lite charts (SVG) that finished drawing: they hold marks.
DRAWN_JS = """() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
    .filter(c => c.querySelector('.role-mark path, .role-mark text')).length"""


def run_quick_sweep(streamlit_app, page) -> None:
    """Click the quick-sweep button when the sweeps are not cached yet (the server's cache is shared)."""
    button = page.get_by_role("button", name="Run a quick sweep now", exact=False)
    if button.count():
        streamlit_app.act(button.click, timeout_s=300)
    page.get_by_role("heading", name="Accuracy against severity").wait_for(timeout=120_000)


def test_robustness_quick_sweep_and_charts(streamlit_app):
    page = streamlit_app.goto("robustness", timeout_s=120)
    assert page.get_by_role("heading", name="Robustness").is_visible()
    run_quick_sweep(streamlit_app, page)
    for name in ("Summary", "One corruption in detail"):  # the run may still be drawing the rest
        page.get_by_role("heading", name=name).wait_for(timeout=60_000)
    page.wait_for_function(f"() => ({DRAWN_JS})() >= 4", timeout=60_000)  # summary, curves, heatmap, box plot
    assert page.locator(".js-plotly-plot").count() == 0  # no Plotly: the page paints without loading it
    # the Gaussian-noise curve (one point per level, labelled with its variance) has the study's 7 levels
    points = page.locator('[data-testid="stVegaLiteChart"] g.mark-symbol path[aria-label*="variance ([0, 1] pixels)"]')
    assert points.count() == 7
    page.locator('[data-testid="stImage"] img').first.wait_for(timeout=60_000)  # the detail fragment's faces
    wait_images(page)
    sizes = page.locator('[data-testid="stImage"] img').evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert sizes and min(sizes) > 0  # the example faces at each severity
    assert page.get_by_text("Showing 4 sweep(s)", exact=False).is_visible()
    assert streamlit_app.exceptions() == []
    streamlit_app.screenshot("robustness")

    # another severity in the detail panel reruns without error
    page.get_by_role("combobox", name="Corruption", exact=True).click()
    page.keyboard.press("ArrowDown")  # opens the list when the click only focused the box
    streamlit_app.act(page.get_by_role("option", name="Occlusion: eyes", exact=True).click)
    assert page.get_by_text("Per-class accuracy: Occlusion: eyes", exact=False).first.is_visible()
    assert streamlit_app.exceptions() == []
