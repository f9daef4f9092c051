// RUN: quantune-opt %s --quantune-label-layers --quantune-annotate=file=%S/Inputs/annotate.json | FileCheck %s
// RUN: not quantune-opt %s --quantune-label-layers --quantune-annotate=file=%S/Inputs/annotate-unknown-id.json 2>&1 | FileCheck %s --check-prefix=UNKNOWN-ID
// RUN: not quantune-opt %s --quantune-label-layers --quantune-annotate=file=%S/Inputs/annotate-bad-scale.json 2>&1 | FileCheck %s --check-prefix=BAD-SCALE
// RUN: not quantune-opt %s --quantune-label-layers --quantune-annotate=file=%S/Inputs/annotate-unknown-key.json 2>&1 | FileCheck %s --check-prefix=UNKNOWN-KEY
// RUN: not quantune-opt %s --quantune-label-layers --quantune-annotate=file=%S/Inputs/annotate-bad-storage.json 2>&1 | FileCheck %s --check-prefix=BAD-STORAGE
// RUN: not quantune-opt %s --quantune-label-layers --quantune-annotate=file=%S/Inputs/annotate-bad-metric.json 2>&1 | FileCheck %s --check-prefix=BAD-METRIC
// RUN: not quantune-opt %s --quantune-label-layers --quantune-annotate=file=%S/Inputs/annotate-bad-precision.json 2>&1 | FileCheck %s --check-prefix=BAD-PRECISION
// RUN: not quantune-opt %s --quantune-label-layers --quantune-annotate=file=%S/Inputs/annotate-version.json 2>&1 | FileCheck %s --check-prefix=VERSION
// RUN: not quantune-opt %s --quantune-label-layers --quantune-annotate=file=%S/Inputs/annotate-truncated.json 2>&1 | FileCheck %s --check-prefix=TRUNCATED
// RUN: not quantune-opt %s --quantune-label-layers --quantune-annotate=file=%S/Inputs/does-not-exist.json 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not quantune-opt %s --quantune-annotate 2>&1 | FileCheck %s --check-prefix=NO-FILE
// RUN: quantune-opt %s --quantune-label-layers --quantune-annotate=file=%S/Inputs/annotate-reason.json | FileCheck %s --check-prefix=REASON
// RUN: not quantune-opt %s --quantune-label-layers --quantune-annotate=file=%S/Inputs/annotate-empty-reason.json 2>&1 | FileCheck %s --check-prefix=EMPTY-REASON
// RUN: quantune-opt %s --quantune-label-layers --quantune-annotate=file=%S/Inputs/annotate-candidates.json | FileCheck %s --check-prefix=CANDIDATES
// RUN: not quantune-opt %s --quantune-label-layers --quantune-annotate=file=%S/Inputs/annotate-bad-candidates.json 2>&1 | FileCheck %s --check-prefix=BAD-CANDIDATES
// RUN: not quantune-opt %s --quantune-label-layers --quantune-annotate=file=%S/Inputs/annotate-bad-correction.json 2>&1 | FileCheck %s --check-prefix=BAD-CORRECTION
// RUN: quantune-opt %s --quantune-label-layers --quantune-annotate=file=%S/Inputs/annotate-i4-ok.json | FileCheck %s --check-prefix=I4
// RUN: not quantune-opt %s --quantune-label-layers --quantune-annotate=file=%S/Inputs/annotate-bad-metric-i4.json 2>&1 | FileCheck %s --check-prefix=BAD-METRIC-I4
// Hostile files: nested 100,000 levels deep (json::parse recurses per level)
// and a file that never ends. Both are refused before parsing.
// RUN: head -c 100000 /dev/zero | tr '\0' '[' > %t.deep.json
// RUN: not quantune-opt %s --quantune-annotate=file=%t.deep.json 2>&1 | FileCheck %s --check-prefix=DEEP
// RUN: not quantune-opt %s --quantune-annotate=file=/dev/zero 2>&1 | FileCheck %s --check-prefix=NOT-REGULAR

// CHECK-LABEL: func.func @two_layers
// CHECK: linalg.matmul {quantune.act_qparams = #quantune.qparams<si8, scale = 2.000000e-02, zero_point = -3>, quantune.kind = "matmul", quantune.layer = 0 : i64, quantune.macs = 12 : i64, quantune.metrics = #quantune.metrics<act_sqnr = 3.150000e+01, act_mse = 7.000000e-04>, quantune.name = "matmul_0", quantune.params = 4 : i64, quantune.precision = #quantune.precision<i8>}
// The second layer's existing weight metrics are merged, not replaced.
// CHECK: linalg.matmul {quantune.kind = "matmul", quantune.layer = 1 : i64, quantune.macs = 12 : i64, quantune.metrics = #quantune.metrics<weight_sqnr = 4.000000e+01, sensitivity = 2.500000e-01>, quantune.name = "matmul_1", quantune.params = 4 : i64, quantune.precision = #quantune.precision<f32>}

// The w4a8 tier's metrics go to quantune.metrics_i4, beside the int8 ones.
// I4: linalg.matmul {{{.*}}quantune.layer = 0 : i64{{.*}}quantune.metrics = #quantune.metrics<act_sqnr = 3.150000e+01>, quantune.metrics_i4 = #quantune.metrics<weight_sqnr = 2.400000e+01, act_sqnr = 1.850000e+01, act_mse = 1.400000e-02>, {{.*}}quantune.precision = #quantune.precision<i4>}
// BAD-METRIC-I4: error: quantune-annotate: '{{.*}}annotate-bad-metric-i4.json' entry #1: metric 'act_sqnr' must be a number

// UNKNOWN-ID: error: quantune-annotate: '{{.*}}annotate-unknown-id.json' entry #0: unknown layer id 7
// BAD-SCALE: error: quantune-annotate: '{{.*}}annotate-bad-scale.json' entry #0: invalid 'act_qparams': scale #0 must be positive and finite, got -1
// UNKNOWN-KEY: error: quantune-annotate: '{{.*}}' entry #0: unknown key 'colour' (expected id, act_qparams, act_qparams_candidates, bias_correction, metrics, metrics_i4, precision, reason)
// BAD-STORAGE: error: quantune-annotate: '{{.*}}' entry #0: 'act_qparams.storage' must be like "si8" or "ui8", got "int8"
// BAD-METRIC: error: quantune-annotate: '{{.*}}' entry #0: invalid 'metrics': metric 'act_mse' must be non-negative, got -2
// BAD-PRECISION: error: quantune-annotate: '{{.*}}' entry #0: 'precision' must be one of "f32", "f16", "bf16", "i8", "i4"
// VERSION: error: quantune-annotate: '{{.*}}': unsupported version 2 (this build reads version 1)
// TRUNCATED: error: quantune-annotate: '{{.*}}annotate-truncated.json' is not valid JSON:
// MISSING: error: quantune-annotate: cannot read '{{.*}}does-not-exist.json':
// NO-FILE: error: quantune-annotate needs file=<annotations.json>
// A reason forces f32, even over an explicit "i8" in the same entry.
// REASON: linalg.matmul {{.*}}quantune.layer = 0 : i64{{.*}}quantune.precision = #quantune.precision<f32>, quantune.reason = "activation statistics are not finite"}
// REASON: linalg.matmul {{.*}}quantune.layer = 1 : i64{{.*}}quantune.precision = #quantune.precision<f32>, quantune.reason = "kept f32 by the user"}
// Candidate ranges for inference 2 and a bias correction per output channel.
// CANDIDATES: linalg.matmul {quantune.act_qparams = #quantune.qparams<si8, scale = 2.000000e-02, zero_point = -3>, quantune.act_qparams_candidates = [#quantune.qparams<si8, scale = 2.000000e-02, zero_point = -3>, #quantune.qparams<si8, scale = 1.500000e-02>], quantune.bias_correction = dense<[2.500000e-01, -1.250000e-01]> : tensor<2xf32>, quantune.kind = "matmul", quantune.layer = 0 : i64
// BAD-CANDIDATES: error: quantune-annotate: '{{.*}}' entry #0: 'act_qparams_candidates' must be a non-empty array of act_qparams objects
// BAD-CORRECTION: error: quantune-annotate: '{{.*}}' entry #0: 'bias_correction' values must be finite f32 numbers
// EMPTY-REASON: error: quantune-annotate: '{{.*}}' entry #0: 'reason' must be a non-empty string
func.func @two_layers(%a: tensor<3x2xf32>, %c: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, 0.3], [-0.5, 0.26]]> : tensor<2x2xf32>
  %0 = linalg.matmul ins(%a, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  %1 = linalg.matmul {quantune.metrics = #quantune.metrics<weight_sqnr = 40.0>} ins(%0, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %1 : tensor<3x2xf32>
}

// DEEP: error: quantune-annotate: '{{.*}}.deep.json' nests arrays and objects 65 levels deep; at most 64 are accepted
// NOT-REGULAR: error: quantune-annotate: '/dev/zero' is not a regular file
