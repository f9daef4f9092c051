//===- WeightMetrics.cpp - Weight SQNR and MSE of every layer -------------===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#include "quantune/IR/QuantuneAttrs.h"
#include "quantune/IR/QuantuneDialect.h"
#include "quantune/Transforms/LayerUtils.h"
#include "quantune/Transforms/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir {
namespace quantune {
#define GEN_PASS_DEF_QUANTUNEWEIGHTMETRICS
#include "quantune/Transforms/Passes.h.inc"
} // namespace quantune
} // namespace mlir

using namespace mlir;
using namespace mlir::quantune;

/// Returns `metrics` with the weight fields replaced.
static MetricsAttr withWeightMetrics(MLIRContext *ctx, MetricsAttr metrics,
                                     double sqnr, double mse) {
  Builder b(ctx);
  FloatAttr sqnrAttr = b.getF64FloatAttr(sqnr);
  FloatAttr mseAttr = b.getF64FloatAttr(mse);
  if (!metrics)
    return MetricsAttr::get(ctx, sqnrAttr, {}, mseAttr, {}, {});
  return MetricsAttr::get(ctx, sqnrAttr, metrics.getActSqnr(), mseAttr,
                          metrics.getActMse(), metrics.getSensitivity());
}

namespace {
struct WeightMetricsPass
    : public quantune::impl::QuantuneWeightMetricsBase<WeightMetricsPass> {
  using QuantuneWeightMetricsBase::QuantuneWeightMetricsBase;

  void runOnOperation() override {
    if (failed(
            checkWeightBits(getOperation(), "quantune-weight-metrics", bits)))
      return signalPassFailure();
    MLIRContext *ctx = &getContext();
    bool failedAny = false;
    for (linalg::LinalgOp layer : collectLayers(getOperation())) {
      std::string reason;
      FailureOr<ConstantWeight> weight = findConstantWeight(layer, reason);
      if (failed(weight)) {
        layer->emitWarning()
            << "layer " << *getLayerId(layer) << " stays f32: " << reason;
        markLayerF32(layer, reason);
        ++numNonConstant;
        continue;
      }
      // Nothing to quantize, or nothing the analysis can measure: a layer
      // in a loop body has no value the instrumented function can return.
      std::optional<std::string> other = getEmptyLayerReason(layer);
      if (!other)
        other = getNestedLayerReason(layer);
      if (other) {
        layer->emitWarning()
            << "layer " << *getLayerId(layer) << " stays f32: " << *other;
        markLayerF32(layer, *other);
        ++numOtherF32;
        continue;
      }
      // The layer's own bit width into quantune.metrics and, with i4, 4 bits
      // into quantune.metrics_i4.
      SmallVector<std::pair<unsigned, StringRef>, 2> tiers = {
          {bits, QuantuneDialect::kMetricsAttrName}};
      if (i4)
        tiers.push_back({4, QuantuneDialect::kMetricsI4AttrName});
      for (auto [tierBits, attrName] : tiers) {
        WeightQuantization q = quantizeWeights(weight->values, weight->shape,
                                               weight->channelAxes, tierBits);
        if (q.numNonFinite) {
          layer->emitError()
              << "layer " << *getLayerId(layer) << " has " << q.numNonFinite
              << " NaN or infinite weight value(s)";
          failedAny = true;
          break;
        }
        double n = static_cast<double>(weight->values.size());
        double mse = q.signalEnergy > 0.0
                         ? (q.errorEnergy / n) / (q.signalEnergy / n)
                         : 0.0;
        auto metrics = layer->getAttrOfType<MetricsAttr>(attrName);
        layer->setAttr(attrName,
                       withWeightMetrics(ctx, metrics,
                                         sqnrDb(q.signalEnergy, q.errorEnergy),
                                         mse));
      }
      ++numMeasured;
    }
    if (failedAny)
      signalPassFailure();
  }
};
} // namespace
