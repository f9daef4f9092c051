"""Loading real-world ONNX files: old opsets, dynamic batch, stale shapes.

Each model is built at an old opset the way older exporters wrote it, then
imported and compiled; its output must match onnxruntime on the original
file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from quantune_mlir.compiler import compile_mlir
from quantune_mlir.importer import import_onnx
from quantune_mlir.onnx_model import TARGET_OPSET, load_onnx, model_opset
from quantune_mlir.runtime import run_module
from quantune_mlir.targets import parse_target


def _init(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(array.astype(np.float32), name)


def opset9_model(batch: str | int = "N", stale_value_info: bool = True, wrong_output_rank: bool = False) -> onnx.ModelProto:
    """Conv -> BatchNormalization(opset 9) -> Relu -> MaxPool(opset 8) ->
    GlobalAveragePool -> Flatten -> Unsqueeze(axes attribute) -> Squeeze."""
    rng = np.random.default_rng(7)
    c = 8
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "g", "beta", "mean", "var"], ["bn"], name="bn", epsilon=1e-5),
        helper.make_node("Relu", ["bn"], ["r"], name="relu"),
        helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["p"], ["g1"], name="gap"),
        helper.make_node("Flatten", ["g1"], ["f"], name="flatten"),
        helper.make_node("Unsqueeze", ["f"], ["u"], name="unsqueeze", axes=[1]),
        helper.make_node("Squeeze", ["u"], ["y"], name="squeeze", axes=[1]),
    ]
    inits = [
        _init("w", rng.standard_normal((c, 3, 3, 3)) * 0.3),
        _init("b", rng.standard_normal(c) * 0.1),
        _init("g", 1.0 + 0.1 * rng.standard_normal(c)),
        _init("beta", 0.1 * rng.standard_normal(c)),
        _init("mean", 0.1 * rng.standard_normal(c)),
        _init("var", 1.0 + 0.1 * rng.random(c)),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 16, 16])
    out_shape = [batch, c, 1] if wrong_output_rank else [batch, c]
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)
    value_info = [helper.make_tensor_value_info("c", TensorProto.FLOAT, [-1 if stale_value_info else batch, c, 16, 16])]
    graph = helper.make_graph(nodes, "old", [x], [y], inits, value_info=value_info if stale_value_info else None)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)], producer_name="old-exporter")
    model.ir_version = 4
    return model


def _compare_with_onnxruntime(path: Path, model: onnx.ModelProto) -> None:
    module = compile_mlir(import_onnx(model), parse_target("host"))
    x = np.random.default_rng(1).standard_normal((1, 3, 16, 16)).astype(np.float32)
    (got,) = run_module(module, [x])
    (want,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * float(np.abs(want).max()))


def test_opset9_model_with_dynamic_batch_and_stale_value_info_imports(tmp_path: Path) -> None:
    path = tmp_path / "old.onnx"
    onnx.save(opset9_model(), path)
    notes: list[str] = []
    model = load_onnx(path, notify=notes.append)
    assert model_opset(model) == TARGET_OPSET
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1
    assert len(notes) == 1
    assert "dynamic batch of 'x' set to 1" in notes[0] and f"opset 9 upgraded to {TARGET_OPSET}" in notes[0]
    _compare_with_onnxruntime(path, model)


def test_wrong_output_declaration_is_reinferred(tmp_path: Path) -> None:
    path = tmp_path / "old.onnx"
    onnx.save(opset9_model(batch=1, stale_value_info=False, wrong_output_rank=True), path)
    notes: list[str] = []
    model = load_onnx(path, notify=notes.append)
    assert "stored shapes that disagreed with shape inference dropped" in notes[0]
    assert [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim] == [1, 8]
    _compare_with_onnxruntime(path, model)


def test_current_static_model_loads_without_notes(tmp_path: Path) -> None:
    model = opset9_model(batch=1, stale_value_info=False)
    model = onnx.version_converter.convert_version(model, TARGET_OPSET)
    path = tmp_path / "new.onnx"
    onnx.save(model, path)
    notes: list[str] = []
    load_onnx(path, notify=notes.append)
    assert notes == []


def test_op_form_the_importer_cannot_lower_is_named_with_its_attributes(tmp_path: Path) -> None:
    """A bidirectional GRU (torch-mlir lowers only the forward direction)."""
    import pytest

    from quantune_mlir.errors import QuantuneError

    hidden, features = 4, 3
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("GRU", ["x", "w", "r"], ["y", "h"], name="encoder/gru", hidden_size=hidden,
                              direction="bidirectional")]
    inits = [_init("w", rng.standard_normal((2, 3 * hidden, features))),
             _init("r", rng.standard_normal((2, 3 * hidden, hidden)))]
    graph = helper.make_graph(
        nodes, "gru", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [5, 1, features])],
        [helper.make_tensor_value_info("h", TensorProto.FLOAT, [2, 1, hidden])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "gru.onnx"
    onnx.save(model, path)
    with pytest.raises(QuantuneError) as info:
        import_onnx(load_onnx(path, notify=None))
    message = str(info.value)
    assert "\n" not in message
    assert "ONNX node 'encoder/gru'" in message and "GRU (direction=bidirectional, hidden_size=4)" in message
