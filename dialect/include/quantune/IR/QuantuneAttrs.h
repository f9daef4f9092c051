//===- QuantuneAttrs.h - Quantune attributes --------------------*- C++ -*-===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTUNE_IR_QUANTUNEATTRS_H
#define QUANTUNE_IR_QUANTUNEATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"

#include "quantune/IR/QuantuneEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "quantune/IR/QuantuneAttrs.h.inc"

#endif // QUANTUNE_IR_QUANTUNEATTRS_H
