// Placeholder until the pass is written; see Passes.td.
#include "quantune/Transforms/Passes.h"

namespace mlir {
namespace quantune {
#define GEN_PASS_DEF_QUANTUNEASSIGNPRECISION
#include "quantune/Transforms/Passes.h.inc"
} // namespace quantune
} // namespace mlir

using namespace mlir;

namespace {
struct AssignPrecisionPass : public quantune::impl::QuantuneAssignPrecisionBase<AssignPrecisionPass> {
  using QuantuneAssignPrecisionBase::QuantuneAssignPrecisionBase;
  void runOnOperation() override {
    getOperation()->emitError("not implemented yet");
    signalPassFailure();
  }
};
} // namespace
