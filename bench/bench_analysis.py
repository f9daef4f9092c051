"""Analysis-time benchmarks for issue 3, written to a JSON file.

1. quantunev2 against the per-layer sweep, wall time from ONNX to plan, on
   ResNet18- and ResNet50-shaped models (random weights) with 256
   calibration inputs, measured side by side in one run.
2. quantunev2 analysis time against parameter count over ResNet18 widths.

Usage: python bench/bench_analysis.py --out bench/results/analysis.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

sys.path.insert(0, str(Path(__file__).parent))
from onnx_resnet import parameter_count, resnet  # noqa: E402

from quantune_mlir.analysis import AnalysisOptions, analyze  # noqa: E402


def _ints(text: str) -> list[int]:
    return [int(item) for item in text.split(",") if item.strip()]


def _time_analysis(model_path: Path, calib: np.ndarray, method: str) -> dict:
    start = time.perf_counter()
    plan = analyze(model_path, calib, AnalysisOptions(method=method))
    wall = time.perf_counter() - start
    return {
        "method": method,
        "wall_seconds": round(wall, 2),
        "passes": plan.inferences["passes"],
        "phases_seconds": plan.phases_seconds,
        "sensitivity": {layer.name: layer.sensitivity for layer in plan.layers},
    }


def _time_recompiling_sweep(model_path: Path, calib: np.ndarray) -> dict:
    """The paper's baseline: per layer, a module with only that layer
    fake-quantized is compiled and run over the calibration set (n
    compilations and n + 1 passes), against the one-module sweep above."""
    from quantune_mlir.analysis import LABEL_PASSES, _activation_qparams, _range_pass
    from quantune_mlir.compiler import compile_mlir
    from quantune_mlir.calib_data import load_calibration_inputs
    from quantune_mlir.importer import import_onnx
    from quantune_mlir.jsonio import annotations_json
    from quantune_mlir.layers import list_layers
    from quantune_mlir.onnx_model import load_onnx
    from quantune_mlir.opt import run_quantune_opt
    from quantune_mlir.analysis import model_inputs
    from quantune_mlir.runtime import ModuleRunner
    from quantune_mlir.targets import parse_target

    start = time.perf_counter()
    model = load_onnx(model_path)
    inputs = load_calibration_inputs(calib, model_inputs(model))
    labelled = run_quantune_opt(import_onnx(model), LABEL_PASSES)
    layers = [layer for layer in list_layers(labelled) if not layer.reason]
    host = parse_target("host")
    ranges = run_quantune_opt(labelled, ["--quantune-instrument=mode=ranges bins=0"])
    runner = ModuleRunner(compile_mlir(ranges, host, recipe=True), "local-task")
    observers, reference, _ = _range_pass(runner, ranges, inputs, layers, "recompiling sweep: reference")
    qparams = _activation_qparams(observers, AnalysisOptions())
    compile_seconds = run_seconds = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for layer in layers:
            if layer.id not in qparams:
                continue
            s, z = qparams[layer.id]
            notes = Path(tmp) / "one.json"
            notes.write_text(annotations_json([{"id": layer.id, "precision": "i8",
                                                "act_qparams": {"storage": "si8", "scale": s, "zero_point": z}}]))
            t0 = time.perf_counter()
            text = run_quantune_opt(labelled, [f"--quantune-annotate=file={notes}", "--quantune-fake-quantize"])
            one = ModuleRunner(compile_mlir(text, host, recipe=True), "local-task")
            t1 = time.perf_counter()
            for sample in inputs:
                one(*sample)
            compile_seconds += t1 - t0
            run_seconds += time.perf_counter() - t1
            print(f"  recompiling sweep: layer {layer.id} done", file=sys.stderr)
    return {"method": "sweep (recompile per layer)", "wall_seconds": round(time.perf_counter() - start, 2),
            "passes": len(layers) + 1, "compile_seconds": round(compile_seconds, 1),
            "run_seconds": round(run_seconds, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", type=int, default=64, help="input resolution (default 64)")
    parser.add_argument("--calib", type=int, default=256, help="calibration inputs for the method comparison")
    parser.add_argument("--scaling-calib", type=int, default=64, help="calibration inputs for the scaling runs")
    parser.add_argument("--depths", default="18,50")
    parser.add_argument("--widths", default="8,16,32,64", help="ResNet18 widths for the scaling runs ('' for none)")
    parser.add_argument("--sweep-depths", default=None,
                        help="depths whose sweep is also timed (default: all of --depths)")
    parser.add_argument("--recompile-depths", default="",
                        help="depths whose recompile-per-layer sweep (the paper's baseline) is also timed")
    parser.add_argument("--width", type=int, default=64, help="ResNet width of the comparison models (default 64)")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    calib = rng.standard_normal((args.calib, 3, args.size, args.size)).astype(np.float32)
    result: dict = {
        "machine": {"cpu_count": __import__("os").cpu_count(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine()},
        "command": " ".join(["python", "bench/bench_analysis.py", *sys.argv[1:]]),
        "input_size": args.size,
        "calibration_inputs": args.calib,
        "scaling_calibration_inputs": args.scaling_calib,
        "comparison": [],
        "scaling": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        sweep_depths = _ints(args.sweep_depths if args.sweep_depths is not None else args.depths)
        for depth in _ints(args.depths):
            path = Path(tmp) / f"resnet{depth}.onnx"
            model = resnet(depth, width=args.width, size=args.size, classes=1000 if args.size >= 160 else 100)
            onnx.save(model, path)
            print(f"resnet{depth}: {parameter_count(model)} parameters", file=sys.stderr)
            methods = ("quantunev2", "sweep") if depth in sweep_depths else ("quantunev2",)
            runs = [_time_analysis(path, calib, m) for m in methods]
            entry = {"model": f"resnet{depth}", "parameters": parameter_count(model),
                     "layers": len(runs[0]["sensitivity"]), "runs": runs}
            if len(runs) == 2:
                entry["sweep_over_quantunev2"] = round(runs[1]["wall_seconds"] / runs[0]["wall_seconds"], 2)
            if depth in _ints(args.recompile_depths):
                entry["recompiling_sweep"] = _time_recompiling_sweep(path, calib)
                entry["recompiling_sweep_over_quantunev2"] = round(
                    entry["recompiling_sweep"]["wall_seconds"] / runs[0]["wall_seconds"], 2)
            result["comparison"].append(entry)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2))

        scaling_calib = calib[: args.scaling_calib]
        for width in _ints(args.widths):
            path = Path(tmp) / f"resnet18_w{width}.onnx"
            model = resnet(18, width=width, size=args.size, classes=100)
            onnx.save(model, path)
            run = _time_analysis(path, scaling_calib, "quantunev2")
            result["scaling"].append({"model": f"resnet18 width {width}", "parameters": parameter_count(model),
                                      "wall_seconds": run["wall_seconds"], "phases_seconds": run["phases_seconds"]})
            args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
