// RUN: quantune-opt %s --split-input-file --verify-diagnostics --quantune-label-layers --quantune-weight-metrics | FileCheck %s

// Expected values come from a numpy reference: per output channel
// s = max|W_c| / 127, W' = clip(round_half_even(W / s), -127, 127) * s (kept
// in f32), on the f32 weights, SQNR = 10 log10(sum W^2 / sum (W - W')^2), MSE = sum (W - W')^2 /
// sum W^2.

// A matmul weight (K x N): the output channel axis is N (axis 1).
// CHECK-LABEL: func.func @matmul_dense
// CHECK: quantune.metrics = #quantune.metrics<weight_sqnr = 49.57453{{[0-9]*}}, weight_mse = 1.10292{{[0-9]*}}E-5>
func.func @matmul_dense(%a: tensor<3x2xf32>, %c: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, 0.3], [-0.5, 0.26]]> : tensor<2x2xf32>
  %0 = linalg.matmul ins(%a, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

// The same weight stored transposed (N x K) behind a linalg.transpose, as
// ONNX Gemm with transB=1 imports: the channel axis is traced to axis 0 of
// the constant, so the metrics are identical.
// CHECK-LABEL: func.func @matmul_transposed
// CHECK: quantune.metrics = #quantune.metrics<weight_sqnr = 49.57453{{[0-9]*}}, weight_mse = 1.10292{{[0-9]*}}E-5>
func.func @matmul_transposed(%a: tensor<3x2xf32>, %c: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %wt = arith.constant dense<[[1.0, -0.5], [0.3, 0.26]]> : tensor<2x2xf32>
  %e = tensor.empty() : tensor<2x2xf32>
  %w = linalg.transpose ins(%wt : tensor<2x2xf32>) outs(%e : tensor<2x2xf32>) permutation = [1, 0]
  %0 = linalg.matmul ins(%a, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

// A conv weight in a dense_resource blob (F x C x KH x KW = 2x1x1x2, values
// 0.5, -0.25, 0.1, 0.7 as little-endian f32): channel axis 0.
// CHECK-LABEL: func.func @conv_resource
// CHECK: quantune.metrics = #quantune.metrics<weight_sqnr = 52.57092{{[0-9]*}}, weight_mse = 5.53232{{[0-9]*}}E-6>
func.func @conv_resource(%x: tensor<1x1x4x4xf32>, %o: tensor<1x2x4x3xf32>) -> tensor<1x2x4x3xf32> {
  %w = arith.constant dense_resource<conv_w> : tensor<2x1x1x2xf32>
  %0 = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
         ins(%x, %w : tensor<1x1x4x4xf32>, tensor<2x1x1x2xf32>) outs(%o : tensor<1x2x4x3xf32>) -> tensor<1x2x4x3xf32>
  return %0 : tensor<1x2x4x3xf32>
}

{-#
  dialect_resources: {
    builtin: {
      conv_w: "0x040000000000003F000080BECDCCCC3D3333333F"
    }
  }
#-}

// -----

// Weights that quantize exactly (powers of two times the channel maximum)
// have no noise: SQNR is capped at 200 dB and MSE is 0.
// CHECK-LABEL: func.func @exact
// CHECK: quantune.metrics = #quantune.metrics<weight_sqnr = 2.000000e+02, weight_mse = 0.000000e+00>
func.func @exact(%a: tensor<3x2xf32>, %c: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, 0.0], [-1.0, 0.0]]> : tensor<2x2xf32>
  %0 = linalg.matmul ins(%a, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

// Existing activation metrics are kept.
// CHECK-LABEL: func.func @merge
// CHECK: quantune.metrics = #quantune.metrics<weight_sqnr = 2.000000e+02, act_sqnr = 3.000000e+01, weight_mse = 0.000000e+00, act_mse = 1.000000e-03>
func.func @merge(%a: tensor<3x2xf32>, %c: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, 0.0], [-1.0, 0.0]]> : tensor<2x2xf32>
  %0 = linalg.matmul {quantune.metrics = #quantune.metrics<act_sqnr = 30.0, act_mse = 1.0e-3>}
         ins(%a, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

// A weight that is a function argument is reported and kept in f32.
// CHECK-LABEL: func.func @not_constant
// CHECK: quantune.precision = #quantune.precision<f32>, quantune.reason = "weight is not a constant (it is a function argument)"
// CHECK-NOT: quantune.metrics
func.func @not_constant(%a: tensor<3x2xf32>, %w: tensor<2x2xf32>, %c: tensor<3x2xf32>) -> tensor<3x2xf32> {
  // expected-warning @+1 {{layer 0 stays f32: weight is not a constant (it is a function argument)}}
  %0 = linalg.matmul ins(%a, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

// A weight computed by arithmetic is not a constant either.
func.func @computed(%a: tensor<3x2xf32>, %c: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w0 = arith.constant dense<[[1.0, 0.0], [-1.0, 0.0]]> : tensor<2x2xf32>
  %w = arith.addf %w0, %w0 : tensor<2x2xf32>
  // expected-warning @+1 {{layer 0 stays f32: weight is not a constant (it is computed by 'arith.addf')}}
  %0 = linalg.matmul ins(%a, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

// NaN weights are an error that names the layer.
func.func @nan_weight(%a: tensor<3x2xf32>, %c: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, 0x7FC00000], [-1.0, 0.0]]> : tensor<2x2xf32>
  // expected-error @+1 {{layer 0 has 1 NaN or infinite weight value(s)}}
  %0 = linalg.matmul ins(%a, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}
