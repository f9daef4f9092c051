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
1.3x slower with one on every 1x1 convolution), and on f32 matmuls it
costs too (measured when the recipe was built). docs/lowering.md ("The CPU
code generation recipe") has the measurements.

The barrier can only be placed after IREE's preprocessing, where the
im2col exists: :func:`quantune_mlir.compiler.compile_mlir` compiles to that
phase, calls :func:`add_gather_barriers`, and continues from it.
"""

from __future__ import annotations

from iree.compiler import ir
from iree.compiler.dialects import util

from quantune_mlir.ir_walk import walk_operations

# The im2col result's dimensions: N, OH, OW, KH, KW, C.
_IM2COL_RANK = 6


def _is_i8(value: ir.Value) -> bool:
    t = value.type
    return isinstance(t, ir.ShapedType) and isinstance(t.element_type, ir.IntegerType) and t.element_type.width == 8


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


def add_gather_barriers(preprocessed: str) -> tuple[str, int]:
    """Returns IREE's preprocessed module with a barrier on the left operand
    of each int8 ``linalg.matmul`` that reads a gathering im2col, and how many
    were added. Text that does not parse is returned unchanged."""
    with ir.Context() as context, ir.Location.unknown():
        context.allow_unregistered_dialects = True
        try:
            module = ir.Module.parse(preprocessed)
        except ir.MLIRError:
            return preprocessed, 0
        count = 0
        for op in list(walk_operations(module.operation)):
            if op.name != "linalg.matmul" or not _is_i8(op.operands[0]):
                continue
            lhs = op.operands[0]
            producer = lhs.owner
            if isinstance(producer, ir.Block) or producer.operation.name != "tensor.collapse_shape":
                continue
            if not _gathers(producer.operation):
                continue
            with ir.InsertionPoint.after(producer.operation), producer.operation.location:
                barrier = util.OptimizationBarrierOp([lhs.type], [lhs]).results[0]
            op.operands[0] = barrier
            count += 1
        if not count:
            return preprocessed, 0
        return module.operation.get_asm(enable_debug_info=True, assume_verified=True), count
