"""Model-zoo baselines for issue 5, written to a JSON file.

For every Fashion-MNIST model trained by bench/zoo/train.py, on the same
test images and machine:

- fp32 and uniform int8 (every quantizable layer);
- QuantuneV2 plans at several budgets (fraction of layers kept fp32), from
  one analysis re-cut per budget (quantune_mlir.replan);
- the per-layer sweep baseline at the same budgets, with the time each
  method took to produce its plan;
- a random-ranking control at the same budgets;
- onnxruntime quantize_static (QDQ, per-channel, int8) with the MinMax and
  Percentile calibrators, run in onnxruntime.

Each IREE module is compiled for the host with the CPU recipe and measured
for top-1 accuracy on the test subset, latency (iree-benchmark-module, one
thread) and layer weight bytes.

Usage: python bench/bench_zoo.py --out bench/results/zoo.json
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from ort_quant import quantize_static_qdq  # noqa: E402
from quantune_mlir.analysis import AnalysisOptions, analyze  # noqa: E402
from quantune_mlir.evaluate import evaluate_module, module_latency  # noqa: E402
from quantune_mlir.importer import import_onnx  # noqa: E402
from quantune_mlir.lowering import plan_annotations  # noqa: E402
from quantune_mlir.onnx_model import load_onnx  # noqa: E402
from quantune_mlir.opt import run_quantune_opt  # noqa: E402
from quantune_mlir.plan import Plan  # noqa: E402
from quantune_mlir.pipeline import QuantizeOptions, lower_and_compile, weight_bytes  # noqa: E402
from quantune_mlir.replan import random_plan, replan  # noqa: E402
from quantune_mlir.targets import parse_target  # noqa: E402

CACHE = Path(__file__).parent / "zoo" / "cache"
MODELS = ("resnet18", "resnet50", "squeezenet", "vgg16", "mobilenetv2")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _signature(plan: Plan, precision: str) -> tuple[object, ...]:
    """The precision each layer ends up with: equal signatures build equal modules."""
    return tuple(entry["precision"] for entry in plan_annotations(plan, precision))


class _Runner:
    """Compiles, evaluates and times plans, once per distinct precision list."""

    def __init__(self, name: str, labelled: str, x: np.ndarray, y: np.ndarray, tmp: Path, reps: int) -> None:
        self.name, self.labelled = name, labelled
        self.x, self.y, self.tmp, self.reps = x, y, tmp, reps
        self.host = parse_target("host")
        self.seen: dict[tuple[str, ...], dict] = {}

    def measure(self, plan: Plan, precision: str = "plan") -> dict:
        key = _signature(plan, precision)
        if key in self.seen:
            return dict(self.seen[key])
        path = self.tmp / f"{self.name}-{len(self.seen)}.vmfb"
        # The pipeline's compile retries, on a copy: the signature stays the plan's.
        lowered, vmfb = lower_and_compile(self.labelled, copy.deepcopy(plan), QuantizeOptions(precision=precision),
                                          self.host, path)
        fp32_b, bytes_ = weight_bytes(plan, precision)
        _, latency = module_latency(path, repetitions=self.reps)
        record = {
            "accuracy": evaluate_module(path, self.x, labels=self.y, progress=False).top1_accuracy,
            "latency_ms": latency.median_ms,
            "latency_spread_ms": [latency.min_ms, latency.max_ms],
            "weight_bytes": bytes_,
            "weight_bytes_fp32": fp32_b,
            "module_bytes": len(vmfb),
            "int8_layers": lowered.int8_layers,
            "fp32_layers": len(plan.layers) - lowered.int8_layers,
            "folded_pairs": lowered.folded_pairs,
        }
        self.seen[key] = record
        return dict(record)


def _ort_static(model_path: Path, calib: np.ndarray, method: str, x: np.ndarray, y: np.ndarray, tmp: Path,
                reps: int) -> dict:
    import onnxruntime as ort

    name = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"]).get_inputs()[0].name
    out = tmp / f"{model_path.stem}-ort-{method}.onnx"
    start = time.perf_counter()
    quantize_static_qdq(model_path, out, calib, method)
    seconds = time.perf_counter() - start
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(out), options, providers=["CPUExecutionProvider"])
    hits = sum(int(np.argmax(session.run(None, {name: x[i : i + 1]})[0]) == y[i]) for i in range(len(x)))
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(20):
            session.run(None, {name: x[:1]})
        times.append((time.perf_counter() - t) / 20 * 1e3)
    return {"accuracy": hits / len(x), "latency_ms": statistics.median(times),
            "latency_spread_ms": [min(times), max(times)], "file_bytes": out.stat().st_size,
            "plan_seconds": round(seconds, 2), "runtime": "onnxruntime"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--budgets", default="0,0.05,0.1,0.2", help="fractions of layers kept fp32")
    parser.add_argument("--eval", type=int, default=2000, help="test images evaluated (default 2000)")
    parser.add_argument("--calib", type=int, default=256)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="seed of the random-ranking control")
    args = parser.parse_args()
    test = np.load(CACHE / "fmnist_test.npz")
    x, y = test["x"][: args.eval].astype(np.float32), test["y"][: args.eval]
    calib = np.load(CACHE / "fmnist_calib.npy")[: args.calib].astype(np.float32)
    budgets = [float(b) for b in args.budgets.split(",")]
    result: dict = {
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine()},
        "command": "python " + " ".join(sys.argv),
        "eval_images": len(x),
        "calibration_images": len(calib),
        "budgets": budgets,
        "models": {},
    }
    if args.out.is_file():
        # Keep models measured by an earlier run with the same settings.
        old = json.loads(args.out.read_text())
        if all(old.get(k) == result[k] for k in ("eval_images", "calibration_images", "budgets")):
            result["models"] = {k: v for k, v in old.get("models", {}).items()
                                if k not in args.models.split(",")}
    with tempfile.TemporaryDirectory(prefix="quantune-zoo-") as tmp_dir:
        tmp = Path(tmp_dir)
        for name in args.models.split(","):
            path = CACHE / f"{name}.onnx"
            meta = json.loads((CACHE / f"{name}.json").read_text())
            _log(f"== {name}")
            labelled = run_quantune_opt(import_onnx(load_onnx(path)), ["--quantune-label-layers"])
            runs: dict = {}
            plans: dict[str, Plan] = {}
            for method in ("quantunev2", "sweep"):
                start = time.perf_counter()
                plans[method] = analyze(path, calib, AnalysisOptions(method=method))
                runs[method] = {"plan_seconds": round(time.perf_counter() - start, 2)}
            runner = _Runner(name, labelled, x, y, tmp, args.reps)
            entry: dict = {"torch_accuracy": meta.get("accuracy_top1"), "layers": len(plans["quantunev2"].layers),
                           "plan_seconds": {m: r["plan_seconds"] for m, r in runs.items()}, "points": []}
            entry["fp32"] = runner.measure(plans["quantunev2"], "fp32")
            entry["int8"] = runner.measure(plans["quantunev2"], "int8")
            for budget in budgets:
                spec = f"fp32-fraction={budget}"
                for method in ("quantunev2", "sweep", "random"):
                    if method == "random":
                        plan = random_plan(plans["quantunev2"], labelled, spec, seed=args.seed)
                    else:
                        plan = replan(plans[method], labelled, spec)
                    _log(f"   {method} at {spec}")
                    point = runner.measure(plan)
                    point.update({"method": method, "budget": budget,
                                  "fp32_names": [l.name for l in plan.layers if l.precision != "i8"]})
                    entry["points"].append(point)
            entry["ort"] = {m: _ort_static(path, calib, m, x, y, tmp, args.reps) for m in ("minmax", "percentile")}
            result["models"][name] = entry
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=1))
    _log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
