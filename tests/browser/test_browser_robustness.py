"""Robustness page in headless Chromium: the quick sweep runs from the button, the charts draw.

Screenshot: test-artifacts/robustness.png.
"""
import pytest

from fer_core.checkpoint import shipped_checkpoints

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not shipped_checkpoints(), reason="no shipped checkpoint")]

#: Plotly charts that finished drawing: their SVG holds a data trace (a heatmap draws as an image, .hm).
DRAWN_JS = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .filter(gd => gd._fullData && gd._fullData.length && gd.querySelector('.trace, .hm')).length"""


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
    curves = page.evaluate("""() => { const gd = [...document.querySelectorAll('.js-plotly-plot')]
        .find(g => (g._fullLayout.annotations || []).some(a => a.text === 'Gaussian noise'));
        return gd ? gd._fullData.filter(t => t.mode === 'lines+markers').map(t => t.y.length) : null; }""")
    assert curves and 7 in curves  # the Gaussian-noise curve has the study's 7 variance levels
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
