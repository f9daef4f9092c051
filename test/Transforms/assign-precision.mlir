// Sensitivities by hand (equal ratio). Min-max normalised, 1 = most sensitive:
//   layer | w_sqnr a_sqnr w_mse a_mse | n(w_sqnr) n(a_sqnr) n(w_mse) n(a_mse) | sensitivity
//     0   |   40     30   1e-4  1e-3  |   0.5       0.5     1/11     1/11    | 13/44 = 0.29545...
//     1   |   30     20   1e-3  1e-2  |   1         1       1        1       | 1
//     2   |   50     40   1e-5  1e-4  |   0         0       0        0       | 0
//     3   |   30     20   1e-3  1e-2  |   1         1       1        1       | 1 (ties with 1)
// Sorted (ties by id): 1, 3, 0, 2. Every layer has 4 weights and 12 MACs.

// RUN: quantune-opt %s --quantune-assign-precision | FileCheck %s --check-prefix=ZERO
// RUN: quantune-opt %s --quantune-assign-precision="budget=fp32-count=1" | FileCheck %s --check-prefix=ONE
// RUN: quantune-opt %s --quantune-assign-precision="budget=fp32-count=2" | FileCheck %s --check-prefix=TWO
// RUN: quantune-opt %s --quantune-assign-precision="budget=fp32-fraction=0.5" | FileCheck %s --check-prefix=TWO
// RUN: quantune-opt %s --quantune-assign-precision="budget=fp32-fraction=0.26" | FileCheck %s --check-prefix=TWO
// RUN: quantune-opt %s --quantune-assign-precision="budget=fp32-count=4" | FileCheck %s --check-prefix=ALL
// RUN: quantune-opt %s --quantune-assign-precision="budget=fp32-count=9" | FileCheck %s --check-prefix=ALL
// RUN: quantune-opt %s --quantune-assign-precision="budget=fp32-fraction=1" | FileCheck %s --check-prefix=ALL
// Sizes: all i8 = 16 bytes; each f32 layer adds 12.
// RUN: quantune-opt %s --quantune-assign-precision="budget=weight-bytes=16" | FileCheck %s --check-prefix=ZERO
// RUN: quantune-opt %s --quantune-assign-precision="budget=weight-bytes=27" | FileCheck %s --check-prefix=ZERO
// RUN: quantune-opt %s --quantune-assign-precision="budget=weight-bytes=28" | FileCheck %s --check-prefix=ONE
// RUN: quantune-opt %s --quantune-assign-precision="budget=weight-bytes=64" | FileCheck %s --check-prefix=ALL
// RUN: not quantune-opt %s --quantune-assign-precision="budget=weight-bytes=15" 2>&1 | FileCheck %s --check-prefix=TOO-SMALL
// weight-fraction=F is F x the f32 size (64 bytes): 0.25 -> 16, 0.4375 -> 28.
// RUN: quantune-opt %s --quantune-assign-precision="budget=weight-fraction=0.25" | FileCheck %s --check-prefix=ZERO
// RUN: quantune-opt %s --quantune-assign-precision="budget=weight-fraction=0.4375" | FileCheck %s --check-prefix=ONE
// A cap on the f32 layers after a weight budget.
// RUN: quantune-opt %s --quantune-assign-precision="budget=weight-bytes=64,fp32-count=1" | FileCheck %s --check-prefix=ONE
// RUN: quantune-opt %s --quantune-assign-precision="budget=weight-fraction=1,fp32-fraction=0.5" | FileCheck %s --check-prefix=TWO
// MACs: 48 in all; one f32 layer leaves 36/48 = 0.75 in i8.
// RUN: quantune-opt %s --quantune-assign-precision="budget=int8-mac-share=0.75" | FileCheck %s --check-prefix=ONE
// RUN: quantune-opt %s --quantune-assign-precision="budget=int8-mac-share=1.0" | FileCheck %s --check-prefix=ZERO
// RUN: quantune-opt %s --quantune-assign-precision="budget=int8-mac-share=0" | FileCheck %s --check-prefix=ALL
// Only weight SQNR: layer 0 gets 0.5 and the order is 1, 3, 0, 2 again.
// RUN: quantune-opt %s --quantune-assign-precision="ratio=1,0,0,0 budget=fp32-count=3" | FileCheck %s --check-prefix=WSQNR
// RUN: not quantune-opt %s --quantune-assign-precision="budget=fp32-count" 2>&1 | FileCheck %s --check-prefix=BAD-BUDGET
// RUN: not quantune-opt %s --quantune-assign-precision="budget=fp32-fraction=1.5" 2>&1 | FileCheck %s --check-prefix=BAD-FRACTION
// RUN: not quantune-opt %s --quantune-assign-precision="budget=fp32-count=1.5" 2>&1 | FileCheck %s --check-prefix=BAD-COUNT
// RUN: not quantune-opt %s --quantune-assign-precision="ratio=1,1" 2>&1 | FileCheck %s --check-prefix=BAD-RATIO
// Deterministic: two runs print the same module.
// RUN: quantune-opt %s --quantune-assign-precision="budget=fp32-count=1" > %t.a
// RUN: quantune-opt %s --quantune-assign-precision="budget=fp32-count=1" > %t.b
// RUN: diff %t.a %t.b
// Only the ratio's proportions matter: huge weights give the same ranking as
// small ones (their sum used to overflow to a NaN sensitivity).
// RUN: quantune-opt %s --quantune-assign-precision="ratio=0,0,1e308,1e308 budget=fp32-count=1" | FileCheck %s --check-prefix=HUGE
// RUN: quantune-opt %s --quantune-assign-precision="ratio=0,0,1,1 budget=fp32-count=1" | FileCheck %s --check-prefix=HUGE
// RUN: not quantune-opt %s --quantune-assign-precision="ratio=0,0,0,0" 2>&1 | FileCheck %s --check-prefix=ZERO-RATIO

// ZERO-COUNT-4: quantune.precision = #quantune.precision<i8>
// ZERO-NOT: quantune.precision = #quantune.precision<f32>

// ONE: quantune.layer = 0 {{.*}}sensitivity = 0.29545{{[0-9]*}}>{{.*}}quantune.precision = #quantune.precision<i8>
// ONE: quantune.layer = 1 {{.*}}sensitivity = 1.000000e+00>{{.*}}quantune.precision = #quantune.precision<f32>
// ONE: quantune.layer = 2 {{.*}}sensitivity = 0.000000e+00>{{.*}}quantune.precision = #quantune.precision<i8>
// ONE: quantune.layer = 3 {{.*}}sensitivity = 1.000000e+00>{{.*}}quantune.precision = #quantune.precision<i8>

// TWO: quantune.layer = 0 {{.*}}quantune.precision = #quantune.precision<i8>
// TWO: quantune.layer = 1 {{.*}}quantune.precision = #quantune.precision<f32>
// TWO: quantune.layer = 2 {{.*}}quantune.precision = #quantune.precision<i8>
// TWO: quantune.layer = 3 {{.*}}quantune.precision = #quantune.precision<f32>

// ALL-COUNT-4: quantune.precision = #quantune.precision<f32>
// ALL-NOT: quantune.precision = #quantune.precision<i8>

// WSQNR: quantune.layer = 0 {{.*}}sensitivity = 5.000000e-01>{{.*}}quantune.precision = #quantune.precision<f32>
// WSQNR: quantune.layer = 1 {{.*}}quantune.precision = #quantune.precision<f32>
// WSQNR: quantune.layer = 2 {{.*}}quantune.precision = #quantune.precision<i8>
// WSQNR: quantune.layer = 3 {{.*}}quantune.precision = #quantune.precision<f32>

// TOO-SMALL: error: quantune-assign-precision: weight-bytes=15 is below the smallest possible size, 16 bytes with every quantizable layer in i8
// BAD-BUDGET: error: quantune-assign-precision: bad budget 'fp32-count'
// BAD-FRACTION: error: quantune-assign-precision: budget 'fp32-fraction=1.5' must be a fraction in [0, 1]
// BAD-COUNT: error: quantune-assign-precision: budget 'fp32-count=1.5' must be a whole number of layers
// BAD-RATIO: error: quantune-assign-precision: ratio needs four non-negative numbers

func.func @four_layers(%a: tensor<3x2xf32>, %c: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, 0.3], [-0.5, 0.26]]> : tensor<2x2xf32>
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.params = 4 : i64, quantune.macs = 12 : i64,
                      quantune.metrics = #quantune.metrics<weight_sqnr = 40.0, act_sqnr = 30.0, weight_mse = 1.0e-4, act_mse = 1.0e-3>}
         ins(%a, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  %1 = linalg.matmul {quantune.layer = 1 : i64, quantune.params = 4 : i64, quantune.macs = 12 : i64,
                      quantune.metrics = #quantune.metrics<weight_sqnr = 30.0, act_sqnr = 20.0, weight_mse = 1.0e-3, act_mse = 1.0e-2>}
         ins(%0, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  %2 = linalg.matmul {quantune.layer = 2 : i64, quantune.params = 4 : i64, quantune.macs = 12 : i64,
                      quantune.metrics = #quantune.metrics<weight_sqnr = 50.0, act_sqnr = 40.0, weight_mse = 1.0e-5, act_mse = 1.0e-4>}
         ins(%1, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  %3 = linalg.matmul {quantune.layer = 3 : i64, quantune.params = 4 : i64, quantune.macs = 12 : i64,
                      quantune.metrics = #quantune.metrics<weight_sqnr = 30.0, act_sqnr = 20.0, weight_mse = 1.0e-3, act_mse = 1.0e-2>}
         ins(%2, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %3 : tensor<3x2xf32>
}

// HUGE: linalg.matmul {{.*}}sensitivity = 0.090909090909090911>{{.*}}precision<i8>
// HUGE: linalg.matmul {{.*}}sensitivity = 1.000000e+00>{{.*}}precision<f32>
// HUGE: linalg.matmul {{.*}}sensitivity = 0.000000e+00>{{.*}}precision<i8>
// HUGE: linalg.matmul {{.*}}sensitivity = 1.000000e+00>{{.*}}precision<i8>
// ZERO-RATIO: error: quantune-assign-precision: ratio needs at least one positive weight
