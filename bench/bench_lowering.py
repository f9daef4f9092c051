"""Lowering benchmarks for issue 4, written to a JSON file.

1. Recipe study (ResNet18): latency of fp32 and all-int8 modules under IREE's
   default flags, data tiling + microkernels, and that plus im2col.
2. For each model (ResNet18, ResNet50, SqueezeNet 1.0, VGG-16 at width 16,
   MobileNetV2; random seeded weights, see onnx_models.py): one QuantuneV2
   plan, then four modules compiled with the chosen recipe and measured side
   by side with iree-benchmark-module at 1 and 2 threads:
   fp32, all-int8, mixed (the plan, folded) and naive mixed (the plan with a
   quantize/dequantize pair around every int8 layer); plus mixed-w0.3, the
   same analysis re-cut under the budget weight-bytes = 0.3x fp32.

Usage: python bench/bench_lowering.py --out bench/results/lowering.json
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
from onnx_models import MODELS  # noqa: E402

from quantune_mlir.analysis import AnalysisOptions, analyze  # noqa: E402
from quantune_mlir.compiler import compile_mlir  # noqa: E402
from quantune_mlir.evaluate import module_latency  # noqa: E402
from quantune_mlir.importer import import_onnx  # noqa: E402
from quantune_mlir.lowering import lower_plan  # noqa: E402
from quantune_mlir.onnx_model import load_onnx  # noqa: E402
from quantune_mlir.opt import run_quantune_opt  # noqa: E402
from quantune_mlir.pipeline import weight_bytes  # noqa: E402
from quantune_mlir.replan import replan  # noqa: E402
from quantune_mlir.targets import CPU_RECIPE, IMG2COL, parse_target  # noqa: E402

RECIPES = {
    "default": (),
    "dt+uk": ("--iree-opt-data-tiling", "--iree-llvmcpu-enable-ukernels=all"),
    "dt+uk+img2col": CPU_RECIPE,
}
VARIANTS = {  # name: (precision, fold)
    "fp32": ("fp32", True),
    "int8": ("int8", True),
    "mixed": ("plan", True),
    "naive": ("plan", False),
    # The same metrics cut under a weight-size budget of 0.3x fp32.
    "mixed-w0.3": ("plan", True),
}
assert RECIPES["dt+uk+img2col"][-1] == IMG2COL


def _measure(path: Path, threads: list[int], reps: int) -> dict:
    return {f"{t}t": module_latency(path, threads=t, repetitions=reps)[1].as_dict() for t in threads}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", type=int, default=64, help="input resolution (default 64)")
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--calib", type=int, default=16, help="calibration inputs per plan (default 16)")
    parser.add_argument("--models", default="resnet18,resnet50,squeezenet,vgg16,mobilenetv2")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--skip-recipes", action="store_true")
    args = parser.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    host = parse_target("host")
    rng = np.random.default_rng(0)
    calib = rng.standard_normal((args.calib, 3, args.size, args.size)).astype(np.float32)
    result: dict = {
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version()},
        "size": args.size,
        "classes": args.classes,
        "calibration_inputs": args.calib,
        "command": "python " + " ".join(sys.argv),
        "recipes": {},
        "models": {},
    }
    with tempfile.TemporaryDirectory(prefix="quantune-bench-") as tmp:
        for name in args.models.split(","):
            model = MODELS[name](args.size, args.classes, 0)
            path = Path(tmp) / f"{name}.onnx"
            onnx.save(model, path)
            print(f"== {name}: analysis", file=sys.stderr, flush=True)
            start = time.perf_counter()
            plan = analyze(path, calib, AnalysisOptions())
            analysis_s = time.perf_counter() - start
            labelled = run_quantune_opt(import_onnx(load_onnx(path)), ["--quantune-label-layers"])
            entry: dict = {"layers": len(plan.layers), "int8_layers_plan": plan.int8_layers,
                           "analysis_seconds": round(analysis_s, 1), "variants": {}}
            recipes = RECIPES if name == "resnet18" and not args.skip_recipes else {}
            fp32_total = weight_bytes(plan, "fp32")[0]
            sized = replan(plan, labelled, f"weight-bytes={int(0.3 * fp32_total)}")
            for variant, (precision, fold) in VARIANTS.items():
                vplan = sized if variant == "mixed-w0.3" else plan
                lowered = lower_plan(labelled, vplan, fold=fold, precision=precision)
                fp32_b, bytes_ = weight_bytes(vplan, precision)
                record = {"int8_layers": lowered.int8_layers, "folded_pairs": lowered.folded_pairs,
                          "weight_bytes": bytes_, "weight_bytes_fp32": fp32_b}
                vmfb = Path(tmp) / f"{name}-{variant}.vmfb"
                start = time.perf_counter()
                compile_mlir(lowered.text, host, vmfb, recipe=True)
                record["compile_seconds"] = round(time.perf_counter() - start, 1)
                record["module_bytes"] = vmfb.stat().st_size
                print(f"   {variant}: measuring", file=sys.stderr, flush=True)
                record["latency"] = _measure(vmfb, threads, args.reps)
                entry["variants"][variant] = record
                if variant in ("fp32", "int8"):
                    for recipe, flags in recipes.items():
                        rpath = Path(tmp) / f"{name}-{variant}-{recipe}.vmfb"
                        compile_mlir(lowered.text, host, rpath, extra_flags=flags)
                        result["recipes"].setdefault(recipe, {})[variant] = _measure(rpath, [1], args.reps)["1t"]
            result["models"][name] = entry
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
