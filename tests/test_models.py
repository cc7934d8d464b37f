"""Every registered model: shapes, forward/backward, no NaN, no in-place activations."""
import pytest
import torch
from torch import nn

from fer_core.models.registry import count_params, create_model, list_models, register_model
from fer_core.training.train import channels_last_safe

ALL = list_models()


@pytest.fixture(autouse=True)
def _few_threads():
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(old)


def test_registry_lists_the_required_models():
    assert {"compact", "resnet18", "resnet34", "vgg13-lite", "mobilenetv2"} <= set(ALL)
    assert ALL == sorted(ALL)


@pytest.mark.parametrize("name", ALL)
def test_forward_backward_shapes_and_finite(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=7).train()
    x = torch.randn(4, 1, 48, 48)
    feats = model.forward_features(x)
    assert feats.shape == (4, model.num_features)
    logits = model.forward_head(feats)
    assert logits.shape == (4, 7)
    out = model(x)
    assert out.shape == (4, 7) and torch.isfinite(out).all()
    out.logsumexp(1).mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), model.forward_head(model.forward_features(x)))


@pytest.mark.parametrize("name", ALL)
def test_feature_layer_is_a_conv_block_inside_the_model(name):
    model = create_model(name).eval()
    assert any(m is model.feature_layer for m in model.modules())
    seen = {}
    h = model.feature_layer.register_forward_hook(lambda m, i, o: seen.setdefault("out", o))
    with torch.no_grad():
        model(torch.randn(2, 1, 48, 48))
    h.remove()
    out = seen["out"]
    assert out.ndim == 4 and out.shape[0] == 2 and out.shape[1] == model.num_features
    assert out.shape[-1] >= 3  # a spatial map Grad-CAM can upsample


@pytest.mark.parametrize("name", ALL)
def test_no_inplace_ops_and_no_module_reused(name):
    """Captum needs every module output untouched: no inplace=True, no `+=` on an activation
    (a tensor's _version counter moves when it is modified in place), no module called twice."""
    model = create_model(name).train()
    assert not [n for n, m in model.named_modules() if getattr(m, "inplace", False)]
    outputs, calls, hooks = [], {}, []

    def hook(mod, inp, out):
        calls[mod] = calls.get(mod, 0) + 1
        if isinstance(out, torch.Tensor):
            outputs.append((mod, out, out._version))

    for m in model.modules():
        hooks.append(m.register_forward_hook(hook))
    model(torch.randn(2, 1, 48, 48)).sum().backward()
    for h in hooks:
        h.remove()
    modified = [type(m).__name__ for m, t, v in outputs if t._version != v]
    assert modified == []
    assert [type(m).__name__ for m, c in calls.items() if c > 1] == []


def test_the_version_check_catches_an_inplace_sum():
    """The planted case for the test above: a block written with `+=`."""

    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, padding=1)

        def forward(self, x):
            y = self.conv(x)
            y += x
            return y

    model, outs = Bad(), []
    model.conv.register_forward_hook(lambda m, i, o: outs.append((o, o._version)))
    model(torch.randn(1, 1, 8, 8))
    assert outs[0][0]._version != outs[0][1]


def test_num_classes_and_options():
    assert create_model("compact", num_classes=8)(torch.randn(2, 1, 48, 48)).shape == (2, 8)
    assert create_model("resnet18", num_classes=6, width=0.25)(torch.randn(2, 1, 48, 48)).shape == (2, 6)
    small, big = create_model("compact", width=0.5), create_model("compact", width=2.0)
    assert count_params(small) < count_params(create_model("compact")) < count_params(big)
    assert len(create_model("compact", blocks=(1, 1, 1)).body) == 4


def test_compact_is_cpu_sized():
    assert 300_000 <= count_params(create_model("compact")) <= 500_000
    assert count_params(create_model("compact", width=1.25)) <= 1_000_000


def test_resnets_are_adapted_to_48x48_grey():
    m = create_model("resnet18")
    stem = m.body[0][0]
    assert stem.in_channels == 1 and stem.kernel_size == (3, 3) and stem.stride == (1, 1)
    assert not any(isinstance(x, nn.MaxPool2d) for x in m.modules())
    assert 10e6 < count_params(m) < 12e6
    assert 20e6 < count_params(create_model("resnet34")) < 23e6


def test_unknown_model_and_bad_options_raise_clearly():
    with pytest.raises(ValueError, match="unknown model 'nope'.*compact.*resnet18"):
        create_model("nope")
    with pytest.raises(ValueError, match="bad options"):
        create_model("compact", depth=3)
    with pytest.raises(ValueError, match="num_classes"):
        create_model("compact", num_classes=1)
    with pytest.raises(ValueError, match="width"):
        create_model("compact", width=0)
    with pytest.raises(ValueError, match="registered twice"):
        register_model("compact")(lambda **kw: None)


def test_channels_last_safety_rule():
    assert channels_last_safe(create_model("compact"))
    assert not channels_last_safe(create_model("resnet18"))  # strided 1x1 downsample convs
