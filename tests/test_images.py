"""fer_core.data.images: filters, statistics and tiling on planted cases."""
import numpy as np
import pytest

from fer_core.data import images as fimg
from fer_core.constants import FER2013_EMOTIONS, FERPLUS_EMOTIONS
from fer_core.data.dataset import Dataset, FerPlus, ferplus_distribution, ferplus_majority


def planted() -> Dataset:
    """6 images: known labels, splits, FER+ votes (agree, disagree, no majority, contempt, not a face)."""
    votes = np.zeros((6, 10), np.int16)
    votes[0, 1] = 10   # happiness, label happy (3): agree
    votes[1, 0] = 10   # neutral, label angry (0): disagree
    votes[2, [0, 1]] = 5  # split 5/5: no majority
    votes[3, 7] = 10   # contempt, label neutral: disagree (FER2013 has no contempt)
    votes[4, 9] = 10   # NF: not a face -> no majority
    votes[5, 4] = 9    # anger, label angry: agree
    name = np.array(["a", "b", "c", "d", "", "f"])
    fp = FerPlus(votes, ferplus_majority(votes), ferplus_distribution(votes), name == "", name)
    imgs = np.zeros((6, 48, 48), np.uint8)
    imgs[1] = 255
    imgs[2, :24] = 200  # half bright: contrast 100
    return Dataset(images=imgs, labels=np.array([3, 0, 2, 6, 4, 0]),
                   split=np.array(["Training", "Training", "PublicTest", "PrivateTest", "Training", "PublicTest"]),
                   row=np.arange(6), source="planted", data_hash="x", ferplus=fp)


def test_agreement_codes_planted():
    ds = planted()
    fp = ds.ferplus
    codes = fimg.agreement_codes(ds.labels, fp.majority, fp.majority_fer2013)
    assert [fimg.AGREEMENT[c] for c in codes] == ["agree", "disagree", "no majority", "disagree",
                                                  "no majority", "agree"]
    with pytest.raises(ValueError):
        fimg.agreement_codes(ds.labels, fp.majority[:3], fp.majority_fer2013)


def test_filter_mask_combines_filters():
    ds = planted()
    assert fimg.filter_mask(ds).all()
    assert np.flatnonzero(fimg.filter_mask(ds, splits=["Training"])).tolist() == [0, 1, 4]
    assert np.flatnonzero(fimg.filter_mask(ds, labels=[0])).tolist() == [1, 5]
    assert np.flatnonzero(fimg.filter_mask(ds, labels=[0], agreement=["agree"])).tolist() == [5]
    assert np.flatnonzero(fimg.filter_mask(ds, ferplus_labels=[-1])).tolist() == [2, 4]
    assert np.flatnonzero(fimg.filter_mask(ds, faces="not_face")).tolist() == [4]
    assert fimg.filter_mask(ds, faces="faces").sum() == 5
    assert not fimg.filter_mask(ds, splits=["Training"], labels=[6]).any()
    with pytest.raises(ValueError, match="agreement"):
        fimg.filter_mask(ds, agreement=["maybe"])
    with pytest.raises(ValueError, match="faces"):
        fimg.filter_mask(ds, faces="nope")
    no_fp = planted()
    no_fp.ferplus = None
    with pytest.raises(ValueError, match="FER\\+"):
        fimg.filter_mask(no_fp, agreement=["agree"])


def test_split_class_counts_and_crosstab():
    ds = planted()
    counts = fimg.split_class_counts(ds.split, ds.labels, FER2013_EMOTIONS)
    assert list(counts.columns) == ["Training", "PublicTest", "PrivateTest", "total"]
    assert counts.loc["angry", "Training"] == 1 and counts.loc["angry", "total"] == 2
    assert counts["total"].sum() == 6
    xt = fimg.ferplus_crosstab(ds.labels, ds.ferplus.majority)
    assert list(xt.columns[:7]) == ["anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral"]
    assert list(xt.columns[7:]) == ["contempt", "no majority"]
    assert xt.loc["happy", "happiness"] == 1 and xt.loc["angry", "anger"] == 1
    assert xt.loc["angry", "neutral"] == 1 and xt.loc["neutral", "contempt"] == 1
    assert xt.loc["fear", "no majority"] == 1 and xt.values.sum() == 6
    assert set(FERPLUS_EMOTIONS) <= set(xt.columns)


def test_pixel_stats_and_histograms():
    ds = planted()
    s = fimg.pixel_stats(ds.images, chunk=4)  # chunking must not change the answer
    assert s.brightness.tolist()[:3] == pytest.approx([0, 255, 100])
    assert s.contrast.tolist()[:3] == pytest.approx([0, 0, 100], abs=1e-3)
    h = fimg.class_histograms(ds.images, ds.labels, bins=8)
    assert h.shape == (7, 8)
    assert h[1].sum() == 0  # no disgust image
    assert h[3, 0] == 1.0  # the happy image is all black
    assert h[2, 0] == pytest.approx(0.5) and h[2, 6] == pytest.approx(0.5)  # 0 and 200
    with pytest.raises(ValueError):
        fimg.pixel_stats(ds.images.astype(np.float32))


def test_box_stats():
    v = np.array([1, 2, 3, 4, 100, 5, 5, 5], float)
    g = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    b = fimg.box_stats(v, g, 3)
    assert b.loc[0, "median"] == 3 and b.loc[0, "upperfence"] == 4  # 100 is an outlier
    assert b.loc[1, "q1"] == b.loc[1, "q3"] == 5
    assert b.loc[2, "n"] == 0 and np.isnan(b.loc[2, "median"])


def test_tile_layout_and_upscale():
    imgs = np.arange(5 * 4 * 4, dtype=np.uint8).reshape(5, 4, 4)
    t = fimg.tile(imgs, cols=2, scale=3, gap=1)
    assert t.shape == (3 * 12 + 2, 2 * 12 + 1) and t.dtype == np.uint8
    assert (t[:12, :12] == fimg.upscale(imgs[0], 3)).all()
    assert (t[13:25, 13:25] == fimg.upscale(imgs[3], 3)).all()
    assert (t[26:, 13:] == 255).all()  # empty last cell
    rgb = fimg.tile(imgs, cols=5, scale=2, captions=[str(i) for i in range(5)])
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.shape[0] > 8
    f = fimg.tile(np.ones((2, 3, 3), np.float32), cols=2, scale=1)
    assert (f[:, :3] == 255).all()
    with pytest.raises(ValueError):
        fimg.tile(imgs, cols=2, captions=["a"])
    with pytest.raises(ValueError):
        fimg.upscale(imgs[0], 0)


def test_signed_to_unit_keeps_zero_at_mid_grey():
    c = np.array([[-2.0, 0.0], [1.0, 2.0]])
    u = fimg.signed_to_unit(c)
    assert u.tolist() == [[0.0, 0.5], [0.75, 1.0]]
    assert (fimg.signed_to_unit(np.zeros((2, 2))) == 0.5).all()



def test_tile_captions_write_plainly_what_the_font_lacks():
    """Issue 17: the "×" of the Eigenfaces caption "|difference| ×3" was drawn as an empty box
    (Pillow's built-in font has no glyph for it)."""
    from PIL import ImageFont
    imgs = np.zeros((2, 48, 48), np.uint8)
    drawn = fimg.tile(imgs, cols=2, captions=["|difference| ×3", "#5 —"])
    plain = fimg.tile(imgs, cols=2, captions=["|difference| x3", "#5 -"])
    assert np.array_equal(drawn, plain)
    has = fimg._font_glyphs(ImageFont.load_default(size=11))
    assert fimg.drawable_text("é×⧉ ab", has) == "ex? ab"
    assert fimg.drawable_text("angry 39% · #12", has) == "angry 39% · #12"  # what the font has stays
