"""fer_core.stages: one registry, keys from exactly what a stage reads, ModelRef hashed once per
file, subsets with their own hash, a new stage in one object, and prepare --threads."""
import numpy as np
import pytest

from fer_core import stages
from fer_core.analysis import label_errors as le
from fer_core.config import AttributionConfig, JobConfig, PCAConfig, opt
from fer_core.data.dataset import SAMPLE_CSV, SAMPLE_FERPLUS, load_dataset
from fer_core.models import checkpoint
from fer_core.pipeline import prepare
from fer_core.stages import Stage
from fer_core.store import Store


@pytest.fixture(scope="module")
def with_and_without_ferplus():
    return load_dataset(SAMPLE_CSV, SAMPLE_FERPLUS), load_dataset(SAMPLE_CSV)


def test_ferplus_changes_only_the_keys_of_stages_that_read_it(with_and_without_ferplus):
    fp, plain = with_and_without_ferplus
    assert fp.ferplus is not None and plain.ferplus is None
    assert fp.data_hash == plain.data_hash and fp.ferplus_hash and not plain.ferplus_hash
    readers = set()
    for name, st in stages.REGISTRY.items():
        same = stages.key(st, fp) == stages.key(st, plain)
        assert same == ("ferplus" not in st.reads), name
        if not same:
            readers.add(name)
    assert readers == {"embedding_stats"}  # its artifact holds the FER+ silhouettes
    # the wrappers other code calls give the same keys as the registry
    assert le.label_errors_key(fp) == le.label_errors_key(plain) == stages.key("label_errors", plain)


def test_label_errors_without_ferplus_is_served_from_the_cache(with_and_without_ferplus, monkeypatch, capsys):
    fp, plain = with_and_without_ferplus
    cfg = le.LabelErrorConfig(mode="model")
    built = le.get_label_errors(fp, cfg)
    assert not any(k.startswith("ferplus") for k in built)  # nothing computed from the votes is stored
    monkeypatch.setattr(le, "rank_study", lambda *a, **k: pytest.fail("recomputed a cached artifact"))
    again = le.get_label_errors(plain, cfg)
    np.testing.assert_array_equal(again["score_ensemble"], built["score_ensemble"])
    # the command line too: a run with --ferplus, then one without, is served from the cache
    assert le.main(["--data", str(SAMPLE_CSV), "--mode", "model"]) == 0
    assert "mode that ran: model" in capsys.readouterr().out


def test_a_subset_never_gets_its_parents_artifact(with_and_without_ferplus):
    ds = with_and_without_ferplus[0]
    store = Store()
    parent = prepare.get_eigenfaces(ds, store)
    sub = ds.subset(np.arange(300))
    assert sub.data_hash != ds.data_hash and sub.ferplus_hash != ds.ferplus_hash
    assert prepare.eigenfaces_key(sub) != prepare.eigenfaces_key(ds)
    child = prepare.get_eigenfaces(sub, store)
    tr = sub.split == "Training"
    assert child["class_counts"].sum() == (sub.labels[tr] >= 0).sum() < parent["class_counts"].sum()
    # the same rows give the same hash (mask or indices), other rows another
    mask = np.zeros(len(ds), bool)
    mask[:300] = True
    assert ds.subset(mask).data_hash == sub.data_hash
    assert ds.subset(np.arange(1, 301)).data_hash != sub.data_hash
    with pytest.raises(ValueError, match="mask"):
        ds.subset(np.ones(3, bool))


def test_model_hash_is_computed_once_per_file_and_follows_the_file(tmp_path, monkeypatch):
    import torch

    from fer_core.models.registry import create_model
    calls = []
    real = checkpoint.hash_file
    monkeypatch.setattr(checkpoint, "hash_file", lambda p: calls.append(p) or real(p))
    monkeypatch.setattr(checkpoint, "_HASHES", {})

    def save(seed):
        torch.manual_seed(seed)
        net = create_model("compact", width=0.25, blocks=(1, 1, 1)).eval()
        return str(checkpoint.save_checkpoint(tmp_path / "m.pt", net, model_name="compact",
                                              model_kwargs={"width": 0.25, "blocks": [1, 1, 1]},
                                              label_set="fer2013", normalization={"mean": 0.5, "std": 0.25}))
    path = save(0)
    ds = load_dataset()
    keys = {n: stages.key(st, ds, model=path) for n, st in prepare.STAGES.items() if st.uses_model}
    assert len(keys) == 9 and len(calls) == 1  # nine keys (a Home rerun), one read of the file
    ref = checkpoint.model_ref(path)
    assert ref.hash == checkpoint.model_hash(path) and len(calls) == 1
    assert checkpoint.load_checkpoint(path)[1]["model_hash"] == ref.hash and len(calls) == 1
    import os
    save(1)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10 ** 9))  # a rewrite within one mtime tick
    assert checkpoint.model_hash(path) != ref.hash and len(calls) == 2
    assert stages.key("predictions", ds, model=path) != keys["predictions"]
    # a ModelRef passes through; another name for the same file gives the same key
    assert stages.key("predictions", ds, model=checkpoint.model_ref(path)) == stages.key(
        "predictions", ds, model=str(tmp_path / "." / "m.pt"))


def test_key_and_get_resolve_the_model_the_same_way(monkeypatch, tmp_path):
    from fer_core.analysis.predictions import get_predictions, predictions_key
    ds = load_dataset()
    store = Store()
    get_predictions(ds, store=store)
    assert store.exists("predictions", predictions_key(ds))  # None = the default model, in both
    assert predictions_key(ds) == predictions_key(ds, checkpoint.default_model())
    monkeypatch.setattr(checkpoint, "default_model", lambda: None)
    for call in (lambda: predictions_key(ds), lambda: get_predictions(ds)):
        with pytest.raises(FileNotFoundError, match="no shipped model"):
            call()
    assert not any(prepare.STAGES[n].uses_model for n in prepare.stage_status(ds))  # skipped, not an error
    # a model named twice (argument and config) must be one file; another name for it is fine
    shipped = checkpoint.resolve_checkpoint("compact")
    assert stages.key("class_maps", ds, AttributionConfig(model="compact"), model=str(shipped)) == \
        stages.key("class_maps", ds, AttributionConfig(model=str(shipped)))
    other = tmp_path / "other.pt"
    other.write_bytes(shipped.read_bytes() + b"x")
    with pytest.raises(ValueError, match="config.model"):
        stages.key("class_maps", ds, AttributionConfig(model="compact"), model=str(other))
    with pytest.raises(TypeError, match="PCAConfig"):
        stages.key("eigenfaces", ds, le.LabelErrorConfig())


def test_a_new_stage_is_one_object_and_prepare_runs_it(monkeypatch, capsys):
    monkeypatch.setattr(stages, "REGISTRY", dict(stages.REGISTRY))  # registered for this test only
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class BrightnessConfig(JobConfig):
        scale: float = opt(1.0, "multiplier")

    def compute(ds, config, model, progress, store):
        return {"mean": ds.images.reshape(len(ds), -1).mean(1) * config.scale}

    stages.register(Stage("brightness", "mean pixel value per image", BrightnessConfig, compute, reads=("images",)))
    ds = load_dataset()
    assert "brightness" in prepare.STAGES and prepare.stage_status(ds)["brightness"] is False
    assert prepare.run(ds, only=["brightness"], log=print)["brightness"] >= 0
    assert "[brightness] built" in capsys.readouterr().out
    assert prepare.stage_status(ds)["brightness"]
    np.testing.assert_allclose(stages.get("brightness", ds)["mean"], ds.images.reshape(len(ds), -1).mean(1))
    assert prepare.run(ds, only=["brightness"], log=print) == {"brightness": 0.0}
    assert stages.key("brightness", ds, BrightnessConfig(scale=2.0)) != stages.key("brightness", ds)
    with pytest.raises(ValueError, match="reads"):
        Stage("bad", "", BrightnessConfig, compute, reads=("pixels",))
    with pytest.raises(ValueError, match="already registered"):
        stages.register(Stage("eigenfaces", "", PCAConfig, compute))
    with pytest.raises(KeyError, match="unknown stage"):
        stages.get("nope", ds)


def test_threads_option(monkeypatch, capsys):
    import torch
    before = torch.get_num_threads()
    seen = []
    real_run = prepare.run
    monkeypatch.setattr(prepare, "run", lambda *a, **k: seen.append(torch.get_num_threads()) or real_run(*a, **k))
    assert prepare.main(["--only", "eigenfaces", "--threads", "3"]) == 0
    assert seen == [3] and torch.get_num_threads() == before
    assert "[threads] 3" in capsys.readouterr().out
    assert prepare.main(["--only", "eigenfaces", "--threads", "-1"]) == 2
    assert "--threads" in capsys.readouterr().err
    assert prepare.default_threads(1) == prepare.default_threads(2) == 1 and prepare.default_threads(16) == 15
    assert "--threads" in prepare_help()


def prepare_help() -> str:
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), pytest.raises(SystemExit):
        prepare.main(["--help"])
    return buf.getvalue()
