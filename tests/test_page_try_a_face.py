"""Try-a-face and Saliency pages (AppTest): the upload path with valid and invalid files, the
sample photo, carry-over of a selected row, the sanity-check button."""
from pathlib import Path

import numpy as np
import pytest

from fer_core.models.checkpoint import shipped_checkpoints
from fer_core.data.dataset import load_dataset
from fer_core.analysis.faces import demo_photo
from fer_testutils import image_bytes, photo_zoo

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
ROOT = Path(__file__).resolve().parent.parent
TRY = str(ROOT / "pages" / "try_a_face.py")
SALIENCY = str(ROOT / "pages" / "saliency.py")
pytestmark = [pytest.mark.skipif(not shipped_checkpoints(), reason="no shipped checkpoint"),
              pytest.mark.usefixtures("module_cache")]


@pytest.fixture(scope="module")
def zoo():
    ds = load_dataset()
    rgb, _, _ = demo_photo(ds.images, ds.labels, n=2, seed=1)
    return photo_zoo(rgb)


def upload(name, data, mime="image/png"):
    at = AppTest.from_file(TRY, default_timeout=120).run()
    assert not at.exception
    at.file_uploader(key="taf_upload").set_value((name, data, mime)).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_upload_valid_photo_shows_every_face(zoo):
    at = upload("photo.png", zoo["photo.png"][0])
    assert not at.error
    assert any(m.value.startswith("**2 faces** found") for m in at.markdown)
    assert sum("**Top 3:**" in m.value for m in at.markdown) == 2
    assert [s.value.split(":")[0] for s in at.subheader] == ["Face 1", "Face 2"]


@pytest.mark.parametrize("name", ["notes.png", "empty.jpg", "truncated.jpg", "bomb.png"])
def test_upload_bad_file_says_why_and_app_stays_up(zoo, name):
    at = upload(name, zoo[name][0])
    assert len(at.error) == 1 and name in at.error[0].value and "cannot be used" in at.error[0].value
    assert not at.subheader  # nothing else rendered for it
    # the app is still alive: the next (valid) upload works in the same session
    at.file_uploader(key="taf_upload").set_value(("ok.jpg", zoo["photo.jpg"][0], "image/jpeg")).run()
    assert not at.exception and not at.error and len(at.subheader) == 2


def test_a_file_over_the_upload_limit_is_refused_in_plain_sight(zoo):
    """Issue 17: a file over the limit showed its reason only on hover (the browser refused it)."""
    limit = 10  # UPLOAD_LIMIT_MB of pages/try_a_face.py
    big = zoo["photo.jpg"][0] + b"\0" * (limit * 2**20)  # a valid JPEG with padding after its end
    at = upload("huge.jpg", big, "image/jpeg")
    assert len(at.error) == 1
    assert "huge.jpg" in at.error[0].value and f"limit of {limit} MB" in at.error[0].value
    assert not at.subheader  # nothing analysed
    at.file_uploader(key="taf_upload").set_value(("ok.jpg", zoo["photo.jpg"][0], "image/jpeg")).run()
    assert not at.exception and not at.error and len(at.subheader) == 2


def test_unusual_files_are_read_with_a_note(zoo):
    at = upload("anim.png", zoo["animated.png"][0])  # an APNG
    assert not at.error and any("first frame" in c.value for c in at.caption)


def test_no_face_offers_the_whole_image():
    blank = image_bytes(np.full((300, 400, 3), 180, np.uint8), "PNG")
    at = upload("wall.png", blank)
    assert "No face found" in at.warning[0].value
    at.checkbox(key="taf_whole").check().run()
    assert not at.exception
    assert any("(whole image)" in m.value for m in at.markdown) and len(at.subheader) == 1


def test_sample_photo():
    at = AppTest.from_file(TRY, default_timeout=120).run()
    at.radio(key="taf_source").set_value("Sample photo").run()
    assert not at.exception and any(m.value.startswith("**3 faces** found") for m in at.markdown)


def test_saliency_page_carries_over_selected_row_and_runs_the_sanity_check():
    at = AppTest.from_file(SALIENCY, default_timeout=300)
    at.session_state["selected_row"] = 17
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.number_input(key="sal_index").value == 17
    at.multiselect(key="sal_methods").set_value(["saliency", "gradcam"]).run()
    at.selectbox(key="sal_target").set_value("happy").run()
    assert not at.exception
    assert any("Maps for class **happy**" in c.value for c in at.caption)
    button = [b for b in at.button if "Run the sanity check" in b.label]
    assert button, [b.label for b in at.button]


@pytest.mark.parametrize("layout", ["labeled", "unlabeled"])
def test_saliency_page_on_a_small_image_folder(module_cache, tmp_path, layout):
    """No FER+, no test split (or no labels at all): the page still renders, with empty classes."""
    import json

    from PIL import Image
    rng = np.random.default_rng(0)
    folder = tmp_path / "faces"
    for k in range(6):
        d = folder / ("train/happy" if layout == "labeled" and k < 3 else "test/sad" if layout == "labeled" else "")
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(d / f"{k}.png")
    (module_cache / "settings.json").write_text(json.dumps({"data_source": {"kind": "path", "path": str(folder),
                                                                      "ferplus": ""}}))
    try:
        at = AppTest.from_file(SALIENCY, default_timeout=300).run()
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error, [e.value for e in at.error]
    finally:
        (module_cache / "settings.json").unlink(missing_ok=True)
