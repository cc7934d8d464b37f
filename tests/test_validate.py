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


# --------------------------------------------------------------------------------------------
# read_pred_probs: probabilities from a .npy or .csv file
# --------------------------------------------------------------------------------------------
CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def _probs(n=4, seed=0):
    p = np.random.default_rng(seed).uniform(0.01, 1, (n, 7))
    return p / p.sum(1, keepdims=True)


def _csv(path, header, rows):
    lines = ([",".join(header)] if header else []) + [",".join(str(v) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_read_pred_probs_npy_and_csv_layouts(tmp_path):
    p = _probs()
    np.save(tmp_path / "p.npy", p.astype(np.float32))
    np.testing.assert_allclose(V.read_pred_probs(tmp_path / "p.npy", n=4, class_names=CLASSES), p, atol=1e-6)
    # K numeric columns, no header
    got = V.read_pred_probs(_csv(tmp_path / "plain.csv", None, p.tolist()), n=4, class_names=CLASSES)
    np.testing.assert_allclose(got, p, rtol=0, atol=1e-15)
    # a header of class names in another order (case-insensitive): columns put back in class order
    perm = [6, 0, 3, 1, 5, 2, 4]
    named = _csv(tmp_path / "named.csv", [CLASSES[c].upper() for c in perm], p[:, perm].tolist())
    np.testing.assert_allclose(V.read_pred_probs(named, n=4, class_names=CLASSES), p, rtol=0, atol=1e-15)
    # a row column (the dataset's row ids, shuffled) plus class indices as headers
    ids = np.array([10, 11, 12, 13])
    order = [2, 0, 3, 1]
    rows = [[ids[i], *p[i, perm]] for i in order]
    indexed = _csv(tmp_path / "rows.csv", ["row", *map(str, perm)], rows)
    np.testing.assert_allclose(V.read_pred_probs(indexed, n=4, class_names=CLASSES, rows=ids), p, rtol=0, atol=1e-15)
    # class indices alone as the header (numbers, yet not a row of probabilities)
    bare = _csv(tmp_path / "bare.csv", [str(c) for c in perm], p[:, perm].tolist())
    np.testing.assert_allclose(V.read_pred_probs(bare, n=4, class_names=CLASSES), p, rtol=0, atol=1e-15)


@pytest.mark.parametrize("header, rows, msg", [
    (None, [[0.5, 0.5]] * 4, r"x\.csv: pred_probs must be \(N, K\) = \(4, 7\).*shape \(4, 2\)"),
    (None, [[1 / 7] * 7] * 3, r"x\.csv: pred_probs must be \(N, K\) = \(4, 7\).*shape \(3, 7\)"),
    (list(CLASSES), [[1 / 7] * 7, [1 / 7] * 6, [1 / 7] * 7, [1 / 7] * 7],
     r"x\.csv, row 1 \(line 3\): 6 values, expected 7"),
    (list(CLASSES), [[1 / 7] * 7, [1 / 7] * 7, [1 / 7] * 3 + ["abc"] + [1 / 7] * 3, [1 / 7] * 7],
     r"x\.csv, row 2 \(line 4\), field 'happy': 'abc' is not a number"),
    (["row", *CLASSES[:6], "calm"], [[i, *[1 / 7] * 7] for i in range(4)],
     r"x\.csv, header \(line 1\), field 'calm': column 8 is not a class name or index"),
    (["row", *CLASSES[:6], "0"], [[i, *[1 / 7] * 7] for i in range(4)],
     r"x\.csv, header \(line 1\), field '0': column 8 repeats class 'angry'"),
    (["row", *CLASSES], [[0, *[1 / 7] * 7], [1, *[1 / 7] * 7], [1, *[1 / 7] * 7], [3, *[1 / 7] * 7]],
     r"x\.csv, row 1 \(line 4\), field 'row': row 1 appears twice"),
    (["row", *CLASSES], [[0, *[1 / 7] * 7], [9, *[1 / 7] * 7], [2, *[1 / 7] * 7], [3, *[1 / 7] * 7]],
     r"x\.csv, row 9 \(line 3\), field 'row': 9 is not a row of the dataset"),
    (["row", *CLASSES], [[0, *[1 / 7] * 7], [1, *[1 / 7] * 7], [3, *[1 / 7] * 7]],
     r"x\.csv: 1 of the dataset's 4 rows have no probabilities \(first: row 2\)"),
    (["row", *CLASSES], [[0, *[1 / 7] * 7], [1, *[1 / 7] * 7], [2, *[1 / 7] * 7], [3, 0.5, *[1 / 7] * 6]],
     r"x\.csv, row 3 \(line 5\): rows do not sum to 1: normalise them \(this row sums to 1\.357"),
    (None, [[1 / 7] * 7, [1 / 7] * 7, [1 / 7] * 6 + ["nan"], [1 / 7] * 7],
     r"x\.csv, row 2 \(line 3\), field 'neutral': nan is not a probability"),
    (None, [[1 / 7] * 7, [-0.5, 0.5 + 1 / 7] + [1 / 7] * 5, [1 / 7] * 7, [1 / 7] * 7],
     r"x\.csv, row 1 \(line 2\), field 'angry': -0\.5 is negative"),
])
def test_read_pred_probs_csv_errors_name_file_row_and_column(tmp_path, header, rows, msg):
    with pytest.raises(ValueError, match=msg):
        V.read_pred_probs(_csv(tmp_path / "x.csv", header, rows), n=4, class_names=CLASSES)


def test_read_pred_probs_wrong_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="pred_probs file not found: .*none.npy"):
        V.read_pred_probs(tmp_path / "none.npy", n=4, class_names=CLASSES)
    (tmp_path / "p.txt").write_text("0.5\n")
    with pytest.raises(ValueError, match=r"p\.txt: pred_probs must be a \.npy .* or a \.csv file, got '\.txt'"):
        V.read_pred_probs(tmp_path / "p.txt", n=4, class_names=CLASSES)
    (tmp_path / "csv.npy").write_text("0.5,0.5\n")
    with pytest.raises(ValueError, match=r"csv\.npy: not a NumPy \.npy file \(it starts with b'0\.5,0\.5"):
        V.read_pred_probs(tmp_path / "csv.npy", n=4, class_names=CLASSES)
    np.save(tmp_path / "cut.npy", _probs(400))
    (tmp_path / "cut.npy").write_bytes((tmp_path / "cut.npy").read_bytes()[:500])
    with pytest.raises(ValueError, match=r"cut\.npy: unreadable \.npy file"):
        V.read_pred_probs(tmp_path / "cut.npy", n=400, class_names=CLASSES)
    np.save(tmp_path / "one.npy", np.full(7, 1 / 7))
    with pytest.raises(ValueError, match=r"one\.npy: pred_probs must be \(N, K\) = \(4, 7\).*shape \(7,\)"):
        V.read_pred_probs(tmp_path / "one.npy", n=4, class_names=CLASSES)
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(ValueError, match=r"bin\.csv: not a readable text CSV"):
        V.read_pred_probs(tmp_path / "bin.csv", n=4, class_names=CLASSES)
