"""Three precision tiers: w4a8 (i4) beside int8 and fp32.

Every numeric check compares a compiled module with something the compiler
did not produce: the all-i4 module with onnxruntime on the QDQ model whose
weights are quantized to 4 bits in numpy (``quant_reference``), three-tier
plans with the numpy simulation, and the module file with the 4-bit weights
packed in numpy. The plans come from one ``--int4`` analysis per bundled
model at 16x16.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from quant_reference import build_qdq_model, output_step, quantize_weight, simulate
from quantune_mlir.analysis import AnalysisOptions, run_analysis
from quantune_mlir.cli import main
from quantune_mlir.compiler import compile_mlir
from quantune_mlir.lowering import lower_plan
from quantune_mlir.models import depthwise_net, residual_cnn
from quantune_mlir.pipeline import weight_bytes
from quantune_mlir.plan import Plan, load_plan
from quantune_mlir.replan import random_plan, replan
from quantune_mlir.runtime import ModuleRunner
from quantune_mlir.targets import parse_target

ort = pytest.importorskip("onnxruntime")

SIZE = 16
SHAPE = (1, 3, SIZE, SIZE)
BUILDERS = {"residual_cnn": residual_cnn, "depthwise_net": depthwise_net}
NAMES = sorted(BUILDERS)
# A hand-made three-tier plan per model (by layer order).
TIERS = {
    "residual_cnn": ("i4", "i8", "i4", "f32", "i4"),
    "depthwise_net": ("i4", "f32", "i4", "i8"),
}


@dataclasses.dataclass
class Analysed:
    path: Path
    proto: onnx.ModelProto
    plan: Plan
    labelled: str


@pytest.fixture(scope="module")
def inputs() -> list[np.ndarray]:
    return [np.random.default_rng(seed).standard_normal(SHAPE).astype(np.float32) for seed in (200, 201)]


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Analysed]:
    """One --int4 analysis (default budget) per model, on 16 seeded inputs."""
    root = tmp_path_factory.mktemp("int4")
    calib = np.random.default_rng(4321).standard_normal((16, *SHAPE[1:])).astype(np.float32)
    out = {}
    for name, build in BUILDERS.items():
        proto = build(seed=7, size=SIZE)
        path = root / f"{name}.onnx"
        onnx.save(proto, path)
        analysis = run_analysis(path, calib, AnalysisOptions(int4=True, budget="weight-fraction=0.15"))
        out[name] = Analysed(path, proto, analysis.plan, analysis.labelled)
    return out


def compiled(model: Analysed, plan: Plan, precision: str = "plan") -> tuple[ModuleRunner, bytes, str]:
    lowered = lower_plan(model.labelled, plan, precision=precision)  # type: ignore[arg-type]
    assert not lowered.fallbacks, lowered.fallbacks
    vmfb = compile_mlir(lowered.text, parse_target("host"), recipe=True, extra_flags=lowered.compile_flags)
    return ModuleRunner(vmfb, "local-task"), vmfb, lowered.text


def steps(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.max(np.abs(actual.astype(np.float64) - expected))) / output_step(expected)


def reference(plan: Plan, precisions: list[str]) -> dict:
    """The plan as quant_reference reads it, with ``precisions`` per layer."""
    return {"layers": [
        {"name": l.name, "precision": p, "act_scale": l.act_scale, "act_zero_point": l.act_zero_point,
         "bias_correction": l.bias_correction, "i4": dataclasses.asdict(l.i4) if l.i4 else None}
        for l, p in zip(plan.layers, precisions, strict=True)
    ]}


# --------------------------------------------------------------------------
# The analysis measures both integer forms
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_analysis_measures_the_w4a8_form_of_every_layer(analysed: dict[str, Analysed], name: str) -> None:
    plan = analysed[name].plan
    assert plan.budget == "weight-fraction=0.15" and plan.has_int4
    for layer in plan.layers:
        tier = layer.i4
        assert tier is not None and tier.act_scale is not None and tier.act_zero_point is not None
        # 4 bits lose about 6 dB per bit against 8 on the same weights.
        assert layer.weight_sqnr - tier.weight_sqnr > 15.0, (layer.name, layer.weight_sqnr, tier.weight_sqnr)
        assert tier.act_sqnr < layer.act_sqnr
        assert tier.output_sqnr is not None and tier.output_sqnr < layer.output_sqnr
    # One ranking cut twice under the budget: the bytes fit, and the i4
    # layers are the least sensitive ones.
    fp32, quantized = weight_bytes(plan)
    assert quantized <= 0.15 * fp32
    i4 = [l.sensitivity for l in plan.layers if l.precision == "i4"]
    higher = [l.sensitivity for l in plan.layers if l.precision in ("i8", "f32")]
    assert i4 and (not higher or max(i4) <= min(higher))


def test_plan_round_trips_with_its_w4a8_tier(analysed: dict[str, Analysed], tmp_path: Path) -> None:
    plan = analysed["residual_cnn"].plan
    plan.save(tmp_path / "plan.json")
    loaded = load_plan(tmp_path / "plan.json")
    assert [dataclasses.asdict(l) for l in loaded.layers] == [dataclasses.asdict(l) for l in plan.layers]


@pytest.mark.parametrize("name", NAMES)
def test_replan_cuts_three_tiers_within_each_budget(analysed: dict[str, Analysed], name: str) -> None:
    model = analysed[name]
    fp32, _ = weight_bytes(model.plan)
    previous_i4 = len(model.plan.layers) + 1
    for fraction in (0.13, 0.2, 0.25, 0.5, 1.0):
        plan = replan(model.plan, model.labelled, f"weight-fraction={fraction}")
        _, quantized = weight_bytes(plan)
        assert quantized <= fraction * fp32 + 1
        assert plan.int4_layers <= previous_i4  # more bytes never mean more 4-bit layers
        previous_i4 = plan.int4_layers
    assert previous_i4 == 0  # at 0.25x and beyond, nothing needs 4 bits
    control = random_plan(model.plan, model.labelled, "weight-fraction=0.2", seed=3)
    assert weight_bytes(control)[1] <= 0.2 * fp32 + 1 and control.int4_layers > 0


# --------------------------------------------------------------------------
# Compiled modules against the references
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_all_int4_matches_qdq_onnxruntime(analysed: dict[str, Analysed], inputs, name: str) -> None:
    model = analysed[name]
    runner, _, _ = compiled(model, model.plan, "int4")
    ref = reference(model.plan, ["i4"] * len(model.plan.layers))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(build_qdq_model(model.proto, ref).SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    fp32 = ort.InferenceSession(model.proto.SerializeToString(), providers=["CPUExecutionProvider"])
    for x in inputs:
        (actual,) = runner(x)
        (expected,) = session.run(None, {"x": x})
        assert steps(actual, expected) <= 1.0, f"{name}: {steps(actual, expected):.3f} output steps"
        # The 4-bit weights are really used: far from the fp32 output.
        (float_out,) = fp32.run(None, {"x": x})
        assert steps(actual, float_out) > 2.0


@pytest.mark.parametrize("name", NAMES)
def test_three_tier_plan_matches_simulate(analysed: dict[str, Analysed], inputs, name: str) -> None:
    model = analysed[name]
    plan = copy.deepcopy(model.plan)
    plan.layers = [dataclasses.replace(l, precision=p) for l, p in zip(plan.layers, TIERS[name], strict=True)]
    runner, _, _ = compiled(model, plan)
    ref = reference(plan, list(TIERS[name]))
    for x in inputs:
        (actual,) = runner(x)
        error = steps(actual, simulate(model.proto, ref, x))
        assert error <= 1.0, f"{name} {TIERS[name]}: {error:.3f} output steps"


def test_module_stores_4_bit_weights(analysed: dict[str, Analysed]) -> None:
    """The i4 weights are in the module file packed two per byte (low nibble
    first), as numpy packs them; their 8-bit form is not."""
    model = analysed["residual_cnn"]
    _, vmfb, text = compiled(model, model.plan, "int4")
    inits = {t.name: numpy_helper.to_array(t) for t in model.proto.graph.initializer}
    weights = {node.name: inits[node.input[1]] for node in model.proto.graph.node if node.op_type == "Conv"}
    packed_layers = 0
    for layer_name, w in weights.items():
        q, _ = quantize_weight(w, axis=0, bits=4)
        flat = q.ravel()
        packed = ((flat[0::2].astype(np.uint8) & 0xF) | ((flat[1::2].astype(np.uint8) & 0xF) << 4)).tobytes()
        assert packed in vmfb, f"{layer_name}: packed 4-bit weights not in the module"
        assert flat.tobytes() not in vmfb, f"{layer_name}: the 8-bit form is in the module too"
        packed_layers += 1
    assert packed_layers == 4  # stem, block_conv1, block_conv2, down
    assert "xi4>" not in text  # no i4 type reaches IREE


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

def test_cli_int4_plan_and_errors(analysed: dict[str, Analysed], tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    model = analysed["depthwise_net"]
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(5).standard_normal((8, *SHAPE[1:])).astype(np.float32))
    out = tmp_path / "m.vmfb"
    assert main(["quantize", str(model.path), "--calib", str(calib), "--int4", "-o", str(out),
                 "--save-plan", str(tmp_path / "plan.json")]) == 0
    captured = capsys.readouterr()
    assert "SQNR_a4" in captured.out and "i4 (w4a8)" in captured.out
    assert "budget weight-fraction=0.15" in captured.out
    assert out.is_file() and load_plan(tmp_path / "plan.json").has_int4

    # Three tiers need a weight budget.
    assert main(["analyze", str(model.path), "--calib", str(calib), "--int4", "--budget", "fp32-fraction=0.1",
                 "-o", str(tmp_path / "p2.json")]) == 2
    assert "three tiers are cut under a weight budget" in capsys.readouterr().err
    # --precision int4 with a plan that measured no w4a8 form.
    plain = dataclasses.replace(model.plan, layers=[dataclasses.replace(l, i4=None, precision="f32")
                                                    for l in model.plan.layers])
    plain.save(tmp_path / "plain.json")
    assert main(["quantize", str(model.path), "--plan", str(tmp_path / "plain.json"), "--precision", "int4",
                 "-o", str(tmp_path / "m2.vmfb")]) == 2
    assert "make the plan with --int4" in capsys.readouterr().err
    assert not (tmp_path / "m2.vmfb").exists() and not (tmp_path / "p2.json").exists()


def test_sweep_ranks_three_tiers_by_the_w4a8_output_error(analysed: dict[str, Analysed]) -> None:
    """--method sweep --int4: each layer's w4a8 form (its own range and
    correction, 4-bit weights) is measured at the model output, one pass per
    layer, and the three-tier cut ranks by that."""
    model = analysed["depthwise_net"]
    calib = np.random.default_rng(4321).standard_normal((8, *SHAPE[1:])).astype(np.float32)
    plan = run_analysis(model.path, calib, AnalysisOptions(method="sweep", int4=True,
                                                             budget="weight-fraction=0.2")).plan
    n = len(plan.layers)
    assert plan.inferences["passes"] == 2 + n and plan.has_int4
    assert "4-bit weights" in plan.metric_meaning["act_sqnr"]
    swept = {l.id: l.i4.act_sqnr for l in plan.layers}
    assert all(v is not None for v in swept.values())
    # One ranking: a lower w4a8 output SQNR is more sensitive.
    by_sensitivity = sorted(plan.layers, key=lambda l: (-l.sensitivity, l.id))
    by_sqnr = sorted(plan.layers, key=lambda l: (swept[l.id], l.id))
    assert [l.id for l in by_sensitivity] == [l.id for l in by_sqnr]
    fp32, quantized = weight_bytes(plan)
    assert quantized <= 0.2 * fp32 and plan.int4_layers > 0
