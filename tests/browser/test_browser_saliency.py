"""Saliency and Try-a-face pages in headless Chromium: real uploads through the file input.

Screenshots land in test-artifacts/ (git-ignored) for a person to look at.
"""
import numpy as np
import pytest
from browser_helpers import (
    AXIS_LABELS_JS,
    CHIPS,
    HIDDEN_JS,
    NARROW_VIEWPORT,
    VIEWPORT_IDS,
    VIEWPORTS,
)

from fer_core.models.checkpoint import shipped_checkpoints

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not shipped_checkpoints(), reason="no shipped checkpoint")]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    from fer_testutils import photo_zoo

    from fer_core.analysis.faces import demo_photo
    from fer_core.data.dataset import load_dataset

    ds = load_dataset()
    rgb, _, _ = demo_photo(ds.images, ds.labels, n=2, seed=1)
    folder = tmp_path_factory.mktemp("photos")
    for name, (data, _) in photo_zoo(rgb).items():
        (folder / name).write_bytes(data)
    return folder


def test_try_a_face_upload_good_then_bad(streamlit_app, photos):
    page = streamlit_app.goto("try_a_face")
    assert page.get_by_role("heading", name="Try a face").is_visible()
    chooser = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    streamlit_app.act(lambda: chooser.set_input_files(str(photos / "photo.jpg")), timeout_s=120)
    page.get_by_text("2 faces", exact=False).first.wait_for()
    assert page.get_by_role("heading", name="Face 2", exact=False).is_visible()
    assert page.locator('[data-testid="stVegaLiteChart"] >> visible=true').count() == 2  # a probability chart per face
    sizes = page.locator('[data-testid="stImage"] img').evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert len(sizes) >= 5 and min(sizes) > 0  # the photo, and a crop and a saliency map per face
    assert streamlit_app.exceptions() == []
    streamlit_app.screenshot("try_a_face")

    streamlit_app.act(lambda: chooser.set_input_files(str(photos / "truncated.jpg")))
    err = page.locator('[data-testid="stAlertContentError"]')
    err.wait_for()
    assert "truncated.jpg" in err.inner_text() and "corrupt or truncated" in err.inner_text()
    assert streamlit_app.exceptions() == []
    streamlit_app.act(lambda: chooser.set_input_files(str(photos / "bomb.png")))
    assert "too large" in page.locator('[data-testid="stAlertContentError"]').inner_text()
    assert streamlit_app.exceptions() == []


def test_saliency_page(streamlit_app):
    page = streamlit_app.goto("saliency", timeout_s=180)
    assert page.get_by_role("heading", name="Saliency").is_visible()
    page.get_by_role("heading", name="Average map per class").wait_for()
    page.get_by_text("Maps for class").wait_for()
    sizes = page.locator('[data-testid="stImage"] img').evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert len(sizes) >= 5 + 7 and np.min(sizes) > 0  # face + 4 methods, then one average map per class
    assert streamlit_app.exceptions() == []
    streamlit_app.screenshot("saliency")


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
def test_saliency_every_chosen_method_chip_shows(streamlit_app, viewport):
    """Issue 17: at 1280 px the fourth method chip of the multiselect was clipped."""
    page = streamlit_app.goto("saliency", timeout_s=180)
    chips = page.locator(CHIPS)
    assert chips.count() == 4
    assert page.evaluate(HIDDEN_JS, CHIPS) == []
    assert streamlit_app.exceptions() == []
    streamlit_app.screenshot("saliency_methods")


@pytest.mark.parametrize("viewport", [NARROW_VIEWPORT], ids=["1280px"])
def test_try_a_face_axis_ends_at_100_and_an_oversized_file_says_why(streamlit_app, photos, viewport):
    """Issue 17: the probability axis ran to 110%; a file over the upload limit said why only on hover."""
    page = streamlit_app.goto("try_a_face")
    chooser = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    streamlit_app.act(lambda: chooser.set_input_files(str(photos / "photo.jpg")), timeout_s=120)
    page.get_by_text("2 faces", exact=False).first.wait_for()
    page.locator('[data-testid="stVegaLiteChart"] g.role-axis-label text').first.wait_for()
    for labels in page.evaluate(AXIS_LABELS_JS):  # one probability chart per face
        ticks = [t for t in labels if t.endswith("%")]
        assert ticks and ticks[-1] == "100%" and "110%" not in ticks, labels
    big = photos / "huge.jpg"
    big.write_bytes((photos / "photo.jpg").read_bytes() + b"\0" * (11 * 2**20))
    streamlit_app.act(lambda: chooser.set_input_files(str(big)), timeout_s=120)
    err = page.locator('[data-testid="stAlertContentError"]')
    err.wait_for()
    assert err.is_visible() and "huge.jpg" in err.inner_text() and "limit of 10 MB" in err.inner_text()
    assert streamlit_app.exceptions() == []
    streamlit_app.screenshot("try_a_face_too_large")
