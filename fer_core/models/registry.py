"""Model registry (timm-style) for 48x48 grey faces.

Every model takes (B, 1, 48, 48) float32 images normalised with the training mean/std and has

* ``forward_features(x)`` -> (B, D) penultimate embedding (after global average pooling),
* ``forward_head(feats)`` -> (B, K) logits,
* ``forward(x) = forward_head(forward_features(x))``,
* ``feature_layer``: the last convolutional block (the Grad-CAM target layer),
* ``num_features`` (D) and ``num_classes`` (K).

No activation is in-place (``ReLU(inplace=False)``, residual sums written ``out = out + x``)
and no activation module is used twice, so Captum hooks see every tensor untouched.

Example:
    >>> from fer_core.models.registry import create_model, list_models
    >>> list_models()
    ['compact', 'mobilenetv2', 'resnet18', 'resnet34', 'vgg13-lite']
    >>> model = create_model("compact", num_classes=7, width=1.0)
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str) -> Callable:
    """Decorator: register a model factory `fn(num_classes=7, **kwargs) -> nn.Module` under `name`."""

    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = fn
        return fn

    return deco


def list_models() -> list[str]:
    """Sorted names of the registered models."""
    return sorted(_REGISTRY)


def create_model(name: str, num_classes: int = 7, **kwargs) -> nn.Module:
    """Build a registered model with freshly initialised weights.

    Args:
        name: a name from :func:`list_models`.
        num_classes: K, the number of output logits.
        **kwargs: model options (every model accepts ``width`` and ``dropout``).

    Raises:
        ValueError: unknown name (the message lists the known ones), or a bad option.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    try:
        model = _REGISTRY[name](num_classes=num_classes, **kwargs)
    except TypeError as e:  # unexpected keyword
        raise ValueError(f"bad options for model {name!r}: {e}") from None
    model.model_name = name
    return model


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _ch(c: float, width: float, divisor: int = 8, minimum: int = 8) -> int:
    """Round `c * width` to a multiple of `divisor` (at least `minimum`)."""
    if width <= 0:
        raise ValueError(f"width must be > 0, got {width}")
    v = max(minimum, int(c * width + divisor / 2) // divisor * divisor)
    return v if v >= 0.9 * c * width else v + divisor


def _init(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


class FERModel(nn.Module):
    """Base: `body` (conv stages, last one = feature_layer) -> GAP -> dropout -> linear head."""

    def __init__(self, body: nn.Sequential, num_features: int, num_classes: int, dropout: float):
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.body = body
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(num_features, num_classes)
        self.num_features = num_features
        self.num_classes = num_classes

    @property
    def feature_layer(self) -> nn.Module:
        """Last conv block: its output (B, C, h, w) is what Grad-CAM weights."""
        return self.body[-1]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 48, 48) -> (B, D) pooled embedding."""
        return self.flatten(self.pool(self.body(x)))

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, D) -> (B, K) logits."""
        return self.head(self.dropout(feats))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _conv_bn_relu(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=False))


# --------------------------------------------------------------------------------------------
# compact: depthwise-separable CNN for CPU training
# --------------------------------------------------------------------------------------------
class DSBlock(nn.Module):
    """Depthwise 3x3 (stride s) + BN + ReLU, pointwise 1x1 + BN + ReLU; residual when shapes match."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.dw = _conv_bn_relu(cin, cin, 3, stride, groups=cin)
        self.pw = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.act = nn.ReLU(inplace=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pw(self.dw(x))
        if self.residual:
            y = y + x
        return self.act(y)


#: compact layout at width 1: stem channels at 48x48, then (channels, blocks) per stage at
#: 24x24, 12x12 and 6x6 (the first block of each stage has stride 2). Channels are kept low at
#: high resolution and spent at 12x12 / 6x6: on a CPU the step time follows the activation
#: memory far more than the FLOPs (see bench/bench_train_cpu.py).
COMPACT_STEM = 24
COMPACT_STAGES = ((48, 2), (144, 3), (384, 3))


@register_model("compact")
def compact(num_classes: int = 7, width: float = 1.0, dropout: float = 0.2,
            blocks: tuple[int, ...] | list[int] = (2, 3, 3)) -> FERModel:
    """CPU-friendly depthwise-separable CNN (~0.42 M parameters at width 1, ~0.19 M at 2/3).

    A 3x3 conv stem at 48x48 (24 x width channels), then three stages of depthwise-separable
    blocks (DSBlock: 3x3 depthwise + BN + ReLU, 1x1 pointwise + BN, residual when shapes
    match, ReLU) with 48 / 144 / 384 x width channels at 24x24 / 12x12 / 6x6, `blocks` blocks
    per stage, global average pooling, dropout and one linear layer. `feature_layer` is the
    last 6x6 block. Width 1 is the shipped size: on 2 CPU cores it trains at ~500 img/s
    (batch 64) and beat width 2/3 by 2-5 points of PublicTest accuracy at equal epochs.
    """
    blocks = tuple(int(b) for b in blocks)
    if len(blocks) != len(COMPACT_STAGES) or min(blocks) < 1:
        raise ValueError(f"blocks must be {len(COMPACT_STAGES)} integers >= 1, got {blocks}")
    c0 = _ch(COMPACT_STEM, width)
    stages: list[nn.Module] = [_conv_bn_relu(1, c0)]
    cin = c0
    for (c, _), n in zip(COMPACT_STAGES, blocks):
        cout = _ch(c, width)
        for i in range(n):
            stages.append(DSBlock(cin, cout, 2 if i == 0 else 1))
            cin = cout
    model = FERModel(nn.Sequential(*stages), cin, num_classes, dropout)
    _init(model)
    return model


# --------------------------------------------------------------------------------------------
# ResNet-18/34 from torchvision, adapted to 48x48 grey
# --------------------------------------------------------------------------------------------
def _basic_block_cls():
    from torchvision.models.resnet import BasicBlock

    class OutOfPlaceBasicBlock(BasicBlock):
        """torchvision's BasicBlock with two separate, out-of-place ReLUs and `out = out + identity`."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.relu = nn.ReLU(inplace=False)
            self.relu2 = nn.ReLU(inplace=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu2(out + identity)

    return OutOfPlaceBasicBlock


def _resnet(layers: list[int], num_classes: int, width: float, dropout: float) -> FERModel:
    from torchvision.models.resnet import ResNet

    base = _ch(64, width)
    net = ResNet(_basic_block_cls(), layers, num_classes=num_classes)
    if base != 64:  # rebuild the stages at the requested width
        net.inplanes = base
        block = _basic_block_cls()
        net.layer1 = net._make_layer(block, base, layers[0])
        net.layer2 = net._make_layer(block, base * 2, layers[1], stride=2)
        net.layer3 = net._make_layer(block, base * 4, layers[2], stride=2)
        net.layer4 = net._make_layer(block, base * 8, layers[3], stride=2)
    # 48x48 grey: 3x3 stride-1 stem, no max-pool -> 48, 48, 24, 12, 6 through the stages
    stem = nn.Sequential(nn.Conv2d(1, base, 3, 1, 1, bias=False), nn.BatchNorm2d(base), nn.ReLU(inplace=False))
    body = nn.Sequential(stem, net.layer1, net.layer2, net.layer3, net.layer4)
    model = FERModel(body, base * 8, num_classes, dropout)
    _init(model)
    for m in model.modules():  # zero-init the last BN of each residual branch (Goyal et al.)
        if hasattr(m, "bn2") and hasattr(m, "relu2"):
            nn.init.zeros_(m.bn2.weight)
    return model


@register_model("resnet18")
def resnet18(num_classes: int = 7, width: float = 1.0, dropout: float = 0.0) -> FERModel:
    """torchvision ResNet-18 for 48x48 grey (3x3 stem, stride 1, no max-pool); ~11.2 M parameters."""
    return _resnet([2, 2, 2, 2], num_classes, width, dropout)


@register_model("resnet34")
def resnet34(num_classes: int = 7, width: float = 1.0, dropout: float = 0.0) -> FERModel:
    """torchvision ResNet-34 for 48x48 grey (3x3 stem, stride 1, no max-pool); ~21.3 M parameters."""
    return _resnet([3, 4, 6, 3], num_classes, width, dropout)


# --------------------------------------------------------------------------------------------
# VGG-13-lite: the plain VGG stack that does well on FER2013 (Khaireddin & Chen 2021)
# --------------------------------------------------------------------------------------------
@register_model("vgg13-lite")
def vgg13_lite(num_classes: int = 7, width: float = 1.0, dropout: float = 0.3) -> FERModel:
    """VGG-13 conv stack (2x64, 2x128, 2x256, 2x512 at 48, 24, 12, 6) with BN, max-pool between
    stages and global average pooling instead of VGG's big FC layers; ~4.7 M parameters."""
    cfg = [(64, 2), (128, 2), (256, 2), (512, 2)]
    stages: list[nn.Module] = []
    cin = 1
    for i, (c, n) in enumerate(cfg):
        cout = _ch(c, width)
        layers: list[nn.Module] = [nn.MaxPool2d(2)] if i else []
        for _ in range(n):
            layers.append(_conv_bn_relu(cin, cout))
            cin = cout
        stages.append(nn.Sequential(*layers))
    model = FERModel(nn.Sequential(*stages), cin, num_classes, dropout)
    _init(model)
    return model


# --------------------------------------------------------------------------------------------
# MobileNetV2-style inverted residuals, sized for 48x48
# --------------------------------------------------------------------------------------------
class InvertedResidual(nn.Module):
    """1x1 expand + BN + ReLU6, 3x3 depthwise + BN + ReLU6, 1x1 project + BN (linear bottleneck)."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hid = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(cin, hid, 1, bias=False), nn.BatchNorm2d(hid), nn.ReLU6(inplace=False)]
        layers += [nn.Conv2d(hid, hid, 3, stride, 1, groups=hid, bias=False), nn.BatchNorm2d(hid),
                   nn.ReLU6(inplace=False), nn.Conv2d(hid, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return y + x if self.residual else y


@register_model("mobilenetv2")
def mobilenetv2(num_classes: int = 7, width: float = 1.0, dropout: float = 0.2) -> FERModel:
    """MobileNetV2 for 48x48 (stem stride 1; stages 48 -> 24 -> 12 -> 6; 1x1 to 512 at the end);
    ~0.93 M parameters at width 1."""
    # (expand t, channels c, repeats n, first stride s), as in Sandler et al. 2018, trimmed
    cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 1), (6, 64, 3, 2), (6, 96, 2, 1), (6, 160, 2, 2)]
    c0 = _ch(32, width)
    stages: list[nn.Module] = [_conv_bn_relu(1, c0)]
    cin = c0
    for t, c, n, s in cfg:
        cout = _ch(c, width)
        blocks = []
        for i in range(n):
            blocks.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
            cin = cout
        stages.append(nn.Sequential(*blocks))
    last = _ch(512, max(1.0, width))
    stages[-1] = nn.Sequential(*stages[-1], _conv_bn_relu(cin, last, k=1))
    model = FERModel(nn.Sequential(*stages), last, num_classes, dropout)
    _init(model)
    return model
