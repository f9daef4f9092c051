//===- Passes.h - Quantune passes -------------------------------*- C++ -*-===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTUNE_TRANSFORMS_PASSES_H
#define QUANTUNE_TRANSFORMS_PASSES_H

#include "quantune/IR/QuantuneDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <memory>

namespace mlir {
namespace quantune {

#define GEN_PASS_DECL
#include "quantune/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "quantune/Transforms/Passes.h.inc"

} // namespace quantune
} // namespace mlir

#endif // QUANTUNE_TRANSFORMS_PASSES_H
