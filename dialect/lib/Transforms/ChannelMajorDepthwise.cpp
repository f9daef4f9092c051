//===- ChannelMajorDepthwise.cpp - Depthwise conv as channel-major generic ===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#include "quantune/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir {
namespace quantune {
#define GEN_PASS_DEF_QUANTUNECHANNELMAJORDEPTHWISE
#include "quantune/Transforms/Passes.h.inc"
} // namespace quantune
} // namespace mlir

using namespace mlir;

static constexpr StringLiteral kMemoizedMapsAttrName =
    "linalg.memoized_indexing_maps";

namespace {
struct ChannelMajorDepthwisePass
    : public quantune::impl::QuantuneChannelMajorDepthwiseBase<
          ChannelMajorDepthwisePass> {
  using QuantuneChannelMajorDepthwiseBase::QuantuneChannelMajorDepthwiseBase;

  void runOnOperation() override {
    SmallVector<linalg::DepthwiseConv2DNchwChwOp> convs;
    getOperation()->walk(
        [&](linalg::DepthwiseConv2DNchwChwOp op) { convs.push_back(op); });

    IRRewriter rewriter(&getContext());
    for (linalg::DepthwiseConv2DNchwChwOp conv : convs) {
      // Keep discardable attributes (quantune labels among them).
      SmallVector<NamedAttribute> discardable(conv->getDiscardableAttrs());
      rewriter.setInsertionPoint(conv);
      FailureOr<linalg::GenericOp> generic =
          linalg::generalizeNamedOp(rewriter, conv);
      if (failed(generic)) {
        conv->emitError("could not generalize depthwise convolution");
        return signalPassFailure();
      }
      // The named op iterates (n, oh, ow, c, kh, kw); run channels right
      // after the batch so the loop nest follows the NCHW output layout.
      FailureOr<linalg::GenericOp> interchanged =
          linalg::interchangeGenericOp(rewriter, *generic, {0, 3, 1, 2, 4, 5});
      if (failed(interchanged)) {
        generic->emitError("could not interchange depthwise convolution loops");
        return signalPassFailure();
      }
      // The named op's memoized indexing maps describe its own loop order
      // and would be stale on the generic.
      Operation *result = interchanged->getOperation();
      result->removeDiscardableAttr(kMemoizedMapsAttrName);
      for (NamedAttribute attr : discardable)
        if (attr.getName() != kMemoizedMapsAttrName)
          result->setDiscardableAttr(attr.getName(), attr.getValue());
      ++numRewritten;
    }
  }
};
} // namespace
