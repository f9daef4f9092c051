"""Per-layer range choice and bias correction, end to end, against onnxruntime fp32.

A small depthwise network is built so that each remedy has something to fix:

- the input has rare wide values, so its min-max range spends most of the
  int8 levels on them and a clipped range (percentile or mse) has a lower
  error;
- the depthwise filters have one large tap and small ones that all round
  the same way at the channel's scale, on inputs with a positive mean
  (after ReLU): the rounding leaves a systematic shift per channel that
  bias correction removes.

Each module is compared with onnxruntime's fp32 output on held-out inputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import onnxruntime_outputs
from quantune_mlir.api import quantize
from quantune_mlir.plan import load_plan
from quantune_mlir.runtime import run_module

C = 16


def _model(path: Path) -> None:
    rng = np.random.default_rng(3)
    w1 = (rng.standard_normal((C, 4, 1, 1)) * 0.5).astype(np.float32)
    b1 = (np.abs(rng.standard_normal(C)) * 0.5).astype(np.float32)
    # One large tap per channel sets the scale (1/127); the 24 small ones are
    # about 1.45 steps each and all round down to 1 step: a shift of about
    # -0.09 x the mean input per channel.
    dw = (rng.uniform(0.0112, 0.0116, (C, 1, 5, 5))).astype(np.float32)
    dw[:, 0, 2, 2] = 1.0
    w3 = (rng.standard_normal((8, C, 1, 1)) * 0.3).astype(np.float32)
    inits = {"w1": w1, "b1": b1, "dw": dw, "w3": w3}
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="pw1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "dw"], ["c2"], name="dw", group=C, pads=[2, 2, 2, 2]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("Conv", ["r2", "w3"], ["y"], name="pw2"),
    ]
    graph = helper.make_graph(
        nodes, "recipes", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 12, 12])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 12, 12])],
        initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def _inputs(count: int, seed: int) -> np.ndarray:
    """Mostly N(0, 1), and one value in 5,000 from N(0, 15^2): the largest
    values lie far beyond where almost all of them are."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((count, 1, 4, 12, 12))
    wide = rng.random(x.shape) < 2e-4
    x[wide] *= 15.0
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("recipes")
    model = root / "model.onnx"
    _model(model)
    calib = _inputs(64, seed=10)[:, 0]
    held_out = _inputs(16, seed=11)
    reference = np.stack([onnxruntime_outputs(model, [x])[0] for x in held_out])
    return {"root": root, "model": model, "calib": calib, "x": held_out, "reference": reference}


def _build(setup: dict, calib_method: str, bias_correction: bool) -> tuple[np.ndarray, object]:
    name = f"{calib_method}-{int(bias_correction)}"
    module = setup["root"] / f"{name}.vmfb"
    plan_path = setup["root"] / f"{name}.json"
    quantize(setup["model"], module, calib=setup["calib"], precision="int8", calib_method=calib_method,
             bias_correction=bias_correction, save_plan=plan_path)
    outputs = np.stack([run_module(module, [x])[0] for x in setup["x"]])
    return outputs, load_plan(plan_path)


def _sqnr(outputs: np.ndarray, reference: np.ndarray) -> float:
    err = np.sum((outputs.astype(np.float64) - reference) ** 2)
    return float(10 * np.log10(np.sum(reference.astype(np.float64) ** 2) / err))


def _mean_shift(outputs: np.ndarray, reference: np.ndarray) -> float:
    """The largest per-channel mean error, relative to the output's spread."""
    err = (outputs.astype(np.float64) - reference).mean(axis=(0, 1, 3, 4))
    return float(np.max(np.abs(err)) / np.std(reference))


def _local_error(x: np.ndarray, w: np.ndarray, scale: float, zero_point: int) -> float:
    """sum (y - y')^2 of the 1x1 conv `pw1` over inputs x, int8 input and weights (numpy, float64)."""
    q = np.clip(np.round(x / np.float32(scale)) + zero_point, -128, 127)
    xq = (q - zero_point) * np.float32(scale)
    s = np.max(np.abs(w), axis=(1, 2, 3), keepdims=True) / 127
    wq = np.clip(np.round(w / s), -127, 127) * s
    y = np.einsum("nchw,fc->nfhw", x.astype(np.float64), w[:, :, 0, 0].astype(np.float64))
    yq = np.einsum("nchw,fc->nfhw", xq.astype(np.float64), wq[:, :, 0, 0].astype(np.float64))
    return float(np.sum((y - yq) ** 2))


def test_auto_keeps_a_clipped_range_with_a_lower_local_error_than_minmax(setup: dict) -> None:
    _, minmax_plan = _build(setup, "minmax", False)
    auto, auto_plan = _build(setup, "auto", False)
    assert {layer.act_range for layer in minmax_plan.layers} == {"minmax"}
    assert auto_plan.calibration["method"] == "auto" and auto_plan.inferences["passes"] == 2
    # For the model input's layer, numpy computes the local error of both
    # choices exactly: the clipped range auto kept is better than min-max.
    chosen = next(layer for layer in auto_plan.layers if layer.name == "pw1")
    plain = next(layer for layer in minmax_plan.layers if layer.name == "pw1")
    assert chosen.act_range in ("percentile 99.99", "mse")
    assert chosen.act_scale < plain.act_scale
    w = onnx.numpy_helper.to_array(next(i for i in onnx.load(setup["model"]).graph.initializer if i.name == "w1"))
    x = setup["calib"]
    assert _local_error(x, w, chosen.act_scale, chosen.act_zero_point) < _local_error(
        x, w, plain.act_scale, plain.act_zero_point)
    # The module runs and follows fp32 (a lower local error need not mean a
    # better output: the choice is local, as QuantuneV2's metrics are).
    assert _sqnr(auto, setup["reference"]) > 15.0


def test_bias_correction_removes_the_mean_shift(setup: dict) -> None:
    plain, _ = _build(setup, "minmax", False)
    corrected, plan = _build(setup, "minmax", True)
    dw = next(layer for layer in plan.layers if layer.name == "dw")
    assert dw.bias_correction is not None and len(dw.bias_correction) == C
    reference = setup["reference"]
    assert _mean_shift(corrected, reference) < 0.5 * _mean_shift(plain, reference)
    assert _sqnr(corrected, reference) > _sqnr(plain, reference) + 0.5
