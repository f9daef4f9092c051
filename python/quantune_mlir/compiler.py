"""Compiling linalg-on-tensors MLIR text to an IREE module (.vmfb)."""

from __future__ import annotations

import os
from typing import Sequence

from iree.compiler import tools as iree_tools

from quantune_mlir.errors import QuantuneError
from quantune_mlir.fileio import write_bytes
from quantune_mlir.fusion_barriers import add_im2col_barriers
from quantune_mlir.gather_barriers import add_gather_barriers
from quantune_mlir.opt import run_quantune_opt
from quantune_mlir.progress import report
from quantune_mlir.targets import IMG2COL, UKERNELS, Target


class CompileError(QuantuneError):
    """iree-compile rejected the module; ``diagnostics`` holds its full output."""

    def __init__(self, message: str, diagnostics: str) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics


class MicrokernelError(CompileError):
    """iree-compile could not lower a microkernel call (raised by
    :func:`compile_mlir` with ``ukernel_fallback=False``)."""


def _error_line(exc: Exception) -> str:
    text = str(exc)
    for line in text.splitlines():
        if "error:" in line:
            return line.strip()
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def compile_mlir(
    mlir_text: str,
    target: Target,
    output: str | os.PathLike[str] | None = None,
    extra_flags: Sequence[str] = (),
    source_name: str = "<input>",
    recipe: bool = False,
    ukernel_fallback: bool = True,
) -> bytes:
    """Compiles ``mlir_text`` for ``target`` with iree-compile.

    Runs the target's quantune-opt passes first (see
    :attr:`Target.quantune_passes`, and with ``recipe``
    :attr:`Target.recipe_passes`). Returns the module bytes and, if ``output`` is given, writes them there
    atomically. ``extra_flags`` are passed to iree-compile after the
    target's own flags, so they can override them. ``source_name`` names
    the input in error messages. ``recipe`` adds the target's fast code
    generation flags (:attr:`Target.recipe`); where those convert
    convolutions to im2col, a quantize feeding one is kept in its own
    dispatch (:mod:`quantune_mlir.fusion_barriers`), and for a module with
    convolutions the compile stops after IREE's preprocessing to keep each
    gathering int8 im2col (and f32 one on few channels) out of its matmul's
    packing
    (:mod:`quantune_mlir.gather_barriers`). When IREE cannot lower a
    microkernel call, the module is compiled again without microkernels, or
    with ``ukernel_fallback=False`` a :class:`MicrokernelError` is raised.
    """
    passes = (*target.quantune_passes, *(target.recipe_passes if recipe else ()))
    if passes:
        mlir_text = run_quantune_opt(mlir_text, passes)
    flags = [*target.flags, *(target.recipe if recipe else ()), *extra_flags]
    if IMG2COL in flags:
        mlir_text, _ = add_im2col_barriers(mlir_text)
    try:
        vmfb = _compile(mlir_text, flags)
    except iree_tools.CompilerToolError as exc:
        detail = _error_line(exc).replace("<stdin>", source_name)
        if not (recipe and UKERNELS in flags and "ukernel" in detail):
            raise CompileError(f"iree-compile failed for target {target.spec}: {detail}", str(exc)) from None
        if not ukernel_fallback:
            raise MicrokernelError(f"iree-compile failed for target {target.spec}: {detail}", str(exc)) from None
        # IREE 3.13 cannot lower some microkernel calls (seen on strided 1x1
        # int8 convolutions); the rest of the recipe still applies.
        report(f"warning: {detail}; compiling again without microkernels")
        flags = [f for f in flags if f != UKERNELS]
        try:
            vmfb = _compile(mlir_text, flags)
        except iree_tools.CompilerToolError as exc2:
            detail = _error_line(exc2).replace("<stdin>", source_name)
            raise CompileError(f"iree-compile failed for target {target.spec}: {detail}", str(exc2)) from None
    if output is not None:
        write_bytes(output, vmfb)
    return vmfb


def has_convolution(mlir_text: str) -> bool:
    """A cheap test of whether the module may hold a convolution (the only
    case where :func:`add_gather_barriers` can add anything)."""
    return "linalg.conv_2d" in mlir_text


def _compile(mlir_text: str, flags: Sequence[str]) -> bytes:
    """iree-compile with ``flags``; with the im2col recipe and convolutions,
    in two phases with gather barriers in between."""
    if IMG2COL not in flags or not has_convolution(mlir_text):
        return iree_tools.compile_str(mlir_text, extra_args=list(flags))
    # As MLIR bytecode: the weights stay binary (as text, VGG-16's analysis
    # module took over 20 GB in this process), and the locations stay, so a
    # later error still names the ONNX node it is about (the per-layer
    # retries of pipeline.layer_in_error depend on it).
    preprocessed = iree_tools.compile_str(
        mlir_text, extra_args=[*flags, "--compile-to=preprocessing", "--emit-mlir-bytecode"]
    )
    module, _ = add_gather_barriers(preprocessed)
    return iree_tools.compile_str(module, extra_args=[*flags, "--compile-from=preprocessing"])

