//===- AssignPrecision.cpp - Sensitivity ranking and budget cut -----------===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#include "quantune/IR/QuantuneAttrs.h"
#include "quantune/IR/QuantuneDialect.h"
#include "quantune/Transforms/LayerUtils.h"
#include "quantune/Transforms/Passes.h"

#include "mlir/IR/Builders.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <array>
#include <cmath>

namespace mlir {
namespace quantune {
#define GEN_PASS_DEF_QUANTUNEASSIGNPRECISION
#include "quantune/Transforms/Passes.h.inc"
} // namespace quantune
} // namespace mlir

using namespace mlir;
using namespace mlir::quantune;

namespace {
constexpr size_t kNumMetrics = 4;
constexpr StringLiteral kMetricNames[kNumMetrics] = {"weight_sqnr", "act_sqnr",
                                                     "weight_mse", "act_mse"};

/// How many layers to keep in f32, in one of four units.
struct Budget {
  enum class Kind { Fp32Count, Fp32Fraction, WeightBytes, Int8MacShare };
  Kind kind;
  double value;
};

struct LayerInfo {
  Operation *op;
  int64_t id;
  std::array<std::optional<double>, kNumMetrics> metrics;
  double sensitivity = 0.0;
  int64_t params = 0;
  int64_t macs = 0;
  bool forcedF32 = false;
};

FailureOr<Budget> parseBudget(StringRef text, Operation *where) {
  auto [key, valueText] = text.split('=');
  std::optional<Budget::Kind> kind =
      llvm::StringSwitch<std::optional<Budget::Kind>>(key.trim())
          .Case("fp32-count", Budget::Kind::Fp32Count)
          .Case("fp32-fraction", Budget::Kind::Fp32Fraction)
          .Case("weight-bytes", Budget::Kind::WeightBytes)
          .Case("int8-mac-share", Budget::Kind::Int8MacShare)
          .Default(std::nullopt);
  double value;
  if (!kind || valueText.trim().getAsDouble(value) || !std::isfinite(value) ||
      value < 0.0)
    return where->emitError()
           << "quantune-assign-precision: bad budget '" << text
           << "' (expected fp32-count=K, fp32-fraction=F, weight-bytes=B or "
              "int8-mac-share=P with a non-negative number)";
  bool isFraction = *kind == Budget::Kind::Fp32Fraction ||
                    *kind == Budget::Kind::Int8MacShare;
  if (isFraction && value > 1.0)
    return where->emitError() << "quantune-assign-precision: budget '" << text
                              << "' must be a fraction in [0, 1]";
  if (*kind == Budget::Kind::Fp32Count && value != std::floor(value))
    return where->emitError() << "quantune-assign-precision: budget '" << text
                              << "' must be a whole number of layers";
  return Budget{*kind, value};
}

/// Reads the four metrics of a layer, in kMetricNames order.
std::array<std::optional<double>, kNumMetrics> readMetrics(Operation *op) {
  std::array<std::optional<double>, kNumMetrics> out;
  auto metrics =
      op->getAttrOfType<MetricsAttr>(QuantuneDialect::kMetricsAttrName);
  if (!metrics)
    return out;
  FloatAttr fields[kNumMetrics] = {metrics.getWeightSqnr(),
                                   metrics.getActSqnr(), metrics.getWeightMse(),
                                   metrics.getActMse()};
  for (size_t k = 0; k < kNumMetrics; ++k)
    if (fields[k])
      out[k] = fields[k].getValueAsDouble();
  return out;
}

struct AssignPrecisionPass
    : public quantune::impl::QuantuneAssignPrecisionBase<AssignPrecisionPass> {
  using QuantuneAssignPrecisionBase::QuantuneAssignPrecisionBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<Budget> budget = parseBudget(this->budget, module);
    if (failed(budget))
      return signalPassFailure();
    SmallVector<double> weights(ratio.begin(), ratio.end());
    if (weights.empty())
      weights.assign(kNumMetrics, 1.0);
    if (weights.size() != kNumMetrics || llvm::any_of(weights, [](double w) {
          return !std::isfinite(w) || w < 0.0;
        })) {
      module.emitError("quantune-assign-precision: ratio needs four "
                       "non-negative numbers: weight_sqnr, act_sqnr, "
                       "weight_mse, act_mse");
      return signalPassFailure();
    }

    // Only the weights' proportions matter (the sum is divided by their
    // total): scale them to a maximum of 1 so that huge weights cannot
    // overflow the sums.
    double largest = *llvm::max_element(weights);
    if (largest <= 0.0) {
      module.emitError("quantune-assign-precision: ratio needs at least one "
                       "positive weight");
      return signalPassFailure();
    }
    for (double &w : weights)
      w /= largest;

    SmallVector<LayerInfo> layers;
    for (linalg::LinalgOp op : collectLayers(module)) {
      LayerInfo info;
      info.op = op;
      info.id = *getLayerId(op);
      info.metrics = readMetrics(op);
      info.forcedF32 = hasForcedF32Reason(op);
      if (auto p =
              op->getAttrOfType<IntegerAttr>(QuantuneDialect::kParamsAttrName))
        info.params = p.getInt();
      if (auto m =
              op->getAttrOfType<IntegerAttr>(QuantuneDialect::kMacsAttrName))
        info.macs = m.getInt();
      layers.push_back(info);
    }
    SmallVector<LayerInfo *> candidates;
    for (LayerInfo &layer : layers)
      if (!layer.forcedF32)
        candidates.push_back(&layer);

    if (failed(computeSensitivities(candidates, weights)))
      return signalPassFailure();

    // A single sort, most sensitive first; ties by ascending id.
    llvm::stable_sort(candidates, [](LayerInfo *a, LayerInfo *b) {
      if (a->sensitivity != b->sensitivity)
        return a->sensitivity > b->sensitivity;
      return a->id < b->id;
    });
    FailureOr<size_t> numF32 = cut(layers, candidates, *budget);
    if (failed(numF32))
      return signalPassFailure();

    MLIRContext *ctx = &getContext();
    auto f32 = PrecisionAttr::get(ctx, Float32Type::get(ctx));
    auto i8 = PrecisionAttr::get(ctx, IntegerType::get(ctx, 8));
    for (auto [rank, layer] : llvm::enumerate(candidates))
      layer->op->setAttr(QuantuneDialect::kPrecisionAttrName,
                         rank < *numF32 ? f32 : i8);
    for (LayerInfo &layer : layers)
      if (layer.forcedF32)
        layer.op->setAttr(QuantuneDialect::kPrecisionAttrName, f32);
  }

  /// Min-max normalises each metric over the candidates and combines them.
  LogicalResult computeSensitivities(ArrayRef<LayerInfo *> candidates,
                                     ArrayRef<double> weights) {
    double totalWeight = 0.0;
    SmallVector<double> sums(candidates.size(), 0.0);
    for (size_t k = 0; k < kNumMetrics; ++k) {
      size_t present = llvm::count_if(
          candidates, [&](LayerInfo *l) { return l->metrics[k].has_value(); });
      if (present == 0)
        continue;
      if (present != candidates.size()) {
        LayerInfo *missing = *llvm::find_if(candidates, [&](LayerInfo *l) {
          return !l->metrics[k].has_value();
        });
        return missing->op->emitError()
               << "layer " << missing->id << " has no " << kMetricNames[k]
               << " while other layers do";
      }
      double lo = INFINITY, hi = -INFINITY;
      for (LayerInfo *l : candidates) {
        lo = std::min(lo, *l->metrics[k]);
        hi = std::max(hi, *l->metrics[k]);
      }
      bool isSqnr = k < 2;
      for (auto [i, l] : llvm::enumerate(candidates)) {
        double v = *l->metrics[k];
        // Halved operands keep the differences finite for any finite metric.
        double n = hi > lo ? (isSqnr ? hi / 2 - v / 2 : v / 2 - lo / 2) /
                                 (hi / 2 - lo / 2)
                           : 0.0;
        sums[i] += weights[k] * n;
      }
      totalWeight += weights[k];
    }
    MLIRContext *ctx = &getContext();
    for (auto [i, l] : llvm::enumerate(candidates)) {
      l->sensitivity = totalWeight > 0.0 ? sums[i] / totalWeight : 0.0;
      auto old =
          l->op->getAttrOfType<MetricsAttr>(QuantuneDialect::kMetricsAttrName);
      FloatAttr s = FloatAttr::get(Float64Type::get(ctx), l->sensitivity);
      l->op->setAttr(
          QuantuneDialect::kMetricsAttrName,
          old ? MetricsAttr::get(ctx, old.getWeightSqnr(), old.getActSqnr(),
                                 old.getWeightMse(), old.getActMse(), s)
              : MetricsAttr::get(ctx, {}, {}, {}, {}, s));
    }
    return success();
  }

  /// How many of the sorted candidates stay f32 under `budget`.
  FailureOr<size_t> cut(ArrayRef<LayerInfo> layers,
                        ArrayRef<LayerInfo *> sorted, Budget budget) {
    size_t n = sorted.size();
    switch (budget.kind) {
    case Budget::Kind::Fp32Count:
      return std::min(n, static_cast<size_t>(budget.value));
    case Budget::Kind::Fp32Fraction:
      return std::min(n,
                      static_cast<size_t>(std::ceil(budget.value * n - 1e-9)));
    case Budget::Kind::WeightBytes: {
      double bytes = 0.0;
      for (const LayerInfo &l : layers)
        bytes += l.forcedF32 ? 4.0 * l.params : 1.0 * l.params;
      if (bytes > budget.value)
        return getOperation().emitError()
               << "quantune-assign-precision: weight-bytes="
               << static_cast<int64_t>(budget.value)
               << " is below the smallest possible size, "
               << static_cast<int64_t>(bytes)
               << " bytes with every quantizable layer in i8";
      size_t k = 0;
      while (k < n && bytes + 3.0 * sorted[k]->params <= budget.value)
        bytes += 3.0 * sorted[k++]->params;
      return k;
    }
    case Budget::Kind::Int8MacShare: {
      double total = 0.0, int8 = 0.0;
      for (const LayerInfo &l : layers) {
        total += l.macs;
        if (!l.forcedF32)
          int8 += l.macs;
      }
      if (total <= 0.0)
        return size_t(0);
      if (int8 / total < budget.value)
        return getOperation().emitError()
               << "quantune-assign-precision: budget '" << this->budget
               << "' is unreachable; at most "
               << llvm::formatv("{0:f4}", int8 / total).str()
               << " of the MACs can run in i8";
      size_t k = 0;
      while (k < n && (int8 - sorted[k]->macs) / total >= budget.value)
        int8 -= sorted[k++]->macs;
      return k;
    }
    }
    llvm_unreachable("unknown budget kind");
  }
};
} // namespace
