"""fer_core.analysis.robustness: corruptions, attacks, sweeps, the cache and the CLI (bundled sample, planted models)."""
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from fer_core.pipeline import prepare
from fer_core.analysis import robustness as rb
from fer_core.models.checkpoint import load_checkpoint, save_checkpoint, shipped_checkpoints
from fer_core.config import RobustnessConfig
from fer_core.data.dataset import load_dataset
from fer_core.store import Store

needs_model = pytest.mark.skipif(not shipped_checkpoints(), reason="no shipped checkpoint")


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # the machine is shared: keep the tests on one core
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def sample():
    return load_dataset(use_cache=False)


@pytest.fixture(scope="module")
def compact():
    return load_checkpoint("compact")[0] if shipped_checkpoints() else None


@pytest.fixture(scope="module")
def test_split(sample):
    return rb.select_rows(sample, RobustnessConfig())


class TextureModel(nn.Module):
    """Planted fragile model: class 1 ("textured") when the image's pixel standard deviation is above
    a threshold, else class 0 ("flat"). Noise makes flat faces textured; blur makes textured ones flat."""

    num_classes = 2
    normalization = {"mean": 0.0, "std": 1.0}

    def __init__(self, threshold: float = 0.08):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(50.0))
        self.threshold = threshold

    def forward(self, x):
        s = x.flatten(1).std(1)
        return torch.stack([self.threshold - s, s - self.threshold], 1) * self.scale


def planted(n: int = 60, seed: int = 0):
    """Half flat images (one grey level each), half checkerboard-like textures; labels 0 / 1."""
    g = np.random.default_rng(seed)
    flat = np.repeat(g.integers(60, 200, n // 2).astype(np.uint8)[:, None, None], 48, 1).repeat(48, 2)
    yy, xx = np.mgrid[:48, :48]
    tex = np.stack([np.where((yy // k + xx // k) % 2, 200, 50) for k in g.integers(1, 3, n - n // 2)]).astype(np.uint8)
    return np.concatenate([flat, tex]), np.r_[np.zeros(n // 2, int), np.ones(n - n // 2, int)]


# ---- corruptions -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", [n for n in rb.CORRUPTIONS if not rb.CORRUPTIONS[n].attack])
def test_every_corruption_keeps_shape_dtype_and_leaves_the_input_alone(name, rng):
    x = rng.integers(0, 256, (5, 48, 48), dtype=np.uint8)
    x[0], x[1] = 0, 255  # extremes must saturate, not wrap around
    before = x.copy()
    spec = rb.CORRUPTIONS[name]
    assert np.array_equal(rb.corrupt(x, name, spec.levels[0], rng=0), x)  # severity 0 = the clean image
    for level in spec.levels[1:]:
        out = rb.corrupt(x, name, level, rng=0)
        assert out.dtype == np.uint8 and out.shape == x.shape, (name, level)
        assert not np.array_equal(out, x), (name, level)
    assert np.array_equal(x, before)


def test_lighting_and_noise_saturate_instead_of_wrapping():
    x = np.full((2, 48, 48), 250, np.uint8)
    assert (rb.brightness(x, 0.1) == 255).all()
    assert (rb.brightness(np.full_like(x, 5), -0.1) == 0).all()
    noisy = rb.gaussian_noise(x, 0.2, rng=0)
    assert noisy.max() == 255 and noisy.mean() < 250 and (noisy > 150).mean() > 0.5  # clipped, not wrapped to ~0
    c = rb.contrast(np.stack([np.zeros((48, 48)), np.full((48, 48), 255)]).astype(np.uint8), 0.5)
    assert c.dtype == np.uint8 and np.unique(c).tolist() == [0, 255]  # flat images keep their value


def test_noise_has_the_requested_variance_and_follows_the_seed():
    x = np.full((50, 48, 48), 128, np.uint8)
    for var in (0.01, 0.05):
        out = rb.gaussian_noise(x, var, rng=1).astype(float) / 255
        assert out.var() == pytest.approx(var, rel=0.05)
    assert np.array_equal(rb.gaussian_noise(x, 0.1, rng=3), rb.gaussian_noise(x, 0.1, rng=3))
    assert not np.array_equal(rb.gaussian_noise(x, 0.1, rng=3), rb.gaussian_noise(x, 0.1, rng=4))
    sp = rb.salt_and_pepper(x, 0.2, rng=0)
    assert ((sp == 0) | (sp == 255)).mean() == pytest.approx(0.2, abs=0.01)


def test_occlusion_bars_cover_the_eyes_and_the_mouth():
    x = np.full((3, 48, 48), 200, np.uint8)
    eyes, mouth = rb.occlude(x, 8, region="eyes"), rb.occlude(x, 8, region="mouth")
    assert (eyes[:, 13:21, 6:42] == 0).all() and (eyes == 0).sum() == 3 * 8 * 36
    assert (mouth[:, 33:41, 12:36] == 0).all() and (mouth == 0).sum() == 3 * 8 * 24
    rand = rb.occlude(x, 12, region="random", rng=0)
    assert ((rand == 0).reshape(3, -1).sum(1) == 144).all()
    with pytest.raises(ValueError, match="region"):
        rb.occlude(x, 8, region="nose")


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match=r"\(N, 48, 48\) uint8"):
        rb.gaussian_noise(np.zeros((2, 48, 48), np.float32), 0.1)
    with pytest.raises(ValueError, match="variance"):
        rb.gaussian_noise(np.zeros((2, 48, 48), np.uint8), -0.1)
    with pytest.raises(ValueError, match="unknown corruption"):
        rb.corrupt(np.zeros((1, 48, 48), np.uint8), "fog", 1)
    with pytest.raises(ValueError, match="attack"):
        rb.corrupt(np.zeros((1, 48, 48), np.uint8), "fgsm", 1 / 255)
    with pytest.raises(ValueError, match="labels"):
        rb.sweep(TextureModel(), *[planted()[0]], np.zeros(3, int), "gaussian_noise")


# ---- attacks --------------------------------------------------------------------------------------
@needs_model
def test_fgsm_with_epsilon_zero_changes_nothing_and_stays_in_the_ball(compact, sample, test_split):
    rows, y = test_split
    x = sample.images[rows[:32]]
    assert np.array_equal(rb.fgsm(compact, x, y[:32], 0.0), x)
    assert np.array_equal(rb.pgd(compact, x, y[:32], 0.0), x)
    for attack in (rb.fgsm, rb.pgd):
        adv = attack(compact, x, y[:32], 2 / 255)
        d = adv.astype(int) - x
        assert adv.dtype == np.uint8 and np.abs(d).max() <= 2 and (d != 0).mean() > 0.5
    assert not compact.training  # the shared model is left as it was


@needs_model
def test_attacks_lower_accuracy_and_pgd_beats_fgsm(compact, sample, test_split):
    rows, y = test_split
    x, y = sample.images[rows[:60]], y[:60]
    acc = lambda imgs: float((rb._predict(compact, imgs, tta=False, batch_size=64) == y).mean())  # noqa: E731
    clean, f, p = acc(x), acc(rb.fgsm(compact, x, y, 2 / 255)), acc(rb.pgd(compact, x, y, 2 / 255, steps=5))
    assert p <= f < clean


# ---- sweeps ----------------------------------------------------------------------------------------
@needs_model
def test_severity_zero_reproduces_clean_accuracy_exactly(compact, sample, test_split):
    from fer_core.training.evaluate import evaluate
    rows, y = test_split
    clean = evaluate(compact, sample, split="PrivateTest")["accuracy"]
    for name in ("gaussian_noise", "jpeg", "downscale"):
        res = rb.sweep(compact, sample.images[rows], y, name, repeats=2)
        assert (res["accuracy"][:, 0] == clean).all(), name
        assert res["accuracy"].shape == (2, len(rb.CORRUPTIONS[name].levels))


def test_planted_fragile_model_loses_accuracy_as_severity_grows():
    x, y = planted()
    model = TextureModel()
    for name in ("gaussian_noise", "gaussian_blur"):
        res = rb.sweep(model, x, y, name, repeats=2)
        mean = res["accuracy"].mean(0)
        assert mean[0] == 1.0, name
        assert (np.diff(mean) <= 1e-9).all() and mean[-1] <= 0.6, (name, mean)
    noise = rb.sweep(model, x, y, "gaussian_noise", repeats=2)
    assert noise["class_accuracy"][:, -1, 0].max() < 0.2 and (noise["class_accuracy"][:, :, 1] == 1).all()
    assert noise["class_counts"].tolist() == [30, 30]


def test_repeats_with_the_same_seed_give_the_same_numbers():
    x, y = planted(80, seed=2)
    model = TextureModel(threshold=0.35)
    a = rb.sweep(model, x, y, "gaussian_noise", repeats=3, seed=5)
    b = rb.sweep(model, x, y, "gaussian_noise", repeats=3, seed=5)
    c = rb.sweep(model, x, y, "gaussian_noise", repeats=3, seed=6)
    for k in ("accuracy", "class_accuracy", "preds"):
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["preds"], c["preds"])
    assert not np.array_equal(a["preds"][0], a["preds"][1])  # repeats draw new noise
    blur = rb.sweep(model, x, y, "gaussian_blur", repeats=3)  # deterministic: one pass copied to every repeat
    assert (blur["preds"] == blur["preds"][:1]).all()
    s = rb.summarize(a)
    assert s["mean"].shape == (7,) and s["std"][0] == 0 and (s["min"] <= s["mean"]).all()


@needs_model
def test_examples_show_what_the_sweep_saw(compact, sample):
    cfg = RobustnessConfig(repeats=2, max_images=50)
    res = rb.get_sweep(sample, "salt_pepper", cfg, model="compact")
    idx = np.array([0, 7, 21])
    keys = res["rows"][idx]
    ex = rb.examples(compact, sample.images[keys], sample.labels[keys], "salt_pepper", keys=keys, seed=cfg.seed)
    assert ex["images"].shape == (6, 3, 48, 48) and ex["images"].dtype == np.uint8
    np.testing.assert_array_equal(ex["preds"], res["preds"][0][:, idx])
    # the full split's sweep corrupts these faces the same way as the subsample's
    full = rb.get_sweep(sample, "salt_pepper", RobustnessConfig(repeats=1))
    np.testing.assert_array_equal(full["preds"][0][:, np.searchsorted(full["rows"], keys)], ex["preds"])


# ---- cache, prepare, CLI -------------------------------------------------------------------------
@needs_model
def test_get_sweep_is_cached_and_keyed_on_config_data_and_model(sample, tmp_path):
    store = Store(tmp_path)
    cfg = RobustnessConfig(repeats=2, max_images=40)
    assert rb.load_sweep(sample, "gaussian_blur", cfg, store=store) is None
    first = rb.get_sweep(sample, "gaussian_blur", cfg, store=store)
    assert len(first["rows"]) == 40 and (sample.split[first["rows"]] == "PrivateTest").all()
    again = rb.load_sweep(sample, "gaussian_blur", cfg, store=store)
    np.testing.assert_array_equal(first["preds"], again["preds"])
    other = tmp_path / "other.pt"  # the same model with one weight changed: another checkpoint hash
    net, info = load_checkpoint("compact")
    with torch.no_grad():
        net.head.bias[0] += 0.5
    save_checkpoint(other, net, model_name=info["model_name"], model_kwargs=info["model_kwargs"],
                    label_set=info["label_set"], normalization=info["normalization"])
    keys = {rb.sweep_key(sample, "gaussian_blur", cfg), rb.sweep_key(sample, "gaussian_blur", RobustnessConfig()),
            rb.sweep_key(sample, "jpeg", cfg), rb.sweep_key(replace(sample, data_hash="x"), "gaussian_blur", cfg),
            rb.sweep_key(sample, "gaussian_blur", cfg, model=str(other))}
    assert len(keys) == 5
    # PGD's steps only key PGD; the corruption list never keys a single sweep
    assert rb.sweep_key(sample, "jpeg", cfg) == rb.sweep_key(sample, "jpeg", RobustnessConfig(
        repeats=2, max_images=40, pgd_steps=3, corruptions=("jpeg",)))
    assert rb.sweep_key(sample, "pgd", cfg) != rb.sweep_key(sample, "pgd", RobustnessConfig(repeats=2, max_images=40,
                                                                                              pgd_steps=3))


@needs_model
def test_default_sweep_summary_and_prepare_stage(sample, tmp_path):
    assert "robustness" in prepare.STAGES and prepare.STAGES["robustness"].enabled(sample)
    assert not prepare.STAGES["robustness"].enabled(sample.subset(sample.split == "Training"))
    store = Store(tmp_path)
    cfg = RobustnessConfig(corruptions=("gaussian_noise", "brightness"), repeats=1, max_images=30)
    out = rb.get_default_sweep(sample, cfg, store=store)
    assert out["corruptions"].tolist() == ["gaussian_noise", "brightness"] and out["mean_accuracy"].shape == (2,)
    assert store.exists("robustness", rb.default_sweep_key(sample, cfg))
    assert rb.load_sweep(sample, "brightness", cfg, store=store) is not None  # each corruption cached on its own


def test_summary_table_follows_imagenet_c():
    def res(acc):
        acc = np.asarray(acc, float)[None]
        return {"accuracy": acc, "levels": np.arange(acc.shape[1]), "class_counts": np.array([1, 1])}
    results = {("a", "gaussian_noise"): res([0.8, 0.6, 0.4]), ("a", "gaussian_blur"): res([0.8, 0.7, 0.7]),
               ("b", "gaussian_noise"): res([0.8, 0.7, 0.6]), ("b", "gaussian_blur"): res([0.8, 0.7, 0.7]),
               ("a", "fgsm"): res([0.8, 0.0, 0.0])}  # attacks are not averaged
    t = rb.summary_table(results)
    assert t.loc["a", "clean accuracy"] == pytest.approx(0.8)
    assert t.loc["a", "mCA"] == pytest.approx((0.5 + 0.7) / 2) and t.loc["a", "drop"] == pytest.approx(0.2)
    assert t.loc["a", "mCE"] == pytest.approx(1.0)
    assert t.loc["b", "mCE"] == pytest.approx(((0.3 + 0.4) / (0.4 + 0.6) + 1) / 2)  # CE normalised by model a
    assert t.loc["b", "corruptions"] == 2


@needs_model
def test_cli(capsys, sample):
    assert rb.main(["--corruption", "gaussian_blur", "jpeg", "--repeats", "1", "--max-images", "30"]) == 0
    out = capsys.readouterr().out
    assert "[gaussian_blur] 30 images x 6 levels x 1 repeats" in out and "mCA" in out
    assert rb.main(["--corruption", "jpeg", "--repeats", "1", "--max-images", "30", "--json"]) == 0
    assert '"jpeg"' in capsys.readouterr().out
    assert rb.main(["--data", "/nonexistent/fer2013.csv"]) == 2
    assert "fer2013.csv" in capsys.readouterr().err
    assert rb.command(["jpeg"], model="compact", data="/d/f.csv", config=RobustnessConfig(max_images=500)) == \
        "python -m fer_core.robustness --data /d/f.csv --model compact --corruption jpeg --max-images 500"


def test_no_test_split_is_a_clear_error(sample):
    with pytest.raises(ValueError, match="no labeled PrivateTest images"):
        rb.select_rows(sample.subset(sample.split == "Training"), RobustnessConfig())


def test_noise_augmented_reads_the_training_config():
    assert rb.noise_augmented({"train_config": {"noise": 0.1}})
    assert not rb.noise_augmented({"train_config": {"mixup": 0.2}}) and not rb.noise_augmented({})


# ---- the registry: every entry carries the function that applies it ------------------------------
@pytest.mark.parametrize("name", list(rb.CORRUPTIONS))
def test_every_registered_corruption_applies_its_own_function(name, rng):
    """corrupt() dispatches through the entry's `apply`: the same images as the named function."""
    spec = rb.CORRUPTIONS[name]
    assert spec.apply is not None and spec.name == name
    x, y = rng.integers(30, 220, (6, 48, 48), dtype=np.uint8), np.array([0, 1] * 3)
    level = spec.levels[-1]
    direct = {
        "gaussian_noise": lambda: rb.gaussian_noise(x, level, rng=3),
        "salt_pepper": lambda: rb.salt_and_pepper(x, level, rng=3),
        "gaussian_blur": lambda: rb.gaussian_blur(x, level),
        "jpeg": lambda: rb.jpeg(x, level),
        "brightness": lambda: rb.brightness(x, level),
        "darkness": lambda: rb.brightness(x, level),
        "contrast": lambda: rb.contrast(x, level),
        "occlusion_eyes": lambda: rb.occlude(x, level, region="eyes"),
        "occlusion_mouth": lambda: rb.occlude(x, level, region="mouth"),
        "occlusion_random": lambda: rb.occlude(x, level, region="random", rng=3),
        "rotation": lambda: rb.rotate(x, level, rng=3),
        "downscale": lambda: rb.downscale(x, level),
        "fgsm": lambda: rb.fgsm(TextureModel(), x, y, level),
        "pgd": lambda: rb.pgd(TextureModel(), x, y, level, steps=2),
    }[name]()
    got = rb.corrupt(x, name, level, rng=3, model=TextureModel(), labels=y, pgd_steps=2)
    assert got.dtype == np.uint8 and got.shape == x.shape
    np.testing.assert_array_equal(got, direct)
    assert not np.array_equal(got, x)
