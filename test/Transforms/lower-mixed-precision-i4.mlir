// RUN: split-file %s %t
// RUN: quantune-opt %t/layers.mlir --quantune-lower-mixed-precision | FileCheck %t/layers.mlir
// RUN: quantune-opt %t/headroom.mlir --verify-diagnostics --quantune-lower-mixed-precision | FileCheck %t/headroom.mlir
// RUN: quantune-opt %t/headroom.mlir --verify-diagnostics --quantune-lower-mixed-precision=check-only=true | FileCheck %t/headroom.mlir --check-prefix=CHECK-ONLY

//--- layers.mlir

// w4a8: an i4 layer gets 4-bit weights, symmetric per output channel,
// s_c = max|W_c| / 7, q = clamp(roundeven(W / s_c), -7, 7), stored two per
// byte in a 1-D i8 constant (element 2k in the low nibble of byte k) and
// unpacked in front of the layer: element j of byte b is (b << (4 - 4j)) >>s 4.
// The activations stay 8-bit and the rest is the int8 lowering.
//
// Matmul (K x N weight, channels = columns): both columns have max 0.875,
// s = 0.125, so [[0.875, -0.5], [0.125, 0.875]] is exactly [[7, -4], [1, 7]].
// Row-major 7, -4, 1, 7 packs to 0xC7 (-57) and 0x71 (113). The accumulator
// scale is s_x * s_w = 0.5 * 0.125 = 0.0625.

// CHECK-DAG:   #[[BYTE:.+]] = affine_map<(d0, d1) -> (d0)>
// CHECK-DAG:   #[[ID2:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @matmul(
// CHECK:         %[[XQ:.+]] = quantune.quantize %{{.+}} qparams <si8, scale = 5.000000e-01> : tensor<3x2xf32> -> tensor<3x2xi8>
// CHECK:         %[[PACKED:.+]] = arith.constant dense<[-57, 113]> : tensor<2xi8>
// CHECK:         %[[PAIRS:.+]] = linalg.generic {indexing_maps = [#[[BYTE]], #[[ID2]]], iterator_types = ["parallel", "parallel"]} ins(%[[PACKED]] : tensor<2xi8>) outs(%{{.+}} : tensor<2x2xi8>)
// CHECK-NEXT:    ^bb0(%[[B:.+]]: i8, %{{.+}}: i8):
// CHECK-NEXT:      %[[J:.+]] = linalg.index 1 : index
// CHECK-NEXT:      %[[J8:.+]] = arith.index_cast %[[J]] : index to i8
// CHECK-NEXT:      %[[FOUR:.+]] = arith.constant 4 : i8
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant 1 : i8
// CHECK-NEXT:      %[[NJ:.+]] = arith.subi %[[ONE]], %[[J8]] : i8
// CHECK-NEXT:      %[[SH:.+]] = arith.muli %[[NJ]], %[[FOUR]] : i8
// CHECK-NEXT:      %[[UP:.+]] = arith.shli %[[B]], %[[SH]] : i8
// CHECK-NEXT:      %[[V:.+]] = arith.shrsi %[[UP]], %[[FOUR]] : i8
// CHECK-NEXT:      linalg.yield %[[V]] : i8
// CHECK:         %[[FLAT:.+]] = tensor.collapse_shape %[[PAIRS]] {{\[\[}}0, 1]] : tensor<2x2xi8> into tensor<4xi8>
// CHECK:         %[[W8:.+]] = tensor.expand_shape %[[FLAT]] {{\[\[}}0, 1]] output_shape [2, 2] : tensor<4xi8> into tensor<2x2xi8>
// CHECK:         linalg.matmul {{.*}}quantune.precision = #quantune.precision<i4>{{.*}} ins(%[[XQ]], %[[W8]] : tensor<3x2xi8>, tensor<2x2xi8>) outs(%{{.+}} : tensor<3x2xi32>)
// CHECK:         quantune.dequantize %{{.+}} qparams <si32, axis = 1, scales = [6.250000e-02, 6.250000e-02]>
// CHECK-NOT:     xi4>
func.func @matmul(%a: tensor<3x2xf32>, %c: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[0.875, -0.5], [0.125, 0.875]]> : tensor<2x2xf32>
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i4>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>} ins(%a, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// Conv with a bias (F x C x KH x KW = 2x1x1x2, channels = axis 0), input
// scale 0.25 and zero point -2:
//   channel 0: max 0.5, s = 0.5/7;  [0.5, -0.2] / s = [7, -2.8] -> [7, -3]
//   channel 1: max 0.7, s = 0.1;    [0.1, 0.7] / s  = [1, 7]
// Packed: 7 | (-3 << 4) = 0xD7 (-41), 1 | (7 << 4) = 0x71 (113).
// Accumulator start round(b / (s_x s_w)) - zp_x * sum(q):
//   channel 0: round(0.5 / (0.25 * 0.5/7)) = 28, + 2 * (7 - 3) = 36
//   channel 1: round(-1.0 / (0.25 * 0.1)) = -40, + 2 * (1 + 7) = -24
// Accumulator scales: 0.25 * 0.5/7 = 0.017857142857142856 and 0.25 * 0.1.
// The i8 layer next to it keeps 8-bit weights: 0.5 -> 127, -0.2 -> -51
// (channel 0, s = 0.5/127), 0.1 -> 18, 0.7 -> 127 (channel 1, s = 0.7/127).

// CHECK-LABEL: func.func @conv(
// CHECK:         %[[PACKED:.+]] = arith.constant dense<[-41, 113]> : tensor<2xi8>
// CHECK:         %[[PAIRS:.+]] = linalg.generic {{.*}} ins(%[[PACKED]] : tensor<2xi8>) outs(%{{.+}} : tensor<2x2xi8>)
// CHECK:         %[[FLAT:.+]] = tensor.collapse_shape %[[PAIRS]]
// CHECK:         %[[W8:.+]] = tensor.expand_shape %[[FLAT]] {{\[\[}}0, 1, 2, 3]] output_shape [2, 1, 1, 2] : tensor<4xi8> into tensor<2x1x1x2xi8>
// In a module with w4a8 layers every integer layer keeps its start value in
// the accumulator's init (IREE 3.13 fails to lower a microkernel in some such
// modules when the start is added after the layer).
// CHECK:         %[[ACC0:.+]] = arith.constant dense<[36, -24]> : tensor<2xi32>
// CHECK:         %[[INIT:.+]] = linalg.broadcast ins(%[[ACC0]] : tensor<2xi32>)
// CHECK:         %[[CONV:.+]] = linalg.conv_2d_nchw_fchw {{.*}} ins(%{{.+}}, %[[W8]] : tensor<1x1x4x4xi8>, tensor<2x1x1x2xi8>) outs(%[[INIT]] : tensor<1x2x4x3xi32>)
// CHECK:         %[[Y:.+]] = quantune.dequantize %[[CONV]] qparams <si32, axis = 1, scales = [0.017857142857142856, 0.024999999574252536]>
// CHECK:         arith.constant dense<{{\[\[\[\[}}127, -51]]], {{\[\[\[}}18, 127]]]]> : tensor<2x1x1x2xi8>
// The i8 layer's start, in its init: round(b / (s_x s_w)) - z_x sum(q) =
//   [round(0.5 / (0.25 * 0.5/127)), round(-1.0 / (0.25 * 0.7/127))] + 2 * [76, 145]
//   = [508, -726] + [152, 290] = [660, -436]
// CHECK-NEXT:    tensor.empty() : tensor<1x2x4x3xi32>
// CHECK-NEXT:    %[[START1:.+]] = arith.constant dense<[660, -436]> : tensor<2xi32>
// CHECK-NEXT:    linalg.broadcast ins(%[[START1]] : tensor<2xi32>)
// CHECK:         return
func.func @conv(%x: tensor<1x1x4x4xf32>) -> (tensor<1x2x4x3xf32>, tensor<1x2x4x3xf32>) {
  %w = arith.constant dense<[[[[0.5, -0.2]]], [[[0.1, 0.7]]]]> : tensor<2x1x1x2xf32>
  %b = arith.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %e = tensor.empty() : tensor<1x2x4x3xf32>
  %init = linalg.broadcast ins(%b : tensor<2xf32>) outs(%e : tensor<1x2x4x3xf32>) dimensions = [0, 2, 3]
  %0 = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>, quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i4>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.25, zero_point = -2>}
         ins(%x, %w : tensor<1x1x4x4xf32>, tensor<2x1x1x2xf32>) outs(%init : tensor<1x2x4x3xf32>) -> tensor<1x2x4x3xf32>
  %1 = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>, quantune.layer = 1 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.25, zero_point = -2>}
         ins(%x, %w : tensor<1x1x4x4xf32>, tensor<2x1x1x2xf32>) outs(%init : tensor<1x2x4x3xf32>) -> tensor<1x2x4x3xf32>
  return %0, %1 : tensor<1x2x4x3xf32>, tensor<1x2x4x3xf32>
}

// An odd number of weights (3 x 1): the last byte's high nibble is padding,
// cut off by an extract_slice. The column max is 0.7, s = 0.1: [0.7, -0.7,
// 0.35] -> [7, -7, 3.5 -> 4 (half to even)]; packed 7 | (-7 << 4) = 0x97
// (-105) and 4.
// CHECK-LABEL: func.func @odd(
// CHECK:         %[[PACKED:.+]] = arith.constant dense<[-105, 4]> : tensor<2xi8>
// CHECK:         %[[PAIRS:.+]] = linalg.generic {{.*}} ins(%[[PACKED]] : tensor<2xi8>) outs(%{{.+}} : tensor<2x2xi8>)
// CHECK:         %[[FLAT:.+]] = tensor.collapse_shape %[[PAIRS]] {{\[\[}}0, 1]] : tensor<2x2xi8> into tensor<4xi8>
// CHECK:         %[[CUT:.+]] = tensor.extract_slice %[[FLAT]][0] [3] [1] : tensor<4xi8> to tensor<3xi8>
// CHECK:         tensor.expand_shape %[[CUT]] {{\[\[}}0, 1]] output_shape [3, 1] : tensor<3xi8> into tensor<3x1xi8>
func.func @odd(%a: tensor<2x3xf32>, %c: tensor<2x1xf32>) -> tensor<2x1xf32> {
  %w = arith.constant dense<[[0.7], [-0.7], [0.35]]> : tensor<3x1xf32>
  %0 = linalg.matmul {quantune.layer = 2 : i64, quantune.precision = #quantune.precision<i4>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>} ins(%a, %w : tensor<2x3xf32>, tensor<3x1xf32>) outs(%c : tensor<2x1xf32>) -> tensor<2x1xf32>
  return %0 : tensor<2x1xf32>
}

//--- headroom.mlir

// The bias headroom is checked at the layer's own weight width. One channel
// (so it is not "dead"), max|W| = 1e-7, bias 1, input scale 1: at 8 bits
// s_w = 1e-7/127 and the bias is 1.27e9 steps, beyond 2^30 = 1.07e9: the i8
// layer stays f32. At 4 bits s_w = 1e-7/7 and the bias is 7e7 steps: the i4
// layer is lowered. check-only measures each at its precision too.

// CHECK-LABEL: func.func @headroom(
// CHECK:         linalg.matmul {{.*}}quantune.precision = #quantune.precision<f32>, quantune.reason = "bias of channel 0 is 1.27e+09 input-weight quantization steps
// CHECK-SAME:      tensor<2x1xf32>
// CHECK:         arith.constant dense<{{.*}}> : tensor<1xi8>
// CHECK:         linalg.matmul {{.*}}quantune.precision = #quantune.precision<i4>{{.*}} tensor<2x1xi8>
// CHECK-ONLY-LABEL: func.func @headroom(
// CHECK-ONLY:    linalg.matmul {{.*}}quantune.precision = #quantune.precision<f32>, quantune.reason = "bias of channel 0
// CHECK-ONLY:    linalg.matmul {{.*}}quantune.precision = #quantune.precision<i4>}
func.func @headroom(%a: tensor<3x2xf32>) -> (tensor<3x1xf32>, tensor<3x1xf32>) {
  %w = arith.constant dense<[[1.0e-7], [-0.5e-7]]> : tensor<2x1xf32>
  %b = arith.constant dense<1.0> : tensor<1xf32>
  %e = tensor.empty() : tensor<3x1xf32>
  %init = linalg.broadcast ins(%b : tensor<1xf32>) outs(%e : tensor<3x1xf32>) dimensions = [0]
  // expected-warning @+1 {{quantune-lower-mixed-precision: layer 0 stays f32: bias of channel 0 is 1.27e+09 input-weight quantization steps}}
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 1.0>} ins(%a, %w : tensor<3x2xf32>, tensor<2x1xf32>) outs(%init : tensor<3x1xf32>) -> tensor<3x1xf32>
  %1 = linalg.matmul {quantune.layer = 1 : i64, quantune.precision = #quantune.precision<i4>, quantune.act_qparams = #quantune.qparams<si8, scale = 1.0>} ins(%a, %w : tensor<3x2xf32>, tensor<2x1xf32>) outs(%init : tensor<3x1xf32>) -> tensor<3x1xf32>
  return %0, %1 : tensor<3x1xf32>, tensor<3x1xf32>
}
