//===- LayerUtils.cpp - Shared helpers for layer passes -------------------===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#include "quantune/Transforms/LayerUtils.h"
#include "quantune/IR/QuantuneAttrs.h"
#include "quantune/IR/QuantuneDialect.h"

#include "mlir/IR/AffineExpr.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

using namespace mlir;
using namespace mlir::quantune;

std::optional<int64_t> mlir::quantune::getLayerId(Operation *op) {
  if (auto id = op->getAttrOfType<IntegerAttr>(QuantuneDialect::kLayerAttrName))
    return id.getInt();
  return std::nullopt;
}

SmallVector<linalg::LinalgOp> mlir::quantune::collectLayers(Operation *root) {
  SmallVector<linalg::LinalgOp> layers;
  root->walk<WalkOrder::PreOrder>([&](linalg::LinalgOp op) {
    if (getLayerId(op) && op.getNumDpsInputs() >= 2)
      layers.push_back(op);
  });
  return layers;
}

bool mlir::quantune::isInt8Layer(Operation *layer) {
  auto precision =
      layer->getAttrOfType<PrecisionAttr>(QuantuneDialect::kPrecisionAttrName);
  return precision && precision.getElementType().isInteger(8);
}

std::optional<unsigned> mlir::quantune::getIntegerLayerBits(Operation *layer) {
  auto precision =
      layer->getAttrOfType<PrecisionAttr>(QuantuneDialect::kPrecisionAttrName);
  if (!precision || !precision.isInteger())
    return std::nullopt;
  unsigned width = precision.getBitWidth();
  if (width != 8 && width != 4)
    return std::nullopt;
  return width;
}

StringRef mlir::quantune::getLayerName(Operation *layer) {
  if (auto name =
          layer->getAttrOfType<StringAttr>(QuantuneDialect::kNameAttrName))
    return name.getValue();
  return {};
}

bool mlir::quantune::hasForcedF32Reason(Operation *layer) {
  return layer->hasAttr(QuantuneDialect::kReasonAttrName);
}

void mlir::quantune::markLayerF32(Operation *layer, StringRef reason) {
  MLIRContext *ctx = layer->getContext();
  layer->setAttr(QuantuneDialect::kPrecisionAttrName,
                 PrecisionAttr::get(ctx, Float32Type::get(ctx)));
  layer->setAttr(QuantuneDialect::kReasonAttrName,
                 StringAttr::get(ctx, reason));
}

std::string mlir::quantune::describeLayer(Operation *layer) {
  std::string text = "layer ";
  if (std::optional<int64_t> id = getLayerId(layer))
    text += std::to_string(*id);
  else
    text += "?";
  StringRef name = getLayerName(layer);
  if (!name.empty())
    text += (" ('" + name + "')").str();
  return text;
}

std::optional<std::string>
mlir::quantune::getNestedLayerReason(Operation *layer) {
  Operation *parent = layer->getParentOp();
  if (!parent || isa<FunctionOpInterface>(parent))
    return std::nullopt;
  // The innermost loop around the layer, if any, is what the user knows.
  for (Operation *op = parent; op && !isa<FunctionOpInterface>(op);
       op = op->getParentOp())
    if (isa<LoopLikeOpInterface>(op))
      return std::string("inside a loop body (recurrent layer)");
  return ("nested in a region of '" + parent->getName().getStringRef() + "'")
      .str();
}

/// True for a statically shaped tensor type without elements.
static bool isEmptyTensorType(Type type) {
  auto ranked = dyn_cast<RankedTensorType>(type);
  return ranked && ranked.hasStaticShape() && ranked.getNumElements() == 0;
}

std::optional<std::string>
mlir::quantune::getEmptyLayerReason(linalg::LinalgOp layer) {
  auto describe = [](StringRef what, Type type) {
    std::string text;
    llvm::raw_string_ostream os(text);
    os << what << " " << type
       << " has no elements (a zero-size dimension); nothing to quantize";
    return text;
  };
  Type weightType = getWeightOperand(layer).get().getType();
  if (isEmptyTensorType(weightType))
    return describe("weight", weightType);
  for (Value init : layer.getDpsInits())
    if (isEmptyTensorType(init.getType()))
      return describe("result", init.getType());
  return std::nullopt;
}

OpOperand &mlir::quantune::getWeightOperand(linalg::LinalgOp layer) {
  return *layer.getDpsInputOperand(1);
}

FailureOr<SmallVector<int64_t>>
mlir::quantune::getOutputChannelDims(linalg::LinalgOp layer) {
  AffineMap weightMap = layer.getMatchingIndexingMap(&getWeightOperand(layer));
  AffineMap outMap = layer.getMatchingIndexingMap(layer.getDpsInitOperand(0));
  auto isProjection = [](AffineMap map) {
    return llvm::all_of(map.getResults(),
                        [](AffineExpr e) { return isa<AffineDimExpr>(e); });
  };
  if (!isProjection(weightMap) || !isProjection(outMap))
    return failure();
  SmallVector<int64_t> dims;
  for (auto [d, expr] : llvm::enumerate(outMap.getResults()))
    if (weightMap.isFunctionOfDim(cast<AffineDimExpr>(expr).getPosition()))
      dims.push_back(d);
  return dims;
}

/// Weight dimensions that index the output: their loop dimension appears as
/// a plain dimension in the output map too.
static SmallVector<int64_t> outputChannelAxes(linalg::LinalgOp layer) {
  AffineMap weightMap = layer.getMatchingIndexingMap(&getWeightOperand(layer));
  AffineMap outMap = layer.getMatchingIndexingMap(layer.getDpsInitOperand(0));
  SmallVector<int64_t> axes;
  for (auto [axis, expr] : llvm::enumerate(weightMap.getResults())) {
    auto dim = dyn_cast<AffineDimExpr>(expr);
    if (!dim)
      continue;
    if (llvm::any_of(outMap.getResults(), [&](AffineExpr out) {
          auto outDim = dyn_cast<AffineDimExpr>(out);
          return outDim && outDim.getPosition() == dim.getPosition();
        }))
      axes.push_back(axis);
  }
  return axes;
}

/// If `op` only permutes the dimensions of its single input, returns the
/// input dimension of each result dimension.
std::optional<SmallVector<int64_t>>
mlir::quantune::getTransposePerm(Operation *op) {
  if (auto transpose = dyn_cast<linalg::TransposeOp>(op))
    return SmallVector<int64_t>(transpose.getPermutation());
  auto generic = dyn_cast<linalg::GenericOp>(op);
  if (!generic || generic.getNumDpsInputs() != 1 ||
      generic.getNumDpsInits() != 1 || generic.getNumReductionLoops() != 0)
    return std::nullopt;
  Block &body = generic.getRegion().front();
  auto yield = dyn_cast<linalg::YieldOp>(body.getTerminator());
  if (!yield || yield.getNumOperands() != 1 ||
      yield.getOperand(0) != body.getArgument(0) ||
      body.getOperations().size() != 1)
    return std::nullopt;
  AffineMap inMap = generic.getIndexingMapsArray()[0];
  AffineMap outMap = generic.getIndexingMapsArray()[1];
  if (!inMap.isPermutation() || !outMap.isIdentity())
    return std::nullopt;
  // Output dim i is loop dim i; input dim j is loop dim inMap(j).
  SmallVector<int64_t> perm(outMap.getNumResults());
  for (auto [j, expr] : llvm::enumerate(inMap.getResults()))
    perm[cast<AffineDimExpr>(expr).getPosition()] = j;
  return perm;
}

LogicalResult mlir::quantune::readFloatValues(Attribute attr,
                                              std::vector<float> &values,
                                              std::string &reason) {
  auto type = dyn_cast<ShapedType>(cast<TypedAttr>(attr).getType());
  Type elt = type.getElementType();
  if (!elt.isF32() && !elt.isF64()) {
    reason = "weight element type is not f32 or f64";
    return failure();
  }
  int64_t n = type.getNumElements();
  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    values.reserve(n);
    if (elt.isF32())
      llvm::append_range(values, dense.getValues<float>());
    else
      for (double v : dense.getValues<double>())
        values.push_back(static_cast<float>(v));
    return success();
  }
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob) {
      reason = "weight resource has no data (elided?)";
      return failure();
    }
    ArrayRef<char> data = blob->getData();
    size_t width = elt.isF32() ? 4 : 8;
    if (data.size() != static_cast<size_t>(n) * width) {
      reason = "weight resource size does not match its type";
      return failure();
    }
    values.resize(n);
    if (elt.isF32()) {
      std::memcpy(values.data(), data.data(), data.size());
    } else {
      for (int64_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, data.data() + i * 8, 8);
        values[i] = static_cast<float>(v);
      }
    }
    return success();
  }
  reason = "weight constant is neither dense nor dense_resource";
  return failure();
}

FailureOr<ConstantWeight>
mlir::quantune::findConstantWeight(linalg::LinalgOp layer,
                                   std::string &reason) {
  ConstantWeight result;
  SmallVector<int64_t> axes = outputChannelAxes(layer);
  Value value = getWeightOperand(layer).get();
  while (true) {
    Operation *def = value.getDefiningOp();
    if (!def) {
      reason = "weight is not a constant (it is a function argument)";
      return failure();
    }
    if (auto constant = dyn_cast<arith::ConstantOp>(def)) {
      result.constant = constant;
      break;
    }
    std::optional<SmallVector<int64_t>> perm = getTransposePerm(def);
    if (!perm) {
      reason = ("weight is not a constant (it is computed by '" +
                def->getName().getStringRef() + "')")
                   .str();
      return failure();
    }
    for (int64_t &axis : axes)
      axis = (*perm)[axis];
    result.chain.insert(result.chain.begin(), def);
    value = cast<linalg::LinalgOp>(def).getDpsInputOperand(0)->get();
  }
  auto type = dyn_cast<RankedTensorType>(result.constant.getType());
  if (!type || !type.hasStaticShape()) {
    reason = "weight constant is not a statically shaped tensor";
    return failure();
  }
  result.shape.assign(type.getShape().begin(), type.getShape().end());
  llvm::sort(axes);
  result.channelAxes = std::move(axes);
  if (failed(
          readFloatValues(result.constant.getValue(), result.values, reason)))
    return failure();
  return result;
}

WeightQuantization
mlir::quantune::quantizeWeights(ArrayRef<float> values, ArrayRef<int64_t> shape,
                                ArrayRef<int64_t> channelAxes, unsigned bits) {
  WeightQuantization result;
  const int64_t rank = shape.size();
  // Row-major strides of the tensor and of the channel index space.
  SmallVector<int64_t> strides(rank, 1);
  for (int64_t d = rank - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * shape[d + 1];
  int64_t numChannels = 1;
  for (int64_t axis : channelAxes)
    numChannels *= shape[axis];

  auto channelOf = [&](int64_t flat) {
    int64_t channel = 0;
    for (int64_t axis : channelAxes)
      channel = channel * shape[axis] + (flat / strides[axis]) % shape[axis];
    return channel;
  };

  std::vector<double> maxAbs(numChannels, 0.0);
  for (size_t i = 0, e = values.size(); i < e; ++i) {
    double v = values[i];
    if (!std::isfinite(v)) {
      ++result.numNonFinite;
      continue;
    }
    double &m = maxAbs[channelOf(i)];
    m = std::max(m, std::fabs(v));
  }
  const double qmax = double((int64_t(1) << (bits - 1)) - 1);
  result.scales.resize(numChannels);
  for (int64_t c = 0; c < numChannels; ++c)
    result.scales[c] = maxAbs[c] > 0.0 ? maxAbs[c] / qmax : 1.0;

  result.dequantized.resize(values.size());
  for (size_t i = 0, e = values.size(); i < e; ++i) {
    double v = values[i];
    double s = result.scales[channelOf(i)];
    // std::nearbyint rounds half to even in the default rounding mode.
    double q = std::clamp(std::nearbyint(v / s), -qmax, qmax);
    double w = q * s;
    result.dequantized[i] = static_cast<float>(w);
    if (std::isfinite(v)) {
      result.signalEnergy += v * v;
      double err = v - static_cast<double>(result.dequantized[i]);
      result.errorEnergy += err * err;
    }
  }
  return result;
}

LogicalResult mlir::quantune::checkWeightBits(Operation *op, StringRef pass,
                                              unsigned bits) {
  if (bits >= 2 && bits <= 16)
    return success();
  return op->emitError() << pass << ": bits must be between 2 and 16, got "
                         << bits;
}

double mlir::quantune::sqnrDb(double signalEnergy, double errorEnergy) {
  // Exact quantization (including all-zero weights) has no noise.
  if (errorEnergy <= 0.0)
    return kMaxSqnrDb;
  return std::min(kMaxSqnrDb, 10.0 * std::log10(signalEnergy / errorEnergy));
}
