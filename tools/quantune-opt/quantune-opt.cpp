//===- quantune-opt.cpp - Quantune pass driver ----------------------------===//
//
// Part of the Quantune-MLIR project.
//
// Parses MLIR text (func, arith, math, tensor, linalg, ... and quantune),
// runs quantune and upstream passes, and prints the result. Built on
// MlirOptMain, so it takes every mlir-opt flag.
//
//===----------------------------------------------------------------------===//

#include "quantune/IR/QuantuneDialect.h"
#include "quantune/Transforms/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::quantune::registerQuantunePasses();

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  registry.insert<mlir::quantune::QuantuneDialect>();

  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "Quantune-MLIR optimizer driver\n", registry));
}
