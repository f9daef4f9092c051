//===- LowerMixedPrecision.cpp - i8 layers as integer linalg
//---------------===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#include "quantune/IR/QuantuneAttrs.h"
#include "quantune/IR/QuantuneDialect.h"
#include "quantune/IR/QuantuneOps.h"
#include "quantune/Transforms/LayerUtils.h"
#include "quantune/Transforms/Passes.h"
#include "quantune/Transforms/QuantUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <cmath>
#include <limits>

namespace mlir {
namespace quantune {
#define GEN_PASS_DEF_QUANTUNELOWERMIXEDPRECISION
#include "quantune/Transforms/Passes.h.inc"
} // namespace quantune
} // namespace mlir

using namespace mlir;
using namespace mlir::quantune;

namespace {

/// Row-major strides of `shape`.
SmallVector<int64_t> stridesOf(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

/// Applies the transposes of `chain` to row-major `values` of `shape`.
/// A transpose's perm gives the input dimension of each result dimension.
template <typename T>
std::vector<T> applyChain(std::vector<T> values, SmallVector<int64_t> &shape,
                          ArrayRef<Operation *> chain) {
  for (Operation *op : chain) {
    SmallVector<int64_t> perm = *getTransposePerm(op);
    SmallVector<int64_t> inStrides = stridesOf(shape);
    SmallVector<int64_t> outShape;
    for (int64_t p : perm)
      outShape.push_back(shape[p]);
    std::vector<T> out(values.size());
    SmallVector<int64_t> index(outShape.size(), 0);
    for (size_t flat = 0; flat < values.size(); ++flat) {
      int64_t src = 0;
      for (size_t d = 0; d < outShape.size(); ++d)
        src += index[d] * inStrides[perm[d]];
      out[flat] = values[src];
      for (int64_t d = static_cast<int64_t>(outShape.size()) - 1; d >= 0; --d) {
        if (++index[d] < outShape[d])
          break;
        index[d] = 0;
      }
    }
    values = std::move(out);
    shape = outShape;
  }
  return values;
}

/// The layer's accumulator start value when it is a constant: a
/// `linalg.fill` of a constant, or a `linalg.broadcast` of a 1-D constant
/// along the single output channel dimension. One value per channel.
std::optional<std::vector<double>>
matchConstantInit(Value init, ArrayRef<int64_t> channelDims, int64_t channels) {
  Operation *def = init.getDefiningOp();
  if (auto fill = dyn_cast_or_null<linalg::FillOp>(def)) {
    FloatAttr value;
    if (auto cst = fill.getInputs()[0].getDefiningOp<arith::ConstantOp>())
      value = dyn_cast<FloatAttr>(cst.getValue());
    if (!value)
      return std::nullopt;
    return std::vector<double>(channels, value.getValueAsDouble());
  }
  auto broadcast = dyn_cast_or_null<linalg::BroadcastOp>(def);
  if (!broadcast || channelDims.size() != 1)
    return std::nullopt;
  auto cst = broadcast.getInput().getDefiningOp<arith::ConstantOp>();
  auto inputType = dyn_cast<RankedTensorType>(broadcast.getInput().getType());
  if (!cst || !inputType || inputType.getRank() != 1 ||
      inputType.getDimSize(0) != channels)
    return std::nullopt;
  // The one dimension kept must be the channel dimension.
  int64_t rank = cast<RankedTensorType>(init.getType()).getRank();
  SmallVector<int64_t> kept;
  for (int64_t d = 0; d < rank; ++d)
    if (!llvm::is_contained(broadcast.getDimensions(), d))
      kept.push_back(d);
  if (kept.size() != 1 || kept[0] != channelDims[0])
    return std::nullopt;
  std::vector<float> values;
  std::string reason;
  if (failed(readFloatValues(cst.getValue(), values, reason)))
    return std::nullopt;
  return std::vector<double>(values.begin(), values.end());
}

/// Erases `value`'s defining op and, recursively, operands it leaves dead.
void eraseIfDead(Value value) {
  Operation *def = value ? value.getDefiningOp() : nullptr;
  if (!def || !def->use_empty() || !isMemoryEffectFree(def))
    return;
  SmallVector<Value> operands(def->getOperands());
  def->erase();
  for (Value operand : operands)
    eraseIfDead(operand);
}

struct LowerMixedPrecisionPass
    : public quantune::impl::QuantuneLowerMixedPrecisionBase<
          LowerMixedPrecisionPass> {
  using QuantuneLowerMixedPrecisionBase::QuantuneLowerMixedPrecisionBase;

  void runOnOperation() override {
    bool failedAny = false;
    for (linalg::LinalgOp layer : collectLayers(getOperation())) {
      if (!isInt8Layer(layer))
        continue;
      if (failed(lowerLayer(layer)))
        failedAny = true;
      else
        ++numLowered;
    }
    if (failedAny)
      signalPassFailure();
  }

private:
  LogicalResult lowerLayer(linalg::LinalgOp layer);
};

} // namespace

LogicalResult LowerMixedPrecisionPass::lowerLayer(linalg::LinalgOp layer) {
  int64_t id = *getLayerId(layer);
  auto fail = [&]() {
    InFlightDiagnostic diag = layer->emitError();
    diag << "quantune-lower-mixed-precision: layer " << id << " ";
    if (!getLayerName(layer).empty())
      diag << "('" << getLayerName(layer) << "') ";
    return diag;
  };
  std::string reason;
  FailureOr<std::optional<LayerQuantization>> prepared =
      prepareLayerQuantization(layer, 8, reason);
  if (failed(prepared))
    return failure();
  if (!*prepared)
    return fail() << "is i8 but cannot be lowered: " << reason;
  LayerQuantization &quant = **prepared;
  IntegerType storage = quant.actQParams.getStorageType();
  if (!storage.isSigned() || storage.getWidth() != 8)
    return fail() << "needs si8 activation qparams, got " << storage;
  if (layer.getNumDpsInputs() != 2 || layer.getNumDpsInits() != 1 ||
      layer->getNumResults() != 1)
    return fail() << "must have two inputs and one tensor result";

  OpOperand &inputOperand = *layer.getDpsInputOperand(0);
  OpOperand &weightOperand = getWeightOperand(layer);
  OpOperand &initOperand = *layer.getDpsInitOperand(0);
  auto outType = dyn_cast<RankedTensorType>(initOperand.get().getType());
  auto weightType = dyn_cast<RankedTensorType>(weightOperand.get().getType());
  if (!outType || !outType.hasStaticShape() || !weightType)
    return fail() << "needs a statically shaped result";

  // Output dimensions indexing output channels: those whose loop dimension
  // also indexes the weight.
  AffineMap weightMap = layer.getMatchingIndexingMap(&weightOperand);
  AffineMap outMap = layer.getMatchingIndexingMap(&initOperand);
  SmallVector<int64_t> channelDims;
  for (auto [d, expr] : llvm::enumerate(outMap.getResults()))
    if (weightMap.isFunctionOfDim(cast<AffineDimExpr>(expr).getPosition()))
      channelDims.push_back(d);
  for (AffineExpr expr : weightMap.getResults())
    if (!isa<AffineDimExpr>(expr))
      return fail() << "has a weight indexing map that is not a projection";
  int64_t channels = 1;
  for (int64_t d : channelDims)
    channels *= outType.getDimSize(d);

  // One weight scale per output channel when the channel is one dimension;
  // otherwise a single scale for the tensor.
  bool perChannel =
      channelDims.size() == 1 && quant.weight.channelAxes.size() == 1;
  WeightQuantization wq =
      perChannel
          ? quant.weightQuant
          : quantizeWeights(quant.weight.values, quant.weight.shape, {}, 8);
  SmallVector<int64_t> wShape(quant.weight.shape);
  std::vector<float> deq =
      applyChain(std::move(wq.dequantized), wShape, quant.weight.chain);
  if (ArrayRef<int64_t>(wShape) != weightType.getShape())
    return fail() << "weight layout chain does not produce the weight shape";

  // Integer weights in the layer's layout and sum(w) per output channel.
  double sx = quant.actQParams.getScales()[0];
  int64_t zpx = quant.actQParams.getZeroPoints()[0];
  SmallVector<int64_t> wStrides = stridesOf(wShape);
  // For each output channel dim, the weight dim holding the same loop dim.
  SmallVector<int64_t> channelWeightDims;
  for (int64_t d : channelDims) {
    unsigned loop = cast<AffineDimExpr>(outMap.getResult(d)).getPosition();
    for (auto [wd, expr] : llvm::enumerate(weightMap.getResults()))
      if (cast<AffineDimExpr>(expr).getPosition() == loop) {
        channelWeightDims.push_back(wd);
        break;
      }
  }
  std::vector<int8_t> qw(deq.size());
  std::vector<int64_t> wsum(channels, 0);
  std::vector<double> wscale(channels, wq.scales[0]);
  for (size_t i = 0; i < deq.size(); ++i) {
    int64_t channel = 0;
    for (int64_t wd : channelWeightDims)
      channel = channel * wShape[wd] + (i / wStrides[wd]) % wShape[wd];
    double s = perChannel ? wq.scales[channel] : wq.scales[0];
    wscale[channel] = s;
    int64_t q = static_cast<int64_t>(std::nearbyint(deq[i] / s));
    q = std::clamp<int64_t>(q, -127, 127);
    qw[i] = static_cast<int8_t>(q);
    wsum[channel] += q;
  }

  // The accumulator's start: bias / (s_x s_w) - zp_x sum(w), in i32.
  std::optional<std::vector<double>> bias =
      matchConstantInit(initOperand.get(), channelDims, channels);
  std::vector<int32_t> accInit(channels);
  for (int64_t c = 0; c < channels; ++c) {
    double b = bias ? std::nearbyint((*bias)[c] / (sx * wscale[c])) : 0.0;
    double v = b - static_cast<double>(zpx) * static_cast<double>(wsum[c]);
    if (!std::isfinite(v) || std::fabs(v) > std::numeric_limits<int32_t>::max())
      return fail() << "has a bias that does not fit an i32 accumulator";
    accInit[c] = static_cast<int32_t>(v);
  }

  MLIRContext *ctx = layer.getContext();
  Location loc = layer.getLoc();
  OpBuilder b(layer);
  IntegerType i8 = b.getI8Type(), i32 = b.getI32Type();

  auto inputType = cast<RankedTensorType>(inputOperand.get().getType());
  Value xq = QuantizeOp::create(b, loc, inputType.clone(i8), inputOperand.get(),
                                quant.actQParams);
  auto qwType = weightType.clone(i8);
  Value qwConst = arith::ConstantOp::create(
      b, loc, qwType, DenseElementsAttr::get(qwType, ArrayRef<int8_t>(qw)));

  auto accType = outType.clone(i32);
  Value empty = tensor::EmptyOp::create(b, loc, accType.getShape(), i32);
  Value init;
  if (llvm::all_equal(accInit)) {
    Value v =
        arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(accInit[0]));
    init = linalg::FillOp::create(b, loc, v, empty).getResult(0);
  } else {
    SmallVector<int64_t> shape;
    for (int64_t d : channelDims)
      shape.push_back(outType.getDimSize(d));
    auto type = RankedTensorType::get(shape, i32);
    Value cst = arith::ConstantOp::create(
        b, loc, type, DenseElementsAttr::get(type, ArrayRef<int32_t>(accInit)));
    SmallVector<int64_t> dims;
    for (int64_t d = 0; d < outType.getRank(); ++d)
      if (!llvm::is_contained(channelDims, d))
        dims.push_back(d);
    init = linalg::BroadcastOp::create(b, loc, cst, empty, dims).getResult()[0];
  }

  SmallVector<Value> operands(layer->getOperands());
  operands[inputOperand.getOperandNumber()] = xq;
  operands[weightOperand.getOperandNumber()] = qwConst;
  operands[initOperand.getOperandNumber()] = init;
  // Every quantizable layer computes out + in * w.
  Operation *intLayer = cloneWithNewTypes(
      b, layer, operands, accType, {i8, i8, i32},
      [&](OpBuilder &nb, Location nl, Block &block) {
        unsigned in = inputOperand.getOperandNumber();
        unsigned w = weightOperand.getOperandNumber();
        Value x = arith::ExtSIOp::create(nb, nl, i32, block.getArgument(in));
        Value y = arith::ExtSIOp::create(nb, nl, i32, block.getArgument(w));
        Value prod = arith::MulIOp::create(nb, nl, x, y);
        Value sum = arith::AddIOp::create(nb, nl, block.getArgument(2), prod);
        linalg::YieldOp::create(nb, nl, sum);
      });

  SmallVector<double> accScales;
  for (int64_t c = 0; c < (perChannel ? channels : 1); ++c)
    accScales.push_back(sx * wscale[c]);
  auto si32 = IntegerType::get(ctx, 32, IntegerType::Signed);
  std::optional<int64_t> axis;
  if (perChannel)
    axis = channelDims[0];
  auto accQParams = QParamsAttr::get(
      si32, accScales, SmallVector<int64_t>(accScales.size(), 0), axis);
  Value result =
      DequantizeOp::create(b, loc, outType, intLayer->getResult(0), accQParams);
  if (!bias) {
    // A non-constant start value is added back in f32.
    Value start = initOperand.get();
    AffineMap identity = b.getMultiDimIdentityMap(outType.getRank());
    result = buildParallelGeneric(
        b, loc, result, outType.getElementType(), {result, start},
        {identity, identity}, [](OpBuilder &nb, Location nl, ValueRange args) {
          return arith::AddFOp::create(nb, nl, args[0], args[1]).getResult();
        });
  }

  Value oldInit = initOperand.get();
  layer->getResult(0).replaceAllUsesWith(result);
  layer->erase();
  eraseDeadWeightChain(quant.weight);
  eraseIfDead(oldInit);
  return success();
}
