"""Model page in headless Chromium: clicking a confusion-matrix cell (Vega-Lite, SVG) opens that cell's gallery."""
import re

import numpy as np
import pytest

from browser_helpers import AXIS_LABELS_JS, CELL_JS, CLIPPED_JS, VIEWPORT_IDS, VIEWPORTS

pytestmark = pytest.mark.browser


def test_confusion_cell_click_opens_gallery(streamlit_app):
    from fer_core.data.dataset import load_dataset
    from fer_core.analysis.predictions import get_predictions
    from fer_core.training.report import score_split
    page = streamlit_app.goto("model")
    page.get_by_role("heading", name="Confusion matrix").wait_for()
    page.locator('[data-testid="stVegaLiteChart"] g.mark-rect path').first.wait_for()
    assert streamlit_app.exceptions() == []
    # the same numbers the page shows, from the engine
    ds = load_dataset(use_cache=False)
    m = score_split(ds, get_predictions(ds)["probs"], split="PrivateTest")
    cm = np.asarray(m["confusion"])
    t, p = 3, 3  # happy -> happy: the largest cell on any sensible model
    pt = page.evaluate(CELL_JS, [t, p])
    assert pt["label"].startswith("predicted: happy; true: happy")
    page.mouse.move(pt["px"], pt["py"])
    streamlit_app.act(lambda: page.mouse.click(pt["px"], pt["py"]))
    text = page.get_by_text(re.compile(r"images labeled .* predicted")).first.inner_text()
    assert f"{cm[t, p]} images labeled happy predicted happy" in text
    # another cell, clicked on its number (the text must not swallow the click)
    t, p = 2, 4  # fear -> sad
    pt = page.evaluate(CELL_JS, [t, p])
    streamlit_app.act(lambda: page.mouse.click(pt["px"], pt["py"]))
    text = page.get_by_text(re.compile(r"images labeled .* predicted")).first.inner_text()
    assert f"{cm[t, p]} images labeled fear predicted sad" in text
    assert streamlit_app.exceptions() == []
    streamlit_app.screenshot("model_cell_click")


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
def test_labels_and_metrics_are_not_cut_off(streamlit_app, viewport):
    """Issue 17: at 1280 and 1400 px the confusion matrix hid the disgust, happy and surprise
    column labels (Vega drops labels that overlap) and a metric's label ended in an ellipsis."""
    from fer_core.constants import FER2013_EMOTIONS
    page = streamlit_app.goto("model")
    page.locator('[data-testid="stVegaLiteChart"] g.mark-rect path').first.wait_for()
    labels = page.evaluate(AXIS_LABELS_JS)[0]  # the confusion matrix: predicted (top) and true (left) axes
    for name in FER2013_EMOTIONS:
        assert labels.count(name) == 2, (name, labels)
    assert page.evaluate(CLIPPED_JS, '[data-testid="stMetricLabel"]') == []
    assert page.evaluate(CLIPPED_JS, '[data-testid="stMetricValue"]') == []
    assert streamlit_app.exceptions() == []
    streamlit_app.screenshot("model")
