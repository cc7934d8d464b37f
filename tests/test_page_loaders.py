"""dashboard.ui.loaders: one copy of each artifact per server, read-only; missing artifacts not
cached; Datasets hashed by content (hash_funcs), not by hand-threaded data_hash arguments."""
import numpy as np
import pytest

from dashboard.ui import loaders
from fer_core.data.dataset import Dataset, load_dataset
from fer_core.models.checkpoint import shipped_checkpoints


def _ds(data_hash, n=5):
    return Dataset(images=np.zeros((n, 48, 48), np.uint8), labels=np.arange(n) % 7, split=np.array(["Training"] * n),
                   row=np.arange(n), source="planted", data_hash=data_hash)


@pytest.fixture
def planted(monkeypatch):
    """A loader named 'planted' that counts its calls and returns what `answers` holds."""
    calls, answers = [], {}

    def load(ds, store, *, k=0):
        calls.append((ds.data_hash, k, str(store.root)))
        return answers.get(k, {"a": np.arange(4) + k, "nested": {"b": np.ones(2)}})
    monkeypatch.setitem(loaders.LOADERS, "planted", loaders.Loader(load))
    loaders._shared.clear()
    yield calls, answers
    loaders._shared.clear()


def test_an_artifact_is_loaded_once_and_shared_read_only(planted):
    calls, _ = planted
    a = loaders.artifact("planted", _ds("h1"), k=1)
    b = loaders.artifact("planted", _ds("h1"), k=1)  # another Dataset object, same content hash
    assert a is b and len(calls) == 1
    assert a["a"].tolist() == [1, 2, 3, 4] and not a["a"].flags.writeable and not a["nested"]["b"].flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        a["a"][0] = 7
    loaders.artifact("planted", _ds("h2"), k=1)  # other data, other options: loaded again
    loaders.artifact("planted", _ds("h1"), k=2)
    assert [c[:2] for c in calls] == [("h1", 1), ("h2", 1), ("h1", 2)]


def test_the_cache_folder_is_part_of_the_key(planted, tmp_path, monkeypatch):
    calls, _ = planted
    loaders.artifact("planted", _ds("h1"))
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "other"))
    loaders.artifact("planted", _ds("h1"))
    assert len(calls) == 2 and calls[1][2] == str(tmp_path / "other")


def test_a_missing_artifact_is_not_cached(planted):
    calls, answers = planted
    answers[3] = None
    assert loaders.artifact("planted", _ds("h1"), k=3) is None
    answers[3] = {"x": np.zeros(1)}  # built meanwhile (e.g. a sweep computed on the page)
    assert loaders.artifact("planted", _ds("h1"), k=3)["x"].tolist() == [0.0]
    assert len(calls) == 2


def test_unknown_names_are_refused(planted):
    with pytest.raises(ValueError, match="unknown artifact 'nope'"):
        loaders.artifact("nope", _ds("h1"))
    with pytest.raises(ValueError, match="no cache key"):
        loaders.artifact_cached("planted", _ds("h1"))


def test_cache_data_hashes_a_dataset_by_its_content():
    calls = []

    @loaders.cache_data()
    def count(ds):
        calls.append(ds.data_hash)
        return int(ds.labels.sum())
    assert count(_ds("c1")) == count(_ds("c1")) == 10 and calls == ["c1"]
    count(_ds("c2"))
    assert calls == ["c1", "c2"]


@pytest.mark.skipif(not shipped_checkpoints(), reason="no shipped checkpoint")
def test_predictions_come_from_the_engine_and_are_read_only():
    from fer_core.analysis.predictions import default_model, get_predictions
    ds = load_dataset(use_cache=False)
    pred = loaders.artifact("predictions", ds, model=default_model())
    assert loaders.artifact_cached("predictions", ds, model=default_model())
    assert np.array_equal(pred["probs"], get_predictions(ds, default_model())["probs"])
    assert not pred["probs"].flags.writeable and not pred["features"].flags.writeable
    assert loaders.artifact("predictions", ds, model=default_model()) is pred


def test_the_same_file_with_and_without_ferplus_is_not_one_cache_entry(planted, tmp_path):
    # data_hash leaves the FER+ votes out (so engine stages that never read them keep their keys),
    # but a page's cached result may read them: the dashboard keys a Dataset by everything loaded
    import gzip
    import shutil

    from fer_core.data.dataset import SAMPLE_CSV, SAMPLE_FERPLUS
    csv = tmp_path / "fer2013.csv"
    with gzip.open(SAMPLE_CSV) as src, open(csv, "wb") as dst:
        shutil.copyfileobj(src, dst)
    calls, _ = planted
    with_fp, without = load_dataset(csv, SAMPLE_FERPLUS), load_dataset(csv)
    assert with_fp.data_hash == without.data_hash and without.ferplus is None
    a = loaders.artifact("planted", with_fp, k=3)
    b = loaders.artifact("planted", without, k=3)
    assert a is not b and len(calls) == 2
    assert loaders.artifact("planted", load_dataset(csv, SAMPLE_FERPLUS), k=3) is a and len(calls) == 2
