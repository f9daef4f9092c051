"""Running arm64 modules on an x86 host: IREE's aarch64 runtime under qemu-user.

IREE publishes an aarch64 ``iree-base-runtime`` wheel; ``scripts/setup.sh``
unpacks it (at the version ``constraints.txt`` pins) into
``<venv>/share/quantune/aarch64-runtime`` and installs Debian's
``qemu-user``, ``libc6-arm64-cross`` and ``libstdc++6-arm64-cross``. The
wheel's ``iree-run-module`` then runs as::

    qemu-aarch64 -L /usr/aarch64-linux-gnu iree-run-module \\
        --device=local-sync --module=m.vmfb --input=@x.npy --output=@y.npy

qemu emulates every instruction of the module (its default CPU has
dotprod, i8mm, bf16, sve and sve2), so the numbers are the arm64 code's
own. Its time is not: emulated time says nothing about real ARM speed
(:data:`EMULATED_TIME_NOTE`). Use this for correctness only.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from quantune_mlir.errors import QuantuneError, first_line

RUNTIME_ENV = "QUANTUNE_AARCH64_RUNTIME"
"""Overrides the unpacked aarch64 runtime wheel's directory."""
DEFAULT_RUNTIME_DIR = Path(sys.prefix) / "share" / "quantune" / "aarch64-runtime"
SYSROOT = Path("/usr/aarch64-linux-gnu")
QEMU_NAMES = ("qemu-aarch64", "qemu-aarch64-static")
SETUP_HINT = "run `make setup` (scripts/setup.sh installs it)"
EMULATED_TIME_NOTE = "emulated time under qemu, not a performance figure for ARM hardware"

DEVICES = ("local-sync", "local-task")

# Executable format strings of IREE's llvm-cpu target, as stored in the
# module: "embedded-elf-arm_64" (the default) or "system-elf-arm_64".
_FORMAT = re.compile(rb"(?:embedded|system)-elf-([a-z0-9_]+)")
_RESULTS = re.compile(r"->\s*\((.*)\)\s*$")
_VALUES_IN_LIST = re.compile(r"variant list only has (\d+) elements")


def executable_architectures(vmfb: str | os.PathLike[str] | bytes) -> set[str]:
    """CPU architectures of the module's llvm-cpu executables (``x86_64``, ``arm_64``, ``riscv_64``).

    Empty for a module with no CPU executables (a Vulkan module, or one
    whose work was all folded away).
    """
    if isinstance(vmfb, bytes):
        blob = vmfb
    elif Path(vmfb).is_file():
        blob = Path(vmfb).read_bytes()
    else:
        return set()  # missing or a directory: the runtime says so when it loads it
    return {m.decode() for m in _FORMAT.findall(blob)}


def host_is_arm64() -> bool:
    return platform.machine().lower() in ("aarch64", "arm64")


def needs_arm64_emulation(vmfb: str | os.PathLike[str] | bytes) -> bool:
    """True when ``vmfb`` holds arm64 code only and this host is not arm64."""
    return executable_architectures(vmfb) == {"arm_64"} and not host_is_arm64()


@dataclass(frozen=True)
class EmulatedRun:
    """Outputs of one emulated call, and its wall time (see :data:`EMULATED_TIME_NOTE`)."""

    outputs: list[np.ndarray]
    function: str
    seconds: float
    """Wall time of the qemu process: not a performance figure."""


@dataclass(frozen=True)
class Arm64Runner:
    """qemu-aarch64 plus the aarch64 ``iree-run-module`` from IREE's runtime wheel."""

    qemu: Path
    run_module_tool: Path
    sysroot: Path = SYSROOT

    def command(self, *args: str) -> list[str]:
        return [str(self.qemu), "-L", str(self.sysroot), str(self.run_module_tool), *args]

    def run(
        self,
        vmfb: str | os.PathLike[str] | bytes,
        inputs: Sequence[np.ndarray],
        device: str = "local-sync",
        function: str | None = None,
        timeout: float | None = None,
    ) -> EmulatedRun:
        """Runs ``function`` of the arm64 module once under qemu; checks inputs as the host runner does."""
        import iree.runtime as ireert

        from quantune_mlir.runtime import _check_inputs, entry_function

        if device not in DEVICES:
            raise QuantuneError(f"arm64 modules run under qemu on {' or '.join(DEVICES)}, not '{device}'")
        source = "<module bytes>" if isinstance(vmfb, bytes) else str(vmfb)
        if not isinstance(vmfb, bytes) and not Path(vmfb).is_file():
            raise QuantuneError(f"cannot read module '{vmfb}': no such file")
        others = executable_architectures(vmfb) - {"arm_64"}
        if others:
            raise QuantuneError(f"'{source}' holds {', '.join(sorted(others))} code, not arm64 only; "
                                f"run it on a matching host or recompile it with --target arm64")
        # The host runtime reads the module's functions and signatures; only
        # running it needs the arm64 runtime.
        instance = ireert.VmInstance()
        try:
            if isinstance(vmfb, bytes):
                module = ireert.VmModule.copy_buffer(instance, vmfb)
            else:
                module = ireert.VmModule.mmap(instance, str(vmfb))
        except Exception as exc:
            raise QuantuneError(f"'{source}' is not a loadable IREE module: {first_line(str(exc))}") from None
        name = entry_function(module, function)
        vm_function = module.lookup_function(name)
        arrays = [np.ascontiguousarray(a) for a in inputs]
        _check_inputs(name, vm_function, arrays)
        declaration = (vm_function.reflection or {}).get("iree.abi.declaration", "")
        results = _result_count(declaration)

        with tempfile.TemporaryDirectory(prefix="quantune-arm64-") as tmp:
            work = Path(tmp)
            if isinstance(vmfb, bytes):
                module_path = work / "module.vmfb"
                module_path.write_bytes(vmfb)
            else:
                module_path = Path(vmfb).resolve()
            args = [f"--device={device}", f"--module={module_path}", f"--function={name}"]
            for i, array in enumerate(arrays):
                path = work / f"input{i}.npy"
                np.save(path, array)
                args.append(f"--input=@{path}")
            start = time.perf_counter()
            proc = self._invoke(args, work, results if results is not None else 1, timeout)
            if proc.returncode != 0 and results is None:
                # No ABI declaration: the tool's error names the result count.
                count = _VALUES_IN_LIST.search(proc.stderr)
                if count:
                    results = int(count.group(1))
                    proc = self._invoke(args, work, results, timeout)
            seconds = time.perf_counter() - start
            if proc.returncode != 0:
                detail = first_line(proc.stderr) or f"exit status {proc.returncode}"
                if len(detail) > 300:
                    detail = detail[:300] + "..."
                raise QuantuneError(f"running '{name}' of '{source}' under qemu-aarch64 failed: {detail}")
            outputs = [np.load(work / f"output{i}.npy", allow_pickle=False) for i in range(results or 1)]
        return EmulatedRun(outputs=outputs, function=name, seconds=seconds)

    def _invoke(
        self, args: list[str], work: Path, results: int, timeout: float | None
    ) -> subprocess.CompletedProcess[str]:
        outputs = [f"--output=@{work / f'output{i}.npy'}" for i in range(results)]
        try:
            return subprocess.run(
                self.command(*args, *outputs), capture_output=True, text=True, timeout=timeout, cwd=work, check=False
            )
        except subprocess.TimeoutExpired:
            raise QuantuneError(f"iree-run-module under qemu-aarch64 did not finish in {timeout:g} s") from None


def _result_count(declaration: str) -> int | None:
    """Number of results in an ``iree.abi.declaration``, or None without one."""
    if not declaration:
        return None
    match = _RESULTS.search(declaration)
    if match is None:
        # "-> tensor<...>" without parentheses: one result; no arrow: none.
        return 1 if "->" in declaration else 0
    text = match.group(1)
    # Split on top-level commas only (tensor<...> and dicts hold none at
    # depth zero, but be safe with nested brackets).
    depth, count, seen = 0, 0, False
    for ch in text:
        if ch in "<([{":
            depth += 1
        elif ch in ">)]}":
            depth -= 1
        elif ch == "," and depth == 0:
            count += 1
            continue
        if not ch.isspace():
            seen = True
    return count + 1 if seen else 0


def _runtime_dir() -> Path:
    return Path(os.environ.get(RUNTIME_ENV) or DEFAULT_RUNTIME_DIR)


def arm64_runner_problems() -> list[str]:
    """What is missing for :func:`find_arm64_runner`, one phrase each; empty when it can run."""
    problems = []
    if not any(shutil.which(name) for name in QEMU_NAMES):
        problems.append("qemu-aarch64 (Debian package qemu-user) is not on PATH")
    if not (SYSROOT / "lib" / "ld-linux-aarch64.so.1").is_file():
        problems.append(f"the arm64 C library is missing from {SYSROOT} (Debian package libc6-arm64-cross)")
    if not (SYSROOT / "lib" / "libstdc++.so.6").is_file():
        problems.append(f"the arm64 C++ library is missing from {SYSROOT} (Debian package libstdc++6-arm64-cross)")
    runtime = _runtime_dir()
    tool = runtime / "iree" / "_runtime_libs" / "iree-run-module"
    if not tool.is_file():
        problems.append(f"IREE's aarch64 runtime is not unpacked in {runtime} (no iree/_runtime_libs/iree-run-module)")
    else:
        try:
            host = metadata.version("iree-base-runtime")
        except metadata.PackageNotFoundError:
            host = None
        stamp = runtime / ".version"
        unpacked = stamp.read_text().strip() if stamp.is_file() else None
        if host is not None and unpacked is not None and unpacked != host:
            problems.append(f"the aarch64 runtime in {runtime} is {unpacked}, the host's iree-base-runtime is {host}")
    return problems


def find_arm64_runner() -> Arm64Runner | None:
    """The emulated arm64 runner, or None if anything is missing (see :func:`arm64_runner_problems`)."""
    if arm64_runner_problems():
        return None
    qemu = next(shutil.which(name) for name in QEMU_NAMES if shutil.which(name))
    tool = _runtime_dir() / "iree" / "_runtime_libs" / "iree-run-module"
    return Arm64Runner(qemu=Path(qemu), run_module_tool=tool)


def require_arm64_runner() -> Arm64Runner:
    """:func:`find_arm64_runner`, or a one-line error naming what is missing and how to install it."""
    problems = arm64_runner_problems()
    if problems:
        raise QuantuneError(f"cannot run arm64 modules on this {platform.machine()} host: "
                            f"{'; '.join(problems)}; {SETUP_HINT}")
    runner = find_arm64_runner()
    assert runner is not None
    return runner


def run_arm64_module(
    vmfb: str | os.PathLike[str] | bytes,
    inputs: Sequence[np.ndarray],
    device: str = "local-sync",
    function: str | None = None,
) -> list[np.ndarray]:
    """Like :func:`quantune_mlir.runtime.run_module`, for an arm64 module under qemu."""
    return require_arm64_runner().run(vmfb, inputs, device=device, function=function).outputs
