"""fer_core.validate: each validator accepts good input and names the argument and the problem otherwise."""
import numpy as np
import pytest

from fer_core import validate as V


def test_images_accepts_and_promotes():
    x = np.zeros((3, 48, 48), np.uint8)
    assert V.images(x) is x
    assert V.images(list(x)).shape == (3, 48, 48)
    assert V.images(np.zeros((0, 48, 48), np.uint8)).shape == (0, 48, 48)
    assert V.images(x[0], promote=True).shape == (1, 48, 48)


@pytest.mark.parametrize("bad, found", [
    (np.zeros((3, 48, 48), np.float32), r"\(3, 48, 48\) float32"),
    (np.zeros((3, 48, 47), np.uint8), r"\(3, 48, 47\) uint8"),
    (np.zeros((48, 48), np.uint8), r"\(48, 48\) uint8"),            # one image, not promoted
    (np.zeros((2, 3, 48, 48), np.uint8), r"\(2, 3, 48, 48\)"),
])
def test_images_rejects_with_name_expected_and_actual(bad, found):
    with pytest.raises(ValueError, match=r"faces must be \(N, 48, 48\) uint8.*got " + found):
        V.images(bad, name="faces")


def test_labels_accepts():
    y = V.labels([0, 2, 1], n=3, num_classes=3)
    assert y.dtype == np.int64 and y.tolist() == [0, 2, 1]
    assert V.labels(np.array([-1, 0], np.int8), allow_unlabeled=True).tolist() == [-1, 0]
    assert V.labels(np.zeros(0, int), n=0, num_classes=7).shape == (0,)


@pytest.mark.parametrize("bad, kw, msg", [
    (np.array([0, 1]), {"n": 3}, r"y must be \(3,\) integers, got shape \(2,\)"),
    (np.zeros((2, 1), int), {}, r"y must be \(N,\) integers, got shape \(2, 1\)"),
    (np.array([0.0, 1.0]), {}, "y must be integers, got float64"),
    (np.array([0, 7]), {"num_classes": 7}, r"y must be in 0\.\.6, found 0\.\.7"),
    (np.array([-1, 0]), {"num_classes": 7}, r"y must be in 0\.\.6, found -1\.\.0"),
    (np.array([-2, 0]), {"allow_unlabeled": True}, r"y must be in -1\.\.K-1 \(-1 = unlabeled\), found -2"),
])
def test_labels_rejects(bad, kw, msg):
    with pytest.raises(ValueError, match=msg):
        V.labels(bad, name="y", **kw)


def test_pred_probs_accepts_within_tolerance():
    p = np.array([[0.2, 0.8], [0.5, 0.5 + 5e-4]], np.float32)
    out = V.pred_probs(p, n=2, num_classes=2)
    assert out.dtype == np.float64 and out.shape == (2, 2)


@pytest.mark.parametrize("bad, kw, msg", [
    (np.array([0.5, 0.5]), {}, r"p must be \(N, K\) float, got shape \(2,\)"),
    (np.full((3, 2), 0.5), {"n": 2}, r"p must be \(2, K\) float, got shape \(3, 2\)"),
    (np.full((2, 2), 0.5), {"num_classes": 7}, r"p must be \(N, 7\) float, got shape \(2, 2\)"),
    (np.array([["a", "b"]]), {}, "p must be .* got dtype <U1"),
    (np.array([[0.5, 0.5], [0.9, 0.9]]), {}, r"rows summing to 1 .*row 1 .*sum 1\.8.*1 bad row"),
    (np.array([[0.5, 0.5], [np.nan, 1.0]]), {}, "finite.*row 1"),
    (np.array([[1.5, -0.5]]), {}, "non-negative.*row 0"),
])
def test_pred_probs_rejects(bad, kw, msg):
    with pytest.raises(ValueError, match=msg):
        V.pred_probs(bad, name="p", **kw)


def test_embeddings_accepts():
    x = V.embeddings(np.arange(6).reshape(3, 2), n=3, min_rows=2)
    assert x.dtype == np.float32 and x.shape == (3, 2)


@pytest.mark.parametrize("bad, kw, msg", [
    (np.zeros(5), {}, r"f must be \(N, D\) with N >= 0, got shape \(5,\)"),
    (np.zeros((5, 0)), {}, r"f must be \(N, D\).*\(5, 0\)"),
    (np.zeros((1, 3)), {"min_rows": 2}, r"f must be \(N, D\) with N >= 2, got shape \(1, 3\)"),
    (np.zeros((4, 3)), {"n": 5}, r"f must be \(N, D\) with N = 5, got shape \(4, 3\)"),
    (np.array([["a"], ["b"]]), {}, "f must be numeric"),
    (np.array([[0.0], [np.inf]]), {}, r"f contain NaN or infinite values \(1 of 2 rows\)"),
])
def test_embeddings_rejects(bad, kw, msg):
    with pytest.raises(ValueError, match=msg):
        V.embeddings(bad, name="f", **kw)
