//===- QuantuneBase.td - Quantune dialect definition -------*- tablegen -*-===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTUNE_IR_QUANTUNEBASE_TD
#define QUANTUNE_IR_QUANTUNEBASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def Quantune_Dialect : Dialect {
  let name = "quantune";
  let cppNamespace = "::mlir::quantune";
  let summary = "Mixed-precision quantization of linalg-on-tensors programs";
  let description = [{
    The `quantune` dialect carries what the QuantuneV2 flow learns about a
    model: which tensors to observe (`quantune.probe`), how a tensor is
    quantized (`#quantune.qparams`), what the local metrics of a layer are
    (`#quantune.metrics`) and which precision a layer runs in
    (`#quantune.precision`). Layers themselves stay upstream linalg ops; the
    dialect only annotates them with discardable `quantune.*` attributes, so
    a program without quantune ops is plain func + linalg + arith + tensor
    and can be handed to IREE as text.
  }];
  let useDefaultAttributePrinterParser = 1;
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
  let extraClassDeclaration = [{
    void registerAttributes();

    /// Discardable attribute names used on annotated ops.
    static constexpr ::llvm::StringLiteral kLayerAttrName = "quantune.layer";
    static constexpr ::llvm::StringLiteral kNameAttrName = "quantune.name";
    static constexpr ::llvm::StringLiteral kKindAttrName = "quantune.kind";
  }];
}

class Quantune_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Quantune_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

class Quantune_Op<string mnemonic, list<Trait> traits = []>
    : Op<Quantune_Dialect, mnemonic, traits>;

#endif // QUANTUNE_IR_QUANTUNEBASE_TD
