"""The quantune stage (lowering.py, quantize.py) against independent references.

Every numeric check compares a compiled module with something the compiler
did not produce:

* fp32 plans: onnxruntime on the original fp32 model;
* all-int8 plans: onnxruntime on ``quant_reference.build_qdq_model`` (QDQ
  form, graph optimizations off);
* mixed plans: ``quant_reference.simulate`` (numpy, float64).

Quantized results must agree within one output quantization step
(``quant_reference.output_step`` of the reference output). The models are
the bundled ones at 16x16; the plans come from one analysis per model
(residual_cnn in process, depthwise_net through ``quantune quantize
--save-plan``) and are varied by editing layer precisions. Compiled modules
are cached per (model, plan, precision, fold, target) for the whole file.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from quant_reference import build_qdq_model, output_step, simulate
from vulkan_probe import vulkan_unavailable
from quantune_mlir.analysis import analyze
from quantune_mlir.cli import main
from quantune_mlir.compiler import compile_mlir
from quantune_mlir.importer import import_onnx
from quantune_mlir.lowering import LoweredModule, lower_plan
from quantune_mlir.models import depthwise_net, residual_cnn
from quantune_mlir.onnx_model import load_onnx
from quantune_mlir.opt import run_quantune_opt
from quantune_mlir.plan import Plan, load_plan
from quantune_mlir.pipeline import weight_bytes
from quantune_mlir.runtime import ModuleRunner
from quantune_mlir.targets import parse_target

ort = pytest.importorskip("onnxruntime")

SIZE = 16
SHAPE = (1, 3, SIZE, SIZE)
BUILDERS = {"residual_cnn": residual_cnn, "depthwise_net": depthwise_net}
NAMES = sorted(BUILDERS)
INPUT_SEEDS = (100, 101, 102)

# The hand-made mixed plan: every other layer in i8, starting with the
# second. In residual_cnn that makes block_conv1 (whose input also feeds the
# skip Add) and down i8; in depthwise_net the depthwise conv and the head.
ALTERNATING = {
    "residual_cnn": ("f32", "i8", "f32", "i8", "f32"),
    "depthwise_net": ("f32", "i8", "f32", "i8"),
}

# Pairs quantune-fold-requantize should remove in the all-int8 form, from
# the model structure: residual_cnn folds stem->block_conv1 (through ReLU and
# pad), block_conv1->block_conv2 and (block_conv2 + skip)->down (through the
# Add, ReLU, max pool and pad); down->fc is blocked by the global average
# pool. depthwise_net folds stem->dwconv and dwconv->pwconv through the
# ReLU6 (Clip) and pad; pwconv->head is blocked by the global average pool.
EXPECTED_FOLDS = {"residual_cnn": 3, "depthwise_net": 2}

# IREE 3.13's SPIR-V code for int8 is wrong or hangs on lavapipe (i8 buffer
# accesses, docs/lowering.md "Known problems"). Vulkan targets lower with
# vulkan-safe=true: every planned-i8 layer stays f32 with a reason, and the
# modules below must match the references exactly like the host's do (these
# were strict xfails before).


# --------------------------------------------------------------------------
# Shared artifacts
# --------------------------------------------------------------------------

@dataclasses.dataclass
class Model:
    name: str
    path: Path
    proto: onnx.ModelProto
    labelled: str


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lowering")


@pytest.fixture(scope="module")
def calib() -> np.ndarray:
    """16 seeded calibration inputs, N x 3 x 16 x 16 (batch 1 models)."""
    return np.random.default_rng(1234).standard_normal((16, *SHAPE[1:])).astype(np.float32)


@pytest.fixture(scope="module")
def inputs() -> list[np.ndarray]:
    return [np.random.default_rng(seed).standard_normal(SHAPE).astype(np.float32) for seed in INPUT_SEEDS]


@pytest.fixture(scope="module")
def models(workdir: Path) -> dict[str, Model]:
    out = {}
    for name, build in BUILDERS.items():
        proto = build(seed=7, size=SIZE)
        path = workdir / f"{name}.onnx"
        onnx.save(proto, path)
        labelled = run_quantune_opt(import_onnx(load_onnx(path)), ["--quantune-label-layers"])
        out[name] = Model(name, path, proto, labelled)
    return out


@pytest.fixture(scope="module")
def plans(models: dict[str, Model], calib: np.ndarray, cli_run: "CliRun") -> dict[str, Plan]:
    """One analysis per model (the default quantunev2 method and budget).

    residual_cnn is analysed here, depthwise_net by the ``quantune quantize
    --calib ... --save-plan`` run of section 6 (the same analysis, through
    the CLI), which runs in the background meanwhile.
    """
    out = {"residual_cnn": analyze(models["residual_cnn"].path, calib)}
    assert cli_run.proc.returncode == 0, cli_run.proc.stderr
    out["depthwise_net"] = load_plan(cli_run.plan)
    return out


def plan_variant(plan: Plan, variant: str, name: str) -> Plan:
    if variant == "analysis":
        return plan
    assert variant == "alternating"
    out = copy.deepcopy(plan)
    out.layers = [dataclasses.replace(l, precision=p) for l, p in zip(plan.layers, ALTERNATING[name], strict=True)]
    return out


def reference_plan(plan: Plan, precision: str) -> dict:
    """The plan as quant_reference reads it, with ``precision`` applied here
    (not through lowering.plan_annotations): int8 = every layer i8."""
    chosen = {"int8": lambda l: "i8", "fp32": lambda l: "f32", "plan": lambda l: l.precision}[precision]
    return {"layers": [
        {"name": l.name, "precision": chosen(l), "act_scale": l.act_scale, "act_zero_point": l.act_zero_point,
         "bias_correction": l.bias_correction}
        for l in plan.layers
    ]}


Key = tuple[str, str, str, bool, str]  # model, plan variant, precision, fold, target


def module_keys(vulkan: bool) -> list[Key]:
    """Every module this file runs."""
    keys: list[Key] = []
    for name in NAMES:
        keys += [(name, "analysis", "fp32", True, "host"), (name, "analysis", "int8", True, "host"),
                 (name, "analysis", "int8", False, "host"), (name, "analysis", "plan", True, "host"),
                 (name, "alternating", "plan", True, "host")]
        if vulkan:
            keys += [(name, "analysis", "int8", True, "vulkan"), (name, "analysis", "plan", True, "vulkan"),
                     (name, "alternating", "plan", True, "vulkan")]
    return keys


class Artifacts:
    """Lowered and compiled modules, built once per key for the whole file.

    The first module asked for compiles all of them, two iree-compile runs
    at a time (each is mostly single-threaded on these small models).
    """

    def __init__(self, models: dict[str, Model], plans: dict[str, Plan]) -> None:
        self.models, self.plans = models, plans
        self._lowered: dict[tuple, LoweredModule] = {}
        self._vmfb: dict[Key, bytes] = {}
        self._runners: dict[Key, ModuleRunner] = {}

    def plan(self, name: str, variant: str) -> Plan:
        return plan_variant(self.plans[name], variant, name)

    def lowered(self, name: str, variant: str = "analysis", precision: str = "plan", fold: bool = True,
                keep_stages: bool = False, target: str = "host") -> LoweredModule:
        key = (name, variant, precision, fold, keep_stages, target)
        if key not in self._lowered:
            self._lowered[key] = lower_plan(
                self.models[name].labelled, self.plan(name, variant),
                fold=fold, precision=precision, keep_stages=keep_stages,  # type: ignore[arg-type]
                lowering_options=parse_target(target).lowering_options)
        return self._lowered[key]

    def _compile(self, key: Key) -> bytes:
        name, variant, precision, fold, target = key
        # The fast recipe (im2col, data tiling, microkernels) for the fp32
        # and folded all-int8 modules; the others compile with IREE's
        # defaults, which is about twice as fast here. (The CLI run of
        # section 6 covers a mixed plan with the recipe.)
        recipe = fold and precision != "plan"
        text = self.lowered(name, variant, precision, fold, target=target).text
        return compile_mlir(text, parse_target(target), recipe=recipe)

    def prefetch(self, keys: list[Key]) -> None:
        todo = [k for k in keys if k not in self._vmfb]
        for name, variant, precision, fold, target in todo:
            self.lowered(name, variant, precision, fold, target=target)
        with ThreadPoolExecutor(2) as pool:
            for key, vmfb in zip(todo, pool.map(self._compile, todo)):
                self._vmfb[key] = vmfb

    def runner(self, name: str, variant: str = "analysis", precision: str = "plan", fold: bool = True,
               target: str = "host") -> ModuleRunner:
        key = (name, variant, precision, fold, target)
        if key not in self._runners:
            if key not in self._vmfb:
                wanted = module_keys(vulkan=vulkan_unavailable() is None)
                self.prefetch(wanted if key in wanted else [key])
            self._runners[key] = ModuleRunner(self._vmfb[key], parse_target(target).device)
        return self._runners[key]


@pytest.fixture(scope="module")
def artifacts(models: dict[str, Model], plans: dict[str, Plan]) -> Artifacts:
    return Artifacts(models, plans)


@pytest.fixture(scope="module")
def vulkan_available() -> None:
    reason = vulkan_unavailable()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(params=["host", "vulkan"])
def target(request: pytest.FixtureRequest) -> str:
    if request.param == "vulkan":
        request.getfixturevalue("vulkan_available")
    return request.param


def ort_session(model: onnx.ModelProto, optimize: bool = True):
    options = ort.SessionOptions()
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def error_in_steps(actual: np.ndarray, expected: np.ndarray) -> float:
    """max |actual - expected| in output steps of the reference output."""
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    return float(np.max(np.abs(actual.astype(np.float64) - expected))) / output_step(expected)


def with_fallbacks(plan: Plan, precision: str, lowered: LoweredModule) -> Plan:
    """``plan`` with ``precision`` applied and the layers the lowering kept f32 made f32."""
    out = copy.deepcopy(plan)
    chosen = {"int8": lambda l: "i8", "fp32": lambda l: "f32", "plan": lambda l: l.precision}[precision]
    out.layers = [dataclasses.replace(l, precision="f32" if l.id in lowered.fallbacks else chosen(l))
                  for l in plan.layers]
    return out


def check_target_fallbacks(name: str, target: str, plan: Plan, lowered: LoweredModule, planned_i8: set[str]) -> None:
    """Host: nothing falls back. Vulkan: every planned-i8 layer, with the reason."""
    names = {l.id: l.name for l in plan.layers}
    expected = planned_i8 if target == "vulkan" else set()
    assert {names[i] for i in lowered.fallbacks} == expected
    for reason in lowered.fallbacks.values():
        assert "miscompiled by IREE 3.13's SPIR-V backend" in reason
    if target == "vulkan":
        assert "xi8>" not in lowered.text


# --------------------------------------------------------------------------
# 1. fp32 plans reproduce the fp32 model
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_fp32_plan_matches_onnxruntime(artifacts: Artifacts, models: dict[str, Model], inputs, name: str) -> None:
    lowered = artifacts.lowered(name, precision="fp32")
    assert (lowered.int8_layers, lowered.folded_pairs) == (0, 0)
    assert "xi8>" not in lowered.text and "quantune." not in lowered.text
    runner = artifacts.runner(name, precision="fp32")
    session = ort_session(models[name].proto)
    for x in inputs:
        (actual,) = runner(x)
        (expected,) = session.run(None, {"x": x})
        err = float(np.max(np.abs(actual.astype(np.float64) - expected))) / float(np.max(np.abs(expected)))
        assert err <= 1e-5, f"{name}: relative error {err:.3e} > 1e-5"


# --------------------------------------------------------------------------
# 2. all-int8 (folded) against the QDQ model in onnxruntime
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_int8_matches_qdq_onnxruntime(request, artifacts: Artifacts, models: dict[str, Model], inputs,
                                      name: str, target: str) -> None:
    plan = artifacts.plan(name, "analysis")
    lowered = artifacts.lowered(name, precision="int8", target=target)
    check_target_fallbacks(name, target, plan, lowered, {l.name for l in plan.layers})
    assert lowered.int8_layers == len(plan.layers) - len(lowered.fallbacks)
    reference = reference_plan(with_fallbacks(plan, "int8", lowered), "plan")
    session = ort_session(build_qdq_model(models[name].proto, reference), optimize=False)
    runner = artifacts.runner(name, precision="int8", target=target)
    errors = []
    for x in inputs:
        (actual,) = runner(x)
        (expected,) = session.run(None, {"x": x})
        errors.append(error_in_steps(actual, expected))
    assert max(errors) <= 1.0, f"{name} on {target}: errors in output steps {errors}"


# --------------------------------------------------------------------------
# 3. mixed plans against the numpy simulation
# --------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["analysis", "alternating"])
@pytest.mark.parametrize("name", NAMES)
def test_mixed_plan_matches_simulate(request, artifacts: Artifacts, models: dict[str, Model], inputs,
                                     name: str, variant: str, target: str) -> None:
    plan = artifacts.plan(name, variant)
    precisions = [l.precision for l in plan.layers]
    assert 0 < precisions.count("i8") < len(precisions), f"not a mixed plan: {precisions}"
    lowered = artifacts.lowered(name, variant, target=target)
    check_target_fallbacks(name, target, plan, lowered, {l.name for l in plan.layers if l.precision == "i8"})
    assert lowered.int8_layers == precisions.count("i8") - len(lowered.fallbacks)
    reference = reference_plan(with_fallbacks(plan, "plan", lowered), "plan")
    runner = artifacts.runner(name, variant, target=target)
    errors = []
    for x in inputs:
        (actual,) = runner(x)
        errors.append(error_in_steps(actual, simulate(models[name].proto, reference, x)))
    assert max(errors) <= 1.0, f"{name} {variant} {precisions} on {target}: errors in output steps {errors}"


# --------------------------------------------------------------------------
# 4. naive form vs folded form
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_naive_form_agrees_with_folded(artifacts: Artifacts, inputs, name: str) -> None:
    # Not bit-equal in residual_cnn (about 0.4-0.65 step on inputs 100 and 101):
    # in the naive form the skip Add reads the float stem output, in the
    # folded form the fused Add epilogue reads its int8 form (the folded one
    # is the one that matches the QDQ reference, to 0.001 step).
    naive = artifacts.lowered(name, precision="int8", fold=False)
    assert naive.folded_pairs == 0
    assert naive.int8_layers == artifacts.lowered(name, precision="int8").int8_layers
    folded_runner = artifacts.runner(name, precision="int8")
    naive_runner = artifacts.runner(name, precision="int8", fold=False)
    errors = []
    for x in inputs:
        (folded,) = folded_runner(x)
        (unfolded,) = naive_runner(x)
        errors.append(error_in_steps(unfolded, folded.astype(np.float64)))
    assert max(errors) <= 1.0, f"{name}: naive vs folded, errors in output steps {errors}"


def count_op(text: str, op: str) -> int:
    return len(re.findall(rf'"{re.escape(op)}"\(', text))


@pytest.mark.parametrize("name", NAMES)
def test_stage_ir_quantize_counts(artifacts: Artifacts, name: str) -> None:
    """lowered: one quantune.quantize per int8 layer; folded: one fewer per folded pair."""
    staged = artifacts.lowered(name, precision="int8", keep_stages=True)
    naive = artifacts.lowered(name, precision="int8", fold=False, keep_stages=True)
    assert list(staged.stages) == ["annotated", "lowered", "folded", "expanded", "final"]
    assert list(naive.stages) == ["annotated", "lowered", "expanded", "final"]
    n = staged.int8_layers
    assert count_op(staged.stages["lowered"], "quantune.quantize") == n
    assert count_op(staged.stages["lowered"], "quantune.dequantize") == n
    assert count_op(staged.stages["folded"], "quantune.quantize") == n - staged.folded_pairs
    assert count_op(naive.stages["lowered"], "quantune.quantize") == n
    for stages in (staged.stages, naive.stages):
        assert "quantune." not in stages["final"].replace("quantune.folded_pairs", "")
        assert count_op(stages["expanded"], "quantune.quantize") == 0
    # The default (one quantune-opt run) and the staged path give the same IR.
    assert staged.text == artifacts.lowered(name, precision="int8").text
    assert staged.folded_pairs == artifacts.lowered(name, precision="int8").folded_pairs
    assert naive.text == artifacts.lowered(name, precision="int8", fold=False).text


@pytest.mark.parametrize(
    "name", NAMES)
def test_fold_removes_pairs_between_int8_layers(artifacts: Artifacts, name: str) -> None:
    folded = artifacts.lowered(name, precision="int8")
    assert folded.folded_pairs == EXPECTED_FOLDS[name] > 0
    assert artifacts.lowered(name, precision="int8", fold=False).folded_pairs == 0


# --------------------------------------------------------------------------
# 5. the int8 IR really is integer arithmetic
# --------------------------------------------------------------------------

def op_signatures(text: str, op: str) -> list[tuple[list[str], str]]:
    """(operand element types, result element type) of every ``op`` in generic-form IR."""
    pattern = re.compile(
        rf'"{re.escape(op)}"\(.*?\}}\)(?: \{{[^\n]*?\}})? : \(((?:tensor<[^>]*>(?:, )?)+)\) -> tensor<(?:[0-9?]+x)*(\w+)>',
        re.DOTALL)
    out = []
    for match in pattern.finditer(text):
        operands = [t.rsplit("x", 1)[-1] for t in re.findall(r"tensor<([^>]*)>", match.group(1))]
        out.append((operands, match.group(2)))
    assert len(out) == count_op(text, op), f"could not read the signature of every {op}"
    return out


INT8_CONVS = {"residual_cnn": 4, "depthwise_net": 2}


@pytest.mark.parametrize("name", NAMES)
def test_int8_final_ir_has_integer_convolutions(artifacts: Artifacts, name: str) -> None:
    final = artifacts.lowered(name, precision="int8").text
    convs = op_signatures(final, "linalg.conv_2d_nchw_fchw")
    assert convs == [(["i8", "i8", "i32"], "i32")] * INT8_CONVS[name]
    assert op_signatures(final, "linalg.matmul") == [(["i8", "i8", "i32"], "i32")]
    depthwise = op_signatures(final, "linalg.depthwise_conv_2d_nchw_chw")
    assert depthwise == ([(["i8", "i8", "i32"], "i32")] if name == "depthwise_net" else [])
    # Contrast: the fp32 form has the same convolutions in f32 only.
    fp32 = artifacts.lowered(name, precision="fp32").text
    assert op_signatures(fp32, "linalg.conv_2d_nchw_fchw") == [(["f32", "f32", "f32"], "f32")] * INT8_CONVS[name]


@pytest.mark.parametrize("name", NAMES)
def test_mixed_final_ir_keeps_f32_layers_in_f32(artifacts: Artifacts, name: str) -> None:
    plan = artifacts.plan(name, "alternating")
    final = artifacts.lowered(name, "alternating").text
    kinds = {"conv2d": "linalg.conv_2d_nchw_fchw", "depthwise_conv2d": "linalg.depthwise_conv_2d_nchw_chw",
             "matmul": "linalg.matmul"}
    for kind, op in kinds.items():
        want = sorted("i32" if l.precision == "i8" else "f32" for l in plan.layers if l.kind == kind)
        assert sorted(r for _, r in op_signatures(final, op)) == want, (kind, want)


# --------------------------------------------------------------------------
# 6. quantune quantize on the command line
# --------------------------------------------------------------------------

def quantune_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``quantune quantize ARGS`` in this process (the first run is a real
    subprocess): exit status, stdout, stderr."""
    capsys.readouterr()
    code = main(["quantize", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


class CliRun:
    """``quantune quantize`` on depthwise_net with --calib, --emit-mlir and
    --save-plan, started in the background when created."""

    def __init__(self, root: Path, model: Path, calib: np.ndarray) -> None:
        self.dir, self.model = root, model
        self.calib, self.vmfb = root / "calib.npy", root / "out.vmfb"
        self.stages, self.plan = root / "stages", root / "plan.json"
        np.save(self.calib, calib)
        self._popen = subprocess.Popen(
            [sys.executable, "-m", "quantune_mlir", "quantize", str(model), "--calib", str(self.calib),
             "-o", str(self.vmfb), "--emit-mlir", str(self.stages), "--save-plan", str(self.plan)],
            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._proc: subprocess.CompletedProcess | None = None

    @property
    def proc(self) -> subprocess.CompletedProcess:
        if self._proc is None:
            out, err = self._popen.communicate(timeout=600)
            self._proc = subprocess.CompletedProcess(self._popen.args, self._popen.returncode, out, err)
        return self._proc

    def stop(self) -> None:
        if self._popen.poll() is None:
            self._popen.kill()
            self._popen.communicate()


@pytest.fixture(scope="module")
def cli_run(workdir: Path, models: dict[str, Model], calib: np.ndarray):
    root = workdir / "cli"
    root.mkdir()
    run = CliRun(root, models["depthwise_net"].path, calib)
    yield run
    run.stop()


def test_cli_quantize_writes_a_module_and_every_stage(cli_run: CliRun, models: dict[str, Model], inputs) -> None:
    proc = cli_run.proc
    assert proc.returncode == 0, proc.stderr
    assert "layers in i8" in proc.stdout  # the analysis table
    assert sorted(p.name for p in cli_run.stages.iterdir()) == [
        "0-imported.mlir", "1-annotated.mlir", "2-lowered.mlir", "3-folded.mlir", "4-expanded.mlir", "5-final.mlir"]
    assert all(p.stat().st_size > 0 for p in cli_run.stages.iterdir())
    final = (cli_run.stages / "5-final.mlir").read_text()
    assert "quantune." not in final.replace("quantune.folded_pairs", "")
    plan = load_plan(cli_run.plan)
    n8 = plan.int8_layers
    assert f"wrote {cli_run.vmfb}: {n8}/{len(plan.layers)} layers int8" in proc.stderr
    assert count_op((cli_run.stages / "2-lowered.mlir").read_text(), "quantune.quantize") == n8
    # The module runs, and computes the saved plan (checked against the simulation).
    reference = reference_plan(plan, "plan")
    runner = ModuleRunner(cli_run.vmfb, "local-task")
    errors = [error_in_steps(runner(x)[0], simulate(models["depthwise_net"].proto, reference, x)) for x in inputs]
    assert max(errors) <= 1.0, errors


def test_cli_quantize_reuses_a_plan(cli_run: CliRun, inputs, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_run.proc.returncode == 0, cli_run.proc.stderr
    out, stages = cli_run.dir / "again.vmfb", cli_run.dir / "again-stages"
    code, stdout, stderr = quantune_main(capsys, str(cli_run.model), "--plan", str(cli_run.plan), "-o", str(out),
                                         "--emit-mlir", str(stages))
    assert code == 0, stderr
    assert "inference 1" not in stderr and "importing" not in stderr  # no analysis
    assert stdout == ""  # no analysis table
    # The same plan gives the same IR at every stage (the .vmfb bytes differ
    # from run to run, so the outputs are compared instead).
    for name in ("1-annotated.mlir", "5-final.mlir"):
        assert (stages / name).read_text() == (cli_run.stages / name).read_text(), name
    first, second = ModuleRunner(cli_run.vmfb, "local-task"), ModuleRunner(out, "local-task")
    for x in inputs:
        y1, y2 = first(x)[0], second(x)[0]
        np.testing.assert_allclose(y2, y1, rtol=0, atol=1e-6 * float(np.max(np.abs(y1))))


@pytest.fixture(scope="module")
def other_model_plan(workdir: Path, plans: dict[str, Plan]) -> Path:
    path = workdir / "residual_cnn.plan.json"
    plans["residual_cnn"].save(path)
    return path


@pytest.mark.parametrize("case", ["calib-and-plan", "plan-of-another-model", "no-calib"])
def test_cli_quantize_errors(cli_run: CliRun, other_model_plan: Path, tmp_path: Path, case: str,
                             capsys: pytest.CaptureFixture[str]) -> None:
    out, stages = tmp_path / "out.vmfb", tmp_path / "stages"
    args, needle = {
        "calib-and-plan": (["--calib", str(cli_run.calib), "--plan", str(cli_run.plan)], "not both"),
        "plan-of-another-model": (["--plan", str(other_model_plan)], "does not match"),
        "no-calib": ([], "needs calibration data"),
    }[case]
    code, stdout, stderr = quantune_main(capsys, str(cli_run.model), *args, "-o", str(out), "--emit-mlir", str(stages))
    assert code == 2, stderr
    # Progress lines may come first ("lowering ..." before the plan check).
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("quantune:") or "error:" in line]
    assert len(errors) == 1 and errors[0] == lines[-1], lines
    assert errors[0].startswith("quantune: error: ") and needle in errors[0], errors[0]
    assert "Traceback" not in stderr and stdout == ""
    assert not out.exists() and not stages.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# --------------------------------------------------------------------------
# 7. weight bytes
# --------------------------------------------------------------------------

def layer_weight_sizes(model: onnx.ModelProto) -> dict[str, int]:
    """Element count of each Conv/Gemm node's weight (input 1), from the initializers."""
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    return {n.name: int(inits[n.input[1]].size) for n in model.graph.node if n.op_type in ("Conv", "Gemm")}


HAND_COUNTED = {
    # stem 16*3*3*3, block_conv1/2 16*16*3*3, down 32*16*3*3, fc 10*32
    "residual_cnn": {"stem": 432, "block_conv1": 2304, "block_conv2": 2304, "down": 4608, "fc": 320},
    # stem 16*3*3*3, dwconv 16*1*3*3, pwconv 24*16, head 10*24
    "depthwise_net": {"stem": 432, "dwconv": 144, "pwconv": 384, "head": 240},
}


@pytest.mark.parametrize("name", NAMES)
def test_weight_bytes(artifacts: Artifacts, models: dict[str, Model], name: str) -> None:
    sizes = layer_weight_sizes(models[name].proto)
    assert sizes == HAND_COUNTED[name]
    total = sum(sizes.values())
    for variant in ("analysis", "alternating"):
        plan = artifacts.plan(name, variant)
        assert {l.name: l.params for l in plan.layers} == sizes
        assert weight_bytes(plan, "fp32") == (4 * total, 4 * total)
        fp32, int8 = weight_bytes(plan, "int8")
        assert (fp32, int8) == (4 * total, total) and int8 / fp32 == 0.25
        mixed = sum((1 if l.precision == "i8" else 4) * sizes[l.name] for l in plan.layers)
        assert weight_bytes(plan, "plan") == (4 * total, mixed)


def i8_constant_elements(text: str) -> int:
    """Elements of every i8 tensor constant (the quantized weights) in the IR."""
    shapes = re.findall(r'"arith\.constant"\(\) <\{value = dense<[^>]*> : tensor<([0-9x]+)xi8>\}>', text)
    return sum(int(np.prod([int(d) for d in s.split("x")])) for s in shapes)


@pytest.mark.parametrize("name", NAMES)
def test_int8_weights_are_stored_as_i8(artifacts: Artifacts, name: str) -> None:
    """The module holds one i8 element per weight that weight_bytes counts as 1 byte."""
    for variant, precision in (("analysis", "int8"), ("alternating", "plan"), ("analysis", "fp32")):
        plan = artifacts.plan(name, variant)
        fp32, quantized = weight_bytes(plan, precision)  # type: ignore[arg-type]
        i8_elements = (fp32 - quantized) // 3  # an i8 weight saves 3 of its 4 bytes
        assert i8_constant_elements(artifacts.lowered(name, variant, precision).text) == i8_elements, (variant, precision)


# --------------------------------------------------------------------------
# Vulkan never ships a module known to be wrong
# --------------------------------------------------------------------------

@pytest.mark.parametrize("build", [residual_cnn, depthwise_net])
def test_vulkan_int8_request_at_14x14_gives_a_correct_module(build, tmp_path: Path, vulkan_available) -> None:
    """At 14x14 the input quantize of an int8 module is vectorized by IREE's
    SPIR-V backend and reads wrong addresses (relative error 0.5-0.8 before);
    --precision int8 for Vulkan must give a module that matches onnxruntime,
    with every layer's reason in the result."""
    from quantune_mlir.api import quantize

    model = tmp_path / "m.onnx"
    onnx.save(build(seed=11, size=14), model)
    rng = np.random.default_rng(4)
    calib = rng.standard_normal((4, 1, 3, 14, 14)).astype(np.float32)
    result = quantize(model, tmp_path / "m.vmfb", calib=calib, precision="int8", target="vulkan")
    assert result.int8_layers == 0 and len(result.fallbacks) == len(result.plan.layers)
    assert all("SPIR-V" in reason for reason in result.fallbacks.values())
    runner = ModuleRunner(result.module_path, "vulkan")
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    for x in rng.standard_normal((3, 1, 3, 14, 14)).astype(np.float32):
        (actual,) = runner(x)
        (expected,) = session.run(None, {"x": x})
        assert float(np.max(np.abs(actual - expected))) <= 1e-4 * float(np.max(np.abs(expected)))
