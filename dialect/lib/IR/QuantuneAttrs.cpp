//===- QuantuneAttrs.cpp - Quantune attributes ----------------------------===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#include "quantune/IR/QuantuneAttrs.h"
#include "quantune/IR/QuantuneDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::quantune;

#include "quantune/IR/QuantuneEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "quantune/IR/QuantuneAttrs.cpp.inc"

void QuantuneDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "quantune/IR/QuantuneAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

/// Parses `key = ` and returns the key, or fails with a diagnostic.
static ParseResult parseKeyEq(AsmParser &parser, StringRef &key) {
  if (parser.parseKeyword(&key) || parser.parseEqual())
    return failure();
  return success();
}

/// Parses one value, or a `[...]` list of them when `isList`, into `out`.
template <typename T, typename ParseOne>
static ParseResult parseOneOrList(AsmParser &parser, bool isList,
                                  SmallVectorImpl<T> &out, ParseOne parseOne) {
  auto one = [&]() -> ParseResult {
    T value;
    if (parseOne(value))
      return failure();
    out.push_back(value);
    return success();
  };
  if (!isList)
    return one();
  return parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, one);
}

static void printDouble(AsmPrinter &printer, double value) {
  printer.printFloat(llvm::APFloat(value));
}

//===----------------------------------------------------------------------===//
// QParamsAttr
//===----------------------------------------------------------------------===//

int64_t QParamsAttr::getStorageMin() const {
  unsigned width = getStorageWidth();
  return isSignedStorage() ? -(int64_t(1) << (width - 1)) : 0;
}

int64_t QParamsAttr::getStorageMax() const {
  unsigned width = getStorageWidth();
  return isSignedStorage() ? (int64_t(1) << (width - 1)) - 1
                           : (int64_t(1) << width) - 1;
}

IntegerType QParamsAttr::getHolderType() const {
  return IntegerType::get(getContext(), getStorageWidth());
}

LogicalResult QParamsAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                  IntegerType storageType,
                                  DenseF64ArrayAttr scales,
                                  DenseI64ArrayAttr zeroPoints,
                                  std::optional<int64_t> axis) {
  if (!storageType || storageType.isSignless())
    return emitError() << "storage type must be a signed (si) or unsigned "
                          "(ui) integer type, got "
                       << storageType;
  unsigned width = storageType.getWidth();
  if (width < 2 || width > 32)
    return emitError() << "storage width must be between 2 and 32 bits, got "
                       << width;
  if (!scales || scales.empty())
    return emitError() << "expected at least one scale";
  if (!zeroPoints || zeroPoints.size() != scales.size())
    return emitError() << "expected one zero point per scale, got "
                       << (zeroPoints ? zeroPoints.size() : 0)
                       << " zero points for " << scales.size() << " scales";
  if (!axis && scales.size() != 1)
    return emitError() << "per-tensor parameters take exactly one scale, got "
                       << scales.size() << " (set 'axis' for per-channel)";
  if (axis && *axis < 0)
    return emitError() << "channel axis must be non-negative, got " << *axis;
  for (auto [i, scale] : llvm::enumerate(scales.asArrayRef())) {
    if (!std::isfinite(scale) || scale <= 0.0)
      return emitError() << "scale #" << i
                         << " must be positive and finite, got " << scale;
  }
  bool isSigned = storageType.isSigned();
  int64_t qmin = isSigned ? -(int64_t(1) << (width - 1)) : 0;
  int64_t qmax =
      isSigned ? (int64_t(1) << (width - 1)) - 1 : (int64_t(1) << width) - 1;
  for (auto [i, zp] : llvm::enumerate(zeroPoints.asArrayRef())) {
    if (zp < qmin || zp > qmax)
      return emitError() << "zero point #" << i << " (" << zp
                         << ") is outside the range [" << qmin << ", " << qmax
                         << "] of " << storageType;
  }
  return success();
}

Attribute QParamsAttr::parse(AsmParser &parser, Type) {
  MLIRContext *ctx = parser.getContext();
  SMLoc startLoc = parser.getCurrentLocation();
  if (parser.parseLess())
    return {};
  SMLoc typeLoc = parser.getCurrentLocation();
  Type type;
  if (parser.parseType(type))
    return {};
  auto storageType = dyn_cast<IntegerType>(type);
  if (!storageType) {
    parser.emitError(typeLoc, "expected an integer storage type such as si8 "
                              "or ui8, got ")
        << type;
    return {};
  }

  std::optional<int64_t> axis;
  SmallVector<double> scales;
  SmallVector<int64_t> zeroPoints;
  bool sawScale = false, sawZeroPoint = false, listForm = false;
  llvm::StringSet<> seen;
  while (succeeded(parser.parseOptionalComma())) {
    SMLoc keyLoc = parser.getCurrentLocation();
    StringRef key;
    if (parseKeyEq(parser, key))
      return {};
    if (!seen.insert(key).second) {
      parser.emitError(keyLoc, "duplicate qparams field '") << key << "'";
      return {};
    }
    if (key == "axis") {
      int64_t value;
      if (parser.parseInteger(value))
        return {};
      axis = value;
    } else if (key == "scale" || key == "scales") {
      if (sawScale) {
        parser.emitError(keyLoc, "give either 'scale' or 'scales', not both");
        return {};
      }
      sawScale = true;
      listForm |= key == "scales";
      if (parseOneOrList<double>(
              parser, key == "scales", scales,
              [&](double &v) { return parser.parseFloat(v); }))
        return {};
    } else if (key == "zero_point" || key == "zero_points") {
      if (sawZeroPoint) {
        parser.emitError(keyLoc,
                         "give either 'zero_point' or 'zero_points', not both");
        return {};
      }
      sawZeroPoint = true;
      listForm |= key == "zero_points";
      if (parseOneOrList<int64_t>(
              parser, key == "zero_points", zeroPoints,
              [&](int64_t &v) { return parser.parseInteger(v); }))
        return {};
    } else {
      parser.emitError(keyLoc, "unknown qparams field '")
          << key << "' (expected axis, scale(s) or zero_point(s))";
      return {};
    }
  }
  if (parser.parseGreater())
    return {};
  if (!sawScale) {
    parser.emitError(startLoc, "qparams need a 'scale' (or 'scales' with "
                               "'axis')");
    return {};
  }
  if (listForm && !axis) {
    parser.emitError(startLoc,
                     "'scales'/'zero_points' lists need a channel 'axis'");
    return {};
  }
  if (!sawZeroPoint)
    zeroPoints.assign(scales.size(), 0);
  return parser.getChecked<QParamsAttr>(
      startLoc, ctx, storageType, DenseF64ArrayAttr::get(ctx, scales),
      DenseI64ArrayAttr::get(ctx, zeroPoints), axis);
}

void QParamsAttr::print(AsmPrinter &printer) const {
  printer << "<" << getStorageType();
  ArrayRef<double> scales = getScales().asArrayRef();
  ArrayRef<int64_t> zeroPoints = getZeroPoints().asArrayRef();
  bool allZero = llvm::all_of(zeroPoints, [](int64_t z) { return z == 0; });
  if (std::optional<int64_t> axis = getAxis()) {
    printer << ", axis = " << *axis << ", scales = [";
    llvm::interleaveComma(scales, printer,
                          [&](double s) { printDouble(printer, s); });
    printer << "]";
    if (!allZero) {
      printer << ", zero_points = [";
      llvm::interleaveComma(zeroPoints, printer);
      printer << "]";
    }
  } else {
    printer << ", scale = ";
    printDouble(printer, scales.front());
    if (!allZero)
      printer << ", zero_point = " << zeroPoints.front();
  }
  printer << ">";
}

//===----------------------------------------------------------------------===//
// MetricsAttr
//===----------------------------------------------------------------------===//

namespace {
/// The fields of #quantune.metrics in their printed order.
constexpr StringLiteral kMetricFields[] = {
    "weight_sqnr", "act_sqnr", "weight_mse", "act_mse", "sensitivity"};
} // namespace

LogicalResult MetricsAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                  FloatAttr weightSqnr, FloatAttr actSqnr,
                                  FloatAttr weightMse, FloatAttr actMse,
                                  FloatAttr sensitivity) {
  FloatAttr fields[] = {weightSqnr, actSqnr, weightMse, actMse, sensitivity};
  for (auto [name, field] : llvm::zip_equal(kMetricFields, fields)) {
    if (!field)
      continue;
    double value = field.getValueAsDouble();
    if (!std::isfinite(value))
      return emitError() << "metric '" << name << "' must be finite, got "
                         << value;
  }
  for (auto [name, field] :
       {std::pair{"weight_mse", weightMse}, std::pair{"act_mse", actMse}}) {
    if (field && field.getValueAsDouble() < 0.0)
      return emitError() << "metric '" << name << "' must be non-negative, got "
                         << field.getValueAsDouble();
  }
  return success();
}

Attribute MetricsAttr::parse(AsmParser &parser, Type) {
  MLIRContext *ctx = parser.getContext();
  SMLoc startLoc = parser.getCurrentLocation();
  FloatAttr fields[std::size(kMetricFields)] = {};
  if (parser.parseLess())
    return {};
  // `#quantune.metrics<>` is a valid, empty metrics record.
  if (failed(parser.parseOptionalGreater())) {
    do {
      SMLoc keyLoc = parser.getCurrentLocation();
      StringRef key;
      if (parseKeyEq(parser, key))
        return {};
      const auto *it = llvm::find(kMetricFields, key);
      if (it == std::end(kMetricFields)) {
        parser.emitError(keyLoc, "unknown metric '")
            << key
            << "' (expected weight_sqnr, act_sqnr, weight_mse, act_mse or "
               "sensitivity)";
        return {};
      }
      FloatAttr &slot = fields[it - std::begin(kMetricFields)];
      if (slot) {
        parser.emitError(keyLoc, "duplicate metric '") << key << "'";
        return {};
      }
      double value;
      if (parser.parseFloat(value))
        return {};
      slot = FloatAttr::get(Float64Type::get(ctx), value);
    } while (succeeded(parser.parseOptionalComma()));
    if (parser.parseGreater())
      return {};
  }
  return parser.getChecked<MetricsAttr>(startLoc, ctx, fields[0], fields[1],
                                        fields[2], fields[3], fields[4]);
}

void MetricsAttr::print(AsmPrinter &printer) const {
  FloatAttr fields[] = {getWeightSqnr(), getActSqnr(), getWeightMse(),
                        getActMse(), getSensitivity()};
  printer << "<";
  bool first = true;
  for (auto [name, field] : llvm::zip_equal(kMetricFields, fields)) {
    if (!field)
      continue;
    if (!first)
      printer << ", ";
    first = false;
    printer << name << " = ";
    printDouble(printer, field.getValueAsDouble());
  }
  printer << ">";
}

//===----------------------------------------------------------------------===//
// PrecisionAttr
//===----------------------------------------------------------------------===//

LogicalResult
PrecisionAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                      Type elementType) {
  if (elementType.isF32() || elementType.isF16() || elementType.isBF16() ||
      elementType.isSignlessInteger(8) || elementType.isSignlessInteger(4))
    return success();
  return emitError() << "unsupported precision " << elementType
                     << " (expected f32, f16, bf16, i8 or i4)";
}
