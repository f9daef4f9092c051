// RUN: quantune-opt %s --canonicalize --split-input-file | FileCheck %s

// quantize(dequantize(q)) with identical parameters is q.
// CHECK-LABEL: func.func @fold_requantize
// CHECK-SAME:    (%[[Q:.*]]: tensor<4xi8>)
// CHECK-NOT:     quantune.
// CHECK:         return %[[Q]] : tensor<4xi8>
func.func @fold_requantize(%q: tensor<4xi8>) -> tensor<4xi8> {
  %0 = quantune.dequantize %q qparams <ui8, scale = 0.5, zero_point = 3> : tensor<4xi8> -> tensor<4xf32>
  %1 = quantune.quantize %0 qparams <ui8, scale = 0.5, zero_point = 3> : tensor<4xf32> -> tensor<4xi8>
  return %1 : tensor<4xi8>
}

// -----

// Identical parameters spelled differently still fold, per-channel too.
// CHECK-LABEL: func.func @fold_requantize_per_channel
// CHECK-SAME:    (%[[Q:.*]]: tensor<2x?xi4>)
// CHECK-NOT:     quantune.
// CHECK:         return %[[Q]] : tensor<2x?xi4>
func.func @fold_requantize_per_channel(%q: tensor<2x?xi4>) -> tensor<2x?xi4> {
  %0 = quantune.dequantize %q qparams <si4, axis = 0, scales = [0.5, 0.25], zero_points = [0, 0]> : tensor<2x?xi4> -> tensor<2x?xf32>
  %1 = quantune.quantize %0 qparams <si4, scales = [5.0e-1, 2.5e-1], axis = 0> : tensor<2x?xf32> -> tensor<2x?xi4>
  return %1 : tensor<2x?xi4>
}

// -----

// The dequantized value has another use: the quantize still folds away, the
// dequantize stays for its other user.
// CHECK-LABEL: func.func @fold_requantize_multi_use
// CHECK-SAME:    (%[[Q:.*]]: tensor<4xi8>)
// CHECK:         %[[D:.*]] = quantune.dequantize %[[Q]] qparams <si8, scale = 5.000000e-01> : tensor<4xi8> -> tensor<4xf32>
// CHECK-NOT:     quantune.quantize
// CHECK:         return %[[Q]], %[[D]] : tensor<4xi8>, tensor<4xf32>
func.func @fold_requantize_multi_use(%q: tensor<4xi8>) -> (tensor<4xi8>, tensor<4xf32>) {
  %0 = quantune.dequantize %q qparams <si8, scale = 0.5> : tensor<4xi8> -> tensor<4xf32>
  %1 = quantune.quantize %0 qparams <si8, scale = 0.5> : tensor<4xf32> -> tensor<4xi8>
  return %1, %0 : tensor<4xi8>, tensor<4xf32>
}

// -----

// Different scales: no fold.
// CHECK-LABEL: func.func @no_fold_different_scale
// CHECK-SAME:    (%[[Q:.*]]: tensor<4xi8>)
// CHECK:         %[[D:.*]] = quantune.dequantize %[[Q]] qparams <si8, scale = 5.000000e-01> : tensor<4xi8> -> tensor<4xf32>
// CHECK:         %[[R:.*]] = quantune.quantize %[[D]] qparams <si8, scale = 2.500000e-01> : tensor<4xf32> -> tensor<4xi8>
// CHECK:         return %[[R]] : tensor<4xi8>
func.func @no_fold_different_scale(%q: tensor<4xi8>) -> tensor<4xi8> {
  %0 = quantune.dequantize %q qparams <si8, scale = 0.5> : tensor<4xi8> -> tensor<4xf32>
  %1 = quantune.quantize %0 qparams <si8, scale = 0.25> : tensor<4xf32> -> tensor<4xi8>
  return %1 : tensor<4xi8>
}

// -----

// Different zero points: no fold.
// CHECK-LABEL: func.func @no_fold_different_zero_point
// CHECK-SAME:    (%[[Q:.*]]: tensor<4xi8>)
// CHECK:         %[[D:.*]] = quantune.dequantize %[[Q]] qparams <ui8, scale = 5.000000e-01, zero_point = 1> : tensor<4xi8> -> tensor<4xf32>
// CHECK:         %[[R:.*]] = quantune.quantize %[[D]] qparams <ui8, scale = 5.000000e-01, zero_point = 2> : tensor<4xf32> -> tensor<4xi8>
// CHECK:         return %[[R]] : tensor<4xi8>
func.func @no_fold_different_zero_point(%q: tensor<4xi8>) -> tensor<4xi8> {
  %0 = quantune.dequantize %q qparams <ui8, scale = 0.5, zero_point = 1> : tensor<4xi8> -> tensor<4xf32>
  %1 = quantune.quantize %0 qparams <ui8, scale = 0.5, zero_point = 2> : tensor<4xf32> -> tensor<4xi8>
  return %1 : tensor<4xi8>
}

// -----

// Same bit width, different signedness (si8 vs ui8): no fold.
// CHECK-LABEL: func.func @no_fold_different_signedness
// CHECK:         quantune.dequantize %{{.*}} qparams <si8, scale = 5.000000e-01>
// CHECK:         quantune.quantize %{{.*}} qparams <ui8, scale = 5.000000e-01>
func.func @no_fold_different_signedness(%q: tensor<4xi8>) -> tensor<4xi8> {
  %0 = quantune.dequantize %q qparams <si8, scale = 0.5> : tensor<4xi8> -> tensor<4xf32>
  %1 = quantune.quantize %0 qparams <ui8, scale = 0.5> : tensor<4xf32> -> tensor<4xi8>
  return %1 : tensor<4xi8>
}

// -----

// Per-tensor vs per-channel with one channel: different parameters, no fold.
// CHECK-LABEL: func.func @no_fold_per_tensor_vs_per_channel
// CHECK:         quantune.dequantize %{{.*}} qparams <si8, scale = 5.000000e-01>
// CHECK:         quantune.quantize %{{.*}} qparams <si8, axis = 0, scales = [5.000000e-01]>
func.func @no_fold_per_tensor_vs_per_channel(%q: tensor<1xi8>) -> tensor<1xi8> {
  %0 = quantune.dequantize %q qparams <si8, scale = 0.5> : tensor<1xi8> -> tensor<1xf32>
  %1 = quantune.quantize %0 qparams <si8, axis = 0, scales = [0.5]> : tensor<1xf32> -> tensor<1xi8>
  return %1 : tensor<1xi8>
}

// -----

// dequantize(quantize(x)) rounds x: it must not fold.
// CHECK-LABEL: func.func @no_fold_dequantize_of_quantize
// CHECK-SAME:    (%[[X:.*]]: tensor<4xf32>)
// CHECK:         %[[Q:.*]] = quantune.quantize %[[X]] qparams <si8, scale = 5.000000e-01> : tensor<4xf32> -> tensor<4xi8>
// CHECK:         %[[D:.*]] = quantune.dequantize %[[Q]] qparams <si8, scale = 5.000000e-01> : tensor<4xi8> -> tensor<4xf32>
// CHECK:         return %[[D]] : tensor<4xf32>
func.func @no_fold_dequantize_of_quantize(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = quantune.quantize %x qparams <si8, scale = 0.5> : tensor<4xf32> -> tensor<4xi8>
  %1 = quantune.dequantize %0 qparams <si8, scale = 0.5> : tensor<4xi8> -> tensor<4xf32>
  return %1 : tensor<4xf32>
}

// -----

// Unused quantune ops are Pure and are erased.
// CHECK-LABEL: func.func @dead_ops
// CHECK-NOT:     quantune.
// CHECK:         return
func.func @dead_ops(%x: tensor<4xf32>) {
  %0 = quantune.probe %x as input of layer 0 : tensor<4xf32>
  %1 = quantune.fake_quant %x qparams <si8, scale = 0.5> : tensor<4xf32>
  %2 = quantune.quantize %x qparams <si8, scale = 0.5> : tensor<4xf32> -> tensor<4xi8>
  return
}

// -----

// f16 cannot hold every si16 value (2049 becomes 2048): no fold.
// CHECK-LABEL: func.func @no_fold_narrow_float
// CHECK:         quantune.dequantize
// CHECK:         quantune.quantize
func.func @no_fold_narrow_float(%q: tensor<4xi16>) -> tensor<4xi16> {
  %0 = quantune.dequantize %q qparams <si16, scale = 1.0> : tensor<4xi16> -> tensor<4xf16>
  %1 = quantune.quantize %0 qparams <si16, scale = 1.0> : tensor<4xf16> -> tensor<4xi16>
  return %1 : tensor<4xi16>
}

// -----

// A scale so large that (q - zp) * s overflows f16 to inf: no fold.
// CHECK-LABEL: func.func @no_fold_overflowing_scale
// CHECK:         quantune.dequantize
// CHECK:         quantune.quantize
func.func @no_fold_overflowing_scale(%q: tensor<4xi8>) -> tensor<4xi8> {
  %0 = quantune.dequantize %q qparams <si8, scale = 1000.0> : tensor<4xi8> -> tensor<4xf16>
  %1 = quantune.quantize %0 qparams <si8, scale = 1000.0> : tensor<4xf16> -> tensor<4xi8>
  return %1 : tensor<4xi8>
}

// -----

// i8 through f16 with a moderate scale is exact: folds.
// CHECK-LABEL: func.func @fold_i8_through_f16
// CHECK-SAME:    (%[[Q:.*]]: tensor<4xi8>)
// CHECK-NOT:     quantune.
// CHECK:         return %[[Q]]
func.func @fold_i8_through_f16(%q: tensor<4xi8>) -> tensor<4xi8> {
  %0 = quantune.dequantize %q qparams <si8, scale = 0.5> : tensor<4xi8> -> tensor<4xf16>
  %1 = quantune.quantize %0 qparams <si8, scale = 0.5> : tensor<4xf16> -> tensor<4xi8>
  return %1 : tensor<4xi8>
}
