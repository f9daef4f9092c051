// RUN: quantune-opt %s --quantune-expand-quant-ops | FileCheck %s
// No quantune op is left anywhere in the module.
// RUN: quantune-opt %s --quantune-expand-quant-ops | FileCheck %s --check-prefix=NOOP
// Only attributes remain: quantune-strip (which fails on any quantune op)
// accepts the expanded module and leaves no trace of quantune.
// RUN: quantune-opt %s --quantune-expand-quant-ops | quantune-opt --quantune-strip | FileCheck %s --check-prefix=STRIP
// RUN: quantune-opt %s --quantune-expand-quant-ops | quantune-opt --quantune-strip | FileCheck %s --check-prefix=UPSTREAM

// NOOP-NOT:     quantune.quantize
// NOOP-NOT:     quantune.dequantize
// NOOP:         module
// NOOP-NOT:     quantune.quantize
// NOOP-NOT:     quantune.dequantize
// UPSTREAM-NOT: quantune
// UPSTREAM:     module
// UPSTREAM-NOT: quantune

// CHECK-DAG:   #[[ID4:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG:   #[[CH1:.+]] = affine_map<(d0, d1, d2, d3) -> (d1)>
// CHECK-DAG:   #[[ID2:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG:   #[[CH0:.+]] = affine_map<(d0, d1) -> (d0)>


// Per-tensor quantize: clamp(roundeven(x / 0.25) + (-7), -128, 127) as i8.
// v = x / 0.25 is clamped to [-128 + 7, 127 + 7] = [-121, 134]; adding
// 1.5 * 2^23 (0x4B400000) in f32 leaves roundeven(v) in the low bits, so
// bits - (0x4B400000 - (-7)) = bits - 1262485511 is roundeven(v) + zp.
// CHECK-LABEL: func.func @quantize_per_tensor(
// CHECK-SAME:      %[[X:[^:]+]]: tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xi8>
// CHECK-NEXT:    %[[E:.+]] = tensor.empty() : tensor<1x2x2x2xi8>
// CHECK-NEXT:    %[[Q:.+]] = linalg.generic {indexing_maps = [#[[ID4]], #[[ID4]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%[[X]] : tensor<1x2x2x2xf32>) outs(%[[E]] : tensor<1x2x2x2xi8>)
// CHECK-NEXT:    ^bb0(%[[IN:.+]]: f32, %{{.+}}: i8):
// CHECK-NEXT:      %[[S:.+]] = arith.constant 2.500000e-01 : f32
// CHECK-NEXT:      %[[D:.+]] = arith.divf %[[IN]], %[[S]] : f32
// CHECK-NEXT:      %[[QMIN:.+]] = arith.constant -1.210000e+02 : f32
// CHECK-NEXT:      %[[QMAX:.+]] = arith.constant 1.340000e+02 : f32
// CHECK-NEXT:      %[[LO:.+]] = arith.maxnumf %[[D]], %[[QMIN]] : f32
// CHECK-NEXT:      %[[HI:.+]] = arith.minnumf %[[LO]], %[[QMAX]] : f32
// CHECK-NEXT:      %[[BIAS:.+]] = arith.constant 0x4B400000 : f32
// CHECK-NEXT:      %[[B:.+]] = arith.addf %[[HI]], %[[BIAS]] : f32
// CHECK-NEXT:      %[[BITS:.+]] = arith.bitcast %[[B]] : f32 to i32
// CHECK-NEXT:      %[[OFF:.+]] = arith.constant 1262485511 : i32
// CHECK-NEXT:      %[[R:.+]] = arith.subi %[[BITS]], %[[OFF]] : i32
// CHECK-NEXT:      %[[I:.+]] = arith.trunci %[[R]] : i32 to i8
// CHECK-NEXT:      linalg.yield %[[I]] : i8
// CHECK-NEXT:    } -> tensor<1x2x2x2xi8>
// CHECK-NEXT:    return %[[Q]]
// STRIP-LABEL: func.func @quantize_per_tensor(
// STRIP:         linalg.generic
// STRIP:           arith.trunci %{{.+}} : i32 to i8
func.func @quantize_per_tensor(%x: tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xi8> {
  %q = quantune.quantize %x qparams <si8, scale = 0.25, zero_point = -7> : tensor<1x2x2x2xf32> -> tensor<1x2x2x2xi8>
  return %q : tensor<1x2x2x2xi8>
}

// Per-channel dequantize of an i32 accumulator along axis 1: the scales and
// the (zero) zero points are 1-D f32 constants read through (d1);
// y = (sitofp(acc) - zp[c]) * s[c] with s = [0.5, 0.125, 0.0625].
// CHECK-LABEL: func.func @dequantize_per_channel(
// CHECK-SAME:      %[[ACC:[^:]+]]: tensor<1x3x2x2xi32>) -> tensor<1x3x2x2xf32>
// CHECK-NEXT:    %[[S:.+]] = arith.constant dense<[5.000000e-01, 1.250000e-01, 6.250000e-02]> : tensor<3xf32>
// CHECK-NEXT:    %[[ZP:.+]] = arith.constant dense<0.000000e+00> : tensor<3xf32>
// CHECK-NEXT:    %[[E:.+]] = tensor.empty() : tensor<1x3x2x2xf32>
// CHECK-NEXT:    %[[Y:.+]] = linalg.generic {indexing_maps = [#[[ID4]], #[[CH1]], #[[CH1]], #[[ID4]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%[[ACC]], %[[S]], %[[ZP]] : tensor<1x3x2x2xi32>, tensor<3xf32>, tensor<3xf32>) outs(%[[E]] : tensor<1x3x2x2xf32>)
// CHECK-NEXT:    ^bb0(%[[IN:.+]]: i32, %[[SC:.+]]: f32, %[[ZC:.+]]: f32, %{{.+}}: f32):
// CHECK-NEXT:      %[[F:.+]] = arith.sitofp %[[IN]] : i32 to f32
// CHECK-NEXT:      %[[SUB:.+]] = arith.subf %[[F]], %[[ZC]] : f32
// CHECK-NEXT:      %[[MUL:.+]] = arith.mulf %[[SUB]], %[[SC]] : f32
// CHECK-NEXT:      linalg.yield %[[MUL]] : f32
// CHECK-NEXT:    } -> tensor<1x3x2x2xf32>
// CHECK-NEXT:    return %[[Y]]
// STRIP-LABEL: func.func @dequantize_per_channel(
// STRIP:         arith.constant dense<[5.000000e-01, 1.250000e-01, 6.250000e-02]> : tensor<3xf32>
// STRIP:         linalg.generic
// STRIP:           arith.sitofp %{{.+}} : i32 to f32
func.func @dequantize_per_channel(%acc: tensor<1x3x2x2xi32>) -> tensor<1x3x2x2xf32> {
  %d = quantune.dequantize %acc qparams <si32, axis = 1, scales = [0.5, 0.125, 0.0625]> : tensor<1x3x2x2xi32> -> tensor<1x3x2x2xf32>
  return %d : tensor<1x3x2x2xf32>
}

// Per-channel quantize along axis 0 with zero points [3, -4]: both vectors
// are read through (d0); the clamp bounds and the offset are computed from
// the channel's zero point.
// CHECK-LABEL: func.func @quantize_per_channel(
// CHECK-SAME:      %[[X:[^:]+]]: tensor<2x3xf32>) -> tensor<2x3xi8>
// CHECK-NEXT:    %[[S:.+]] = arith.constant dense<[1.000000e-01, 2.000000e-01]> : tensor<2xf32>
// CHECK-NEXT:    %[[ZP:.+]] = arith.constant dense<[3.000000e+00, -4.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:    %[[E:.+]] = tensor.empty() : tensor<2x3xi8>
// CHECK-NEXT:    linalg.generic {indexing_maps = [#[[ID2]], #[[CH0]], #[[CH0]], #[[ID2]]], iterator_types = ["parallel", "parallel"]} ins(%[[X]], %[[S]], %[[ZP]] : tensor<2x3xf32>, tensor<2xf32>, tensor<2xf32>) outs(%[[E]] : tensor<2x3xi8>)
// CHECK-NEXT:    ^bb0(%[[IN:.+]]: f32, %[[SC:.+]]: f32, %[[ZC:.+]]: f32, %{{.+}}: i8):
// CHECK-NEXT:      %[[D:.+]] = arith.divf %[[IN]], %[[SC]] : f32
// CHECK-NEXT:      %[[QMIN:.+]] = arith.constant -1.280000e+02 : f32
// CHECK-NEXT:      %[[LB:.+]] = arith.subf %[[QMIN]], %[[ZC]] : f32
// CHECK-NEXT:      %[[QMAX:.+]] = arith.constant 1.270000e+02 : f32
// CHECK-NEXT:      %[[UB:.+]] = arith.subf %[[QMAX]], %[[ZC]] : f32
// CHECK-NEXT:      %[[LO:.+]] = arith.maxnumf %[[D]], %[[LB]] : f32
// CHECK-NEXT:      %[[HI:.+]] = arith.minnumf %[[LO]], %[[UB]] : f32
// CHECK-NEXT:      %[[BIAS:.+]] = arith.constant 0x4B400000 : f32
// CHECK-NEXT:      %[[B:.+]] = arith.addf %[[HI]], %[[BIAS]] : f32
// CHECK-NEXT:      %[[BITS:.+]] = arith.bitcast %[[B]] : f32 to i32
// CHECK-NEXT:      %[[ZI:.+]] = arith.fptosi %[[ZC]] : f32 to i32
// CHECK-NEXT:      %[[BB:.+]] = arith.constant 1262485504 : i32
// CHECK-NEXT:      %[[OFF:.+]] = arith.subi %[[BB]], %[[ZI]] : i32
// CHECK-NEXT:      %[[R:.+]] = arith.subi %[[BITS]], %[[OFF]] : i32
// CHECK-NEXT:      arith.trunci %[[R]] : i32 to i8
func.func @quantize_per_channel(%x: tensor<2x3xf32>) -> tensor<2x3xi8> {
  %q = quantune.quantize %x qparams <si8, axis = 0, scales = [0.1, 0.2], zero_points = [3, -4]> : tensor<2x3xf32> -> tensor<2x3xi8>
  return %q : tensor<2x3xi8>
}

// The naive form around one int8 layer (as quantune-lower-mixed-precision
// writes it) expands to plain linalg; the function's quantune attribute is
// only stripped by quantune-strip.
// CHECK-LABEL: func.func @layer(
// CHECK-NOT:     quantune.quantize
// CHECK-NOT:     quantune.dequantize
// CHECK:         return
// STRIP-LABEL: func.func @layer(
// STRIP-SAME:      %{{[^:]+}}: tensor<1x2xf32>) -> tensor<1x2xf32> {
// STRIP:         linalg.matmul ins(%{{.+}}, %{{.+}} : tensor<1x2xi8>, tensor<2x2xi8>) outs(%{{.+}} : tensor<1x2xi32>) -> tensor<1x2xi32>
// STRIP:         return
func.func @layer(%x: tensor<1x2xf32>) -> tensor<1x2xf32> attributes {quantune.folded_pairs = 0 : i64} {
  %q = quantune.quantize %x qparams <si8, scale = 0.1> : tensor<1x2xf32> -> tensor<1x2xi8>
  %w = arith.constant dense<[[79, -74], [127, 127]]> : tensor<2x2xi8>
  %c0 = arith.constant 0 : i32
  %e = tensor.empty() : tensor<1x2xi32>
  %init = linalg.fill ins(%c0 : i32) outs(%e : tensor<1x2xi32>) -> tensor<1x2xi32>
  %acc = linalg.matmul {quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>} ins(%q, %w : tensor<1x2xi8>, tensor<2x2xi8>) outs(%init : tensor<1x2xi32>) -> tensor<1x2xi32>
  %y = quantune.dequantize %acc qparams <si32, axis = 1, scales = [6.299213e-4, 4.724410e-4]> : tensor<1x2xi32> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// Unsigned storage is read with uitofp: ui8 200 with zero point 128
// dequantizes to 72, not to -184. Quantizing clamps x / 1.0 to
// [0 - 128, 255 - 128] and adds 128 in i32 (offset 0x4B400000 - 128), so
// the i8 holds 0..255.
// CHECK-LABEL: func.func @unsigned_storage
// CHECK: arith.uitofp %{{.*}} : i8 to f32
// CHECK: arith.constant -1.280000e+02 : f32
// CHECK-NEXT: arith.constant 1.270000e+02 : f32
// CHECK: arith.constant 1262485376 : i32
// CHECK: arith.trunci %{{.*}} : i32 to i8
func.func @unsigned_storage(%q: tensor<2xi8>, %x: tensor<2xf32>) -> (tensor<2xf32>, tensor<2xi8>) {
  %d = quantune.dequantize %q qparams <ui8, scale = 1.000000e+00, zero_point = 128> : tensor<2xi8> -> tensor<2xf32>
  %r = quantune.quantize %x qparams <ui8, scale = 1.000000e+00, zero_point = 128> : tensor<2xf32> -> tensor<2xi8>
  return %d, %r : tensor<2xf32>, tensor<2xi8>
}

// -----

// Storage wider than 16 bits does not fit the rounding-bias trick: si32 is
// rounded with math.roundeven, shifted by the zero point, clamped to the
// storage range and converted with fptosi.
// CHECK-LABEL: func.func @wide_storage
// CHECK:         %[[D:.+]] = arith.divf
// CHECK-NEXT:    %[[R:.+]] = math.roundeven %[[D]] : f32
// CHECK-NEXT:    %[[ZP:.+]] = arith.constant 5.000000e+00 : f32
// CHECK-NEXT:    %[[SH:.+]] = arith.addf %[[R]], %[[ZP]] : f32
// CHECK-NEXT:    %[[QMIN:.+]] = arith.constant -2.14748365E+9 : f32
// CHECK-NEXT:    %[[LO:.+]] = arith.maximumf %[[SH]], %[[QMIN]] : f32
// CHECK-NEXT:    %[[QMAX:.+]] = arith.constant 2.14748365E+9 : f32
// CHECK-NEXT:    %[[HI:.+]] = arith.minimumf %[[LO]], %[[QMAX]] : f32
// CHECK-NEXT:    arith.fptosi %[[HI]] : f32 to i32
func.func @wide_storage(%x: tensor<4xf32>) -> tensor<4xi32> {
  %q = quantune.quantize %x qparams <si32, scale = 0.5, zero_point = 5> : tensor<4xf32> -> tensor<4xi32>
  return %q : tensor<4xi32>
}
