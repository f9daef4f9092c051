"""Pretrained networks: how much each quantization method keeps of fp32.

For every network of bench/imagenet/nets.py, on views of natural photos
from installed packages (bench/imagenet/photos.py; calibration and
evaluation photos are disjoint), against the fp32 network in onnxruntime:

- onnxruntime ``quantize_static`` (QDQ, per-channel int8, MinMax and
  Percentile calibrators), run in onnxruntime;
- our modules (IREE, host CPU, CPU recipe) for several calibration recipes
  (``--configs``: range method and bias correction): uniform int8 and
  QuantuneV2 at 10 % fp32 layers;
- for the default recipe, QuantuneV2 at every ``--budgets`` fraction, the
  per-layer sweep's ranking and a random ranking (``--seeds`` seeds) at the
  same budgets. The three rankings share the recipe's activation ranges
  and bias corrections, so they differ only in which layers stay fp32;
- three tiers (``--int4-budgets``, fractions of the fp32 weight bytes; empty
  to skip): uniform w4a8, and at each budget QuantuneV2's three-tier plan,
  the sweep's ranking (each layer's w4a8 error at the output) and a random
  ranking, all from one ``--int4`` analysis with the default recipe.

Metrics (bench/imagenet/fidelity.py): top-1 and top-5 agreement, agreement
on confident views, mean KL and output SQNR. Analyses, reference outputs
and module scores are cached in ``--workdir``; a module's key is its plan's
annotations and the lowering half of the compiler (bench/compiler_key.py),
so an analysis change reaches it through the plan. Delete the cached plans
(``plan-*.json``) after an analysis change.

Usage: python bench/bench_pretrained.py --out bench/results/pretrained.json
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
sys.path.insert(0, str(Path(__file__).parent / "imagenet"))

import photos  # noqa: E402
from fidelity import CONFIDENT_MARGIN, FIDELITY_VERSION, fidelity  # noqa: E402
from nets import NETS, Net  # noqa: E402
from ort_quant import quantize_static_qdq  # noqa: E402
from compiler_key import LOWERING_SOURCES, compiler_key  # noqa: E402
from rank_study import study  # noqa: E402

from quantune_mlir.analysis import LABEL_PASSES, AnalysisOptions, run_analysis  # noqa: E402
from quantune_mlir.importer import import_onnx  # noqa: E402
from quantune_mlir.jsonio import annotations_json  # noqa: E402
from quantune_mlir.lowering import plan_annotations  # noqa: E402
from quantune_mlir.onnx_model import load_onnx  # noqa: E402
from quantune_mlir.opt import run_quantune_opt  # noqa: E402
from quantune_mlir.pipeline import QuantizeOptions, lower_and_compile, weight_bytes  # noqa: E402
from quantune_mlir.plan import Plan, load_plan  # noqa: E402
from quantune_mlir.range_choice import DEFAULT_RATIO  # noqa: E402
from quantune_mlir.replan import random_plan, replan  # noqa: E402
from quantune_mlir.runtime import ModuleRunner  # noqa: E402
from quantune_mlir.targets import parse_target  # noqa: E402

# Analysis recipes: (range method, bias correction, propagation-aware ranking).
CONFIGS = {
    "minmax": ("minmax", False, False),
    "percentile": ("percentile", False, False),
    "mse": ("mse", False, False),
    "auto": ("auto", False, False),
    "minmax+bc": ("minmax", True, False),
    "auto+bc": ("auto", True, False),
    "auto+bc+prop": ("auto", True, True),
}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Bench:
    """One network: its data, reference outputs, analyses and modules, cached in ``work``."""

    def __init__(self, net: Net, work: Path, calib_count: int, views_per_photo: int) -> None:
        self.net, self.work = net, work
        work.mkdir(parents=True, exist_ok=True)
        self.model = net.build(work.parent / "onnx")
        calib_photos, eval_photos = photos.split(photos.all_photos(work.parent / "photos"))
        self.photos = {"calibration": [p.key for p in calib_photos], "evaluation": [p.key for p in eval_photos]}
        self.calib = photos.stack(photos.calib_crops(calib_photos, calib_count), net.preprocess)
        self.x = photos.stack(photos.eval_crops(eval_photos, views_per_photo), net.preprocess)
        self.reference = self._ort_outputs(self.model, "reference")
        self.labelled: str | None = None
        self.host = parse_target("host")

    def _ort_outputs(self, model: Path, name: str) -> np.ndarray:
        cached = self.work / f"{name}-{len(self.x)}.npy"
        if cached.is_file():
            return np.load(cached)
        import onnxruntime as ort

        session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        input_name = session.get_inputs()[0].name
        out = np.concatenate([session.run(None, {input_name: self.x[i : i + 1]})[0] for i in range(len(self.x))])
        np.save(cached, out)
        return out

    def score(self, outputs: np.ndarray) -> dict:
        return fidelity(outputs, self.reference, self.net.outputs_probabilities)

    # ------------------------------------------------------------------ analyses

    def analysis(self, config: str, method: str = "quantunev2", int4: bool = False) -> Plan:
        path = self.work / f"plan-{method}-{config}{'-int4' if int4 else ''}-{len(self.calib)}.json"
        if path.is_file():
            return load_plan(path)
        calib_method, bias_correction, propagation = CONFIGS[config]
        start = time.perf_counter()
        result = run_analysis(self.model, self.calib, AnalysisOptions(
            method=method, calib_method=calib_method, bias_correction=bias_correction,
            propagation=propagation and method == "quantunev2", int4=int4,
            budget="weight-fraction=0.15" if int4 else "fp32-fraction=0.1",
        ))
        result.plan.phases_seconds["total"] = round(time.perf_counter() - start, 1)
        self.labelled = result.labelled
        result.plan.save(path, timings=True)
        return result.plan

    def labelled_ir(self) -> str:
        if self.labelled is None:
            self.labelled = run_quantune_opt(import_onnx(load_onnx(self.model)), LABEL_PASSES)
        return self.labelled

    # ------------------------------------------------------------------ modules

    def measure(self, plan: Plan, precision: str = "plan") -> dict:
        entries = plan_annotations(plan, precision)
        # The plan and the compiler that lowers it: a lowering change
        # rebuilds the module, an analysis change only through the plan.
        key = hashlib.sha256((annotations_json(entries) + compiler_key(LOWERING_SOURCES)
                              + f"fidelity{FIDELITY_VERSION}").encode()).hexdigest()[:16]
        cached = self.work / f"module-{key}.json"
        fp32_bytes, quantized = weight_bytes(plan, precision)
        if cached.is_file():
            record = json.loads(cached.read_text())
            record.setdefault("weight_fraction", quantized / fp32_bytes)  # records of older runs lack it
            record.setdefault("int4_layers", sum(1 for e in entries if e["precision"] == "i4"))
            return record
        vmfb = self.work / f"module-{key}.vmfb"
        # The pipeline's retries (microkernel failures, layers IREE cannot
        # compile in int8) on a copy: the cache key stays the plan's.
        lowered, _ = lower_and_compile(self.labelled_ir(), copy.deepcopy(plan),
                                       QuantizeOptions(precision=precision), self.host, vmfb)
        runner = ModuleRunner(vmfb, "local-task")
        outputs = np.concatenate([runner(self.x[i : i + 1])[0] for i in range(len(self.x))])
        vmfb.unlink()
        record = {**self.score(outputs), "int8_layers": lowered.int8_layers, "int4_layers": lowered.int4_layers,
                  "fp32_layers": len(plan.layers) - lowered.int8_layers - lowered.int4_layers,
                  "folded_pairs": lowered.folded_pairs, "weight_fraction": quantized / fp32_bytes}
        cached.write_text(json.dumps(record))
        return record

    def ort_static(self, method: str) -> dict:
        out = self.work / f"ort-{method}-{len(self.calib)}.onnx"
        if not out.is_file():
            quantize_static_qdq(self.model, out, self.calib, method)
        return self.score(self._ort_outputs(out, f"ort-{method}-{len(self.calib)}"))


def _spread(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values)}


def run_int4(bench: Bench, default: str, budgets: list[float], seeds: int, sweep: bool,
             ratio: tuple[float, ...]) -> dict:
    """Three tiers: uniform w4a8 and, per weight budget, QuantuneV2 / sweep / random."""
    _log(f"[{bench.net.name}] three tiers")
    plan = bench.analysis(default, int4=True)
    labelled = bench.labelled_ir()
    out: dict = {"plan_seconds": plan.phases_seconds.get("total"), "w4a8": bench.measure(plan, "int4"),
                 "int8": bench.measure(plan, "int8"), "budgets": {}}
    scores = None
    if sweep:
        swept = bench.analysis(default, "sweep", int4=True)
        out["sweep_plan_seconds"] = swept.phases_seconds.get("total")
        scores = {layer.id: layer.i4.act_sqnr for layer in swept.layers if layer.i4 and layer.i4.act_sqnr is not None}
    for fraction in budgets:
        budget = f"weight-fraction={fraction:g}"
        _log(f"[{bench.net.name}] three tiers at {budget}")
        point: dict = {"quantunev2": bench.measure(replan(plan, labelled, budget, ratio=ratio))}
        if scores is not None:
            point["sweep"] = bench.measure(replan(plan, labelled, budget, ratio=(0.0, 1.0, 0.0, 0.0), act_sqnr=scores,
                                                 method="sweep"))
        runs = [bench.measure(random_plan(plan, labelled, budget, seed)) for seed in range(seeds)]
        point["random"] = {metric: _spread([r[metric] for r in runs])
                           for metric in ("top1", "confident_top1", "mean_kl", "weight_fraction", "int4_layers")
                           if all(r.get(metric) is not None for r in runs)}
        out["budgets"][f"{fraction:g}"] = point
    return out


def run_net(bench: Bench, configs: list[str], default: str, ranking_configs: list[str], budgets: list[float],
            seeds: int, sweep: bool, ratio: tuple[float, ...], int4_budgets: list[float]) -> dict:
    net = bench.net
    result: dict = {"family": net.family, "classes": net.classes, "views": len(bench.x),
                    "calibration_views": len(bench.calib), "photos": bench.photos}
    fp32 = bench.analysis(default)  # also the source of the layer list
    result["layers"] = len(fp32.layers)
    _log(f"[{net.name}] fp32 module")
    result["fp32"] = bench.measure(fp32, "fp32")
    for method in ("minmax", "percentile"):
        _log(f"[{net.name}] onnxruntime quantize_static {method}")
        result[f"ort_{method}"] = bench.ort_static(method)
    result["configs"] = {}
    for config in configs:
        _log(f"[{net.name}] recipe {config}")
        plan = bench.analysis(config)
        result["configs"][config] = {
            "plan_seconds": plan.phases_seconds.get("total"),
            "act_ranges": _count(layer.act_range for layer in plan.layers if layer.act_range),
            "int8": bench.measure(plan, "int8"),
            "quantunev2_0.1": bench.measure(replan(plan, bench.labelled_ir(), "fp32-fraction=0.1", ratio=ratio)),
        }
    plan = bench.analysis(default)
    labelled = bench.labelled_ir()
    rankings: dict = {f"quantunev2 {config}": {} for config in ranking_configs}
    rankings["random"] = {}
    sweep_plan = bench.analysis(default, "sweep") if sweep else None
    if sweep_plan is not None:
        rankings["sweep"] = {}
        result["sweep_plan_seconds"] = sweep_plan.phases_seconds.get("total")
    result["plan_seconds"] = {config: bench.analysis(config).phases_seconds.get("total") for config in ranking_configs}
    for fraction in budgets:
        budget = f"fp32-fraction={fraction:g}"
        _log(f"[{net.name}] rankings at {budget}")
        for config in ranking_configs:
            rankings[f"quantunev2 {config}"][f"{fraction:g}"] = bench.measure(
                replan(bench.analysis(config), labelled, budget, ratio=ratio))
        if sweep_plan is not None:
            # The sweep's ranking, on the default recipe's ranges and corrections.
            scores = {layer.id: layer.act_sqnr for layer in sweep_plan.layers if layer.act_sqnr is not None}
            ranked = replan(plan, labelled, budget, ratio=(0.0, 1.0, 0.0, 0.0), act_sqnr=scores, method="sweep")
            rankings["sweep"][f"{fraction:g}"] = bench.measure(ranked)
        runs = [bench.measure(random_plan(plan, labelled, budget, seed)) for seed in range(seeds)]
        rankings["random"][f"{fraction:g}"] = {
            metric: _spread([r[metric] for r in runs]) for metric in ("top1", "confident_top1", "mean_kl")
            if all(r[metric] is not None for r in runs)
        }
    result["rankings"] = rankings
    if sweep_plan is not None:
        result["rank_study"] = study({config: bench.analysis(config) for config in ranking_configs}, sweep_plan, labelled)
    if int4_budgets:
        result["int4"] = run_int4(bench, default, int4_budgets, seeds, sweep, ratio)
    result["sensitivity"] = [
        {"id": layer.id, "name": layer.name, "kind": layer.kind, "quantunev2": layer.sensitivity,
         "weight_sqnr": layer.weight_sqnr, "local_act_sqnr": layer.act_sqnr, "output_sqnr": layer.output_sqnr,
         "gain_db": layer.gain_db, "act_range": layer.act_range,
         "sweep_output_sqnr": next((s.act_sqnr for s in sweep_plan.layers if s.id == layer.id), None)
         if sweep_plan is not None else None}
        for layer in plan.layers
    ]
    return result


def _count(items: object) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:  # type: ignore[attr-defined]
        counts[item] = counts.get(item, 0) + 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out" / "pretrained-work")
    parser.add_argument("--nets", default=",".join(NETS))
    parser.add_argument("--calib", type=int, default=256, help="calibration views")
    parser.add_argument("--views-per-photo", type=int, default=9)
    parser.add_argument("--configs", default=",".join(CONFIGS), help="calibration recipes to compare")
    parser.add_argument("--default", default="auto+bc+prop",
                        help="the recipe whose ranges and corrections the sweep and random rankings use")
    parser.add_argument("--ranking-configs", default="auto+bc,auto+bc+prop",
                        help="recipes whose own QuantuneV2 rankings are measured at every budget")
    parser.add_argument("--budgets", default="0.05,0.1,0.2")
    parser.add_argument("--int4-budgets", default="0.15,0.2",
                        help="three-tier weight budgets (fractions of the fp32 weight bytes); empty to skip")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--ratio", default=",".join(f"{r:g}" for r in DEFAULT_RATIO),
                        help="the ratio QuantuneV2's rankings are cut with (the analyses do not depend on it)")
    args = parser.parse_args()
    out: dict = {
        "command": "python " + " ".join(sys.argv),
        "machine": f"{platform.platform()}, {platform.machine()}",
        "confident_margin": CONFIDENT_MARGIN,
        "default_recipe": args.default,
        "ratio": args.ratio,
        "nets": {},
    }
    if args.out.is_file():
        # Keep the networks an earlier run measured (with its own command) and this one does not.
        old = json.loads(args.out.read_text())
        out["nets"] = {k: v for k, v in old.get("nets", {}).items() if k not in args.nets.split(",")}
        out["commands"] = [c for c in old.get("commands", [old.get("command")]) if c]
    out["commands"] = out.get("commands", []) + [out["command"]]
    for name in args.nets.split(","):
        start = time.perf_counter()
        bench = Bench(NETS[name], args.workdir / name, args.calib, args.views_per_photo)
        out["nets"][name] = run_net(bench, args.configs.split(","), args.default, args.ranking_configs.split(","),
                                    [float(b) for b in args.budgets.split(",")], args.seeds, not args.no_sweep,
                                    tuple(float(r) for r in args.ratio.split(",")),
                                    [float(b) for b in args.int4_budgets.split(",") if b])
        out["nets"][name]["bench_seconds"] = round(time.perf_counter() - start, 1)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2))
        _log(f"[{name}] done in {out['nets'][name]['bench_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
