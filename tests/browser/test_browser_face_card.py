"""The face card in headless Chromium at 1280 px: a click on a face (Dataset grid, a confusion cell's
gallery on the Model page) opens its card; flag and undo from the card; find similar faces and
move the card to one of them."""
import re

import pytest
from browser_helpers import CELL_JS, FACE_JS

from fer_core.models.checkpoint import shipped_checkpoints

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not shipped_checkpoints(), reason="no shipped checkpoint")]

DIALOG = '[role="dialog"]'


def _open_card(streamlit_app, k: int) -> int:
    """Click the k-th face of the page's face grids; return its dataset index once its card shows."""
    page = streamlit_app.page
    face = page.evaluate(FACE_JS, k)
    streamlit_app.act(lambda: page.mouse.click(face["x"], face["y"]))
    page.locator(DIALOG).get_by_text(f"Image #{face['index']} ", exact=False).wait_for(timeout=20_000)
    return face["index"]


def test_a_click_on_a_dataset_face_opens_its_card_with_flags_and_similar_faces(streamlit_app):
    from fer_core.data.dataset import load_dataset
    from fer_core.data.flags import FlagStore
    ds = load_dataset()
    page = streamlit_app.page
    page.set_viewport_size({"width": 1280, "height": 1000})
    streamlit_app.goto("dataset", timeout_s=300)
    i = _open_card(streamlit_app, 4)
    card = page.locator(DIALOG)
    assert card.get_by_text(f"source row {int(ds.row[i])}", exact=False).first.is_visible()
    assert card.get_by_text("Predicted probabilities").first.is_visible()
    assert streamlit_app.exceptions() == []
    streamlit_app.screenshot("face_card")

    # flag it from the card: in SQLite; then undo
    flags = FlagStore(streamlit_app.cache_dir / "flags.sqlite")
    streamlit_app.act(lambda: card.get_by_text("Not a face", exact=True).click())
    streamlit_app.act(lambda: card.get_by_role("button", name="Save").click())
    latest = flags.latest(ds.data_hash)
    assert latest["row"].tolist() == [int(ds.row[i])] and latest["decision"].tolist() == ["not_face"]
    card.get_by_text("current decision: Not a face", exact=False).wait_for()
    streamlit_app.act(lambda: card.get_by_role("button", name="Undo").click())
    assert len(flags.latest(ds.data_hash)) == 0

    # similar faces: a click on one moves the card to it
    streamlit_app.act(lambda: card.get_by_role("button", name=re.compile("Find 12 similar faces")).click())
    card.get_by_text("Nearest faces in the model's feature space", exact=False).wait_for()
    faces = page.evaluate("() => document.querySelectorAll('" + DIALOG + " g.mark-image image').length")
    assert faces == 12
    streamlit_app.screenshot("face_card_similar")
    first = page.evaluate("""() => { const f = document.querySelector('[role="dialog"] g.mark-image image');
        f.scrollIntoView({block: 'center'}); const r = f.getBoundingClientRect();
        return {x: r.left + r.width / 2, y: r.top + r.height / 2,
                index: +/index: (\\d+)/.exec(f.getAttribute('aria-label'))[1]}; }""")
    assert first["index"] != i
    streamlit_app.act(lambda: page.mouse.click(first["x"], first["y"]))
    card.get_by_text(f"Image #{first['index']} ", exact=False).wait_for(timeout=20_000)
    assert streamlit_app.exceptions() == []


def test_a_confusion_cell_then_a_face_opens_its_card(streamlit_app):
    page = streamlit_app.page
    page.set_viewport_size({"width": 1280, "height": 1000})
    streamlit_app.goto("model", timeout_s=300)
    cell = page.evaluate(CELL_JS, [4, 6])  # sad predicted neutral
    streamlit_app.act(lambda: page.mouse.click(cell["px"], cell["py"]))
    page.get_by_text("images labeled sad predicted neutral", exact=False).wait_for()
    i = _open_card(streamlit_app, 0)
    card = page.locator(DIALOG)
    assert card.get_by_text("label sad", exact=False).first.is_visible()
    assert card.get_by_text("predicts neutral", exact=False).first.is_visible(), i
    assert streamlit_app.exceptions() == []


def test_a_photos_face_finds_similar_dataset_faces_and_opens_their_card(streamlit_app):
    page = streamlit_app.page
    page.set_viewport_size({"width": 1280, "height": 1000})
    streamlit_app.goto("try_a_face", timeout_s=300)
    streamlit_app.act(lambda: page.get_by_text("Sample photo").click(), timeout_s=180)
    streamlit_app.act(lambda: page.get_by_text("Find similar faces in the dataset").first.click(), timeout_s=180)
    page.get_by_text("the model finds most similar", exact=False).first.wait_for()
    assert page.evaluate("() => document.querySelectorAll('g.mark-image image').length") == 12
    i = _open_card(streamlit_app, 0)
    assert page.locator(DIALOG).get_by_text("Predicted probabilities").first.is_visible(), i
    assert streamlit_app.exceptions() == []
    streamlit_app.screenshot("try_a_face_similar")
