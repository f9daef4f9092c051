//===- QuantuneAttrs.td - Quantune attributes --------------*- tablegen -*-===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTUNE_IR_QUANTUNEATTRS_TD
#define QUANTUNE_IR_QUANTUNEATTRS_TD

include "quantune/IR/QuantuneBase.td"
include "mlir/IR/EnumAttr.td"
include "mlir/IR/BuiltinAttributes.td"

//===----------------------------------------------------------------------===//
// QParamsAttr
//===----------------------------------------------------------------------===//

def Quantune_QParamsAttr : Quantune_Attr<"QParams", "qparams"> {
  let summary = "Affine quantization parameters";
  let description = [{
    Describes how a real value `x` maps to an integer `q` in a storage type:
    `q = clamp(round(x / scale) + zero_point, qmin, qmax)` and back
    `x' = (q - zero_point) * scale`.

    The storage type is a signed (`si`) or unsigned (`ui`) integer type of 2
    to 32 bits; its signedness and width give `qmin`/`qmax`. Tensors that hold
    quantized values use the signless integer type of the same width (e.g.
    `si8` storage is held in `tensor<...xi8>`).

    Per-tensor form (zero point defaults to 0):
    ```
    #quantune.qparams<ui8, scale = 0.0235, zero_point = 128>
    #quantune.qparams<si8, scale = 0.5>
    ```
    Per-channel form, one scale (and optionally one zero point) per slice
    along `axis`:
    ```
    #quantune.qparams<si8, axis = 0, scales = [0.5, 0.25, 0.125]>
    ```

    The verifier rejects non-positive or non-finite scales, zero points
    outside the storage range, and per-channel lists of different lengths.
  }];
  let parameters = (ins
    "::mlir::IntegerType":$storageType,
    "::mlir::DenseF64ArrayAttr":$scales,
    "::mlir::DenseI64ArrayAttr":$zeroPoints,
    OptionalParameter<"::std::optional<int64_t>">:$axis
  );
  let builders = [
    AttrBuilderWithInferredContext<(ins "::mlir::IntegerType":$storageType,
                                        "::llvm::ArrayRef<double>":$scales,
                                        "::llvm::ArrayRef<int64_t>":$zeroPoints,
                                        CArg<"::std::optional<int64_t>", "std::nullopt">:$axis), [{
      ::mlir::MLIRContext *ctx = storageType.getContext();
      return $_get(ctx, storageType,
                   ::mlir::DenseF64ArrayAttr::get(ctx, scales),
                   ::mlir::DenseI64ArrayAttr::get(ctx, zeroPoints), axis);
    }]>
  ];
  let skipDefaultBuilders = 0;
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// True when the parameters hold one scale per slice along `axis`.
    bool isPerChannel() const { return getAxis().has_value(); }
    /// Number of (scale, zero point) pairs.
    int64_t getNumChannels() const { return getScales().size(); }
    unsigned getStorageWidth() const { return getStorageType().getWidth(); }
    bool isSignedStorage() const { return getStorageType().isSigned(); }
    /// Smallest and largest storable integer.
    int64_t getStorageMin() const;
    int64_t getStorageMax() const;
    /// The signless integer type that holds quantized values.
    ::mlir::IntegerType getHolderType() const;
  }];
}

//===----------------------------------------------------------------------===//
// MetricsAttr
//===----------------------------------------------------------------------===//

def Quantune_MetricsAttr : Quantune_Attr<"Metrics", "metrics"> {
  let summary = "Local quantization metrics of one layer";
  let description = [{
    The QuantuneV2 local metrics of a layer. Every field is optional:
    `weight_sqnr` and `act_sqnr` are signal-to-quantization-noise ratios in
    dB, `weight_mse` and `act_mse` are relative mean squared errors
    (error energy over signal energy), and `sensitivity` is the combined
    score used to rank layers.

    ```
    #quantune.metrics<weight_sqnr = 38.5, weight_mse = 1.4e-04>
    #quantune.metrics<weight_sqnr = 38.5, act_sqnr = 31.0, weight_mse = 1.4e-04,
                      act_mse = 7.9e-04, sensitivity = 0.25>
    ```

    Values must be finite; the MSE fields must also be non-negative.
  }];
  let parameters = (ins
    OptionalParameter<"::mlir::FloatAttr">:$weightSqnr,
    OptionalParameter<"::mlir::FloatAttr">:$actSqnr,
    OptionalParameter<"::mlir::FloatAttr">:$weightMse,
    OptionalParameter<"::mlir::FloatAttr">:$actMse,
    OptionalParameter<"::mlir::FloatAttr">:$sensitivity
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// PrecisionAttr
//===----------------------------------------------------------------------===//

def Quantune_PrecisionAttr : Quantune_Attr<"Precision", "precision"> {
  let summary = "Numeric precision a layer computes in";
  let description = [{
    The element type a layer computes in: `f32`, `f16`, `bf16`, `i8` or
    `i4`.

    ```
    #quantune.precision<i8>
    #quantune.precision<f32>
    ```
  }];
  let parameters = (ins "::mlir::Type":$elementType);
  let assemblyFormat = "`<` $elementType `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    bool isFloat() const { return ::llvm::isa<::mlir::FloatType>(getElementType()); }
    bool isInteger() const { return ::llvm::isa<::mlir::IntegerType>(getElementType()); }
    unsigned getBitWidth() const { return getElementType().getIntOrFloatBitWidth(); }
  }];
}

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Quantune_ProbeRole : I32EnumAttr<"ProbeRole", "what a probe observes", [
    I32EnumAttrCase<"input", 0>,
    I32EnumAttrCase<"output", 1>,
    I32EnumAttrCase<"weight", 2>
  ]> {
  let cppNamespace = "::mlir::quantune";
  let genSpecializedAttr = 0;
}

def Quantune_ProbeRoleAttr : EnumAttr<Quantune_Dialect, Quantune_ProbeRole, "role"> {
  let assemblyFormat = "$value";
}

#endif // QUANTUNE_IR_QUANTUNEATTRS_TD
