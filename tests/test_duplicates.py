"""Duplicate finders on planted copies: exact, re-encoded, shifted, brightness-changed."""
import io

import numpy as np
import pytest
from PIL import Image

from fer_core.data.dataset import load_dataset
from fer_core.analysis.duplicates import (duplicate_groups, duplicate_table, exact_groups, groups_from_pairs,
                                 has_training_twin, leakage, near_duplicate_groups, near_duplicate_pairs)
from fer_core.store import Store


@pytest.fixture(scope="module")
def sample():
    return load_dataset(use_cache=False)


def _jpeg(img, q):
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=q)
    return np.asarray(Image.open(buf).convert("L"))


def _shift(img, dx, dy):
    p = np.pad(img, 8, mode="edge")
    return p[8 + dy:56 + dy, 8 + dx:56 + dx]


def _light(img, offset, gain):
    return np.clip((img.astype(float) - 128) * gain + 128 + offset, 0, 255).astype(np.uint8)


COPIES = {"jpeg q30": lambda a: _jpeg(a, 30), "shift 1 px": lambda a: _shift(a, 1, 0),
          "shift 2,-1 px": lambda a: _shift(a, 2, -1), "brighter": lambda a: _light(a, 25, 1.0),
          "less contrast": lambda a: _light(a, 0, 0.8),
          "all of them": lambda a: _light(_jpeg(_shift(a, -1, 1), 60), -15, 1.1)}


# ---- exact ----------------------------------------------------------------------------------
def test_exact_groups_planted(rng):
    a, b, c = (rng.integers(0, 256, (48, 48), dtype=np.uint8) for _ in range(3))
    blank = np.zeros((48, 48), np.uint8)
    c2 = c.copy()
    c2[10, 10] ^= 1  # one grey level off: not identical
    images = np.stack([b, a, c, a, blank, b, a, blank, c2])
    g = exact_groups(images)
    assert g.dtype == np.int64 and g.tolist() == [0, 1, -1, 1, -1, 0, 1, -1, -1]
    assert exact_groups(images, ignore_blank=False).tolist() == [0, 1, -1, 1, 2, 0, 1, 2, -1]
    assert exact_groups(images[:0]).shape == (0,)
    with pytest.raises(ValueError, match="uint8"):
        exact_groups(images.astype(np.float32))
    with pytest.raises(ValueError, match="48"):
        exact_groups(np.zeros((2, 32, 32), np.uint8))


def test_table_and_leakage_on_planted_groups():
    groups = np.array([0, 0, -1, 1, 1, 1, 2, 2, -1])
    labels = np.array([3, 3, 0, 4, 6, 4, 2, -1, 5])
    split = np.array(["Training", "PrivateTest", "Training", "Training", "Training", "PublicTest",
                      "PublicTest", "PrivateTest", "PrivateTest"])
    rows = np.arange(9) + 100
    t = duplicate_table(groups, labels, split, rows)
    assert t["group"].tolist() == [0, 1, 2] and t["size"].tolist() == [2, 3, 2]
    assert t["rows"].tolist() == [[100, 101], [103, 104, 105], [106, 107]]
    assert t["labels"].tolist()[1] == [4, 6, 4] and t["indices"].tolist()[2] == [6, 7]
    assert t["conflicting_labels"].tolist() == [False, True, False]  # -1 (unlabeled) is no conflict
    assert t["crosses_train_test"].tolist() == [True, True, False]  # PublicTest + PrivateTest is no leak
    assert has_training_twin(groups, split).tolist() == [False, True, False, False, False, True, False, False, False]
    lk = leakage(groups, split)
    assert lk.to_dict("records") == [
        {"split": "PublicTest", "n": 2, "with_training_twin": 1, "share": 0.5},
        {"split": "PrivateTest", "n": 3, "with_training_twin": 1, "share": pytest.approx(1 / 3)}]
    assert duplicate_table(np.full(3, -1), labels[:3], split[:3], rows[:3]).empty
    with pytest.raises(ValueError, match="labels"):
        duplicate_table(groups, labels[:3], split, rows)


# ---- near -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def planted(sample):
    """The sample's faces + planted copies of 12 of them that have no near duplicate already."""
    images = sample.images
    base_groups = near_duplicate_groups(images)
    contrast = images.reshape(len(images), -1).std(1)
    bases = np.flatnonzero((base_groups < 0) & (contrast > 30))[::37][:12]
    copies, of = [], []
    for i in bases:
        for f in COPIES.values():
            copies.append(f(images[i]))
            of.append(i)
    return images, base_groups, np.array(bases), np.stack(copies), np.array(of)


def test_near_groups_catch_planted_copies(planted):
    images, base_groups, bases, copies, of = planted
    allimg = np.concatenate([images, copies])
    g = near_duplicate_groups(allimg)
    n = len(images)
    for k, i in enumerate(of):
        assert g[n + k] >= 0 and g[n + k] == g[i], f"copy {list(COPIES)[k % len(COPIES)]} of image {i} missed"
    # each planted group is the base and its copies, nothing else; other groups are unchanged
    for i in bases:
        assert set(np.flatnonzero(g == g[i])) == {i, *(n + np.flatnonzero(of == i))}
    others = np.setdiff1d(np.arange(n), bases)
    assert (_same(g[others]) == _same(base_groups[others])).all()


def _same(groups):
    """(N, N) bool: images i and j are in one group (each -1 is a group of its own)."""
    key = np.where(groups >= 0, groups, -1 - np.arange(len(groups)))
    return key[:, None] == key[None, :]


def test_near_finder_leaves_different_images_apart(sample, rng):
    img = sample.images[np.argsort(-sample.images.reshape(1000, -1).std(1))[0]]
    other = sample.images[np.argsort(-sample.images.reshape(1000, -1).std(1))[1]]
    noise = rng.integers(0, 256, (48, 48), dtype=np.uint8)
    stack = np.stack([img, img[:, ::-1], other, noise, 255 - img, _shift(img, 6, 0)])
    pairs, scores = near_duplicate_pairs(stack)
    assert len(pairs) == 0  # mirror, another face, noise, negative, a 6 px shift: all different
    pairs, scores = near_duplicate_pairs(np.stack([img, _shift(img, 1, 1), img]))
    assert pairs.tolist() == [[0, 1], [0, 2], [1, 2]] and scores.min() > 0.99 and scores.dtype == np.float32


def test_near_finder_threshold_and_blank_images(sample):
    img = sample.images[0]
    blank = np.full((48, 48), 7, np.uint8)
    stack = np.stack([img, _jpeg(img, 30), blank, blank.copy()])
    assert near_duplicate_groups(stack).tolist() == [0, 0, -1, -1]
    assert near_duplicate_groups(stack, threshold=1.0).tolist() == [-1, -1, -1, -1]
    assert near_duplicate_groups(stack[:1]).tolist() == [-1]
    with pytest.raises(ValueError, match="max_shift"):
        near_duplicate_groups(stack, max_shift=20)


def test_groups_from_pairs_chains_and_numbers_by_first_appearance():
    g = groups_from_pairs(np.array([[5, 6], [1, 3], [3, 4]]), 8)
    assert g.tolist() == [-1, 0, -1, 0, 0, 1, 1, -1]
    assert groups_from_pairs(np.zeros((0, 2), np.int64), 3).tolist() == [-1, -1, -1]


def test_near_groups_are_cached_per_images(sample, monkeypatch, tmp_path):
    import fer_core.analysis.duplicates as dup
    store = Store(tmp_path / "cache")
    sub = sample.subset(np.arange(300))
    g1 = duplicate_groups(sub, kind="near", store=store)
    assert len(store.list("duplicates")) == 1
    monkeypatch.setattr(dup, "near_duplicate_pairs", lambda *a, **k: pytest.fail("not served from the cache"))
    np.testing.assert_array_equal(duplicate_groups(sub, kind="near", store=store), g1)
    assert duplicate_groups(sub, kind="exact").tolist() == exact_groups(sub.images).tolist()
    with pytest.raises(ValueError, match="kind"):
        duplicate_groups(sub, kind="fuzzy")


def test_prepare_stage_caches_the_near_groups(monkeypatch):
    from fer_core.analysis import duplicates as dup
    from fer_core.pipeline import prepare
    from fer_core.data.dataset import load_dataset
    from fer_core.store import Store
    ds = load_dataset()
    assert not Store().exists("duplicates", dup.near_duplicates_key(ds))
    prepare.run(ds, only=["duplicates"], log=lambda *_: None)
    assert Store().exists("duplicates", dup.near_duplicates_key(ds))
    built = dup.get_near_duplicates(ds)
    monkeypatch.setattr(dup, "near_duplicate_pairs", lambda *a, **k: pytest.fail("recomputed"))
    assert (dup.duplicate_groups(ds, kind="near") == built).all()
