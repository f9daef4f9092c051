"""quantune analyze against independent numpy/onnxruntime references."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

import quantune_mlir.analysis as analyze_mod
from quantune_mlir.analysis import AnalysisOptions, analyze
from quantune_mlir.cli import main
from quantune_mlir.errors import QuantuneError
from quantune_mlir.plan import load_plan

RNG = np.random.default_rng(42)
W_CONV = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.4
B_CONV = RNG.standard_normal(4).astype(np.float32) * 0.1
W_FC = RNG.standard_normal((3, 4)).astype(np.float32)
B_FC = RNG.standard_normal(3).astype(np.float32) * 0.1


def _small_model(with_intermediates: bool = False, softmax: bool = False) -> onnx.ModelProto:
    nodes = [
        helper.make_node("Conv", ["x", "wc", "bc"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], name="fc", transB=1),
    ]
    initializers = [(W_CONV, "wc"), (B_CONV, "bc"), (W_FC, "wf"), (B_FC, "bf")]
    if softmax:  # confident: a softmax of 8x the logits
        nodes[-1].output[0] = "logits"
        nodes.append(helper.make_node("Mul", ["logits", "t"], ["scaled"], name="temperature"))
        nodes.append(helper.make_node("Softmax", ["scaled"], ["y"], name="softmax", axis=-1))
        initializers.append((np.array(8.0, dtype=np.float32), "t"))
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])]
    if with_intermediates:
        outputs += [
            helper.make_tensor_value_info("c", TensorProto.FLOAT, [1, 4, 8, 8]),
            helper.make_tensor_value_info("f", TensorProto.FLOAT, [1, 4]),
        ]
    graph = helper.make_graph(
        nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])], outputs,
        [numpy_helper.from_array(a, n) for a, n in initializers],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("analyze")
    onnx.save(_small_model(), root / "small.onnx")
    calib = np.random.default_rng(7).standard_normal((12, 3, 8, 8)).astype(np.float32)
    np.save(root / "calib.npy", calib)
    return {"root": root, "model": root / "small.onnx", "calib": calib}


def _qparams(lo: float, hi: float) -> tuple[float, int]:
    """Signed int8 asymmetric, range widened to contain 0 (docs/analysis.md)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = (hi - lo) / 255.0
    return scale, int(np.clip(np.round(-128 - lo / scale), -128, 127))


def _fq_act(x: np.ndarray, scale: float, zp: int) -> np.ndarray:
    q = np.clip(np.round(x.astype(np.float64) / scale) + zp, -128, 127)
    return ((q - zp) * scale).astype(np.float32)


def _fq_weight(w: np.ndarray, axis: int) -> np.ndarray:
    red = tuple(i for i in range(w.ndim) if i != axis)
    s = np.max(np.abs(w.astype(np.float64)), axis=red, keepdims=True) / 127.0
    return (np.clip(np.round(w / s), -127, 127) * s).astype(np.float32)


def _single_node(op: str, inputs: dict[str, np.ndarray], attrs: dict, out_shape: list[int]) -> np.ndarray:
    names = list(inputs)
    graph = helper.make_graph(
        [helper.make_node(op, names, ["out"], **attrs)], "one",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(a.shape)) for n, a in inputs.items()],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, out_shape)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)[0]


# The paper's recipe: min-max ranges, no bias correction, local ranking (the
# defaults add per-layer ranges, bias correction and propagation, tested in
# test_calibration_recipes.py and test_instrument_numeric.py).
PLAIN = dict(calib_method="minmax", bias_correction=False, propagation=False)


def test_quantunev2_metrics_match_numpy_reference(setup: dict) -> None:
    plan = analyze(setup["model"], setup["calib"], AnalysisOptions(budget="fp32-count=0", **PLAIN))
    conv, fc = plan.layers
    assert (conv.name, conv.kind, fc.name, fc.kind) == ("conv", "conv2d", "fc", "matmul")
    assert (conv.params, conv.macs, fc.params, fc.macs) == (108, 4 * 64 * 27, 12, 12)

    # Layer inputs from onnxruntime: x itself for conv, the flattened GAP for fc.
    session = onnxruntime.InferenceSession(_small_model(True).SerializeToString(), providers=["CPUExecutionProvider"])
    xs = [x[None] for x in setup["calib"]]
    fs = [session.run(["f"], {"x": x})[0] for x in xs]

    # Activation qparams: min-max over the calibration set.
    for layer, acts in ((conv, xs), (fc, fs)):
        scale, zp = _qparams(min(a.min() for a in acts), max(a.max() for a in acts))
        assert layer.act_scale == pytest.approx(scale, rel=1e-6)
        assert layer.act_zero_point == zp

    # Weight metrics: symmetric per-output-channel int8.
    for layer, w, axis in ((conv, W_CONV, 0), (fc, W_FC, 0)):
        err = np.sum((w.astype(np.float64) - _fq_weight(w, axis)) ** 2)
        sig = np.sum(w.astype(np.float64) ** 2)
        assert layer.weight_mse == pytest.approx(err / sig, rel=1e-5)
        assert layer.weight_sqnr == pytest.approx(10 * np.log10(sig / err), rel=1e-5)

    # Local activation error: y = op(x, W) vs y' = op(Q(x), Q(W)), same input.
    def conv_op(x, w):
        return _single_node("Conv", {"x": x, "w": w, "b": B_CONV}, {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}, [1, 4, 8, 8])

    def fc_op(f, w):
        return _single_node("Gemm", {"f": f, "w": w, "b": B_FC}, {"transB": 1}, [1, 3])

    for layer, acts, op, w in ((conv, xs, conv_op, W_CONV), (fc, fs, fc_op, W_FC)):
        sig = err = 0.0
        wq = _fq_weight(w, 0)
        for a in acts:
            y = op(a, w).astype(np.float64)
            yq = op(_fq_act(a, layer.act_scale, layer.act_zero_point), wq)
            sig += np.sum(y**2)
            err += np.sum((y - yq) ** 2)
        assert layer.act_mse == pytest.approx(err / sig, rel=2e-3)
        assert layer.act_sqnr == pytest.approx(10 * np.log10(sig / err), abs=0.01)


def test_quantunev2_runs_the_model_exactly_twice(setup: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = analyze_mod.ModuleRunner.__call__

    def counting(self, *inputs):
        calls.append(self.function)
        return original(self, *inputs)

    monkeypatch.setattr(analyze_mod.ModuleRunner, "__call__", counting)
    plan = analyze(setup["model"], setup["calib"])
    n = len(setup["calib"])
    assert len(calls) == 2 * n
    assert plan.inferences == {"passes": 2, "model_runs": 2 * n}
    assert set(plan.phases_seconds) >= {"import", "weight_metrics", "inference_1", "inference_2", "assign"}

    calls.clear()
    sweep = analyze(setup["model"], setup["calib"], AnalysisOptions(method="sweep", **PLAIN))
    assert len(calls) == (1 + 2) * n
    assert sweep.inferences["passes"] == 3
    # With the default recipe the sweep first runs inference 2 for the
    # ranges and corrections it simulates: one more pass.
    calls.clear()
    sweep = analyze(setup["model"], setup["calib"], AnalysisOptions(method="sweep"))
    assert len(calls) == (2 + 2) * n
    assert sweep.inferences["passes"] == 4


def test_sweep_measures_output_degradation(setup: dict) -> None:
    """The sweep's metric for a layer is the model output error with only
    that layer fake-quantized, checked with onnxruntime."""
    plan = analyze(setup["model"], setup["calib"], AnalysisOptions(method="sweep", budget="fp32-count=1", **PLAIN))
    conv = plan.layers[0]
    base = onnxruntime.InferenceSession(_small_model().SerializeToString(), providers=["CPUExecutionProvider"])
    quant = _small_model()
    for init in quant.graph.initializer:
        if init.name == "wc":
            init.CopyFrom(numpy_helper.from_array(_fq_weight(W_CONV, 0), "wc"))
    qsession = onnxruntime.InferenceSession(quant.SerializeToString(), providers=["CPUExecutionProvider"])
    sig = err = 0.0
    for x in setup["calib"]:
        y = base.run(None, {"x": x[None]})[0].astype(np.float64)
        yq = qsession.run(None, {"x": _fq_act(x[None], conv.act_scale, conv.act_zero_point)})[0]
        sig += np.sum(y**2)
        err += np.sum((y - yq) ** 2)
    assert conv.act_mse == pytest.approx(err / sig, rel=2e-3)
    assert sum(layer.precision == "f32" for layer in plan.layers) == 1


@pytest.mark.parametrize("mode", ["auto", "outputs"])
def test_sweep_compares_a_softmax_as_logits(setup: dict, tmp_path: Path, mode: str) -> None:
    """A model ending in a softmax: by default the sweep compares its outputs
    as logits (onnxruntime's pre-softmax values, centred per row), with
    ``outputs`` as the probabilities themselves (8x the logits, so the two
    spaces give errors far apart)."""
    path = tmp_path / "softmax.onnx"
    onnx.save(_small_model(softmax=True), path)
    plan = analyze(path, setup["calib"], AnalysisOptions(method="sweep", budget="fp32-count=1", output_error=mode,
                                                         **PLAIN))
    conv = plan.layers[0]
    logits = _small_model()  # the same network without the softmax: its output is the logits
    quant = _small_model()
    for init in quant.graph.initializer:
        if init.name == "wc":
            init.CopyFrom(numpy_helper.from_array(_fq_weight(W_CONV, 0), "wc"))
    base = onnxruntime.InferenceSession(logits.SerializeToString(), providers=["CPUExecutionProvider"])
    qsession = onnxruntime.InferenceSession(quant.SerializeToString(), providers=["CPUExecutionProvider"])

    def space(z: np.ndarray) -> np.ndarray:
        z = 8.0 * z.astype(np.float64)
        if mode == "auto":
            return z - z.mean(axis=-1, keepdims=True)
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    sig = err = 0.0
    for x in setup["calib"]:
        y = space(base.run(None, {"x": x[None]})[0])
        yq = space(qsession.run(None, {"x": _fq_act(x[None], conv.act_scale, conv.act_zero_point)})[0])
        sig += np.sum(y**2)
        err += np.sum((y - yq) ** 2)
    assert conv.act_mse == pytest.approx(err / sig, rel=5e-3)
    assert ("log-probabilities of output 0" in plan.metric_meaning["act_sqnr"]) == (mode == "auto")


def test_table_says_a_softmax_was_compared_as_logits(setup: dict, tmp_path: Path, capsys) -> None:
    path = tmp_path / "softmax.onnx"
    onnx.save(_small_model(softmax=True), path)
    for mode, expected in (("auto", True), ("outputs", False)):
        code = main(["analyze", str(path), "--calib", str(setup["root"] / "calib.npy"), "-o",
                     str(tmp_path / f"{mode}.json"), "--output-error", mode])
        out = capsys.readouterr().out
        assert code == 0
        assert ("SQNR_out: estimated SQNR of the model output with only this layer int8 (--propagation), on the "
                "logits of its final softmax (--output-error auto)" in out) is expected
        assert "SQNR_out: estimated SQNR" in out


@pytest.mark.parametrize(
    "budget,expected_f32",
    [("fp32-count=0", 0), ("fp32-count=2", 2), ("fp32-fraction=1", 2), ("int8-mac-share=1", 0)],
)
def test_budgets(setup: dict, budget: str, expected_f32: int) -> None:
    plan = analyze(setup["model"], setup["calib"], AnalysisOptions(budget=budget))
    assert sum(layer.precision == "f32" for layer in plan.layers) == expected_f32


def test_weight_budget_that_nothing_fits_is_an_error(setup: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    # Refused right after labelling, before any inference (nothing is compiled).
    def no_compile(*args: object, **kwargs: object) -> None:
        raise AssertionError("the budget should be refused before compiling anything")

    monkeypatch.setattr("quantune_mlir.analysis.compile_mlir", no_compile)
    with pytest.raises(QuantuneError, match="allows 100 weight bytes, below the smallest possible size, 120 bytes "
                                            r"with every quantizable layer in i8 \(0.250 of the fp32 weights\)"):
        analyze(setup["model"], setup["calib"], AnalysisOptions(budget="weight-bytes=100"))
    with pytest.raises(QuantuneError, match="allows 48 weight bytes, below the smallest possible size, 60 bytes "
                                            "with every quantizable layer in i4"):
        analyze(setup["model"], setup["calib"], AnalysisOptions(budget="weight-fraction=0.1", int4=True))


def test_plans_are_deterministic(setup: dict) -> None:
    a = analyze(setup["model"], setup["calib"], AnalysisOptions(budget="fp32-count=1"))
    b = analyze(setup["model"], setup["calib"], AnalysisOptions(budget="fp32-count=1"))
    strip = lambda plan: [(l.id, l.precision, l.sensitivity, l.act_sqnr) for l in plan.layers]  # noqa: E731
    assert strip(a) == strip(b)


def test_cli_writes_plan_and_table(setup: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, mlir = tmp_path / "plan.json", tmp_path / "annotated.mlir"
    code = main(["analyze", str(setup["model"]), "--calib", str(setup["root"] / "calib.npy"), "-o", str(out),
                 "--emit-mlir", str(mlir), "--calib-method", "percentile", "--percentile", "99.9"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    plan = load_plan(out)
    assert json.loads(out.read_text())["version"] == 1
    assert plan.calibration["method"] == "percentile" and plan.calibration["samples"] == 12
    for column in ("SQNR_w", "SQNR_a", "MSE_w", "MSE_a", "sens", "prec"):
        assert column in captured.out
    assert "conv" in captured.out and "fc" in captured.out
    assert "quantune.precision" in mlir.read_text()


@pytest.mark.parametrize(
    "make,needle",
    [
        (lambda d: np.save(d / "c.npy", np.zeros((0, 3, 8, 8), np.float32)), "empty"),
        (lambda d: np.save(d / "c.npy", np.zeros((4, 3, 9, 9), np.float32)), "shape"),
        (lambda d: np.save(d / "c.npy", np.full((4, 3, 8, 8), np.nan, np.float32)), "NaN"),
    ],
)
def test_cli_bad_calibration_sets(setup: dict, tmp_path: Path, capsys, make, needle: str) -> None:
    make(tmp_path)
    out = tmp_path / "plan.json"
    code = main(["analyze", str(setup["model"]), "--calib", str(tmp_path / "c.npy"), "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("quantune: error: ") and needle in err[-1]
    assert "c.npy" in err[-1]
    assert not out.exists()


def test_cli_auto_ranges_bias_correction_and_propagation(setup: dict, tmp_path: Path, capsys) -> None:
    out = tmp_path / "plan.json"
    code = main(["analyze", str(setup["model"]), "--calib", str(setup["root"] / "calib.npy"), "-o", str(out),
                 "--calib-method", "auto", "--bias-correction", "--propagation"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    plan = load_plan(out)
    assert plan.calibration["method"] == "auto" and plan.calibration["bias_correction"] is True
    assert plan.inferences["passes"] == 2
    for layer in plan.layers:
        assert layer.act_range in ("minmax", "percentile 99.99", "mse")
        assert layer.output_sqnr is not None
        assert layer.bias_correction is not None and len(layer.bias_correction) == {"conv": 4, "fc": 3}[layer.name]
    for column in ("range", "SQNR_out", "+bc"):
        assert column in captured.out
    # 12 inputs for 2 layers: each layer is sampled, no note about an average gain,
    # but 6 inputs per layer are fewer than the 16 below which the ranking is noisy.
    assert "average gain" not in captured.err
    assert ("note: --propagation measures each layer's gain on about 6 of the 12 inputs; with fewer than 16 per "
            "layer the ranking is noisy (32 inputs or more rank better)") in captured.err


def test_cli_propagation_is_refused_with_the_sweep(setup: dict, tmp_path: Path, capsys) -> None:
    code = main(["analyze", str(setup["model"]), "--calib", str(setup["root"] / "calib.npy"),
                 "-o", str(tmp_path / "p.json"), "--method", "sweep", "--propagation"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1] == ("quantune: error: --propagation applies to --method quantunev2: the sweep measures every "
                       "layer at the model output already")
    assert not (tmp_path / "p.json").exists()


@pytest.mark.parametrize("ratio", ["1,1,1", "a,b,c,d", "-1,1,1,1", "0,0,0,0"])
def test_cli_bad_ratio(setup: dict, tmp_path: Path, capsys, ratio: str) -> None:
    code = main(["analyze", str(setup["model"]), "--calib", str(setup["root"] / "calib.npy"),
                 "-o", str(tmp_path / "p.json"), f"--ratio={ratio}"])
    assert code == 2
    assert "bad --ratio" in capsys.readouterr().err


def test_layer_without_constant_weight_stays_fp32(tmp_path: Path, capsys) -> None:
    """x @ x^T has no constant weight: reported, kept f32, left out of the budget."""
    rng = np.random.default_rng(3)
    graph = helper.make_graph(
        [
            helper.make_node("Transpose", ["x"], ["xt"], name="transpose", perm=[1, 0]),
            helper.make_node("MatMul", ["x", "xt"], ["gram"], name="gram"),
            helper.make_node("Gemm", ["gram", "w", "b"], ["y"], name="head", transB=1),
        ],
        "gram", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 2])],
        [numpy_helper.from_array(rng.standard_normal((2, 4)).astype(np.float32), "w"),
         numpy_helper.from_array(np.zeros(2, np.float32), "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "gram.onnx")
    np.save(tmp_path / "calib.npy", rng.standard_normal((6, 4, 8)).astype(np.float32))
    code = main(["analyze", str(tmp_path / "gram.onnx"), "--calib", str(tmp_path / "calib.npy"),
                 "-o", str(tmp_path / "plan.json"), "--budget", "fp32-count=0"])
    out = capsys.readouterr().out
    assert code == 0
    gram, head = load_plan(tmp_path / "plan.json").layers
    assert (gram.name, gram.precision) == ("gram", "f32")
    assert "not a constant" in gram.reason and gram.sensitivity is None
    assert (head.name, head.precision, head.reason) == ("head", "i8", None)
    assert "* layer 0 stays f32: weight is not a constant" in out
