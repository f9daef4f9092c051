//===- QuantuneDialect.h - Quantune dialect ---------------------*- C++ -*-===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTUNE_IR_QUANTUNEDIALECT_H
#define QUANTUNE_IR_QUANTUNEDIALECT_H

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dialect.h"

#include "quantune/IR/QuantuneOpsDialect.h.inc"

#endif // QUANTUNE_IR_QUANTUNEDIALECT_H
