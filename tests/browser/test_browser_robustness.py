"""Robustness page in headless Chromium: the quick sweep runs from the button, the charts draw.

Screenshot: test-artifacts/robustness.png.
"""
import pytest

from browser_helpers import CHIPS, CLIPPED_JS, HIDDEN_JS, VIEWPORT_IDS, VIEWPORTS, wait_images
from fer_core.models.checkpoint import shipped_checkpoints

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not shipped_checkpoints(), reason="no shipped checkpoint")]

#: Vega-Lite charts (SVG) that finished drawing: they hold marks.
DRAWN_JS = """() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
    .filter(c => c.querySelector('.role-mark path, .role-mark text')).length"""


#: [text, fill] of every number on the per-class heatmap.
HEATMAP_TEXT_JS = """() => {
  const c = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
    .find(c => c.textContent.includes('Per-class accuracy'));
  return [...c.querySelectorAll('g.mark-text.role-mark text')].map(t => [t.textContent, t.getAttribute('fill')]);
}"""


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


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
def test_severity_panels_fit_and_dark_cells_have_white_text(streamlit_app, viewport):
    """Issue 17: the severity row was a fixed 1,080 px (FGSM cut off at 1280-1500 px), and the
    heatmap's numbers were black on its dark-red cells."""
    page = streamlit_app.goto("robustness", timeout_s=120)
    run_quick_sweep(streamlit_app, page)
    page.get_by_text("Per-class accuracy", exact=False).first.wait_for(timeout=60_000)
    page.wait_for_function(f"() => ({DRAWN_JS})() >= 7", timeout=60_000)  # summary, 4 curves, heatmap, box plot
    for name in ("Gaussian noise", "Gaussian blur", "Occlusion: eyes", "FGSM attack"):
        assert page.locator('[data-testid="stVegaLiteChart"] g.role-title-text text', has_text=name).count() >= 1
    assert page.evaluate(CLIPPED_JS, '[data-testid="stVegaLiteChart"]') == []  # every chart inside the page
    assert page.evaluate(HIDDEN_JS, CHIPS) == []  # every chosen corruption's chip shows
    cells = page.evaluate(HEATMAP_TEXT_JS)
    values = [(int(t.rstrip("%")), fill) for t, fill in cells if t.endswith("%")]
    assert any(v <= 5 for v, _ in values)  # noise at its strongest: dark-red cells
    assert [x for x in values if x[0] <= 5 and x[1] != "white"] == []
    assert all(fill != "white" for v, fill in values if 30 <= v <= 70), values
    assert streamlit_app.exceptions() == []
    streamlit_app.screenshot("robustness_layout")
