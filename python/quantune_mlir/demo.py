"""The end-to-end demo: bundled model to IREE module, checked against onnxruntime."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from quantune_mlir.analysis import AnalysisOptions, analyze
from quantune_mlir.compiler import compile_mlir
from quantune_mlir.errors import QuantuneError
from quantune_mlir.fileio import write_bytes, write_text
from quantune_mlir.importer import import_onnx
from quantune_mlir.layers import list_layers
from quantune_mlir.models import MODELS
from quantune_mlir.onnx_model import load_onnx
from quantune_mlir.opt import run_quantune_opt
from quantune_mlir.plan import format_table
from quantune_mlir.pipeline import QuantizeOptions, quantize_model
from quantune_mlir.runtime import run_module
from quantune_mlir.targets import parse_target

RTOL = 1e-4
CALIB_SAMPLES = 32


def _step(index: int, total: int, message: str) -> None:
    print(f"[{index}/{total}] {message}", file=sys.stderr, flush=True)



def reference_outputs(model_path: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Runs the ONNX model with onnxruntime on the CPU."""
    try:
        import onnxruntime
    except ImportError:
        raise QuantuneError("onnxruntime is not installed: run `make setup` (it installs the test extras)") from None
    session = onnxruntime.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    feeds = {inp.name: x for inp, x in zip(session.get_inputs(), inputs)}
    return session.run(None, feeds)


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """max |a - e| / max |e|: the error relative to the output's scale."""
    scale = float(np.max(np.abs(expected))) or 1.0
    return float(np.max(np.abs(actual.astype(np.float64) - expected))) / scale


def run_demo(workdir: Path, target_spec: str = "host", model_name: str = "residual_cnn") -> int:
    """Builds ``model_name``, imports, labels, strips, compiles and runs it,
    then analyses it with QuantuneV2 and writes a plan.

    Returns 0 when every output matches onnxruntime within ``RTOL``.
    """
    target = parse_target(target_spec)
    if target.device is None:
        raise QuantuneError(f"the demo runs what it compiles; target '{target_spec}' cannot run on this machine")
    workdir.mkdir(parents=True, exist_ok=True)
    total = 8

    _step(1, total, f"building the bundled model '{model_name}' and a seeded input")
    model_path = workdir / "model.onnx"
    write_bytes(model_path, MODELS[model_name]().SerializeToString())
    model = load_onnx(model_path)
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    x = np.random.default_rng(1234).standard_normal(shape).astype(np.float32)
    np.save(workdir / "input.npy", x)

    _step(2, total, "importing ONNX to linalg on tensors (IREE, in-process)")
    imported = import_onnx(model)
    write_text(workdir / "model.mlir", imported)

    _step(3, total, "labelling layers (quantune-opt --quantune-label-layers)")
    labelled = run_quantune_opt(imported, ["--quantune-label-layers"])
    write_text(workdir / "labelled.mlir", labelled)
    layers = list_layers(labelled)
    print(f"{'id':>3}  {'kind':<17} name")
    for layer in layers:
        print(f"{layer.id:>3}  {layer.kind:<17} {layer.name}")

    _step(4, total, "stripping annotations (quantune-opt --quantune-strip)")
    stripped = run_quantune_opt(labelled, ["--quantune-strip"])
    write_text(workdir / "stripped.mlir", stripped)

    _step(5, total, f"compiling for {target.spec} (iree-compile)")
    vmfb_path = workdir / "model.vmfb"
    compile_mlir(stripped, target, vmfb_path)

    _step(6, total, f"running on {target.device} and comparing with onnxruntime")
    start = time.perf_counter()
    outputs = run_module(vmfb_path, [x], device=target.device)
    iree_ms = (time.perf_counter() - start) * 1e3
    expected = reference_outputs(model_path, [x])
    ok = len(outputs) == len(expected)
    for i, (actual, ref) in enumerate(zip(outputs, expected)):
        err = relative_error(actual, ref)
        good = actual.shape == ref.shape and err <= RTOL
        ok &= good
        print(f"output {i}: shape {tuple(actual.shape)}  relative error vs onnxruntime {err:.2e}  "
              f"{'OK' if good else 'MISMATCH'} (tolerance {RTOL:g})")
    print(f"{len(layers)} layers labelled; module {vmfb_path} ({vmfb_path.stat().st_size} bytes); "
          f"first IREE run {iree_ms:.1f} ms")
    if not ok:
        print("demo FAILED: IREE and onnxruntime disagree")
        return 1

    _step(7, total, f"QuantuneV2 analysis with {CALIB_SAMPLES} seeded calibration inputs (quantune analyze)")
    calib = np.random.default_rng(99).standard_normal((CALIB_SAMPLES, *shape[1:])).astype(np.float32)
    np.save(workdir / "calib.npy", calib)
    plan = analyze(model_path, calib, AnalysisOptions(budget="fp32-count=1"))
    plan.save(workdir / "plan.json")
    print(format_table(plan))
    print(f"plan written to {workdir / 'plan.json'}")

    _step(8, total, f"mixed-precision module from the plan (quantune quantize --plan) on {target.device}")
    options = QuantizeOptions(target=target_spec)
    result = quantize_model(model_path, workdir / "mixed.vmfb", plan_path=workdir / "plan.json", options=options,
                            emit_mlir=workdir / "stages")
    mixed = run_module(workdir / "mixed.vmfb", [x], device=target.device)[0]
    err = relative_error(mixed, expected[0])
    same_class = int(np.argmax(mixed)) == int(np.argmax(expected[0]))
    print(f"{result.lowered.int8_layers}/{len(plan.layers)} layers int8, {result.lowered.folded_pairs} "
          f"quantize/dequantize pairs folded; layer weights {result.weight_bytes} bytes "
          f"({result.weight_bytes / result.weight_bytes_fp32:.2f}x fp32); IR of every stage in {workdir / 'stages'}")
    print(f"mixed output vs fp32 onnxruntime: relative error {err:.2e}, top-1 class "
          f"{'agrees' if same_class else 'differs'}")
    print("demo passed")
    return 0
