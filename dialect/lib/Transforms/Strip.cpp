//===- Strip.cpp - Remove quantune attributes -----------------------------===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#include "quantune/IR/QuantuneDialect.h"
#include "quantune/Transforms/Passes.h"

#include "mlir/IR/BuiltinOps.h"

namespace mlir {
namespace quantune {
#define GEN_PASS_DEF_QUANTUNESTRIP
#include "quantune/Transforms/Passes.h.inc"
} // namespace quantune
} // namespace mlir

using namespace mlir;
using namespace mlir::quantune;

namespace {
struct StripPass : public quantune::impl::QuantuneStripBase<StripPass> {
  using QuantuneStripBase::QuantuneStripBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    StringRef prefix = QuantuneDialect::getDialectNamespace();

    // Refuse to drop semantics: every quantune op must be lowered first.
    bool foundOp = false;
    module.walk([&](Operation *op) {
      if (op->getDialect() && op->getDialect()->getNamespace() == prefix) {
        op->emitError() << "'" << op->getName()
                        << "' must be lowered before quantune-strip; "
                           "stripping would change the program";
        foundOp = true;
      }
    });
    if (foundOp)
      return signalPassFailure();

    module.walk([&](Operation *op) {
      SmallVector<StringAttr> names;
      for (NamedAttribute attr : op->getDiscardableAttrs()) {
        StringRef name = attr.getName().strref();
        if (name.starts_with(prefix) && name.drop_front(prefix.size())
                                            .starts_with("."))
          names.push_back(attr.getName());
      }
      for (StringAttr name : names)
        op->removeDiscardableAttr(name);
      numStripped += names.size();
    });
  }
};
} // namespace
