//===- ExpandQuantOps.cpp - quantize/dequantize as linalg.generic
//----------===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#include "quantune/IR/QuantuneAttrs.h"
#include "quantune/IR/QuantuneOps.h"
#include "quantune/Transforms/Passes.h"
#include "quantune/Transforms/QuantUtils.h"

#include "mlir/IR/Builders.h"

namespace mlir {
namespace quantune {
#define GEN_PASS_DEF_QUANTUNEEXPANDQUANTOPS
#include "quantune/Transforms/Passes.h.inc"
} // namespace quantune
} // namespace mlir

using namespace mlir;
using namespace mlir::quantune;

namespace {

/// Inputs and maps shared by both expansions: the tensor itself, then for
/// per-channel parameters a scale vector and a zero-point vector read along
/// the channel axis.
struct ExpansionOperands {
  SmallVector<Value> inputs;
  SmallVector<AffineMap> maps;
};

ExpansionOperands buildOperands(OpBuilder &b, Location loc, Value input,
                                QParamsAttr qparams) {
  int64_t rank = cast<RankedTensorType>(input.getType()).getRank();
  ExpansionOperands result;
  result.inputs.push_back(input);
  result.maps.push_back(b.getMultiDimIdentityMap(rank));
  if (!qparams.isPerChannel())
    return result;
  AffineMap channel =
      AffineMap::get(rank, 0, b.getAffineDimExpr(*qparams.getAxis()));
  result.inputs.push_back(buildF32Vector(b, loc, qparams.getScales()));
  SmallVector<double> zeroPoints(qparams.getZeroPoints().asArrayRef().begin(),
                                 qparams.getZeroPoints().asArrayRef().end());
  result.inputs.push_back(buildF32Vector(b, loc, zeroPoints));
  result.maps.append({channel, channel});
  return result;
}

/// (scale, zero point) of element `args` as f32 scalars.
std::pair<Value, Value> scalarParams(OpBuilder &b, Location loc,
                                     QParamsAttr qparams, ValueRange args) {
  if (qparams.isPerChannel())
    return {args[1], args[2]};
  auto constant = [&](double value) -> Value {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
  };
  return {constant(qparams.getScales()[0]),
          constant(qparams.getZeroPoints()[0])};
}

struct ExpandQuantOpsPass
    : public quantune::impl::QuantuneExpandQuantOpsBase<ExpandQuantOpsPass> {
  using QuantuneExpandQuantOpsBase::QuantuneExpandQuantOpsBase;

  void runOnOperation() override {
    OpBuilder b(&getContext());
    getOperation().walk([&](Operation *op) {
      if (auto q = dyn_cast<QuantizeOp>(op)) {
        b.setInsertionPoint(q);
        q.getResult().replaceAllUsesWith(expandQuantize(b, q));
        q.erase();
        ++numExpanded;
      } else if (auto dq = dyn_cast<DequantizeOp>(op)) {
        b.setInsertionPoint(dq);
        dq.getResult().replaceAllUsesWith(expandDequantize(b, dq));
        dq.erase();
        ++numExpanded;
      }
    });
  }

  static Value expandQuantize(OpBuilder &b, QuantizeOp q) {
    QParamsAttr qparams = q.getQparams();
    Location loc = q.getLoc();
    ExpansionOperands operands = buildOperands(b, loc, q.getInput(), qparams);
    auto intType =
        cast<IntegerType>(cast<RankedTensorType>(q.getType()).getElementType());
    return buildParallelGeneric(
        b, loc, q.getInput(), intType, operands.inputs, operands.maps,
        [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
          Value x = castFloat(nb, nl, args[0], nb.getF32Type());
          int64_t lo = qparams.getStorageMin(), hi = qparams.getStorageMax();
          bool isSigned = qparams.isSignedStorage();
          if (qparams.isPerChannel()) {
            Value v = arith::DivFOp::create(nb, nl, x, args[1]);
            return buildRoundClampToInt(nb, nl, v, args[2], lo, hi, intType,
                                        isSigned);
          }
          Value scale = arith::ConstantOp::create(
              nb, nl, nb.getF32FloatAttr(qparams.getScales()[0]));
          Value v = arith::DivFOp::create(nb, nl, x, scale);
          return buildRoundClampToInt(nb, nl, v, qparams.getZeroPoints()[0], lo,
                                      hi, intType, isSigned);
        });
  }

  static Value expandDequantize(OpBuilder &b, DequantizeOp dq) {
    QParamsAttr qparams = dq.getQparams();
    Location loc = dq.getLoc();
    ExpansionOperands operands = buildOperands(b, loc, dq.getInput(), qparams);
    Type floatType = cast<RankedTensorType>(dq.getType()).getElementType();
    return buildParallelGeneric(
        b, loc, dq.getInput(), floatType, operands.inputs, operands.maps,
        [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
          auto [scale, zeroPoint] = scalarParams(nb, nl, qparams, args);
          Value v = buildIntToFloat(nb, nl, args[0], qparams);
          v = arith::SubFOp::create(nb, nl, v, zeroPoint);
          v = arith::MulFOp::create(nb, nl, v, scale);
          return castFloat(nb, nl, v, floatType);
        });
  }
};

} // namespace
