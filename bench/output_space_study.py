"""How --output-error changes the propagation estimate's agreement with the
sweep, on one pretrained network of bench_pretrained.py (run that first for
its views and calibration cache).

For each output space (``auto``: a final softmax compared as logits, and
``outputs``: as probabilities) it runs QuantuneV2 with --propagation and the
sweep in the same space (every ``--every``-th layer, the others kept out of
the sweep with --keep-fp32 to save time), and prints the Spearman
correlation and the standard deviation of (estimated - sweep) output SQNR.

Usage: python bench/output_space_study.py --net resnet50_nsfw [--every 3] [--out F.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent / "imagenet"))

import bench_pretrained as bp  # noqa: E402
from rank_study import spearman  # noqa: E402

from quantune_mlir.analysis import AnalysisOptions, run_analysis  # noqa: E402
from quantune_mlir.output_space import MODES  # noqa: E402

RECIPE = dict(calib_method="auto", bias_correction=True, budget="fp32-fraction=0.1")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--net", default="resnet50_nsfw", choices=sorted(bp.NETS))
    parser.add_argument("--every", type=int, default=1, help="sweep every k-th layer (default 1: all)")
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out" / "pretrained-work")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    bench = bp.Bench(bp.NETS[args.net], args.workdir / args.net, 256, 9)
    result: dict = {"command": "python " + " ".join(sys.argv), "net": args.net, "modes": {}}
    for mode in MODES:
        start = time.perf_counter()
        plan = run_analysis(bench.model, bench.calib,
                            AnalysisOptions(propagation=True, output_error=mode, **RECIPE)).plan
        estimate = {layer.id: layer.output_sqnr for layer in plan.layers if layer.output_sqnr is not None}
        ids = [layer.id for layer in plan.layers]
        swept = ids[:: args.every]
        keep = tuple(str(i) for i in ids if i not in swept)
        sweep_plan = run_analysis(bench.model, bench.calib, AnalysisOptions(
            method="sweep", propagation=False, output_error=mode, keep_fp32=keep, **RECIPE)).plan
        sweep = {layer.id: layer.act_sqnr for layer in sweep_plan.layers
                 if layer.id in swept and layer.act_sqnr is not None}
        common = sorted(set(sweep) & set(estimate))
        a = np.array([estimate[i] for i in common])
        b = np.array([sweep[i] for i in common])
        row = {"layers": len(common), "spearman": spearman(list(a), list(b)), "sd_db": float(np.std(a - b)),
               "sweep_range_db": [float(b.min()), float(b.max())], "seconds": round(time.perf_counter() - start, 1),
               "estimate": {str(i): estimate[i] for i in common}, "sweep": {str(i): sweep[i] for i in common}}
        result["modes"][mode] = row
        print(f"{mode}: {row['layers']} layers, Spearman {row['spearman']:.3f}, SD {row['sd_db']:.2f} dB, "
              f"sweep {b.min():.1f}-{b.max():.1f} dB ({row['seconds']:.0f} s)", flush=True)
        if args.out:
            args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
