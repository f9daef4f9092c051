"""Small ONNX models built in code: the demo's default model and test nets.

Weights are drawn from a seeded generator, so every build of a model is
byte-identical. The node names are what quantune-label-layers reports.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def _weights(rng: np.random.Generator, name: str, shape: tuple[int, ...]) -> onnx.TensorProto:
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
    data = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
    return numpy_helper.from_array(data.astype(np.float32), name)


def _model(nodes, name, inputs, outputs, initializers) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="quantune-mlir")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def residual_cnn(seed: int = 0, size: int = 32, classes: int = 10) -> onnx.ModelProto:
    """Conv stem, a residual block (conv-relu-conv + skip add), max and
    global average pooling, a strided conv and a Gemm head.

    Input ``x``: 1x3xSIZExSIZE float32. Output ``logits``: 1xCLASSES.
    """
    rng = np.random.default_rng(seed)
    inits = [
        _weights(rng, "stem.w", (16, 3, 3, 3)), _weights(rng, "stem.b", (16,)),
        _weights(rng, "block.conv1.w", (16, 16, 3, 3)), _weights(rng, "block.conv1.b", (16,)),
        _weights(rng, "block.conv2.w", (16, 16, 3, 3)), _weights(rng, "block.conv2.b", (16,)),
        _weights(rng, "down.w", (32, 16, 3, 3)), _weights(rng, "down.b", (32,)),
        _weights(rng, "fc.w", (classes, 32)), _weights(rng, "fc.b", (classes,)),
    ]
    conv = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    nodes = [
        helper.make_node("Conv", ["x", "stem.w", "stem.b"], ["s"], name="stem", **conv),
        helper.make_node("Relu", ["s"], ["s_relu"], name="stem_relu"),
        helper.make_node("Conv", ["s_relu", "block.conv1.w", "block.conv1.b"], ["c1"], name="block_conv1", **conv),
        helper.make_node("Relu", ["c1"], ["c1_relu"], name="block_relu1"),
        helper.make_node("Conv", ["c1_relu", "block.conv2.w", "block.conv2.b"], ["c2"], name="block_conv2", **conv),
        helper.make_node("Add", ["c2", "s_relu"], ["res"], name="block_add"),
        helper.make_node("Relu", ["res"], ["res_relu"], name="block_relu2"),
        helper.make_node("MaxPool", ["res_relu"], ["pool"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["pool", "down.w", "down.b"], ["d"], name="down", strides=[2, 2], **conv),
        helper.make_node("Relu", ["d"], ["d_relu"], name="down_relu"),
        helper.make_node("GlobalAveragePool", ["d_relu"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], name="fc", transB=1),
    ]
    return _model(
        nodes,
        "residual_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes])],
        inits,
    )


def depthwise_net(seed: int = 0, size: int = 32, classes: int = 10) -> onnx.ModelProto:
    """MobileNet-style: conv stem, depthwise 3x3 + ReLU6 (Clip), pointwise
    1x1 conv, global average pooling and a Gemm head.

    Input ``x``: 1x3xSIZExSIZE float32. Output ``logits``: 1xCLASSES.
    """
    rng = np.random.default_rng(seed)
    inits = [
        _weights(rng, "stem.w", (16, 3, 3, 3)), _weights(rng, "stem.b", (16,)),
        _weights(rng, "dw.w", (16, 1, 3, 3)), _weights(rng, "dw.b", (16,)),
        _weights(rng, "pw.w", (24, 16, 1, 1)), _weights(rng, "pw.b", (24,)),
        _weights(rng, "head.w", (classes, 24)), _weights(rng, "head.b", (classes,)),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        numpy_helper.from_array(np.array(6.0, np.float32), "six"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "stem.w", "stem.b"], ["s"], name="stem", kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Clip", ["s", "zero", "six"], ["s6"], name="stem_relu6"),
        helper.make_node("Conv", ["s6", "dw.w", "dw.b"], ["dw"], name="dwconv", kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=16),
        helper.make_node("Clip", ["dw", "zero", "six"], ["dw6"], name="dw_relu6"),
        helper.make_node("Conv", ["dw6", "pw.w", "pw.b"], ["pw"], name="pwconv", kernel_shape=[1, 1]),
        helper.make_node("GlobalAveragePool", ["pw"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "head.w", "head.b"], ["logits"], name="head", transB=1),
    ]
    return _model(
        nodes,
        "depthwise_net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes])],
        inits,
    )


MODELS = {"residual_cnn": residual_cnn, "depthwise_net": depthwise_net}
