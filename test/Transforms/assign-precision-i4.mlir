// Three tiers (int4=true): one ranking from quantune.metrics_i4, two cuts
// under a weight budget. With ratio 0,1,0,0 the ranking is by the w4a8
// activation SQNR alone: layer 1 (10 dB), 3 (15), 0 (20), 2 (30), most
// sensitive first; min-max normalised sensitivities 1, 0.75, 0.5, 0.
// Weights: layer 0 has 100, 1 has 200, 2 has 400, 3 has 100 (800 in all,
// 3200 bytes in f32). Every layer starts in i4 (0.5 bytes per weight):
// 400 bytes. Promoting a layer to i8 adds 0.5 bytes per weight, to f32 3 more.

// 400: nothing fits but the all-i4 form.
// RUN: quantune-opt %s --quantune-assign-precision="int4=true ratio=0,1,0,0 budget=weight-bytes=400" | FileCheck %s --check-prefix=ALL-I4
// 499: layer 1 to i8 would make 500; the cut is contiguous, so nothing moves.
// RUN: quantune-opt %s --quantune-assign-precision="int4=true ratio=0,1,0,0 budget=weight-bytes=499" | FileCheck %s --check-prefix=ALL-I4
// 500: layer 1 in i8 (500); layer 3 next would make 550.
// RUN: quantune-opt %s --quantune-assign-precision="int4=true ratio=0,1,0,0 budget=weight-bytes=500" | FileCheck %s --check-prefix=ONE-I8
// 600: layers 1, 3, 0 in i8 (500, 550, 600); layer 2 would make 800. No
// bytes left for f32 (layer 1 would add 600).
// RUN: quantune-opt %s --quantune-assign-precision="int4=true ratio=0,1,0,0 budget=weight-bytes=600" | FileCheck %s --check-prefix=THREE-I8
// 800 = weight-fraction 0.25: every layer i8, none f32.
// RUN: quantune-opt %s --quantune-assign-precision="int4=true ratio=0,1,0,0 budget=weight-bytes=800" | FileCheck %s --check-prefix=ALL-I8
// RUN: quantune-opt %s --quantune-assign-precision="int4=true ratio=0,1,0,0 budget=weight-fraction=0.25" | FileCheck %s --check-prefix=ALL-I8
// RUN: quantune-opt %s --quantune-assign-precision="int4=true ratio=0,1,0,0 budget=weight-fraction=0.125" | FileCheck %s --check-prefix=ALL-I4
// 1400: every layer i8 (800), then layer 1 to f32 (1400); layer 3 would make 1700.
// RUN: quantune-opt %s --quantune-assign-precision="int4=true ratio=0,1,0,0 budget=weight-bytes=1400" | FileCheck %s --check-prefix=ONE-F32
// ... unless the f32 layers are capped.
// RUN: quantune-opt %s --quantune-assign-precision="int4=true ratio=0,1,0,0 budget=weight-bytes=1400,fp32-count=0" | FileCheck %s --check-prefix=ALL-I8
// RUN: quantune-opt %s --quantune-assign-precision="int4=true ratio=0,1,0,0 budget=weight-bytes=3200,fp32-fraction=0.5" | FileCheck %s --check-prefix=TWO-F32
// Errors: below the all-i4 size, and a budget that does not say how many bytes.
// RUN: not quantune-opt %s --quantune-assign-precision="int4=true budget=weight-bytes=399" 2>&1 | FileCheck %s --check-prefix=TOO-SMALL
// RUN: not quantune-opt %s --quantune-assign-precision="int4=true budget=weight-fraction=0.12" 2>&1 | FileCheck %s --check-prefix=TOO-SMALL-FRACTION
// RUN: not quantune-opt %s --quantune-assign-precision="int4=true budget=fp32-count=1" 2>&1 | FileCheck %s --check-prefix=NEEDS-BYTES
// RUN: not quantune-opt %s --quantune-assign-precision="int4=true budget=weight-bytes=900,weight-bytes=1" 2>&1 | FileCheck %s --check-prefix=BAD-CAP
// RUN: not quantune-opt %s --quantune-assign-precision="budget=fp32-count=1,fp32-count=2" 2>&1 | FileCheck %s --check-prefix=BAD-CAP

// The ranking's sensitivity goes into quantune.metrics_i4; quantune.metrics
// (the int8 metrics, which would rank 0 first) is not read.
// ALL-I4: quantune.layer = 0 {{.*}}quantune.metrics = #quantune.metrics<act_sqnr = 4.000000e+01>, quantune.metrics_i4 = #quantune.metrics<act_sqnr = 2.000000e+01, sensitivity = 5.000000e-01>, quantune.params = 100 : i64, quantune.precision = #quantune.precision<i4>
// ALL-I4: quantune.layer = 1 {{.*}}sensitivity = 1.000000e+00>{{.*}}quantune.precision = #quantune.precision<i4>
// ALL-I4: quantune.layer = 2 {{.*}}sensitivity = 0.000000e+00>{{.*}}quantune.precision = #quantune.precision<i4>
// ALL-I4: quantune.layer = 3 {{.*}}sensitivity = 7.500000e-01>{{.*}}quantune.precision = #quantune.precision<i4>

// ONE-I8: quantune.layer = 0 {{.*}}quantune.precision = #quantune.precision<i4>
// ONE-I8: quantune.layer = 1 {{.*}}quantune.precision = #quantune.precision<i8>
// ONE-I8: quantune.layer = 2 {{.*}}quantune.precision = #quantune.precision<i4>
// ONE-I8: quantune.layer = 3 {{.*}}quantune.precision = #quantune.precision<i4>

// THREE-I8: quantune.layer = 0 {{.*}}quantune.precision = #quantune.precision<i8>
// THREE-I8: quantune.layer = 1 {{.*}}quantune.precision = #quantune.precision<i8>
// THREE-I8: quantune.layer = 2 {{.*}}quantune.precision = #quantune.precision<i4>
// THREE-I8: quantune.layer = 3 {{.*}}quantune.precision = #quantune.precision<i8>

// ALL-I8-COUNT-4: quantune.precision = #quantune.precision<i8>
// ALL-I8-NOT: #quantune.precision<i4>
// ALL-I8-NOT: #quantune.precision<f32>

// ONE-F32: quantune.layer = 0 {{.*}}quantune.precision = #quantune.precision<i8>
// ONE-F32: quantune.layer = 1 {{.*}}quantune.precision = #quantune.precision<f32>
// ONE-F32: quantune.layer = 2 {{.*}}quantune.precision = #quantune.precision<i8>
// ONE-F32: quantune.layer = 3 {{.*}}quantune.precision = #quantune.precision<i8>

// TWO-F32: quantune.layer = 0 {{.*}}quantune.precision = #quantune.precision<i8>
// TWO-F32: quantune.layer = 1 {{.*}}quantune.precision = #quantune.precision<f32>
// TWO-F32: quantune.layer = 2 {{.*}}quantune.precision = #quantune.precision<i8>
// TWO-F32: quantune.layer = 3 {{.*}}quantune.precision = #quantune.precision<f32>

// TOO-SMALL: error: quantune-assign-precision: weight-bytes=399 is below the smallest possible size, 400 bytes with every quantizable layer in i4
// TOO-SMALL-FRACTION: error: quantune-assign-precision: weight-fraction=0.12 (384 bytes) is below the smallest possible size, 400 bytes with every quantizable layer in i4
// NEEDS-BYTES: error: quantune-assign-precision: int4 (three tiers) needs a weight budget, weight-bytes=B or weight-fraction=F, to place the cut between i8 and i4; got 'fp32-count=1'
// BAD-CAP: error: quantune-assign-precision: bad budget '{{.*}}': only a weight budget (weight-bytes=B or weight-fraction=F) takes a second item, and it must be fp32-count=K or fp32-fraction=F

func.func @four_layers(%a: tensor<3x2xf32>, %c: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, 0.3], [-0.5, 0.26]]> : tensor<2x2xf32>
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.params = 100 : i64,
                      quantune.metrics = #quantune.metrics<act_sqnr = 40.0>,
                      quantune.metrics_i4 = #quantune.metrics<act_sqnr = 20.0>}
         ins(%a, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  %1 = linalg.matmul {quantune.layer = 1 : i64, quantune.params = 200 : i64,
                      quantune.metrics = #quantune.metrics<act_sqnr = 50.0>,
                      quantune.metrics_i4 = #quantune.metrics<act_sqnr = 10.0>}
         ins(%0, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  %2 = linalg.matmul {quantune.layer = 2 : i64, quantune.params = 400 : i64,
                      quantune.metrics = #quantune.metrics<act_sqnr = 60.0>,
                      quantune.metrics_i4 = #quantune.metrics<act_sqnr = 30.0>}
         ins(%1, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  %3 = linalg.matmul {quantune.layer = 3 : i64, quantune.params = 100 : i64,
                      quantune.metrics = #quantune.metrics<act_sqnr = 70.0>,
                      quantune.metrics_i4 = #quantune.metrics<act_sqnr = 15.0>}
         ins(%2, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %3 : tensor<3x2xf32>
}
