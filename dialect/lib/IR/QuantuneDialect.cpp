//===- QuantuneDialect.cpp - Quantune dialect -----------------------------===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#include "quantune/IR/QuantuneDialect.h"
#include "quantune/IR/QuantuneAttrs.h"
#include "quantune/IR/QuantuneOps.h"

using namespace mlir;
using namespace mlir::quantune;

#include "quantune/IR/QuantuneOpsDialect.cpp.inc"

void QuantuneDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "quantune/IR/QuantuneOps.cpp.inc"
      >();
  registerAttributes();
}

LogicalResult
QuantuneDialect::verifyOperationAttribute(Operation *op,
                                          NamedAttribute attribute) {
  StringRef name = attribute.getName().strref();
  Attribute value = attribute.getValue();
  if (name == kActQParamsCandidatesAttrName) {
    auto candidates = dyn_cast<ArrayAttr>(value);
    if (!candidates || candidates.empty())
      return op->emitOpError()
             << "'" << name
             << "' must be a non-empty array of per-tensor #quantune.qparams";
    for (Attribute candidate : candidates) {
      auto qparams = dyn_cast<QParamsAttr>(candidate);
      if (!qparams || qparams.isPerChannel())
        return op->emitOpError()
               << "'" << name
               << "' must hold per-tensor #quantune.qparams, got " << candidate;
    }
    return success();
  }
  if (name == kMetricsI4AttrName || name == kMetricsAttrName) {
    if (!isa<MetricsAttr>(value))
      return op->emitOpError()
             << "'" << name << "' must be a #quantune.metrics, got " << value;
    return success();
  }
  if (name == kBiasCorrectionAttrName) {
    auto values = dyn_cast<DenseFPElementsAttr>(value);
    if (!values || values.getType().getRank() != 1 ||
        !values.getElementType().isF32())
      return op->emitOpError() << "'" << name
                               << "' must be a 1-D dense tensor of f32, got "
                               << value;
    for (const APFloat &v : values.getValues<APFloat>())
      if (!v.isFinite())
        return op->emitOpError()
               << "'" << name << "' must hold finite values";
    return success();
  }
  return success();
}
