"""How --propagation's ranking improves with more calibration inputs.

Each calibration input measures one layer's gain to the output, so with N
inputs and L layers each gain rests on about N / L inputs
(docs/analysis.md, "Propagation-aware ranking"). This study runs the
default recipe's analysis (auto ranges, bias correction, --propagation) on
the first N calibration views of bench_pretrained.py, for several N, and
compares each ranking with the sweep's (run by bench_pretrained.py on its
256 views; read from its cache):

- the standard deviation of (estimated - sweep) per-layer output SQNR, and
  the Spearman correlation of the two;
- at each fp32 budget, which layers the ranking keeps fp32 against the
  sweep's, and the agreement with fp32 of that cut applied to the
  benchmark's own plan (its ranges and corrections, as the sweep and random
  rankings of bench_pretrained.py are), so that only the ranking differs.

The views of a smaller N are the first views of a larger one (the crops are
drawn from one seeded sequence). Analyses and module scores use
bench_pretrained.py's cache (``--workdir``).

Usage: python bench/calib_count_study.py --net pp_lcnet --counts 256,512,1024 --out bench/results/calib_count.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent / "imagenet"))

import bench_pretrained as bp  # noqa: E402
from rank_study import spearman  # noqa: E402

from quantune_mlir.plan import Plan  # noqa: E402
from quantune_mlir.replan import replan  # noqa: E402

DEFAULT = "auto+bc+prop"


def _output_sqnr(plan: Plan) -> dict[int, float]:
    return {layer.id: layer.output_sqnr for layer in plan.layers if layer.output_sqnr is not None}


def _f32(plan: Plan) -> list[int]:
    return [layer.id for layer in plan.layers if layer.precision == "f32" and not layer.reason]


def study(net: str, counts: list[int], budgets: list[float], workdir: Path) -> dict:
    base = bp.Bench(bp.NETS[net], workdir / net, 256, 9)
    plan = base.analysis(DEFAULT)
    labelled = base.labelled_ir()
    swept = {layer.id: layer.act_sqnr for layer in base.analysis(DEFAULT, "sweep").layers
             if layer.act_sqnr is not None}

    def cut(scores: dict[int, float], budget: str, method: str) -> Plan:
        # Ranked by output SQNR alone: the default ratio's two terms (SQNR
        # and MSE at the output) are monotone in it, so the order is the same.
        return replan(plan, labelled, budget, ratio=(0.0, 1.0, 0.0, 0.0), act_sqnr=scores, method=method)

    result: dict = {"layers": len(plan.layers), "sweep_calibration_views": 256, "counts": {}, "sweep": {}}
    for fraction in budgets:
        ranked = cut(swept, f"fp32-fraction={fraction:g}", "sweep")
        result["sweep"][f"{fraction:g}"] = {**base.measure(ranked), "fp32_ids": _f32(ranked)}
    for count in counts:
        bp._log(f"[{net}] analysis on {count} calibration views")
        bench = base if count == 256 else bp.Bench(bp.NETS[net], workdir / net, count, 9)
        estimated = _output_sqnr(bench.analysis(DEFAULT))
        ids = sorted(set(estimated) & set(swept))
        diff = np.array([estimated[i] - swept[i] for i in ids])
        entry: dict = {
            "inputs_per_layer": count / len(plan.layers),
            "plan_seconds": bench.analysis(DEFAULT).phases_seconds.get("total"),
            "sd_vs_sweep_db": float(diff.std()),
            "mean_vs_sweep_db": float(diff.mean()),
            "spearman_vs_sweep": spearman([estimated[i] for i in ids], [swept[i] for i in ids]),
            "budgets": {},
        }
        for fraction in budgets:
            budget = f"fp32-fraction={fraction:g}"
            ranked = cut(estimated, budget, "quantunev2")
            entry["budgets"][f"{fraction:g}"] = {**base.measure(ranked), "fp32_ids": _f32(ranked)}
        result["counts"][str(count)] = entry
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--net", default="pp_lcnet", choices=sorted(bp.NETS))
    parser.add_argument("--counts", default="256,512,1024")
    parser.add_argument("--budgets", default="0.05,0.1,0.2")
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out" / "pretrained-work")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    budgets = [float(b) for b in args.budgets.split(",")]
    out = {
        "command": "python bench/calib_count_study.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.processor() or platform.machine()}, {platform.platform()}",
        "nets": {args.net: study(args.net, counts, budgets, args.workdir)},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    for count, entry in out["nets"][args.net]["counts"].items():
        cuts = "; ".join(f"{b}: fp32 {p['fp32_ids']} top-1 {100 * p['top1']:.1f} %"
                         for b, p in entry["budgets"].items())
        print(f"{count} inputs ({entry['inputs_per_layer']:.0f}/layer): SD {entry['sd_vs_sweep_db']:.2f} dB, "
              f"Spearman {entry['spearman_vs_sweep']:.3f}; {cuts}")
    sweep = "; ".join(f"{b}: fp32 {p['fp32_ids']} top-1 {100 * p['top1']:.1f} %"
                      for b, p in out["nets"][args.net]["sweep"].items())
    print(f"sweep: {sweep}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
