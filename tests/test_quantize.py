"""int8 checkpoints: per-channel quantisation error, agreement with fp16, size, clear errors for
damaged files, the converter and `python -m fer_core.quantize` on the bundled sample."""
import json

import numpy as np
import pytest
import torch

from fer_core.data.dataset import load_dataset
from fer_core.models.checkpoint import (
    load_checkpoint,
    model_hash,
    read_checkpoint,
    save_checkpoint,
)
from fer_core.models.inference import predict_probs
from fer_core.models.quantize import convert
from fer_core.models.registry import create_model
from fer_core.training import quantize as qcmd

NORM = {"mean": 0.5, "std": 0.25}


def _model(name="compact", **kw):
    """Weights and BN statistics moved off their initial values, a channel of zeros planted."""
    torch.manual_seed(0)
    model = create_model(name, **kw)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(2):
        loss = model(torch.randn(8, 1, 48, 48)).logsumexp(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    with torch.no_grad():
        conv.weight[0] = 0  # scale of an all-zero channel must not divide by zero
    return model.eval()


def _save(path, model, name="compact", kwargs=None, weights="fp16"):
    return save_checkpoint(path, model, model_name=name, model_kwargs=kwargs or {}, label_set="fer2013",
                           normalization=NORM, train_config={"epochs": 1}, history=[{"epoch": 1}],
                           metrics={"acc": 0.5}, data_hash="abc", weights=weights)


def test_int8_round_trip_error_is_at_most_half_a_step_per_channel(tmp_path):
    model = _model(width=0.25)
    path = _save(tmp_path / "m8.pt", model, kwargs={"width": 0.25}, weights="int8")
    raw = torch.load(path, weights_only=True)  # plain tensors and Python values only
    assert raw["weights_format"] == "int8"
    loaded, info = load_checkpoint(path)
    assert info["weights_format"] == "int8" and "quant_scales" not in info
    got = loaded.state_dict()
    n_weights = 0
    for k, w in model.state_dict().items():
        if not w.is_floating_point():
            assert torch.equal(raw["state_dict"][k], w)  # num_batches_tracked as is
            continue
        if w.ndim > 1:
            n_weights += 1
            q, scale = raw["state_dict"][k], raw["quant_scales"][k]
            assert q.dtype == torch.int8 and q.shape == w.shape and int(q.abs().max()) <= 127
            assert scale.dtype == torch.float32 and scale.shape == (len(w),)
            amax = w.abs().reshape(len(w), -1).amax(1)
            np.testing.assert_allclose(scale[amax > 0], (amax / 127)[amax > 0], rtol=1e-6)
            err = (got[k] - w).abs().reshape(len(w), -1).amax(1)
            assert (err <= scale / 2 * (1 + 1e-5)).all(), k
            assert int(q.abs().reshape(len(w), -1).amax(1)[amax > 0].min()) == 127  # the full range is used
        else:  # BN and biases: float16 as in an fp16 file
            assert raw["state_dict"][k].dtype == torch.float16 and k not in raw["quant_scales"]
            torch.testing.assert_close(got[k], w.half().float(), rtol=0, atol=0)
    assert n_weights >= 10
    assert float(got[next(k for k in raw["quant_scales"])][0].abs().max()) == 0.0  # the zero channel


def test_shipped_compact_via_int8_agrees_with_fp16(tmp_path):
    ds = load_dataset(use_cache=False)
    fp16, info16 = load_checkpoint("compact")
    assert info16["weights_format"] == "fp16"  # written before the field existed: read as fp16
    path = convert("compact", tmp_path / "compact-int8.pt")
    int8, info8 = load_checkpoint(path)
    p16, p8 = predict_probs(fp16, ds.images, tta=True), predict_probs(int8, ds.images, tta=True)
    assert (p16.argmax(1) == p8.argmax(1)).mean() >= 0.98
    assert not np.array_equal(p16, p8)  # the weights did change
    # every recorded field kept; a new file, so a new model hash
    for k in ("model_name", "model_kwargs", "normalization", "history", "metrics", "train_config", "data_hash",
              "label_set", "classes", "created"):
        assert info8[k] == info16[k], k
    assert info8["model_hash"] != info16["model_hash"] == model_hash("compact")
    assert info8["converted_from"]["model_hash"] == info16["model_hash"]
    assert info8["converted_from"]["weights_format"] == "fp16"
    # and back to fp16: the int8 values exactly, in a file that loads like the original
    back, info = load_checkpoint(convert(path, tmp_path / "back.pt", weights="fp16"))
    assert info["weights_format"] == "fp16" and "quant_scales" not in read_checkpoint(tmp_path / "back.pt")
    for k, v in int8.state_dict().items():
        if v.is_floating_point():
            torch.testing.assert_close(back.state_dict()[k], v.half().float(), rtol=0, atol=0)


def test_int8_file_is_about_half_the_fp16_file_for_a_conv_heavy_model(tmp_path):
    model = create_model("resnet18", width=0.25)
    s16 = _save(tmp_path / "r16.pt", model, name="resnet18", kwargs={"width": 0.25}).stat().st_size
    s8 = _save(tmp_path / "r8.pt", model, name="resnet18", kwargs={"width": 0.25}, weights="int8").stat().st_size
    assert 0.45 < s8 / s16 < 0.6, (s8, s16)


def test_damaged_or_foreign_files_give_a_clear_error(tmp_path):
    model = _model(width=0.25)
    good = _save(tmp_path / "m8.pt", model, kwargs={"width": 0.25}, weights="int8")
    raw = torch.load(good, weights_only=True)

    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"cut\.pt: not a readable checkpoint"):
        load_checkpoint(cut)
    with pytest.raises(ValueError, match=r"cut\.pt: not a readable checkpoint"):
        convert(cut, tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()

    no_scales = dict(raw, quant_scales={k: v for k, v in list(raw["quant_scales"].items())[1:]})
    torch.save(no_scales, tmp_path / "noscale.pt")
    first = next(iter(raw["quant_scales"]))
    with pytest.raises(ValueError, match=rf"noscale\.pt: int8 weight '{first}' .* needs \(\d+,\) scales .*missing"):
        load_checkpoint(tmp_path / "noscale.pt")
    torch.save(dict(raw, weights_format="int4"), tmp_path / "int4.pt")
    with pytest.raises(ValueError, match=r"int4\.pt: unknown weights_format 'int4'"):
        load_checkpoint(tmp_path / "int4.pt")
    torch.save(dict(raw, model_kwargs={"width": 0.5}), tmp_path / "wrongsize.pt")
    with pytest.raises(ValueError, match=r"wrongsize\.pt: its weights do not fit model 'compact'.*size mismatch"):
        load_checkpoint(tmp_path / "wrongsize.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="other.pt: not a FER Explorer checkpoint"):
        convert(tmp_path / "other.pt", tmp_path / "out.pt")
    with pytest.raises(ValueError, match="weights must be one of fp16, int8"):
        convert(good, tmp_path / "out.pt", weights="int4")
    with pytest.raises(ValueError, match="is the source checkpoint"):
        convert(good, good)
    with pytest.raises(ValueError, match="weights must be one of"):
        _save(tmp_path / "x.pt", model, weights="bf16")


def test_command_converts_and_scores_both_on_the_bundled_sample(tmp_path, capsys):
    dst = tmp_path / "c8.pt"
    assert qcmd.main(["compact", str(dst), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert dst.is_file() and r["converted"]["weights_format"] == "int8" and r["source"]["weights_format"] == "fp16"
    assert r["split"] == "PrivateTest" and r["n"] == 180 and r["tta"] and r["data"] == "bundled sample"
    assert r["accuracy_difference"] == pytest.approx(r["converted"]["accuracy"] - r["source"]["accuracy"])
    assert abs(r["accuracy_difference"]) <= 0.02 and r["agreement"] >= 0.98
    assert 0.45 < r["size_ratio"] < 0.65 and r["converted"]["bytes"] == dst.stat().st_size
    assert qcmd.main([str(dst), str(tmp_path / "c16.pt"), "--weights", "fp16", "--split", "PublicTest"]) == 0
    out = capsys.readouterr().out
    assert "fp16 weights" in out and "PublicTest accuracy with flip TTA" in out and "difference" in out
    # bad input: a message naming the file, exit 2, nothing written
    assert qcmd.main([str(tmp_path / "none.pt"), str(tmp_path / "n8.pt")]) == 2
    assert "none.pt" in capsys.readouterr().err and not (tmp_path / "n8.pt").exists()
    assert qcmd.main(["compact", str(tmp_path / "d8.pt"), "--data", str(tmp_path / "nope.csv")]) == 2
    assert "nope.csv" in capsys.readouterr().err and not (tmp_path / "d8.pt").exists()


def test_fer_verb_list_has_quantize(capsys):
    from fer_core.__main__ import main
    assert main([]) == 2 and "quantize" in capsys.readouterr().out
