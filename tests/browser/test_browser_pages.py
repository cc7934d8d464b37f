"""Open each page in headless Chromium: key content visible, no Streamlit exception box.

Screenshots land in test-artifacts/ (git-ignored) for a person to look at.
"""
import numpy as np
import pytest

pytestmark = pytest.mark.browser


def test_home(streamlit_app):
    page = streamlit_app.goto("")
    assert page.get_by_role("heading", name="FER Explorer").is_visible()
    assert page.get_by_text("Images per split and class").is_visible()
    assert page.get_by_text("1,000", exact=True).first.is_visible()
    assert page.get_by_text("FER+ crowd labels").is_visible()
    bars = page.locator('[data-testid="stVegaLiteChart"] g.mark-rect path[aria-label*="split: "]')
    bars.first.wait_for()
    assert bars.count() == 3 * 7  # Training, PublicTest, PrivateTest x 7 classes
    cells = page.locator('[data-testid="stVegaLiteChart"] g.mark-rect path[aria-label*="FER+ majority: "]')
    assert cells.count() >= 7 * 8  # FER2013 label x FER+ majority (8 emotions, plus no majority/not a face)
    assert page.locator(".js-plotly-plot").count() == 0
    assert streamlit_app.exceptions() == []
    streamlit_app.screenshot("home")


def test_sidebar_navigation(streamlit_app):
    page = streamlit_app.goto("")
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Dataset").click()
    page.wait_for_url("**/dataset")
    page.get_by_role("heading", name="Dataset").wait_for()
    assert streamlit_app.exceptions() == []


def test_dataset_browse_and_filter(streamlit_app):
    from fer_core.data.dataset import load_dataset
    n_happy = int((load_dataset(use_cache=False).labels == 3).sum())
    page = streamlit_app.goto("dataset")
    assert page.get_by_text("1,000 of 1,000 images match").is_visible()
    assert page.evaluate("() => document.querySelectorAll('g.mark-image image').length") == 80  # clickable faces
    page.get_by_role("combobox", name="FER2013 label", exact=True).click()
    streamlit_app.act(page.get_by_role("option", name="happy", exact=True).click)
    page.keyboard.press("Escape")
    assert page.get_by_text(f"{n_happy:,} of 1,000 images match").is_visible()
    assert streamlit_app.exceptions() == []
    streamlit_app.screenshot("dataset")
    streamlit_app.act(page.get_by_role("tab", name="Pixel statistics").click)  # a lazy tab: reruns
    page.get_by_text("Lowest-contrast images").wait_for()
    page.locator('[data-testid="stVegaLiteChart"] .role-mark path >> visible=true').first.wait_for()
    assert page.locator('[data-testid="stVegaLiteChart"]').count() == 3  # brightness, contrast, histogram
    assert streamlit_app.exceptions() == []


def test_eigenfaces(streamlit_app):
    page = streamlit_app.goto("eigenfaces", timeout_s=120)  # builds the PCA on first visit
    for text in ("Mean faces", "Explained variance", "Reconstruction"):
        assert page.get_by_role("heading", name=text).is_visible()
    page.locator('[data-testid="stVegaLiteChart"] .role-mark path').first.wait_for()  # explained variance
    page.get_by_text("components reach 90%").wait_for()
    assert page.locator(".js-plotly-plot").count() == 0  # the class-difference maps: a closed, lazy expander
    streamlit_app.act(page.get_by_text("Difference from the overall mean").click)
    page.locator(".js-plotly-plot >> visible=true").first.wait_for()
    sizes = page.locator('[data-testid="stImage"] img').evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert len(sizes) >= 4 and np.min(sizes) > 0
    assert streamlit_app.exceptions() == []
    streamlit_app.screenshot("eigenfaces")
