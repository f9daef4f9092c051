"""Five published CNN architectures, narrowed for 1x32x32 Fashion-MNIST.

Written from the papers (He et al. 2015; Iandola et al. 2016; Simonyan and
Zisserman 2014; Sandler et al. 2018), not from torchvision. Every model takes
a float32 N x 1 x 32 x 32 input (Fashion-MNIST's 28x28 images zero-padded by
two pixels on each side by the data pipeline in train.py) and returns N x 10
logits. Every convolution is followed by BatchNorm during training (also in
VGG and SqueezeNet, whose papers predate it); the ONNX exporter folds each
BatchNorm into the convolution before it, so the exported graphs have none.

Adaptations common to all five: one input channel, 10 classes, a 3x3 stride-1
stem instead of the ImageNet stem, no dropout (the exported models run in
inference mode, where dropout is the identity anyway).

=============  ==========================  =================================  ================================
name           published model             width reduction                    other changes for 32x32 input
=============  ==========================  =================================  ================================
resnet18       ResNet-18 v1, basic blocks  base width 64 -> 16 (1/4):         stem 7x7/2 conv + 3x3/2 max pool
               [2, 2, 2, 2]                stages 16, 32, 64, 128 channels    -> one 3x3/1 conv; projection
                                                                              (1x1 conv + BN) shortcuts
resnet50       ResNet-50 v1, bottleneck    base width 64 -> 8 (1/8):          as resnet18; stride on the first
               blocks [3, 4, 6, 3]         bottleneck widths 8, 16, 32, 64    1x1 conv of a block (v1, as in
                                           (outputs x4: 32 ... 256)           the paper; v1.5 puts it on 3x3)
squeezenet     SqueezeNet 1.0, fire        all channels / 2: stem 48,         stem 7x7/2 conv (96) -> 3x3/1
               modules 2-9                 fire squeeze/expand halved         conv (48); the three 3x3/2
                                           (fire2 8/32/32 ... fire9 32/128/   ceil-mode max pools are kept
                                           128)                               (32 -> 16 -> 8 -> 4)
vgg16          VGG-16 (configuration D),   convs / 4 (16, 32, 64, 128, 128);  no adaptive 7x7 pool: the five
               13 3x3 convs + 3 FC         FC hidden 4096 -> 1024 (/4)        2x2 max pools leave 1x1x128,
                                                                              flattened into the first FC
mobilenetv2    MobileNetV2, 17 inverted    width_mult 1.0 -> 0.5 (channels    stem 3x3/2 -> 3x3/1, so the
               residual blocks, ReLU6,     rounded to multiples of 8: stem    total stride is 16 and the last
               depthwise 3x3               16, blocks 8 ... 160); last 1x1    feature map 2x2
                                           conv keeps 1280 (as the paper)
=============  ==========================  =================================  ================================
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

__all__ = ["MODELS", "REDUCTIONS", "build", "mobilenet_v2", "resnet18", "resnet50", "squeezenet", "vgg16"]

IN_CHANNELS = 1
NUM_CLASSES = 10


def conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    """Convolution without bias (BatchNorm has one) followed by BatchNorm."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    )


def _init(module: nn.Module) -> None:
    """He-normal (fan-out) convolutions, BN scale 1 / shift 0, small-normal linear layers."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)


# --------------------------------------------------------------------------- ResNet v1


class BasicBlock(nn.Module):
    """Two 3x3 convolutions; the shortcut is a 1x1 projection when the shape changes."""

    expansion = 1

    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        cout = width * self.expansion
        self.conv1 = conv_bn(cin, width, 3, stride)
        self.relu1 = nn.ReLU()
        self.conv2 = conv_bn(width, cout, 3)
        self.shortcut = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else nn.Identity()
        self.relu2 = nn.ReLU()
        self.last_bn = self.conv2[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.relu1(self.conv1(x)))
        return self.relu2(y + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (x4); ResNet v1 strides the first 1x1 conv."""

    expansion = 4

    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        cout = width * self.expansion
        self.conv1 = conv_bn(cin, width, 1, stride)
        self.relu1 = nn.ReLU()
        self.conv2 = conv_bn(width, width, 3)
        self.relu2 = nn.ReLU()
        self.conv3 = conv_bn(width, cout, 1)
        self.shortcut = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else nn.Identity()
        self.relu3 = nn.ReLU()
        self.last_bn = self.conv3[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv3(self.relu2(self.conv2(self.relu1(self.conv1(x)))))
        return self.relu3(y + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, block: type[BasicBlock] | type[Bottleneck], blocks: list[int], width: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(conv_bn(IN_CHANNELS, width, 3), nn.ReLU())
        layers: list[nn.Module] = []
        cin = width
        for stage, count in enumerate(blocks):
            stage_width = width * 2**stage
            for i in range(count):
                stride = 2 if stage > 0 and i == 0 else 1
                layers.append(block(cin, stage_width, stride))
                cin = stage_width * block.expansion
        self.stages = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(cin, NUM_CLASSES)
        _init(self)
        # Each residual branch starts as the zero function (Goyal et al. 2017):
        # helps the short training schedules used here.
        for m in self.stages:
            nn.init.zeros_(m.last_bn.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.flatten(self.pool(self.stages(self.stem(x)))))


def resnet18(width: int = 16) -> ResNet:
    return ResNet(BasicBlock, [2, 2, 2, 2], width)


def resnet50(width: int = 8) -> ResNet:
    return ResNet(Bottleneck, [3, 4, 6, 3], width)


# --------------------------------------------------------------------------- SqueezeNet 1.0


class Fire(nn.Module):
    """1x1 squeeze, then 1x1 and 3x3 expand convolutions concatenated on channels."""

    def __init__(self, cin: int, squeeze: int, expand1: int, expand3: int) -> None:
        super().__init__()
        self.squeeze = nn.Sequential(conv_bn(cin, squeeze, 1), nn.ReLU())
        self.expand1 = nn.Sequential(conv_bn(squeeze, expand1, 1), nn.ReLU())
        self.expand3 = nn.Sequential(conv_bn(squeeze, expand3, 3), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.squeeze(x)
        return torch.cat([self.expand1(s), self.expand3(s)], 1)


class SqueezeNet(nn.Module):
    # (squeeze, expand1x1, expand3x3) of fire2 .. fire9 at full width; "M" = 3x3/2 max pool.
    FIRES: list[tuple[int, int, int] | str] = [
        (16, 64, 64), (16, 64, 64), (32, 128, 128), "M",
        (32, 128, 128), (48, 192, 192), (48, 192, 192), (64, 256, 256), "M",
        (64, 256, 256),
    ]

    def __init__(self, scale: float = 0.5) -> None:
        super().__init__()

        def c(n: int) -> int:
            return int(n * scale)

        layers: list[nn.Module] = [conv_bn(IN_CHANNELS, c(96), 3), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True)]
        cin = c(96)
        for spec in self.FIRES:
            if spec == "M":
                layers.append(nn.MaxPool2d(3, 2, ceil_mode=True))
            else:
                s, e1, e3 = spec
                layers.append(Fire(cin, c(s), c(e1), c(e3)))
                cin = c(e1) + c(e3)
        self.features = nn.Sequential(*layers)
        # Classifier as published: 1x1 conv to the classes, ReLU, global average pool.
        self.conv10 = nn.Conv2d(cin, NUM_CLASSES, 1)
        self.relu10 = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        _init(self)
        nn.init.normal_(self.conv10.weight, 0.0, 0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.flatten(self.pool(self.relu10(self.conv10(self.features(x)))))


def squeezenet(scale: float = 0.5) -> SqueezeNet:
    return SqueezeNet(scale)


# --------------------------------------------------------------------------- VGG-16


class VGG(nn.Module):
    # Configuration D at full width; "M" = 2x2/2 max pool.
    CONFIG_D: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]

    def __init__(self, divisor: int = 4, hidden: int = 1024) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = IN_CHANNELS
        for spec in self.CONFIG_D:
            if spec == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                cout = int(spec) // divisor
                layers += [conv_bn(cin, cout, 3), nn.ReLU()]
                cin = cout
        self.features = nn.Sequential(*layers)
        self.flatten = nn.Flatten()
        # 32x32 after five 2x2 pools is 1x1, so the first FC sees cin features.
        self.classifier = nn.Sequential(
            nn.Linear(cin, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, NUM_CLASSES),
        )
        _init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.flatten(self.features(x)))


def vgg16(divisor: int = 4, hidden: int = 1024) -> VGG:
    return VGG(divisor, hidden)


# --------------------------------------------------------------------------- MobileNetV2


def make_divisible(value: float, divisor: int = 8) -> int:
    """Rounds a channel count to the nearest multiple of divisor, losing at most 10%."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class InvertedResidual(nn.Module):
    """1x1 expansion (t > 1) + ReLU6, depthwise 3x3 + ReLU6, linear 1x1 projection."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [conv_bn(cin, hidden, 1), nn.ReLU6()]
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden), nn.ReLU6(), conv_bn(hidden, cout, 1)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


class MobileNetV2(nn.Module):
    # (expansion t, channels c, repeats n, first stride s), as in table 2 of the paper.
    SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, width_mult: float = 0.5) -> None:
        super().__init__()
        cin = make_divisible(32 * width_mult)
        last = make_divisible(1280 * max(1.0, width_mult))
        layers: list[nn.Module] = [conv_bn(IN_CHANNELS, cin, 3, 1), nn.ReLU6()]
        for t, c, n, s in self.SETTINGS:
            cout = make_divisible(c * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        layers += [conv_bn(cin, last, 1), nn.ReLU6()]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(last, NUM_CLASSES)
        _init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.flatten(self.pool(self.features(x))))


def mobilenet_v2(width_mult: float = 0.5) -> MobileNetV2:
    return MobileNetV2(width_mult)


# --------------------------------------------------------------------------- registry

MODELS: dict[str, Callable[[], nn.Module]] = {
    "resnet18": resnet18,
    "resnet50": resnet50,
    "squeezenet": squeezenet,
    "vgg16": vgg16,
    "mobilenetv2": mobilenet_v2,
}

# One line per model, recorded in the model's JSON next to its accuracy.
REDUCTIONS = {
    "resnet18": "ResNet-18 v1, base width 64 -> 16 (stages 16/32/64/128); 3x3/1 stem, no max pool",
    "resnet50": "ResNet-50 v1, base width 64 -> 8 (bottleneck widths 8/16/32/64, outputs x4 = 32..256); 3x3/1 stem, no max pool",
    "squeezenet": "SqueezeNet 1.0, all channels / 2 (stem 48, fire2 8/32/32 .. fire9 32/128/128); 3x3/1 stem; BN added",
    "vgg16": "VGG-16 (config D), convs / 4 (16..128), FC hidden 4096 -> 1024, no 7x7 adaptive pool; BN added",
    "mobilenetv2": "MobileNetV2, width_mult 0.5 (last conv 1280 kept); stem stride 2 -> 1",
}


def build(name: str) -> nn.Module:
    """A freshly initialised model (seed torch first for reproducible weights)."""
    try:
        return MODELS[name]()
    except KeyError:
        raise SystemExit(f"unknown model '{name}'; choose from {', '.join(MODELS)}") from None


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
