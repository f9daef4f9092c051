//===- Strip.cpp - Remove quantune attributes -----------------------------===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#include "quantune/IR/QuantuneDialect.h"
#include "quantune/Transforms/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

namespace mlir {
namespace quantune {
#define GEN_PASS_DEF_QUANTUNESTRIP
#include "quantune/Transforms/Passes.h.inc"
} // namespace quantune
} // namespace mlir

using namespace mlir;
using namespace mlir::quantune;

/// True for attributes IREE cannot take: a `quantune.` name, or a value that
/// holds a quantune attribute anywhere inside it.
static bool isQuantuneAttr(NamedAttribute attr) {
  StringRef ns = QuantuneDialect::getDialectNamespace();
  StringRef name = attr.getName().strref();
  if (name.starts_with(ns) && name.drop_front(ns.size()).starts_with("."))
    return true;
  WalkResult result = attr.getValue().walk([&](Attribute nested) {
    return nested.getDialect().getNamespace() == ns ? WalkResult::interrupt()
                                                    : WalkResult::advance();
  });
  return result.wasInterrupted();
}

/// Removes quantune entries from a dictionary; returns how many it removed.
static unsigned stripDict(DictionaryAttr dict, DictionaryAttr &result) {
  if (!dict)
    return 0;
  SmallVector<NamedAttribute> kept;
  for (NamedAttribute attr : dict)
    if (!isQuantuneAttr(attr))
      kept.push_back(attr);
  unsigned removed = dict.size() - kept.size();
  if (removed)
    result = DictionaryAttr::get(dict.getContext(), kept);
  return removed;
}

namespace {
struct StripPass : public quantune::impl::QuantuneStripBase<StripPass> {
  using QuantuneStripBase::QuantuneStripBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    StringRef ns = QuantuneDialect::getDialectNamespace();

    // Refuse to drop semantics: every quantune op must be lowered first.
    bool foundOp = false;
    module.walk([&](Operation *op) {
      if (op->getDialect() && op->getDialect()->getNamespace() == ns) {
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
      for (NamedAttribute attr : op->getDiscardableAttrs())
        if (isQuantuneAttr(attr))
          names.push_back(attr.getName());
      for (StringAttr name : names)
        op->removeDiscardableAttr(name);
      numStripped += names.size();

      // Argument and result attributes of functions.
      auto func = dyn_cast<FunctionOpInterface>(op);
      if (!func)
        return;
      for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
        DictionaryAttr dict = func.getArgAttrDict(i), stripped;
        if (unsigned n = stripDict(dict, stripped)) {
          func.setArgAttrs(i, stripped);
          numStripped += n;
        }
      }
      for (unsigned i = 0, e = func.getNumResults(); i < e; ++i) {
        DictionaryAttr dict = func.getResultAttrDict(i), stripped;
        if (unsigned n = stripDict(dict, stripped)) {
          func.setResultAttrs(i, stripped);
          numStripped += n;
        }
      }
    });
  }
};
} // namespace
