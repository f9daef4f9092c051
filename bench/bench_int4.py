"""Three precision tiers (f32 / i8 / w4a8) on the Fashion-MNIST zoo.

For every model of bench/zoo/train.py, one calibration set (``--calib``
training images, calibration seed 0) and the test set (``--eval`` images,
default all 10,000), one table per model:

- fp32, uniform int8 and uniform w4a8 (every layer that can be, with the
  w4a8 form's own ranges and bias corrections);
- at each weight budget (``--budgets``, fractions of the fp32 weight bytes):
  QuantuneV2's three-tier plan (one ``--int4`` analysis, re-cut per budget),
  the per-layer sweep's ranking (measured with 4-bit weights) and a random
  ranking (mean and spread over ``--random`` seeds). All three use the same
  ranges and corrections, so they differ only in which layers get which
  tier.

Each row: top-1, the layers' weight bytes against fp32 (i4 weights count
half a byte), the share of i4 layers, the module file size, and the latency
of one image (iree-benchmark-module, one thread, local-sync, median). The
analyses and per-module results are cached in ``--workdir``.

Usage: python bench/bench_int4.py --out bench/results/int4.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent / "zoo"))

from bench_zoo_accuracy import CACHE, MODELS, calibration_set  # noqa: E402

from quantune_mlir.analysis import LABEL_PASSES, AnalysisOptions, run_analysis  # noqa: E402
from quantune_mlir.benchmark import benchmark_module  # noqa: E402
from quantune_mlir.compiler import compile_mlir  # noqa: E402
from quantune_mlir.importer import import_onnx  # noqa: E402
from quantune_mlir.jsonio import annotations_json  # noqa: E402
from quantune_mlir.lowering import lower_plan, plan_annotations  # noqa: E402
from quantune_mlir.onnx_model import load_onnx  # noqa: E402
from quantune_mlir.opt import run_quantune_opt  # noqa: E402
from quantune_mlir.pipeline import weight_bytes  # noqa: E402
from quantune_mlir.plan import Plan, load_plan  # noqa: E402
from quantune_mlir.range_choice import DEFAULT_RATIO  # noqa: E402
from quantune_mlir.replan import random_plan, replan  # noqa: E402
from quantune_mlir.runtime import ModuleRunner  # noqa: E402
from quantune_mlir.targets import parse_target  # noqa: E402


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Model:
    """One zoo model: its analyses and measured modules, cached in ``work``."""

    def __init__(self, name: str, work: Path, x: np.ndarray, y: np.ndarray, reps: int) -> None:
        self.name, self.work, self.x, self.y, self.reps = name, work / name, x, y, reps
        self.work.mkdir(parents=True, exist_ok=True)
        self.path = CACHE / f"{name}.onnx"
        self.labelled = run_quantune_opt(import_onnx(load_onnx(self.path)), LABEL_PASSES)
        self.host = parse_target("host")

    def analysis(self, calib: np.ndarray, method: str, budget: str) -> Plan:
        path = self.work / f"plan-int4-{method}-{len(calib)}.json"
        if path.is_file():
            return load_plan(path)
        start = time.perf_counter()
        plan = run_analysis(self.path, calib, AnalysisOptions(method=method, int4=True, budget=budget)).plan
        plan.phases_seconds["total"] = round(time.perf_counter() - start, 1)
        plan.save(path, timings=True)
        return plan

    def measure(self, plan: Plan, precision: str = "plan") -> dict:
        entries = plan_annotations(plan, precision)  # type: ignore[arg-type]
        key = hashlib.sha256(annotations_json(entries).encode()).hexdigest()[:16]
        cached = self.work / f"module-{key}.json"
        if cached.is_file():
            return json.loads(cached.read_text())
        lowered = lower_plan(self.labelled, plan, precision=precision)  # type: ignore[arg-type]
        vmfb = self.work / f"module-{key}.vmfb"
        compile_mlir(lowered.text, self.host, vmfb, recipe=True, extra_flags=lowered.compile_flags)
        runner = ModuleRunner(vmfb, "local-task")
        hits = sum(int(np.argmax(runner(self.x[i : i + 1])[0]) == self.y[i]) for i in range(len(self.x)))
        latency = benchmark_module(vmfb, runner.function, [((1, 1, 32, 32), "f32")], device="local-sync",
                                   repetitions=self.reps)
        fp32_bytes, quantized = weight_bytes(plan, precision)  # type: ignore[arg-type]
        chosen = [e["precision"] for e in entries if e["id"] not in lowered.fallbacks]
        record = {
            "top1": hits / len(self.x),
            "weight_bytes": quantized, "fp32_weight_bytes": fp32_bytes,
            "i4_layers": chosen.count("i4"), "i8_layers": chosen.count("i8"),
            "layers": len(entries), "fallbacks": len(lowered.fallbacks),
            "module_bytes": vmfb.stat().st_size, "latency_ms": latency.median_ms,
        }
        vmfb.unlink()
        cached.write_text(json.dumps(record))
        return record


def _spread(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values)}


def run_model(model: Model, calib: np.ndarray, budgets: list[float], seeds: int) -> dict:
    first = f"weight-fraction={budgets[0]:g}"
    plan = model.analysis(calib, "quantunev2", first)
    sweep = model.analysis(calib, "sweep", first)
    rows: dict = {
        "fp32": model.measure(plan, "fp32"),
        "int8": model.measure(plan, "int8"),
        "w4a8": model.measure(plan, "int4"),
    }
    # The sweep's ranking: each layer's model-output SQNR with only it in w4a8.
    scores = {layer.id: layer.i4.act_sqnr for layer in sweep.layers if layer.i4 and layer.i4.act_sqnr is not None}
    budgets_out: dict = {}
    for fraction in budgets:
        budget = f"weight-fraction={fraction:g}"
        _log(f"[{model.name}] {budget}")
        randoms = [model.measure(random_plan(plan, model.labelled, budget, seed)) for seed in range(seeds)]
        budgets_out[f"{fraction:g}"] = {
            "quantunev2": model.measure(replan(plan, model.labelled, budget, ratio=DEFAULT_RATIO)),
            "sweep": model.measure(replan(plan, model.labelled, budget, ratio=(0.0, 1.0, 0.0, 0.0), act_sqnr=scores,
                                          method="sweep")),
            "random": {key: _spread([r[key] for r in randoms])
                       for key in ("top1", "weight_bytes", "i4_layers", "i8_layers", "latency_ms")},
        }
    return {
        "layers": len(plan.layers),
        "plan_seconds": {"quantunev2": plan.phases_seconds.get("total"), "sweep": sweep.phases_seconds.get("total")},
        "uniform": rows,
        "budgets": budgets_out,
        "sensitivity": [
            {"id": l.id, "name": l.name, "kind": l.kind, "params": l.params,
             "weight_sqnr_i8": l.weight_sqnr, "weight_sqnr_i4": l.i4.weight_sqnr if l.i4 else None,
             "output_sqnr_i4": l.i4.output_sqnr if l.i4 else None,
             "sweep_output_sqnr_i4": scores.get(l.id)}
            for l in plan.layers
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out" / "int4-work")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--calib", type=int, default=256)
    parser.add_argument("--eval", type=int, default=10000, help="test images (default: all 10,000)")
    parser.add_argument("--budgets", default="0.15,0.2", help="weight budgets, fractions of the fp32 weight bytes")
    parser.add_argument("--random", type=int, default=5, help="random-ranking seeds")
    parser.add_argument("--reps", type=int, default=9, help="latency repetitions")
    args = parser.parse_args()
    test = np.load(CACHE / "fmnist_test.npz")
    x, y = test["x"][: args.eval].astype(np.float32), test["y"][: args.eval]
    budgets = [float(b) for b in args.budgets.split(",")]
    out: dict = {"command": "python " + " ".join(sys.argv), "machine": f"{platform.platform()}, {platform.machine()}",
                 "eval_images": len(x), "calibration_images": args.calib, "budgets": budgets,
                 "random_seeds": args.random, "models": {}}
    if args.out.is_file():  # keep models an earlier run measured and this one does not
        out["models"] = {k: v for k, v in json.loads(args.out.read_text()).get("models", {}).items()
                         if k not in args.models.split(",")}
    calib = calibration_set(0, args.calib)
    for name in args.models.split(","):
        start = time.perf_counter()
        model = Model(name, args.workdir, x, y, args.reps)
        out["models"][name] = run_model(model, calib, budgets, args.random)
        out["models"][name]["bench_seconds"] = round(time.perf_counter() - start, 1)
        out["models"][name]["torch_accuracy"] = json.loads((CACHE / f"{name}.json").read_text()).get("accuracy_top1")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=1))
        _log(f"[{name}] done in {out['models'][name]['bench_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
