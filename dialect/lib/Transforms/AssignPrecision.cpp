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

/// How many layers to keep in f32 (and, with three tiers, in i8), in one of
/// five units. A weight budget may carry a cap on the f32 layers.
struct Budget {
  enum class Kind {
    Fp32Count,
    Fp32Fraction,
    WeightBytes,
    WeightFraction,
    Int8MacShare
  };
  Kind kind;
  double value;
  /// At most this many f32 layers (fp32-count=K or fp32-fraction=F after a
  /// weight budget), resolved against the candidates in `cut`.
  std::optional<std::pair<Kind, double>> fp32Cap;

  bool isWeightBudget() const {
    return kind == Kind::WeightBytes || kind == Kind::WeightFraction;
  }
};

/// Bytes per weight of each precision: i4 weights are stored two per byte.
constexpr double kF32Bytes = 4.0, kI8Bytes = 1.0, kI4Bytes = 0.5;

struct LayerInfo {
  Operation *op;
  int64_t id;
  std::array<std::optional<double>, kNumMetrics> metrics;
  double sensitivity = 0.0;
  int64_t params = 0;
  int64_t macs = 0;
  bool forcedF32 = false;
};

/// Parses one `key=value` item of a budget.
FailureOr<std::pair<Budget::Kind, double>> parseBudgetItem(StringRef text,
                                                           Operation *where) {
  auto [key, valueText] = text.split('=');
  std::optional<Budget::Kind> kind =
      llvm::StringSwitch<std::optional<Budget::Kind>>(key.trim())
          .Case("fp32-count", Budget::Kind::Fp32Count)
          .Case("fp32-fraction", Budget::Kind::Fp32Fraction)
          .Case("weight-bytes", Budget::Kind::WeightBytes)
          .Case("weight-fraction", Budget::Kind::WeightFraction)
          .Case("int8-mac-share", Budget::Kind::Int8MacShare)
          .Default(std::nullopt);
  double value;
  if (!kind || valueText.trim().getAsDouble(value) || !std::isfinite(value) ||
      value < 0.0)
    return where->emitError()
           << "quantune-assign-precision: bad budget '" << text
           << "' (expected fp32-count=K, fp32-fraction=F, weight-bytes=B, "
              "weight-fraction=F or int8-mac-share=P with a non-negative "
              "number)";
  bool isFraction = *kind == Budget::Kind::Fp32Fraction ||
                    *kind == Budget::Kind::WeightFraction ||
                    *kind == Budget::Kind::Int8MacShare;
  if (isFraction && value > 1.0)
    return where->emitError() << "quantune-assign-precision: budget '" << text
                              << "' must be a fraction in [0, 1]";
  if (*kind == Budget::Kind::Fp32Count && value != std::floor(value))
    return where->emitError() << "quantune-assign-precision: budget '" << text
                              << "' must be a whole number of layers";
  return std::make_pair(*kind, value);
}

/// `KIND=VALUE`, or a weight budget and an f32 cap: `weight-bytes=B,
/// fp32-count=K` (also weight-fraction=F and fp32-fraction=F).
FailureOr<Budget> parseBudget(StringRef text, Operation *where) {
  auto [mainText, capText] = text.split(',');
  FailureOr<std::pair<Budget::Kind, double>> main =
      parseBudgetItem(mainText, where);
  if (failed(main))
    return failure();
  Budget budget{main->first, main->second, std::nullopt};
  if (capText.trim().empty())
    return budget;
  FailureOr<std::pair<Budget::Kind, double>> cap =
      parseBudgetItem(capText, where);
  if (failed(cap))
    return failure();
  if (!budget.isWeightBudget() || (cap->first != Budget::Kind::Fp32Count &&
                                   cap->first != Budget::Kind::Fp32Fraction))
    return where->emitError()
           << "quantune-assign-precision: bad budget '" << text
           << "': only a weight budget (weight-bytes=B or weight-fraction=F) "
              "takes a second item, and it must be fp32-count=K or "
              "fp32-fraction=F (a cap on the f32 layers)";
  budget.fp32Cap = *cap;
  return budget;
}

/// Reads the four metrics of a layer from its `attrName` metrics, in
/// kMetricNames order.
std::array<std::optional<double>, kNumMetrics> readMetrics(Operation *op,
                                                           StringRef attrName) {
  std::array<std::optional<double>, kNumMetrics> out;
  auto metrics = op->getAttrOfType<MetricsAttr>(attrName);
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

  /// The metrics attribute the ranking reads and writes the sensitivity to.
  StringRef metricsAttrName = QuantuneDialect::kMetricsAttrName;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<Budget> budget = parseBudget(this->budget, module);
    if (failed(budget))
      return signalPassFailure();
    if (int4 && !budget->isWeightBudget()) {
      module.emitError()
          << "quantune-assign-precision: int4 (three tiers) needs a weight "
             "budget, weight-bytes=B or weight-fraction=F, to place the cut "
             "between i8 and i4; got '"
          << this->budget << "'";
      return signalPassFailure();
    }
    // The ranking reads the metrics of the lowest tier a layer may take.
    metricsAttrName = int4 ? QuantuneDialect::kMetricsI4AttrName
                           : QuantuneDialect::kMetricsAttrName;
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
      info.metrics = readMetrics(op, metricsAttrName);
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
    FailureOr<Cuts> cuts =
        int4 ? cutWeights(layers, candidates, *budget, kI4Bytes, "i4")
             : cut(layers, candidates, *budget);
    if (failed(cuts))
      return signalPassFailure();

    MLIRContext *ctx = &getContext();
    auto f32 = PrecisionAttr::get(ctx, Float32Type::get(ctx));
    auto i8 = PrecisionAttr::get(ctx, IntegerType::get(ctx, 8));
    auto i4 = PrecisionAttr::get(ctx, IntegerType::get(ctx, 4));
    for (auto [rank, layer] : llvm::enumerate(candidates))
      layer->op->setAttr(QuantuneDialect::kPrecisionAttrName,
                         rank < cuts->numF32  ? f32
                         : rank < cuts->numI8 ? i8
                                              : i4);
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
      auto old = l->op->getAttrOfType<MetricsAttr>(metricsAttrName);
      FloatAttr s = FloatAttr::get(Float64Type::get(ctx), l->sensitivity);
      l->op->setAttr(
          metricsAttrName,
          old ? MetricsAttr::get(ctx, old.getWeightSqnr(), old.getActSqnr(),
                                 old.getWeightMse(), old.getActMse(), s)
              : MetricsAttr::get(ctx, {}, {}, {}, {}, s));
    }
    return success();
  }

  /// Where the sorted candidates are cut: ranks below `numF32` are f32,
  /// those below `numI8` i8, the rest i4.
  struct Cuts {
    size_t numF32;
    size_t numI8;
  };

  /// A count or fraction of the `n` candidates.
  static size_t layerCount(Budget::Kind kind, double value, size_t n) {
    if (kind == Budget::Kind::Fp32Count)
      return std::min(n, static_cast<size_t>(value));
    return std::min(n, static_cast<size_t>(std::ceil(value * n - 1e-9)));
  }

  /// The byte limit of a weight budget: weight-fraction=F is F times the
  /// f32 size of every labelled layer's weights.
  static double byteLimit(ArrayRef<LayerInfo> layers, Budget budget) {
    if (budget.kind == Budget::Kind::WeightBytes)
      return budget.value;
    double f32Bytes = 0.0;
    for (const LayerInfo &l : layers)
      f32Bytes += kF32Bytes * l.params;
    return budget.value * f32Bytes;
  }

  /// Refuses a weight budget below `smallest` bytes (every candidate at
  /// `tier`).
  LogicalResult checkReachable(Budget budget, double limit, double smallest,
                               StringRef tier) {
    if (smallest <= limit)
      return success();
    InFlightDiagnostic diag =
        getOperation().emitError()
        << "quantune-assign-precision: "
        << StringRef(this->budget).split(',').first.trim();
    if (budget.kind == Budget::Kind::WeightFraction)
      diag << " (" << static_cast<int64_t>(limit) << " bytes)";
    diag << " is below the smallest possible size, "
         << static_cast<int64_t>(std::ceil(smallest))
         << " bytes with every quantizable layer in " << tier;
    return diag;
  }

  /// Promotes sorted candidates from the top, from `from` bytes per weight
  /// to `to`, while the weight size stays within `limit` and fewer than
  /// `maxCount` are promoted; returns how many were.
  static size_t promote(ArrayRef<LayerInfo *> sorted, double &bytes,
                        double limit, double from, double to, size_t maxCount) {
    size_t k = 0;
    while (k < std::min(maxCount, sorted.size()) &&
           bytes + (to - from) * sorted[k]->params <= limit)
      bytes += (to - from) * sorted[k++]->params;
    return k;
  }

  /// Under a weight budget, one ranking and up to two cuts. Every candidate
  /// starts in the lowest tier, `lowest` (i4 with three tiers, else i8); with
  /// three tiers the most sensitive are promoted to i8, in ranking order,
  /// while the weights fit (the i8 cut); then, with the bytes left, the most
  /// sensitive i8 layers to f32 (the f32 cut, at most the cap). i8 comes
  /// first because it recovers most of the 4-bit error for a quarter of
  /// f32's bytes.
  FailureOr<Cuts> cutWeights(ArrayRef<LayerInfo> layers,
                             ArrayRef<LayerInfo *> sorted, Budget budget,
                             double lowestBytes, StringRef lowest) {
    size_t n = sorted.size();
    double limit = byteLimit(layers, budget);
    double bytes = 0.0;
    for (const LayerInfo &l : layers)
      bytes += (l.forcedF32 ? kF32Bytes : lowestBytes) * l.params;
    if (failed(checkReachable(budget, limit, bytes, lowest)))
      return failure();
    size_t numI8 = lowestBytes < kI8Bytes
                       ? promote(sorted, bytes, limit, lowestBytes, kI8Bytes, n)
                       : n;
    size_t cap = budget.fp32Cap ? layerCount(budget.fp32Cap->first,
                                             budget.fp32Cap->second, n)
                                : n;
    size_t numF32 = promote(sorted, bytes, limit, kI8Bytes, kF32Bytes,
                            std::min(cap, numI8));
    return Cuts{numF32, numI8};
  }

  /// How many of the sorted candidates stay f32 under `budget` (the rest
  /// are i8).
  FailureOr<Cuts> cut(ArrayRef<LayerInfo> layers, ArrayRef<LayerInfo *> sorted,
                      Budget budget) {
    size_t n = sorted.size();
    switch (budget.kind) {
    case Budget::Kind::Fp32Count:
    case Budget::Kind::Fp32Fraction: {
      size_t k = layerCount(budget.kind, budget.value, n);
      return Cuts{k, n};
    }
    case Budget::Kind::WeightBytes:
    case Budget::Kind::WeightFraction:
      return cutWeights(layers, sorted, budget, kI8Bytes, "i8");
    case Budget::Kind::Int8MacShare: {
      double total = 0.0, int8 = 0.0;
      for (const LayerInfo &l : layers) {
        total += l.macs;
        if (!l.forcedF32)
          int8 += l.macs;
      }
      if (total <= 0.0)
        return Cuts{0, n};
      if (int8 / total < budget.value)
        return getOperation().emitError()
               << "quantune-assign-precision: budget '" << this->budget
               << "' is unreachable; at most "
               << llvm::formatv("{0:f4}", int8 / total).str()
               << " of the MACs can run in i8";
      size_t k = 0;
      while (k < n && (int8 - sorted[k]->macs) / total >= budget.value)
        int8 -= sorted[k++]->macs;
      return Cuts{k, n};
    }
    }
    llvm_unreachable("unknown budget kind");
  }
};
} // namespace
