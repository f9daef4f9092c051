"""Rank agreement (Spearman) between quantunev2 and the sweep on a trained model.

Trains bench/train_small_cnn.py's model if its ONNX file is not cached, runs
both methods on 256 Fashion-MNIST test images, and writes the two
sensitivity lists, their Spearman correlation and the wall times to JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import fmnist  # noqa: E402
from rank_study import spearman  # noqa: E402

from quantune_mlir.analysis import AnalysisOptions, analyze  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=Path(__file__).parent / "zoo" / "cache" / "small_cnn.onnx")
    parser.add_argument("--calib", type=int, default=256)
    args = parser.parse_args()
    if not args.model.is_file():
        subprocess.run([sys.executable, str(Path(__file__).parent / "train_small_cnn.py"), "--out", str(args.model)], check=True)
    images, _ = fmnist.load("test")
    calib = images[: args.calib] - 0.5
    accuracy_file = args.model.with_suffix(".accuracy")
    result = {
        "model": str(args.model),
        "accuracy": accuracy_file.read_text().strip() if accuracy_file.is_file() else None,
        "calibration_inputs": args.calib,
        "ratio": ",".join(f"{r:g}" for r in AnalysisOptions().ratio),
        "propagation": AnalysisOptions().propagation,
        "runs": {},
    }
    for method in ("quantunev2", "sweep"):
        start = time.perf_counter()
        plan = analyze(args.model, calib, AnalysisOptions(method=method))
        result["runs"][method] = {
            "wall_seconds": round(time.perf_counter() - start, 2),
            "sensitivity": {layer.name: layer.sensitivity for layer in plan.layers},
            "act_sqnr": {layer.name: layer.act_sqnr for layer in plan.layers},
        }
    names = list(result["runs"]["quantunev2"]["sensitivity"])
    result["spearman"] = spearman(
        [result["runs"]["quantunev2"]["sensitivity"][n] for n in names],
        [result["runs"]["sweep"]["sensitivity"][n] for n in names],
    )
    # Activation SQNR alone: the local one (quantunev2) against the
    # output-level one (sweep); lower SQNR means more sensitive in both.
    result["spearman_act_sqnr"] = spearman(
        [result["runs"]["quantunev2"]["act_sqnr"][n] for n in names],
        [result["runs"]["sweep"]["act_sqnr"][n] for n in names],
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
