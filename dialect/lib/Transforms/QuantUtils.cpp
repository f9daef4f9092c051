//===- QuantUtils.cpp - Fake quantization in linalg on tensors ------------===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#include "quantune/Transforms/QuantUtils.h"
#include "quantune/IR/QuantuneDialect.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/SymbolTable.h"

#include <limits>

using namespace mlir;
using namespace mlir::quantune;

FailureOr<std::optional<LayerQuantization>>
mlir::quantune::prepareLayerQuantization(linalg::LinalgOp layer, unsigned bits,
                                         std::string &reason) {
  int64_t id = *getLayerId(layer);
  Attribute attr = layer->getAttr(QuantuneDialect::kActQParamsAttrName);
  if (!attr) {
    reason = ("it has no '" + QuantuneDialect::kActQParamsAttrName + "'").str();
    return std::optional<LayerQuantization>();
  }
  auto qparams = dyn_cast<QParamsAttr>(attr);
  if (!qparams || qparams.isPerChannel()) {
    layer->emitError() << "layer " << id << ": '"
                       << QuantuneDialect::kActQParamsAttrName
                       << "' must be a per-tensor #quantune.qparams, got "
                       << attr;
    return failure();
  }
  auto inputType =
      dyn_cast<RankedTensorType>(layer.getDpsInputOperand(0)->get().getType());
  if (!inputType || !isa<FloatType>(inputType.getElementType())) {
    reason = "input is not a ranked tensor of floats";
    return std::optional<LayerQuantization>();
  }

  FailureOr<ConstantWeight> weight = findConstantWeight(layer, reason);
  if (failed(weight))
    return std::optional<LayerQuantization>();
  WeightQuantization quant =
      quantizeWeights(weight->values, weight->shape, weight->channelAxes, bits);
  if (quant.numNonFinite) {
    layer->emitError() << "layer " << id << " has " << quant.numNonFinite
                       << " NaN or infinite weight value(s)";
    return failure();
  }
  return std::optional<LayerQuantization>(
      LayerQuantization{qparams, std::move(*weight), std::move(quant)});
}

Value mlir::quantune::castFloat(OpBuilder &b, Location loc, Value value,
                                Type type) {
  if (value.getType() == type)
    return value;
  if (value.getType().getIntOrFloatBitWidth() < type.getIntOrFloatBitWidth())
    return arith::ExtFOp::create(b, loc, type, value);
  return arith::TruncFOp::create(b, loc, type, value);
}

Value mlir::quantune::createEmptyLike(OpBuilder &b, Location loc, Value like,
                                      Type elementType) {
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, like);
  return tensor::EmptyOp::create(b, loc, sizes, elementType);
}

Value mlir::quantune::buildFakeQuantScalar(OpBuilder &b, Location loc, Value x,
                                           QParamsAttr qparams) {
  Type f32 = b.getF32Type();
  auto constant = [&](double value) -> Value {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
  };
  double scale = qparams.getScales()[0];
  int64_t zeroPoint = qparams.getZeroPoints()[0];

  Value v = castFloat(b, loc, x, f32);
  Value scaleValue = constant(scale);
  Value zeroPointValue = zeroPoint != 0 ? constant(zeroPoint) : Value();
  Value q = math::RoundEvenOp::create(
      b, loc, arith::DivFOp::create(b, loc, v, scaleValue));
  if (zeroPointValue)
    q = arith::AddFOp::create(b, loc, q, zeroPointValue);
  q = arith::MaximumFOp::create(b, loc, q, constant(qparams.getStorageMin()));
  q = arith::MinimumFOp::create(b, loc, q, constant(qparams.getStorageMax()));
  if (zeroPointValue)
    q = arith::SubFOp::create(b, loc, q, zeroPointValue);
  Value result = arith::MulFOp::create(b, loc, q, scaleValue);
  return castFloat(b, loc, result, x.getType());
}

/// `selector == layerId` for a scalar i32 selector.
static Value isSelected(OpBuilder &b, Location loc, Value selector,
                        int64_t layerId) {
  Value id = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(layerId));
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, selector, id);
}

/// Emits an elementwise linalg.generic over tensors shaped like `inputs[0]`
/// whose extra `scalars` (0-d tensors) are read through maps to ().
static Value
buildElementwise(OpBuilder &b, Location loc, ValueRange inputs,
                 ValueRange scalars, Type elementType,
                 function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  int64_t rank = cast<RankedTensorType>(inputs[0].getType()).getRank();
  SmallVector<AffineMap> maps(inputs.size(), b.getMultiDimIdentityMap(rank));
  maps.append(scalars.size(), AffineMap::get(rank, 0, b.getContext()));
  SmallVector<Value> operands(inputs);
  llvm::append_range(operands, scalars);
  return buildParallelGeneric(b, loc, inputs[0], elementType, operands, maps,
                              body);
}

Value mlir::quantune::buildFakeQuantActivation(OpBuilder &b, Location loc,
                                               Value input, QParamsAttr qparams,
                                               Value selector,
                                               int64_t layerId) {
  Type elementType = cast<RankedTensorType>(input.getType()).getElementType();
  SmallVector<Value> scalars;
  if (selector)
    scalars.push_back(selector);
  return buildElementwise(
      b, loc, input, scalars, elementType,
      [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Value fq = buildFakeQuantScalar(nb, nl, args[0], qparams);
        if (!selector)
          return fq;
        return arith::SelectOp::create(
            nb, nl, isSelected(nb, nl, args[1], layerId), fq, args[0]);
      });
}

Value mlir::quantune::buildFakeQuantWeight(OpBuilder &b, Location loc,
                                           const ConstantWeight &weight,
                                           const WeightQuantization &quant) {
  arith::ConstantOp constant = weight.constant;
  auto type = cast<RankedTensorType>(constant.getType());
  DenseElementsAttr values;
  if (type.getElementType().isF32()) {
    values = DenseElementsAttr::get(type, ArrayRef<float>(quant.dequantized));
  } else {
    // findConstantWeight reads only f32 and f64 constants.
    SmallVector<double> wide(quant.dequantized.begin(),
                             quant.dequantized.end());
    values = DenseElementsAttr::get(type, ArrayRef<double>(wide));
  }
  Value result = arith::ConstantOp::create(b, loc, type, values);
  for (Operation *op : weight.chain) {
    Operation *clone = b.clone(*op);
    cast<linalg::LinalgOp>(clone).getDpsInputOperand(0)->set(result);
    result = clone->getResult(0);
  }
  return result;
}

Value mlir::quantune::buildLayerSelect(OpBuilder &b, Location loc,
                                       Value selector, int64_t layerId,
                                       Value ifSelected, Value otherwise) {
  Type elementType =
      cast<RankedTensorType>(ifSelected.getType()).getElementType();
  return buildElementwise(
      b, loc, {ifSelected, otherwise}, selector, elementType,
      [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        return arith::SelectOp::create(
            nb, nl, isSelected(nb, nl, args[2], layerId), args[0], args[1]);
      });
}

FailureOr<Value>
mlir::quantune::addLayerSelectorArgument(func::FuncOp func,
                                         ArrayRef<linalg::LinalgOp> layers,
                                         StringRef pass) {
  if (!SymbolTable::symbolKnownUseEmpty(func, func->getParentOp()))
    return func.emitError() << pass << ": function @" << func.getSymName()
                            << " is called; adding the layer selector "
                               "argument would break its callers";
  for (linalg::LinalgOp layer : layers) {
    int64_t id = *getLayerId(layer);
    if (id > std::numeric_limits<int32_t>::max())
      return layer->emitError() << pass << ": layer id " << id
                                << " does not fit the i32 layer selector";
  }
  auto selectorType =
      RankedTensorType::get({}, IntegerType::get(func.getContext(), 32));
  if (failed(func.insertArgument(func.getNumArguments(), selectorType,
                                 DictionaryAttr(), func.getLoc())))
    return func.emitError() << pass
                            << ": cannot add the layer selector argument to @"
                            << func.getSymName();
  return func.getArgument(func.getNumArguments() - 1);
}

FailureOr<Value> mlir::quantune::buildBiasCorrection(
    OpBuilder &b, Location loc, linalg::LinalgOp layer, Value output,
    DenseFPElementsAttr correction, Value selector, int64_t layerId) {
  auto outType = cast<RankedTensorType>(output.getType());
  FailureOr<SmallVector<int64_t>> channelDims = getOutputChannelDims(layer);
  int64_t channels = 1;
  SmallVector<int64_t> shape;
  if (succeeded(channelDims))
    for (int64_t d : *channelDims) {
      shape.push_back(outType.getDimSize(d));
      channels *= outType.getDimSize(d);
    }
  if (failed(channelDims) || ShapedType::isDynamic(channels) ||
      channels != correction.getNumElements())
    return layer->emitError()
           << describeLayer(layer) << ": '"
           << QuantuneDialect::kBiasCorrectionAttrName << "' has "
           << correction.getNumElements() << " values, but the output has "
           << (succeeded(channelDims) && !ShapedType::isDynamic(channels)
                   ? std::to_string(channels)
                   : std::string("no static"))
           << " output channels";
  // The correction in the output's element type, shaped like the channel
  // dimensions, read through a projection onto them.
  Type elementType = outType.getElementType();
  auto cstType = RankedTensorType::get(shape, elementType);
  SmallVector<APFloat> values;
  for (APFloat v : correction.getValues<APFloat>()) {
    bool lost = false;
    v.convert(cast<FloatType>(elementType).getFloatSemantics(),
              APFloat::rmNearestTiesToEven, &lost);
    values.push_back(v);
  }
  Value cst = arith::ConstantOp::create(
      b, loc, cstType, DenseElementsAttr::get(cstType, values));
  MLIRContext *ctx = b.getContext();
  int64_t rank = outType.getRank();
  SmallVector<AffineExpr> kept;
  for (int64_t d : *channelDims)
    kept.push_back(getAffineDimExpr(d, ctx));
  SmallVector<Value> inputs = {output, cst};
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank),
                                 AffineMap::get(rank, 0, kept, ctx)};
  if (selector) {
    inputs.push_back(selector);
    maps.push_back(AffineMap::get(rank, 0, ctx));
  }
  return buildParallelGeneric(
      b, loc, output, elementType, inputs, maps,
      [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Value sum = arith::AddFOp::create(nb, nl, args[0], args[1]);
        if (!selector)
          return sum;
        return arith::SelectOp::create(
            nb, nl, isSelected(nb, nl, args[2], layerId), sum, args[0]);
      });
}

void mlir::quantune::eraseDeadWeightChain(const ConstantWeight &weight) {
  for (Operation *op : llvm::reverse(weight.chain)) {
    if (!op->use_empty())
      return;
    SmallVector<Operation *> inits;
    for (Value init : cast<linalg::LinalgOp>(op).getDpsInits())
      if (Operation *def = init.getDefiningOp<tensor::EmptyOp>())
        inits.push_back(def);
    op->erase();
    for (Operation *init : inits)
      if (init->use_empty())
        init->erase();
  }
  arith::ConstantOp constant = weight.constant;
  if (constant->use_empty())
    constant->erase();
}

Operation *mlir::quantune::cloneWithNewTypes(
    OpBuilder &b, Operation *op, ValueRange operands, TypeRange resultTypes,
    TypeRange blockArgTypes,
    function_ref<void(OpBuilder &, Location, Block &)> bodyBuilder) {
  OperationState state(op->getLoc(), op->getName());
  state.addOperands(operands);
  state.addTypes(resultTypes);
  state.propertiesAttr = op->getPropertiesAsAttribute();
  state.addAttributes(llvm::to_vector(op->getDiscardableAttrs()));
  for (unsigned i = 0, e = op->getNumRegions(); i < e; ++i) {
    Region *region = state.addRegion();
    auto *block = new Block();
    region->push_back(block);
    for (Type type : blockArgTypes)
      block->addArgument(type, op->getLoc());
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(block);
    bodyBuilder(b, op->getLoc(), *block);
  }
  return b.create(state);
}

Value mlir::quantune::buildParallelGeneric(
    OpBuilder &b, Location loc, Value shapeLike, Type elementType,
    ValueRange inputs, ArrayRef<AffineMap> inputMaps,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  int64_t rank = cast<RankedTensorType>(shapeLike.getType()).getRank();
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(b.getMultiDimIdentityMap(rank));
  Value init = createEmptyLike(b, loc, shapeLike, elementType);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), inputs, init, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        linalg::YieldOp::create(nb, nl, body(nb, nl, args.drop_back()));
      });
  return generic.getResult(0);
}

Value mlir::quantune::buildF32Vector(OpBuilder &b, Location loc,
                                     ArrayRef<double> values) {
  SmallVector<float> narrow(values.begin(), values.end());
  auto type = RankedTensorType::get({static_cast<int64_t>(values.size())},
                                    b.getF32Type());
  return arith::ConstantOp::create(
      b, loc, type, DenseElementsAttr::get(type, ArrayRef<float>(narrow)));
}

/// 1.5 * 2^23: adding it to an f32 of magnitude at most 2^22 leaves
/// round-half-to-even of that value in the low mantissa bits. The constant is
/// even, so the tie-breaking parity is the value's own.
static constexpr float kRoundingBias = 12582912.0f;
/// The bit pattern of kRoundingBias as an i32.
static constexpr int32_t kRoundingBiasBits = 0x4B400000;

/// buildRoundClampToInt with the zero point either known at compile time
/// (`knownZeroPoint`) or an f32 value (`zeroPoint`).
static Value roundClampToInt(OpBuilder &b, Location loc, Value v,
                             std::optional<int64_t> knownZeroPoint,
                             Value zeroPoint, int64_t lo, int64_t hi,
                             IntegerType intType, bool isSigned) {
  Type f32 = b.getF32Type();
  Type i32 = b.getI32Type();
  auto floatConstant = [&](double value) -> Value {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
  };
  auto intConstant = [&](int64_t value) -> Value {
    return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(value));
  };
  v = castFloat(b, loc, v, f32);

  if (intType.getWidth() > kRoundingBiasMaxWidth) {
    // Wide storage: its range does not fit the rounding-bias trick.
    Value q = math::RoundEvenOp::create(b, loc, v);
    if (!knownZeroPoint)
      q = arith::AddFOp::create(b, loc, q, zeroPoint);
    else if (*knownZeroPoint != 0)
      q = arith::AddFOp::create(b, loc, q, floatConstant(*knownZeroPoint));
    q = arith::MaximumFOp::create(b, loc, q, floatConstant(lo));
    q = arith::MinimumFOp::create(b, loc, q, floatConstant(hi));
    if (!isSigned)
      return arith::FPToUIOp::create(b, loc, intType, q);
    return arith::FPToSIOp::create(b, loc, intType, q);
  }

  // Clamp first, to [lo - zp, hi - zp]: rounding is monotone and keeps
  // integers, so this equals clamping after rounding, and it bounds the value
  // for the bias trick. maxnumf/minnumf send a NaN to the lower bound.
  Value lower, upper;
  if (knownZeroPoint) {
    lower = floatConstant(double(lo - *knownZeroPoint));
    upper = floatConstant(double(hi - *knownZeroPoint));
  } else {
    lower = arith::SubFOp::create(b, loc, floatConstant(lo), zeroPoint);
    upper = arith::SubFOp::create(b, loc, floatConstant(hi), zeroPoint);
  }
  Value q = arith::MaxNumFOp::create(b, loc, v, lower);
  q = arith::MinNumFOp::create(b, loc, q, upper);
  q = arith::AddFOp::create(b, loc, q, floatConstant(kRoundingBias));
  q = arith::BitcastOp::create(b, loc, i32, q);
  // roundeven(q) = bits - bits(bias); the zero point is added in i32.
  Value offset;
  if (knownZeroPoint) {
    offset = intConstant(kRoundingBiasBits - *knownZeroPoint);
  } else {
    offset =
        arith::SubIOp::create(b, loc, intConstant(kRoundingBiasBits),
                              arith::FPToSIOp::create(b, loc, i32, zeroPoint));
  }
  q = arith::SubIOp::create(b, loc, q, offset);
  return arith::TruncIOp::create(b, loc, intType, q);
}

Value mlir::quantune::buildRoundClampToInt(OpBuilder &b, Location loc, Value v,
                                           Value zeroPoint, int64_t lo,
                                           int64_t hi, IntegerType intType,
                                           bool isSigned) {
  return roundClampToInt(b, loc, v, std::nullopt, zeroPoint, lo, hi, intType,
                         isSigned);
}

Value mlir::quantune::buildRoundClampToInt(OpBuilder &b, Location loc, Value v,
                                           int64_t zeroPoint, int64_t lo,
                                           int64_t hi, IntegerType intType,
                                           bool isSigned) {
  return roundClampToInt(b, loc, v, zeroPoint, Value(), lo, hi, intType,
                         isSigned);
}

Value mlir::quantune::buildIntToFloat(OpBuilder &b, Location loc, Value v,
                                      QParamsAttr qparams) {
  if (qparams.isSignedStorage())
    return arith::SIToFPOp::create(b, loc, b.getF32Type(), v);
  return arith::UIToFPOp::create(b, loc, b.getF32Type(), v);
}
