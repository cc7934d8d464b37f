"""Selection text (fer_core.data.selection): round trips of every form, shortest form chosen, and
a clear SelectionError for each kind of bad text; PNG export helpers."""
import io
import zipfile

import numpy as np
import pytest

from fer_core.data import images as fimg
from fer_core.data.selection import MAX_SOURCE, SelectionError, clean_source, decode, encode, normalize

N = 35_887


@pytest.mark.parametrize("indices, form", [
    ([], "r"), ([7], "r"), ([3, 4, 5, 6, 9, 20, 21], "r"), (np.arange(N), "r"),
    (np.arange(0, N, 2), "b"), (np.random.default_rng(0).choice(N, 5000, replace=False), "b"),
])
def test_round_trip_and_form(indices, form):
    text = encode(indices, n=N)
    assert text[0] == form
    assert np.array_equal(decode(text, n=N), np.unique(np.asarray(indices, np.int64)))
    assert all(c.isalnum() or c in "-._" for c in text)  # URL-unreserved: goes into a query string as is


def test_ranges_text_is_readable_and_big_selections_stay_short():
    assert encode([3, 4, 5, 6, 9, 20, 21], n=100) == "r3-6.9.20-21"
    assert len(encode(np.random.default_rng(1).choice(N, N // 2, replace=False), n=N)) < 7000  # 35,887 bits


def test_normalize_sorts_dedups_and_checks_range():
    assert normalize([5, 1, 5, 3], n=10).tolist() == [1, 3, 5]
    assert normalize(np.array([True, False, True]), n=3).tolist() == [0, 2]
    with pytest.raises(SelectionError, match="outside 0..9"):
        normalize([3, 10], n=10)
    with pytest.raises(SelectionError, match="integers"):
        normalize([1.5], n=10)


@pytest.mark.parametrize("text, message", [
    ("", "empty"), ("x12", "unknown selection form 'x'"), ("r5-3", "increasing order"),
    ("r1.1", "increasing order"), ("r10", "outside 0..9"), ("r1,2", "unexpected character ','"),
    ("r1..2", "malformed"), ("z!!", "not base64url"), ("bAAAA", "damaged"),
    ("r" + "1" * 300_000, "at most"),
])
def test_bad_text_is_a_clear_error(text, message):
    with pytest.raises(SelectionError, match=message):
        decode(text, n=10)


def test_bitmap_of_another_size_and_a_bomb_are_refused():
    big = encode(np.arange(0, 1000, 2), n=1000)
    assert big[0] == "b"
    with pytest.raises(SelectionError):
        decode(big, n=100)  # a bitmap of a larger dataset
    import base64
    import zlib
    bomb = "z" + base64.urlsafe_b64encode(zlib.compress(b"1" * 10_000_000)).decode().rstrip("=")
    with pytest.raises(SelectionError, match="does not expand"):
        decode(bomb, n=10)


def test_clean_source():
    assert clean_source("box\non  UMAP\x00 map") == "box on UMAP map"
    assert clean_source(None) == ""
    assert len(clean_source("x" * 500)) == MAX_SOURCE


def test_png_zip_layout_and_data_uri():
    imgs = np.zeros((3, 48, 48), np.uint8)
    imgs[1] = 255
    data = fimg.png_zip(imgs, ["happy", "sad", "a/b"], ["10", "11", "12"])
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert sorted(z.namelist()) == ["a_b/12.png", "happy/10.png", "sad/11.png"]
        from PIL import Image
        assert np.asarray(Image.open(io.BytesIO(z.read("sad/11.png")))).min() == 255
    assert fimg.png_data_uri(imgs[0]).startswith("data:image/png;base64,iVBOR")
    with pytest.raises(ValueError):
        fimg.png_zip(imgs, ["a"], ["b"])
