"""Checkpoints rebuild their model alone; predict_probs turns pixels into probabilities."""
import numpy as np
import pytest
import torch

import fer_core.models.checkpoint as ck
from fer_core.models.checkpoint import load_checkpoint, model_hash, save_checkpoint, shipped_checkpoints
from fer_core.data.dataset import load_dataset
from fer_core.models.inference import predict_probs
from fer_core.models.registry import count_params, create_model

NORM = {"mean": 0.5, "std": 0.25}


@pytest.fixture(scope="module")
def sample():
    return load_dataset(use_cache=False)


def _trained_ish(name="compact", **kw):
    """A model whose BN statistics and weights moved away from their initial values."""
    torch.manual_seed(0)
    model = create_model(name, **kw)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(3):
        loss = model(torch.randn(16, 1, 48, 48)).logsumexp(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def _save(path, model, name="compact", kwargs=None, label_set="fer2013"):
    return save_checkpoint(path, model, model_name=name, model_kwargs=kwargs or {}, label_set=label_set,
                           normalization=NORM, train_config={"epochs": 1}, history=[{"epoch": 1, "val_acc": 0.5}],
                           metrics={"acc": np.float32(0.5)}, data_hash="abc")


def test_round_trip_gives_the_same_predictions(tmp_path, sample):
    model = _trained_ish(width=0.5)
    model.normalization = NORM
    path = _save(tmp_path / "m.pt", model, kwargs={"width": 0.5})
    loaded, info = load_checkpoint(path)
    assert not loaded.training
    p0 = predict_probs(model, sample.images[:200])
    p1 = predict_probs(loaded, sample.images[:200])
    assert np.abs(p0 - p1).max() < 2e-2  # fp16 weights
    assert (p0.argmax(1) == p1.argmax(1)).mean() >= 0.98
    assert info["model_name"] == "compact" and info["model_kwargs"] == {"width": 0.5}
    assert info["label_set"] == "fer2013" and info["classes"][0] == "angry"
    assert info["normalization"] == NORM and loaded.normalization == NORM
    assert info["history"] == [{"epoch": 1, "val_acc": 0.5}] and info["metrics"] == {"acc": 0.5}
    assert info["data_hash"] == "abc" and info["model_hash"] == model_hash(path)
    # a second load is bit-identical
    again, _ = load_checkpoint(path)
    np.testing.assert_array_equal(predict_probs(again, sample.images[:50]), predict_probs(loaded, sample.images[:50]))


def test_weights_are_stored_in_fp16(tmp_path):
    model = create_model("resnet18", width=0.25)
    path = _save(tmp_path / "r.pt", model, name="resnet18", kwargs={"width": 0.25})
    state = torch.load(path, weights_only=True)["state_dict"]
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float16}
    assert path.stat().st_size < count_params(model) * 2 * 1.2 + 100_000


def test_shipped_names_resolve_and_missing_ones_say_what_exists(tmp_path, monkeypatch):
    monkeypatch.setattr(ck, "WEIGHTS_DIR", tmp_path)
    _save(tmp_path / "tiny.pt", create_model("compact", width=0.5), kwargs={"width": 0.5})
    assert shipped_checkpoints() == ["tiny"]
    model, info = load_checkpoint("tiny")
    assert info["path"] == str(tmp_path / "tiny.pt")
    with pytest.raises(FileNotFoundError, match=r"no shipped checkpoint named 'big'.*shipped checkpoints: tiny"):
        load_checkpoint("big")
    with pytest.raises(FileNotFoundError, match="checkpoint file not found.*nowhere.pt"):
        load_checkpoint(tmp_path / "nowhere.pt")


def test_a_foreign_file_is_rejected(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(bad)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a FER Explorer checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_save_checks_label_set_and_normalization(tmp_path):
    model = create_model("compact", width=0.5)
    with pytest.raises(ValueError, match="8"):
        _save(tmp_path / "x.pt", model, label_set="ferplus")
    with pytest.raises(ValueError, match="unknown label set"):
        _save(tmp_path / "x.pt", model, label_set="nope")
    with pytest.raises(ValueError, match="normalization"):
        save_checkpoint(tmp_path / "x.pt", model, model_name="compact", model_kwargs={}, label_set="fer2013",
                        normalization={"mean": 0.5})


def test_predict_probs_rows_tta_and_batches(sample):
    model = _trained_ish(width=0.5)
    imgs = sample.images[:70]
    p = predict_probs(model, imgs, batch_size=32)
    assert p.shape == (70, 7) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    np.testing.assert_allclose(p, predict_probs(model, imgs, batch_size=512), atol=1e-5)
    # TTA averages an image and its mirror, so a mirrored input gets the same answer
    t = predict_probs(model, imgs, tta=True)
    np.testing.assert_allclose(t, predict_probs(model, imgs[:, :, ::-1].copy(), tta=True), atol=1e-5)
    assert not np.allclose(t, p)
    model.train()
    predict_probs(model, imgs[:4])
    assert model.training  # mode restored
    assert predict_probs(model, sample.images[0]).shape == (1, 7)  # one (48, 48) image
    with pytest.raises(ValueError, match=r"\(N, 48, 48\) uint8"):
        predict_probs(model, imgs.astype(np.float32))



def test_for_inference_eval_channels_last_same_outputs():
    import torch

    from fer_core.models.inference import for_inference
    from fer_core.models.registry import create_model
    torch.manual_seed(0)
    net = create_model("compact", width=0.25, blocks=(1, 1, 1))
    x = np.random.default_rng(0).integers(0, 256, (16, 48, 48), dtype=np.uint8)
    ref = predict_probs(net.eval(), x)
    out = for_inference(net.train(), "cpu")
    assert out is net and not net.training  # eval mode: dropout and batch statistics off
    conv = for_inference(torch.nn.Conv2d(2, 4, 3), "cpu")  # a weight whose layout the format changes
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and not conv.weight.is_contiguous()
    np.testing.assert_allclose(predict_probs(net, x), ref, atol=1e-5)


def test_for_inference_keeps_resnet_contiguous_on_cpu():
    """Strided 1x1 convs (ResNet downsample) must not go channels-last on a CPU: their backward
    (Grad-CAM, attacks) corrupts the heap in torch 2.14."""
    import torch

    from fer_core.models.inference import channels_last_safe, for_inference
    from fer_core.models.registry import create_model
    net = for_inference(create_model("resnet18"), "cpu")
    assert not channels_last_safe(net)
    conv = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1 and m.kernel_size == (3, 3))
    assert conv.weight.is_contiguous()


def test_training_state_round_trip_keeps_float32_weights_and_state(tmp_path):
    """save_training_state/load_training_state: float32 weights, optimiser tensors and a numpy
    generator's 128-bit state survive a weights_only load; the file is also a checkpoint."""
    model = _trained_ish(width=0.25)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(4, 1, 48, 48)).sum().backward()
    opt.step()
    rng = np.random.default_rng(7)
    rng.random(3)
    path = ck.last_path(tmp_path / "run.pt")
    assert path.name == "run.last.ckpt"
    assert not ck.last_path(ck.WEIGHTS_DIR / "compact.pt").match("*.pt")  # never listed as a shipped model
    ck.save_training_state(path, model, model_name="compact", model_kwargs={"width": 0.25}, label_set="fer2013",
                           normalization=NORM, train_config={"epochs": 3}, history=[{"epoch": 1}], data_hash="abc",
                           train_state={"epoch": 1, "optimizer": opt.state_dict(),
                                        "rng": [{"numpy": rng.bit_generator.state}]})
    ckpt = ck.load_training_state(path)
    assert all(torch.equal(v, ckpt["state_dict"][k]) for k, v in model.state_dict().items())  # not fp16
    again = np.random.default_rng(0)
    again.bit_generator.state = ckpt["train_state"]["rng"][0]["numpy"]
    assert again.random() == rng.random()
    opt2 = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt2.load_state_dict(ckpt["train_state"]["optimizer"])
    assert torch.equal(opt2.state[next(model.parameters())]["momentum_buffer"],
                       opt.state[next(model.parameters())]["momentum_buffer"])
    loaded, info = load_checkpoint(path)  # an ordinary checkpoint too
    assert info["train_state"]["epoch"] == 1 and loaded.normalization == NORM


def test_training_state_of_a_plain_checkpoint_is_refused(tmp_path):
    path = _save(tmp_path / "m.pt", create_model("compact", width=0.25), kwargs={"width": 0.25})
    with pytest.raises(ValueError, match="no training state"):
        ck.load_training_state(path)
    (tmp_path / "junk.last.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        ck.load_training_state(tmp_path / "junk.last.ckpt")
    with pytest.raises(FileNotFoundError, match="not found"):
        ck.load_training_state(tmp_path / "none.last.ckpt")
