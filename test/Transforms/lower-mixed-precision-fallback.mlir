// RUN: quantune-opt %s --split-input-file --verify-diagnostics --quantune-lower-mixed-precision | FileCheck %s

// Per-layer fallback: an i8 layer that cannot be lowered stays the f32
// linalg op it was, with quantune.precision f32, a quantune.reason and a
// warning; the other layers are still lowered and the module stays valid.
// (strict=true turns these into errors: lower-mixed-precision-invalid.mlir.)

// Layer 3's weight is an argument; layer 4 after it is lowered as usual.
// CHECK-LABEL: func.func @weight_argument(
// CHECK-SAME:      %[[A:[^:]+]]: tensor<2x3xf32>, %[[W:[^:]+]]: tensor<3x2xf32>, %[[C:[^:]+]]: tensor<2x2xf32>)
// CHECK:         %[[Y:.+]] = linalg.matmul {{{.*}}quantune.layer = 3 : i64, quantune.name = "proj", quantune.precision = #quantune.precision<f32>, quantune.reason = "weight is not a constant (it is a function argument)"} ins(%[[A]], %[[W]] : tensor<2x3xf32>, tensor<3x2xf32>) outs(%[[C]] : tensor<2x2xf32>) -> tensor<2x2xf32>
// CHECK:         %[[Q:.+]] = quantune.quantize %[[Y]]
// CHECK:         linalg.matmul {{{.*}}quantune.layer = 4 : i64{{.*}}} ins(%[[Q]], %{{.+}} : tensor<2x2xi8>, tensor<2x2xi8>) outs(%{{.+}} : tensor<2x2xi32>)
// CHECK:         quantune.dequantize
func.func @weight_argument(%a: tensor<2x3xf32>, %w: tensor<3x2xf32>, %c: tensor<2x2xf32>) -> tensor<2x2xf32> {
  // expected-warning @+1 {{quantune-lower-mixed-precision: layer 3 ('proj') stays f32: weight is not a constant (it is a function argument)}}
  %0 = linalg.matmul {quantune.layer = 3 : i64, quantune.name = "proj", quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
    ins(%a, %w : tensor<2x3xf32>, tensor<3x2xf32>) outs(%c : tensor<2x2xf32>) -> tensor<2x2xf32>
  %w2 = arith.constant dense<[[1.0, 0.5], [-1.0, 0.25]]> : tensor<2x2xf32>
  %1 = linalg.matmul {quantune.layer = 4 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
    ins(%0, %w2 : tensor<2x2xf32>, tensor<2x2xf32>) outs(%c : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %1 : tensor<2x2xf32>
}

// -----

// A layer without activation parameters.
// CHECK-LABEL: func.func @no_act_qparams(
// CHECK:         linalg.matmul {quantune.layer = 0 : i64, quantune.name = "fc", quantune.precision = #quantune.precision<f32>, quantune.reason = "it has no 'quantune.act_qparams'"} ins(%{{.+}}, %{{.+}} : tensor<2x3xf32>, tensor<3x2xf32>)
// CHECK-NOT:     quantune.quantize
func.func @no_act_qparams(%a: tensor<2x3xf32>, %c: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<1.0> : tensor<3x2xf32>
  // expected-warning @+1 {{quantune-lower-mixed-precision: layer 0 ('fc') stays f32: it has no 'quantune.act_qparams'}}
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.name = "fc", quantune.precision = #quantune.precision<i8>}
    ins(%a, %w : tensor<2x3xf32>, tensor<3x2xf32>) outs(%c : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

// Activation storage other than si8.
// CHECK-LABEL: func.func @act_qparams_si16(
// CHECK:         linalg.matmul {{{.*}}quantune.precision = #quantune.precision<f32>, quantune.reason = "activation qparams are si16; the integer lowering needs si8"} ins(%{{.+}}, %{{.+}} : tensor<2x3xf32>, tensor<3x2xf32>)
func.func @act_qparams_si16(%a: tensor<2x3xf32>, %c: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<1.0> : tensor<3x2xf32>
  // expected-warning @+1 {{quantune-lower-mixed-precision: layer 0 ('fc16') stays f32: activation qparams are si16; the integer lowering needs si8}}
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.name = "fc16", quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si16, scale = 0.5>}
    ins(%a, %w : tensor<2x3xf32>, tensor<3x2xf32>) outs(%c : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

// A dynamically shaped result.
// CHECK-LABEL: func.func @dynamic(
// CHECK:         linalg.matmul {{{.*}}quantune.precision = #quantune.precision<f32>, quantune.reason = "result is not statically shaped"} ins(%{{.+}}, %{{.+}} : tensor<?x3xf32>, tensor<3x2xf32>) outs(%{{.+}} : tensor<?x2xf32>)
func.func @dynamic(%a: tensor<?x3xf32>, %c: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense<1.0> : tensor<3x2xf32>
  // expected-warning @+1 {{quantune-lower-mixed-precision: layer 0 stays f32: result is not statically shaped}}
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
    ins(%a, %w : tensor<?x3xf32>, tensor<3x2xf32>) outs(%c : tensor<?x2xf32>) -> tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

// A bias beyond the accumulator on a live channel: s_x * s_w = 0.001 / 127,
// so a bias of 1e5 is 1.27e10 steps (> 2^30). The channels' weights are as
// large as the layer's, so the weight scale is not raised: the layer stays
// f32, its bias fill included.
// CHECK-LABEL: func.func @bias_overflow(
// CHECK:         %[[B:.+]] = arith.constant 1.000000e+05 : f32
// CHECK:         %[[INIT:.+]] = linalg.fill ins(%[[B]] : f32)
// CHECK:         linalg.matmul {{{.*}}quantune.layer = 0 : i64, quantune.name = "big", quantune.precision = #quantune.precision<f32>, quantune.reason = "bias of channel 0 is 1.27e+10 input-weight quantization steps (bias 1e+05, input scale 0.001, weight scale 0.00787); beyond an i32 accumulator (limit 2^30); its weights are not negligible, so the input scale {{[0-9.e+-]+}} is too tiny for this bias (the input barely varies on the calibration data)"} ins(%{{.+}}, %{{.+}} : tensor<1x2xf32>, tensor<2x2xf32>) outs(%[[INIT]] : tensor<1x2xf32>)
func.func @bias_overflow(%a: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[1.0, 1.0], [-1.0, 0.5]]> : tensor<2x2xf32>
  %b = arith.constant 1.0e5 : f32
  %e = tensor.empty() : tensor<1x2xf32>
  %init = linalg.fill ins(%b : f32) outs(%e : tensor<1x2xf32>) -> tensor<1x2xf32>
  // expected-warning @+1 {{quantune-lower-mixed-precision: layer 0 ('big') stays f32: bias of channel 0 is 1.27e+10 input-weight quantization steps (bias 1e+05, input scale 0.001, weight scale 0.00787); beyond an i32 accumulator (limit 2^30)}}
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.name = "big", quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.001>}
    ins(%a, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %0 : tensor<1x2xf32>
}

// -----

// The same on a tiny input scale: channel 1's bias is 5e9 steps of
// s_x * s_w = 1e-9 * 0.5/127.
// CHECK-LABEL: func.func @tiny_input_scale(
// CHECK:         linalg.matmul {{{.*}}quantune.reason = "bias of channel 1 is 5.08e+09 input-weight quantization steps (bias 0.02, input scale 1e-09, weight scale 0.00394); beyond an i32 accumulator (limit 2^30); its weights are not negligible, so the input scale {{[0-9.e+-]+}} is too tiny for this bias (the input barely varies on the calibration data)"}
func.func @tiny_input_scale(%a: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[1.0, 0.5], [-1.0, 0.25]]> : tensor<2x2xf32>
  %bias = arith.constant dense<[0.0, 0.02]> : tensor<2xf32>
  %e = tensor.empty() : tensor<1x2xf32>
  %init = linalg.broadcast ins(%bias : tensor<2xf32>) outs(%e : tensor<1x2xf32>) dimensions = [0]
  // expected-warning @+1 {{quantune-lower-mixed-precision: layer 0 stays f32: bias of channel 1 is 5.08e+09 input-weight quantization steps (bias 0.02, input scale 1e-09, weight scale 0.00394); beyond an i32 accumulator (limit 2^30)}}
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 1.0e-9>}
    ins(%a, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %0 : tensor<1x2xf32>
}

// -----

// The weight-scale floor for a dead channel (batch-norm folding leaves such
// channels with weights near 1e-9 and a bias near 1). s_x = 0.01, zp_x = 2;
// the weight is K x N, channels are its columns, bias = [0.5, 1.0].
//   channel 0 = [1.0, -0.4]: s_0 = 1/127; bias steps 0.5 / (0.01/127) = 6350
//     (fits); q = [127, -51] (-50.8), sum 76; init = 6350 - 2 * 76 = 6198.
//   channel 1 = [1e-9, -2e-9]: s_1 = 2e-9/127 would make the bias
//     1 / (0.01 * 1.575e-11) = 6.35e12 steps. max|w_1| = 2e-9 <= 1e-5 * 1.0,
//     so the channel is dead and s_1 = |b_1| / (s_x 2^30) = 1/(0.01 * 2^30)
//     = 9.3132257e-8: q = [0, 0] (1e-9 / 9.31e-8 = 0.011), sum 0;
//     init = round(1 / (0.01 * s_1)) = 2^30 = 1073741824.
//   dequantize scales s_x * s_w = [0.01/127, 0.01 * 9.3132257e-8]
//                               = [7.874016e-5, 9.313226e-10].
// CHECK-LABEL: func.func @dead_channel_floor(
// CHECK-NOT:     quantune.reason
// CHECK:         %[[XQ:.+]] = quantune.quantize %{{.+}} qparams <si8, scale = 1.000000e-02, zero_point = 2> : tensor<1x2xf32> -> tensor<1x2xi8>
// CHECK-NEXT:    %[[W:.+]] = arith.constant dense<{{\[\[}}127, 0], [-51, 0]]> : tensor<2x2xi8>
// CHECK-NEXT:    %[[E:.+]] = tensor.empty() : tensor<1x2xi32>
// CHECK-NEXT:    %[[Z:.+]] = arith.constant 0 : i32
// CHECK-NEXT:    %[[ACC0:.+]] = linalg.fill ins(%[[Z]] : i32) outs(%[[E]] : tensor<1x2xi32>) -> tensor<1x2xi32>
// CHECK-NEXT:    %[[ACC:.+]] = linalg.matmul {{{.*}}quantune.precision = #quantune.precision<i8>{{.*}}} ins(%[[XQ]], %[[W]] : tensor<1x2xi8>, tensor<2x2xi8>) outs(%[[ACC0]] : tensor<1x2xi32>) -> tensor<1x2xi32>
// CHECK-NEXT:    %[[INIT:.+]] = arith.constant dense<[6198, 1073741824]> : tensor<2xi32>
// CHECK-NEXT:    tensor.empty() : tensor<1x2xi32>
// CHECK-NEXT:    %[[SUM:.+]] = linalg.generic {{.*}} ins(%[[ACC]], %[[INIT]] : tensor<1x2xi32>, tensor<2xi32>)
// CHECK:         } -> tensor<1x2xi32>
// CHECK-NEXT:    quantune.dequantize %[[SUM]] qparams <si32, axis = 1, scales = [7.87401{{[0-9]*}}E-5, 9.31322{{[0-9]*}}E-10]> : tensor<1x2xi32> -> tensor<1x2xf32>
func.func @dead_channel_floor(%a: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[1.0, 1.0e-9], [-0.4, -2.0e-9]]> : tensor<2x2xf32>
  %bias = arith.constant dense<[0.5, 1.0]> : tensor<2xf32>
  %e = tensor.empty() : tensor<1x2xf32>
  %init = linalg.broadcast ins(%bias : tensor<2xf32>) outs(%e : tensor<1x2xf32>) dimensions = [0]
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.01, zero_point = 2>}
    ins(%a, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %0 : tensor<1x2xf32>
}
