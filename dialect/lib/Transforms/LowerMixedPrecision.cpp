//===- LowerMixedPrecision.cpp - i8 layers as integer linalg -------------===//
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
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

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

/// A channel's bias may use at most 2^30 accumulator steps, so that the
/// products added to it have headroom in the i32 accumulator.
constexpr double kMaxBiasSteps = 1073741824.0;

/// A channel is dead when its largest |weight| is at most this fraction of
/// the layer's largest |weight| (typically after batch-norm folding).
constexpr double kDeadChannelRatio = 1e-5;

/// Everything the integer form of one layer needs, computed before any IR is
/// changed, so that a layer can still be refused (and left f32) at the end.
struct IntLayerPlan {
  LayerQuantization quant;
  /// Weight bit width: 8 (i8), or 4 (w4a8: the module keeps 4-bit weights,
  /// widened to i8 before the layer).
  unsigned weightBits = 8;
  /// Output dimensions that index the output channel.
  SmallVector<int64_t> channelDims;
  /// One weight scale per output channel (else one for the tensor).
  bool perChannel = false;
  int64_t channels = 0;
  /// The integer weights (within `weightBits`) in the layout the layer
  /// reads.
  std::vector<int8_t> weights;
  /// The weight scale of every output channel.
  std::vector<double> scales;
  /// The i32 start value (bias and zero-point correction) of every output
  /// channel: the accumulator's init, or added after the layer.
  std::vector<int32_t> accInit;
  /// Whether the layer's init was a constant (folded into accInit); if not,
  /// it is added back in f32 after the epilogue.
  bool constantInit = false;
  /// Channels whose weight scale was raised so that their bias fits.
  unsigned numFloored = 0;
};

/// "%.3g" of `value`.
std::string fmt(double value) {
  std::string text;
  llvm::raw_string_ostream(text) << llvm::format("%.3g", value);
  return text;
}

/// Decides whether `layer` can run with 8-bit activations and `bits`-bit
/// weights (8 or 4) and computes its integer form. The one feasibility check
/// shared by the lowering and check-only mode, so the two cannot disagree.
/// Returns failure, after an error on the layer, when the IR is malformed
/// (bad act_qparams, NaN weights), and std::nullopt with `reason` set when
/// the layer must stay f32.
FailureOr<std::optional<IntLayerPlan>>
planIntegerLayer(linalg::LinalgOp layer, unsigned bits, std::string &reason) {
  auto refuse = [&](const Twine &why) {
    reason = why.str();
    return std::optional<IntLayerPlan>();
  };
  if (std::optional<std::string> empty = getEmptyLayerReason(layer))
    return refuse(*empty);
  FailureOr<std::optional<LayerQuantization>> prepared =
      prepareLayerQuantization(layer, bits, reason);
  if (failed(prepared))
    return failure();
  if (!*prepared)
    return std::optional<IntLayerPlan>();

  IntLayerPlan plan;
  plan.weightBits = bits;
  plan.quant = std::move(**prepared);
  LayerQuantization &quant = plan.quant;
  IntegerType storage = quant.actQParams.getStorageType();
  if (!storage.isSigned() || storage.getWidth() != 8) {
    std::string type;
    llvm::raw_string_ostream(type) << storage;
    return refuse("activation qparams are " + type +
                  "; the integer lowering needs si8");
  }
  if (layer.getNumDpsInputs() != 2 || layer.getNumDpsInits() != 1 ||
      layer->getNumResults() != 1)
    return refuse("not an op with two inputs and one tensor result");

  OpOperand &weightOperand = getWeightOperand(layer);
  OpOperand &initOperand = *layer.getDpsInitOperand(0);
  auto outType = dyn_cast<RankedTensorType>(initOperand.get().getType());
  auto weightType = dyn_cast<RankedTensorType>(weightOperand.get().getType());
  if (!outType || !outType.hasStaticShape() || !weightType)
    return refuse("result is not statically shaped");

  // Output dimensions indexing output channels: those whose loop dimension
  // also indexes the weight.
  AffineMap weightMap = layer.getMatchingIndexingMap(&weightOperand);
  AffineMap outMap = layer.getMatchingIndexingMap(&initOperand);
  FailureOr<SmallVector<int64_t>> channelDims = getOutputChannelDims(layer);
  if (failed(channelDims))
    return refuse("weight or output indexing map is not a projection");
  plan.channelDims = std::move(*channelDims);
  plan.channels = 1;
  for (int64_t d : plan.channelDims)
    plan.channels *= outType.getDimSize(d);
  const int64_t channels = plan.channels;

  // One weight scale per output channel when the channel is one dimension;
  // otherwise a single scale for the tensor.
  plan.perChannel =
      plan.channelDims.size() == 1 && quant.weight.channelAxes.size() == 1;
  WeightQuantization perTensor;
  if (!plan.perChannel)
    perTensor =
        quantizeWeights(quant.weight.values, quant.weight.shape, {}, bits);
  const std::vector<double> &baseScales =
      plan.perChannel ? quant.weightQuant.scales : perTensor.scales;
  SmallVector<int64_t> wShape(quant.weight.shape);
  std::vector<float> raw =
      applyChain(quant.weight.values, wShape, quant.weight.chain);
  if (ArrayRef<int64_t>(wShape) != weightType.getShape())
    return refuse("weight layout chain does not produce the weight shape");
  int64_t numScales = plan.perChannel ? channels : 1;
  if (static_cast<int64_t>(baseScales.size()) != numScales)
    return refuse("weight scales do not match the output channels");

  // For each output channel dim, the weight dim holding the same loop dim.
  SmallVector<int64_t> wStrides = stridesOf(wShape);
  SmallVector<int64_t> channelWeightDims;
  for (int64_t d : plan.channelDims) {
    unsigned loop = cast<AffineDimExpr>(outMap.getResult(d)).getPosition();
    for (auto [wd, expr] : llvm::enumerate(weightMap.getResults()))
      if (cast<AffineDimExpr>(expr).getPosition() == loop) {
        channelWeightDims.push_back(wd);
        break;
      }
  }
  auto channelOf = [&](size_t flat) {
    int64_t channel = 0;
    for (int64_t wd : channelWeightDims)
      channel = channel * wShape[wd] + (flat / wStrides[wd]) % wShape[wd];
    return channel;
  };
  std::vector<double> maxAbs(channels, 0.0);
  for (size_t i = 0; i < raw.size(); ++i) {
    double &m = maxAbs[channelOf(i)];
    m = std::max(m, std::fabs(static_cast<double>(raw[i])));
  }
  double largest = 0.0;
  for (double m : maxAbs)
    largest = std::max(largest, m);

  // The bias of every channel must fit in kMaxBiasSteps accumulator steps of
  // s_x * s_w. A dead channel (negligible weights, typically after
  // batch-norm folding) gets its weight scale raised until it does; its
  // weights then quantize to about 0 and its bias is kept. Otherwise the
  // layer stays f32.
  double sx = quant.actQParams.getScales()[0];
  int64_t zpx = quant.actQParams.getZeroPoints()[0];
  plan.scales.assign(channels, baseScales[0]);
  if (plan.perChannel)
    plan.scales.assign(baseScales.begin(), baseScales.end());
  std::optional<std::vector<double>> bias =
      matchConstantInit(initOperand.get(), plan.channelDims, channels);
  plan.constantInit = bias.has_value();
  // The analysis' bias correction (the mean int8 error of each channel on
  // the calibration data) is added to the bias, or is the bias when the
  // init is not a constant (that init is then added back in f32).
  if (auto correction = layer->getAttrOfType<DenseFPElementsAttr>(
          QuantuneDialect::kBiasCorrectionAttrName)) {
    if (correction.getNumElements() != channels) {
      layer->emitError() << describeLayer(layer) << ": '"
                         << QuantuneDialect::kBiasCorrectionAttrName << "' has "
                         << correction.getNumElements() << " values for "
                         << channels << " output channels";
      return failure();
    }
    if (!bias)
      bias = std::vector<double>(channels, 0.0);
    int64_t c = 0;
    for (const APFloat &value : correction.getValues<APFloat>())
      (*bias)[c++] += value.convertToDouble();
  }
  if (bias) {
    for (int64_t c = 0; c < channels; ++c) {
      double b = (*bias)[c];
      if (!std::isfinite(b))
        return refuse("bias of channel " + Twine(c) + " is " + fmt(b));
      double steps = std::fabs(b) / (sx * plan.scales[c]);
      if (steps <= kMaxBiasSteps)
        continue;
      bool dead = maxAbs[c] <= kDeadChannelRatio * largest;
      if (dead && plan.perChannel) {
        plan.scales[c] = std::fabs(b) / (sx * kMaxBiasSteps);
        ++plan.numFloored;
        continue;
      }
      std::string why = "bias of channel " + std::to_string(c) + " is " +
                        fmt(steps) + " input-weight quantization steps (bias " +
                        fmt(b) + ", input scale " + fmt(sx) +
                        ", weight scale " + fmt(plan.scales[c]) +
                        "); beyond an i32 accumulator (limit 2^30)";
      if (dead)
        why += "; the channel's weights are negligible, but the layer has "
               "one weight scale for all channels";
      else
        why += "; its weights are not negligible, so the input scale " +
               fmt(sx) +
               " is too tiny for this bias (the input barely varies on "
               "the calibration data)";
      return refuse(why);
    }
  }

  // Integer weights in the layer's layout and sum(w) per output channel.
  const double qmax = double((int64_t(1) << (bits - 1)) - 1);
  plan.weights.resize(raw.size());
  std::vector<int64_t> wsum(channels, 0);
  for (size_t i = 0; i < raw.size(); ++i) {
    int64_t channel = channelOf(i);
    double q =
        std::nearbyint(static_cast<double>(raw[i]) / plan.scales[channel]);
    int64_t qi = static_cast<int64_t>(std::clamp(q, -qmax, qmax));
    plan.weights[i] = static_cast<int8_t>(qi);
    wsum[channel] += qi;
  }

  // The accumulator's start: bias / (s_x s_w) - zp_x sum(w), in i32.
  plan.accInit.resize(channels);
  for (int64_t c = 0; c < channels; ++c) {
    double b = bias ? std::nearbyint((*bias)[c] / (sx * plan.scales[c])) : 0.0;
    double v = b - static_cast<double>(zpx) * static_cast<double>(wsum[c]);
    if (!std::isfinite(v) || std::fabs(v) > std::numeric_limits<int32_t>::max())
      return refuse("accumulator start of channel " + Twine(c) + " (" + fmt(v) +
                    ") does not fit an i32 accumulator");
    plan.accInit[c] = static_cast<int32_t>(v);
  }
  return std::optional<IntLayerPlan>(std::move(plan));
}

/// The weight constant of `plan` in `type`'s shape, as the layer reads it
/// (i8). 4-bit weights are stored two per byte (element 2k in the low
/// nibble of byte k, 2k + 1 in the high one) in a 1-D i8 constant and
/// unpacked by an elementwise linalg.generic (shift left, arithmetic shift
/// right: sign extension) and a reshape. IREE hoists the unpacking, and the
/// data-tiling pack after it, into an initializer; compiled with
/// `--iree-opt-const-eval=false` it runs when the module is loaded and the
/// module keeps 4 bits per weight (docs/lowering.md, "w4a8"). No i4 type
/// reaches IREE: its sub-byte code generation fails or is wrong on several
/// shapes (docs/lowering.md, "Known problems").
Value buildWeightConstant(OpBuilder &b, Location loc, RankedTensorType type,
                          const IntLayerPlan &plan) {
  IntegerType i8 = b.getI8Type();
  auto i8Type = type.clone(i8);
  if (plan.weightBits == 8)
    return arith::ConstantOp::create(
        b, loc, i8Type,
        DenseElementsAttr::get(i8Type, ArrayRef<int8_t>(plan.weights)));
  assert(plan.weightBits == 4 && "weights are 8 or 4 bits");
  const int64_t count = static_cast<int64_t>(plan.weights.size());
  const int64_t bytes = (count + 1) / 2;
  std::vector<int8_t> packed(bytes, 0);
  for (int64_t i = 0; i < count; ++i) {
    uint8_t nibble = static_cast<uint8_t>(plan.weights[i]) & 0xF;
    packed[i / 2] |= static_cast<int8_t>(i % 2 ? nibble << 4 : nibble);
  }
  auto packedType = RankedTensorType::get({bytes}, i8);
  Value constant = arith::ConstantOp::create(
      b, loc, packedType,
      DenseElementsAttr::get(packedType, ArrayRef<int8_t>(packed)));
  // [bytes] -> [bytes, 2]: element j of byte k is (k << (4 - 4j)) >>s 4.
  MLIRContext *ctx = b.getContext();
  auto pairsType = RankedTensorType::get({bytes, 2}, i8);
  Value pairsInit = tensor::EmptyOp::create(b, loc, pairsType.getShape(), i8);
  AffineMap byteMap = AffineMap::get(2, 0, getAffineDimExpr(0, ctx));
  Value pairs =
      linalg::GenericOp::create(
          b, loc, pairsType, constant, pairsInit,
          ArrayRef<AffineMap>{byteMap, b.getMultiDimIdentityMap(2)},
          ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                        utils::IteratorType::parallel},
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Value half = arith::IndexCastOp::create(
                nb, nl, i8, linalg::IndexOp::create(nb, nl, 1));
            Value four =
                arith::ConstantOp::create(nb, nl, nb.getI8IntegerAttr(4));
            Value one =
                arith::ConstantOp::create(nb, nl, nb.getI8IntegerAttr(1));
            Value shift = arith::MulIOp::create(
                nb, nl, arith::SubIOp::create(nb, nl, one, half), four);
            Value high = arith::ShLIOp::create(nb, nl, args[0], shift);
            linalg::YieldOp::create(
                nb, nl, arith::ShRSIOp::create(nb, nl, high, four).getResult());
          })
          .getResult(0);
  Value flat = tensor::CollapseShapeOp::create(
      b, loc, pairs, ArrayRef<ReassociationIndices>{{0, 1}});
  if (2 * bytes != count)
    flat = tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({count}, i8), flat, ValueRange{},
        ValueRange{}, ValueRange{}, b.getDenseI64ArrayAttr({0}),
        b.getDenseI64ArrayAttr({count}), b.getDenseI64ArrayAttr({1}));
  ReassociationIndices all;
  for (int64_t d = 0; d < type.getRank(); ++d)
    all.push_back(d);
  return tensor::ExpandShapeOp::create(b, loc, i8Type, flat,
                                       ArrayRef<ReassociationIndices>{all});
}

/// The start values of `plan` as an i32 constant over the channel
/// dimensions of the layer's output (of type `outType`).
Value buildStartValues(OpBuilder &b, Location loc, const IntLayerPlan &plan,
                       RankedTensorType outType) {
  SmallVector<int64_t> shape;
  for (int64_t d : plan.channelDims)
    shape.push_back(outType.getDimSize(d));
  auto type = RankedTensorType::get(shape, b.getI32Type());
  return arith::ConstantOp::create(
      b, loc, type,
      DenseElementsAttr::get(type, ArrayRef<int32_t>(plan.accInit)));
}

/// True when `value` reaches a single consumer: it has one use, and so has
/// every single-input elementwise op (an activation) it flows through. The
/// folding pass then builds one epilogue that reads the layer's i32 sum;
/// with several consumers it builds several.
bool reachesOneConsumer(Value value) {
  while (value.hasOneUse()) {
    auto user = dyn_cast<linalg::GenericOp>(*value.getUsers().begin());
    if (!user || user.getNumDpsInputs() != 1 || user->getNumResults() != 1 ||
        user.getNumLoops() != user.getNumParallelLoops())
      return true;
    value = user->getResult(0);
  }
  return value.use_empty();
}

/// Rewrites `layer` as integer linalg following `plan`. With `startInInit`
/// the accumulator starts at the start values; otherwise it starts at 0 and
/// they are added after the layer.
void lowerLayer(linalg::LinalgOp layer, const IntLayerPlan &plan,
                bool startInInit) {
  const LayerQuantization &quant = plan.quant;
  OpOperand &inputOperand = *layer.getDpsInputOperand(0);
  OpOperand &weightOperand = getWeightOperand(layer);
  OpOperand &initOperand = *layer.getDpsInitOperand(0);
  auto outType = cast<RankedTensorType>(initOperand.get().getType());
  auto weightType = cast<RankedTensorType>(weightOperand.get().getType());
  double sx = quant.actQParams.getScales()[0];

  MLIRContext *ctx = layer.getContext();
  Location loc = layer.getLoc();
  OpBuilder b(layer);
  IntegerType i8 = b.getI8Type(), i32 = b.getI32Type();

  auto inputType = cast<RankedTensorType>(inputOperand.get().getType());
  Value xq = QuantizeOp::create(b, loc, inputType.clone(i8), inputOperand.get(),
                                quant.actQParams);
  Value qwConst = buildWeightConstant(b, loc, weightType, plan);

  // The accumulator starts at 0 and the start values (bias and zero-point
  // correction) are added after the layer by an elementwise op that IREE
  // fuses into the layer's dispatch with the requantization epilogue. Start
  // values broadcast into the init cost a broadcast and, with data tiling, a
  // pack of the init: two dispatches per layer. The start values stay in the
  // init in modules with w4a8 layers (`startInInit`) and for layers whose
  // value reaches several consumers (e.g. the next block and a residual add):
  // there the i32 sum would feed several epilogues, and IREE 3.13 then fails
  // to lower a microkernel (docs/lowering.md, "Known problems").
  startInInit = startInInit || !reachesOneConsumer(layer->getResult(0));
  auto accType = outType.clone(i32);
  Value empty = tensor::EmptyOp::create(b, loc, accType.getShape(), i32);
  Value init;
  if (!startInInit || llvm::all_equal(plan.accInit)) {
    int32_t start = startInInit ? plan.accInit[0] : 0;
    Value v = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(start));
    init = linalg::FillOp::create(b, loc, v, empty).getResult(0);
  } else {
    Value cst = buildStartValues(b, loc, plan, outType);
    SmallVector<int64_t> dims;
    for (int64_t d = 0; d < outType.getRank(); ++d)
      if (!llvm::is_contained(plan.channelDims, d))
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

  Value acc = intLayer->getResult(0);
  if (!startInInit &&
      llvm::any_of(plan.accInit, [](int32_t v) { return v != 0; })) {
    int64_t rank = outType.getRank();
    SmallVector<Value> inputs{acc};
    SmallVector<AffineMap> maps{b.getMultiDimIdentityMap(rank)};
    std::optional<int32_t> splat;
    if (llvm::all_equal(plan.accInit)) {
      splat = plan.accInit[0];
    } else {
      SmallVector<AffineExpr> dims;
      for (int64_t d : plan.channelDims)
        dims.push_back(b.getAffineDimExpr(d));
      inputs.push_back(buildStartValues(b, loc, plan, outType));
      maps.push_back(AffineMap::get(rank, 0, dims, ctx));
    }
    acc = buildParallelGeneric(
        b, loc, acc, i32, inputs, maps,
        [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
          Value start = splat ? arith::ConstantOp::create(
                                    nb, nl, nb.getI32IntegerAttr(*splat))
                                    .getResult()
                              : args[1];
          return arith::AddIOp::create(nb, nl, args[0], start);
        });
  }

  SmallVector<double> accScales;
  for (int64_t c = 0; c < (plan.perChannel ? plan.channels : 1); ++c)
    accScales.push_back(sx * plan.scales[c]);
  auto si32 = IntegerType::get(ctx, 32, IntegerType::Signed);
  std::optional<int64_t> axis;
  if (plan.perChannel)
    axis = plan.channelDims[0];
  auto accQParams = QParamsAttr::get(
      si32, accScales, SmallVector<int64_t>(accScales.size(), 0), axis);
  Value result = DequantizeOp::create(b, loc, outType, acc, accQParams);
  if (!plan.constantInit) {
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
}

/// Why IREE's SPIR-V backend cannot be trusted with `layer` in int8. With
/// IREE 3.13 that is every layer: see the pass description.
std::string vulkanUnsafeReason(linalg::LinalgOp layer) {
  return "int8 on Vulkan is miscompiled by IREE 3.13's SPIR-V backend "
         "(vectorized i8 buffer accesses of contractions and quantize "
         "dispatches are wrong or hang on lavapipe); kept f32 so that the "
         "Vulkan module is correct";
}

struct LowerMixedPrecisionPass
    : public quantune::impl::QuantuneLowerMixedPrecisionBase<
          LowerMixedPrecisionPass> {
  using QuantuneLowerMixedPrecisionBase::QuantuneLowerMixedPrecisionBase;

  void runOnOperation() override {
    bool failedAny = false;
    SmallVector<linalg::LinalgOp> layers = collectLayers(getOperation());
    const bool allStartsInInit =
        startInInit ||
        (!checkOnly && llvm::any_of(layers, [](linalg::LinalgOp layer) {
          return getIntegerLayerBits(layer) == 4u;
        }));
    for (linalg::LinalgOp layer : layers) {
      // check-only: every layer the analysis could still make int8 (at
      // its integer precision's weight width if it has one, else 8 bits);
      // lowering: the layers assigned i8 or i4.
      std::optional<unsigned> bits = getIntegerLayerBits(layer);
      if (checkOnly ? !layer->hasAttr(QuantuneDialect::kActQParamsAttrName) ||
                          hasForcedF32Reason(layer)
                    : !bits)
        continue;
      std::string reason;
      FailureOr<std::optional<IntLayerPlan>> plan =
          planIntegerLayer(layer, bits.value_or(8), reason);
      if (succeeded(plan) && *plan && vulkanSafe) {
        reason = vulkanUnsafeReason(layer);
        plan = std::optional<IntLayerPlan>();
      }
      if (failed(plan)) {
        failedAny = true;
        continue;
      }
      if (!*plan) {
        if (strict && !checkOnly) {
          layer->emitError()
              << "quantune-lower-mixed-precision: " << describeLayer(layer)
              << " is " << (bits == 4u ? "i4" : "i8")
              << " but cannot be lowered: " << reason;
          failedAny = true;
          continue;
        }
        layer->emitWarning()
            << "quantune-lower-mixed-precision: " << describeLayer(layer)
            << " stays f32: " << reason;
        markLayerF32(layer, reason);
        ++numRefused;
        continue;
      }
      numFloored += (*plan)->numFloored;
      if (checkOnly)
        continue;
      lowerLayer(layer, **plan,
                 /*startInInit=*/allStartsInInit ||
                     llvm::is_contained(startInInitLayers,
                                         getLayerId(layer).value_or(-1)));
      ++numLowered;
    }
    if (failedAny)
      signalPassFailure();
  }
};

} // namespace
