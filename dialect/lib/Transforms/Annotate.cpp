//===- Annotate.cpp - Attach analysis results from JSON -------------------===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#include "quantune/IR/QuantuneAttrs.h"
#include "quantune/IR/QuantuneDialect.h"
#include "quantune/Transforms/LayerUtils.h"
#include "quantune/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>

namespace mlir {
namespace quantune {
#define GEN_PASS_DEF_QUANTUNEANNOTATE
#include "quantune/Transforms/Passes.h.inc"
} // namespace quantune
} // namespace mlir

using namespace mlir;
using namespace mlir::quantune;
namespace json = llvm::json;

namespace {
/// Applies the entries of one annotations file, reporting every problem at
/// the module with the file name and entry index.
class Annotator {
public:
  Annotator(ModuleOp module, StringRef file) : module(module), file(file) {
    for (linalg::LinalgOp layer : collectLayers(module))
      layers.try_emplace(*getLayerId(layer), layer);
  }

  LogicalResult run(const json::Value &root) {
    const json::Object *top = root.getAsObject();
    if (!top)
      return error() << "expected a JSON object at the top level";
    for (const auto &kv : *top)
      if (kv.first != "version" && kv.first != "layers")
        return error() << "unknown top-level key '" << kv.first.str() << "'";
    if (std::optional<int64_t> version = top->getInteger("version");
        version && *version != 1)
      return error() << "unsupported version " << *version
                     << " (this build reads version 1)";
    const json::Array *entries = top->getArray("layers");
    if (!entries)
      return error() << "expected a 'layers' array";
    for (auto [index, entry] : llvm::enumerate(*entries)) {
      entryIndex = index;
      if (failed(applyEntry(entry)))
        return failure();
    }
    return success();
  }

private:
  InFlightDiagnostic error() {
    InFlightDiagnostic diag = module.emitError()
                              << "quantune-annotate: '" << file << "'";
    if (entryIndex)
      diag << " entry #" << *entryIndex;
    diag << ": ";
    return diag;
  }

  LogicalResult applyEntry(const json::Value &value) {
    const json::Object *entry = value.getAsObject();
    if (!entry)
      return error() << "expected an object";
    std::optional<int64_t> id = entry->getInteger("id");
    if (!id)
      return error() << "missing integer 'id'";
    auto it = layers.find(*id);
    if (it == layers.end())
      return error() << "unknown layer id " << *id;
    Operation *layer = it->second;
    MLIRContext *ctx = module.getContext();

    for (const auto &kv : *entry) {
      StringRef key = kv.first;
      if (key == "id")
        continue;
      if (key == "act_qparams") {
        FailureOr<QParamsAttr> qparams = parseQParams(kv.second);
        if (failed(qparams))
          return failure();
        layer->setAttr(QuantuneDialect::kActQParamsAttrName, *qparams);
      } else if (key == "act_qparams_candidates") {
        const json::Array *list = kv.second.getAsArray();
        if (!list || list->empty())
          return error() << "'act_qparams_candidates' must be a non-empty "
                            "array of act_qparams objects";
        SmallVector<Attribute> candidates;
        for (const json::Value &item : *list) {
          FailureOr<QParamsAttr> qparams = parseQParams(item);
          if (failed(qparams))
            return failure();
          candidates.push_back(*qparams);
        }
        layer->setAttr(QuantuneDialect::kActQParamsCandidatesAttrName,
                       ArrayAttr::get(ctx, candidates));
      } else if (key == "bias_correction") {
        const json::Array *list = kv.second.getAsArray();
        if (!list || list->empty())
          return error() << "'bias_correction' must be a non-empty array of "
                            "numbers";
        SmallVector<float> values;
        for (const json::Value &item : *list) {
          std::optional<double> number = item.getAsNumber();
          if (!number || !std::isfinite(static_cast<float>(*number)))
            return error() << "'bias_correction' values must be finite f32 "
                              "numbers";
          values.push_back(static_cast<float>(*number));
        }
        auto type = RankedTensorType::get(
            {static_cast<int64_t>(values.size())}, Float32Type::get(ctx));
        layer->setAttr(QuantuneDialect::kBiasCorrectionAttrName,
                       DenseElementsAttr::get(type, ArrayRef<float>(values)));
      } else if (key == "metrics" || key == "metrics_i4") {
        StringRef attrName = key == "metrics"
                                 ? QuantuneDialect::kMetricsAttrName
                                 : QuantuneDialect::kMetricsI4AttrName;
        auto old = layer->getAttrOfType<MetricsAttr>(attrName);
        FailureOr<MetricsAttr> metrics = parseMetrics(kv.second, old);
        if (failed(metrics))
          return failure();
        layer->setAttr(attrName, *metrics);
      } else if (key == "precision") {
        std::optional<StringRef> text = kv.second.getAsString();
        Type type;
        if (text)
          type = llvm::StringSwitch<Type>(*text)
                     .Case("f32", Float32Type::get(ctx))
                     .Case("f16", Float16Type::get(ctx))
                     .Case("bf16", BFloat16Type::get(ctx))
                     .Case("i8", IntegerType::get(ctx, 8))
                     .Case("i4", IntegerType::get(ctx, 4))
                     .Default(Type());
        if (!type)
          return error() << "'precision' must be one of \"f32\", \"f16\", "
                            "\"bf16\", \"i8\", \"i4\"";
        layer->setAttr(QuantuneDialect::kPrecisionAttrName,
                       PrecisionAttr::get(ctx, type));
      } else if (key == "reason") {
        std::optional<StringRef> text = kv.second.getAsString();
        if (!text || text->empty())
          return error() << "'reason' must be a non-empty string";
        layer->setAttr(QuantuneDialect::kReasonAttrName,
                       StringAttr::get(ctx, *text));
      } else {
        return error() << "unknown key '" << key.str()
                       << "' (expected id, act_qparams, act_qparams_candidates, "
                          "bias_correction, metrics, metrics_i4, precision, reason)";
      }
    }
    // A layer with a reason cannot be quantized: it stays f32 whatever the
    // entry's precision says.
    if (layer->hasAttr(QuantuneDialect::kReasonAttrName))
      layer->setAttr(QuantuneDialect::kPrecisionAttrName,
                     PrecisionAttr::get(ctx, Float32Type::get(ctx)));
    return success();
  }

  FailureOr<QParamsAttr> parseQParams(const json::Value &value) {
    const json::Object *obj = value.getAsObject();
    if (!obj)
      return error() << "'act_qparams' must be an object";
    for (const auto &kv : *obj)
      if (kv.first != "storage" && kv.first != "scale" &&
          kv.first != "zero_point")
        return error() << "unknown key 'act_qparams." << kv.first.str() << "'";
    std::optional<StringRef> storage = obj->getString("storage");
    std::optional<double> scale = obj->getNumber("scale");
    std::optional<int64_t> zeroPoint = obj->getInteger("zero_point");
    if (!storage || !scale)
      return error() << "'act_qparams' needs a string 'storage' and a number "
                        "'scale'";
    if (obj->get("zero_point") && !zeroPoint)
      return error() << "'act_qparams.zero_point' must be an integer";
    // Storage is siN or uiN.
    StringRef digits = *storage;
    bool isSigned = digits.consume_front("si");
    unsigned width = 0;
    if ((!isSigned && !digits.consume_front("ui")) ||
        digits.getAsInteger(10, width))
      return error() << "'act_qparams.storage' must be like \"si8\" or "
                        "\"ui8\", got \""
                     << storage->str() << "\"";
    MLIRContext *ctx = module.getContext();
    auto type = IntegerType::get(
        ctx, width, isSigned ? IntegerType::Signed : IntegerType::Unsigned);
    bool invalid = false;
    auto emit = [&]() {
      invalid = true;
      return error() << "invalid 'act_qparams': ";
    };
    QParamsAttr attr = QParamsAttr::getChecked(
        emit, ctx, type, DenseF64ArrayAttr::get(ctx, {*scale}),
        DenseI64ArrayAttr::get(ctx, {zeroPoint.value_or(0)}),
        std::optional<int64_t>());
    if (invalid || !attr)
      return failure();
    return attr;
  }

  FailureOr<MetricsAttr> parseMetrics(const json::Value &value,
                                      MetricsAttr old) {
    const json::Object *obj = value.getAsObject();
    if (!obj)
      return error() << "'metrics' must be an object";
    MLIRContext *ctx = module.getContext();
    FloatAttr fields[5] = {};
    if (old) {
      fields[0] = old.getWeightSqnr();
      fields[1] = old.getActSqnr();
      fields[2] = old.getWeightMse();
      fields[3] = old.getActMse();
      fields[4] = old.getSensitivity();
    }
    static constexpr StringLiteral names[] = {
        "weight_sqnr", "act_sqnr", "weight_mse", "act_mse", "sensitivity"};
    for (const auto &kv : *obj) {
      StringRef key = kv.first;
      const auto *it = llvm::find(names, key);
      if (it == std::end(names))
        return error() << "unknown metric '" << kv.first.str() << "'";
      std::optional<double> number = kv.second.getAsNumber();
      if (!number)
        return error() << "metric '" << kv.first.str() << "' must be a number";
      fields[it - std::begin(names)] =
          FloatAttr::get(Float64Type::get(ctx), *number);
    }
    bool invalid = false;
    auto emit = [&]() {
      invalid = true;
      return error() << "invalid 'metrics': ";
    };
    MetricsAttr attr = MetricsAttr::getChecked(emit, ctx, fields[0], fields[1],
                                               fields[2], fields[3], fields[4]);
    if (invalid || !attr)
      return failure();
    return attr;
  }

  ModuleOp module;
  StringRef file;
  std::optional<size_t> entryIndex;
  llvm::DenseMap<int64_t, Operation *> layers;
};

/// Annotation files are a list of flat records: a few levels deep and a few
/// bytes per layer. These bounds are far above any real file.
constexpr uint64_t kMaxFileBytes = 256ull << 20;
constexpr size_t kMaxNesting = 64;

/// The deepest nesting of JSON arrays and objects in `text` (brackets inside
/// strings do not count). Stops counting once past kMaxNesting.
size_t maxNesting(StringRef text) {
  size_t depth = 0, deepest = 0;
  bool inString = false;
  for (size_t i = 0, e = text.size(); i < e; ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        inString = false;
      continue;
    }
    if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > kMaxNesting)
        return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

struct AnnotatePass
    : public quantune::impl::QuantuneAnnotateBase<AnnotatePass> {
  using QuantuneAnnotateBase::QuantuneAnnotateBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (file.empty()) {
      module.emitError("quantune-annotate needs file=<annotations.json>");
      return signalPassFailure();
    }
    llvm::sys::fs::file_status status;
    if (std::error_code ec = llvm::sys::fs::status(file, status)) {
      module.emitError() << "quantune-annotate: cannot read '" << file
                         << "': " << ec.message();
      return signalPassFailure();
    }
    if (status.type() != llvm::sys::fs::file_type::regular_file) {
      module.emitError() << "quantune-annotate: '" << file
                         << "' is not a regular file";
      return signalPassFailure();
    }
    if (status.getSize() > kMaxFileBytes) {
      module.emitError() << "quantune-annotate: '" << file << "' has "
                         << status.getSize() << " bytes; at most "
                         << kMaxFileBytes << " are read";
      return signalPassFailure();
    }
    llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
        llvm::MemoryBuffer::getFile(file, /*IsText=*/true);
    if (!buffer) {
      module.emitError() << "quantune-annotate: cannot read '" << file
                         << "': " << buffer.getError().message();
      return signalPassFailure();
    }
    // llvm::json::parse recurses once per level: bound the nesting before
    // it runs, so that a hostile file cannot overflow the stack.
    if (size_t depth = maxNesting((*buffer)->getBuffer());
        depth > kMaxNesting) {
      module.emitError() << "quantune-annotate: '" << file
                         << "' nests arrays and objects " << depth
                         << " levels deep; at most " << kMaxNesting
                         << " are accepted";
      return signalPassFailure();
    }
    llvm::Expected<json::Value> root = json::parse((*buffer)->getBuffer());
    if (!root) {
      module.emitError() << "quantune-annotate: '" << file
                         << "' is not valid JSON: "
                         << llvm::toString(root.takeError());
      return signalPassFailure();
    }
    if (failed(Annotator(module, file).run(*root)))
      signalPassFailure();
  }
};
} // namespace
