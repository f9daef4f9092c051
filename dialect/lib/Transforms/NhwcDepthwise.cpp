//===- NhwcDepthwise.cpp - NCHW depthwise conv computed in NHWC -----------===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#include "quantune/Transforms/Passes.h"

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
    auto nhwc = linalg::GenericOp::create(rewriter, loc, init.getType(),
                                          ValueRange{input, weight}, init,
                                          maps, iterators);
    rewriter.inlineRegionBefore(generic->getRegion(), nhwc.getRegion(),
                                nhwc.getRegion().end());
    for (NamedAttribute attr : discardable)
      if (attr.getName() != kMemoizedMapsAttrName)
        nhwc->setDiscardableAttr(attr.getName(), attr.getValue());
    Value result = transpose(rewriter, loc, nhwc.getResult(0), {0, 3, 1, 2});
    rewriter.replaceOp(*generic, result);
    ++numRewritten;
    return success();
  }
};
} // namespace
