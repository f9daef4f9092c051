"""quant_reference (the numpy simulator and the QDQ builder) against onnxruntime.

The checks are independent: onnxruntime runs the original model (fp32 plans)
or the QDQ model (int8 and mixed plans), quant_reference.simulate interprets
the fp32 graph in float64. Activation qparams come from min-max ranges that
this file measures itself with onnxruntime.
"""

from __future__ import annotations

import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from quant_reference import (
    build_qdq_model,
    output_step,
    plan_layers,
    quantize_weight,
    simulate,
)
from quantune_mlir.models import depthwise_net, residual_cnn
from quantune_mlir.plan import LayerPlan, Plan

ort = pytest.importorskip("onnxruntime")

OPSET = 17
SHAPE = (2, 3, 16, 16)


# --------------------------------------------------------------------------
# Test models
# --------------------------------------------------------------------------

class _Builder:
    """Collects seeded float32 initializers while a model is written."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.inits: list[TensorProto] = []

    def weight(self, name: str, shape: tuple[int, ...], scale: float | None = None) -> str:
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
        std = scale if scale is not None else np.sqrt(2.0 / fan_in)
        return self.const(name, self.rng.standard_normal(shape) * std)

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def model(self, nodes: list, name: str, out_shape: list, opset: int = OPSET) -> onnx.ModelProto:
        graph = helper.make_graph(
            nodes, name,
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
            self.inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        return model


def residual_net(seed: int = 1) -> onnx.ModelProto:
    """Residual block (the stem output feeds a conv *and* the skip Add),
    grouped, depthwise and strided/padded convs, BatchNorm, Clip, MaxPool,
    a Gemm head (transB=1) and a MatMul with a constant [K, N] weight."""
    b = _Builder(seed)
    conv3 = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}
    zero, six = b.const("zero", np.array(0.0)), b.const("six", np.array(6.0))
    nodes = [
        helper.make_node("Conv", ["x", b.weight("stem.w", (8, 3, 3, 3)), b.weight("stem.b", (8,), 0.1)], ["s"],
                         name="stem", **conv3),
        helper.make_node("Relu", ["s"], ["s_relu"], name="stem_relu"),
        helper.make_node("Conv", ["s_relu", b.weight("c1.w", (8, 8, 3, 3)), b.weight("c1.b", (8,), 0.1)], ["c1"],
                         name="block_conv1", **conv3),
        helper.make_node("Relu", ["c1"], ["c1_relu"], name="block_relu1"),
        helper.make_node("Conv", ["c1_relu", b.weight("c2.w", (8, 8, 3, 3))], ["c2"], name="block_conv2", **conv3),
        helper.make_node("Add", ["c2", "s_relu"], ["res"], name="block_add"),
        helper.make_node("Relu", ["res"], ["res_relu"], name="block_relu2"),
        helper.make_node("Conv", ["res_relu", b.weight("g.w", (8, 4, 3, 3)), b.weight("g.b", (8,), 0.1)], ["g"],
                         name="grouped", group=2, **conv3),
        helper.make_node("Relu", ["g"], ["g_relu"], name="grouped_relu"),
        helper.make_node("Conv", ["g_relu", b.weight("dw.w", (8, 1, 3, 3)), b.weight("dw.b", (8,), 0.1)], ["dw"],
                         name="depthwise", group=8, **conv3),
        helper.make_node("BatchNormalization", [
            "dw", b.const("bn.scale", 1 + 0.2 * b.rng.standard_normal(8)), b.weight("bn.bias", (8,), 0.1),
            b.weight("bn.mean", (8,), 0.1), b.const("bn.var", 0.5 + b.rng.random(8)),
        ], ["bn"], name="bn", epsilon=1e-3),
        helper.make_node("Clip", ["bn", zero, six], ["bn6"], name="relu6"),
        helper.make_node("Conv", ["bn6", b.weight("sp.w", (16, 8, 3, 3)), b.weight("sp.b", (16,), 0.1)], ["sp"],
                         name="strided", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 2]),
        helper.make_node("Relu", ["sp"], ["sp_relu"], name="strided_relu"),
        helper.make_node("MaxPool", ["sp_relu"], ["pool"], name="pool", kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 1, 1, 1]),
        helper.make_node("GlobalAveragePool", ["pool"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", b.weight("fc.w", (12, 16)), b.weight("fc.b", (12,), 0.1)], ["h"],
                         name="fc", transB=1),
        helper.make_node("Relu", ["h"], ["h_relu"], name="fc_relu"),
        helper.make_node("MatMul", ["h_relu", b.weight("mm.w", (12, 10), 0.3)], ["mm"], name="proj"),
        helper.make_node("Add", ["mm", b.weight("mm.b", (10,), 0.1)], ["y"], name="proj_bias"),
    ]
    return b.model(nodes, "residual_net", ["N", 10])


def branch_net(seed: int = 2, opset: int = OPSET) -> onnx.ModelProto:
    """Two convs reading the input, Concat, Mul, AveragePool, Identity, an
    asymmetrically padded strided conv, Reshape and a Gemm with transB=0."""
    b = _Builder(seed)
    nodes = [
        helper.make_node("Conv", ["x", b.weight("a.w", (4, 3, 1, 1)), b.weight("a.b", (4,), 0.1)], ["a"],
                         name="branch_a", kernel_shape=[1, 1]),
        helper.make_node("Conv", ["x", b.weight("b.w", (4, 3, 3, 3))], ["b"], name="branch_b",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Concat", ["a", "b"], ["cat"], name="concat", axis=1),
        helper.make_node("Mul", ["cat", b.const("gain", 0.5 + b.rng.random((1, 8, 1, 1)))], ["scaled"], name="gain"),
        helper.make_node("AveragePool", ["scaled"], ["avg"], name="avgpool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Identity", ["avg"], ["avg_id"], name="identity"),
        helper.make_node("Conv", ["avg_id", b.weight("c.w", (8, 8, 3, 3)), b.weight("c.b", (8,), 0.1)], ["c"],
                         name="conv_c", kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1]),
        helper.make_node("Relu", ["c"], ["c_relu"], name="relu_c"),
        helper.make_node("Reshape", ["c_relu", "shape"], ["flat"], name="reshape"),
        helper.make_node("Gemm", ["flat", b.weight("head.w", (128, 10)), b.weight("head.b", (10,), 0.1)], ["y"],
                         name="head"),
    ]
    b.inits.append(numpy_helper.from_array(np.array([0, -1], np.int64), "shape"))
    return b.model(nodes, "branch_net", ["N", 10], opset=opset)


MODELS = {"residual_net": residual_net, "branch_net": branch_net}


# --------------------------------------------------------------------------
# onnxruntime helpers, calibration and plans
# --------------------------------------------------------------------------

def ort_run(model: onnx.ModelProto, x: np.ndarray, optimize: bool = False, outputs: list[str] | None = None):
    """Runs the model; optimizations off by default (required for QDQ models)."""
    options = ort.SessionOptions()
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    result = session.run(outputs, {session.get_inputs()[0].name: x})
    return result if outputs else result[0]


def layer_nodes(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    return [n for n in model.graph.node if n.op_type in ("Conv", "Gemm", "MatMul")]


def input_ranges(model: onnx.ModelProto, x: np.ndarray) -> dict[str, tuple[float, float]]:
    """Layer name -> (min, max) of its input activation, measured by onnxruntime."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    tensors = sorted({n.input[0] for n in layer_nodes(model)} - {i.name for i in model.graph.input})
    probe.graph.output.extend(helper.make_tensor_value_info(t, TensorProto.FLOAT, None) for t in tensors)
    ranges: dict[str, tuple[float, float]] = {}
    for sample in x:  # one sample at a time: some models have a fixed batch of 1
        values = dict(zip(tensors, ort_run(probe, sample[None], outputs=tensors)))
        values.update({i.name: sample[None] for i in model.graph.input})
        for n in layer_nodes(model):
            v = values[n.input[0]]
            lo, hi = ranges.get(n.name, (np.inf, -np.inf))
            ranges[n.name] = (min(lo, float(v.min())), max(hi, float(v.max())))
    return ranges


def minmax_qparams(lo: float, hi: float) -> tuple[float, int]:
    """Signed int8 asymmetric qparams of [lo, hi] widened to include 0."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = (hi - lo) / 255.0 if hi > lo else 1.0
    return scale, int(np.clip(np.rint(-128 - lo / scale), -128, 127))


def make_plan(model: onnx.ModelProto, calib: np.ndarray, int8: set[str] | None) -> dict:
    """A plan dict like plan.json; ``int8=None`` makes every layer i8."""
    ranges = input_ranges(model, calib)
    layers = []
    for k, node in enumerate(layer_nodes(model)):
        scale, zp = minmax_qparams(*ranges[node.name])
        i8 = int8 is None or node.name in int8
        layers.append({"id": k, "name": node.name, "kind": node.op_type.lower(), "params": None, "macs": None,
                       "precision": "i8" if i8 else "f32", "act_scale": scale, "act_zero_point": zp})
    return {"version": 1, "layers": layers}


def seeded(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def max_err(actual: np.ndarray, expected: np.ndarray) -> float:
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    return float(np.max(np.abs(actual.astype(np.float64) - expected.astype(np.float64))))


def assert_within_output_range(actual: np.ndarray, expected: np.ndarray, fraction: float = 1e-3) -> None:
    """max |actual - expected| <= fraction * (range of expected, 0 included)."""
    tol = fraction * 255 * output_step(expected)
    err = max_err(actual, expected)
    assert err <= tol, f"max error {err:.3e} > {tol:.3e} ({fraction:g} of the output range)"


def mixed_sets(model: onnx.ModelProto) -> dict[str, set[str]]:
    names = [n.name for n in layer_nodes(model)]
    return {"even": set(names[0::2]), "odd": set(names[1::2]), "first": {names[0]}, "last": {names[-1]}}


@pytest.fixture(scope="module", params=sorted(MODELS))
def model(request: pytest.FixtureRequest) -> onnx.ModelProto:
    return MODELS[request.param]()


CALIB = seeded((8, 3, 16, 16), 10)
X = seeded(SHAPE, 11)


# --------------------------------------------------------------------------
# Numeric agreement with onnxruntime
# --------------------------------------------------------------------------

def test_fp32_plan_matches_onnxruntime(model: onnx.ModelProto) -> None:
    plan = make_plan(model, CALIB, int8=set())
    expected = ort_run(model, X, optimize=True)
    err = max_err(simulate(model, plan, X), expected) / float(np.max(np.abs(expected)))
    assert err <= 1e-4, f"relative error {err:.3e}"


def test_int8_plan_matches_qdq_model(model: onnx.ModelProto) -> None:
    plan = make_plan(model, CALIB, int8=None)
    assert_within_output_range(simulate(model, plan, X), ort_run(build_qdq_model(model, plan), X))


@pytest.mark.parametrize("mix", ["even", "odd", "first", "last"])
def test_mixed_plan_matches_qdq_model(model: onnx.ModelProto, mix: str) -> None:
    plan = make_plan(model, CALIB, int8=mixed_sets(model)[mix])
    assert_within_output_range(simulate(model, plan, X), ort_run(build_qdq_model(model, plan), X))


def test_quantization_error_exceeds_the_tolerance(model: onnx.ModelProto) -> None:
    """The int8 check is not vacuous: int8 vs fp32 differs by more than its tolerance."""
    plan = make_plan(model, CALIB, int8=None)
    fp32, int8 = ort_run(model, X), simulate(model, plan, X)
    assert max_err(int8, fp32) > 1e-3 * 255 * output_step(fp32)


def test_fp32_plan_qdq_model_is_the_original(model: onnx.ModelProto) -> None:
    plan = make_plan(model, CALIB, int8=set())
    qdq = build_qdq_model(model, plan)
    assert [n.op_type for n in qdq.graph.node] == [n.op_type for n in model.graph.node]
    np.testing.assert_array_equal(ort_run(qdq, X), ort_run(model, X))


@pytest.mark.parametrize("build", [residual_cnn, depthwise_net], ids=["residual_cnn", "depthwise_net"])
def test_project_models_at_64x64(build) -> None:
    """The project's bundled nets at 3x64x64: agreement, and simulate stays fast."""
    model = build(seed=3, size=64)
    calib, x = seeded((4, 3, 64, 64), 20), seeded((1, 3, 64, 64), 21)
    fp32_plan, int8_plan = make_plan(model, calib, int8=set()), make_plan(model, calib, int8=None)
    expected = ort_run(model, x, optimize=True)
    assert max_err(simulate(model, fp32_plan, x), expected) <= 1e-4 * float(np.max(np.abs(expected)))
    start = time.perf_counter()
    y = simulate(model, int8_plan, x)
    assert time.perf_counter() - start < 10.0
    assert_within_output_range(y, ort_run(build_qdq_model(model, int8_plan), x))


# --------------------------------------------------------------------------
# Structure of the QDQ model
# --------------------------------------------------------------------------

def _producer(model: onnx.ModelProto, tensor: str) -> onnx.NodeProto:
    return next(n for n in model.graph.node if tensor in n.output)


def _node(model: onnx.ModelProto, name: str) -> onnx.NodeProto:
    return next(n for n in model.graph.node if n.name == name)


def test_quantized_input_feeds_every_consumer() -> None:
    """Like quantize_static: the skip Add reads the same dequantized stem output as block_conv1."""
    model = residual_net()
    qdq = build_qdq_model(model, make_plan(model, CALIB, int8={"block_conv1"}))
    conv_in, add_in = _node(qdq, "block_conv1").input[0], _node(qdq, "block_add").input[1]
    assert conv_in == add_in
    dq = _producer(qdq, conv_in)
    assert dq.op_type == "DequantizeLinear"
    assert _producer(qdq, dq.input[0]).op_type == "QuantizeLinear"
    assert _producer(qdq, dq.input[0]).input[0] == "s_relu"
    onnx.checker.check_model(qdq, full_check=True)


def test_shared_input_changes_the_skip_branch() -> None:
    """simulate quantizes the skip branch too: it matches the QDQ model and is
    far from a variant whose Add reads the float stem output."""
    model = residual_net()
    plan = make_plan(model, CALIB, int8={"block_conv1"})
    plan["layers"][1]["act_scale"] *= 8  # a coarse grid makes the skip branch's share obvious
    qdq = build_qdq_model(model, plan)
    float_skip = onnx.ModelProto()
    float_skip.CopyFrom(qdq)
    _node(float_skip, "block_add").input[1] = "s_relu"
    y = simulate(model, plan, X)
    expected, other = ort_run(qdq, X), ort_run(float_skip, X)
    assert_within_output_range(y, expected)
    assert max_err(y, other) > 2 * 1e-3 * 255 * output_step(expected)


def test_conflicting_qparams_quantize_per_layer() -> None:
    """Two i8 layers reading x with different qparams each get their own Q/DQ."""
    model = branch_net()
    plan = make_plan(model, CALIB, int8={"branch_a", "branch_b"})
    plan["layers"][1]["act_scale"] *= 1.5
    qdq = build_qdq_model(model, plan)
    quantizers = [n for n in qdq.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "x"]
    assert len(quantizers) == 2
    assert _node(qdq, "branch_a").input[0] != _node(qdq, "branch_b").input[0]
    assert_within_output_range(simulate(model, plan, X), ort_run(qdq, X))


@pytest.mark.parametrize("layer,axis", [("stem", 0), ("grouped", 0), ("depthwise", 0), ("fc", 0), ("proj", 1)])
def test_weight_dequantize_axis_and_scales(layer: str, axis: int) -> None:
    model = residual_net()
    qdq = build_qdq_model(model, make_plan(model, CALIB, int8={layer}))
    node = _node(qdq, layer)
    dq = _producer(qdq, node.input[1])
    assert dq.op_type == "DequantizeLinear"
    assert helper.get_attribute_value(next(a for a in dq.attribute if a.name == "axis")) == axis
    inits = {t.name: numpy_helper.to_array(t) for t in qdq.graph.initializer}
    w = numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == _node(model, layer).input[1]))
    q, scale, zp = inits[dq.input[0]], inits[dq.input[1]], inits[dq.input[2]]
    other = tuple(a for a in range(w.ndim) if a != axis)
    np.testing.assert_allclose(scale, np.abs(w).max(axis=other) / 127, rtol=1e-6)
    assert q.dtype == np.int8 and zp.dtype == np.int8 and not zp.any()
    assert np.abs(q).max() == 127 and q.min() >= -127
    shape = [1] * w.ndim
    shape[axis] = -1
    assert np.max(np.abs(q * scale.reshape(shape) - w)) <= 0.5 * scale.max() * (1 + 1e-6)


def test_gemm_transb0_axis() -> None:
    model = branch_net()
    qdq = build_qdq_model(model, make_plan(model, CALIB, int8={"head"}))
    dq = _producer(qdq, _node(qdq, "head").input[1])
    assert helper.get_attribute_value(next(a for a in dq.attribute if a.name == "axis")) == 1


def test_bias_is_rounded_to_the_accumulator_grid() -> None:
    model = residual_net()
    plan = make_plan(model, CALIB, int8={"stem"})
    s_x = float(np.float32(plan_layers(plan)["stem"]["act_scale"]))
    qdq = build_qdq_model(model, plan)
    node = _node(qdq, "stem")
    inits = {t.name: numpy_helper.to_array(t) for t in qdq.graph.initializer}
    w_scale = inits[_producer(qdq, node.input[1]).input[1]].astype(np.float64)
    ratio = inits[node.input[2]] / (s_x * w_scale)
    np.testing.assert_allclose(ratio, np.rint(ratio), atol=1e-3)
    original = numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == "stem.b"))
    assert not np.array_equal(inits[node.input[2]], original)
    kept = build_qdq_model(model, plan, quantize_bias=False)
    assert _node(kept, "stem").input[2] == "stem.b"
    assert_within_output_range(simulate(model, plan, X, quantize_bias=False), ort_run(kept, X))


def test_opset_below_13_is_converted() -> None:
    model = branch_net(opset=11)
    plan = make_plan(model, CALIB, int8=None)
    qdq = build_qdq_model(model, plan)
    assert next(o.version for o in qdq.opset_import if o.domain in ("", "ai.onnx")) >= 13
    assert_within_output_range(simulate(model, plan, X), ort_run(qdq, X))


# --------------------------------------------------------------------------
# Small pieces
# --------------------------------------------------------------------------

def test_plan_layers_accepts_dict_and_plan_object() -> None:
    model = residual_net()
    plan = make_plan(model, CALIB, int8={"stem", "fc"})
    layers = [LayerPlan(**entry) for entry in plan["layers"]]
    plan_obj = Plan(model="m.onnx", method="quantunev2", budget="fp32-count=1", ratio=[1.0] * 4, calibration={},
                    inferences={}, phases_seconds={}, layers=layers)
    from_dict, from_obj = plan_layers(plan), plan_layers(plan_obj)
    assert set(from_dict) == {n.name for n in layer_nodes(model)}
    for name, entry in from_dict.items():
        assert {k: from_obj[name][k] for k in entry} == entry
    np.testing.assert_array_equal(simulate(model, plan_obj, X), simulate(model, plan, X))


def test_unsupported_op_is_named() -> None:
    model = residual_net()
    model.graph.node[1].op_type = "Sigmoid"
    with pytest.raises(NotImplementedError, match="Sigmoid"):
        simulate(model, make_plan(residual_net(), CALIB, int8=set()), X)


def test_unknown_i8_layer_is_an_error() -> None:
    plan = {"layers": [{"name": "nope", "precision": "i8", "act_scale": 0.1, "act_zero_point": 0}]}
    with pytest.raises(ValueError, match="nope"):
        simulate(residual_net(), plan, X)


def test_output_step() -> None:
    assert output_step(np.array([-1.0, 2.0])) == pytest.approx(3.0 / 255)
    assert output_step(np.array([1.0, 2.0])) == pytest.approx(2.0 / 255)  # 0 is in the range
    assert output_step(np.array([-3.0, -1.0])) == pytest.approx(3.0 / 255)
    assert output_step(np.zeros(4)) == 1.0


def test_quantize_weight_zero_channel_and_ties() -> None:
    w = np.array([[0.0, 0.0, 0.0], [127.0, 0.5, 1.5], [-63.5, 0.25, 0.75]], np.float32)
    q, scale = quantize_weight(w, axis=0)
    np.testing.assert_array_equal(scale, np.array([1.0, 1.0, 0.5], np.float32))
    # Ties round half to even: 0.5 -> 0, 1.5 -> 2.
    np.testing.assert_array_equal(q, np.array([[0, 0, 0], [127, 0, 2], [-127, 0, 2]], np.int8))
