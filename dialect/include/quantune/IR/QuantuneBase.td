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
  // Checks the discardable quantune.* attributes whose form the passes rely
  // on (QuantuneDialect.cpp).
  let hasOperationAttrVerify = 1;
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
  let extraClassDeclaration = [{
    void registerAttributes();

    /// Discardable attribute names used on annotated ops.
    static constexpr ::llvm::StringLiteral kLayerAttrName = "quantune.layer";
    static constexpr ::llvm::StringLiteral kNameAttrName = "quantune.name";
    static constexpr ::llvm::StringLiteral kKindAttrName = "quantune.kind";
    /// Weight element count and multiply-accumulates of a layer (i64).
    static constexpr ::llvm::StringLiteral kParamsAttrName = "quantune.params";
    static constexpr ::llvm::StringLiteral kMacsAttrName = "quantune.macs";
    /// #quantune.metrics of a layer.
    static constexpr ::llvm::StringLiteral kMetricsAttrName = "quantune.metrics";
    /// #quantune.metrics of the layer's w4a8 form (4-bit weights, 8-bit
    /// activations); `quantune.metrics` holds those of its int8 form.
    static constexpr ::llvm::StringLiteral kMetricsI4AttrName = "quantune.metrics_i4";
    /// #quantune.precision a layer computes in.
    static constexpr ::llvm::StringLiteral kPrecisionAttrName = "quantune.precision";
    /// #quantune.qparams of a layer's input activation.
    static constexpr ::llvm::StringLiteral kActQParamsAttrName = "quantune.act_qparams";
    /// Candidate #quantune.qparams of a layer's input activation (an array):
    /// quantune-instrument{mode=local-error} measures the int8 twin under each.
    static constexpr ::llvm::StringLiteral kActQParamsCandidatesAttrName = "quantune.act_qparams_candidates";
    /// Added to an int8 layer's bias, one f32 per output channel (a 1-D
    /// dense tensor, channels in row-major order over the output's channel
    /// dimensions): the mean int8 error measured by inference 2.
    static constexpr ::llvm::StringLiteral kBiasCorrectionAttrName = "quantune.bias_correction";
    /// Why a layer cannot be quantized (string); such layers stay f32.
    static constexpr ::llvm::StringLiteral kReasonAttrName = "quantune.reason";
    /// On an instrumented function: what each extra result holds, as
    /// "<layer id>:<statistic>" strings, in result order.
    static constexpr ::llvm::StringLiteral kProbeOutputsAttrName = "quantune.probe_outputs";
    /// On a function instrumented with a layer selector (shadow=true): the
    /// size of its trailing per-channel correction argument (i64), the
    /// largest output channel count of its layers.
    static constexpr ::llvm::StringLiteral kShadowChannelsAttrName = "quantune.shadow_channels";
  }];
}

class Quantune_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Quantune_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

class Quantune_Op<string mnemonic, list<Trait> traits = []>
    : Op<Quantune_Dialect, mnemonic, traits>;

#endif // QUANTUNE_IR_QUANTUNEBASE_TD
