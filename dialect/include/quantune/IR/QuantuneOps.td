//===- QuantuneOps.td - Quantune operations ----------------*- tablegen -*-===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTUNE_IR_QUANTUNEOPS_TD
#define QUANTUNE_IR_QUANTUNEOPS_TD

include "quantune/IR/QuantuneBase.td"
include "quantune/IR/QuantuneAttrs.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

def Quantune_FloatTensor : RankedTensorOf<[AnyFloat]>;
def Quantune_IntTensor : RankedTensorOf<[AnySignlessInteger]>;

//===----------------------------------------------------------------------===//
// ProbeOp
//===----------------------------------------------------------------------===//

def Quantune_ProbeOp : Quantune_Op<"probe",
    [Pure, SameOperandsAndResultType]> {
  let summary = "Marks a tensor of a layer for observation";
  let description = [{
    Passes `input` through unchanged and marks it as the `role` tensor
    (`input`, `output` or `weight`) of layer `layer`. Instrumentation passes
    replace probes with in-graph reductions whose results leave the program;
    `quantune-strip` refuses to run while a probe is still present.

    ```mlir
    %0 = quantune.probe %arg0 as input of layer 3 : tensor<1x8x16x16xf32>
    ```
  }];
  let arguments = (ins
    AnyRankedTensor:$input,
    ConfinedAttr<I64Attr, [IntNonNegative]>:$layer,
    Quantune_ProbeRoleAttr:$role
  );
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `as` custom<ProbeRole>($role) `of` `layer` $layer attr-dict `:` type($input)
  }];
}

//===----------------------------------------------------------------------===//
// FakeQuantOp
//===----------------------------------------------------------------------===//

def Quantune_FakeQuantOp : Quantune_Op<"fake_quant",
    [Pure, SameOperandsAndResultType]> {
  let summary = "Quantize-dequantize round trip";
  let description = [{
    Rounds every element of a float tensor to the nearest value representable
    under `qparams` and returns it as float:
    `(clamp(round(x / s) + zp, qmin, qmax) - zp) * s`, where `s` and `zp` are
    taken per slice along the channel axis for per-channel parameters.

    ```mlir
    %0 = quantune.fake_quant %arg0 qparams <si8, scale = 5.000000e-01> : tensor<4xf32>
    ```
  }];
  let arguments = (ins Quantune_FloatTensor:$input,
                       Quantune_QParamsAttr:$qparams);
  let results = (outs Quantune_FloatTensor:$result);
  let assemblyFormat = [{
    $input `qparams` $qparams attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// QuantizeOp
//===----------------------------------------------------------------------===//

def Quantune_QuantizeOp : Quantune_Op<"quantize", [Pure]> {
  let summary = "Float tensor to quantized integer tensor";
  let description = [{
    Computes `clamp(round(x / s) + zp, qmin, qmax)` per element. The result
    has the shape of the input and the signless integer element type whose
    width is that of the `qparams` storage type.

    ```mlir
    %q = quantune.quantize %x qparams <si8, scale = 5.000000e-01> : tensor<4xf32> -> tensor<4xi8>
    ```
  }];
  let arguments = (ins Quantune_FloatTensor:$input,
                       Quantune_QParamsAttr:$qparams);
  let results = (outs Quantune_IntTensor:$result);
  let assemblyFormat = [{
    $input `qparams` $qparams attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// DequantizeOp
//===----------------------------------------------------------------------===//

def Quantune_DequantizeOp : Quantune_Op<"dequantize", [Pure]> {
  let summary = "Quantized integer tensor to float tensor";
  let description = [{
    Computes `(q - zp) * s` per element. The input's signless integer element
    type must have the width of the `qparams` storage type; the result has
    the input's shape and a float element type.

    ```mlir
    %x = quantune.dequantize %q qparams <si8, scale = 5.000000e-01> : tensor<4xi8> -> tensor<4xf32>
    ```
  }];
  let arguments = (ins Quantune_IntTensor:$input,
                       Quantune_QParamsAttr:$qparams);
  let results = (outs Quantune_FloatTensor:$result);
  let assemblyFormat = [{
    $input `qparams` $qparams attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

#endif // QUANTUNE_IR_QUANTUNEOPS_TD
