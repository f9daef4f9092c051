"""Finding and running the quantune-opt pass driver."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from quantune_mlir.errors import QuantuneError

_REPO_ROOT = Path(__file__).resolve().parents[2]


def find_quantune_opt() -> Path:
    """Locates quantune-opt.

    Order: ``$QUANTUNE_OPT``; the CMake build directory of this checkout
    (``build/bin``, used by the editable install); the ``bin`` directory of
    the running Python's prefix (``cmake --install build --prefix .venv``);
    ``quantune-opt`` on PATH.
    """
    env = os.environ.get("QUANTUNE_OPT")
    if env:
        path = Path(env)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise QuantuneError(f"QUANTUNE_OPT='{env}' is not an executable file")
        return path
    for candidate in (_REPO_ROOT / "build" / "bin" / "quantune-opt", Path(sys.prefix) / "bin" / "quantune-opt"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    on_path = shutil.which("quantune-opt")
    if on_path:
        return Path(on_path)
    raise QuantuneError(
        "quantune-opt not found: run `make build`, put it on PATH, or set QUANTUNE_OPT"
    )


def run_quantune_opt(mlir_text: str, args: Sequence[str]) -> str:
    """Runs quantune-opt on ``mlir_text`` with ``args`` (e.g. pass flags).

    The result is printed in generic form with locations, the form IREE's
    newer MLIR parses. Diagnostics become a :class:`QuantuneError` carrying
    the first error line.
    """
    cmd = [
        str(find_quantune_opt()),
        "-",
        "--mlir-print-op-generic",
        "--mlir-print-debuginfo",
        "--mlir-print-op-on-diagnostic=false",
        *args,
    ]
    proc = subprocess.run(cmd, input=mlir_text, capture_output=True, text=True)
    if proc.returncode != 0:
        errors = [line for line in proc.stderr.splitlines() if "error:" in line]
        detail = errors[0].strip() if errors else (proc.stderr.strip() or f"exit status {proc.returncode}")
        detail = clean_diagnostic(detail)
        passes = [a.split("=", 1)[0].lstrip("-") for a in args if a.startswith("--quantune-")]
        if not any(p in detail for p in passes):
            detail = f"{', '.join(passes) or 'quantune-opt'} failed: {detail}"
        raise QuantuneError(detail)
    return proc.stdout


_TEMP_PATH = re.compile(re.escape(tempfile.gettempdir().rstrip("/")) + r"/quantune-[^/\s']*/")
_DIAG_PREFIX = re.compile(r"^(?:<unknown>|<stdin>|-)(?::\d+)*: error: ")
_LOC_PREFIX = re.compile(r'^loc\((?:callsite\()?"([^"]*)"(?: at "[^"]*"\))?\): ')


_FUSED_PREFIX = re.compile(r'^loc\(fused\[(.*?)\]\): ')
_FUSED_NAME = re.compile(r'(?:callsite\()?"((?:[^"\\]|\\.)*)"(?: at "(?:[^"\\]|\\.)*"\))?')
_FUSED_SHOWN = 3


def _fused_nodes(match: re.Match[str]) -> str:
    """``loc(fused[callsite("A" at ...), "B", ...]): `` (an op IREE made from
    several ONNX nodes) as ``at ONNX nodes 'A', 'B' and N more: ``."""
    names = list(dict.fromkeys(_FUSED_NAME.findall(match.group(1))))
    if len(names) == 1:
        return f"at ONNX node '{names[0]}': "
    shown = ", ".join(f"'{name}'" for name in names[:_FUSED_SHOWN])
    more = f" and {len(names) - _FUSED_SHOWN} more" if len(names) > _FUSED_SHOWN else ""
    return f"at ONNX nodes {shown}{more}: "


def clean_diagnostic(line: str) -> str:
    """An MLIR diagnostic line as a user reads it: no ``<stdin>:L:C`` prefix,
    the op's location as its ONNX node (or nodes, for an op fused from
    several), and no private temporary directories."""
    line = _DIAG_PREFIX.sub("", line.strip())
    line = _LOC_PREFIX.sub(r"at ONNX node '\1': ", line)
    line = _FUSED_PREFIX.sub(_fused_nodes, line)
    return _TEMP_PATH.sub("", line)
