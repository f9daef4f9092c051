"""Analysis-time benchmarks for issue 3, written to a JSON file.

1. quantunev2 against the per-layer sweep, wall time from ONNX to plan, on
   ResNet18- and ResNet50-shaped models (random weights) with 256
   calibration inputs, measured side by side in one run.
2. quantunev2 analysis time against parameter count over ResNet18 widths.

Usage: python bench/bench_analysis.py --out bench/out/analysis.json
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", type=int, default=64, help="input resolution (default 64)")
    parser.add_argument("--calib", type=int, default=256, help="calibration inputs for the method comparison")
    parser.add_argument("--scaling-calib", type=int, default=64, help="calibration inputs for the scaling runs")
    parser.add_argument("--depths", default="18,50")
    parser.add_argument("--widths", default="8,16,32,64", help="ResNet18 widths for the scaling runs")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    calib = rng.standard_normal((args.calib, 3, args.size, args.size)).astype(np.float32)
    result: dict = {
        "machine": {"cpu_count": __import__("os").cpu_count(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine()},
        "input_size": args.size,
        "calibration_inputs": args.calib,
        "scaling_calibration_inputs": args.scaling_calib,
        "comparison": [],
        "scaling": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for depth in (int(d) for d in args.depths.split(",")):
            path = Path(tmp) / f"resnet{depth}.onnx"
            model = resnet(depth, size=args.size, classes=100)
            onnx.save(model, path)
            print(f"resnet{depth}: {parameter_count(model)} parameters", file=sys.stderr)
            runs = [_time_analysis(path, calib, m) for m in ("quantunev2", "sweep")]
            result["comparison"].append({
                "model": f"resnet{depth}", "parameters": parameter_count(model),
                "layers": len(runs[0]["sensitivity"]), "runs": runs,
                "sweep_over_quantunev2": round(runs[1]["wall_seconds"] / runs[0]["wall_seconds"], 2),
            })
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2))

        scaling_calib = calib[: args.scaling_calib]
        for width in (int(w) for w in args.widths.split(",")):
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
