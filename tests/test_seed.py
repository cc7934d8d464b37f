"""The shipped seed: the bundled sample's artifacts, read when the cache misses, so that a fresh
install opens every page without computing (fer_core.store.SEED_DIR, scripts/make_seed.py)."""
import json

import numpy as np
import pytest

from fer_core.analysis.predictions import get_predictions
from fer_core.data.dataset import load_dataset
from fer_core.models.checkpoint import default_model
from fer_core.pipeline.prepare import stage_status
from fer_core.store import SEED_DIR, Store

#: stages the seed leaves out (scripts/make_seed.py: quick to compute and large)
NOT_SEEDED = {"eigenfaces"}


@pytest.fixture
def seed_on(monkeypatch):
    monkeypatch.setenv("FER_SEED_CACHE", "1")


def test_the_seed_answers_every_stage_of_the_sample_for_the_default_model(seed_on, tmp_path):
    status = stage_status(load_dataset(), Store(tmp_path / "empty"))
    stale = sorted(s for s, ok in status.items() if not ok and s not in NOT_SEEDED)
    assert not stale, f"the seed is stale for {stale}: run python scripts/make_seed.py"
    assert status and not any((tmp_path / "empty").glob("*/*")), "a seed read wrote into the cache"


def test_seeded_predictions_are_what_the_model_computes(seed_on, tmp_path, monkeypatch):
    ds = load_dataset()
    seeded = get_predictions(ds, default_model(), store=Store(tmp_path / "a"))
    monkeypatch.setenv("FER_SEED_CACHE", "0")
    computed = get_predictions(ds, default_model(), store=Store(tmp_path / "b"))
    assert any((tmp_path / "b").glob("predictions/*")) and not any((tmp_path / "a").glob("predictions/*"))
    np.testing.assert_allclose(seeded["probs"], computed["probs"], atol=1e-5)


def _artifact(store: Store, stage="s", value=1.0):
    key = store.key(stage, {"k": 1})
    store.save(stage, key, {"x": np.array([value])}, config={"k": 1})
    return key


def test_the_cache_wins_over_the_seed_and_writes_never_go_to_the_seed(tmp_path):
    seed = Store(tmp_path / "seed", seed=None)
    key = _artifact(seed, value=1.0)
    store = Store(tmp_path / "cache", seed=tmp_path / "seed")
    assert store.exists("s", key) and store.load("s", key)["x"][0] == 1.0 and store.meta("s", key)["key"] == key
    _artifact(store, value=2.0)
    assert store.load("s", key)["x"][0] == 2.0 and seed.load("s", key)["x"][0] == 1.0


def test_a_corrupt_seed_artifact_is_a_miss_and_is_left_alone(tmp_path):
    seed = Store(tmp_path / "seed", seed=None)
    key = _artifact(seed)
    meta = tmp_path / "seed" / "s" / key / "meta.json"
    m = json.loads(meta.read_text())
    meta.write_text(json.dumps({**m, "sha256": "0" * 64}))
    store = Store(tmp_path / "cache", seed=tmp_path / "seed")
    assert not store.exists("s", key) and store.load("s", key) is None
    assert meta.exists()


def test_fer_seed_cache_0_turns_the_seed_off(monkeypatch, tmp_path):
    monkeypatch.setenv("FER_SEED_CACHE", "0")
    assert Store(tmp_path).seed is None
    monkeypatch.setenv("FER_SEED_CACHE", "1")
    assert Store(tmp_path).seed == SEED_DIR
