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
