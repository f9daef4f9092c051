//===- LabelLayers.cpp - Give quantizable layers stable ids ---------------===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#include "quantune/IR/QuantuneDialect.h"
#include "quantune/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Location.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringSwitch.h"

#include <limits>

namespace mlir {
namespace quantune {
#define GEN_PASS_DEF_QUANTUNELABELLAYERS
#include "quantune/Transforms/Passes.h.inc"
} // namespace quantune
} // namespace mlir

using namespace mlir;
using namespace mlir::quantune;

/// Returns the layer kind of a quantizable op, or an empty string. Ops are
/// matched by name so that every conv layout is covered without listing op
/// classes; already-quantized `_q` variants and non-float ops are skipped.
static StringRef classifyLayer(Operation *op) {
  StringRef name = op->getName().getStringRef();
  if (!name.consume_front("linalg.") || name.ends_with("_q"))
    return {};
  StringRef kind =
      llvm::StringSwitch<StringRef>(name)
          .Cases(
              {"conv_2d_nchw_fchw", "conv_2d_nhwc_hwcf", "conv_2d_nhwc_fhwc"},
              "conv2d")
          .Cases({"conv_2d_ngchw_fgchw", "conv_2d_ngchw_gfchw",
                  "conv_2d_nhwgc_gfhwc"},
                 "grouped_conv2d")
          .Cases({"depthwise_conv_2d_nchw_chw", "depthwise_conv_2d_nhwc_hwc",
                  "depthwise_conv_2d_nhwc_hwcm"},
                 "depthwise_conv2d")
          .Case("matmul", "matmul")
          .Case("batch_matmul", "batch_matmul")
          .Default({});
  if (kind.empty() || op->getNumOperands() < 2)
    return {};
  // Only float layers are candidates for quantization.
  for (Value operand : op->getOperands().take_front(2)) {
    auto type = dyn_cast<ShapedType>(operand.getType());
    if (!type || !isa<FloatType>(type.getElementType()))
      return {};
  }
  return kind;
}

/// Finds the first user-visible name in a location tree: the ONNX importer
/// attaches each node's name as a NameLoc, and lowering may wrap it in
/// FusedLoc or CallSiteLoc.
static StringRef findLocationName(Location loc) {
  if (auto nameLoc = dyn_cast<NameLoc>(loc)) {
    StringRef name = nameLoc.getName().strref();
    if (!name.empty())
      return name;
    return findLocationName(nameLoc.getChildLoc());
  }
  if (auto fused = dyn_cast<FusedLoc>(loc)) {
    for (Location child : fused.getLocations())
      if (StringRef name = findLocationName(child); !name.empty())
        return name;
    return {};
  }
  if (auto callSite = dyn_cast<CallSiteLoc>(loc))
    return findLocationName(callSite.getCallee());
  return {};
}

/// Records the weight element count and the multiply-accumulate count (the
/// product of all loop ranges) when they are static.
static void setSizeAttrs(linalg::LinalgOp op, Builder &builder) {
  auto weightType =
      dyn_cast<ShapedType>(op.getDpsInputOperand(1)->get().getType());
  if (weightType && weightType.hasStaticShape())
    op->setAttr(QuantuneDialect::kParamsAttrName,
                builder.getI64IntegerAttr(weightType.getNumElements()));
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (llvm::any_of(ranges, ShapedType::isDynamic))
    return;
  int64_t macs = 1;
  for (int64_t r : ranges)
    macs *= r;
  op->setAttr(QuantuneDialect::kMacsAttrName, builder.getI64IntegerAttr(macs));
}

namespace {
struct LabelLayersPass
    : public quantune::impl::QuantuneLabelLayersBase<LabelLayersPass> {
  using QuantuneLabelLayersBase::QuantuneLabelLayersBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<std::pair<Operation *, StringRef>> layers;
    module.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (StringRef kind = classifyLayer(op); !kind.empty())
        layers.emplace_back(op, kind);
    });

    // Keep existing ids, on any op, and check that they are unique.
    llvm::DenseMap<int64_t, Operation *> existing;
    int64_t nextId = 0;
    bool failedCheck = false;
    module.walk([&](Operation *op) {
      Attribute attr = op->getAttr(QuantuneDialect::kLayerAttrName);
      if (!attr)
        return;
      auto id = dyn_cast<IntegerAttr>(attr);
      if (!id || !id.getType().isSignlessInteger(64) || id.getInt() < 0 ||
          id.getInt() == std::numeric_limits<int64_t>::max()) {
        op->emitError() << "'" << QuantuneDialect::kLayerAttrName
                        << "' must be an i64 in [0, 2^63 - 1), got " << attr;
        failedCheck = true;
        return;
      }
      auto [it, inserted] = existing.try_emplace(id.getInt(), op);
      if (!inserted) {
        InFlightDiagnostic diag = op->emitError()
                                  << "duplicate layer id " << id.getInt();
        diag.attachNote(it->second->getLoc()) << "first used here";
        failedCheck = true;
      }
      nextId = std::max(nextId, id.getInt() + 1);
    });
    if (failedCheck)
      return signalPassFailure();

    Builder builder(&getContext());
    for (auto [op, kind] : layers) {
      int64_t id;
      if (auto attr =
              op->getAttrOfType<IntegerAttr>(QuantuneDialect::kLayerAttrName)) {
        id = attr.getInt();
      } else {
        id = nextId++;
        op->setAttr(QuantuneDialect::kLayerAttrName,
                    builder.getI64IntegerAttr(id));
        ++numLabelled;
      }
      if (!op->hasAttr(QuantuneDialect::kNameAttrName)) {
        std::string name = findLocationName(op->getLoc()).str();
        if (name.empty())
          name = (kind + "_" + Twine(id)).str();
        op->setAttr(QuantuneDialect::kNameAttrName,
                    builder.getStringAttr(name));
      }
      op->setAttr(QuantuneDialect::kKindAttrName, builder.getStringAttr(kind));
      setSizeAttrs(cast<linalg::LinalgOp>(op), builder);
    }
  }
};
} // namespace
