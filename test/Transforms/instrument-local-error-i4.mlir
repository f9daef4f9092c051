// RUN: quantune-opt %s --quantune-instrument="mode=local-error i4=true" | FileCheck %s
// RUN: quantune-opt %s --quantune-instrument="mode=local-error" | FileCheck %s --check-prefix=NO-I4
// RUN: quantune-opt %s --quantune-instrument="mode=local-error i4=true shadow=true" | FileCheck %s --check-prefix=SHADOW

// i4=true: per candidate, a w4a8 twin beside the int8 one. Both read the
// same fake-quantized input; the w4a8 twin's weight is quantized to 4 bits
// per output channel (columns): column 0, s = 1/7: [1.0, -0.6] -> [7, -4.2 -> -4]
// -> [1.0, -0.571428597]; column 1, s = 0.3/7: [0.3, 0.26] -> [7, 6.07 -> 6]
// -> [0.3, 0.257142872]. The int8 weight: -0.6 -> -76/127 = -0.59842521,
// 0.26 -> 110 * 0.3/127 = 0.259842545. Its sums carry the suffix _i4.

// CHECK-LABEL: func.func @matmul(
// CHECK-SAME:      quantune.probe_outputs = ["0:sum_y2", "0:sum_err2.0", "0:sum_err.0", "0:sum_err2.1", "0:sum_err.1", "0:sum_err2_i4.0", "0:sum_err_i4.0", "0:sum_err2_i4.1", "0:sum_err_i4.1", "0:count"]
// CHECK:         %[[Y:.+]] = linalg.matmul {{{.*}}quantune.layer = 0 : i64{{.*}}}
// Candidate 0 (scale 0.5): the int8 twin, then the w4a8 twin on the same input.
// CHECK:         %[[FQX0:.+]] = linalg.generic
// CHECK:         %[[W8:.+]] = arith.constant dense<{{\[\[}}1.000000e+00, 3.000000e-01], [-0.59842521, 0.259842545]]> : tensor<2x2xf32>
// CHECK:         %[[T8:.+]] = linalg.matmul ins(%[[FQX0]], %[[W8]] :
// CHECK:         %[[W4:.+]] = arith.constant dense<{{\[\[}}1.000000e+00, 3.000000e-01], [-0.571428597, 0.257142872]]> : tensor<2x2xf32>
// CHECK:         %[[T4:.+]] = linalg.matmul ins(%[[FQX0]], %[[W4]] :
// Candidate 1 (scale 0.25) reuses both weights.
// CHECK:         %[[FQX1:.+]] = linalg.generic
// CHECK:         linalg.matmul ins(%[[FQX1]], %[[W8]] :
// CHECK:         linalg.matmul ins(%[[FQX1]], %[[W4]] :
// CHECK-NOT:     arith.constant dense<{{.*}}> : tensor<2x2xf32>
// The w4a8 sums compare y with the w4a8 twin.
// CHECK:         linalg.generic {{.*}} ins(%[[Y]], %[[T4]] : tensor<3x2xf32>, tensor<3x2xf32>) outs(%{{.+}} : tensor<f64>)

// With a layer selector the selected layer feeds the chosen candidate's
// w4a8 twin (not the int8 one), corrected, to the network: the gains to the
// output are measured at the size of error the three-tier ranking is about.
// SHADOW-LABEL: func.func @matmul(
// SHADOW-SAME:      %[[X:[^:]+]]: tensor<3x2xf32>, %[[SEL:[^:]+]]: tensor<i32>, %[[CAND:[^:]+]]: tensor<i32>, %[[CORR:[^:]+]]: tensor<2xf32>)
// SHADOW:         %[[Y:.+]] = linalg.matmul {{{.*}}quantune.layer = 0 : i64{{.*}}}
// SHADOW:         %[[T8:.+]] = linalg.matmul ins(%{{.+}}, %{{.+}} :
// SHADOW-NEXT:    arith.constant dense<{{\[\[}}1.000000e+00, 3.000000e-01], [-0.571428597, 0.257142872]]>
// SHADOW-NEXT:    %[[T4:.+]] = linalg.matmul ins(%{{.+}}, %{{.+}} :
// SHADOW:         %[[T8B:.+]] = linalg.matmul ins(
// SHADOW-NEXT:    %[[T4B:.+]] = linalg.matmul ins(
// SHADOW:         %[[C:.+]] = tensor.extract_slice %[[CORR]][0] [2] [1]
// SHADOW:         %[[FED:.+]] = linalg.generic {{.*}} ins(%[[T4]], %[[T4B]], %[[CAND]], %[[C]] :
// SHADOW:         linalg.generic {{.*}} ins(%[[FED]], %[[Y]], %[[SEL]] : tensor<3x2xf32>, tensor<3x2xf32>, tensor<i32>)

// NO-I4: quantune.probe_outputs = ["0:sum_y2", "0:sum_err2.0", "0:sum_err.0", "0:sum_err2.1", "0:sum_err.1", "0:count"]
// NO-I4-NOT: -0.571428597
func.func @matmul(%x: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, 0.3], [-0.6, 0.26]]> : tensor<2x2xf32>
  %c0 = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x2xf32>
  %init = linalg.fill ins(%c0 : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>,
                      quantune.act_qparams_candidates = [#quantune.qparams<si8, scale = 0.5>, #quantune.qparams<si8, scale = 0.25>]}
         ins(%x, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}
