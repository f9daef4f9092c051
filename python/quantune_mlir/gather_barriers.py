"""Keeps an int8 im2col gather out of the matmul's packing (CPU recipe).

With the CPU recipe, IREE's preprocessing rewrites each convolution as an
im2col gather (a 6-D ``linalg.generic``: N, OH, OW, KH, KW, C), a
``tensor.collapse_shape`` to the matmul's left operand, and a
``linalg.matmul``. Data tiling then packs that operand into the
microkernel's tiles (16 rows x 2 bytes for s8s8 on AVX-512), and IREE fuses
the packing into the gather: each vector of 32 channel bytes is scattered
into 16 pairs. On ResNet18 at 224x224 those gathers took about a quarter of
the int8 module's time.

An ``util.optimization_barrier`` on the collapsed operand splits them: the
gather copies whole channel runs into a plain matrix, and the packing runs
as its own vectorised dispatch. That pays where the gather does work (a
KxK kernel, K > 1, or a stride); on a 1x1 stride-1 convolution the
"gather" is a reshape and a barrier only costs an extra pass (MobileNetV2:
1.3x slower with one on every 1x1 convolution).

f32 matmuls get one only where the gather reads fewer than 8 channels (a
network's first convolution on RGB input). There IREE fuses the f32 pack
into the gather too, and for SqueezeNet's unpadded 7x7 stride-2 stem it
distributes the fused dispatch in one workgroup per output pixel (11,881):
2.2 ms on one thread but 10.3 ms on two, so the whole fp32 network ran no
faster on two threads than on one; with the barrier 27.1 -> 17.1 ms on two
threads, one thread unchanged. On the other f32 gathers (more channels) a
barrier cost 6 % on one thread. docs/lowering.md ("The CPU code generation
recipe") has the measurements.

The barrier can only be placed after IREE's preprocessing, where the
im2col exists: :func:`quantune_mlir.compiler.compile_mlir` compiles to that
phase, calls :func:`add_gather_barriers`, and continues from it.
"""

from __future__ import annotations

import io

from iree.compiler import ir
from iree.compiler.dialects import util

from quantune_mlir.ir_walk import walk_operations

# The im2col result's dimensions: N, OH, OW, KH, KW, C.
_IM2COL_RANK = 6
_CHANNELS = 5

F32_MAX_CHANNELS = 7
"""An f32 gather gets a barrier only up to this many input channels."""


def _element(value: ir.Value) -> str | None:
    """``i8``, ``f32`` or None for a matmul operand's element type."""
    t = value.type
    if not isinstance(t, ir.ShapedType):
        return None
    if isinstance(t.element_type, ir.IntegerType) and t.element_type.width == 8:
        return "i8"
    return "f32" if isinstance(t.element_type, ir.F32Type) else None


def _gathers(collapse: ir.Operation) -> bool:
    """Whether a collapse_shape's source is an im2col that moves data: a
    kernel larger than 1x1, or an output smaller than its input (a stride)."""
    source = collapse.operands[0]
    stype = source.type
    if not isinstance(stype, ir.ShapedType) or not stype.has_rank or stype.rank != _IM2COL_RANK:
        return False
    producer = source.owner
    if isinstance(producer, ir.Block) or producer.operation.name != "linalg.generic":
        return False
    if stype.get_dim_size(3) != 1 or stype.get_dim_size(4) != 1:
        return True
    itype = producer.operation.operands[0].type
    if not isinstance(itype, ir.ShapedType) or not itype.has_rank or itype.rank != 4:
        return False
    return itype.get_dim_size(1) != stype.get_dim_size(1) or itype.get_dim_size(2) != stype.get_dim_size(2)


def _few_channels(collapse: ir.Operation) -> bool:
    channels = collapse.operands[0].type.get_dim_size(_CHANNELS)
    return 0 < channels <= F32_MAX_CHANNELS


def add_gather_barriers(preprocessed: str | bytes) -> tuple[str | bytes, int]:
    """Returns IREE's preprocessed module with a barrier on the left operand
    of each ``linalg.matmul`` that reads a gathering im2col, int8, or f32
    with at most :data:`F32_MAX_CHANNELS` input channels, and how many were
    added. MLIR bytecode (``bytes``, what :func:`quantune_mlir.compiler.compile_mlir`
    uses: weights stay binary, a fraction of the text's memory on a large
    model) is returned as bytecode, text as text. Input that does not parse
    is returned unchanged."""
    with ir.Context() as context, ir.Location.unknown():
        context.allow_unregistered_dialects = True
        try:
            module = ir.Module.parse(preprocessed)
        except ir.MLIRError:
            return preprocessed, 0
        count = 0
        for op in list(walk_operations(module.operation)):
            element = _element(op.operands[0]) if op.name == "linalg.matmul" else None
            if element is None:
                continue
            lhs = op.operands[0]
            producer = lhs.owner
            if isinstance(producer, ir.Block) or producer.operation.name != "tensor.collapse_shape":
                continue
            if not _gathers(producer.operation) or (element == "f32" and not _few_channels(producer.operation)):
                continue
            with ir.InsertionPoint.after(producer.operation), producer.operation.location:
                barrier = util.OptimizationBarrierOp([lhs.type], [lhs]).results[0]
            op.operands[0] = barrier
            count += 1
        if not count:
            return preprocessed, 0
        if isinstance(preprocessed, bytes):
            out = io.BytesIO()
            module.operation.write_bytecode(out)
            return out.getvalue(), count
        return module.operation.get_asm(enable_debug_info=True, assume_verified=True), count
