//===- FoldRequantize.cpp - Keep int8 values int8 between layers
//-----------===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#include "quantune/IR/QuantuneAttrs.h"
#include "quantune/IR/QuantuneDialect.h"
#include "quantune/IR/QuantuneOps.h"
#include "quantune/Transforms/Passes.h"
#include "quantune/Transforms/QuantUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"
#include "mlir/Transforms/RegionUtils.h"

#include <cmath>
#include <limits>
#include <tuple>

namespace mlir {
namespace quantune {
#define GEN_PASS_DEF_QUANTUNEFOLDREQUANTIZE
#include "quantune/Transforms/Passes.h.inc"
} // namespace quantune
} // namespace mlir

using namespace mlir;
using namespace mlir::quantune;

namespace {

/// A float constant `value`, looking through nothing else.
std::optional<double> getFloatConstant(Value value) {
  FloatAttr attr;
  if (matchPattern(value, m_Constant(&attr)))
    return attr.getValueAsDouble();
  return std::nullopt;
}

/// True when every iterator of `op` is parallel and its output map is the
/// identity.
bool isElementwise(linalg::GenericOp op) {
  return op.getNumLoops() == op.getNumParallelLoops() &&
         op.getNumDpsInits() == 1 &&
         op.getMatchingIndexingMap(op.getDpsInitOperand(0)).isIdentity();
}

/// The float value of a 0-d (or splat) constant tensor, e.g. the bounds an
/// ONNX Clip passes as `tensor<f32>` operands.
std::optional<double> getSplatConstant(Value value) {
  DenseElementsAttr attr;
  if (!matchPattern(value, m_Constant(&attr)) || !attr.isSplat() ||
      !isa<FloatType>(attr.getElementType()))
    return std::nullopt;
  return attr.getSplatValue<APFloat>().convertToDouble();
}

/// If `op` clamps its first input against constants (ReLU, ReLU6, clip:
/// arith.maximumf/minimumf/maxnumf/minnumf, or cmpf+select in either
/// order), returns the float interval it clamps to. Constants are scalars in
/// the body or 0-d constant tensors passed as further inputs.
std::optional<std::pair<double, double>> matchClamp(linalg::GenericOp op) {
  if (!isElementwise(op) || op.getNumDpsInputs() < 1 ||
      !op.getMatchingIndexingMap(op.getDpsInputOperand(0)).isIdentity())
    return std::nullopt;
  Block &body = op.getRegion().front();
  DenseMap<Value, double> scalarInputs;
  SmallVector<OpOperand *> inputs = op.getDpsInputOperands();
  for (OpOperand *operand : llvm::drop_begin(inputs)) {
    std::optional<double> c = getSplatConstant(operand->get());
    if (!c || op.getMatchingIndexingMap(operand).getNumResults() != 0)
      return std::nullopt;
    scalarInputs[op.getMatchingBlockArgument(operand)] = *c;
  }
  auto constantOf = [&](Value v) -> std::optional<double> {
    if (auto it = scalarInputs.find(v); it != scalarInputs.end())
      return it->second;
    return getFloatConstant(v);
  };
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  Value v = cast<linalg::YieldOp>(body.getTerminator()).getOperand(0);
  size_t consumed = 1; // the yield
  while (v != body.getArgument(0)) {
    Operation *def = v.getDefiningOp();
    if (!def || def->getBlock() != &body)
      return std::nullopt;
    Value a, c;
    bool isMax;
    if (isa<arith::MaximumFOp, arith::MaxNumFOp, arith::MinimumFOp,
            arith::MinNumFOp>(def)) {
      isMax = isa<arith::MaximumFOp, arith::MaxNumFOp>(def);
      a = def->getOperand(0);
      c = def->getOperand(1);
      if (constantOf(a))
        std::swap(a, c);
      consumed += 1;
    } else if (auto select = dyn_cast<arith::SelectOp>(def)) {
      // select(x > c, x, c) and select(x < c, c, x) are max(x, c);
      // select(x < c, x, c) and select(x > c, c, x) are min(x, c).
      auto cmp = select.getCondition().getDefiningOp<arith::CmpFOp>();
      if (!cmp || cmp->getBlock() != &body)
        return std::nullopt;
      bool same = cmp.getLhs() == select.getTrueValue() &&
                  cmp.getRhs() == select.getFalseValue();
      bool swapped = cmp.getLhs() == select.getFalseValue() &&
                     cmp.getRhs() == select.getTrueValue();
      if (!same && !swapped)
        return std::nullopt;
      using P = arith::CmpFPredicate;
      P pred = cmp.getPredicate();
      bool greater =
          pred == P::OGT || pred == P::UGT || pred == P::OGE || pred == P::UGE;
      bool less =
          pred == P::OLT || pred == P::ULT || pred == P::OLE || pred == P::ULE;
      if (!greater && !less)
        return std::nullopt;
      isMax = greater == same;
      a = cmp.getLhs();
      c = cmp.getRhs();
      consumed += cmp->hasOneUse() ? 2 : 1;
    } else {
      return std::nullopt;
    }
    std::optional<double> bound = constantOf(c);
    if (!bound)
      return std::nullopt;
    // Clamps compose as an intersection of intervals.
    if (isMax)
      lo = std::max(lo, *bound);
    else
      hi = std::min(hi, *bound);
    v = a;
  }
  // Every op of the body must be part of the clamp (constants may be too).
  size_t nonConstant = llvm::count_if(
      body, [](Operation &o) { return !o.hasTrait<OpTrait::ConstantLike>(); });
  if (nonConstant != consumed || lo > hi)
    return std::nullopt;
  return std::make_pair(lo, hi);
}

/// If `op` adds its two inputs elementwise (`arith.addf`, possibly with one
/// side multiplied by the constant 1), returns true.
bool matchAdd(linalg::GenericOp op) {
  if (!isElementwise(op) || op.getNumDpsInputs() != 2)
    return false;
  Block &body = op.getRegion().front();
  auto add = cast<linalg::YieldOp>(body.getTerminator())
                 .getOperand(0)
                 .getDefiningOp<arith::AddFOp>();
  if (!add)
    return false;
  auto strip = [&](Value v) -> Value {
    if (auto mul = v.getDefiningOp<arith::MulFOp>())
      for (int i = 0; i < 2; ++i)
        if (getFloatConstant(mul->getOperand(1 - i)) == 1.0)
          return mul->getOperand(i);
    return v;
  };
  Value a = strip(add.getLhs()), b = strip(add.getRhs());
  return (a == body.getArgument(0) && b == body.getArgument(1)) ||
         (a == body.getArgument(1) && b == body.getArgument(0));
}

/// True for max pooling whose accumulator starts at -inf (or the lowest
/// float).
bool isMaxPool(Operation *op) {
  if (!isa<linalg::PoolingNchwMaxOp, linalg::PoolingNhwcMaxOp>(op))
    return false;
  auto fill = cast<linalg::LinalgOp>(op)
                  .getDpsInits()[0]
                  .getDefiningOp<linalg::FillOp>();
  if (!fill)
    return false;
  std::optional<double> init = getFloatConstant(fill.getInputs()[0]);
  return init && *init <= -std::numeric_limits<float>::max();
}

/// A pure elementwise float op whose tensor inputs all have the shape of its
/// result (identity maps) or are 0-d / splat constants (scalar maps): the
/// kind of op an activation (HardSwish, SiLU, sigmoid, GELU, ...) lowers to.
bool isScalarFunction(linalg::GenericOp op) {
  if (!isElementwise(op) || op.getNumResults() != 1 ||
      !isa<FloatType>(getElementTypeOrSelf(op.getResult(0).getType())))
    return false;
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    if (map.isIdentity()) {
      if (input->get().getType() != op.getResult(0).getType())
        return false;
    } else if (map.getNumResults() != 0 || !getSplatConstant(input->get())) {
      return false;
    }
  }
  Block &body = op.getRegion().front();
  // The init is only a shape: its element must not be read.
  if (!body.getArguments().back().use_empty())
    return false;
  return llvm::all_of(body.without_terminator(), [](Operation &o) {
    return isPure(&o) && o.getNumRegions() == 0 && !isa<linalg::IndexOp>(o);
  });
}

class Folder {
public:
  explicit Folder(MLIRContext *ctx) : b(ctx) {}

  /// Rewrites the quantize ops of `func`; returns the number of pairs
  /// removed.
  int64_t run(func::FuncOp func) {
    SmallVector<QuantizeOp> quantizes;
    func.walk([&](QuantizeOp op) { quantizes.push_back(op); });
    for (QuantizeOp q : quantizes) {
      QParamsAttr p = q.getQparams();
      if (p.isPerChannel())
        continue;
      b.setInsertionPoint(q);
      Value r =
          materialize(q.getInput(), p, p.getStorageMin(), p.getStorageMax());
      if (r) {
        q.getResult().replaceAllUsesWith(r);
        q.erase();
      } else {
        forms.try_emplace(q.getInput(), q.getResult(), p);
      }
    }
    // Erase what the f32 path no longer needs, last op first.
    for (Block &block : func.getBody())
      for (Operation &op : llvm::make_early_inc_range(llvm::reverse(block)))
        if (isOpTriviallyDead(&op))
          op.erase();
    return numFolded;
  }

private:
  using Key = std::tuple<Value, Attribute, int64_t, int64_t>;

  /// The int8 value `clamp(quantize_p(x), lo, hi)`, built from integer
  /// producers of `x`, or null when `x` has to be computed in float.
  Value materialize(Value x, QParamsAttr p, int64_t lo, int64_t hi) {
    Key key{x, p, lo, hi};
    if (auto it = cache.find(key); it != cache.end())
      return it->second;
    Value r = materializeImpl(x, p, lo, hi);
    if (!r)
      return r;
    cache[key] = r;
    if (lo == p.getStorageMin() && hi == p.getStorageMax())
      forms.try_emplace(x, r, p);
    return r;
  }

  Value materializeImpl(Value x, QParamsAttr p, int64_t lo, int64_t hi);
  bool collectFunction(Value v, Value &base,
                       SetVector<linalg::GenericOp> &ops);
  Value foldFunction(Value x, QParamsAttr p, int64_t lo, int64_t hi);
  /// The integer value behind a float value and its parameters: the input
  /// of a dequantize, or a form built earlier.
  std::optional<std::pair<Value, QParamsAttr>> integerSource(Value v);
  Value buildEpilogue(Value x, QParamsAttr p, int64_t lo, int64_t hi,
                      ArrayRef<OpOperand *> inputs);

  /// quantize_p(c) for a float constant, clamped to [lo, hi].
  int64_t quantizeConstant(double c, QParamsAttr p, int64_t lo, int64_t hi) {
    double q = std::isfinite(c)
                   ? std::nearbyint(c / p.getScales()[0]) + p.getZeroPoints()[0]
                   : (c > 0 ? hi : lo);
    q = std::clamp<double>(q, p.getStorageMin(), p.getStorageMax());
    return std::min<int64_t>(std::max<int64_t>(q, lo), hi);
  }

  IntegerType storageType(QParamsAttr p) {
    return b.getIntegerType(p.getStorageType().getWidth());
  }

  OpBuilder b;
  DenseMap<Key, Value> cache;
  /// An unclamped integer form of a float value, with its parameters.
  DenseMap<Value, std::pair<Value, QParamsAttr>> forms;
  int64_t numFolded = 0;
};

Value Folder::materializeImpl(Value x, QParamsAttr p, int64_t lo, int64_t hi) {
  Operation *def = x.getDefiningOp();
  if (!def)
    return {};
  Location loc = def->getLoc();
  IntegerType intType = storageType(p);
  auto retype = [&](Value v) {
    return cast<RankedTensorType>(v.getType()).clone(intType);
  };

  if (isa<DequantizeOp>(def)) {
    SmallVector<OpOperand *> inputs{&def->getOpOperand(0)};
    return buildEpilogue(x, p, lo, hi, inputs);
  }

  if (auto pad = dyn_cast<tensor::PadOp>(def)) {
    Value padValue = pad.getConstantPaddingValue();
    std::optional<double> c =
        padValue ? getFloatConstant(padValue) : std::nullopt;
    if (!c)
      return {};
    Value src = materialize(pad.getSource(), p, lo, hi);
    if (!src) {
      // quantize(pad(x, c)) = pad(quantize(x), quantize(c)): quantize the
      // smaller tensor before the pad. Besides the work saved, this keeps
      // IREE from fusing the quantize into a convolution's im2col gather,
      // where each input element is quantized once per filter tap (the
      // first conv of a network: 10.2 ms against 2.0 ms on ResNet18).
      if (lo != p.getStorageMin() || hi != p.getStorageMax())
        return {};
      src = QuantizeOp::create(b, loc, retype(pad.getSource()),
                               pad.getSource(), p)
                .getResult();
    }
    Value qc = arith::ConstantOp::create(
        b, loc, b.getIntegerAttr(intType, quantizeConstant(*c, p, lo, hi)));
    return tensor::PadOp::create(b, loc, retype(x), src, pad.getMixedLowPad(),
                                 pad.getMixedHighPad(), qc, pad.getNofold())
        .getResult();
  }

  if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp>(def)) {
    Value src = materialize(def->getOperand(0), p, lo, hi);
    if (!src)
      return {};
    return cloneWithNewTypes(b, def, src, retype(x))->getResult(0);
  }

  if (auto concat = dyn_cast<tensor::ConcatOp>(def)) {
    // Per-tensor quantization commutes with concatenation.
    SmallVector<Value> inputs;
    for (Value input : concat.getInputs()) {
      Value q = materialize(input, p, lo, hi);
      if (!q)
        return {};
      inputs.push_back(q);
    }
    return tensor::ConcatOp::create(b, loc, retype(x), concat.getDim(), inputs)
        .getResult();
  }

  if (auto transpose = dyn_cast<linalg::TransposeOp>(def)) {
    Value src = materialize(transpose.getInput(), p, lo, hi);
    if (!src)
      return {};
    Value init = createEmptyLike(b, loc, x, intType);
    return linalg::TransposeOp::create(b, loc, src, init,
                                       transpose.getPermutation())
        .getResult()[0];
  }

  if (isMaxPool(def)) {
    auto pool = cast<linalg::LinalgOp>(def);
    Value src = materialize(pool.getDpsInputs()[0], p, lo, hi);
    if (!src)
      return {};
    Value window = pool.getDpsInputs()[1];
    Value lowest = arith::ConstantOp::create(
        b, loc, b.getIntegerAttr(intType, p.getStorageMin()));
    Value init = linalg::FillOp::create(b, loc, lowest,
                                        createEmptyLike(b, loc, x, intType))
                     .getResult(0);
    Type windowType = getElementTypeOrSelf(window.getType());
    return cloneWithNewTypes(b, def, {src, window, init}, retype(x),
                             {intType, windowType, intType},
                             [](OpBuilder &nb, Location nl, Block &block) {
                               Value m = arith::MaxSIOp::create(
                                   nb, nl, block.getArgument(2),
                                   block.getArgument(0));
                               linalg::YieldOp::create(nb, nl, m);
                             })
        ->getResult(0);
  }

  auto generic = dyn_cast<linalg::GenericOp>(def);
  if (!generic)
    return {};
  if (std::optional<std::pair<double, double>> clamp = matchClamp(generic)) {
    int64_t qlo =
        quantizeConstant(clamp->first, p, p.getStorageMin(), p.getStorageMax());
    int64_t qhi = quantizeConstant(clamp->second, p, p.getStorageMin(),
                                   p.getStorageMax());
    return materialize(generic.getDpsInputs()[0], p, std::max(lo, qlo),
                       std::min(hi, qhi));
  }
  if (matchAdd(generic)) {
    SmallVector<OpOperand *> inputs;
    for (OpOperand *operand : generic.getDpsInputOperands())
      inputs.push_back(operand);
    return buildEpilogue(x, p, lo, hi, inputs);
  }
  return foldFunction(x, p, lo, hi);
}

std::optional<std::pair<Value, QParamsAttr>> Folder::integerSource(Value v) {
  std::optional<std::pair<Value, QParamsAttr>> source;
  if (auto dq = v.getDefiningOp<DequantizeOp>())
    source = std::make_pair(dq.getInput(), dq.getQparams());
  else if (auto it = forms.find(v); it != forms.end())
    source = it->second;
  // Per-channel zero points are not produced here (as in buildEpilogue).
  if (source && source->second.isPerChannel() &&
      llvm::any_of(source->second.getZeroPoints().asArrayRef(),
                   [](int64_t zp) { return zp != 0; }))
    return std::nullopt;
  return source;
}

/// Collects in `ops` (operands before users) the scalar-function generics
/// that compute `v` from one value with an integer source, `base`.
bool Folder::collectFunction(Value v, Value &base,
                             SetVector<linalg::GenericOp> &ops) {
  constexpr size_t kMaxOps = 16;
  if (integerSource(v)) {
    if (!base)
      base = v;
    return base == v;
  }
  auto generic = v.getDefiningOp<linalg::GenericOp>();
  if (!generic || !isScalarFunction(generic) || ops.size() >= kMaxOps)
    return false;
  if (ops.contains(generic))
    return true;
  for (OpOperand *input : generic.getDpsInputOperands())
    if (generic.getMatchingIndexingMap(input).isIdentity() &&
        !collectFunction(input->get(), base, ops))
      return false;
  ops.insert(generic);
  return true;
}

/// quantize(f(dequantize(acc))) for an elementwise activation f that does not
/// commute with quantization (HardSwish, SiLU, sigmoid, GELU, ...): one
/// epilogue that dequantizes, applies f in f32 and quantizes, so the value
/// between the two int8 layers stays int8 and no f32 tensor is written.
Value Folder::foldFunction(Value x, QParamsAttr p, int64_t lo, int64_t hi) {
  Value base;
  SetVector<linalg::GenericOp> ops;
  if (!collectFunction(x, base, ops) || ops.empty() || !base)
    return {};
  auto [intValue, intParams] = *integerSource(base);
  Location loc = x.getLoc();
  int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  SmallVector<Value> operands{intValue};
  SmallVector<AffineMap> maps{identity};
  std::optional<unsigned> scaleIndex;
  if (intParams.isPerChannel()) {
    scaleIndex = operands.size();
    operands.push_back(buildF32Vector(
        b, loc, SmallVector<double>(intParams.getScales().asArrayRef())));
    maps.push_back(
        AffineMap::get(rank, 0, b.getAffineDimExpr(*intParams.getAxis())));
  }
  // The scalar (0-d or splat) inputs of the ops, as operands of the epilogue.
  DenseMap<OpOperand *, unsigned> scalarOperands;
  for (linalg::GenericOp op : ops)
    for (OpOperand *input : op.getDpsInputOperands())
      if (!op.getMatchingIndexingMap(input).isIdentity()) {
        scalarOperands[input] = operands.size();
        operands.push_back(input->get());
        maps.push_back(AffineMap::get(rank, 0, b.getContext()));
      }
  if (base.getDefiningOp<DequantizeOp>())
    ++numFolded;
  double outScale = p.getScales()[0];
  return buildParallelGeneric(
      b, loc, x, storageType(p), operands, maps,
      [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        auto constant = [&](double value) -> Value {
          return arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(value));
        };
        // The dequantized value, as quantune.dequantize computes it.
        Value v = buildIntToFloat(nb, nl, args[0], intParams);
        if (scaleIndex) {
          v = arith::MulFOp::create(nb, nl, v, args[*scaleIndex]);
        } else {
          v = arith::SubFOp::create(nb, nl, v,
                                    constant(intParams.getZeroPoints()[0]));
          v = arith::MulFOp::create(nb, nl, v,
                                    constant(intParams.getScales()[0]));
        }
        DenseMap<Value, Value> scalarOf{{base, v}};
        for (linalg::GenericOp op : ops) {
          IRMapping mapping;
          for (OpOperand *input : op.getDpsInputOperands()) {
            Value arg = op.getMatchingBlockArgument(input);
            if (auto it = scalarOperands.find(input);
                it != scalarOperands.end())
              mapping.map(arg, args[it->second]);
            else
              mapping.map(arg, castFloat(nb, nl, scalarOf.lookup(input->get()),
                                         arg.getType()));
          }
          Block &body = op.getRegion().front();
          for (Operation &inner : body.without_terminator())
            nb.clone(inner, mapping);
          Value yielded = cast<linalg::YieldOp>(body.getTerminator()).getOperand(0);
          scalarOf[op.getResult(0)] = mapping.lookupOrDefault(yielded);
        }
        Value y = castFloat(nb, nl, scalarOf.lookup(x), nb.getF32Type());
        y = arith::DivFOp::create(nb, nl, y, constant(outScale));
        return buildRoundClampToInt(nb, nl, y, p.getZeroPoints()[0], lo, hi,
                                    storageType(p), p.isSignedStorage());
      });
}

/// One fused epilogue computing clamp(quantize_p(sum of inputs), lo, hi).
/// Each input is a dequantized accumulator (folded: its integer value is
/// rescaled to p), a float value with an integer form (its integer form is
/// rescaled), or a plain float value (divided by p's scale).
Value Folder::buildEpilogue(Value x, QParamsAttr p, int64_t lo, int64_t hi,
                            ArrayRef<OpOperand *> inputs) {
  auto owner = cast<Operation *>(inputs[0]->getOwner());
  int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  double outScale = p.getScales()[0];

  struct Term {
    bool isInt;
    QParamsAttr qparams; // integer terms
    unsigned operand;    // index into the generic's operands
    unsigned scaleIndex; // of a per-channel multiplier vector
  };
  SmallVector<Term> terms;
  SmallVector<Value> operands;
  SmallVector<AffineMap> maps;
  int64_t folded = 0;
  bool anyInt = false;
  for (OpOperand *input : inputs) {
    Value v = input->get();
    AffineMap map = identity;
    if (auto generic = dyn_cast<linalg::GenericOp>(owner))
      map = generic.getMatchingIndexingMap(input);
    // The float value this input stands for: the dequantize itself when the
    // epilogue replaces one, else the operand.
    Value floatValue = isa<DequantizeOp>(owner) ? owner->getResult(0) : v;
    std::optional<std::pair<Value, QParamsAttr>> source;
    if (map.isIdentity())
      source = integerSource(floatValue);
    bool fromDequantize =
        source && floatValue.getDefiningOp<DequantizeOp>() != nullptr;
    Value intValue = source ? source->first : Value();
    QParamsAttr intParams = source ? source->second : QParamsAttr();
    if (!intValue) {
      terms.push_back({false, {}, static_cast<unsigned>(operands.size()), 0});
      operands.push_back(v);
      maps.push_back(map);
      continue;
    }
    anyInt = true;
    if (fromDequantize)
      ++folded;
    Term term{true, intParams, static_cast<unsigned>(operands.size()), 0};
    operands.push_back(intValue);
    maps.push_back(identity);
    if (intParams.isPerChannel()) {
      SmallVector<double> multipliers;
      for (double s : intParams.getScales().asArrayRef())
        multipliers.push_back(s / outScale);
      term.scaleIndex = operands.size();
      operands.push_back(buildF32Vector(b, owner->getLoc(), multipliers));
      maps.push_back(
          AffineMap::get(rank, 0, b.getAffineDimExpr(*intParams.getAxis())));
    }
    terms.push_back(term);
  }
  if (!anyInt)
    return {};
  numFolded += folded;

  IntegerType intType = storageType(p);
  return buildParallelGeneric(
      b, owner->getLoc(), x, intType, operands, maps,
      [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Type f32 = nb.getF32Type();
        auto constant = [&](double value) -> Value {
          return arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(value));
        };
        Value sum;
        for (const Term &term : terms) {
          Value v = args[term.operand];
          if (term.isInt) {
            v = buildIntToFloat(nb, nl, v, term.qparams);
            if (!term.qparams.isPerChannel()) {
              if (int64_t zp = term.qparams.getZeroPoints()[0])
                v = arith::SubFOp::create(nb, nl, v, constant(zp));
              v = arith::MulFOp::create(
                  nb, nl, v, constant(term.qparams.getScales()[0] / outScale));
            } else {
              v = arith::MulFOp::create(nb, nl, v, args[term.scaleIndex]);
            }
          } else {
            v = arith::DivFOp::create(nb, nl, castFloat(nb, nl, v, f32),
                                      constant(outScale));
          }
          sum = sum ? arith::AddFOp::create(nb, nl, sum, v).getResult() : v;
        }
        return buildRoundClampToInt(nb, nl, sum, p.getZeroPoints()[0], lo, hi,
                                    intType, p.isSignedStorage());
      });
}

struct FoldRequantizePass
    : public quantune::impl::QuantuneFoldRequantizeBase<FoldRequantizePass> {
  using QuantuneFoldRequantizeBase::QuantuneFoldRequantizeBase;

  void runOnOperation() override {
    for (func::FuncOp func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      if (!func.getBody().hasOneBlock()) {
        func.emitWarning() << "quantune-fold-requantize: @" << func.getSymName()
                           << " has several blocks; left unfolded";
        continue;
      }
      Folder folder(&getContext());
      int64_t folded = folder.run(func);
      numFolded += folded;
      func->setAttr(
          "quantune.folded_pairs",
          IntegerAttr::get(IntegerType::get(&getContext(), 64), folded));
    }
  }
};

} // namespace
