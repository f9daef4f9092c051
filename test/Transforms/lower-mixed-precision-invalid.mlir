// With strict=true a layer that cannot be lowered is an error (by default
// it stays f32 with a reason, see lower-mixed-precision-fallback.mlir).
// Malformed IR (per-channel act_qparams, NaN weights) is an error in both
// modes.
// RUN: quantune-opt %s --split-input-file --verify-diagnostics --quantune-lower-mixed-precision=strict=true
// The pass fails, so the tool exits with an error.
// RUN: not quantune-opt %s --split-input-file --quantune-lower-mixed-precision=strict=true 2>&1 | FileCheck %s

// An i8 layer without activation parameters cannot be lowered.
func.func @no_act_qparams(%a: tensor<2x3xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<1.0> : tensor<3x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x2xf32>
  %c = linalg.fill ins(%zero : f32) outs(%e : tensor<2x2xf32>) -> tensor<2x2xf32>
  // CHECK: lower-mixed-precision-invalid.mlir:[[# @LINE + 2]]:8: error: quantune-lower-mixed-precision: layer 0 ('fc') is i8 but cannot be lowered: it has no 'quantune.act_qparams'
  // expected-error @+1 {{quantune-lower-mixed-precision: layer 0 ('fc') is i8 but cannot be lowered: it has no 'quantune.act_qparams'}}
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.name = "fc", quantune.precision = #quantune.precision<i8>}
    ins(%a, %w : tensor<2x3xf32>, tensor<3x2xf32>) outs(%c : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

// An i8 layer whose weight is a function argument cannot be lowered.
func.func @weight_argument(%a: tensor<2x3xf32>, %w: tensor<3x2xf32>, %c: tensor<2x2xf32>) -> tensor<2x2xf32> {
  // CHECK: lower-mixed-precision-invalid.mlir:[[# @LINE + 2]]:8: error: quantune-lower-mixed-precision: layer 3 ('proj') is i8 but cannot be lowered: weight is not a constant (it is a function argument)
  // expected-error @+1 {{quantune-lower-mixed-precision: layer 3 ('proj') is i8 but cannot be lowered: weight is not a constant (it is a function argument)}}
  %0 = linalg.matmul {quantune.layer = 3 : i64, quantune.name = "proj", quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
    ins(%a, %w : tensor<2x3xf32>, tensor<3x2xf32>) outs(%c : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

// A weight computed by an op other than a transpose is not a constant either.
func.func @weight_computed(%a: tensor<2x3xf32>, %c: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %w0 = arith.constant dense<1.0> : tensor<3x2xf32>
  %w = arith.addf %w0, %w0 : tensor<3x2xf32>
  // expected-error @+1 {{quantune-lower-mixed-precision: layer 0 is i8 but cannot be lowered: weight is not a constant (it is computed by 'arith.addf')}}
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
    ins(%a, %w : tensor<2x3xf32>, tensor<3x2xf32>) outs(%c : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

// Activation parameters must be per tensor: a per-channel attribute is
// rejected (and printed back in the message).
func.func @per_channel_act(%a: tensor<2x3xf32>, %c: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<1.0> : tensor<3x2xf32>
  // CHECK: lower-mixed-precision-invalid.mlir:[[# @LINE + 2]]:8: error: layer 0: 'quantune.act_qparams' must be a per-tensor #quantune.qparams, got #quantune.qparams<si8, axis = 1, scales = [5.000000e-01, 2.500000e-01, 1.250000e-01]>
  // expected-error @+1 {{layer 0: 'quantune.act_qparams' must be a per-tensor #quantune.qparams, got #quantune.qparams<si8, axis = 1, scales = [5.000000e-01, 2.500000e-01, 1.250000e-01]>}}
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, axis = 1, scales = [0.5, 0.25, 0.125]>}
    ins(%a, %w : tensor<2x3xf32>, tensor<3x2xf32>) outs(%c : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

// NaN weights are reported.
func.func @nan_weight(%a: tensor<2x2xf32>, %c: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<[[1.0, 0x7FC00000], [-1.0, 0.0]]> : tensor<2x2xf32>
  // expected-error @+1 {{layer 0 has 1 NaN or infinite weight value(s)}}
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
    ins(%a, %w : tensor<2x2xf32>, tensor<2x2xf32>) outs(%c : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

// A bias that does not fit the i32 accumulator: s_x * s_w = 0.001 * 1/127,
// so a bias of 1.0e5 is 1.27e10 accumulator units (> 2^30). The channels
// are not dead (their weights are as large as the layer's), so no floor.
func.func @bias_overflow(%a: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[1.0, 1.0], [-1.0, 0.5]]> : tensor<2x2xf32>
  %b = arith.constant 1.0e5 : f32
  %e = tensor.empty() : tensor<1x2xf32>
  %init = linalg.fill ins(%b : f32) outs(%e : tensor<1x2xf32>) -> tensor<1x2xf32>
  // expected-error @+1 {{quantune-lower-mixed-precision: layer 0 ('big') is i8 but cannot be lowered: bias of channel 0 is 1.27e+10 input-weight quantization steps (bias 1e+05, input scale 0.001, weight scale 0.00787); beyond an i32 accumulator (limit 2^30)}}
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.name = "big", quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.001>}
    ins(%a, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %0 : tensor<1x2xf32>
}

// -----

// The lowering computes in si8 only; other activation storage types are
// rejected with the layer named (annotate accepts any siN/uiN).
func.func @act_qparams_si16(%a: tensor<2x3xf32>, %c: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<1.0> : tensor<3x2xf32>
  // expected-error @+1 {{quantune-lower-mixed-precision: layer 0 ('fc16') is i8 but cannot be lowered: activation qparams are si16; the integer lowering needs si8}}
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.name = "fc16", quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si16, scale = 0.5>}
    ins(%a, %w : tensor<2x3xf32>, tensor<3x2xf32>) outs(%c : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

// A bias correction must have one value per output channel.
func.func @bias_correction_size(%a: tensor<2x3xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<1.0> : tensor<3x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x2xf32>
  %c = linalg.fill ins(%zero : f32) outs(%e : tensor<2x2xf32>) -> tensor<2x2xf32>
  // CHECK: error: layer 0 ('fc'): 'quantune.bias_correction' has 3 values for 2 output channels
  // expected-error @+1 {{layer 0 ('fc'): 'quantune.bias_correction' has 3 values for 2 output channels}}
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.name = "fc", quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>,
                      quantune.bias_correction = dense<[1.0, 2.0, 3.0]> : tensor<3xf32>}
    ins(%a, %w : tensor<2x3xf32>, tensor<3x2xf32>) outs(%c : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}
