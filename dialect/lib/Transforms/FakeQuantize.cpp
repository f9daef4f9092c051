//===- FakeQuantize.cpp - Simulate int8 layers in fp32 --------------------===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#include "quantune/IR/QuantuneAttrs.h"
#include "quantune/IR/QuantuneDialect.h"
#include "quantune/Transforms/LayerUtils.h"
#include "quantune/Transforms/Passes.h"
#include "quantune/Transforms/QuantUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

#include <limits>

namespace mlir {
namespace quantune {
#define GEN_PASS_DEF_QUANTUNEFAKEQUANTIZE
#include "quantune/Transforms/Passes.h.inc"
} // namespace quantune
} // namespace mlir

using namespace mlir;
using namespace mlir::quantune;

namespace {
struct FakeQuantizePass
    : public quantune::impl::QuantuneFakeQuantizeBase<FakeQuantizePass> {
  using QuantuneFakeQuantizeBase::QuantuneFakeQuantizeBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (failed(checkWeightBits(module, "quantune-fake-quantize", bits)))
      return signalPassFailure();
    bool failedAny = false;
    for (func::FuncOp func :
         llvm::to_vector(module.getBodyRegion().getOps<func::FuncOp>()))
      if (failed(processFunction(func)))
        failedAny = true;
    if (failedAny)
      signalPassFailure();
  }

private:
  LogicalResult processFunction(func::FuncOp func);
};
} // namespace

LogicalResult FakeQuantizePass::processFunction(func::FuncOp func) {
  SmallVector<linalg::LinalgOp> layers = collectLayers(func);
  if (layers.empty())
    return success();

  // switchable: a trailing tensor<i32> argument selects the simulated layer.
  Value selector;
  if (switchable) {
    FailureOr<Value> added =
        addLayerSelectorArgument(func, layers, "quantune-fake-quantize");
    if (failed(added))
      return failure();
    selector = *added;
  }

  bool failedAny = false;
  OpBuilder b(func.getContext());
  for (linalg::LinalgOp layer : layers) {
    // By precision, an i4 (w4a8) layer gets 4-bit weights; a sweep
    // simulates every layer with `bits`-bit weights.
    std::optional<unsigned> layerBits =
        switchable ? std::optional<unsigned>(bits) : getIntegerLayerBits(layer);
    if (!layerBits)
      continue;
    if (*layerBits == 8)
      layerBits = bits;
    int64_t id = *getLayerId(layer);
    std::string reason;
    FailureOr<std::optional<LayerQuantization>> prepared =
        prepareLayerQuantization(layer, *layerBits, reason);
    if (failed(prepared)) {
      failedAny = true;
      continue;
    }
    if (!*prepared) {
      // A selector sweep covers the layers that can be simulated. An i8
      // layer that cannot be is simulated in f32, as the lowering keeps it.
      if (switchable)
        continue;
      layer->emitWarning() << "quantune-fake-quantize: " << describeLayer(layer)
                           << " cannot be fake-quantized and stays f32: "
                           << reason;
      markLayerF32(layer, reason);
      continue;
    }
    const LayerQuantization &quant = **prepared;

    Location loc = layer.getLoc();
    b.setInsertionPoint(layer);
    OpOperand &input = *layer.getDpsInputOperand(0);
    OpOperand &weight = getWeightOperand(layer);
    Value fqInput = buildFakeQuantActivation(b, loc, input.get(),
                                             quant.actQParams, selector, id);
    Value fqWeight =
        buildFakeQuantWeight(b, loc, quant.weight, quant.weightQuant);
    if (selector)
      fqWeight = buildLayerSelect(b, loc, selector, id, fqWeight, weight.get());
    input.set(fqInput);
    weight.set(fqWeight);
    eraseDeadWeightChain(quant.weight);
    // The int8 layer's bias correction, as the lowering adds it.
    if (auto correction = layer->getAttrOfType<DenseFPElementsAttr>(
            QuantuneDialect::kBiasCorrectionAttrName)) {
      Value output = layer->getResult(0);
      b.setInsertionPointAfter(layer);
      FailureOr<Value> corrected = buildBiasCorrection(
          b, loc, layer, output, correction, selector, id);
      if (failed(corrected)) {
        failedAny = true;
        continue;
      }
      output.replaceAllUsesExcept(*corrected,
                                  corrected->getDefiningOp());
    }
  }
  return failure(failedAny);
}
