"""quantune-instrument and quantune-fake-quantize, compiled with IREE, against numpy.

The model is Conv(3->4, 3x3, pad 1, bias) + Relu + Flatten + Gemm(transB, no
bias) on a 1x3x8x8 input. Every reference below is computed in numpy from
the ONNX initializers: the conv layer's input is the zero-padded x, the gemm
layer's input is the flattened relu output. torch-mlir puts the conv bias in
the conv's init (a broadcast), so the conv layer's output y includes it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import iree.runtime as ireert

from conftest import assert_close
from quantune_mlir.compiler import compile_mlir
from quantune_mlir.importer import import_onnx
from quantune_mlir.onnx_model import load_onnx
from quantune_mlir.opt import run_quantune_opt
from quantune_mlir.runtime import run_module
from quantune_mlir.targets import parse_target

BINS = 16
SEED = 11
# Per-tensor activation qparams (scale, zero point) of each layer, si8.
# The conv scale is chosen so that the largest inputs clamp.
CONV_ZP = -3
FC_ZP = -128


def _weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    return {
        "W1": (rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32),
        "B1": (rng.standard_normal(4) * 0.1).astype(np.float32),
        "W2": (rng.standard_normal((5, 4 * 8 * 8)) * 0.1).astype(np.float32),
    }


def _model_proto(w: dict[str, np.ndarray]) -> onnx.ModelProto:
    nodes = [
        helper.make_node("Conv", ["x", "W1", "B1"], ["c"], name="conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Flatten", ["r"], ["f"], name="flatten", axis=1),
        helper.make_node("Gemm", ["f", "W2"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "conv_relu_gemm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])],
        initializer=[numpy_helper.from_array(v, k) for k, v in w.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> dict:
    w = _weights()
    path = tmp_path_factory.mktemp("instrument") / "conv_relu_gemm.onnx"
    onnx.save(_model_proto(w), path)
    labelled = run_quantune_opt(import_onnx(load_onnx(path)), ["--quantune-label-layers"])
    x = np.random.default_rng(SEED + 1).standard_normal((1, 3, 8, 8)).astype(np.float32)
    return {"weights": w, "labelled": labelled, "x": x}


# --- numpy reference -------------------------------------------------------


def conv2d(xp: np.ndarray, w: np.ndarray) -> np.ndarray:
    """NCHW x FCHW valid convolution, stride 1, in float64."""
    windows = np.lib.stride_tricks.sliding_window_view(xp.astype(np.float64), w.shape[2:], axis=(2, 3))
    return np.einsum("nchwij,fcij->nfhw", windows, w.astype(np.float64))


def pad(x: np.ndarray) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))


def fq_act(x: np.ndarray, scale: float, zp: int, qmin: int = -128, qmax: int = 127) -> np.ndarray:
    """Per-tensor fake quantization in float32, round half to even."""
    s = np.float32(scale)
    q = np.clip(np.round(x.astype(np.float32) / s) + np.float32(zp), qmin, qmax)
    return ((q - np.float32(zp)) * s).astype(np.float32)


def fq_weight(w: np.ndarray, axis: int, bits: int = 8) -> np.ndarray:
    """Symmetric per-channel weight fake quantization along `axis`."""
    w64 = w.astype(np.float64)
    qmax = 2 ** (bits - 1) - 1
    other = tuple(a for a in range(w.ndim) if a != axis)
    max_abs = np.max(np.abs(w64), axis=other, keepdims=True)
    s = np.where(max_abs > 0, max_abs / qmax, 1.0)
    return (np.clip(np.round(w64 / s), -qmax, qmax) * s).astype(np.float32)


def layer_inputs(w: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The conv layer's input (padded x) and the gemm layer's (flattened relu), f32."""
    xp = pad(x)
    relu = np.maximum(conv2d(xp, w["W1"]) + w["B1"][None, :, None, None], 0.0)
    return xp, relu.reshape(1, -1).astype(np.float32)


def qparams(w: dict[str, np.ndarray], x: np.ndarray) -> dict[int, tuple[float, int]]:
    xp, f = layer_inputs(w, x)
    return {0: (0.8 * float(np.max(np.abs(xp))) / 127, CONV_ZP), 1: (float(np.max(f)) / 255, FC_ZP)}


def forward(w: dict[str, np.ndarray], x: np.ndarray, qp: dict[int, tuple[float, int]],
            simulated: set[int] | dict[int, int]) -> np.ndarray:
    """The model's output with the layers in `simulated` fake-quantized (a
    set: 8-bit weights; a dict: layer -> weight bits)."""
    bits = simulated if isinstance(simulated, dict) else {layer: 8 for layer in simulated}
    xp = pad(x)
    w1 = w["W1"]
    if 0 in bits:
        xp, w1 = fq_act(xp, *qp[0]), fq_weight(w1, axis=0, bits=bits[0])
    relu = np.maximum(conv2d(xp, w1) + w["B1"][None, :, None, None], 0.0)
    f = relu.reshape(1, -1).astype(np.float32)
    w2 = w["W2"]
    if 1 in bits:
        f, w2 = fq_act(f, *qp[1]), fq_weight(w2, axis=0, bits=bits[1])
    return f.astype(np.float64) @ w2.T.astype(np.float64)


def histogram(v: np.ndarray, bins: int) -> tuple[np.ndarray, int]:
    """The pass's histogram in float32 and the number of elements within
    float rounding of a bin edge (whose bin a different but equally correct
    evaluation of the input may change)."""
    v = v.astype(np.float32).ravel()
    lo, hi = v.min(), v.max()
    pos = (v - lo) * np.float32(bins) / (hi - lo)
    idx = np.clip(np.floor(pos), 0, bins - 1).astype(np.int64)
    # The first and last edge (min and max themselves) are exact.
    interior = (pos > 0) & (pos < bins)
    near_edge = int(np.sum(interior & (np.abs(pos - np.round(pos)) < 1e-4)))
    return np.bincount(idx, minlength=bins), near_edge


# --- pipeline helpers ------------------------------------------------------


def annotate(text: str, tmp_path: Path, qp: dict[int, tuple[float, int]], precision: str | None = None) -> str:
    layers = []
    for layer_id, (scale, zp) in qp.items():
        entry = {"id": layer_id, "act_qparams": {"storage": "si8", "scale": scale, "zero_point": zp}}
        if precision:
            entry["precision"] = precision
        layers.append(entry)
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps({"version": 1, "layers": layers}))
    return run_quantune_opt(text, [f"--quantune-annotate=file={path}"])


def probe_outputs(text: str) -> list[str]:
    match = re.search(r'quantune\.probe_outputs = \[([^\]]*)\]', text)
    assert match, "no quantune.probe_outputs on the function"
    return re.findall(r'"([^"]*)"', match.group(1))


def compile_module(text: str, tmp_path: Path, name: str) -> Path:
    vmfb = tmp_path / f"{name}.vmfb"
    compile_mlir(run_quantune_opt(text, ["--quantune-strip"]), parse_target("host"), vmfb)
    return vmfb


def run_with_selector(vmfb: Path, x: np.ndarray, selector: int, *extra: np.ndarray) -> np.ndarray | list[np.ndarray]:
    """Runs a switchable module (with ``extra`` trailing arguments). Goes to
    iree.runtime directly because quantune_mlir.runtime passes inputs through
    np.ascontiguousarray, which turns the 0-d selector into shape (1,).
    Returns the only result, or all of them."""
    config = ireert.Config("local-task")
    context = ireert.SystemContext(config=config)
    module = ireert.VmModule.mmap(config.vm_instance, str(vmfb))
    context.add_vm_module(module)
    (name,) = [n for n in module.function_names if not n.startswith("__")]
    result = context.modules[module.name][name](x, np.array(selector, dtype=np.int32), *extra)
    if isinstance(result, (tuple, list)):
        return [np.asarray(r.to_host()) for r in result]
    return np.asarray(result.to_host())


# --- tests -----------------------------------------------------------------


def test_ranges_match_numpy(model: dict, tmp_path: Path) -> None:
    text = run_quantune_opt(model["labelled"], [f"--quantune-instrument=mode=ranges bins={BINS}"])
    names = probe_outputs(text)
    assert names == ["0:min", "0:max", "0:hist", "1:min", "1:max", "1:hist"]
    outputs = run_module(compile_module(text, tmp_path, "ranges"), [model["x"]])
    assert len(outputs) == 1 + len(names)
    stats = dict(zip(names, outputs[1:]))

    # The original result is unchanged.
    assert_close(outputs[0], forward(model["weights"], model["x"], {}, set()), rtol=1e-4)

    xp, f = layer_inputs(model["weights"], model["x"])
    # Conv input: elementwise f32 on the same values, so everything is exact.
    assert stats["0:min"].shape == () and stats["0:min"].dtype == np.float32
    assert stats["0:min"] == xp.min() and stats["0:max"] == xp.max()
    ref, _ = histogram(xp, BINS)
    assert stats["0:hist"].dtype == np.int32
    np.testing.assert_array_equal(stats["0:hist"], ref)
    # Gemm input: the conv runs in a different order than numpy, so compare
    # the range to rounding and let only elements at bin edges move.
    assert stats["1:min"] == 0.0  # relu
    np.testing.assert_allclose(stats["1:max"], f.max(), rtol=1e-5)
    ref, near_edge = histogram(f, BINS)
    assert stats["1:hist"].sum() == f.size
    assert int(np.abs(stats["1:hist"] - ref).sum()) <= 2 * near_edge


def test_local_error_matches_numpy(model: dict, tmp_path: Path) -> None:
    w, x = model["weights"], model["x"]
    qp = qparams(w, x)
    text = annotate(model["labelled"], tmp_path, qp)
    text = run_quantune_opt(text, ["--quantune-instrument=mode=local-error"])
    names = probe_outputs(text)
    assert names == ["0:sum_y2", "0:sum_err2", "0:sum_err", "0:count", "1:sum_y2", "1:sum_err2", "1:sum_err", "1:count"]
    outputs = run_module(compile_module(text, tmp_path, "local_error"), [x])
    stats = dict(zip(names, outputs[1:]))
    assert_close(outputs[0], forward(w, x, {}, set()), rtol=1e-4)

    xp, f = layer_inputs(w, x)
    bias = w["B1"][None, :, None, None]
    y0 = conv2d(xp, w["W1"]) + bias
    y0q = conv2d(fq_act(xp, *qp[0]), fq_weight(w["W1"], axis=0)) + bias
    y1 = f.astype(np.float64) @ w["W2"].T.astype(np.float64)
    y1q = fq_act(f, *qp[1]).astype(np.float64) @ fq_weight(w["W2"], axis=0).T.astype(np.float64)
    for layer, y, yq in ((0, y0, y0q), (1, y1, y1q)):
        sum_y2, sum_err2 = float(np.sum(y**2)), float(np.sum((y - yq) ** 2))
        assert sum_err2 > 0.0
        np.testing.assert_allclose(stats[f"{layer}:sum_y2"], sum_y2, rtol=1e-4)
        np.testing.assert_allclose(stats[f"{layer}:sum_err2"], sum_err2, rtol=1e-4)
        assert stats[f"{layer}:count"].dtype == np.int32
        assert int(stats[f"{layer}:count"]) == y.size
        # sum (y - y') per output channel: the conv's F axis, the gemm's columns.
        channel_axis = 1
        other = tuple(a for a in range(y.ndim) if a != channel_axis)
        per_channel = np.sum(y - yq, axis=other)
        assert stats[f"{layer}:sum_err"].shape == per_channel.shape
        np.testing.assert_allclose(stats[f"{layer}:sum_err"], per_channel, rtol=1e-3,
                                   atol=1e-4 * float(np.max(np.abs(per_channel))))


def test_local_error_per_candidate_matches_numpy(model: dict, tmp_path: Path) -> None:
    """With candidate ranges, each gets its own twin and sums (index suffix)."""
    w, x = model["weights"], model["x"]
    qp = qparams(w, x)
    xp, f = layer_inputs(w, x)
    # Conv input: the default range, a wider and a much narrower one.
    conv_candidates = [qp[0], (qp[0][0] * 1.5, CONV_ZP), (qp[0][0] * 0.25, 0)]
    text = annotate(model["labelled"], tmp_path, qp)
    entry = {"id": 0, "act_qparams_candidates": [
        {"storage": "si8", "scale": s, "zero_point": z} for s, z in conv_candidates]}
    path = tmp_path / "candidates.json"
    path.write_text(json.dumps({"version": 1, "layers": [entry]}))
    text = run_quantune_opt(text, [f"--quantune-annotate=file={path}", "--quantune-instrument=mode=local-error"])
    names = probe_outputs(text)
    assert names[:8] == ["0:sum_y2", "0:sum_err2.0", "0:sum_err.0", "0:sum_err2.1", "0:sum_err.1",
                         "0:sum_err2.2", "0:sum_err.2", "0:count"]
    outputs = run_module(compile_module(text, tmp_path, "candidates"), [x])
    stats = dict(zip(names, outputs[1:]))
    bias = w["B1"][None, :, None, None]
    y = conv2d(xp, w["W1"]) + bias
    errors = []
    for k, (scale, zp) in enumerate(conv_candidates):
        yq = conv2d(fq_act(xp, scale, zp), fq_weight(w["W1"], axis=0)) + bias
        err2 = float(np.sum((y - yq) ** 2))
        errors.append(err2)
        np.testing.assert_allclose(stats[f"0:sum_err2.{k}"], err2, rtol=1e-4)
        np.testing.assert_allclose(stats[f"0:sum_err.{k}"], np.sum(y - yq, axis=(0, 2, 3)), rtol=1e-3,
                                   atol=1e-4 * float(np.max(np.abs(y - yq))) * y[0, 0].size)
    # The candidates really differ: the narrow range clips and is worst.
    assert errors[2] > 2 * max(errors[0], errors[1])


def test_fake_quantize_matches_numpy(model: dict, tmp_path: Path) -> None:
    w, x = model["weights"], model["x"]
    qp = qparams(w, x)
    text = annotate(model["labelled"], tmp_path, qp, precision="i8")
    text = run_quantune_opt(text, ["--quantune-fake-quantize"])
    (actual,) = run_module(compile_module(text, tmp_path, "fake_quant"), [x])
    expected = forward(w, x, qp, {0, 1})
    assert_close(actual, expected, rtol=1e-4)
    # The simulation is visible: it moves the output well beyond rounding.
    assert np.max(np.abs(actual - forward(w, x, {}, set()))) > 1e-3


def test_local_error_w4a8_matches_numpy(model: dict, tmp_path: Path) -> None:
    """i4=true: beside each int8 twin, a w4a8 twin (4-bit weights, the same
    quantized input) with its own sums, suffixed _i4."""
    w, x = model["weights"], model["x"]
    qp = qparams(w, x)
    text = annotate(model["labelled"], tmp_path, qp)
    text = run_quantune_opt(text, ["--quantune-instrument=mode=local-error i4=true"])
    names = probe_outputs(text)
    assert names == [f"{layer}:{stat}" for layer in (0, 1)
                     for stat in ("sum_y2", "sum_err2", "sum_err", "sum_err2_i4", "sum_err_i4", "count")]
    outputs = run_module(compile_module(text, tmp_path, "local_error_i4"), [x])
    stats = dict(zip(names, outputs[1:]))
    assert_close(outputs[0], forward(w, x, {}, set()), rtol=1e-4)

    xp, f = layer_inputs(w, x)
    bias = w["B1"][None, :, None, None]
    y = {0: conv2d(xp, w["W1"]) + bias, 1: f.astype(np.float64) @ w["W2"].T.astype(np.float64)}
    for bits, suffix in ((8, ""), (4, "_i4")):
        twin = {
            0: conv2d(fq_act(xp, *qp[0]), fq_weight(w["W1"], axis=0, bits=bits)) + bias,
            1: fq_act(f, *qp[1]).astype(np.float64) @ fq_weight(w["W2"], axis=0, bits=bits).T.astype(np.float64),
        }
        for layer in (0, 1):
            err = y[layer] - twin[layer]
            np.testing.assert_allclose(stats[f"{layer}:sum_err2{suffix}"], float(np.sum(err**2)), rtol=1e-4)
            per_channel = np.sum(err, axis=tuple(a for a in range(err.ndim) if a != 1))
            np.testing.assert_allclose(stats[f"{layer}:sum_err{suffix}"], per_channel, rtol=1e-3,
                                       atol=1e-4 * float(np.max(np.abs(per_channel))))
    # 4-bit weights are visibly worse than 8-bit ones on both layers.
    for layer in (0, 1):
        assert stats[f"{layer}:sum_err2_i4"] > 4 * stats[f"{layer}:sum_err2"]


def test_fake_quantize_three_tiers_matches_numpy(model: dict, tmp_path: Path) -> None:
    """By precision: the i4 conv gets 4-bit weights, the i8 gemm 8-bit ones."""
    w, x = model["weights"], model["x"]
    qp = qparams(w, x)
    entries = [{"id": layer, "act_qparams": {"storage": "si8", "scale": s, "zero_point": z}, "precision": p}
               for (layer, (s, z)), p in zip(sorted(qp.items()), ("i4", "i8"))]
    path = tmp_path / "tiers.json"
    path.write_text(json.dumps({"version": 1, "layers": entries}))
    text = run_quantune_opt(model["labelled"], [f"--quantune-annotate=file={path}", "--quantune-fake-quantize"])
    (actual,) = run_module(compile_module(text, tmp_path, "fake_quant_tiers"), [x])
    expected = forward(w, x, qp, {0: 4, 1: 8})
    assert_close(actual, expected, rtol=1e-4)
    # Not the all-8-bit simulation: the conv's 4-bit weights move the output.
    assert np.max(np.abs(actual - forward(w, x, qp, {0, 1}))) > 1e-3


def test_switchable_selects_one_layer(model: dict, tmp_path: Path) -> None:
    w, x = model["weights"], model["x"]
    qp = qparams(w, x)
    # No precisions: switchable ignores them.
    text = annotate(model["labelled"], tmp_path, qp)
    text = run_quantune_opt(text, ["--quantune-fake-quantize=switchable=true"])
    assert "function_type = (tensor<1x3x8x8xf32>, tensor<i32>) -> tensor<1x5xf32>" in text
    vmfb = compile_module(text, tmp_path, "switchable")
    fp32 = forward(w, x, {}, set())
    assert_close(run_with_selector(vmfb, x, -1), fp32, rtol=1e-4)
    for layer in (0, 1):
        actual = run_with_selector(vmfb, x, layer)
        assert_close(actual, forward(w, x, qp, {layer}), rtol=1e-4)
        assert np.max(np.abs(actual - fp32)) > 1e-3
    # A selector that names no layer simulates none.
    assert_close(run_with_selector(vmfb, x, 7), fp32, rtol=1e-4)


def test_propagation_estimates_the_output_error_of_each_layer(model: dict, tmp_path: Path) -> None:
    """--propagation's output SQNR per layer against numpy's one-layer sweep
    over the same calibration inputs, with the plan's activation qparams."""
    from quantune_mlir.api import analyze

    w = model["weights"]
    onnx_path = tmp_path / "model.onnx"
    onnx.save(_model_proto(w), onnx_path)
    calib = np.random.default_rng(SEED + 2).standard_normal((24, 3, 8, 8)).astype(np.float32)
    plan = analyze(onnx_path, calib, calib_method="minmax", propagation=True, budget="fp32-count=0").plan
    assert plan.inferences["passes"] == 2
    qp = {layer.id: (layer.act_scale, layer.act_zero_point) for layer in plan.layers}
    reference = [forward(w, x[None], {}, set()) for x in calib]
    signal = sum(float(np.sum(r**2)) for r in reference)
    for layer in plan.layers:
        error = sum(float(np.sum((forward(w, x[None], qp, {layer.id}) - r) ** 2)) for x, r in zip(calib, reference))
        true_sqnr = 10 * np.log10(signal / error)
        # Estimated from half of the inputs (the other half samples the other
        # layer); linear propagation holds up to the ReLU.
        assert abs(layer.output_sqnr - true_sqnr) < 1.0, (layer.name, layer.output_sqnr, true_sqnr)
    # The gemm is the output: its error reaches the output unchanged.
    gemm = plan.layers[1]
    assert gemm.output_sqnr == pytest.approx(gemm.act_sqnr, abs=0.05)
    assert gemm.gain_db == pytest.approx(0.0, abs=0.05)


def test_shadow_feeds_the_chosen_candidate_plus_its_correction(model: dict, tmp_path: Path) -> None:
    """shadow=true: the selected layer passes on the twin of the candidate
    given at run time plus the given per-channel correction; the rest of the
    network is fp32. Against numpy, for each layer and candidate; and the fed
    form's local error, from the sample's sums (ShadowFeed.local_error),
    against numpy's sum (y - fed)^2."""
    from quantune_mlir.propagation import ShadowFeed, shadow_channels
    from quantune_mlir.range_choice import LocalErrors

    w, x = model["weights"], model["x"]
    qp = qparams(w, x)
    candidates = {0: [qp[0], (qp[0][0] * 0.25, 0)], 1: [qp[1], (qp[1][0] * 2.0, FC_ZP)]}
    text = annotate(model["labelled"], tmp_path, qp)
    path = tmp_path / "candidates.json"
    path.write_text(json.dumps({"version": 1, "layers": [
        {"id": lid, "act_qparams_candidates": [{"storage": "si8", "scale": s, "zero_point": z} for s, z in found]}
        for lid, found in candidates.items()]}))
    text = run_quantune_opt(text, [f"--quantune-annotate=file={path}",
                                   "--quantune-instrument=mode=local-error shadow=true"])
    channels = shadow_channels(text)
    assert channels == 5  # the gemm's 5 outputs; the conv has 4 channels
    names = probe_outputs(text)
    vmfb = compile_module(text, tmp_path, "shadow")
    xp, f = layer_inputs(w, x)
    bias = w["B1"][None, :, None, None]
    y_conv = conv2d(xp, w["W1"]) + bias
    rng = np.random.default_rng(SEED + 5)
    for layer in (0, 1):
        for k, (scale, zp) in enumerate(candidates[layer]):
            size = 4 if layer == 0 else 5
            correction = np.zeros(channels, dtype=np.float32)
            correction[:size] = rng.standard_normal(size).astype(np.float32) * 0.05
            c = correction[:size].astype(np.float64)
            if layer == 0:
                twin = conv2d(fq_act(xp, scale, zp), fq_weight(w["W1"], axis=0)) + bias
                fed = twin + c[None, :, None, None]
                y = y_conv
                out = np.maximum(fed, 0.0).reshape(1, -1).astype(np.float32).astype(np.float64) @ w["W2"].T.astype(np.float64)
            else:
                y = f.astype(np.float64) @ w["W2"].T.astype(np.float64)
                twin = fq_act(f, scale, zp).astype(np.float64) @ fq_weight(w["W2"], axis=0).T.astype(np.float64)
                fed = twin + c[None, :]
                out = fed
            results = run_with_selector(vmfb, x, layer, np.array(k, dtype=np.int32), correction)
            assert_close(results[0], out, rtol=1e-4)
            sample = LocalErrors()
            for name, value in zip(names, results[1:]):
                lid, _, stat = name.partition(":")
                if int(lid) == layer:
                    sample.add(stat, value)
            feed = ShadowFeed(k, c, correction)
            expected = float(np.sum((y - fed) ** 2))
            assert feed.local_error(sample) == pytest.approx(expected, rel=1e-3)
            # The correction matters: without it the error is another one.
            assert ShadowFeed(k, None, correction).local_error(sample) != pytest.approx(expected, rel=1e-3)
    # No layer selected: the fp32 model, whatever the candidate and correction.
    results = run_with_selector(vmfb, x, -1, np.array(1, dtype=np.int32), np.ones(channels, dtype=np.float32))
    assert_close(results[0], forward(w, x, {}, set()), rtol=1e-4)


def test_propagation_with_range_choice_and_bias_correction(model: dict, tmp_path: Path) -> None:
    """With per-layer ranges and bias correction, the estimated output SQNR
    of each layer is that of its final form: the chosen range plus the
    plan's correction, against numpy's one-layer sweep of that form. The
    inputs are shifted so that the conv's int8 error has a mean worth
    correcting."""
    from quantune_mlir.api import analyze

    w = dict(model["weights"])
    onnx_path = tmp_path / "model.onnx"
    onnx.save(_model_proto(w), onnx_path)
    calib = (np.random.default_rng(SEED + 3).standard_normal((48, 3, 8, 8)) + 0.5).astype(np.float32)
    plan = analyze(onnx_path, calib, calib_method="auto", bias_correction=True, propagation=True,
                   budget="fp32-count=0").plan
    assert any(layer.bias_correction for layer in plan.layers)

    def final_form(layer_id: int, x: np.ndarray) -> np.ndarray:
        layer = plan.layers[layer_id]
        c = np.asarray(layer.bias_correction or [0.0] * (4 if layer_id == 0 else 5), dtype=np.float64)
        qp = (layer.act_scale, layer.act_zero_point)
        xp = pad(x)
        if layer_id == 0:
            y = conv2d(fq_act(xp, *qp), fq_weight(w["W1"], axis=0)) + w["B1"][None, :, None, None]
            f = np.maximum(y + c[None, :, None, None], 0.0).reshape(1, -1).astype(np.float32)
            return f.astype(np.float64) @ w["W2"].T.astype(np.float64)
        _, f = layer_inputs(w, x)
        return fq_act(f, *qp).astype(np.float64) @ fq_weight(w["W2"], axis=0).T.astype(np.float64) + c[None, :]

    reference = [forward(w, x[None], {}, set()) for x in calib]
    signal = sum(float(np.sum(r**2)) for r in reference)
    for layer in plan.layers:
        error = sum(float(np.sum((final_form(layer.id, x[None]) - r) ** 2)) for x, r in zip(calib, reference))
        true_sqnr = 10 * np.log10(signal / error)
        assert abs(layer.output_sqnr - true_sqnr) < 1.0, (layer.name, layer.output_sqnr, true_sqnr)
