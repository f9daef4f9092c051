// RUN: quantune-opt %s --quantune-lower-mixed-precision=start-in-init-layers=1 | FileCheck %s
// RUN: quantune-opt %s --quantune-lower-mixed-precision | FileCheck %s --check-prefix=DEFAULT

// start-in-init-layers lists the layers whose accumulators start at their
// start values (quantize retries a layer this way when iree-compile fails on
// its start-after form); the others add the start after the layer.
// Both layers: W = [[1.0, 0.25], [-0.25, 1.0]] (K x N), max|W_c| = 1, so
// q = round(W * 127) = [[127, 32], [-32, 127]] (31.75 -> 32), sum_c(q) = [95, 159].
// Layer 0, zp_x = 3:  start = -3 * [95, 159] = [-285, -477].
// Layer 1, zp_x = -2: start =  2 * [95, 159] = [190, 318].
// CHECK-LABEL: func.func @two_layers(
// CHECK:         %[[Z:.+]] = arith.constant 0 : i32
// CHECK-NEXT:    %[[F:.+]] = linalg.fill ins(%[[Z]] : i32) outs(%{{.+}} : tensor<1x2xi32>) -> tensor<1x2xi32>
// CHECK-NEXT:    %[[A0:.+]] = linalg.matmul {{{.*}}quantune.layer = 0 : i64{{.*}}} ins(%{{.+}}, %{{.+}} : tensor<1x2xi8>, tensor<2x2xi8>) outs(%[[F]] : tensor<1x2xi32>)
// CHECK-NEXT:    %[[S0:.+]] = arith.constant dense<[-285, -477]> : tensor<2xi32>
// CHECK-NEXT:    tensor.empty() : tensor<1x2xi32>
// CHECK-NEXT:    %[[SUM:.+]] = linalg.generic {{.*}} ins(%[[A0]], %[[S0]] : tensor<1x2xi32>, tensor<2xi32>)
// CHECK:         quantune.dequantize %[[SUM]]
// CHECK:         %[[S1:.+]] = arith.constant dense<[190, 318]> : tensor<2xi32>
// CHECK-NEXT:    %[[B1:.+]] = linalg.broadcast ins(%[[S1]] : tensor<2xi32>) outs(%{{.+}} : tensor<1x2xi32>) dimensions = [0]
// CHECK-NEXT:    %[[A1:.+]] = linalg.matmul {{{.*}}quantune.layer = 1 : i64{{.*}}} ins(%{{.+}}, %{{.+}} : tensor<1x2xi8>, tensor<2x2xi8>) outs(%[[B1]] : tensor<1x2xi32>)
// CHECK-NEXT:    quantune.dequantize %[[A1]]
// Without the option both layers add their start after the layer.
// DEFAULT-LABEL: func.func @two_layers(
// DEFAULT-NOT:   linalg.broadcast
// DEFAULT:       arith.constant dense<[-285, -477]> : tensor<2xi32>
// DEFAULT-NOT:   linalg.broadcast
// DEFAULT:       arith.constant dense<[190, 318]> : tensor<2xi32>
// DEFAULT-NOT:   linalg.broadcast
func.func @two_layers(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[1.0, 0.25], [-0.25, 1.0]]> : tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2xf32>) -> tensor<1x2xf32>
  %y0 = linalg.matmul {quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.05, zero_point = 3>}
    ins(%x, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  %y1 = linalg.matmul {quantune.layer = 1 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.05, zero_point = -2>}
    ins(%y0, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %y1 : tensor<1x2xf32>
}
