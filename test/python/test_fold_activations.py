"""Activations that do not commute with quantization are folded (issue 10).

A PP-LCNet / MobileNetV3 / EfficientNet-shaped chain: conv -> HardSwish ->
conv -> SiLU (Sigmoid, Mul) -> conv -> Sigmoid -> conv -> GELU (Erf form) ->
Gemm. Between two int8 layers each activation used to force a
dequantize/quantize pair through f32 tensors; now one epilogue dequantizes,
applies the activation in f32 and quantizes.

References: the naive module (a quantize/dequantize pair around every int8
layer, activations in f32 between them) computes the same arithmetic in
separate ops, so the folded module must agree with it to float rounding; and
onnxruntime's fp32 output bounds the int8 error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import onnxruntime_outputs
from quantune_mlir.api import quantize
from quantune_mlir.runtime import run_module

ACTIVATIONS = ("hardswish", "silu", "sigmoid", "gelu")


def activation_chain(seed: int = 5, size: int = 12) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    x, channels = "x", 3
    for i, act in enumerate(ACTIVATIONS):
        w = (rng.standard_normal((8, channels, 3, 3)) * np.sqrt(2 / (channels * 9))).astype(np.float32)
        b = rng.standard_normal(8).astype(np.float32) * 0.1
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes.append(helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"c{i}"], name=f"conv{i}", pads=[1] * 4))
        y = f"a{i}"
        if act == "hardswish":
            nodes.append(helper.make_node("HardSwish", [f"c{i}"], [y], name=f"hswish{i}"))
        elif act == "silu":
            nodes += [helper.make_node("Sigmoid", [f"c{i}"], [f"s{i}"], name=f"sig{i}"),
                      helper.make_node("Mul", [f"c{i}", f"s{i}"], [y], name=f"silu{i}")]
        elif act == "sigmoid":
            nodes.append(helper.make_node("Sigmoid", [f"c{i}"], [y], name=f"sigmoid{i}"))
        else:  # GELU as exporters write it: 0.5 * x * (1 + erf(x / sqrt(2)))
            inits += [numpy_helper.from_array(np.array(np.sqrt(2), np.float32), f"r2_{i}"),
                      numpy_helper.from_array(np.array(1.0, np.float32), f"one{i}"),
                      numpy_helper.from_array(np.array(0.5, np.float32), f"half{i}")]
            nodes += [helper.make_node("Div", [f"c{i}", f"r2_{i}"], [f"g1_{i}"]),
                      helper.make_node("Erf", [f"g1_{i}"], [f"g2_{i}"]),
                      helper.make_node("Add", [f"g2_{i}", f"one{i}"], [f"g3_{i}"]),
                      helper.make_node("Mul", [f"c{i}", f"g3_{i}"], [f"g4_{i}"]),
                      helper.make_node("Mul", [f"g4_{i}", f"half{i}"], [y], name=f"gelu{i}")]
        x, channels = y, 8
    inits += [numpy_helper.from_array(np.array([1, -1], np.int64), "flat"),
              numpy_helper.from_array(rng.standard_normal((8 * size * size, 10)).astype(np.float32) * 0.02, "fc_w"),
              numpy_helper.from_array(np.zeros(10, np.float32), "fc_b")]
    nodes += [helper.make_node("Reshape", [x, "flat"], ["flat_x"]),
              helper.make_node("Gemm", ["flat_x", "fc_w", "fc_b"], ["y"], name="fc")]
    graph = helper.make_graph(nodes, "activations", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("activations")
    model = root / "act.onnx"
    onnx.save(activation_chain(), model)
    rng = np.random.default_rng(0)
    calib = rng.standard_normal((16, 1, 3, 12, 12)).astype(np.float32)
    out = {"model": model, "x": rng.standard_normal((4, 1, 3, 12, 12)).astype(np.float32)}
    for fold in (True, False):
        out[fold] = quantize(model, root / f"fold{fold}.vmfb", calib=calib, precision="int8", fold=fold)
    return out


def test_every_activation_between_int8_layers_is_folded(built: dict) -> None:
    folded, naive = built[True], built[False]
    assert folded.int8_layers == naive.int8_layers == 5, folded.fallbacks
    # conv0 -> conv1 -> conv2 -> conv3 -> fc: four pairs, one per activation
    # (the Reshape before the Gemm commutes).
    assert folded.folded_pairs == 4
    assert naive.folded_pairs == 0
    final = folded.details.lowered.text
    for op in ("math.exp", "math.erf"):
        assert op in final  # the activations are still computed, in the epilogues


def test_folded_activations_compute_what_the_naive_form_computes(built: dict) -> None:
    fp32 = onnxruntime_outputs(built["model"], [built["x"][0]])[0]
    scale = float(np.max(np.abs(fp32)))
    for sample in built["x"]:
        folded = run_module(built[True].module_path, [sample])[0]
        naive = run_module(built[False].module_path, [sample])[0]
        reference = onnxruntime_outputs(built["model"], [sample])[0]
        # Same arithmetic in one op instead of three (bit-identical here; the
        # margin allows another CPU's FMA contraction to flip a code).
        assert np.max(np.abs(folded - naive)) <= 0.005 * scale
        # And both are a faithful int8 version of the model (measured: 1.5%).
        assert np.max(np.abs(folded - reference)) <= 0.05 * scale
