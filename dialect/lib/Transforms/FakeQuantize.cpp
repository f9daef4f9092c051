// Placeholder until the pass is written; see Passes.td.
#include "quantune/Transforms/Passes.h"

namespace mlir {
namespace quantune {
#define GEN_PASS_DEF_QUANTUNEFAKEQUANTIZE
#include "quantune/Transforms/Passes.h.inc"
} // namespace quantune
} // namespace mlir

using namespace mlir;

namespace {
struct FakeQuantizePass : public quantune::impl::QuantuneFakeQuantizeBase<FakeQuantizePass> {
  using QuantuneFakeQuantizeBase::QuantuneFakeQuantizeBase;
  void runOnOperation() override {
    getOperation()->emitError("not implemented yet");
    signalPassFailure();
  }
};
} // namespace
