//===- QuantUtils.h - Fake quantization in linalg on tensors ----*- C++ -*-===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//
//
// Builders shared by quantune-instrument (mode=local-error) and
// quantune-fake-quantize: they emit only upstream ops that IREE compiles
// (linalg.generic, linalg.fill, tensor.empty, arith, math).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTUNE_TRANSFORMS_QUANTUTILS_H
#define QUANTUNE_TRANSFORMS_QUANTUTILS_H

#include "quantune/IR/QuantuneAttrs.h"
#include "quantune/Transforms/LayerUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <optional>
#include <string>

namespace mlir {
namespace quantune {

/// Everything needed to fake-quantize one layer.
struct LayerQuantization {
  /// Per-tensor parameters of the input activation.
  QParamsAttr actQParams;
  /// The constant weight and its layout chain.
  ConstantWeight weight;
  /// The weight quantized per output channel.
  WeightQuantization weightQuant;
};

/// Reads what fake-quantizing `layer` with `bits`-bit weights needs.
/// Returns std::nullopt with `reason` set when the layer has no
/// `quantune.act_qparams`, its input is not a ranked float tensor or it has
/// no constant weight (callers decide whether that is an error or the layer
/// stays f32). Returns failure, after emitting an error on the layer, when
/// the annotation is malformed (not a per-tensor #quantune.qparams) or the
/// weights are NaN or infinite.
FailureOr<std::optional<LayerQuantization>>
prepareLayerQuantization(linalg::LinalgOp layer, unsigned bits,
                         std::string &reason);

/// Converts the float scalar `value` to the float type `type` (arith.extf or
/// arith.truncf; no-op when the types match).
Value castFloat(OpBuilder &b, Location loc, Value value, Type type);

/// A tensor.empty with the shape of the ranked tensor `like` (dynamic sizes
/// included) and element type `elementType`.
Value createEmptyLike(OpBuilder &b, Location loc, Value like, Type elementType);

/// Fake-quantizes the float scalar `x` in f32:
/// (clamp(roundeven(x / s) + zp, qmin, qmax) - zp) * s, returned in x's type.
Value buildFakeQuantScalar(OpBuilder &b, Location loc, Value x,
                           QParamsAttr qparams);

/// Emits an elementwise linalg.generic computing the per-tensor fake
/// quantization of the float tensor `input`. With a `selector` (a
/// tensor<i32>), the result is fake-quantized only where the selector equals
/// `layerId` and is `input` otherwise.
Value buildFakeQuantActivation(OpBuilder &b, Location loc, Value input,
                               QParamsAttr qparams, Value selector = {},
                               int64_t layerId = -1);

/// Emits a new arith.constant holding the dequantized weight values of
/// `quant` (same type as `weight.constant`) and clones of the layout chain
/// of `weight`, so that the returned value has the layout of the layer's
/// weight operand.
Value buildFakeQuantWeight(OpBuilder &b, Location loc,
                           const ConstantWeight &weight,
                           const WeightQuantization &quant);

/// Emits an elementwise linalg.generic computing
/// `selector == layerId ? ifSelected : otherwise`, where `selector` is a
/// tensor<i32> read through an indexing map to ().
Value buildLayerSelect(OpBuilder &b, Location loc, Value selector,
                       int64_t layerId, Value ifSelected, Value otherwise);

/// Adds a trailing `tensor<i32>` layer-selector argument to `func` (which
/// must not be called: its signature changes) and returns it. `layers` are
/// the labelled layers it will select, whose ids must fit i32. Errors are
/// reported at the function or layer, prefixed with `pass`.
FailureOr<Value> addLayerSelectorArgument(func::FuncOp func,
                                          ArrayRef<linalg::LinalgOp> layers,
                                          StringRef pass);

/// `output + correction[c]`, elementwise: `output` is `layer`'s result and
/// `correction` holds one value per output channel (row-major over the
/// output's channel dimensions, see getOutputChannelDims). With a
/// `selector`, the correction is added only where the selector equals
/// `layerId`. Returns failure, after an error on the layer, when the
/// correction does not have one value per channel.
FailureOr<Value> buildBiasCorrection(OpBuilder &b, Location loc,
                                     linalg::LinalgOp layer, Value output,
                                     DenseFPElementsAttr correction,
                                     Value selector = {}, int64_t layerId = -1);

/// Erases `weight`'s layout chain and constant, from the layer side, as long
/// as they have no uses left.
void eraseDeadWeightChain(const ConstantWeight &weight);

/// Creates an op like `op` (same name, properties and discardable
/// attributes) with new operands and result types. Regions are not copied:
/// each region of the new op gets one block whose arguments have
/// `blockArgTypes`, filled by `bodyBuilder` (which must add the terminator).
Operation *cloneWithNewTypes(
    OpBuilder &b, Operation *op, ValueRange operands, TypeRange resultTypes,
    TypeRange blockArgTypes = {},
    function_ref<void(OpBuilder &, Location, Block &)> bodyBuilder = nullptr);

/// Emits an all-parallel linalg.generic whose result has the shape of
/// `shapeLike` and element type `elementType`. `inputs[i]` is read through
/// `inputMaps[i]` (over the result's dimensions); `body` maps the scalar
/// inputs to the scalar result.
Value buildParallelGeneric(
    OpBuilder &b, Location loc, Value shapeLike, Type elementType,
    ValueRange inputs, ArrayRef<AffineMap> inputMaps,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body);

/// A 1-D f32 constant tensor holding `values`.
Value buildF32Vector(OpBuilder &b, Location loc, ArrayRef<double> values);

/// Storage types up to this width are rounded with the f32 rounding-bias
/// trick of buildRoundClampToInt; wider ones with math.roundeven.
constexpr unsigned kRoundingBiasMaxWidth = 16;

/// Scalar `clamp(roundeven(v) + zeroPoint, lo, hi)` converted to the
/// signless `intType` (read as unsigned when `isSigned` is false), for an f32
/// value `v` already divided by the scale. `zeroPoint` is an f32 value
/// (constant or not) holding an integer in [lo, hi].
///
/// For storage of at most kRoundingBiasMaxWidth bits the value is clamped
/// to [lo - zp, hi - zp], 1.5 * 2^23 is added in f32 (whose rounding to
/// nearest-even then leaves roundeven(v) in the low mantissa bits), and the
/// bits are read back as an i32 with the bias's bit pattern subtracted and
/// the zero point added. This is exact and gives the same integers as
/// `fptosi(clamp(roundeven(v) + zp, lo, hi))`, in about half the
/// instructions: the requantization epilogue of a small-K int8 matmul
/// (MobileNetV2's 12544x96x16 expansion) took 0.83 ms with roundeven and
/// 0.53 ms with this form, its matmul alone 0.47 ms. A NaN `v` gives `lo`.
Value buildRoundClampToInt(OpBuilder &b, Location loc, Value v, Value zeroPoint,
                           int64_t lo, int64_t hi, IntegerType intType,
                           bool isSigned = true);

/// As above with a compile-time zero point.
Value buildRoundClampToInt(OpBuilder &b, Location loc, Value v,
                           int64_t zeroPoint, int64_t lo, int64_t hi,
                           IntegerType intType, bool isSigned = true);

/// The f32 value of a signless integer scalar holding `qparams` storage.
Value buildIntToFloat(OpBuilder &b, Location loc, Value v, QParamsAttr qparams);

} // namespace quantune
} // namespace mlir

#endif // QUANTUNE_TRANSFORMS_QUANTUTILS_H
