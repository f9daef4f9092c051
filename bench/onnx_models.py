"""More benchmark-shaped ONNX models built with onnx.helper (random, seeded weights).

Like onnx_resnet.py, these are for timing and plan-shape experiments, where
trained weights do not matter. Weights are He-normal (gain 2 before a ReLU or
ReLU6, gain 1 for linear layers) and biases small; BatchNorm is left out, as
if folded into the convolutions. Every model has input ``x`` [1, 3, size, size],
output ``logits`` [1, classes], opset 17 and IR version 8.

* ``squeezenet(size, classes, width_mult)``: SqueezeNet 1.0 (7x7/2 stem with
  no padding, fire modules 2-9, 1x1 classifier conv, global average pool).
  Its 3x3/2 max pools use ceil_mode=0 with end padding [0, 0, 1, 1], which
  gives the same shapes as the reference ceil_mode=1 and keeps small inputs
  (size 32 and up) valid.
* ``vgg16(size, classes, width, fc)``: VGG-16's 13 3x3 convs and 5 2x2/2 max
  pools, then Flatten and three Gemm layers (no adaptive pool, no dropout).
  ``width`` is the first stage's channels (64 = full) and ``fc`` the hidden
  size, 4096 * width / 64 by default. ``size`` should be a multiple of 32.
* ``mobilenet_v2(size, classes, width_mult)``: MobileNetV2 with ReLU6 as
  Clip(0, 6) (min/max as initializer inputs), the standard 17 inverted
  residual blocks (no expansion conv when t = 1), 1x1 conv to 1280, global
  average pool and a Gemm head. Channels are rounded to multiples of 8.

``MODELS`` maps short names to ``(size, classes, seed) -> ModelProto`` with the
benchmark's default settings. Only vgg16 is reduced from the published model:

* resnet18, resnet50: ``resnet(18 | 50, width=64)``, full width (as in
  bench_analysis.py).
* squeezenet: ``squeezenet(width_mult=1.0)``, full width.
* vgg16: ``vgg16(width=16, fc=1024)``, REDUCED: a quarter of the channels and
  of the hidden Gemm size (about 1/16 of the conv weights).
* mobilenetv2: ``mobilenet_v2(width_mult=1.0)``, full width.

The input size is the caller's (the benchmarks use 64); it also shrinks
vgg16's first Gemm, whose input is 8 * width * (size / 32)^2 features.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from onnx_resnet import _Builder, parameter_count, resnet

__all__ = ["MODELS", "mobilenet_v2", "parameter_count", "resnet", "squeezenet", "vgg16"]


class _Graph(_Builder):
    """onnx_resnet's builder (nodes, initializers, unique names) with the
    layers these models need."""

    def _param(self, name: str, array: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(array, np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], prefix: str, **attrs: object) -> str:
        name = self._name(prefix)
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def act(self, x: str, kind: str | None) -> str:
        if kind == "relu":
            return self.node("Relu", [x], "relu")
        if kind == "relu6":
            if not any(t.name == "relu6.min" for t in self.inits):
                self._param("relu6.min", np.array(0.0))
                self._param("relu6.max", np.array(6.0))
            return self.node("Clip", [x, "relu6.min", "relu6.max"], "relu6_")
        return x

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1, pad: int | None = None,
             group: int = 1, act: str | None = "relu") -> str:
        name = self._name("conv")
        fan_in = cin // group * k * k
        gain = 1.0 if act is None else 2.0
        w = self._param(f"{name}.w", self.rng.standard_normal((cout, cin // group, k, k)) * np.sqrt(gain / fan_in))
        b = self._param(f"{name}.b", self.rng.standard_normal(cout) * 0.01)
        p = k // 2 if pad is None else pad
        self.nodes.append(helper.make_node("Conv", [x, w, b], [name], name=name, kernel_shape=[k, k],
                                           strides=[stride, stride], pads=[p] * 4, group=group))
        return self.act(name, act)

    def gemm(self, x: str, cin: int, cout: int, act: str | None = None) -> str:
        name = self._name("fc")
        gain = 1.0 if act is None else 2.0
        w = self._param(f"{name}.w", self.rng.standard_normal((cout, cin)) * np.sqrt(gain / cin))
        b = self._param(f"{name}.b", self.rng.standard_normal(cout) * 0.01)
        self.nodes.append(helper.make_node("Gemm", [x, w, b], [name], name=name, transB=1))
        return self.act(name, act)

    def maxpool(self, x: str, k: int, stride: int, pads: list[int]) -> str:
        return self.node("MaxPool", [x], "pool", kernel_shape=[k, k], strides=[stride, stride], pads=pads, ceil_mode=0)

    def pool_flatten(self, x: str) -> str:
        return self.node("Flatten", [self.node("GlobalAveragePool", [x], "gap")], "flatten")

    def model(self, x: str, graph_name: str, size: int, classes: int) -> onnx.ModelProto:
        assert self.nodes[-1].output[0] == x, "the last node must produce the output"
        self.nodes[-1].output[0] = "logits"
        graph = helper.make_graph(
            self.nodes, graph_name,
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes])],
            self.inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


# SqueezeNet 1.0 fire modules 2-9: (squeeze, expand 1x1, expand 3x3); pools follow fire4 and fire8.
_FIRES = [(16, 64, 64), (16, 64, 64), (32, 128, 128), (32, 128, 128),
          (48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256)]


def squeezenet(size: int = 224, classes: int = 1000, width_mult: float = 1.0, seed: int = 0) -> onnx.ModelProto:
    def ch(c: int) -> int:
        return max(1, int(round(c * width_mult)))

    g = _Graph(seed)
    x, cin = g.conv("x", 3, ch(96), 7, stride=2, pad=0), ch(96)
    ceil_pads = [0, 0, 1, 1]  # ceil_mode=1 shapes with ceil_mode=0
    x = g.maxpool(x, 3, 2, ceil_pads)
    for i, (s, e1, e3) in enumerate(_FIRES, start=2):
        sq = g.conv(x, cin, ch(s), 1)
        a, b = g.conv(sq, ch(s), ch(e1), 1), g.conv(sq, ch(s), ch(e3), 3)
        x, cin = g.node("Concat", [a, b], "concat", axis=1), ch(e1) + ch(e3)
        if i in (4, 8):
            x = g.maxpool(x, 3, 2, ceil_pads)
    x = g.conv(x, cin, classes, 1, act="relu")
    return g.model(g.pool_flatten(x), "squeezenet1_0", size, classes)


_VGG16 = [1, 1, "M", 2, 2, "M", 4, 4, 4, "M", 8, 8, 8, "M", 8, 8, 8, "M"]  # multiples of width


def vgg16(size: int = 224, classes: int = 1000, width: int = 64, fc: int | None = None,
          seed: int = 0) -> onnx.ModelProto:
    fc = fc if fc is not None else 4096 * width // 64
    g = _Graph(seed)
    x, cin, side = "x", 3, size
    for item in _VGG16:
        if item == "M":
            x, side = g.maxpool(x, 2, 2, [0] * 4), side // 2
        else:
            x, cin = g.conv(x, cin, width * int(item), 3), width * int(item)
    x = g.node("Flatten", [x], "flatten")
    x = g.gemm(x, cin * side * side, fc, act="relu")
    x = g.gemm(x, fc, fc, act="relu")
    return g.model(g.gemm(x, fc, classes), "vgg16", size, classes)


def _round8(c: float) -> int:
    """Nearest multiple of 8, at least 8 and not more than 10% below ``c``."""
    r = max(8, int(c + 4) // 8 * 8)
    return r + 8 if r < 0.9 * c else r


# MobileNetV2 inverted residual settings: expansion t, channels c, repeats n, first stride s.
_MBV2 = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def mobilenet_v2(size: int = 224, classes: int = 1000, width_mult: float = 1.0, seed: int = 0) -> onnx.ModelProto:
    g = _Graph(seed)
    cin = _round8(32 * width_mult)
    x = g.conv("x", 3, cin, 3, stride=2, act="relu6")
    for t, c, n, s in _MBV2:
        cout = _round8(c * width_mult)
        for i in range(n):
            stride, hidden = (s if i == 0 else 1), cin * t
            y = g.conv(x, cin, hidden, 1, act="relu6") if t != 1 else x
            y = g.conv(y, hidden, hidden, 3, stride, group=hidden, act="relu6")
            y = g.conv(y, hidden, cout, 1, act=None)
            x = g.node("Add", [x, y], "add") if stride == 1 and cin == cout else y
            cin = cout
    last = _round8(1280 * max(1.0, width_mult))
    x = g.conv(x, cin, last, 1, act="relu6")
    return g.model(g.gemm(g.pool_flatten(x), last, classes), "mobilenet_v2", size, classes)


ModelFn = Callable[[int, int, int], onnx.ModelProto]

MODELS: dict[str, ModelFn] = {
    "resnet18": lambda size, classes, seed: resnet(18, width=64, size=size, classes=classes, seed=seed),
    "resnet50": lambda size, classes, seed: resnet(50, width=64, size=size, classes=classes, seed=seed),
    "squeezenet": lambda size, classes, seed: squeezenet(size, classes, width_mult=1.0, seed=seed),
    "vgg16": lambda size, classes, seed: vgg16(size, classes, width=16, fc=1024, seed=seed),
    "mobilenetv2": lambda size, classes, seed: mobilenet_v2(size, classes, width_mult=1.0, seed=seed),
}


if __name__ == "__main__":
    for short, build in MODELS.items():
        m = build(64, 10, 0)
        print(f"{short:12s} {parameter_count(m):>10,d} parameters, {len(m.graph.node)} nodes")
