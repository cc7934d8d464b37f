"""Upload fuzzing: over 200 generated damaged, disguised and unusual files (tests/fuzz_files.py)
through fer_core.analysis.faces.load_photo and analyze_photo, then a sample through the Try-a-face page.

Each file must give a usable photo or an ImageError whose message names the file and says what
is wrong; never another exception, never a hang. The real-browser counterpart is
tests/browser/test_browser_fuzz_uploads.py.
"""
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest

from fer_core.analysis import faces as F
from fer_core.models.checkpoint import load_checkpoint, shipped_checkpoints
from fer_core.data.dataset import load_dataset
from fuzz_files import BAD, EITHER, OK, fuzz_uploads

ROOT = Path(__file__).resolve().parent.parent
TRY = str(ROOT / "pages" / "try_a_face.py")
#: No single file may take longer than this to decode (or be refused): a hang guard.
MAX_SECONDS = 5.0


@pytest.fixture(scope="module")
def photo_rgb():
    ds = load_dataset(use_cache=False)
    rgb, _, _ = F.demo_photo(ds.images, ds.labels, n=2, seed=1)
    return rgb


@pytest.fixture(scope="module")
def cases(photo_rgb):
    return fuzz_uploads(photo_rgb, seed=0)


@pytest.fixture(scope="module")
def model():
    if not shipped_checkpoints():
        pytest.skip("no shipped checkpoint")
    return load_checkpoint(shipped_checkpoints()[0])[0]


def assert_clear(message: str, name: str | None) -> None:
    """A message a person can act on: names the file, says the problem, no Python internals."""
    if name is not None:
        assert message.startswith(f"{name}: "), message
        message = message[len(name) + 2:]
    assert 10 <= len(message) <= 400, message
    assert message.isprintable(), message
    for internal in ("Traceback", "object at 0x", "<_io.", "File \""):
        assert internal not in message, message


def check_photo(photo: F.Photo) -> None:
    h, w = photo.gray.shape
    assert photo.rgb.shape == (h, w, 3) and photo.rgb.dtype == np.uint8 and photo.gray.dtype == np.uint8
    assert h >= 1 and w >= 1 and h * w <= F.MAX_PIXELS
    assert all(isinstance(n, str) and n for n in photo.notes)


def check_faces(faces: list, photo: F.Photo, k: int) -> None:
    for f in faces:
        x, y, bw, bh = f["box"]
        assert bw > 0 and bh > 0 and 0 <= x and x + bw <= photo.size[0] and 0 <= y and y + bh <= photo.size[1]
        assert f["crop"].shape == (48, 48) and f["crop"].dtype == np.uint8
        assert f["probs"].shape == (k,) and np.isfinite(f["probs"]).all() and abs(f["probs"].sum() - 1) < 1e-4


def test_the_generated_files_are_many_and_of_every_kind(cases):
    assert len(cases) >= 200
    names = " ".join(cases)
    for kind in ("trunc", "flip", "zeroed-middle", "-as.", "empty", "bomb-20000x20000", "cmyk.jpg", "sixteen-bit",
                 "palette.png", "animated.gif", "exif-orientation-6", "large-text", "random-"):
        assert kind in names, kind
    for fmt in ("jpeg", "png", "webp", "bmp", "gif"):
        assert sum(n.startswith(f"{fmt}-trunc") or n.startswith(f"{fmt}-flip") for n in cases) >= 20, fmt
    assert {e for _, e in cases.values()} == {OK, BAD, EITHER}


@pytest.mark.timeout(300)
def test_every_file_gives_a_photo_or_a_clear_image_error(cases, model):
    """load_photo, then analyze_photo on what decodes (with detection and as one whole-image face)."""
    k = len(model.classes)
    wrong, outcomes = [], {"ok": 0, "refused": 0}
    for name, (data, expect) in cases.items():
        t0 = time.perf_counter()
        try:
            photo = F.load_photo(data, name=name)
        except F.ImageError as e:
            outcomes["refused"] += 1
            assert_clear(str(e), name)
            assert e.file == name and str(e) == f"{name}: {e.problem}"
            if expect == OK:
                wrong.append(f"{name}: refused a valid file: {e}")
        except BaseException as e:  # noqa: BLE001 - the point of the test
            wrong.append(f"{name}: {type(e).__name__}: {e}")
        else:
            outcomes["ok"] += 1
            if expect == BAD:
                wrong.append(f"{name}: decoded a file that should be refused ({photo.size}, {photo.mode})")
            check_photo(photo)
            try:
                check_faces(F.analyze_photo(photo.rgb, model), photo, k)
                check_faces(F.analyze_photo(photo.rgb, model, detect=False), photo, k)
            except BaseException as e:  # noqa: BLE001
                wrong.append(f"{name}: analyze_photo raised {type(e).__name__}: {e}")
        if (dt := time.perf_counter() - t0) > MAX_SECONDS:
            wrong.append(f"{name}: took {dt:.1f} s")
    assert not wrong, "\n".join(wrong)
    assert outcomes["ok"] >= 60 and outcomes["refused"] >= 100, outcomes


def test_unusual_but_valid_files_are_read_with_notes(cases, photo_rgb):
    h, w = photo_rgb.shape[:2]

    def load(name):
        return F.load_photo(cases[name][0], name=name)

    for o in range(1, 9):  # 5..8 swap width and height
        p = load(f"exif-orientation-{o}.jpg")
        assert p.size == ((h // 4, w // 4) if o >= 5 else (w // 4, h // 4)), o
        assert any("EXIF orientation" in n for n in p.notes) == (o != 1), (o, p.notes)
    for o in (0, 9, 300):  # nothing turned, and the note says why
        p = load(f"exif-orientation-invalid-{o}.jpg")
        assert p.size == (w // 4, h // 4) and any(f"invalid EXIF orientation {o}" in n for n in p.notes), p.notes
    for k in range(3):  # damaged EXIF costs at most the orientation, never the pixels
        data = cases[f"exif-damaged-{k}.jpg"][0]
        assert F.load_photo(data).size in ((w // 4, h // 4), (h // 4, w // 4))
    assert any("CMYK" in n for n in load("cmyk.jpg").notes)
    p16 = load("sixteen-bit.png")
    assert any("16-bit" in n for n in p16.notes)
    assert abs(float(p16.gray.mean()) - float(F.as_gray(photo_rgb).mean())) < 3
    assert any("32-bit integer image rescaled" in n for n in load("int32.tif").notes)
    pf = load("float-inf-nan.tif")  # inf -> white, -inf / NaN -> black, the rest stretched
    assert pf.gray[0, 0] == 255 and pf.gray[0, 1] == 0 and pf.gray[1, 0] == 0 and pf.gray[1:, 1:].std() > 10
    for name in ("animated.gif", "animated.png", "animated.webp"):
        assert any("first frame" in n for n in load(name).notes), name
    assert any("palette" in n for n in load("palette.png").notes)
    assert any("transparency" in n for n in load("palette-transparent.png").notes)
    for fmt, wrong in (("jpeg", "png"), ("png", "jpg"), ("gif", "jpeg")):  # the bytes decide, not the name
        assert load(f"{fmt}-as.{wrong}").format == fmt.upper()


def test_refusals_say_what_is_wrong(cases):
    def problem(name):
        with pytest.raises(F.ImageError) as e:
            F.load_photo(cases[name][0])
        assert e.value.file is None and str(e.value) == e.value.problem  # bytes: the caller names the file
        return e.value.problem

    assert "empty" in problem("empty.jpg")
    for name in ("bomb-20000x20000.png", "bomb-jpeg-header.jpg", "bomb-gif-screen.gif", "bomb-ppm-header.ppm"):
        assert "too large" in problem(name), name
    assert re.search(r"8000x6000 = 48 megapixels \(the limit is 40\)", problem("over-limit-jpeg-header.jpg"))
    assert "metadata too large" in problem("ztxt-bomb.png")
    for name in ("notes.jpg", "large-text-2mb.png", "document.jpg", "postscript.jpg", "random-65536b-4.gif"):
        assert problem(name).startswith("not an image"), name
    assert "starts like a PNG image but is corrupt or truncated" in problem("png-magic-then-noise.png")
    assert "starts like a JPEG image" in problem("jpeg-magic-then-noise.jpg")
    trunc = [n for n in cases if n.startswith("jpeg-trunc") and int(n.split("@")[1].split(".")[0]) > 1000]
    assert trunc and all("corrupt or truncated" in problem(n) for n in trunc)


def test_paths_and_file_objects_name_the_file(cases, tmp_path):
    truncated = next(n for n in cases if n.startswith("jpeg-trunc") and cases[n][0][:3] == b"\xff\xd8\xff")
    for name in ("notes.jpg", truncated, "empty.jpg", "bomb-20000x20000.png", "random-17b-1.png"):
        path = tmp_path / name
        path.write_bytes(cases[name][0])
        with pytest.raises(F.ImageError) as e:
            F.load_photo(path)
        assert_clear(str(e.value), name)
        with open(path, "rb") as f, pytest.raises(F.ImageError) as e:
            F.load_photo(f)
        assert_clear(str(e.value), name)
        with pytest.raises(F.ImageError) as e:
            F.load_photo(str(path), name="upload 3")  # an explicit name wins
        assert str(e.value).startswith("upload 3: ")
    with pytest.raises(F.ImageError, match=r"^missing\.jpg: cannot read"):
        F.load_photo(tmp_path / "missing.jpg")
    with open(tmp_path / "notes.jpg") as text_mode, pytest.raises(F.ImageError, match="text mode"):
        F.load_photo(text_mode)


@pytest.mark.timeout(30)
def test_special_and_oversized_paths_are_refused_without_reading(tmp_path, monkeypatch):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)  # reading it would block for ever
    with pytest.raises(F.ImageError, match=r"^pipe\.jpg: is not a regular file"):
        F.load_photo(fifo)
    big = tmp_path / "big.jpg"
    big.write_bytes(bytes(2048))
    monkeypatch.setattr("fer_core.data.photos.MAX_FILE_BYTES", 1024)  # where load_photo reads it
    with pytest.raises(F.ImageError, match=r"^big\.jpg: the file is too large"):
        F.load_photo(big)
    with pytest.raises(F.ImageError, match="too large"):
        F.load_photo(bytes(2048))


# ---- the Try-a-face page ------------------------------------------------------------------
#: ~20 files for the page: every kind of refusal, and odd files that must render.
PAGE_SAMPLE = ("empty.jpg", "notes.jpg", "bomb-20000x20000.png", "over-limit-jpeg-header.jpg", "ztxt-bomb.png",
               "large-text-2mb.png", "postscript.jpg", "random-4096b-3.bmp", "png-magic-then-noise.png",
               "riff-webp-header-only.webp", "bmp-magic-then-zeros.bmp", "jpeg-trunc-1@2.jpg", "gzipped-png.png",
               "png-zeroed-middle.png", "jpeg-flip-3.jpg", "cmyk.jpg", "sixteen-bit.png", "animated.gif",
               "exif-orientation-6.jpg", "exif-orientation-invalid-9.jpg", "webp-as.bmp", "tiny-1x1.png")


@pytest.mark.timeout(300)
@pytest.mark.usefixtures("module_cache")
def test_try_a_face_page_on_a_sample_of_the_files(cases, model):
    """One session, files one after another: a refusal is an error naming the file, anything that
    decodes renders (faces, or the no-face warning); never an exception element."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(TRY, default_timeout=120).run()
    assert not at.exception
    sample = [n for n in PAGE_SAMPLE if n in cases]
    assert len(sample) >= 20
    for name in sample:
        data, _ = cases[name]
        if name.rsplit(".", 1)[-1] not in F.UPLOAD_TYPES:  # the uploader checks the extension itself
            name += ".png"
        try:
            F.load_photo(data)
            decodes = True
        except F.ImageError:
            decodes = False
        at.file_uploader(key="taf_upload").set_value((name, data, "application/octet-stream")).run()
        assert not at.exception, (name, [e.value for e in at.exception])
        if decodes:
            assert not at.error, (name, [e.value for e in at.error])
            assert at.subheader or any("No face found" in w.value for w in at.warning), name
        else:
            assert len(at.error) == 1 and name in at.error[0].value and "cannot be used" in at.error[0].value, name
            assert not at.subheader, name
    # still serving: a good photo after all that
    good = cases["jpeg-valid.jpg"][0]
    at.file_uploader(key="taf_upload").set_value(("photo.jpg", good, "image/jpeg")).run()
    assert not at.exception and not at.error and len(at.subheader) == 2
