//===- QuantuneOps.h - Quantune operations ----------------------*- C++ -*-===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTUNE_IR_QUANTUNEOPS_H
#define QUANTUNE_IR_QUANTUNEOPS_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "quantune/IR/QuantuneAttrs.h"
#include "quantune/IR/QuantuneDialect.h"

#define GET_OP_CLASSES
#include "quantune/IR/QuantuneOps.h.inc"

#endif // QUANTUNE_IR_QUANTUNEOPS_H
