//===- NhwcDepthwise.cpp - NCHW depthwise conv computed in NHWC -----------===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#include "quantune/Transforms/Passes.h"

#include <cmath>

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir {
namespace quantune {
#define GEN_PASS_DEF_QUANTUNENHWCDEPTHWISE
#include "quantune/Transforms/Passes.h.inc"
} // namespace quantune
} // namespace mlir

using namespace mlir;

static constexpr StringLiteral kMemoizedMapsAttrName =
    "linalg.memoized_indexing_maps";

namespace {

/// `value` transposed by `permutation` (result dim i is input dim perm[i]).
Value transpose(OpBuilder &b, Location loc, Value value,
                ArrayRef<int64_t> permutation) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<int64_t> shape;
  for (int64_t dim : permutation)
    shape.push_back(type.getDimSize(dim));
  Value init = tensor::EmptyOp::create(b, loc, shape, type.getElementType());
  return linalg::TransposeOp::create(b, loc, value, init, permutation)
      .getResult()[0];
}

/// Whether an integer depthwise convolution (signed integer operands of at
/// most 16 bits, i32 accumulator) sums its `taps` products exactly in f32:
/// every partial sum is an integer of magnitude below 2^24.
bool sumsExactlyInF32(Type inputElt, Type weightElt, Type accElt,
                      int64_t taps) {
  auto in = dyn_cast<IntegerType>(inputElt);
  auto w = dyn_cast<IntegerType>(weightElt);
  auto acc = dyn_cast<IntegerType>(accElt);
  if (!in || !w || !acc || acc.getWidth() != 32 || in.getWidth() > 16 ||
      w.getWidth() > 16)
    return false;
  // |x| <= 2^(bits-1) for a signed value.
  double bound = static_cast<double>(taps) *
                 std::ldexp(1.0, in.getWidth() - 1) *
                 std::ldexp(1.0, w.getWidth() - 1);
  return bound < std::ldexp(1.0, 24);
}

/// The NHWC depthwise generic with an f32 accumulator for integer operands:
/// sitofp both operands, multiply and add in f32 from 0, then an elementwise
/// generic converts the (exact) sum back to i32 and adds the original i32
/// init. Same values bit for bit; on x86 the f32 FMA path is faster than
/// IREE's i32 multiply for depthwise (docs/lowering.md).
Value buildF32AccumulatingDepthwise(OpBuilder &b, Location loc, Value input,
                                    Value weight, Value init,
                                    ArrayRef<AffineMap> maps,
                                    ArrayRef<utils::IteratorType> iterators,
                                    Operation *&reduction) {
  auto initType = cast<RankedTensorType>(init.getType());
  Type f32 = b.getF32Type();
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  Value empty = tensor::EmptyOp::create(b, loc, initType.getShape(), f32);
  Value acc0 = linalg::FillOp::create(b, loc, zero, empty).getResult(0);
  auto sum = linalg::GenericOp::create(
      b, loc, acc0.getType(), ValueRange{input, weight}, acc0, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value x = arith::SIToFPOp::create(nb, nloc, f32, args[0]);
        Value w = arith::SIToFPOp::create(nb, nloc, f32, args[1]);
        Value prod = arith::MulFOp::create(nb, nloc, x, w);
        Value next = arith::AddFOp::create(nb, nloc, args[2], prod);
        linalg::YieldOp::create(nb, nloc, next);
      });
  reduction = sum;
  AffineMap id = b.getMultiDimIdentityMap(initType.getRank());
  Value out = tensor::EmptyOp::create(b, loc, initType.getShape(),
                                      initType.getElementType());
  auto toInt = linalg::GenericOp::create(
      b, loc, initType, ValueRange{sum.getResult(0), init}, out,
      SmallVector<AffineMap>(3, id),
      SmallVector<utils::IteratorType>(initType.getRank(),
                                       utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value asInt =
            arith::FPToSIOp::create(nb, nloc, initType.getElementType(),
                                    args[0]);
        Value total = arith::AddIOp::create(nb, nloc, asInt, args[1]);
        linalg::YieldOp::create(nb, nloc, total);
      });
  return toInt.getResult(0);
}

struct NhwcDepthwisePass
    : public quantune::impl::QuantuneNhwcDepthwiseBase<NhwcDepthwisePass> {
  using QuantuneNhwcDepthwiseBase::QuantuneNhwcDepthwiseBase;

  void runOnOperation() override {
    SmallVector<linalg::DepthwiseConv2DNchwChwOp> convs;
    getOperation()->walk(
        [&](linalg::DepthwiseConv2DNchwChwOp op) { convs.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (linalg::DepthwiseConv2DNchwChwOp conv : convs)
      if (failed(rewrite(rewriter, conv)))
        return signalPassFailure();
  }

  LogicalResult rewrite(IRRewriter &rewriter,
                        linalg::DepthwiseConv2DNchwChwOp conv) {
    if (!conv.hasPureTensorSemantics())
      return success(); // buffers: left as they are
    auto inputType = dyn_cast<RankedTensorType>(conv.getInputs()[0].getType());
    auto outputType = dyn_cast<RankedTensorType>(conv.getResultTypes()[0]);
    if (!inputType || !outputType || !inputType.hasStaticShape() ||
        !outputType.hasStaticShape())
      return success(); // dynamic shapes: left as they are
    SmallVector<NamedAttribute> discardable(conv->getDiscardableAttrs());
    SmallVector<int64_t> strides(conv.getStrides().getValues<int64_t>());
    SmallVector<int64_t> dilations(conv.getDilations().getValues<int64_t>());
    Location loc = conv.getLoc();
    rewriter.setInsertionPoint(conv);

    // The named op's body, from its generalized form.
    FailureOr<linalg::GenericOp> generic =
        linalg::generalizeNamedOp(rewriter, conv);
    if (failed(generic))
      return conv->emitError("quantune-nhwc-depthwise: could not generalize "
                             "the depthwise convolution");
    rewriter.setInsertionPoint(*generic);
    Value input = transpose(rewriter, loc, generic->getDpsInputs()[0],
                            {0, 2, 3, 1});
    Value weight = transpose(rewriter, loc, generic->getDpsInputs()[1],
                             {1, 2, 0});
    Value init = transpose(rewriter, loc, generic->getDpsInits()[0],
                           {0, 2, 3, 1});

    MLIRContext *ctx = rewriter.getContext();
    AffineExpr n, oh, ow, c, kh, kw;
    bindDims(ctx, n, oh, ow, c, kh, kw);
    SmallVector<AffineMap> maps = {
        AffineMap::get(6, 0,
                       {n, oh * strides[0] + kh * dilations[0],
                        ow * strides[1] + kw * dilations[1], c},
                       ctx),
        AffineMap::get(6, 0, {kh, kw, c}, ctx),
        AffineMap::get(6, 0, {n, oh, ow, c}, ctx)};
    SmallVector<utils::IteratorType> iterators(4,
                                               utils::IteratorType::parallel);
    iterators.append(2, utils::IteratorType::reduction);
    auto weightType = cast<RankedTensorType>(weight.getType());
    Operation *reduction = nullptr;
    Value nhwcResult;
    if (f32Accumulate &&
        sumsExactlyInF32(inputType.getElementType(),
                         weightType.getElementType(),
                         outputType.getElementType(),
                         weightType.getDimSize(0) * weightType.getDimSize(1))) {
      nhwcResult = buildF32AccumulatingDepthwise(
          rewriter, loc, input, weight, init, maps, iterators, reduction);
    } else {
      auto nhwc = linalg::GenericOp::create(rewriter, loc, init.getType(),
                                            ValueRange{input, weight}, init,
                                            maps, iterators);
      rewriter.inlineRegionBefore(generic->getRegion(), nhwc.getRegion(),
                                  nhwc.getRegion().end());
      reduction = nhwc;
      nhwcResult = nhwc.getResult(0);
    }
    for (NamedAttribute attr : discardable)
      if (attr.getName() != kMemoizedMapsAttrName)
        reduction->setDiscardableAttr(attr.getName(), attr.getValue());
    Value result = transpose(rewriter, loc, nhwcResult, {0, 3, 1, 2});
    rewriter.replaceOp(*generic, result);
    ++numRewritten;
    return success();
  }
};
} // namespace
