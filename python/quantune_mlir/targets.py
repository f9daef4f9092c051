"""Compile targets and the IREE flags each one needs."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from quantune_mlir.errors import QuantuneError

# No debug symbols: besides DWARF, IREE 3.13 then writes a per-export table of
# source locations whose line field it leaves uninitialised when the IR has
# no file locations (ours carries layer-name locations), so two builds of the
# same input differed in those bytes. Without it modules are reproducible
# byte for byte, and ~11 kB smaller.
_CPU = (
    "--iree-hal-target-device=local",
    "--iree-hal-local-target-device-backends=llvm-cpu",
    "--iree-llvmcpu-debug-symbols=false",
)

# Cross targets build embedded ELF (IREE's default for llvm-cpu), which loads
# on any OS of that architecture. The features turn on the int8 dot-product
# instructions the quantized kernels rely on.
_CROSS = {
    "arm64": (
        "--iree-llvmcpu-target-triple=aarch64-none-elf",
        "--iree-llvmcpu-target-cpu=generic",
        "--iree-llvmcpu-target-cpu-features=+neon,+dotprod,+i8mm",
    ),
    "riscv64": (
        "--iree-llvmcpu-target-triple=riscv64-none-elf",
        "--iree-llvmcpu-target-cpu=generic-rv64",
        "--iree-llvmcpu-target-abi=lp64d",
        "--iree-llvmcpu-target-cpu-features=+m,+a,+f,+d,+c,+v,+zvl128b",
    ),
}

# The CPU code generation recipe that makes int8 layers fast (see
# docs/lowering.md and docs/results.md): convolutions become channels-last
# (the transposes between layers cancel) and then im2col + matmul before
# IREE's global optimisations, and matmuls are data-tiled and run on IREE's
# microkernels (s8s8s32 for int8, f32 for float). Depthwise convolutions are
# rewritten to NHWC generics first (quantune-nhwc-depthwise), which im2col
# leaves alone: IREE's NCHW depthwise is ~20x slower.
IMG2COL = (
    "--iree-preprocessing-pass-pipeline=builtin.module(util.func("
    "iree-preprocessing-convert-conv-to-channels-last,iree-global-opt-convert-conv2d-to-img2col))"
)
UKERNELS = "--iree-llvmcpu-enable-ukernels=all"
CPU_RECIPE = ("--iree-opt-data-tiling", UKERNELS, IMG2COL)
CPU_RECIPE_PASSES = ("--quantune-nhwc-depthwise",)

# Vulkan architectures that mean "whatever Vulkan device is here", such as
# Mesa's lavapipe: IREE's portable baseline target is used.
_VULKAN_GENERIC = {"", "host", "lavapipe"}

TARGET_HELP = "host | arm64 | riscv64 | vulkan[:ARCH] (ARCH: host/lavapipe, or an IREE Vulkan target such as valhall, rdna3, ampere)"


@dataclass(frozen=True)
class Target:
    """A compile target: its name, IREE compile flags and runtime device."""

    spec: str
    flags: tuple[str, ...]
    device: str | None
    """The IREE runtime device that runs it here, or None for cross targets."""
    quantune_passes: tuple[str, ...] = ()
    """quantune-opt passes the target needs before iree-compile."""
    recipe: tuple[str, ...] = ()
    """Extra iree-compile flags of the fast code generation recipe."""
    recipe_passes: tuple[str, ...] = ()
    """quantune-opt passes of the recipe, run before iree-compile with it."""
    lowering_options: tuple[str, ...] = ()
    """Options of quantune-lower-mixed-precision for this target, e.g.
    ``vulkan-safe=true``: the int8 forms its code generator gets wrong stay f32."""


def parse_target(spec: str) -> Target:
    """Parses a ``--target`` value (see :data:`TARGET_HELP`)."""
    kind, _, arch = spec.partition(":")
    if kind == "host" and not arch:
        return Target(spec, (*_CPU, "--iree-llvmcpu-target-cpu=host"), "local-task", recipe=CPU_RECIPE,
                      recipe_passes=CPU_RECIPE_PASSES)
    if kind in _CROSS and not arch:
        return Target(spec, (*_CPU, *_CROSS[kind]), None, recipe=CPU_RECIPE, recipe_passes=CPU_RECIPE_PASSES)
    if kind == "vulkan":
        flags = ["--iree-hal-target-device=vulkan"]
        if arch not in _VULKAN_GENERIC:
            flags.append(f"--iree-vulkan-target={arch}")
        # IREE 3.13's SPIR-V codegen miscompiles the named NCHW depthwise
        # conv (see the pass description in dialect/.../Passes.td).
        # ... and its int8 matmul-shaped contractions (matmul, 1x1 conv):
        # those layers stay f32 (quantune-lower-mixed-precision vulkan-safe).
        return Target(spec, tuple(flags), "vulkan", ("--quantune-channel-major-depthwise",),
                      lowering_options=("vulkan-safe=true",))
    raise QuantuneError(f"unknown target '{spec}'; expected {TARGET_HELP}")


_PROBE = "func.func @probe(%x: tensor<4xf32>) -> tensor<4xf32> {\n  return %x : tensor<4xf32>\n}\n"


@functools.lru_cache(maxsize=None)
def _probe_error(flags: tuple[str, ...]) -> str | None:
    from iree.compiler import tools as iree_tools

    try:
        iree_tools.compile_str(_PROBE, extra_args=list(flags))
    except iree_tools.CompilerToolError as exc:
        lines = [line.split("error:", 1)[1].strip() for line in str(exc).splitlines() if "error:" in line]
        return lines[0] if lines else "iree-compile failed"
    return None


def check_target(target: Target) -> None:
    """Fails before any work when iree-compile does not know ``target``.

    Only a named Vulkan architecture needs the check (the other targets'
    flags are fixed); it compiles an empty function, which takes well
    under a second.
    """
    if target.device == "vulkan" and any(f.startswith("--iree-vulkan-target=") for f in target.flags):
        error = _probe_error(target.flags)
        if error is not None:
            arch = target.spec.partition(":")[2]
            raise QuantuneError(f"--target {target.spec}: iree-compile refuses Vulkan target '{arch}': {error}")
