"""How much of --propagation's estimate is sampling: the same analysis with
several seeds of the shadow schedule (which layer each calibration input
selects), against the sweep's per-layer output SQNR.

Uses bench_pretrained.py's network, views and cache (run that first: the
sweep's per-layer output SQNR is read from its JSON). Prints, per seed, the
standard deviation of (estimated - sweep) output SQNR and the Spearman
correlation, then the mean spread between seeds and the same figures for
the seeds' mean estimate.

Usage: python bench/propagation_seeds.py --net pp_lcnet --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent / "imagenet"))

import bench_pretrained as bp  # noqa: E402
from rank_study import spearman  # noqa: E402

from quantune_mlir import analysis  # noqa: E402
from quantune_mlir.analysis import AnalysisOptions, run_analysis  # noqa: E402
from quantune_mlir.propagation import shadow_schedule  # noqa: E402


def estimates(bench: bp.Bench, seed: int) -> dict[int, float]:
    """Each layer's estimated output SQNR with the schedule seeded ``seed``."""
    analysis.shadow_schedule = lambda ids, samples: shadow_schedule(ids, samples, seed)
    try:
        plan = run_analysis(bench.model, bench.calib, AnalysisOptions(
            calib_method="auto", bias_correction=True, propagation=True, budget="fp32-fraction=0.1")).plan
    finally:
        analysis.shadow_schedule = shadow_schedule
    return {layer.id: layer.output_sqnr for layer in plan.layers if layer.output_sqnr is not None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--net", default="pp_lcnet", choices=sorted(bp.NETS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "results" / "pretrained.json")
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out" / "pretrained-work")
    args = parser.parse_args()
    sweep = {s["id"]: s["sweep_output_sqnr"] for s in json.loads(args.results.read_text())["nets"][args.net]["sensitivity"]
             if s["sweep_output_sqnr"] is not None}
    bench = bp.Bench(bp.NETS[args.net], args.workdir / args.net, 256, 9)
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = [estimates(bench, seed) for seed in seeds]
    ids = sorted(set(sweep).intersection(*runs))
    truth = np.array([sweep[i] for i in ids])
    table = np.array([[run[i] for i in ids] for run in runs])
    for seed, row in zip(seeds, table):
        print(f"seed {seed}: SD from the sweep {np.std(row - truth):.2f} dB, Spearman {spearman(row, truth):.3f}")
    if len(seeds) > 1:
        print(f"spread between seeds (mean per-layer SD): {np.mean(np.std(table, axis=0, ddof=1)):.2f} dB")
        mean = table.mean(axis=0)
        print(f"mean of the seeds: SD from the sweep {np.std(mean - truth):.2f} dB, Spearman {spearman(mean, truth):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
