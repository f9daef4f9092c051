"""arm64 modules run under qemu-user and agree with the host (emulation.py).

``scripts/setup.sh`` installs qemu-user, the arm64 C/C++ libraries and IREE's
aarch64 runtime wheel, so these tests do not skip: a missing piece fails
them with the message that names it.

The bundled residual_cnn (16x16) is analysed twice (quantunev2, seeded
calibration data; once with two tiers and once with three, ``int4``); its
fp32, all-int8, mixed (the analysis plan), all-w4a8 and three-tier forms
are each compiled with the fast recipe (im2col, data tiling, microkernels)
for the host and for arm64 (``+neon,+dotprod,+i8mm``, so the int8 layers
run smmla under qemu). The arm64 outputs must match the host's within the
tolerances the host itself is held to against onnxruntime: relative error
1e-4 for fp32 (test_end_to_end.py), one output quantization step for the
integer and mixed modules (test_lowering.py, test_int4.py). The w4a8
layers' 4-bit weights are unpacked to i8 when the module loads, so on arm64
they run the same smmla kernels as int8 layers.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnx
import pytest

from conftest import assert_close
from quant_reference import output_step
from quantune_mlir.analysis import AnalysisOptions, analyze
from quantune_mlir.compiler import compile_mlir
from quantune_mlir.emulation import (
    Arm64Runner,
    arm64_runner_problems,
    executable_architectures,
    find_arm64_runner,
    needs_arm64_emulation,
    require_arm64_runner,
    run_arm64_module,
)
from quantune_mlir.errors import QuantuneError
from quantune_mlir.importer import import_onnx
from quantune_mlir.lowering import lower_plan
from quantune_mlir.models import residual_cnn
from quantune_mlir.onnx_model import load_onnx
from quantune_mlir.opt import run_quantune_opt
from quantune_mlir.plan import Plan
from quantune_mlir.runtime import run_module
from quantune_mlir.targets import parse_target

SHAPE = (1, 3, 16, 16)
INPUT_SEEDS = (100, 101)
# Module forms: name -> (analysis, lower_plan precision); "plan" is the
# analysis' own plan (mixed i8/f32, or three tiers for the int4 analysis).
FORMS = {"fp32": ("two", "fp32"), "int8": ("two", "int8"), "mixed": ("two", "plan"),
         "int4": ("three", "int4"), "tiers": ("three", "plan")}

TWO_RESULTS = """
func.func @two(%a: tensor<4xf32>, %b: tensor<4xi8>) -> (tensor<4xf32>, tensor<4xi32>) {
  %e0 = tensor.empty() : tensor<4xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>],
                       iterator_types = ["parallel"]} ins(%a : tensor<4xf32>) outs(%e0 : tensor<4xf32>) {
  ^bb0(%x: f32, %o: f32):
    %y = arith.mulf %x, %x : f32
    linalg.yield %y : f32
  } -> tensor<4xf32>
  %e1 = tensor.empty() : tensor<4xi32>
  %w = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>],
                       iterator_types = ["parallel"]} ins(%b : tensor<4xi8>) outs(%e1 : tensor<4xi32>) {
  ^bb0(%x: i8, %o: i32):
    %y = arith.extsi %x : i8 to i32
    %z = arith.muli %y, %y : i32
    linalg.yield %z : i32
  } -> tensor<4xi32>
  return %s, %w : tensor<4xf32>, tensor<4xi32>
}
"""


@pytest.fixture(scope="module")
def runner() -> Arm64Runner:
    problems = arm64_runner_problems()
    assert not problems, f"arm64 runner incomplete (run `make setup`): {'; '.join(problems)}"
    found = find_arm64_runner()
    assert found is not None
    return found


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Plan, Plan]:
    """residual_cnn labelled, its quantunev2 plan (a mixed one) and its
    three-tier plan (f32 / i8 / w4a8)."""
    path = tmp_path_factory.mktemp("arm64_run") / "residual_cnn.onnx"
    onnx.save(residual_cnn(seed=7, size=SHAPE[-1]), path)
    calib = np.random.default_rng(1234).standard_normal((16, *SHAPE[1:])).astype(np.float32)
    plan = analyze(path, calib)
    precisions = [layer.precision for layer in plan.layers]
    assert 0 < precisions.count("i8") < len(precisions), f"not a mixed plan: {precisions}"
    tiers = analyze(path, calib, AnalysisOptions(int4=True, budget="weight-fraction=0.2"))
    assert tiers.int4_layers > 0 and tiers.int8_layers > 0, [layer.precision for layer in tiers.layers]
    labelled = run_quantune_opt(import_onnx(load_onnx(path)), ["--quantune-label-layers"])
    return labelled, plan, tiers


@pytest.fixture(scope="module")
def modules(analysed: tuple[str, Plan, Plan]) -> dict[tuple[str, str], bytes]:
    """(form, target) -> module bytes, for every form on host and arm64."""
    labelled, plan, tiers = analysed
    plans = {"two": plan, "three": tiers}
    lowered = {form: lower_plan(labelled, plans[which], precision=p)  # type: ignore[arg-type]
               for form, (which, p) in FORMS.items()}
    keys = [(form, target) for form in FORMS for target in ("host", "arm64")]
    with ThreadPoolExecutor(2) as pool:
        built = pool.map(lambda k: compile_mlir(lowered[k[0]].text, parse_target(k[1]), recipe=True,
                                                extra_flags=lowered[k[0]].compile_flags), keys)
        return dict(zip(keys, built))


def inputs() -> list[np.ndarray]:
    return [np.random.default_rng(seed).standard_normal(SHAPE).astype(np.float32) for seed in INPUT_SEEDS]


@pytest.mark.parametrize("form", sorted(FORMS))
def test_arm64_matches_host(runner: Arm64Runner, modules: dict[tuple[str, str], bytes], form: str) -> None:
    arm64 = modules[(form, "arm64")]
    assert executable_architectures(arm64) == {"arm_64"}
    assert needs_arm64_emulation(arm64)
    for x in inputs():
        (expected,) = run_module(modules[(form, "host")], [x], device="local-task")
        run = runner.run(arm64, [x])
        (actual,) = run.outputs
        assert run.function == "residual_cnn" and run.seconds > 0
        assert actual.dtype == expected.dtype == np.float32
        if form == "fp32":
            assert_close(actual, expected, rtol=1e-4)
        else:
            assert actual.shape == expected.shape
            steps = float(np.max(np.abs(actual.astype(np.float64) - expected))) / output_step(expected)
            assert steps <= 1.0, f"{form}: arm64 differs from the host by {steps:.3f} output steps"


def test_host_module_needs_no_emulation(modules: dict[tuple[str, str], bytes]) -> None:
    assert executable_architectures(modules[("fp32", "host")]) == {"x86_64"}
    assert not needs_arm64_emulation(modules[("fp32", "host")])


def test_riscv64_module_is_not_taken_for_arm64(analysed: tuple[str, Plan, Plan]) -> None:
    labelled, plan, _ = analysed
    vmfb = compile_mlir(lower_plan(labelled, plan, precision="fp32").text, parse_target("riscv64"))
    assert executable_architectures(vmfb) == {"riscv_64"}
    assert not needs_arm64_emulation(vmfb)


def test_several_results_and_integer_dtypes(runner: Arm64Runner, tmp_path: Path) -> None:
    vmfb = tmp_path / "two.vmfb"
    compile_mlir(TWO_RESULTS, parse_target("arm64"), vmfb)
    a = np.array([1.5, -2.0, 0.25, 3.0], np.float32)
    b = np.array([-128, -1, 7, 127], np.int8)
    squares, wide = run_arm64_module(vmfb, [a, b], device="local-task")
    np.testing.assert_array_equal(squares, a * a)
    assert wide.dtype == np.int32
    np.testing.assert_array_equal(wide, b.astype(np.int32) ** 2)


def test_inputs_are_checked_like_on_the_host(runner: Arm64Runner, modules: dict[tuple[str, str], bytes]) -> None:
    x = np.zeros((1, 3, 8, 8), np.float32)
    with pytest.raises(QuantuneError, match=r"input 0 of 'residual_cnn' must be 1x3x16x16xf32, got shape \(1, 3, 8, 8\)"):
        runner.run(modules[("fp32", "arm64")], [x])
    with pytest.raises(QuantuneError, match="module has no function 'nope'"):
        runner.run(modules[("fp32", "arm64")], [x], function="nope")


def test_host_module_is_refused(runner: Arm64Runner, modules: dict[tuple[str, str], bytes]) -> None:
    with pytest.raises(QuantuneError, match="holds x86_64 code, not arm64"):
        runner.run(modules[("fp32", "host")], [np.zeros(SHAPE, np.float32)])


def test_missing_runtime_names_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QUANTUNE_AARCH64_RUNTIME", str(tmp_path / "absent"))
    assert find_arm64_runner() is None
    with pytest.raises(QuantuneError, match=r"aarch64 runtime is not unpacked in .*absent.*make setup"):
        require_arm64_runner()
