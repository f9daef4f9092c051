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
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

/// True when writing `output` would replace `input` (the same file, through
/// any link). The driver maps the input while it writes the output, so the
/// write would destroy the input and the process would die reading it.
static bool namesTheInput(llvm::StringRef input, llvm::StringRef output) {
  if (input == "-" || output == "-")
    return false;
  if (input == output)
    return true;
  return llvm::sys::fs::equivalent(input, output);
}

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::quantune::registerQuantunePasses();

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  registry.insert<mlir::quantune::QuantuneDialect>();

  auto [inputFilename, outputFilename] = mlir::registerAndParseCLIOptions(
      argc, argv, "Quantune-MLIR optimizer driver\n", registry);
  if (namesTheInput(inputFilename, outputFilename)) {
    llvm::WithColor::error(llvm::errs(), "quantune-opt")
        << "output '" << outputFilename
        << "' is the input file; write to another path\n";
    return 2;
  }
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, inputFilename, outputFilename, registry));
}
