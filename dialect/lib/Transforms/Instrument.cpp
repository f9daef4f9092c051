//===- Instrument.cpp - Per-layer statistics as extra results -------------===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#include "quantune/IR/QuantuneDialect.h"
#include "quantune/Transforms/LayerUtils.h"
#include "quantune/Transforms/Passes.h"
#include "quantune/Transforms/QuantUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringSwitch.h"

#include <limits>

namespace mlir {
namespace quantune {
#define GEN_PASS_DEF_QUANTUNEINSTRUMENT
#include "quantune/Transforms/Passes.h.inc"
} // namespace quantune
} // namespace mlir

using namespace mlir;
using namespace mlir::quantune;

namespace {
enum class InstrumentMode { Ranges, LocalError };

/// One extra function result and its `quantune.probe_outputs` entry.
struct ProbeOutput {
  Value value;
  std::string name;
};
} // namespace

/// The trailing arguments of a function instrumented with shadow=true: which
/// layer feeds its twin to the network, which of its candidates' twins, and
/// the per-channel correction added to that twin.
struct ShadowArgs {
  Value layer;
  Value candidate;
  Value correction;
};

/// Histogram bin indices are i32 and computed in f32, whose integers are
/// exact up to 2^24.
static constexpr unsigned kMaxBins = 1u << 24;

/// Reduces `inputs` (tensors of one static or dynamic shape) over every
/// dimension except `keptDims` into a tensor of the float type `accType`
/// whose shape is those dimensions' sizes (0-d when `keptDims` is empty;
/// kept dimensions must be static), starting from `initValue`; `combine`
/// gets the elements, converted to `accType`, and the accumulator and
/// returns the new accumulator.
static Value reduceKeeping(
    OpBuilder &b, Location loc, ValueRange inputs, ArrayRef<int64_t> keptDims,
    FloatType accType, double initValue,
    function_ref<Value(OpBuilder &, Location, ValueRange, Value)> combine) {
  MLIRContext *ctx = b.getContext();
  auto inputType = cast<RankedTensorType>(inputs[0].getType());
  int64_t rank = inputType.getRank();
  SmallVector<int64_t> keptShape;
  SmallVector<AffineExpr> keptExprs;
  for (int64_t d : keptDims) {
    keptShape.push_back(inputType.getDimSize(d));
    keptExprs.push_back(getAffineDimExpr(d, ctx));
  }
  Value init = tensor::EmptyOp::create(b, loc, keptShape, accType);
  Value initScalar = arith::ConstantOp::create(
      b, loc, b.getFloatAttr(accType, initValue));
  init = linalg::FillOp::create(b, loc, initScalar, init).getResult(0);
  SmallVector<AffineMap> maps(inputs.size(), b.getMultiDimIdentityMap(rank));
  maps.push_back(AffineMap::get(rank, 0, keptExprs, ctx));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::reduction);
  for (int64_t d : keptDims)
    iterators[d] = utils::IteratorType::parallel;
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), inputs, init, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        SmallVector<Value> elements;
        for (Value arg : args.drop_back())
          elements.push_back(castFloat(nb, nl, arg, accType));
        linalg::YieldOp::create(nb, nl, combine(nb, nl, elements, args.back()));
      });
  return generic.getResult(0);
}

/// Number of output channels of `layer` (the product of its output channel
/// dimensions, see getOutputChannelDims), if static.
static std::optional<int64_t>
getStaticOutputChannelCount(linalg::LinalgOp layer) {
  if (layer->getNumResults() != 1)
    return std::nullopt;
  auto outType = dyn_cast<RankedTensorType>(layer->getResult(0).getType());
  FailureOr<SmallVector<int64_t>> dims = getOutputChannelDims(layer);
  if (!outType || failed(dims))
    return std::nullopt;
  int64_t count = 1;
  for (int64_t d : *dims) {
    if (outType.isDynamicDim(d))
      return std::nullopt;
    count *= outType.getDimSize(d);
  }
  return count;
}

/// What a selected layer feeds to the network: `twins[candidate]` (a
/// runtime index; any other value reads the first twin) plus, with
/// `channelDims`, the first C values of the correction argument (C the
/// layer's output channel count, row-major over `channelDims`) added per
/// channel.
static Value buildShadowFeed(OpBuilder &b, Location loc, ValueRange twins,
                             const ShadowArgs &shadowArgs,
                             const SmallVector<int64_t> *channelDims) {
  MLIRContext *ctx = b.getContext();
  auto outType = cast<RankedTensorType>(twins.front().getType());
  int64_t rank = outType.getRank();
  SmallVector<Value> operands(twins.begin(), twins.end());
  SmallVector<AffineMap> maps(twins.size(), b.getMultiDimIdentityMap(rank));
  operands.push_back(shadowArgs.candidate);
  maps.push_back(AffineMap::get(rank, 0, ctx));
  bool corrected = channelDims && !channelDims->empty();
  if (corrected) {
    SmallVector<int64_t> shape;
    SmallVector<AffineExpr> exprs;
    int64_t channels = 1;
    for (int64_t d : *channelDims) {
      shape.push_back(outType.getDimSize(d));
      exprs.push_back(getAffineDimExpr(d, ctx));
      channels *= outType.getDimSize(d);
    }
    Value slice = tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({channels}, b.getF32Type()),
        shadowArgs.correction, ArrayRef<OpFoldResult>{b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(channels)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
    if (shape.size() > 1) {
      SmallVector<ReassociationIndices> all(1);
      for (int64_t i = 0, e = shape.size(); i < e; ++i)
        all.front().push_back(i);
      slice = tensor::ExpandShapeOp::create(
          b, loc, RankedTensorType::get(shape, b.getF32Type()), slice, all);
    }
    operands.push_back(slice);
    maps.push_back(AffineMap::get(rank, 0, exprs, ctx));
  }
  Type elementType = outType.getElementType();
  Value init = createEmptyLike(b, loc, twins.front(), elementType);
  maps.push_back(b.getMultiDimIdentityMap(rank));
  size_t count = twins.size();
  return linalg::GenericOp::create(
             b, loc, init.getType(), operands, init, maps,
             SmallVector<utils::IteratorType>(rank,
                                              utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               Value value = args[0];
               Value candidate = args[count];
               for (size_t k = 1; k < count; ++k) {
                 Value index = arith::ConstantOp::create(
                     nb, nl, nb.getI32IntegerAttr(static_cast<int32_t>(k)));
                 Value picked = arith::CmpIOp::create(
                     nb, nl, arith::CmpIPredicate::eq, candidate, index);
                 value =
                     arith::SelectOp::create(nb, nl, picked, args[k], value);
               }
               if (corrected)
                 value = arith::AddFOp::create(
                     nb, nl, value,
                     castFloat(nb, nl, args[count + 1], elementType));
               linalg::YieldOp::create(nb, nl, value);
             })
      .getResult(0);
}

/// Reduces `inputs` over all dimensions into a 0-d tensor (reduceKeeping
/// with no kept dimension).
static Value reduceToScalar(
    OpBuilder &b, Location loc, ValueRange inputs, FloatType accType,
    double initValue,
    function_ref<Value(OpBuilder &, Location, ValueRange, Value)> combine) {
  return reduceKeeping(b, loc, inputs, {}, accType, initValue, combine);
}

/// Histogram of `input` with `bins` equal bins over [min, max] (tensor<f32>
/// values): bin = clamp(floor((x - min) * bins / (max - min)), 0, bins - 1),
/// and 0 for every element when max == min. Counting costs `bins` compares
/// per element, so a static input of more than `maxElements` elements
/// (0: no limit) is counted on every k-th element of its row-major order,
/// k = ceil(elements / maxElements).
static Value buildHistogram(OpBuilder &b, Location loc, Value input, Value min,
                            Value max, unsigned bins, int64_t maxElements) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  Type i32 = b.getI32Type();
  auto inputType = cast<RankedTensorType>(input.getType());
  int64_t rank = inputType.getRank();

  // Bin index of every element.
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  AffineMap scalar = AffineMap::get(rank, 0, ctx);
  Value indexInit = createEmptyLike(b, loc, input, i32);
  Value indices =
      linalg::GenericOp::create(
          b, loc, indexInit.getType(), ValueRange{input, min, max}, indexInit,
          ArrayRef<AffineMap>{identity, scalar, scalar, identity},
          SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            auto constant = [&](double value) -> Value {
              return arith::ConstantOp::create(nb, nl,
                                               nb.getF32FloatAttr(value));
            };
            Value zero = constant(0.0);
            Value x = castFloat(nb, nl, args[0], f32);
            Value lo = args[1], hi = args[2];
            Value range = arith::SubFOp::create(nb, nl, hi, lo);
            Value scaled = arith::MulFOp::create(
                nb, nl, arith::SubFOp::create(nb, nl, x, lo), constant(bins));
            Value bin = math::FloorOp::create(
                nb, nl, arith::DivFOp::create(nb, nl, scaled, range));
            // maxnumf/minnumf also send NaN to a valid bin, so that the
            // integer conversion below never sees NaN.
            bin = arith::MaxNumFOp::create(nb, nl, bin, zero);
            bin = arith::MinNumFOp::create(nb, nl, bin, constant(bins - 1));
            Value nonEmpty = arith::CmpFOp::create(
                nb, nl, arith::CmpFPredicate::OGT, range, zero);
            bin = arith::SelectOp::create(nb, nl, nonEmpty, bin, zero);
            linalg::YieldOp::create(
                nb, nl, arith::FPToSIOp::create(nb, nl, i32, bin).getResult());
          })
          .getResult(0);

  // Flatten, then count: loops (bin parallel, element reduction).
  if (rank != 1) {
    SmallVector<ReassociationIndices> all(1);
    for (int64_t d = 0; d < rank; ++d)
      all.front().push_back(d);
    indices = tensor::CollapseShapeOp::create(b, loc, indices, all);
  }
  if (maxElements > 0 && inputType.hasStaticShape() &&
      inputType.getNumElements() > maxElements) {
    int64_t total = inputType.getNumElements();
    int64_t stride = llvm::divideCeil(total, maxElements);
    int64_t kept = llvm::divideCeil(total, stride);
    indices = tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({kept}, i32), indices,
        ValueRange{}, ValueRange{}, ValueRange{},
        b.getDenseI64ArrayAttr({0}), b.getDenseI64ArrayAttr({kept}),
        b.getDenseI64ArrayAttr({stride}));
  }
  Value histInit = tensor::EmptyOp::create(
      b, loc, ArrayRef<int64_t>{static_cast<int64_t>(bins)}, i32);
  Value zero = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0));
  histInit = linalg::FillOp::create(b, loc, zero, histInit).getResult(0);
  AffineExpr binDim = getAffineDimExpr(0, ctx);
  AffineExpr elementDim = getAffineDimExpr(1, ctx);
  auto generic = linalg::GenericOp::create(
      b, loc, histInit.getType(), indices, histInit,
      ArrayRef<AffineMap>{AffineMap::get(2, 0, elementDim),
                          AffineMap::get(2, 0, binDim)},
      ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                    utils::IteratorType::reduction},
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value binIndex = arith::IndexCastOp::create(
            nb, nl, i32, linalg::IndexOp::create(nb, nl, 0));
        Value hit = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq,
                                          args[0], binIndex);
        Value one = arith::ExtUIOp::create(nb, nl, i32, hit);
        linalg::YieldOp::create(
            nb, nl, arith::AddIOp::create(nb, nl, args[1], one).getResult());
      });
  return generic.getResult(0);
}

/// The element count of `value` as a tensor<i32>: a constant when the shape
/// is static, else filled from the product of its dimensions.
static FailureOr<Value> buildCount(OpBuilder &b, Location loc, Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  Type i32 = b.getI32Type();
  auto countType = RankedTensorType::get({}, i32);
  if (type.hasStaticShape()) {
    int64_t count = type.getNumElements();
    if (count > std::numeric_limits<int32_t>::max())
      return failure();
    return arith::ConstantOp::create(
               b, loc, countType,
               DenseElementsAttr::get(countType, b.getI32IntegerAttr(count)))
        .getResult();
  }
  Value count = arith::ConstantIndexOp::create(b, loc, 1);
  for (int64_t d = 0, e = type.getRank(); d < e; ++d)
    count = arith::MulIOp::create(b, loc, count,
                                  tensor::DimOp::create(b, loc, value, d));
  count = arith::IndexCastOp::create(b, loc, i32, count);
  Value init = tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{}, i32);
  return linalg::FillOp::create(b, loc, count, init).getResult(0);
}

/// Removes the `quantune.*` attributes of `op`.
static void stripQuantuneAttrs(Operation *op) {
  SmallVector<StringAttr> names;
  for (NamedAttribute attr : op->getDiscardableAttrs())
    if (attr.getName().strref().starts_with("quantune."))
      names.push_back(attr.getName());
  for (StringAttr name : names)
    op->removeDiscardableAttr(name);
}

/// A ranked float tensor, as every statistic needs.
static bool isRankedFloatTensor(Value value) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  return type && isa<FloatType>(type.getElementType());
}

namespace {
struct InstrumentPass
    : public quantune::impl::QuantuneInstrumentBase<InstrumentPass> {
  using QuantuneInstrumentBase::QuantuneInstrumentBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::optional<InstrumentMode> parsedMode =
        llvm::StringSwitch<std::optional<InstrumentMode>>(mode)
            .Case("ranges", InstrumentMode::Ranges)
            .Case("local-error", InstrumentMode::LocalError)
            .Default(std::nullopt);
    if (!parsedMode) {
      module.emitError() << "quantune-instrument: unknown mode '" << mode
                         << "' (expected 'ranges' or 'local-error')";
      return signalPassFailure();
    }
    if (*parsedMode == InstrumentMode::Ranges && bins > kMaxBins) {
      module.emitError() << "quantune-instrument: bins must be between 0 and "
                         << kMaxBins << ", got " << static_cast<unsigned>(bins);
      return signalPassFailure();
    }
    if (histElements < 0) {
      module.emitError() << "quantune-instrument: hist-elements must be 0 "
                            "(no limit) or positive, got "
                         << static_cast<int64_t>(histElements);
      return signalPassFailure();
    }
    if (*parsedMode == InstrumentMode::LocalError &&
        failed(checkWeightBits(module, "quantune-instrument", bits)))
      return signalPassFailure();

    bool failedAny = false;
    for (func::FuncOp func :
         llvm::to_vector(module.getBodyRegion().getOps<func::FuncOp>()))
      if (failed(instrumentFunction(func, *parsedMode)))
        failedAny = true;
    if (failedAny)
      signalPassFailure();
  }

private:
  /// Leaves `layer` without probes. Unless it already has a
  /// `quantune.reason`, it gets f32, `reason` and a warning.
  void skipLayer(linalg::LinalgOp layer, StringRef reason) {
    if (hasForcedF32Reason(layer))
      return;
    layer->emitWarning() << "quantune-instrument: " << describeLayer(layer)
                         << " gets no probe and stays f32: " << reason;
    markLayerF32(layer, reason);
  }

  LogicalResult instrumentFunction(func::FuncOp func, InstrumentMode mode);
  LogicalResult addRangeProbes(OpBuilder &b, linalg::LinalgOp layer,
                               SmallVectorImpl<ProbeOutput> &outputs);
  LogicalResult addLocalErrorProbes(OpBuilder &b, linalg::LinalgOp layer,
                                    const ShadowArgs &shadowArgs,
                                    SmallVectorImpl<ProbeOutput> &outputs);
};
} // namespace

LogicalResult InstrumentPass::instrumentFunction(func::FuncOp func,
                                                 InstrumentMode mode) {
  SmallVector<linalg::LinalgOp> layers;
  for (linalg::LinalgOp layer : collectLayers(func)) {
    // A layer nested in a region (e.g. the matmuls of an LSTM's loop body)
    // has no value the function could return: no probe, and it stays f32.
    if (std::optional<std::string> nested = getNestedLayerReason(layer)) {
      skipLayer(layer, *nested);
      continue;
    }
    layers.push_back(layer);
  }
  if (layers.empty())
    return success();

  // Statistics leave through the function's only return, so every layer
  // must be in its single block.
  Block &body = func.getBody().front();
  auto ret = dyn_cast<func::ReturnOp>(body.getTerminator());
  if (!func.getBody().hasOneBlock() || !ret)
    return func.emitError()
           << "quantune-instrument: function @" << func.getSymName()
           << " must have a single block ending in func.return";
  // Every layer needs a tensor result to measure; in local-error mode a
  // layer without one is skipped (and stays f32), see addLocalErrorProbes.
  if (mode == InstrumentMode::Ranges)
    for (linalg::LinalgOp layer : layers)
      if (!layer.hasPureTensorSemantics() || layer->getNumResults() != 1)
        return layer->emitError()
               << "quantune-instrument: layer " << *getLayerId(layer)
               << " does not have tensor semantics";

  // shadow: the selected layer feeds one of its int8 twins, corrected, to
  // the network.
  ShadowArgs shadowArgs;
  if (mode == InstrumentMode::LocalError && shadow) {
    FailureOr<Value> added =
        addLayerSelectorArgument(func, layers, "quantune-instrument");
    if (failed(added))
      return failure();
    shadowArgs.layer = *added;
    MLIRContext *ctx = func.getContext();
    int64_t channels = 1;
    for (linalg::LinalgOp layer : layers)
      if (std::optional<int64_t> count = getStaticOutputChannelCount(layer))
        channels = std::max(channels, *count);
    Type candidateType = RankedTensorType::get({}, IntegerType::get(ctx, 32));
    Type correctionType =
        RankedTensorType::get({channels}, Float32Type::get(ctx));
    unsigned next = func.getNumArguments();
    if (failed(func.insertArguments({next, next}, {candidateType, correctionType},
                                    {DictionaryAttr(), DictionaryAttr()},
                                    {func.getLoc(), func.getLoc()})))
      return func.emitError() << "quantune-instrument: cannot add the shadow "
                                 "arguments to @"
                              << func.getSymName();
    shadowArgs.candidate = func.getArgument(next);
    shadowArgs.correction = func.getArgument(next + 1);
    func->setAttr(QuantuneDialect::kShadowChannelsAttrName,
                  IntegerAttr::get(IntegerType::get(ctx, 64), channels));
  }

  OpBuilder b(func.getContext());
  SmallVector<ProbeOutput> outputs;
  for (linalg::LinalgOp layer : layers) {
    b.setInsertionPointAfter(layer);
    LogicalResult added = mode == InstrumentMode::Ranges
                              ? addRangeProbes(b, layer, outputs)
                              : addLocalErrorProbes(b, layer, shadowArgs,
                                                    outputs);
    if (failed(added))
      return failure();
  }
  if (outputs.empty())
    return success();
  // No caller may depend on the function's results.
  if (!SymbolTable::symbolKnownUseEmpty(func, func->getParentOp()))
    return func.emitError()
           << "quantune-instrument: function @" << func.getSymName()
           << " is called; instrumenting it would change the results its "
              "callers see";

  SmallVector<Value> values;
  SmallVector<Type> types;
  SmallVector<Attribute> names;
  if (auto existing = func->getAttrOfType<ArrayAttr>(
          QuantuneDialect::kProbeOutputsAttrName))
    llvm::append_range(names, existing);
  for (ProbeOutput &output : outputs) {
    values.push_back(output.value);
    types.push_back(output.value.getType());
    names.push_back(b.getStringAttr(output.name));
  }
  SmallVector<unsigned> indices(outputs.size(), func.getNumResults());
  if (failed(func.insertResults(indices, types, {})))
    return func.emitError() << "quantune-instrument: cannot add results to @"
                            << func.getSymName();
  ret.getOperandsMutable().append(values);
  func->setAttr(QuantuneDialect::kProbeOutputsAttrName, b.getArrayAttr(names));
  return success();
}

LogicalResult
InstrumentPass::addRangeProbes(OpBuilder &b, linalg::LinalgOp layer,
                               SmallVectorImpl<ProbeOutput> &outputs) {
  int64_t id = *getLayerId(layer);
  Value input = layer.getDpsInputOperand(0)->get();
  if (!isRankedFloatTensor(input) ||
      cast<RankedTensorType>(input.getType()).getRank() == 0)
    return layer->emitError() << "quantune-instrument: the input of layer "
                              << id << " is not a ranked tensor of floats";
  Location loc = layer.getLoc();
  Value min = reduceToScalar(
      b, loc, input, b.getF32Type(), std::numeric_limits<float>::infinity(),
      [](OpBuilder &nb, Location nl, ValueRange elements, Value acc) -> Value {
        return arith::MinimumFOp::create(nb, nl, acc, elements[0]);
      });
  Value max = reduceToScalar(
      b, loc, input, b.getF32Type(), -std::numeric_limits<float>::infinity(),
      [](OpBuilder &nb, Location nl, ValueRange elements, Value acc) -> Value {
        return arith::MaximumFOp::create(nb, nl, acc, elements[0]);
      });
  std::string prefix = std::to_string(id) + ":";
  outputs.push_back({min, prefix + "min"});
  outputs.push_back({max, prefix + "max"});
  // bins=0: min and max are all that min-max calibration needs.
  if (bins > 0)
    outputs.push_back(
        {buildHistogram(b, loc, input, min, max, bins, histElements),
         prefix + "hist"});
  return success();
}

LogicalResult
InstrumentPass::addLocalErrorProbes(OpBuilder &b, linalg::LinalgOp layer,
                                    const ShadowArgs &shadowArgs,
                                    SmallVectorImpl<ProbeOutput> &outputs) {
  int64_t id = *getLayerId(layer);
  // Nothing to compare against: a layer forced to f32, or one without
  // activation parameters (the analysis gives them to candidates only).
  if (hasForcedF32Reason(layer) ||
      !layer->hasAttr(QuantuneDialect::kActQParamsAttrName))
    return success();
  // A candidate that cannot be measured is skipped and stays f32.
  if (!layer.hasPureTensorSemantics() || layer->getNumResults() != 1) {
    skipLayer(layer, "does not have tensor semantics");
    return success();
  }
  Value output = layer->getResult(0);
  if (!isRankedFloatTensor(output)) {
    skipLayer(layer, "output is not a ranked tensor of floats");
    return success();
  }
  auto outputType = cast<RankedTensorType>(output.getType());
  if (outputType.hasStaticShape() &&
      outputType.getNumElements() > std::numeric_limits<int32_t>::max()) {
    skipLayer(layer, "output has more than 2^31 - 1 elements");
    return success();
  }
  std::string reason;
  FailureOr<std::optional<LayerQuantization>> prepared =
      prepareLayerQuantization(layer, bits, reason);
  if (failed(prepared))
    return failure();
  if (!*prepared) {
    skipLayer(layer, reason);
    return success();
  }
  const LayerQuantization &quant = **prepared;

  // The activation parameters to measure: the layer's candidates, or its
  // act_qparams alone.
  SmallVector<QParamsAttr> candidates;
  auto candidateList = layer->getAttrOfType<ArrayAttr>(
      QuantuneDialect::kActQParamsCandidatesAttrName);
  if (candidateList) {
    for (Attribute attr : candidateList) {
      auto qparams = dyn_cast<QParamsAttr>(attr);
      if (!qparams || qparams.isPerChannel())
        return layer->emitError()
               << "quantune-instrument: layer " << id << ": '"
               << QuantuneDialect::kActQParamsCandidatesAttrName
               << "' must hold per-tensor #quantune.qparams, got " << attr;
      candidates.push_back(qparams);
    }
  } else {
    candidates.push_back(quant.actQParams);
  }
  // Per-channel error sums (for bias correction) need static channel sizes.
  FailureOr<SmallVector<int64_t>> channelDims = getOutputChannelDims(layer);
  bool perChannel =
      succeeded(channelDims) && llvm::all_of(*channelDims, [&](int64_t d) {
        return !outputType.isDynamicDim(d);
      });

  // One quantized twin per candidate: the same op on (Q_k(x), Q(W)) with
  // the same init. It is no layer of its own, so it carries no quantune
  // labels.
  // With i4, each candidate also gets a w4a8 twin: the same quantized
  // input, the weight quantized to 4 bits.
  Location loc = layer.getLoc();
  Value input = layer.getDpsInputOperand(0)->get();
  std::optional<WeightQuantization> weightI4;
  if (i4)
    weightI4 = quantizeWeights(quant.weight.values, quant.weight.shape,
                               quant.weight.channelAxes, 4);
  Value fqWeight, fqWeightI4;
  SmallVector<Value> twins, twinsI4;
  auto buildTwin = [&](Value fqInput, Value fqW) {
    auto twin = cast<linalg::LinalgOp>(b.clone(*layer));
    stripQuantuneAttrs(twin);
    twin.getDpsInputOperand(0)->set(fqInput);
    getWeightOperand(twin).set(fqW);
    return twin->getResult(0);
  };
  for (QParamsAttr qparams : candidates) {
    Value fqInput = buildFakeQuantActivation(b, loc, input, qparams);
    if (!fqWeight)
      fqWeight = buildFakeQuantWeight(b, loc, quant.weight, quant.weightQuant);
    twins.push_back(buildTwin(fqInput, fqWeight));
    if (!weightI4)
      continue;
    if (!fqWeightI4)
      fqWeightI4 = buildFakeQuantWeight(b, loc, quant.weight, *weightI4);
    twinsI4.push_back(buildTwin(fqInput, fqWeightI4));
  }
  // When selected, the rest of the network reads the twin of the chosen
  // candidate plus the correction (the w4a8 twin when both forms are
  // measured), so that the gain to the output is measured on the form the
  // layer will have, at the size of error the ranking is about.
  if (shadowArgs.layer) {
    Value fed = buildShadowFeed(b, loc, twinsI4.empty() ? twins : twinsI4,
                                shadowArgs,
                                perChannel ? &*channelDims : nullptr);
    Value switched =
        buildLayerSelect(b, loc, shadowArgs.layer, id, fed, output);
    output.replaceAllUsesExcept(switched, switched.getDefiningOp());
  }

  // The sums are accumulated and returned in f64: in f32 they overflow to
  // inf on layers with large activations (and inf / inf is NaN).
  FloatType f64 = b.getF64Type();
  std::string prefix = std::to_string(id) + ":";
  Value sumY2 = reduceToScalar(
      b, loc, output, f64, 0.0,
      [](OpBuilder &nb, Location nl, ValueRange elements, Value acc) -> Value {
        Value square = arith::MulFOp::create(nb, nl, elements[0], elements[0]);
        return arith::AddFOp::create(nb, nl, acc, square);
      });
  outputs.push_back({sumY2, prefix + "sum_y2"});
  SmallVector<std::pair<Value, std::string>> measured;
  for (auto [k, twinOutput] : llvm::enumerate(twins))
    measured.push_back(
        {twinOutput, candidateList ? "." + std::to_string(k) : ""});
  for (auto [k, twinOutput] : llvm::enumerate(twinsI4))
    measured.push_back(
        {twinOutput, "_i4" + (candidateList ? "." + std::to_string(k) : "")});
  for (auto &[twinOutput, suffix] : measured) {
    Value sumErr2 = reduceToScalar(
        b, loc, ValueRange{output, twinOutput}, f64, 0.0,
        [](OpBuilder &nb, Location nl, ValueRange elements,
           Value acc) -> Value {
          Value err = arith::SubFOp::create(nb, nl, elements[0], elements[1]);
          Value square = arith::MulFOp::create(nb, nl, err, err);
          return arith::AddFOp::create(nb, nl, acc, square);
        });
    outputs.push_back({sumErr2, prefix + "sum_err2" + suffix});
    // sum (y - y') per output channel: the mean shift that bias correction
    // removes.
    if (!perChannel)
      continue;
    Value sumErr = reduceKeeping(
        b, loc, ValueRange{output, twinOutput}, *channelDims, f64, 0.0,
        [](OpBuilder &nb, Location nl, ValueRange elements,
           Value acc) -> Value {
          Value err = arith::SubFOp::create(nb, nl, elements[0], elements[1]);
          return arith::AddFOp::create(nb, nl, acc, err);
        });
    outputs.push_back({sumErr, prefix + "sum_err" + suffix});
  }
  FailureOr<Value> count = buildCount(b, loc, output);
  if (failed(count))
    return layer->emitError() << "quantune-instrument: the output of layer "
                              << id << " has more than 2^31 - 1 elements";
  outputs.push_back({*count, prefix + "count"});
  return success();
}
