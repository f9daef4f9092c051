"""NHWC models (TF-style, a Transpose at the input and the output) fold as
many quantize/dequantize pairs as the same network in NCHW, and both match
onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import quantune_mlir as qt
from quantune_mlir.runtime import run_module

from conftest import onnxruntime_outputs


def conv_chain(nhwc: bool) -> onnx.ModelProto:
    """conv3x3 -> relu -> conv3x3 -> relu -> conv1x1, in NCHW or behind NHWC transposes."""
    rng = np.random.default_rng(0)

    def init(name: str, shape: tuple[int, ...]) -> onnx.TensorProto:
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.3).astype(np.float32), name)

    nodes, x = [], "x"
    if nhwc:
        nodes.append(helper.make_node("Transpose", ["x"], ["x_nchw"], perm=[0, 3, 1, 2], name="to_nchw"))
        x = "x_nchw"
    nodes += [
        helper.make_node("Conv", [x, "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("Conv", ["r2", "w3", "b3"], ["c3" if nhwc else "y"], name="conv3"),
    ]
    if nhwc:
        nodes.append(helper.make_node("Transpose", ["c3"], ["y"], perm=[0, 2, 3, 1], name="to_nhwc"))
    shape, out_shape = ([1, 16, 16, 3], [1, 16, 16, 8]) if nhwc else ([1, 3, 16, 16], [1, 8, 16, 16])
    graph = helper.make_graph(
        nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        [init("w1", (8, 3, 3, 3)), init("b1", (8,)), init("w2", (8, 8, 3, 3)), init("b2", (8,)),
         init("w3", (8, 8, 1, 1)), init("b3", (8,))],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_layouts_fold_alike_and_match_onnxruntime(tmp_path: Path, layout: str) -> None:
    nhwc = layout == "nhwc"
    path = tmp_path / f"{layout}.onnx"
    onnx.save(conv_chain(nhwc), path)
    rng = np.random.default_rng(1)
    shape = (1, 16, 16, 3) if nhwc else (1, 3, 16, 16)
    calib = rng.standard_normal((8, *shape)).astype(np.float32)
    result = qt.quantize(path, tmp_path / "m.vmfb", calib=calib, precision="int8")
    assert result.int8_layers == 3
    # Two pairs sit between the three int8 layers (through ReLU, and through
    # the layout transposes in NHWC); both fold in either layout.
    assert result.folded_pairs == 2
    x = rng.standard_normal(shape).astype(np.float32)
    (got,) = run_module(result.module_path, [x])
    (want,) = onnxruntime_outputs(path, [x])
    err = float(np.sum((got.astype(np.float64) - want) ** 2))
    assert 10 * np.log10(float(np.sum(want.astype(np.float64) ** 2)) / err) > 25.0
