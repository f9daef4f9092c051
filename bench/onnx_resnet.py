"""ResNet-shaped ONNX models built with onnx.helper (random, seeded weights).

Used by the benchmarks for timing, where trained weights do not matter:
``resnet(depth=18 | 34 | 50, width=64, size=224)`` follows torchvision's
ResNet v1 layout (7x7/2 stem, 3x3/2 max pool, four stages, global average
pool, fully connected head); ``width`` scales every stage's channels and
``size`` is the input resolution.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

_BLOCKS = {10: ("basic", [1, 1, 1, 1]), 18: ("basic", [2, 2, 2, 2]), 34: ("basic", [3, 4, 6, 3]), 50: ("bottleneck", [3, 4, 6, 3])}


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0

    def _name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1, relu: bool = True) -> str:
        name = self._name("conv")
        w = self.rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))
        b = self.rng.standard_normal(cout) * 0.01
        self.inits += [numpy_helper.from_array(w.astype(np.float32), f"{name}.w"),
                       numpy_helper.from_array(b.astype(np.float32), f"{name}.b")]
        pad = k // 2
        self.nodes.append(helper.make_node("Conv", [x, f"{name}.w", f"{name}.b"], [name], name=name,
                                           kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4))
        if not relu:
            return name
        self.nodes.append(helper.make_node("Relu", [name], [f"{name}.relu"], name=f"{name}_relu"))
        return f"{name}.relu"

    def add_relu(self, a: str, b: str) -> str:
        name = self._name("add")
        self.nodes.append(helper.make_node("Add", [a, b], [name], name=name))
        self.nodes.append(helper.make_node("Relu", [name], [f"{name}.relu"], name=f"{name}_relu"))
        return f"{name}.relu"


def resnet(depth: int = 18, width: int = 64, size: int = 224, classes: int = 1000, seed: int = 0) -> onnx.ModelProto:
    kind, counts = _BLOCKS[depth]
    b = _Builder(seed)
    x = b.conv("x", 3, width, 7, stride=2)
    b.nodes.append(helper.make_node("MaxPool", [x], ["pool"], name="pool", kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4))
    x, cin = "pool", width
    expansion = 4 if kind == "bottleneck" else 1
    for stage, n in enumerate(counts):
        planes = width * 2**stage
        for i in range(n):
            stride = 2 if (i == 0 and stage > 0) else 1
            cout = planes * expansion
            if kind == "basic":
                y = b.conv(x, cin, planes, 3, stride)
                y = b.conv(y, planes, planes, 3, relu=False)
            else:
                y = b.conv(x, cin, planes, 1)
                y = b.conv(y, planes, planes, 3, stride)
                y = b.conv(y, planes, cout, 1, relu=False)
            shortcut = b.conv(x, cin, cout, 1, stride, relu=False) if (stride != 1 or cin != cout) else x
            x, cin = b.add_relu(y, shortcut), cout
    b.nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"], name="gap"))
    b.nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"))
    w = b.rng.standard_normal((classes, cin)) * np.sqrt(1.0 / cin)
    b.inits += [numpy_helper.from_array(w.astype(np.float32), "fc.w"),
                numpy_helper.from_array(np.zeros(classes, np.float32), "fc.b")]
    b.nodes.append(helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], name="fc", transB=1))
    graph = helper.make_graph(
        b.nodes, f"resnet{depth}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes])],
        b.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def parameter_count(model: onnx.ModelProto) -> int:
    return int(sum(np.prod(t.dims) for t in model.graph.initializer))
