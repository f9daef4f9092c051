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
import pytest
from onnx import TensorProto, helper, numpy_helper

from quantune_mlir.compiler import compile_mlir
from quantune_mlir.errors import QuantuneError
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
    assert "1 BatchNormalization node(s) folded" in notes[0]
    _compare_with_onnxruntime(path, model)


def test_wrong_output_declaration_is_reinferred(tmp_path: Path) -> None:
    path = tmp_path / "old.onnx"
    onnx.save(opset9_model(batch=1, stale_value_info=False, wrong_output_rank=True), path)
    notes: list[str] = []
    model = load_onnx(path, notify=notes.append)
    assert "stored shapes that disagreed with shape inference dropped" in notes[0]
    assert [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim] == [1, 8]
    _compare_with_onnxruntime(path, model)


def test_current_static_model_changes_only_by_its_batch_norm(tmp_path: Path) -> None:
    model = opset9_model(batch=1, stale_value_info=False)
    model = onnx.version_converter.convert_version(model, TARGET_OPSET)
    path = tmp_path / "new.onnx"
    onnx.save(model, path)
    notes: list[str] = []
    load_onnx(path, notify=notes.append)
    assert notes == [f"note: '{path}': 1 BatchNormalization node(s) folded into the convolution before them"]


def _gru_model(direction: str, weights_as_inputs: bool = False) -> onnx.ModelProto:
    """X [5, 1, 3] -> GRU(hidden 4, linear_before_reset=1, bias, initial_h) -> Y and Y_h."""
    hidden, features = 4, 3
    dirs = 2 if direction == "bidirectional" else 1
    rng = np.random.default_rng(0)
    weights = {"w": rng.standard_normal((dirs, 3 * hidden, features)) * 0.5,
               "r": rng.standard_normal((dirs, 3 * hidden, hidden)) * 0.5,
               "b": rng.standard_normal((dirs, 6 * hidden)) * 0.1,
               "h0": rng.standard_normal((dirs, 1, hidden)) * 0.1}
    nodes = [helper.make_node("GRU", ["x", "w", "r", "b", "", "h0"], ["y", "h"], name="encoder/gru",
                              hidden_size=hidden, direction=direction, linear_before_reset=1)]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [5, 1, features])]
    inits = []
    for name, value in weights.items():
        if weights_as_inputs and name in ("w", "r"):
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value.shape)))
        else:
            inits.append(_init(name, value))
    graph = helper.make_graph(
        nodes, "gru", inputs,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [5, dirs, 1, hidden]),
         helper.make_tensor_value_info("h", TensorProto.FLOAT, [dirs, 1, hidden])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("direction", ["bidirectional", "reverse"])
def test_gru_directions_the_importer_lacks_are_split_and_match_onnxruntime(tmp_path: Path, direction: str) -> None:
    path = tmp_path / "gru.onnx"
    onnx.save(_gru_model(direction), path)
    notes: list[str] = []
    model = load_onnx(path, notify=notes.append)
    assert "1 bidirectional or reverse GRU(s) split into forward GRUs" in notes[0]
    assert all(onnx.helper.get_attribute_value(a) != b"reverse" for n in model.graph.node for a in n.attribute
               if a.name == "direction")
    module = compile_mlir(import_onnx(model), parse_target("host"))
    x = np.random.default_rng(2).standard_normal((5, 1, 3)).astype(np.float32)
    got = run_module(module, [x])
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


def test_op_form_the_importer_cannot_lower_is_named_with_its_attributes(tmp_path: Path) -> None:
    """A bidirectional GRU whose weights are inputs cannot be split."""
    path = tmp_path / "gru.onnx"
    onnx.save(_gru_model("bidirectional", weights_as_inputs=True), path)
    with pytest.raises(QuantuneError) as info:
        import_onnx(load_onnx(path, notify=None))
    message = str(info.value)
    assert "\n" not in message
    assert "ONNX node 'encoder/gru'" in message
    assert "GRU (direction=bidirectional, hidden_size=4, linear_before_reset=1)" in message


def _conv_bn_model() -> onnx.ModelProto:
    """conv1 -> BN (initializers) -> relu -> conv2 -> BN (Constant nodes) -> y,
    plus conv3 sharing conv1's weight without a BN."""
    rng = np.random.default_rng(4)
    c = 6
    params = {f"{p}{i}": (1.0 + 0.2 * rng.random(c)) if p in ("g", "v") else 0.2 * rng.standard_normal(c)
              for i in (1, 2) for p in ("g", "be", "m", "v")}
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "g1", "be1", "m1", "v1"], ["b1"], name="bn1", epsilon=1e-3),
        helper.make_node("Relu", ["b1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "bias2"], ["c2"], name="conv2"),
        helper.make_node("BatchNormalization", ["c2", "g2", "be2", "m2", "v2"], ["y"], name="bn2"),
        helper.make_node("Conv", ["x", "w1"], ["z"], name="conv3", pads=[1, 1, 1, 1]),
    ]
    for name in ("g2", "be2", "m2", "v2"):
        nodes.insert(0, helper.make_node("Constant", [], [name], name=f"const_{name}",
                                         value=numpy_helper.from_array(params[name].astype(np.float32), name)))
    inits = [_init("w1", rng.standard_normal((c, 3, 3, 3)) * 0.3), _init("w2", rng.standard_normal((c, c, 1, 1)) * 0.3),
             _init("bias2", rng.standard_normal(c) * 0.1)] + [_init(k, v) for k, v in params.items() if k.endswith("1")]
    graph = helper.make_graph(
        nodes, "conv_bn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, c, 8, 8]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, c, 8, 8])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_batch_norms_fold_into_their_convolutions(tmp_path: Path) -> None:
    path = tmp_path / "conv_bn.onnx"
    onnx.save(_conv_bn_model(), path)
    notes: list[str] = []
    model = load_onnx(path, notify=notes.append)
    assert "2 BatchNormalization node(s) folded into the convolution before them" in notes[0]
    assert "BatchNormalization" not in {n.op_type for n in model.graph.node}
    folded = tmp_path / "folded.onnx"
    onnx.save(model, folded)
    x = np.random.default_rng(5).standard_normal((1, 3, 8, 8)).astype(np.float32)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    got = ort.InferenceSession(str(folded), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    for g, w in zip(got, want):  # y through both folds, z through the shared, unchanged weight
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
