// Placeholder until the pass is written; see Passes.td.
#include "quantune/Transforms/Passes.h"

namespace mlir {
namespace quantune {
#define GEN_PASS_DEF_QUANTUNEINSTRUMENT
#include "quantune/Transforms/Passes.h.inc"
} // namespace quantune
} // namespace mlir

using namespace mlir;

namespace {
struct InstrumentPass : public quantune::impl::QuantuneInstrumentBase<InstrumentPass> {
  using QuantuneInstrumentBase::QuantuneInstrumentBase;
  void runOnOperation() override {
    getOperation()->emitError("not implemented yet");
    signalPassFailure();
  }
};
} // namespace
