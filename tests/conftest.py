import os
from pathlib import Path

import numpy as np
import pytest

# The shipped seed artifacts of the bundled sample (fer_core.store.SEED_DIR) would answer many
# tests' computations; only tests/test_seed.py reads them. Set before any fixture starts a server.
os.environ["FER_SEED_CACHE"] = "0"

from fer_testutils import make_pixels, write_fer_csv

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own cache/ so the repo's cache is never touched."""
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def small_csv(tmp_path, rng):
    pix = make_pixels(rng, 6)
    rows = [(0, pix[0], "Training"), (3, pix[1], "Training"), (6, pix[2], "PublicTest"),
            (1, pix[3], "PrivateTest"), (4, pix[4], "Training"), (5, pix[5], "PublicTest")]
    return write_fer_csv(tmp_path / "fer2013.csv", rows)


@pytest.fixture(scope="module")
def module_cache_dir(tmp_path_factory):
    """One cache folder per test module, for page tests that should build artifacts once."""
    return tmp_path_factory.mktemp("module-cache")


@pytest.fixture
def module_cache(module_cache_dir, monkeypatch):
    """Point FER_CACHE_DIR at the module's shared cache (use with pytest.mark.usefixtures)."""
    monkeypatch.setenv("FER_CACHE_DIR", str(module_cache_dir))
    return module_cache_dir
