"""Keeps a quantize out of the im2col it feeds (CPU recipe, before iree-compile).

With the CPU recipe, IREE rewrites a KxK convolution (K > 1) as im2col +
matmul. When the convolution's int8 input comes from a quantize computed in
f32 (the model input, or the output of an f32 layer), IREE fuses that
quantize into the im2col: each input element is then divided, rounded and
clamped once per patch it falls in (K*K/stride^2 times, 12x for a 7x7 stride-2
stem), in a gather loop that does not vectorize. On SqueezeNet at 224x224
that one dispatch took 10 of the 27 ms of the int8 module.

An ``util.optimization_barrier`` between the quantize and the convolution
keeps them in separate dispatches: the quantize runs once per element (and
fuses into its own producer instead), and the im2col copies int8 bytes.
docs/lowering.md ("Quantize before im2col") has the measurements.

IREE's own Python bindings parse and print the module, so the ``util`` op
needs no stand-in in quantune-opt; locations are kept for diagnostics.
"""

from __future__ import annotations

from iree.compiler import ir
from iree.compiler.dialects import util

# Convolutions the recipe turns into im2col + matmul, with the positions of
# the kernel's spatial sizes in the filter's shape.
_IM2COL_CONVS = {
    "linalg.conv_2d_nchw_fchw": (2, 3),
    "linalg.conv_2d_nchw_fchw_q": (2, 3),
    "linalg.conv_2d_nhwc_hwcf": (0, 1),
    "linalg.conv_2d_nhwc_hwcf_q": (0, 1),
    "linalg.conv_2d_nhwc_fhwc": (1, 2),
    "linalg.conv_2d_nhwc_fhwc_q": (1, 2),
}


def _is_im2col_conv(op: ir.Operation) -> bool:
    spatial = _IM2COL_CONVS.get(op.name)
    if spatial is None or len(op.operands) < 2:
        return False
    filter_type = op.operands[1].type
    if not isinstance(filter_type, ir.ShapedType) or not filter_type.has_rank or filter_type.rank != 4:
        return False
    return any(filter_type.get_dim_size(i) != 1 for i in spatial)


def _is_quantize(op: ir.Operation) -> bool:
    """An all-parallel linalg.generic from one float tensor to one integer tensor."""
    if op.name != "linalg.generic" or len(op.results) != 1:
        return False
    if any(str(it) != "#linalg.iterator_type<parallel>" for it in op.attributes["iterator_types"]):
        return False
    result = op.results[0].type
    inputs = [v.type for v in op.operands[:-1] if isinstance(v.type, ir.ShapedType)]
    return (isinstance(result, ir.ShapedType) and isinstance(result.element_type, ir.IntegerType)
            and len(inputs) == 1 and isinstance(inputs[0].element_type, ir.FloatType))


def _walk(op: ir.Operation, found: list[ir.Operation]) -> None:
    for region in op.regions:
        for block in region.blocks:
            for child in block.operations:
                if _is_im2col_conv(child.operation):
                    found.append(child.operation)
                _walk(child.operation, found)


def add_im2col_barriers(mlir_text: str) -> tuple[str, int]:
    """Returns the module with a barrier after each quantize that feeds an
    im2col convolution, and how many barriers were added."""
    with ir.Context(), ir.Location.unknown():
        try:
            module = ir.Module.parse(mlir_text)
        except ir.MLIRError:
            return mlir_text, 0  # iree-compile reports it, with the input's name
        convs: list[ir.Operation] = []
        _walk(module.operation, convs)
        barriers: list[tuple[ir.Operation, ir.Value]] = []
        for conv in convs:
            # A padded input (tensor.pad between the quantize and the
            # convolution) is left alone: IREE does not fuse the quantize
            # into that im2col (MobileNetV2 and ResNet18 stems, measured).
            producer = conv.operands[0].owner
            if isinstance(producer, ir.Block) or not _is_quantize(producer.operation):
                continue
            barrier = next((b for op, b in barriers if op == producer.operation), None)
            if barrier is None:
                value = conv.operands[0]
                with ir.InsertionPoint.after(producer.operation), producer.operation.location:
                    barrier = util.OptimizationBarrierOp([value.type], [value]).results[0]
                barriers.append((producer.operation, barrier))
            conv.operands[0] = barrier
        if not barriers:
            return mlir_text, 0
        return module.operation.get_asm(enable_debug_info=True, assume_verified=True), len(barriers)
