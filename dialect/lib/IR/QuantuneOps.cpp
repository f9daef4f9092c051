//===- QuantuneOps.cpp - Quantune operations ------------------------------===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#include "quantune/IR/QuantuneOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace mlir::quantune;

/// Checks that `qparams` can describe a tensor of type `type`: a per-channel
/// axis must exist and, where its size is static, match the number of
/// channels.
static LogicalResult verifyQParamsFor(Operation *op, QParamsAttr qparams,
                                      RankedTensorType type) {
  std::optional<int64_t> axis = qparams.getAxis();
  if (!axis)
    return success();
  if (*axis >= type.getRank())
    return op->emitOpError("channel axis ")
           << *axis << " is out of range for a tensor of rank "
           << type.getRank();
  int64_t dim = type.getDimSize(*axis);
  if (!ShapedType::isDynamic(dim) && dim != qparams.getNumChannels())
    return op->emitOpError("has ")
           << qparams.getNumChannels() << " per-channel scales but dimension "
           << *axis << " of " << type << " has size " << dim;
  return success();
}

/// Checks that an integer tensor type holds values of the storage type of
/// `qparams`, and that the float and integer tensors have the same shape.
static LogicalResult verifyQuantizedPair(Operation *op, QParamsAttr qparams,
                                         RankedTensorType floatType,
                                         RankedTensorType intType) {
  if (floatType.getShape() != intType.getShape())
    return op->emitOpError("float and integer tensors must have the same "
                           "shape, got ")
           << floatType << " and " << intType;
  unsigned width = intType.getElementType().getIntOrFloatBitWidth();
  if (width != qparams.getStorageWidth())
    return op->emitOpError("integer element type ")
           << intType.getElementType() << " does not hold storage type "
           << qparams.getStorageType() << " (expected "
           << qparams.getHolderType() << ")";
  return verifyQParamsFor(op, qparams, floatType);
}

//===----------------------------------------------------------------------===//
// ProbeOp
//===----------------------------------------------------------------------===//

/// Parses the probe role as a bare keyword: `input`, `output` or `weight`.
static ParseResult parseProbeRole(OpAsmParser &parser, ProbeRoleAttr &role) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef keyword;
  if (parser.parseKeyword(&keyword))
    return failure();
  std::optional<ProbeRole> value = symbolizeProbeRole(keyword);
  if (!value)
    return parser.emitError(loc, "expected probe role 'input', 'output' or "
                                 "'weight', got '")
           << keyword << "'";
  role = ProbeRoleAttr::get(parser.getContext(), *value);
  return success();
}

static void printProbeRole(OpAsmPrinter &printer, Operation *,
                           ProbeRoleAttr role) {
  printer << stringifyProbeRole(role.getValue());
}

//===----------------------------------------------------------------------===//
// FakeQuantOp
//===----------------------------------------------------------------------===//

LogicalResult FakeQuantOp::verify() {
  return verifyQParamsFor(*this, getQparams(), getInput().getType());
}

//===----------------------------------------------------------------------===//
// QuantizeOp
//===----------------------------------------------------------------------===//

LogicalResult QuantizeOp::verify() {
  return verifyQuantizedPair(*this, getQparams(), getInput().getType(),
                             getResult().getType());
}

/// True when every stored integer survives dequantization to `floatType`
/// and quantization back: (q - zp) * s must be finite and precise enough
/// that dividing by s and rounding gives q - zp again.
static bool roundTripsExactly(QParamsAttr qparams, FloatType floatType) {
  // A relative error of 2^-(p-1) on |q - zp| < 2^(width+1) stays below 1/2
  // when p >= width + 3.
  if (floatType.getFPMantissaWidth() < int(qparams.getStorageWidth()) + 3)
    return false;
  double span = double(qparams.getStorageMax() - qparams.getStorageMin());
  double maxScale = *llvm::max_element(qparams.getScales().asArrayRef());
  const llvm::fltSemantics &sem = floatType.getFloatSemantics();
  double largest = llvm::APFloat::getLargest(sem).convertToDouble();
  return span * maxScale < largest;
}

/// quantize(dequantize(q)) with the same parameters gives back q when the
/// float type in between holds every dequantized value exactly enough.
OpFoldResult QuantizeOp::fold(FoldAdaptor) {
  auto dequant = getInput().getDefiningOp<DequantizeOp>();
  if (!dequant || dequant.getQparams() != getQparams() ||
      dequant.getInput().getType() != getResult().getType())
    return {};
  auto floatType = cast<FloatType>(getInput().getType().getElementType());
  if (!roundTripsExactly(getQparams(), floatType))
    return {};
  return dequant.getInput();
}

//===----------------------------------------------------------------------===//
// DequantizeOp
//===----------------------------------------------------------------------===//

LogicalResult DequantizeOp::verify() {
  return verifyQuantizedPair(*this, getQparams(), getResult().getType(),
                             getInput().getType());
}

#define GET_OP_CLASSES
#include "quantune/IR/QuantuneOps.cpp.inc"
