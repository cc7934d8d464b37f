"""Where models disagree (fer_core.analysis.model_compare), the image table's model columns and its
flag columns, and checkpoints found in $FER_MODELS_DIR beside the shipped ones."""
import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon

from fer_core.analysis.image_table import MODEL_COLUMNS, image_table, with_flags
from fer_core.analysis.model_compare import disagreement


def test_disagreement_on_planted_cases():
    a = np.array([[1, 0, 0], [0.5, 0.5, 0], [0.7, 0.2, 0.1], [0.2, 0.3, 0.5]])
    b = np.array([[0, 1, 0], [0.5, 0.5, 0], [0.6, 0.3, 0.1], [0.5, 0.3, 0.2]])
    d = disagreement([a, b])
    assert d["differs"].tolist() == [True, False, False, True]
    assert d["top1"].tolist() == [[0, 0, 0, 2], [1, 0, 0, 0]]
    np.testing.assert_allclose(d["js"][:2], [1.0, 0.0], atol=1e-12)  # certain of different classes: 1 bit
    np.testing.assert_allclose(d["gap"], [1.0, 0.0, 0.1, 0.3], atol=1e-12)
    # the same as scipy's Jensen-Shannon distance squared (base 2)
    np.testing.assert_allclose(d["js"], [jensenshannon(p, q, base=2) ** 2 for p, q in zip(a, b)], atol=1e-9)
    assert d["js"][3] > d["js"][2] > 0  # farther apart, larger
    # three models: at most log2(3) bits; one dissenter is enough to differ
    c = np.eye(3)
    three = disagreement([c, np.roll(c, 1, 0), np.roll(c, 2, 0)])
    np.testing.assert_allclose(three["js"], np.log2(3))
    assert disagreement([a, a, b])["differs"].tolist() == [True, False, False, True]


def test_disagreement_refuses_bad_input():
    p = np.full((2, 3), 1 / 3)
    with pytest.raises(ValueError, match="at least two"):
        disagreement([p])
    with pytest.raises(ValueError, match="same shape"):
        disagreement([p, np.full((2, 4), 0.25)])
    with pytest.raises(ValueError, match=r"probs\[1\].*row 0"):
        disagreement([p, np.array([[0.5, 0.6, 0.0], [1, 0, 0]])])


def _probs(ds, rng):
    p = rng.dirichlet(np.ones(7), len(ds)).astype(np.float32)
    return p / p.sum(1, keepdims=True)


def test_image_table_model_columns_only_with_two_models(sample_ds):
    from fer_core.constants import FER2013_EMOTIONS
    rng = np.random.default_rng(0)
    a, b = _probs(sample_ds, rng), _probs(sample_ds, rng)
    b[:10] = a[:10]  # planted: the first ten images are predicted alike
    one = image_table(sample_ds, probs=a, classes=FER2013_EMOTIONS, models={"a": a})
    assert not set(MODEL_COLUMNS) & set(one.columns)  # one model: no empty comparison columns
    assert list(image_table(sample_ds, probs=a, classes=FER2013_EMOTIONS).columns) == list(one.columns)
    t = image_table(sample_ds, probs=a, classes=FER2013_EMOTIONS, models={"a": a, "b": b})
    assert set(MODEL_COLUMNS) <= set(t.columns)
    differs = a.argmax(1) != b.argmax(1)
    assert t["models disagree"].tolist() == differs.tolist() and not differs[:10].any() and differs.any()
    np.testing.assert_allclose(t["models JS"][:10], 0, atol=1e-6)
    k = int(np.flatnonzero(differs)[0])
    assert t["models' top-1"][k] == f"{FER2013_EMOTIONS[a[k].argmax()]} | {FER2013_EMOTIONS[b[k].argmax()]}"
    assert t.sort_values("models JS", ascending=False)["models disagree"].iloc[0]  # sortable; top one disagrees


def test_with_flags_gives_the_decision_and_its_corrected_label():
    table = pd.DataFrame({"index": [0, 1, 2], "row": [10, 11, 12]})
    latest = pd.DataFrame({"row": [10, 12], "decision": ["mislabeled", "not_face"],
                           "label": pd.array([3, pd.NA], dtype="Int64")})
    t = with_flags(table, latest)
    assert t["flag"].tolist() == ["mislabeled", "", "not_face"]
    assert t["corrected label"].tolist() == ["happy", "", ""]
    empty = with_flags(table, latest.iloc[:0])
    assert empty["flag"].tolist() == ["", "", ""] and empty["corrected label"].tolist() == ["", "", ""]


def test_models_dir_lists_and_resolves_extra_checkpoints(tmp_path, monkeypatch):
    from fer_testutils import second_model

    from fer_core.models import checkpoint as ck
    shipped = ck.shipped_checkpoints()
    second_model(tmp_path, name="mine")
    monkeypatch.setenv(ck.MODELS_ENV, f"{tmp_path}{__import__('os').pathsep}{tmp_path / 'missing'}")
    assert ck.shipped_checkpoints() == sorted({*shipped, "mine"})
    assert ck.resolve_checkpoint("mine") == tmp_path / "mine.pt"
    assert ck.default_model() == "compact"  # the default stays the shipped one
    _, info = ck.load_checkpoint("mine")
    assert info["model_name"] == "compact"
    monkeypatch.delenv(ck.MODELS_ENV)
    with pytest.raises(FileNotFoundError, match="no shipped checkpoint named 'mine'"):
        ck.resolve_checkpoint("mine")


@pytest.fixture(scope="module")
def sample_ds():
    from fer_core.data.dataset import load_dataset
    return load_dataset(use_cache=False)
