"""Latency of a compiled module through iree-benchmark-module.

Each measurement runs ``iree-benchmark-module`` (shipped with the
iree-base-runtime wheel) on one function with zero-filled inputs of the
function's own signature, a fixed number of worker threads and several
repetitions, and reads the per-repetition times from its JSON output.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from quantune_mlir.errors import QuantuneError


@dataclass(frozen=True)
class Latency:
    """Times of one function over several repetitions, in milliseconds."""

    median_ms: float
    min_ms: float
    max_ms: float
    stdev_ms: float
    repetitions: int
    threads: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def find_benchmark_tool() -> Path:
    """iree-benchmark-module next to this Python, or on PATH."""
    beside = Path(sys.executable).parent / "iree-benchmark-module"
    if beside.exists():
        return beside
    found = shutil.which("iree-benchmark-module")
    if not found:
        raise QuantuneError("iree-benchmark-module not found; install iree-base-runtime (make setup)")
    return Path(found)


def input_flags(shapes: Sequence[tuple[tuple[int, ...], str]]) -> list[str]:
    """``--input=`` flags for zero-filled inputs, e.g. ``1x3x64x64xf32=0``."""
    return [f"--input={'x'.join(str(d) for d in shape)}x{dtype}=0" for shape, dtype in shapes]


def benchmark_module(
    module: str | os.PathLike[str],
    function: str,
    inputs: Sequence[tuple[tuple[int, ...], str]],
    *,
    device: str = "local-task",
    threads: int = 1,
    repetitions: int = 10,
    min_time_s: float = 0.2,
) -> Latency:
    """Measures ``function`` of ``module`` (see the module docstring)."""
    if threads < 1 or repetitions < 1:
        raise QuantuneError("threads and repetitions must be at least 1")
    cmd = [
        str(find_benchmark_tool()),
        f"--module={module}",
        f"--function={function}",
        f"--device={device}",
        *input_flags(inputs),
        f"--benchmark_repetitions={repetitions}",
        f"--benchmark_min_time={min_time_s}s",
        "--benchmark_format=json",
        "--benchmark_report_aggregates_only=false",
    ]
    if device == "local-task":
        cmd.append(f"--task_topology_group_count={threads}")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        detail = next((line for line in lines if "error" in line.lower() or "INVALID" in line), lines[-1] if lines else "")
        raise QuantuneError(f"iree-benchmark-module failed on {module}: {detail.strip()}")
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise QuantuneError("iree-benchmark-module printed no JSON report") from None
    times = [
        _to_ms(b["real_time"], b.get("time_unit", "ns"))
        for b in report.get("benchmarks", [])
        if b.get("run_type") == "iteration"
    ]
    if not times:
        raise QuantuneError("iree-benchmark-module reported no repetitions")
    return Latency(
        median_ms=statistics.median(times),
        min_ms=min(times),
        max_ms=max(times),
        stdev_ms=statistics.stdev(times) if len(times) > 1 else 0.0,
        repetitions=len(times),
        threads=threads,
    )


def _to_ms(value: float, unit: str) -> float:
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}.get(unit)
    if scale is None:
        raise QuantuneError(f"unknown time unit '{unit}' in iree-benchmark-module output")
    return float(value) * scale
