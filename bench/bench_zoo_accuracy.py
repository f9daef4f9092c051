"""Fashion-MNIST zoo: accuracy of each method on the full test set, with its spread.

On these models uniform int8 loses little, so a difference between methods
is only real if it exceeds what changing the calibration images does. For
every model of bench/zoo/train.py and every calibration seed (``--seeds``:
256 training images drawn with that seed), on all 10,000 test images:

- uniform int8 with the old recipe (min-max ranges, no bias correction) and
  with the default recipe (``--recipe``);
- onnxruntime ``quantize_static`` (QDQ, per-channel, MinMax), run in onnxruntime;
- at each fp32 budget: QuantuneV2's ranking, the per-layer sweep's and a
  random one (seeded by the calibration seed), all on the default recipe's
  ranges and corrections, so they differ only in which layers stay fp32.

Reported per method: mean, standard deviation and range of top-1 over the
seeds. Modules and results are cached in ``--workdir``.

Usage: python bench/bench_zoo_accuracy.py --out bench/results/zoo_accuracy.json
"""

from __future__ import annotations

import argparse
import copy
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

import fmnist  # noqa: E402
from ort_quant import quantize_static_qdq  # noqa: E402
from rank_study import study  # noqa: E402
from train import preprocess  # noqa: E402

from quantune_mlir.analysis import LABEL_PASSES, AnalysisOptions, run_analysis  # noqa: E402
from quantune_mlir.importer import import_onnx  # noqa: E402
from quantune_mlir.jsonio import annotations_json  # noqa: E402
from quantune_mlir.lowering import plan_annotations  # noqa: E402
from quantune_mlir.pipeline import QuantizeOptions, lower_and_compile  # noqa: E402
from quantune_mlir.onnx_model import load_onnx  # noqa: E402
from quantune_mlir.opt import run_quantune_opt  # noqa: E402
from quantune_mlir.plan import Plan, load_plan  # noqa: E402
from quantune_mlir.range_choice import DEFAULT_RATIO  # noqa: E402
from quantune_mlir.replan import random_plan, replan  # noqa: E402
from quantune_mlir.runtime import ModuleRunner  # noqa: E402
from quantune_mlir.targets import parse_target  # noqa: E402

CACHE = Path(__file__).parent / "zoo" / "cache"
MODELS = ("resnet18", "resnet50", "squeezenet", "vgg16", "mobilenetv2")
RECIPES = {
    "minmax": dict(calib_method="minmax", bias_correction=False, propagation=False),
    "auto+bc": dict(calib_method="auto", bias_correction=True, propagation=False),
    "auto+bc+prop": dict(calib_method="auto", bias_correction=True, propagation=True),
}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def calibration_set(seed: int, count: int) -> np.ndarray:
    """``count`` training images drawn with ``seed``, preprocessed as the models' input."""
    x_train, _ = fmnist.load("train")
    pick = np.sort(np.random.default_rng(1000 + seed).choice(len(x_train), count, replace=False))
    return preprocess(x_train[pick])


class Model:
    def __init__(self, name: str, work: Path, x: np.ndarray, y: np.ndarray) -> None:
        self.name, self.work, self.x, self.y = name, work / name, x, y
        self.work.mkdir(parents=True, exist_ok=True)
        self.path = CACHE / f"{name}.onnx"
        self.labelled = run_quantune_opt(import_onnx(load_onnx(self.path)), LABEL_PASSES)
        self.host = parse_target("host")

    def analysis(self, calib: np.ndarray, seed: int, recipe: str, method: str = "quantunev2") -> Plan:
        path = self.work / f"plan-{method}-{recipe}-seed{seed}.json"
        if path.is_file():
            return load_plan(path)
        options = dict(RECIPES[recipe])
        options["propagation"] = options["propagation"] and method == "quantunev2"
        start = time.perf_counter()
        plan = run_analysis(self.path, calib, AnalysisOptions(method=method, **options)).plan
        plan.phases_seconds["total"] = round(time.perf_counter() - start, 1)
        plan.save(path, timings=True)
        return plan

    def accuracy(self, plan: Plan, precision: str = "plan") -> float:
        entries = plan_annotations(plan, precision)
        key = hashlib.sha256(annotations_json(entries).encode()).hexdigest()[:16]
        cached = self.work / f"module-{key}.json"
        if cached.is_file():
            return json.loads(cached.read_text())["top1"]
        vmfb = self.work / f"module-{key}.vmfb"
        # The pipeline's compile retries, on a copy: the cache key stays the plan's.
        lower_and_compile(self.labelled, copy.deepcopy(plan), QuantizeOptions(precision=precision), self.host, vmfb)
        runner = ModuleRunner(vmfb, "local-task")
        hits = sum(int(np.argmax(runner(self.x[i : i + 1])[0]) == self.y[i]) for i in range(len(self.x)))
        vmfb.unlink()
        top1 = hits / len(self.x)
        cached.write_text(json.dumps({"top1": top1}))
        return top1

    def ort_minmax(self, calib: np.ndarray, seed: int) -> float:
        import onnxruntime as ort

        cached = self.work / f"ort-minmax-seed{seed}.json"
        if cached.is_file():
            return json.loads(cached.read_text())["top1"]
        out = self.work / f"ort-minmax-seed{seed}.onnx"
        quantize_static_qdq(self.path, out, calib, "minmax")
        session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        hits = sum(int(np.argmax(session.run(None, {"x": self.x[i : i + 1]})[0]) == self.y[i])
                   for i in range(len(self.x)))
        top1 = hits / len(self.x)
        cached.write_text(json.dumps({"top1": top1}))
        return top1


def _spread(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "values": values}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out" / "zoo-accuracy-work")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--seeds", type=int, default=3, help="calibration seeds")
    parser.add_argument("--calib", type=int, default=256)
    parser.add_argument("--eval", type=int, default=10000, help="test images (default: all 10,000)")
    parser.add_argument("--budgets", default="0.1,0.2")
    parser.add_argument("--recipe", default="auto+bc+prop", choices=list(RECIPES))
    args = parser.parse_args()
    test = np.load(CACHE / "fmnist_test.npz")
    x, y = test["x"][: args.eval].astype(np.float32), test["y"][: args.eval]
    budgets = [float(b) for b in args.budgets.split(",")]
    result: dict = {"command": "python " + " ".join(sys.argv), "machine": f"{platform.platform()}",
                    "eval_images": len(x), "calibration_images": args.calib, "seeds": args.seeds,
                    "recipe": args.recipe, "budgets": budgets, "models": {}}
    calibs = [calibration_set(seed, args.calib) for seed in range(args.seeds)]
    for name in args.models.split(","):
        model = Model(name, args.workdir, x, y)
        meta = json.loads((CACHE / f"{name}.json").read_text())
        _log(f"== {name}")
        fp32 = model.accuracy(model.analysis(calibs[0], 0, "minmax"), "fp32")
        runs: dict[str, list[float]] = {}
        seconds: dict[str, list[float]] = {}

        def add(key: str, value: float) -> None:
            runs.setdefault(key, []).append(value)

        for seed, calib in enumerate(calibs):
            _log(f"   seed {seed}")
            old = model.analysis(calib, seed, "minmax")
            plan = model.analysis(calib, seed, args.recipe)
            sweep = model.analysis(calib, seed, args.recipe, "sweep")
            for key, p in (("quantunev2", plan), ("sweep", sweep)):
                seconds.setdefault(key, []).append(p.phases_seconds.get("total", 0.0))
            add("int8 minmax", model.accuracy(old, "int8"))
            add(f"int8 {args.recipe}", model.accuracy(plan, "int8"))
            add("onnxruntime minmax", model.ort_minmax(calib, seed))
            scores = {layer.id: layer.act_sqnr for layer in sweep.layers if layer.act_sqnr is not None}
            for fraction in budgets:
                budget = f"fp32-fraction={fraction:g}"
                add(f"quantunev2 {fraction:g}", model.accuracy(replan(plan, model.labelled, budget, ratio=DEFAULT_RATIO)))
                add(f"sweep {fraction:g}", model.accuracy(
                    replan(plan, model.labelled, budget, ratio=(0.0, 1.0, 0.0, 0.0), act_sqnr=scores)))
                add(f"random {fraction:g}", model.accuracy(random_plan(plan, model.labelled, budget, seed)))
        result["models"][name] = {
            "torch_accuracy": meta.get("accuracy_top1"), "fp32": fp32, "layers": len(plan.layers),
            "methods": {key: _spread(values) for key, values in runs.items()},
            "plan_seconds": {key: _spread(values) for key, values in seconds.items()},
            # Rank agreement with the sweep on the first seed's analyses.
            "rank_study": study({"local": model.analysis(calibs[0], 0, "auto+bc"),
                                 "propagation": model.analysis(calibs[0], 0, args.recipe)},
                                model.analysis(calibs[0], 0, args.recipe, "sweep"), model.labelled),
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
    _log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
