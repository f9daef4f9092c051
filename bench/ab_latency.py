"""Interleaved latency of a few compiled modules, for A/B experiments.

Each round times every module once with iree-benchmark-module
(quantune_mlir.benchmark), the order rotating from round to round, so that
machine noise hits all modules alike; the medians and their ratios to the
first module are printed and, with --out, written to JSON.

With ``--devices local-task,local-sync`` every module is timed on each
device (names get an ``@device`` suffix).

Usage: python bench/ab_latency.py fp32=fp32.vmfb int8=int8.vmfb [--rounds 7] [--threads 1]
           [--devices local-task]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from quantune_mlir.benchmark import benchmark_module
from quantune_mlir.evaluate import module_inputs
from quantune_mlir.runtime import ModuleRunner


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="+", metavar="NAME=VMFB", help="modules to compare; the first is the baseline")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds per measurement (default 0.5)")
    parser.add_argument("--devices", default="local-task", help="comma-separated IREE devices (default local-task)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    devices = [d for d in args.devices.split(",") if d]
    modules: dict[str, str] = {}
    for item in args.modules:
        name, sep, path = item.partition("=")
        if not sep or not Path(path).is_file():
            parser.error(f"expected NAME=VMFB with an existing file, got '{item}'")
        modules[name] = path
    calls = {}
    for name, path in modules.items():
        runner = ModuleRunner(path, "local-task")
        for device in devices:
            label = name if len(devices) == 1 else f"{name}@{device}"
            calls[label] = (path, device, runner.function, module_inputs(runner))
        del runner
    times: dict[str, list[float]] = {label: [] for label in calls}
    order = list(calls)
    for r in range(args.rounds):
        k = r % len(order)
        for name in order[k:] + order[:k]:
            path, device, function, inputs = calls[name]
            latency = benchmark_module(path, function, inputs, device=device, threads=args.threads,
                                       repetitions=1, min_time_s=args.min_time)
            times[name].append(latency.median_ms)
        print(f"round {r + 1}: " + ", ".join(f"{n} {v[-1]:.2f} ms" for n, v in times.items()), file=sys.stderr)
    medians = {name: statistics.median(v) for name, v in times.items()}
    base = medians[order[0]]
    for name, ms in medians.items():
        print(f"{name}: {ms:.2f} ms ({ms / base:.3f}x {order[0]})")
    if args.out:
        args.out.write_text(json.dumps({"command": " ".join(sys.argv), "threads": args.threads,
                                        "rounds_ms": times, "median_ms": medians}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
