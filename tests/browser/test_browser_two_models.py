"""Two models, one face, in headless Chromium at 1280 px: a dashboard whose $FER_MODELS_DIR holds a
second checkpoint (compact with its neutral logit raised) shows both models' probabilities and
Grad-CAM maps side by side on a face's card. Its own server (the shared one has one model).

Screenshot: test-artifacts/face_card_two_models_1280.png.
"""
import re
import time

import numpy as np
import pytest
from browser_helpers import (
    FACE_JS,
    NARROW_VIEWPORT,
    RUN_COUNTER_JS,
    runs_done,
    serve_dashboard,
    wait_idle,
    wait_images,
)

from fer_core.models.checkpoint import MODELS_ENV, shipped_checkpoints

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif("compact" not in shipped_checkpoints(), reason="needs the shipped compact model")]
DIALOG = '[role="dialog"]'


@pytest.fixture(scope="module")
def two_model_app(tmp_path_factory, streamlit_server, _browser):
    """A dashboard server seeing compact and compact-b, and a 1280 px page on it. It shares the
    cache of the other browser tests' server (artifacts are keyed by content: what they built,
    such as compact's predictions, is reused; compact-b's are new keys)."""
    from fer_testutils import second_model
    models = tmp_path_factory.mktemp("models")
    second_model(models)
    cache = streamlit_server[1]
    env = pytest.MonkeyPatch()
    env.setenv(MODELS_ENV, str(models))
    with open(cache / "streamlit_two_models.log", "w") as log, serve_dashboard(cache, log=log) as url:
        env.undo()  # only the server sees the second model
        context = _browser.new_context(viewport=NARROW_VIEWPORT)
        context.add_init_script(RUN_COUNTER_JS)
        page = context.new_page()
        page.set_default_timeout(60_000)
        try:
            yield url, models, page
        finally:
            context.close()


def test_a_face_card_shows_both_models_side_by_side(two_model_app):
    from fer_core.analysis.predictions import features_and_probs
    from fer_core.data.dataset import load_dataset
    from fer_core.models.checkpoint import load_checkpoint
    url, models, page = two_model_app
    ds = load_dataset()
    t0 = time.perf_counter()
    page.goto(f"{url}/dataset")
    wait_idle(page, 0, 120)
    wait_images(page)
    n = page.evaluate(FACE_JS, 0)["n"]
    shown = [page.evaluate(FACE_JS, k)["index"] for k in range(n)]
    a = features_and_probs(load_checkpoint("compact")[0], ds.images[shown])[1].argmax(1)
    b = features_and_probs(load_checkpoint(models / "compact-b.pt")[0], ds.images[shown])[1].argmax(1)
    k = int(np.flatnonzero(a != b)[0])  # the first face of the grid the two models disagree on
    face = page.evaluate(FACE_JS, k)
    before = runs_done(page)
    page.mouse.click(face["x"], face["y"])
    wait_idle(page, before, 120)
    card = page.locator(DIALOG)
    card.get_by_text("Every model on this face").wait_for(timeout=60_000)
    assert card.get_by_text("The 2 models disagree", exact=False).is_visible()
    for m in ("compact", "compact-b"):  # each model's column: its name (code-formatted) and its prediction
        column = card.locator('[data-testid="stColumn"]',
                              has=page.locator("code", has_text=re.compile(rf"^{m}$")))
        assert column.get_by_text("predicts", exact=False).first.is_visible()
    caps = card.get_by_text("Grad-CAM for", exact=False)
    assert caps.count() == 2
    page.wait_for_function("() => [...document.querySelectorAll('[role=\"dialog\"] img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    assert page.locator('[data-testid="stException"]').count() == 0
    from browser_helpers import ARTIFACTS
    page.set_viewport_size({"width": NARROW_VIEWPORT["width"], "height": 1500})  # the whole card, unscrolled
    page.wait_for_timeout(500)
    card.screenshot(path=str(ARTIFACTS / "face_card_two_models_1280.png"))
    print(f"\ntwo models: dataset page, card with both models in {time.perf_counter() - t0:.1f} s")
