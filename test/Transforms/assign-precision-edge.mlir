// RUN: quantune-opt %s --split-input-file --verify-diagnostics --quantune-assign-precision="budget=fp32-count=1" | FileCheck %s
// RUN: not quantune-opt %s --split-input-file --quantune-assign-precision="budget=int8-mac-share=0.9" 2>&1 | FileCheck %s --check-prefix=MACS

// A layer that cannot be quantized (it has a quantune.reason) stays f32 and
// does not use the budget: the most sensitive other layer is also f32.
// Its metrics do not take part in the normalisation.
// CHECK-LABEL: func.func @forced
// CHECK: quantune.layer = 0 {{.*}}quantune.precision = #quantune.precision<f32>, quantune.reason = "weight is not a constant"
// CHECK: quantune.layer = 1 {{.*}}sensitivity = 0.000000e+00>{{.*}}quantune.precision = #quantune.precision<i8>
// CHECK: quantune.layer = 2 {{.*}}sensitivity = 1.000000e+00>{{.*}}quantune.precision = #quantune.precision<f32>
// The forced layer holds 12 of 36 MACs, so at most 2/3 can be i8.
// MACS: error: quantune-assign-precision: budget 'int8-mac-share=0.9' is unreachable; at most 0.6667 of the MACs can run in i8
func.func @forced(%a: tensor<3x2xf32>, %w: tensor<2x2xf32>, %c: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.params = 4 : i64, quantune.macs = 12 : i64, quantune.reason = "weight is not a constant"}
         ins(%a, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  %1 = linalg.matmul {quantune.layer = 1 : i64, quantune.params = 4 : i64, quantune.macs = 12 : i64,
                      quantune.metrics = #quantune.metrics<weight_sqnr = 40.0>}
         ins(%0, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  %2 = linalg.matmul {quantune.layer = 2 : i64, quantune.params = 4 : i64, quantune.macs = 12 : i64,
                      quantune.metrics = #quantune.metrics<weight_sqnr = 20.0>}
         ins(%1, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %2 : tensor<3x2xf32>
}

// -----

// Without metrics every sensitivity is 0 and ties go to the lowest id.
// CHECK-LABEL: func.func @no_metrics
// CHECK: quantune.layer = 0 {{.*}}sensitivity = 0.000000e+00>{{.*}}quantune.precision = #quantune.precision<f32>
// CHECK: quantune.layer = 1 {{.*}}sensitivity = 0.000000e+00>{{.*}}quantune.precision = #quantune.precision<i8>
func.func @no_metrics(%a: tensor<3x2xf32>, %w: tensor<2x2xf32>, %c: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %0 = linalg.matmul {quantune.layer = 0 : i64} ins(%a, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  %1 = linalg.matmul {quantune.layer = 1 : i64} ins(%0, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %1 : tensor<3x2xf32>
}

// -----

// A metric present on some layers but not on others is an error.
func.func @missing_metric(%a: tensor<3x2xf32>, %w: tensor<2x2xf32>, %c: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.metrics = #quantune.metrics<weight_sqnr = 40.0, act_sqnr = 10.0>}
         ins(%a, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  // expected-error @+1 {{layer 1 has no act_sqnr while other layers do}}
  %1 = linalg.matmul {quantune.layer = 1 : i64, quantune.metrics = #quantune.metrics<weight_sqnr = 40.0>}
         ins(%0, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %1 : tensor<3x2xf32>
}
