// RUN: quantune-opt %s --quantune-label-layers --quantune-weight-metrics=i4=true | FileCheck %s
// RUN: quantune-opt %s --quantune-label-layers --quantune-weight-metrics | FileCheck %s --check-prefix=NO-I4

// With i4=true one read of the weights gives both tiers: 8-bit metrics in
// quantune.metrics and 4-bit metrics (s_c = max|W_c| / 7, clamp to [-7, 7])
// in quantune.metrics_i4. numpy reference, per column of the K x N weight:
//   8 bits: SQNR 49.5745 dB, MSE 1.10293e-5 (as in weight-metrics.mlir)
//   4 bits: column 0 (s = 1/7): [1.0, -0.5] -> [7, -3] (-0.5 / s is
//           -3.4999999999999996 in floating point);
//           column 1 (s = 0.3/7): [0.3, 0.26] -> [7, 6.0667 -> 6];
//           SQNR 24.4004 dB, MSE 3.63044e-3.

// CHECK-LABEL: func.func @matmul
// CHECK:       quantune.metrics = #quantune.metrics<weight_sqnr = 49.57453{{[0-9]*}}, weight_mse = 1.10292{{[0-9]*}}E-5>
// CHECK-SAME:  quantune.metrics_i4 = #quantune.metrics<weight_sqnr = 24.4004{{[0-9]*}}, weight_mse = 0.003630{{[0-9]*}}>
// NO-I4-NOT:   quantune.metrics_i4
func.func @matmul(%a: tensor<3x2xf32>, %c: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, 0.3], [-0.5, 0.26]]> : tensor<2x2xf32>
  %0 = linalg.matmul ins(%a, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}
