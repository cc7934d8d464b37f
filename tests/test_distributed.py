"""The distributed batch job (fer_core.pipeline.distributed): Ray Data on a local 2-CPU Ray gives
the predictions stage's arrays, its import lands under the key the pages look up (and they do not
recompute), the Model page opens on it; Parquet and image folders through the same actor class
(--engine local); bad inputs are clear errors."""
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fer_core.analysis import predictions as predictions_mod
from fer_core.analysis.predictions import get_predictions, predictions_key
from fer_core.data.dataset import SAMPLE_CSV, DataError, load_dataset
from fer_core.models.checkpoint import shipped_checkpoints
from fer_core.pipeline import distributed as dist
from fer_core.store import Store

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not shipped_checkpoints(), reason="no shipped checkpoint")
STEP = 8  # every 8th row of the bundled sample: 125 images, every split and class


@pytest.fixture(scope="module")
def subset_csv(tmp_path_factory):
    df = pd.read_csv(SAMPLE_CSV, dtype=str)  # the pixel strings as they are
    path = tmp_path_factory.mktemp("data") / "fer_subset.csv"
    df.iloc[::STEP].to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def reference(subset_csv, tmp_path_factory):
    """(dataset, the predictions stage's arrays computed in this process)."""
    ds = load_dataset(subset_csv, use_cache=False)
    return ds, get_predictions(ds, store=Store(tmp_path_factory.mktemp("ref-cache"), seed=None))


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray with 2 CPUs for this module's jobs (they reuse it), stopped and checked gone after."""
    ray = pytest.importorskip("ray")
    tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    saved = {k: os.environ.get(k) for k in ("RAY_USAGE_STATS_ENABLED", "PYTHONPATH")}
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # the workers import fer_core from this checkout, as this process does
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), saved["PYTHONPATH"]]))
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=tmp,
             object_store_memory=128 * 2**20)  # fits a small /dev/shm (Ray falls back to /tmp if not)
    print(f"ray.init: {time.perf_counter() - t0:.1f} s")
    yield ray
    ray.shutdown()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    left = subprocess.run(["pgrep", "-f", tmp], capture_output=True, text=True, check=False).stdout.split()
    shutil.rmtree(tmp, ignore_errors=True)
    assert not left, f"Ray processes left running: {left}"


@pytest.fixture(scope="module")
def ray_run(ray_cluster, subset_csv, tmp_path_factory):
    """The command with --engine ray on the local Ray: (out folder, seconds)."""
    out = tmp_path_factory.mktemp("ray-out")
    t0 = time.perf_counter()
    rc = dist.main(["predictions", "--engine", "ray", "--num-cpus", "2", "--batch-size", "32",
                    "--data", str(subset_csv), "--out", str(out)])
    assert rc == 0
    return out, time.perf_counter() - t0


@pytest.mark.slow
def test_ray_job_gives_the_stage_arrays_under_its_key(ray_run, reference, tmp_path):
    out, seconds = ray_run
    ds, ref = reference
    manifest = json.loads((out / dist.MANIFEST).read_text())
    assert (manifest["engine"], manifest["n_images"], manifest["workers"]) == ("ray", len(ds), 2)
    assert len(list((out / dist.SHARDS).glob("*.parquet"))) >= 2  # one shard per block of 32
    store = Store(tmp_path / "cache", seed=None)
    key, _ = dist.import_predictions(out, store=store)
    assert key == predictions_key(ds) == manifest["artifact"]["key"]
    got = store.load("predictions", key)
    np.testing.assert_allclose(got["probs"], ref["probs"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["features"], ref["features"], rtol=1e-5, atol=1e-5)
    assert (got["probs"].argmax(1) == ref["probs"].argmax(1)).all()
    assert list(got["classes"]) == list(ref["classes"])
    print(f"ray job on {len(ds)} images: {seconds:.1f} s")


def _no_compute(*a, **k):
    raise AssertionError("the predictions stage ran the model: the imported artifact was not found")


@pytest.mark.slow
def test_imported_artifact_is_what_the_pages_load(ray_run, reference, tmp_path, monkeypatch):
    out, _ = ray_run
    ds, _ = reference
    cache = tmp_path / "cache"
    monkeypatch.setenv("FER_CACHE_DIR", str(cache))
    dist.import_predictions(out)  # the default store: $FER_CACHE_DIR
    monkeypatch.setattr(predictions_mod, "features_and_probs", _no_compute)
    from dashboard.ui import loaders
    assert loaders.artifact_cached("predictions", ds, model="compact")
    assert get_predictions(load_dataset(str(ds.source)))["probs"].shape == (len(ds), 7)
    # the Model page on that data source: every number from the imported probabilities
    Store(cache).write_json("settings.json", {"data_source": {"kind": "path", "path": str(ds.source), "ferplus": ""}})
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "pages" / "model.py"), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    from fer_core.training.report import score_split
    m = score_split(ds, get_predictions(ds)["probs"], split="PrivateTest")
    shown = {x.label: x.value for x in at.metric}
    assert (shown["Accuracy"], shown["Images"]) == (f"{m['accuracy']:.1%}", f"{m['n']:,}")


# ---- the same actor class without Ray: Parquet and image folders ---------------------------------------
def _write_parquet(folder: Path, ds, *, parts: int = 2, row_group_size: int = 25, image=None) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq
    folder.mkdir(parents=True, exist_ok=True)
    chunks = np.array_split(np.arange(len(ds)), parts)
    for i, idx in enumerate(chunks):
        col = image(idx) if image else pa.array([ds.images[j].tobytes() for j in idx], pa.binary())
        t = pa.table({"image": col, "row": pa.array(ds.row[idx]), "label": pa.array(ds.labels[idx]),
                      "split": pa.array(ds.split[idx])})
        pq.write_table(t, folder / f"part-{i}.parquet", row_group_size=row_group_size)
    return folder


def test_parquet_source_local_engine_matches_and_keys_like_its_dataset(reference, tmp_path, monkeypatch):
    ds, ref = reference
    src = _write_parquet(tmp_path / "faces", ds)
    pds = load_dataset(src, use_cache=False)  # the same reader the app and prepare use
    assert (pds.images == ds.images).all() and (pds.row == ds.row).all() and (pds.labels == ds.labels).all()
    assert (pds.split == ds.split).all()
    m = dist.run_predictions(src, tmp_path / "out", engine="local", batch_size=40, log=lambda s: None)
    assert (m["source_kind"], m["n_images"]) == ("parquet", len(ds))
    cache = tmp_path / "cache"
    store = Store(cache, seed=None)
    key, _ = dist.import_predictions(tmp_path / "out", store=store, log=lambda s: None)
    assert key == predictions_key(pds) != predictions_key(ds)  # keyed by the Parquet files' own hash
    got = store.load("predictions", key)
    np.testing.assert_allclose(got["probs"], ref["probs"], rtol=1e-5, atol=1e-6)
    _, arrays = dist.read_shards(tmp_path / "out")
    assert (arrays["row"] == ds.row).all()  # the source's own row ids, in order
    # the app opens the Parquet source and its pages use the imported artifact, not the model
    monkeypatch.setenv("FER_CACHE_DIR", str(cache))
    monkeypatch.setattr(predictions_mod, "features_and_probs", _no_compute)
    store.write_json("settings.json", {"data_source": {"kind": "path", "path": str(src), "ferplus": ""}})
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "pages" / "model.py"), default_timeout=120).run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    from fer_core.training.report import score_split
    ms = score_split(pds, got["probs"], split="PrivateTest")
    shown = {x.label: x.value for x in at.metric}
    assert (shown["Accuracy"], shown["Images"]) == (f"{ms['accuracy']:.1%}", f"{ms['n']:,}")


def test_parquet_source_errors_through_load_dataset(reference, tmp_path):
    ds, _ = reference
    src = _write_parquet(tmp_path / "faces", ds, parts=1)
    with pytest.raises(DataError, match="FER.+ votes can only be joined to a fer2013.csv file"):
        load_dataset(src, SAMPLE_CSV, use_cache=False)
    import pyarrow as pa
    import pyarrow.parquet as pq
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"image": pa.array([ds.images[0].tobytes()] * 3, pa.binary()),
                             "label": pa.array([0, 9, 1])}), bad)
    with pytest.raises(DataError, match=r"bad\.parquet.*row 1.*label.*9"):
        load_dataset(bad, use_cache=False)


def test_image_folder_local_engine_with_saliency(reference, tmp_path):
    from PIL import Image
    ds, _ = reference
    folder = tmp_path / "photos"
    for i in range(6):
        (folder / ["happy", "sad"][i % 2]).mkdir(parents=True, exist_ok=True)
        Image.fromarray(ds.images[i]).save(folder / ["happy", "sad"][i % 2] / f"face{i}.png")
    m = dist.run_predictions(folder, tmp_path / "out", engine="local", saliency="gradcam", log=lambda s: None)
    fds = load_dataset(folder, use_cache=False)
    assert m["data_hash"] == fds.data_hash and m["artifact"]["key"] == predictions_key(fds)
    _, arrays = dist.read_shards(tmp_path / "out")
    np.testing.assert_allclose(arrays["probs"], get_predictions(fds)["probs"], rtol=1e-5, atol=1e-6)
    sal = arrays["saliency"]
    assert sal.shape == (6, dist.SALIENCY_GRID ** 2) and np.allclose(sal.sum(1), 1, atol=1e-5)
    # imported, the summaries are the attention stage's artifact: what the stage computes itself
    from fer_core.analysis.attention import get_attention
    store = Store(tmp_path / "cache", seed=None)
    dist.import_predictions(tmp_path / "out", store=store, log=lambda s: None)
    imported = store.load("attention", dist.stages.key("attention", fds, model="compact"))
    np.testing.assert_allclose(imported["summary"], sal)
    computed = get_attention(fds, "compact", store=Store(tmp_path / "fresh", seed=None))["summary"]
    np.testing.assert_allclose(imported["summary"], computed, atol=1e-5)


# ---- bad inputs -------------------------------------------------------------------------------------------
def _cli(capsys, *args):
    rc = dist.main(list(args))
    return rc, capsys.readouterr().err


def test_missing_data_path_unknown_model_and_ray_options(tmp_path, capsys, subset_csv):
    rc, err = _cli(capsys, "predictions", "--engine", "local", "--data", str(tmp_path / "nope.csv"), "--out", str(tmp_path))
    assert rc == 2 and "nope.csv: file or folder not found" in err
    rc, err = _cli(capsys, "predictions", "--engine", "local", "--data", str(subset_csv), "--model", "nosuch",
                   "--out", str(tmp_path / "o"))
    assert rc == 2 and "--model nosuch" in err and "compact" in err  # lists the shipped names
    rc, err = _cli(capsys, "predictions", "--engine", "ray", "--address", "auto", "--num-cpus", "2",
                   "--out", str(tmp_path / "o"))
    assert rc == 2 and "--num-cpus" in err
    assert not (tmp_path / "o").exists()  # nothing written before the inputs are checked


def test_parquet_without_image_column_and_bad_pixels(reference, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    ds, _ = reference
    bad = tmp_path / "noimage.parquet"
    pq.write_table(pa.table({"pixels": ["1 2 3"], "row": [0]}), bad)
    with pytest.raises(DataError, match=r"noimage.parquet, field 'image': no 'image' column \(columns: pixels, row\)"):
        dist.run_predictions(bad, tmp_path / "o1", engine="local")

    def with_a_bad_value(idx):  # integer lists; image 3 of the second file has a 300
        vals = [ds.images[j].ravel().astype(np.int64).tolist() for j in idx]
        if idx[0] > 0:
            vals[3][100] = 300
        return pa.array(vals, pa.list_(pa.int64()))
    src = _write_parquet(tmp_path / "faces", ds.subset(np.arange(20)), image=with_a_bad_value)
    with pytest.raises(DataError, match=r"part-1.parquet, row 13, field 'image': pixel value 300 is not in 0-255"):
        dist.run_predictions(src, tmp_path / "o2", engine="local", log=lambda s: None)


@pytest.mark.slow
def test_a_workers_bad_input_comes_back_as_its_own_error(ray_cluster, reference, tmp_path):
    import pyarrow as pa
    ds, _ = reference
    bad = ds.images[:6].reshape(6, -1).astype(np.int64)
    bad[4, 7] = 999

    def image(idx):
        return pa.array(bad[idx].tolist())
    src = _write_parquet(tmp_path / "faces", ds.subset(np.arange(6)), parts=1, row_group_size=3, image=image)
    with pytest.raises(DataError, match=r"part-0.parquet, row 4, field 'image': pixel value 999 is not in 0-255"):
        dist.run_predictions(src, tmp_path / "out", engine="ray", actors=1, log=lambda s: None)


def test_import_refuses_incomplete_or_foreign_shards(reference, tmp_path):
    ds, _ = reference
    small = ds.subset(np.arange(10))
    src = _write_parquet(tmp_path / "faces", small, parts=1, row_group_size=4)
    out = tmp_path / "out"
    dist.run_predictions(src, out, engine="local", batch_size=4, log=lambda s: None)
    store = Store(tmp_path / "cache", seed=None)
    with pytest.raises(dist.DistributedError, match="no manifest.json"):
        dist.import_predictions(tmp_path, store=store)
    manifest = json.loads((out / dist.MANIFEST).read_text())
    (out / dist.MANIFEST).write_text(json.dumps({**manifest, "model_hash": "0" * 32}))
    with pytest.raises(dist.DistributedError, match="computed with another file for model 'compact'"):
        dist.import_predictions(out, store=store)
    (out / dist.MANIFEST).write_text(json.dumps({**manifest, "version": "0.0.1"}))
    with pytest.raises(dist.DistributedError, match="written by fer_core 0.0.1"):
        dist.import_predictions(out, store=store)
    (out / dist.MANIFEST).write_text(json.dumps(manifest))
    shards = sorted((out / dist.SHARDS).glob("*.parquet"))
    assert len(shards) == 3  # row groups of 4, 4, 2 images
    shards[1].unlink()
    with pytest.raises(dist.DistributedError, match=r"4 of 10 images missing \(first: index 4\)"):
        dist.import_predictions(out, store=store)
    assert store.list("predictions") == []
