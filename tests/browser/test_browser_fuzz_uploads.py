"""Bad uploads in a row through the real server (Chromium file input -> Streamlit upload endpoint
-> Try a face), then a good photo: every bad file gets an error naming it, the server keeps
serving this session and new ones."""
import urllib.request

import pytest

from fer_core.models.checkpoint import shipped_checkpoints

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not shipped_checkpoints(), reason="no shipped checkpoint")]

#: Bad files sent one after another (names from tests/fuzz_files.py), and a word of each error.
BAD_IN_A_ROW = {"notes.jpg": "not an image", "empty.jpg": "empty", "random-65536b-4.gif": "not an image",
                "png-magic-then-noise.png": "corrupt or truncated", "bomb-20000x20000.png": "too large",
                "ztxt-bomb.png": "metadata too large", "jpeg-magic-then-noise.jpg": "corrupt or truncated"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from fer_core.data.dataset import load_dataset
    from fer_core.analysis.faces import UPLOAD_TYPES, demo_photo
    from fuzz_files import fuzz_uploads

    ds = load_dataset(use_cache=False)
    rgb, _, _ = demo_photo(ds.images, ds.labels, n=2, seed=1)
    cases = fuzz_uploads(rgb)
    folder = tmp_path_factory.mktemp("fuzz-uploads")
    out = {}
    for name in [*BAD_IN_A_ROW, "jpeg-valid.jpg"]:
        upload_name = name if name.rsplit(".", 1)[-1] in UPLOAD_TYPES else name + ".png"  # the uploader's filter
        (folder / upload_name).write_bytes(cases[name][0])
        out[name] = folder / upload_name
    return out


def test_bad_uploads_in_a_row_then_a_good_one(streamlit_app, files, _browser):
    page = streamlit_app.goto("try_a_face")
    chooser = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    err = page.locator('[data-testid="stAlertContentError"]')
    for name, words in BAD_IN_A_ROW.items():
        path = files[name]
        streamlit_app.act(lambda: chooser.set_input_files(str(path)), timeout_s=120)
        err.filter(has_text=path.name).first.wait_for(timeout=60_000)  # not the previous file's message
        text = err.first.inner_text()
        assert path.name in text and words in text, (name, text)
        assert err.count() == 1 and streamlit_app.exceptions() == [], name
    streamlit_app.act(lambda: chooser.set_input_files(str(files["jpeg-valid.jpg"])), timeout_s=120)
    page.get_by_text("2 faces", exact=False).first.wait_for()
    assert err.count() == 0 and streamlit_app.exceptions() == []

    # the server still serves: health endpoint, and a new session renders the page
    with urllib.request.urlopen(f"{streamlit_app.url}/_stcore/health", timeout=10) as r:
        assert r.status == 200
    context = _browser.new_context()
    try:
        other = context.new_page()
        other.goto(f"{streamlit_app.url}/try_a_face")
        other.get_by_role("heading", name="Try a face").wait_for(timeout=60_000)
        other.get_by_text("Upload a photo or take one").wait_for(timeout=60_000)
        assert other.locator('[data-testid="stException"]').count() == 0
    finally:
        context.close()
