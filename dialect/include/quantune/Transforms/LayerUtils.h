//===- LayerUtils.h - Shared helpers for layer passes -----------*- C++ -*-===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTUNE_TRANSFORMS_LAYERUTILS_H
#define QUANTUNE_TRANSFORMS_LAYERUTILS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/BuiltinOps.h"

#include <optional>
#include <string>
#include <vector>

namespace mlir {
namespace quantune {

/// The layer id of `op`, if quantune-label-layers labelled it.
std::optional<int64_t> getLayerId(Operation *op);

/// The labelled layers of `root` in program order.
SmallVector<linalg::LinalgOp> collectLayers(Operation *root);

/// A layer's weight traced back to the constant that defines it.
struct ConstantWeight {
  /// The constant holding the weight.
  arith::ConstantOp constant;
  /// Layout-only ops from the constant to the layer, constant side first.
  SmallVector<Operation *> chain;
  /// Shape of the constant.
  SmallVector<int64_t> shape;
  /// Axes of the constant that index the layer's output channels.
  SmallVector<int64_t> channelAxes;
  /// The constant's values in row-major order.
  std::vector<float> values;
};

/// The layer's weight operand: DPS input 1 of every quantizable op.
OpOperand &getWeightOperand(linalg::LinalgOp layer);

/// The dimensions of the layer's output (its DPS init) that index output
/// channels: those whose loop dimension also indexes the weight, in output
/// order. Fails when the weight or output indexing map is not a projection
/// (a plain dimension per result).
FailureOr<SmallVector<int64_t>> getOutputChannelDims(linalg::LinalgOp layer);

/// True when `layer` is assigned `#quantune.precision<i8>`.
bool isInt8Layer(Operation *layer);

/// The weight bit width of a layer assigned an integer precision: 8 for
/// `#quantune.precision<i8>`, 4 for `#quantune.precision<i4>` (w4a8: 4-bit
/// weights, 8-bit activations); std::nullopt for any other precision or
/// none.
std::optional<unsigned> getIntegerLayerBits(Operation *layer);

/// The layer's `quantune.name`, or an empty string.
StringRef getLayerName(Operation *layer);

/// True when `layer` carries a `quantune.reason` (it is forced to f32).
bool hasForcedF32Reason(Operation *layer);

/// Keeps `layer` in f32 for `reason`: sets `quantune.precision` to
/// `#quantune.precision<f32>` and `quantune.reason` to `reason`.
void markLayerF32(Operation *layer, StringRef reason);

/// "layer <id> ('<name>')", or "layer <id>" without a name, for messages.
std::string describeLayer(Operation *layer);

/// Why `layer` cannot be handled by the analysis because it sits in a nested
/// region rather than directly in its function's body: "inside a loop body
/// (recurrent layer)" for a loop, else "nested in a region of '<op>'".
/// std::nullopt when the layer is directly in a function body.
std::optional<std::string> getNestedLayerReason(Operation *layer);

/// Why `layer` has nothing to quantize when its weight or its result has
/// no elements (a zero-size dimension, e.g. 0 output channels), else
/// std::nullopt. Only static shapes are checked.
std::optional<std::string> getEmptyLayerReason(linalg::LinalgOp layer);

/// If `op` only permutes the dimensions of its single input (a
/// linalg.transpose or an equivalent linalg.generic), returns the input
/// dimension of each result dimension.
std::optional<SmallVector<int64_t>> getTransposePerm(Operation *op);

/// Reads the values of an f32 or f64 dense or dense_resource attribute in
/// row-major order; on failure `reason` says why.
LogicalResult readFloatValues(Attribute attr, std::vector<float> &values,
                              std::string &reason);

/// Follows the weight operand of `layer` through `linalg.transpose` and
/// transposing `linalg.generic` ops to an `arith.constant` (dense or
/// dense_resource, f32 or f64) and reads it. On failure, `reason` says why
/// in a phrase such as "weight is not a constant".
FailureOr<ConstantWeight> findConstantWeight(linalg::LinalgOp layer,
                                             std::string &reason);

/// Symmetric per-channel integer quantization of a weight tensor.
struct WeightQuantization {
  /// One scale per channel, in row-major order over the channel axes.
  std::vector<double> scales;
  /// The dequantized weights, same layout as the input.
  std::vector<float> dequantized;
  /// sum W^2 and sum (W - W')^2.
  double signalEnergy = 0.0;
  double errorEnergy = 0.0;
  /// Number of NaN or infinite input values (the result is then unusable).
  size_t numNonFinite = 0;
};

/// Quantizes `values` (of `shape`) to `bits`-bit signed integers,
/// symmetric, with one scale per index of `channelAxes`:
/// s_c = max|W_c| / (2^(bits-1) - 1), q = clamp(roundeven(W / s_c)).
/// An all-zero channel gets scale 1 and is reproduced exactly.
WeightQuantization quantizeWeights(ArrayRef<float> values,
                                   ArrayRef<int64_t> shape,
                                   ArrayRef<int64_t> channelAxes,
                                   unsigned bits);

/// Checks a pass's weight bit-width option (2 to 16), reporting at `op`.
LogicalResult checkWeightBits(Operation *op, StringRef pass, unsigned bits);

/// SQNR in dB from signal and error energy, capped at kMaxSqnrDb.
double sqnrDb(double signalEnergy, double errorEnergy);
inline constexpr double kMaxSqnrDb = 200.0;

} // namespace quantune
} // namespace mlir

#endif // QUANTUNE_TRANSFORMS_LAYERUTILS_H
