// RUN: quantune-opt %s --split-input-file --quantune-fold-requantize | FileCheck %s
// The generic form shows the body the pass builds for the i8 max pooling.
// RUN: quantune-opt %s --split-input-file --quantune-fold-requantize --mlir-print-op-generic | FileCheck %s --check-prefix=GEN

// The inputs are written as quantune-lower-mixed-precision leaves them: an
// i32 accumulator, a quantune.dequantize (s_in = s_x * s_w), float ops, and
// the quantune.quantize of the next i8 layer (s_out, zp_out). A fold computes
// clamp(roundeven(acc * s_in / s_out) + zp_out, lo, hi) in one epilogue:
// v = acc * s_in / s_out is clamped to [lo - zp_out, hi - zp_out], 1.5 * 2^23
// (0x4B400000) is added in f32, and the bits minus (0x4B400000 - zp_out),
// i.e. roundeven(v) + zp_out, are truncated to i8.

// dequantize (per channel) -> ReLU (cmpf ugt + select against 0.0, as ONNX
// imports it) -> tensor.pad 0.0 -> quantize: one epilogue, then an i8 pad.
//   multipliers s_in / s_out = [0.002, 0.0005] / 0.1 = [0.02, 0.005], read along d1
//   ReLU: lo = quantize(0.0) = zp_out = -20 (raised from -128); hi = 127
//   clamp of v: [lo - zp, hi - zp] = [0, 147]; offset 0x4B400000 + 20 = 1262485524
//   pad value quantize(0.0) = zp_out = -20
// CHECK-DAG:   #[[ID4:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG:   #[[CH:.+]] = affine_map<(d0, d1, d2, d3) -> (d1)>
// CHECK-LABEL: func.func @relu_pad(
// CHECK-SAME:      %[[ACC:[^:]+]]: tensor<1x2x2x2xi32>) -> tensor<1x2x4x4xi8> attributes {quantune.folded_pairs = 1 : i64}
// CHECK-NOT:     quantune.
// CHECK:         %[[M:.+]] = arith.constant dense<[2.000000e-02, 5.000000e-03]> : tensor<2xf32>
// CHECK-NEXT:    %[[E:.+]] = tensor.empty() : tensor<1x2x2x2xi8>
// CHECK-NEXT:    %[[R:.+]] = linalg.generic {indexing_maps = [#[[ID4]], #[[CH]], #[[ID4]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%[[ACC]], %[[M]] : tensor<1x2x2x2xi32>, tensor<2xf32>) outs(%[[E]] : tensor<1x2x2x2xi8>)
// CHECK-NEXT:    ^bb0(%[[A:.+]]: i32, %[[MC:.+]]: f32, %{{.+}}: i8):
// CHECK-NEXT:      %[[F:.+]] = arith.sitofp %[[A]] : i32 to f32
// CHECK-NEXT:      %[[S:.+]] = arith.mulf %[[F]], %[[MC]] : f32
// CHECK-NEXT:      %[[LO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:      %[[HI:.+]] = arith.constant 1.470000e+02 : f32
// CHECK-NEXT:      %[[C1:.+]] = arith.maxnumf %[[S]], %[[LO]] : f32
// CHECK-NEXT:      %[[C2:.+]] = arith.minnumf %[[C1]], %[[HI]] : f32
// CHECK-NEXT:      %[[BIAS:.+]] = arith.constant 0x4B400000 : f32
// CHECK-NEXT:      %[[B:.+]] = arith.addf %[[C2]], %[[BIAS]] : f32
// CHECK-NEXT:      %[[BITS:.+]] = arith.bitcast %[[B]] : f32 to i32
// CHECK-NEXT:      %[[OFF:.+]] = arith.constant 1262485524 : i32
// CHECK-NEXT:      %[[Q:.+]] = arith.subi %[[BITS]], %[[OFF]] : i32
// CHECK-NEXT:      %[[I:.+]] = arith.trunci %[[Q]] : i32 to i8
// CHECK-NEXT:      linalg.yield %[[I]] : i8
// CHECK:         %[[PV:.+]] = arith.constant -20 : i8
// CHECK-NEXT:    %[[P:.+]] = tensor.pad %[[R]] low[0, 0, 1, 1] high[0, 0, 1, 1]
// CHECK:           tensor.yield %[[PV]] : i8
// CHECK-NEXT:    } : tensor<1x2x2x2xi8> to tensor<1x2x4x4xi8>
// CHECK-NOT:     quantune.
// CHECK-NEXT:    return %[[P]] : tensor<1x2x4x4xi8>
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
func.func @relu_pad(%acc: tensor<1x2x2x2xi32>) -> tensor<1x2x4x4xi8> {
  %d = quantune.dequantize %acc qparams <si32, axis = 1, scales = [0.002, 0.0005]> : tensor<1x2x2x2xi32> -> tensor<1x2x2x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x2x2x2xf32>
  %r = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%d : tensor<1x2x2x2xf32>) outs(%e : tensor<1x2x2x2xf32>) {
  ^bb0(%in: f32, %out: f32):
    %c = arith.cmpf ugt, %in, %zero : f32
    %s = arith.select %c, %in, %zero : f32
    linalg.yield %s : f32
  } -> tensor<1x2x2x2xf32>
  %p = tensor.pad %r low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<1x2x2x2xf32> to tensor<1x2x4x4xf32>
  %q = quantune.quantize %p qparams <si8, scale = 0.1, zero_point = -20> : tensor<1x2x4x4xf32> -> tensor<1x2x4x4xi8>
  return %q : tensor<1x2x4x4xi8>
}

// -----

// ReLU6 as arith.maximumf/minimumf against constants in the body, after a
// per-tensor dequantize: both clamp bounds move into the epilogue.
//   multiplier 0.001 / 0.05 = 0.02 (a scalar constant)
//   lo = quantize(0.0) = zp = -100; hi = round(6 / 0.05) + zp = 120 - 100 = 20
//   clamp of v: [0, 120]; offset 0x4B400000 + 100 = 1262485604
// CHECK-LABEL: func.func @relu6(
// CHECK-SAME:      %[[ACC:[^:]+]]: tensor<1x4xi32>) -> tensor<1x4xi8> attributes {quantune.folded_pairs = 1 : i64}
// CHECK-NOT:     quantune.
// CHECK:         linalg.generic {{.*}} ins(%[[ACC]] : tensor<1x4xi32>) outs(%{{.+}} : tensor<1x4xi8>)
// CHECK-NEXT:    ^bb0(%[[A:.+]]: i32, %{{.+}}: i8):
// CHECK-NEXT:      %[[F:.+]] = arith.sitofp %[[A]] : i32 to f32
// CHECK-NEXT:      %[[MUL:.+]] = arith.constant 2.000000e-02 : f32
// CHECK-NEXT:      %[[S:.+]] = arith.mulf %[[F]], %[[MUL]] : f32
// CHECK-NEXT:      %[[LO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:      %[[HI:.+]] = arith.constant 1.200000e+02 : f32
// CHECK-NEXT:      %[[C1:.+]] = arith.maxnumf %[[S]], %[[LO]] : f32
// CHECK-NEXT:      %[[C2:.+]] = arith.minnumf %[[C1]], %[[HI]] : f32
// CHECK-NEXT:      %[[BIAS:.+]] = arith.constant 0x4B400000 : f32
// CHECK-NEXT:      %[[B:.+]] = arith.addf %[[C2]], %[[BIAS]] : f32
// CHECK-NEXT:      %[[BITS:.+]] = arith.bitcast %[[B]] : f32 to i32
// CHECK-NEXT:      %[[OFF:.+]] = arith.constant 1262485604 : i32
// CHECK-NEXT:      %[[Q:.+]] = arith.subi %[[BITS]], %[[OFF]] : i32
// CHECK-NEXT:      %[[I:.+]] = arith.trunci %[[Q]] : i32 to i8
// CHECK-NEXT:      linalg.yield %[[I]] : i8
// CHECK-NOT:     quantune.
// CHECK:         return
#id2 = affine_map<(d0, d1) -> (d0, d1)>
func.func @relu6(%acc: tensor<1x4xi32>) -> tensor<1x4xi8> {
  %d = quantune.dequantize %acc qparams <si32, scale = 0.001> : tensor<1x4xi32> -> tensor<1x4xf32>
  %e = tensor.empty() : tensor<1x4xf32>
  %r = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%d : tensor<1x4xf32>) outs(%e : tensor<1x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %lo = arith.constant 0.0 : f32
    %hi = arith.constant 6.0 : f32
    %0 = arith.maximumf %in, %lo : f32
    %1 = arith.minimumf %0, %hi : f32
    linalg.yield %1 : f32
  } -> tensor<1x4xf32>
  %q = quantune.quantize %r qparams <si8, scale = 0.05, zero_point = -100> : tensor<1x4xf32> -> tensor<1x4xi8>
  return %q : tensor<1x4xi8>
}

// -----

// Max pooling (init: fill -inf) runs on i8 after the epilogue, starting
// from -128 and combining with arith.maxsi; the collapse_shape after it
// runs on i8 too.
//   multipliers [0.003, 0.0015] / 0.06 = [0.05, 0.025]; zp = 5; no clamp: [-128, 127]
//   clamp of v: [-128 - 5, 127 - 5] = [-133, 122]; offset 0x4B400000 - 5 = 1262485499
// CHECK-LABEL: func.func @maxpool_collapse(
// CHECK-SAME:      %[[ACC:[^:]+]]: tensor<1x2x4x4xi32>) -> tensor<1x8xi8> attributes {quantune.folded_pairs = 1 : i64}
// CHECK-NOT:     quantune.
// CHECK:         %[[M:.+]] = arith.constant dense<[5.000000e-02, 2.500000e-02]> : tensor<2xf32>
// CHECK:         %[[R:.+]] = linalg.generic {{.*}} ins(%[[ACC]], %[[M]] : tensor<1x2x4x4xi32>, tensor<2xf32>) outs(%{{.+}} : tensor<1x2x4x4xi8>)
// CHECK:           arith.mulf
// CHECK:           arith.constant -1.330000e+02 : f32
// CHECK:           arith.constant 1.220000e+02 : f32
// CHECK:           arith.constant 1262485499 : i32
// CHECK:           arith.trunci %{{.+}} : i32 to i8
// CHECK:         %[[LOW:.+]] = arith.constant -128 : i8
// CHECK-NEXT:    %[[EP:.+]] = tensor.empty() : tensor<1x2x2x2xi8>
// CHECK-NEXT:    %[[INIT:.+]] = linalg.fill ins(%[[LOW]] : i8) outs(%[[EP]] : tensor<1x2x2x2xi8>) -> tensor<1x2x2x2xi8>
// CHECK-NEXT:    %[[POOL:.+]] = linalg.pooling_nchw_max {dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>} ins(%[[R]], %{{.+}} : tensor<1x2x4x4xi8>, tensor<2x2xf32>) outs(%[[INIT]] : tensor<1x2x2x2xi8>) -> tensor<1x2x2x2xi8>
// CHECK-NEXT:    %[[FLAT:.+]] = tensor.collapse_shape %[[POOL]] {{\[\[}}0], [1, 2, 3]] : tensor<1x2x2x2xi8> into tensor<1x8xi8>
// CHECK-NEXT:    return %[[FLAT]] : tensor<1x8xi8>
// GEN:         "linalg.pooling_nchw_max"(
// GEN-NEXT:    ^bb0(%[[IN:.+]]: i8, %{{.+}}: f32, %[[OUT:.+]]: i8):
// GEN-NEXT:      %[[MAX:.+]] = "arith.maxsi"(%[[OUT]], %[[IN]]) : (i8, i8) -> i8
// GEN-NEXT:      "linalg.yield"(%[[MAX]]) : (i8) -> ()
// GEN-NEXT:    }) {{.*}} : (tensor<1x2x4x4xi8>, tensor<2x2xf32>, tensor<1x2x2x2xi8>) -> tensor<1x2x2x2xi8>
func.func @maxpool_collapse(%acc: tensor<1x2x4x4xi32>) -> tensor<1x8xi8> {
  %d = quantune.dequantize %acc qparams <si32, axis = 1, scales = [0.003, 0.0015]> : tensor<1x2x4x4xi32> -> tensor<1x2x4x4xf32>
  %ninf = arith.constant 0xFF800000 : f32
  %e = tensor.empty() : tensor<1x2x2x2xf32>
  %init = linalg.fill ins(%ninf : f32) outs(%e : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %win = tensor.empty() : tensor<2x2xf32>
  %m = linalg.pooling_nchw_max {dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>}
      ins(%d, %win : tensor<1x2x4x4xf32>, tensor<2x2xf32>) outs(%init : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %c = tensor.collapse_shape %m [[0], [1, 2, 3]] : tensor<1x2x2x2xf32> into tensor<1x8xf32>
  %q = quantune.quantize %c qparams <si8, scale = 0.06, zero_point = 5> : tensor<1x8xf32> -> tensor<1x8xi8>
  return %q : tensor<1x8xi8>
}

// -----

// Residual add of a dequantized accumulator and %x, a function argument
// whose int8 form is the earlier quantize (which stays: %x has no integer
// producer). One epilogue rescales both terms to s_out = 0.08, zp_out = -3:
//   acc term: acc * [0.0012, 0.0006] / 0.08 = acc * [0.015, 0.0075]
//   x term:   (q_x - 6) * 0.04 / 0.08 = (q_x - 6) * 0.5
// CHECK-DAG:   #[[ID4:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG:   #[[CH:.+]] = affine_map<(d0, d1, d2, d3) -> (d1)>
// CHECK-LABEL: func.func @residual(
// CHECK-SAME:      %[[X:[^:]+]]: tensor<1x2x2x2xf32>, %[[ACC:[^:]+]]: tensor<1x2x2x2xi32>) -> (tensor<1x2x2x2xi8>, tensor<1x2x2x2xi8>) attributes {quantune.folded_pairs = 1 : i64}
// CHECK-NEXT:    %[[QX:.+]] = quantune.quantize %[[X]] qparams <si8, scale = 4.000000e-02, zero_point = 6> : tensor<1x2x2x2xf32> -> tensor<1x2x2x2xi8>
// CHECK-NOT:     quantune.
// CHECK:         %[[M:.+]] = arith.constant dense<[1.500000e-02, 7.500000e-03]> : tensor<2xf32>
// CHECK-NEXT:    %[[E:.+]] = tensor.empty() : tensor<1x2x2x2xi8>
// CHECK-NEXT:    %[[R:.+]] = linalg.generic {indexing_maps = [#[[ID4]], #[[CH]], #[[ID4]], #[[ID4]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%[[ACC]], %[[M]], %[[QX]] : tensor<1x2x2x2xi32>, tensor<2xf32>, tensor<1x2x2x2xi8>) outs(%[[E]] : tensor<1x2x2x2xi8>)
// CHECK-NEXT:    ^bb0(%[[A:.+]]: i32, %[[MC:.+]]: f32, %[[B:.+]]: i8, %{{.+}}: i8):
// CHECK-NEXT:      %[[AF:.+]] = arith.sitofp %[[A]] : i32 to f32
// CHECK-NEXT:      %[[AS:.+]] = arith.mulf %[[AF]], %[[MC]] : f32
// CHECK-NEXT:      %[[BF:.+]] = arith.sitofp %[[B]] : i8 to f32
// CHECK-NEXT:      %[[ZPX:.+]] = arith.constant 6.000000e+00 : f32
// CHECK-NEXT:      %[[BZ:.+]] = arith.subf %[[BF]], %[[ZPX]] : f32
// CHECK-NEXT:      %[[HALF:.+]] = arith.constant 5.000000e-01 : f32
// CHECK-NEXT:      %[[BS:.+]] = arith.mulf %[[BZ]], %[[HALF]] : f32
// CHECK-NEXT:      %[[SUM:.+]] = arith.addf %[[AS]], %[[BS]] : f32
// zp_out = -3: v is clamped to [-125, 130], offset 0x4B400000 + 3.
// CHECK-NEXT:      %[[QLO:.+]] = arith.constant -1.250000e+02 : f32
// CHECK-NEXT:      %[[QHI:.+]] = arith.constant 1.300000e+02 : f32
// CHECK-NEXT:      %[[C1:.+]] = arith.maxnumf %[[SUM]], %[[QLO]] : f32
// CHECK-NEXT:      %[[C2:.+]] = arith.minnumf %[[C1]], %[[QHI]] : f32
// CHECK-NEXT:      %[[BIAS:.+]] = arith.constant 0x4B400000 : f32
// CHECK-NEXT:      %[[BV:.+]] = arith.addf %[[C2]], %[[BIAS]] : f32
// CHECK-NEXT:      %[[BITS:.+]] = arith.bitcast %[[BV]] : f32 to i32
// CHECK-NEXT:      %[[OFF:.+]] = arith.constant 1262485507 : i32
// CHECK-NEXT:      %[[QV:.+]] = arith.subi %[[BITS]], %[[OFF]] : i32
// CHECK-NEXT:      arith.trunci %[[QV]] : i32 to i8
// CHECK:         return %[[QX]], %[[R]]
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
func.func @residual(%x: tensor<1x2x2x2xf32>, %acc: tensor<1x2x2x2xi32>) -> (tensor<1x2x2x2xi8>, tensor<1x2x2x2xi8>) {
  %qx = quantune.quantize %x qparams <si8, scale = 0.04, zero_point = 6> : tensor<1x2x2x2xf32> -> tensor<1x2x2x2xi8>
  %d = quantune.dequantize %acc qparams <si32, axis = 1, scales = [0.0012, 0.0006]> : tensor<1x2x2x2xi32> -> tensor<1x2x2x2xf32>
  %e = tensor.empty() : tensor<1x2x2x2xf32>
  %s = linalg.generic {indexing_maps = [#id4, #id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%d, %x : tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) outs(%e : tensor<1x2x2x2xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %0 = arith.addf %a, %b : f32
    linalg.yield %0 : f32
  } -> tensor<1x2x2x2xf32>
  %q = quantune.quantize %s qparams <si8, scale = 0.08, zero_point = -3> : tensor<1x2x2x2xf32> -> tensor<1x2x2x2xi8>
  return %qx, %q : tensor<1x2x2x2xi8>, tensor<1x2x2x2xi8>
}

// -----

// A plain f32 input of the add (a per-channel bias read through (d1)) is
// added inside the same epilogue, divided by s_out = 0.08, with its map.
//   acc term: acc * 0.0016 / 0.08 = acc * 0.02 (per tensor)
// CHECK-DAG:   #[[ID4:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG:   #[[CH:.+]] = affine_map<(d0, d1, d2, d3) -> (d1)>
// CHECK-LABEL: func.func @bias_add(
// CHECK-SAME:      %[[B:[^:]+]]: tensor<2xf32>, %[[ACC:[^:]+]]: tensor<1x2x2x2xi32>) -> tensor<1x2x2x2xi8> attributes {quantune.folded_pairs = 1 : i64}
// CHECK-NOT:     quantune.
// CHECK:         linalg.generic {indexing_maps = [#[[ID4]], #[[CH]], #[[ID4]]], {{.*}} ins(%[[ACC]], %[[B]] : tensor<1x2x2x2xi32>, tensor<2xf32>) outs(%{{.+}} : tensor<1x2x2x2xi8>)
// CHECK-NEXT:    ^bb0(%[[A:.+]]: i32, %[[BC:.+]]: f32, %{{.+}}: i8):
// CHECK-NEXT:      %[[AF:.+]] = arith.sitofp %[[A]] : i32 to f32
// CHECK-NEXT:      %[[MUL:.+]] = arith.constant 2.000000e-02 : f32
// CHECK-NEXT:      %[[AS:.+]] = arith.mulf %[[AF]], %[[MUL]] : f32
// CHECK-NEXT:      %[[SO:.+]] = arith.constant 8.000000e-02 : f32
// CHECK-NEXT:      %[[BS:.+]] = arith.divf %[[BC]], %[[SO]] : f32
// CHECK-NEXT:      %[[SUM:.+]] = arith.addf %[[AS]], %[[BS]] : f32
// CHECK-NEXT:      %[[QLO:.+]] = arith.constant
// CHECK-NEXT:      %[[QHI:.+]] = arith.constant
// CHECK-NEXT:      arith.maxnumf %[[SUM]], %[[QLO]] : f32
// CHECK-NOT:     quantune.
// CHECK:         return
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#ch = affine_map<(d0, d1, d2, d3) -> (d1)>
func.func @bias_add(%b: tensor<2xf32>, %acc: tensor<1x2x2x2xi32>) -> tensor<1x2x2x2xi8> {
  %d = quantune.dequantize %acc qparams <si32, scale = 0.0016> : tensor<1x2x2x2xi32> -> tensor<1x2x2x2xf32>
  %e = tensor.empty() : tensor<1x2x2x2xf32>
  %s = linalg.generic {indexing_maps = [#id4, #ch, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%d, %b : tensor<1x2x2x2xf32>, tensor<2xf32>) outs(%e : tensor<1x2x2x2xf32>) {
  ^bb0(%a: f32, %c: f32, %out: f32):
    %0 = arith.addf %a, %c : f32
    linalg.yield %0 : f32
  } -> tensor<1x2x2x2xf32>
  %q = quantune.quantize %s qparams <si8, scale = 0.08> : tensor<1x2x2x2xf32> -> tensor<1x2x2x2xi8>
  return %q : tensor<1x2x2x2xi8>
}

// -----

// Average pooling (a pooling sum) does not commute with quantization: the
// search stops, the dequantize, the pool and the quantize all stay.
// CHECK-LABEL: func.func @avgpool(
// CHECK-SAME:      %[[ACC:[^:]+]]: tensor<1x1x4x4xi32>) -> tensor<1x1x2x2xi8> attributes {quantune.folded_pairs = 0 : i64}
// CHECK-NEXT:    %[[D:.+]] = quantune.dequantize %[[ACC]] qparams <si32, scale = 2.000000e-03> : tensor<1x1x4x4xi32> -> tensor<1x1x4x4xf32>
// CHECK:         %[[P:.+]] = linalg.pooling_nchw_sum {{.*}} ins(%[[D]], %{{.+}} : tensor<1x1x4x4xf32>, tensor<2x2xf32>)
// CHECK-NEXT:    %[[Q:.+]] = quantune.quantize %[[P]] qparams <si8, scale = 1.000000e-01> : tensor<1x1x2x2xf32> -> tensor<1x1x2x2xi8>
// CHECK-NEXT:    return %[[Q]]
func.func @avgpool(%acc: tensor<1x1x4x4xi32>) -> tensor<1x1x2x2xi8> {
  %d = quantune.dequantize %acc qparams <si32, scale = 0.002> : tensor<1x1x4x4xi32> -> tensor<1x1x4x4xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x1x2x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x1x2x2xf32>) -> tensor<1x1x2x2xf32>
  %win = tensor.empty() : tensor<2x2xf32>
  %p = linalg.pooling_nchw_sum {dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>}
      ins(%d, %win : tensor<1x1x4x4xf32>, tensor<2x2xf32>) outs(%init : tensor<1x1x2x2xf32>) -> tensor<1x1x2x2xf32>
  %q = quantune.quantize %p qparams <si8, scale = 0.1> : tensor<1x1x2x2xf32> -> tensor<1x1x2x2xi8>
  return %q : tensor<1x1x2x2xi8>
}

// -----

// A float function argument (through a float pad) has no integer producer:
// nothing folds, but the quantize moves in front of the pad, which then pads
// the i8 tensor with quantize(0.0) = 0 (the model input of a first conv: the
// quantize no longer fuses into the conv's im2col, once per filter tap).
// CHECK-LABEL: func.func @float_input(
// CHECK-SAME:      %[[X:[^:]+]]: tensor<4xf32>) -> tensor<6xi8> attributes {quantune.folded_pairs = 0 : i64}
// CHECK-NEXT:    %[[Q:.+]] = quantune.quantize %[[X]] qparams <si8, scale = 1.000000e-01> : tensor<4xf32> -> tensor<4xi8>
// CHECK-NEXT:    %[[Z:.+]] = arith.constant 0 : i8
// CHECK-NEXT:    %[[P:.+]] = tensor.pad %[[Q]] low[1] high[1]
// CHECK-NEXT:    ^bb0(%{{.+}}: index):
// CHECK-NEXT:      tensor.yield %[[Z]] : i8
// CHECK-NEXT:    } : tensor<4xi8> to tensor<6xi8>
// CHECK-NEXT:    return %[[P]]
func.func @float_input(%x: tensor<4xf32>) -> tensor<6xi8> {
  %zero = arith.constant 0.0 : f32
  %p = tensor.pad %x low[1] high[1] {
  ^bb0(%i: index):
    tensor.yield %zero : f32
  } : tensor<4xf32> to tensor<6xf32>
  %q = quantune.quantize %p qparams <si8, scale = 0.1> : tensor<6xf32> -> tensor<6xi8>
  return %q : tensor<6xi8>
}

// -----

// Per-channel zero points on an accumulator are not folded, and the count
// says so: the pair stays.
// CHECK-LABEL: func.func @per_channel_zero_points
// CHECK-SAME: quantune.folded_pairs = 0
// CHECK: quantune.dequantize
// CHECK: quantune.quantize
func.func @per_channel_zero_points(%acc: tensor<1x2xi32>) -> tensor<1x2xi8> {
  %d = quantune.dequantize %acc qparams <si32, axis = 1, scales = [2.0e-3, 5.0e-4], zero_points = [1, 0]> : tensor<1x2xi32> -> tensor<1x2xf32>
  %q = quantune.quantize %d qparams <si8, scale = 1.000000e-01> : tensor<1x2xf32> -> tensor<1x2xi8>
  return %q : tensor<1x2xi8>
}

// -----

// Concatenation commutes with per-tensor quantization: both accumulators are
// requantized to the output scale (multipliers 0.01/0.1 = 0.1 and
// 0.02/0.1 = 0.2) and concatenated as i8; two pairs are removed.
// CHECK-LABEL: func.func @concat_fold
// CHECK-SAME: quantune.folded_pairs = 2
// CHECK-NOT: quantune.
// CHECK: arith.constant 1.000000e-01 : f32
// CHECK: arith.constant 2.000000e-01 : f32
// CHECK: tensor.concat dim(1) {{.*}} : (tensor<1x2xi8>, tensor<1x3xi8>) -> tensor<1x5xi8>
func.func @concat_fold(%a: tensor<1x2xi32>, %b: tensor<1x3xi32>) -> tensor<1x5xi8> {
  %da = quantune.dequantize %a qparams <si32, scale = 1.000000e-02> : tensor<1x2xi32> -> tensor<1x2xf32>
  %db = quantune.dequantize %b qparams <si32, scale = 2.000000e-02> : tensor<1x3xi32> -> tensor<1x3xf32>
  %c = tensor.concat dim(1) %da, %db : (tensor<1x2xf32>, tensor<1x3xf32>) -> tensor<1x5xf32>
  %q = quantune.quantize %c qparams <si8, scale = 1.000000e-01> : tensor<1x5xf32> -> tensor<1x5xi8>
  return %q : tensor<1x5xi8>
}

// -----

// ONNX Clip (ReLU6) as imported: bounds are 0-d constant tensors and the
// selects are select(x < lo, lo, x) and select(x > hi, hi, x). With s_out
// 0.05 and zp_out -100 the clamp is [q(0), q(6)] = [-100, 20].
#id = affine_map<(d0, d1) -> (d0, d1)>
#sc = affine_map<(d0, d1) -> ()>
// CHECK-LABEL: func.func @onnx_clip
// CHECK-SAME: quantune.folded_pairs = 1
// CHECK-NOT: quantune.
// Before the zero point is added, the clamp of v is [0, 120].
// CHECK: arith.constant 0.000000e+00 : f32
// CHECK-NEXT: arith.constant 1.200000e+02 : f32
// CHECK-NEXT: arith.maxnumf
// CHECK-NEXT: arith.minnumf
// CHECK: arith.constant 1262485604 : i32
func.func @onnx_clip(%acc: tensor<1x2xi32>) -> tensor<1x2xi8> {
  %lo = arith.constant dense<0.0> : tensor<f32>
  %hi = arith.constant dense<6.0> : tensor<f32>
  %d = quantune.dequantize %acc qparams <si32, scale = 1.000000e-02> : tensor<1x2xi32> -> tensor<1x2xf32>
  %e = tensor.empty() : tensor<1x2xf32>
  %c = linalg.generic {indexing_maps = [#id, #sc, #sc, #id], iterator_types = ["parallel", "parallel"]}
      ins(%d, %lo, %hi : tensor<1x2xf32>, tensor<f32>, tensor<f32>) outs(%e : tensor<1x2xf32>) {
  ^bb0(%x: f32, %l: f32, %h: f32, %o: f32):
    %0 = arith.cmpf ult, %x, %l : f32
    %1 = arith.select %0, %l, %x : f32
    %2 = arith.cmpf ugt, %1, %h : f32
    %3 = arith.select %2, %h, %1 : f32
    linalg.yield %3 : f32
  } -> tensor<1x2xf32>
  %q = quantune.quantize %c qparams <si8, scale = 5.000000e-02, zero_point = -100> : tensor<1x2xf32> -> tensor<1x2xi8>
  return %q : tensor<1x2xi8>
}

// -----

// An activation that does not commute with quantization, between two int8
// layers: SiLU as ONNX exports it (Sigmoid, then Mul with its input), here
// x * (1 / (1 + exp(-x))). One epilogue dequantizes (acc * 0.01), applies the
// two ops in f32 and quantizes (/ 0.05, + 3, clamp to [-128, 127]): the f32
// tensors between the layers are gone and the pair counts as folded.
// CHECK-LABEL: func.func @silu(
// CHECK-SAME:      %[[ACC:[^:]+]]: tensor<1x4xi32>) -> tensor<1x4xi8> attributes {quantune.folded_pairs = 1 : i64}
// CHECK-NOT:     quantune.
// CHECK:         linalg.generic {{.*}} ins(%[[ACC]] : tensor<1x4xi32>) outs(%{{.+}} : tensor<1x4xi8>)
// CHECK-NEXT:    ^bb0(%[[A:.+]]: i32, %{{.+}}: i8):
// CHECK-NEXT:      %[[F:.+]] = arith.sitofp %[[A]] : i32 to f32
// CHECK-NEXT:      %[[Z:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:      %[[FZ:.+]] = arith.subf %[[F]], %[[Z]] : f32
// CHECK-NEXT:      %[[S:.+]] = arith.constant 0.00999999977 : f32
// CHECK-NEXT:      %[[X:.+]] = arith.mulf %[[FZ]], %[[S]] : f32
// CHECK-NEXT:      %[[N:.+]] = arith.negf %[[X]] : f32
// CHECK-NEXT:      %[[E:.+]] = math.exp %[[N]] : f32
// CHECK-NEXT:      %[[D:.+]] = arith.addf %[[E]], %{{.+}} : f32
// CHECK-NEXT:      %[[SIG:.+]] = arith.divf %{{.+}}, %[[D]] : f32
// CHECK-NEXT:      %[[Y:.+]] = arith.mulf %[[X]], %[[SIG]] : f32
// CHECK-NEXT:      %[[OS:.+]] = arith.constant 5.000000e-02 : f32
// CHECK-NEXT:      %[[Q:.+]] = arith.divf %[[Y]], %[[OS]] : f32
// CHECK:           arith.maxnumf %[[Q]], %{{.+}} : f32
// CHECK:           arith.trunci %{{.+}} : i32 to i8
// CHECK-NOT:     quantune.
#id2 = affine_map<(d0, d1) -> (d0, d1)>
func.func @silu(%acc: tensor<1x4xi32>) -> tensor<1x4xi8> {
  %d = quantune.dequantize %acc qparams <si32, scale = 0.01> : tensor<1x4xi32> -> tensor<1x4xf32>
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<1x4xf32>
  %sig = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%d : tensor<1x4xf32>) outs(%e : tensor<1x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    %x = math.exp %n : f32
    %den = arith.addf %x, %one : f32
    %s = arith.divf %one, %den : f32
    linalg.yield %s : f32
  } -> tensor<1x4xf32>
  %silu = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%d, %sig : tensor<1x4xf32>, tensor<1x4xf32>) outs(%e : tensor<1x4xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<1x4xf32>
  %q = quantune.quantize %silu qparams <si8, scale = 0.05, zero_point = 3> : tensor<1x4xf32> -> tensor<1x4xi8>
  return %q : tensor<1x4xi8>
}

// -----

// HardSwish with a 0-d constant operand (as ONNX Clip bounds arrive), and a
// ReLU6 after it: the clamp becomes the epilogue's integer bounds, the
// function is applied in f32 before them.
// CHECK-LABEL: func.func @hardswish_then_relu6(
// CHECK-SAME:      attributes {quantune.folded_pairs = 1 : i64}
// CHECK:         %[[THREE:.+]] = arith.constant dense<3.000000e+00> : tensor<f32>
// CHECK:         linalg.generic {{.*}} ins(%{{.+}}, %[[THREE]] : tensor<1x4xi32>, tensor<f32>)
// The clamp: ReLU6's [0, 6] at scale 0.1 is [0, 60] before the zero point
// 3 is added (offset 0x4B400000 - 3).
// CHECK:           %[[OS:.+]] = arith.constant 1.000000e-01 : f32
// CHECK-NEXT:      %[[Q:.+]] = arith.divf %{{.+}}, %[[OS]] : f32
// CHECK-NEXT:      %[[QLO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:      %[[QHI:.+]] = arith.constant 6.000000e+01 : f32
// CHECK-NEXT:      arith.maxnumf %[[Q]], %[[QLO]] : f32
// CHECK-NEXT:      arith.minnumf %{{.+}}, %[[QHI]] : f32
// CHECK:           arith.constant 1262485501 : i32
// CHECK-NOT:     quantune.
func.func @hardswish_then_relu6(%acc: tensor<1x4xi32>) -> tensor<1x4xi8> {
  %d = quantune.dequantize %acc qparams <si32, scale = 0.01> : tensor<1x4xi32> -> tensor<1x4xf32>
  %three = arith.constant dense<3.0> : tensor<f32>
  %zero = arith.constant 0.0 : f32
  %six = arith.constant 6.0 : f32
  %e = tensor.empty() : tensor<1x4xf32>
  %hs = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> ()>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%d, %three : tensor<1x4xf32>, tensor<f32>) outs(%e : tensor<1x4xf32>) {
  ^bb0(%in: f32, %t: f32, %out: f32):
    %a = arith.addf %in, %t : f32
    %lo = arith.maximumf %a, %zero : f32
    %hi = arith.minimumf %lo, %six : f32
    %m = arith.mulf %in, %hi : f32
    %r = arith.divf %m, %six : f32
    linalg.yield %r : f32
  } -> tensor<1x4xf32>
  %r6 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%hs : tensor<1x4xf32>) outs(%e : tensor<1x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %lo = arith.maximumf %in, %zero : f32
    %hi = arith.minimumf %lo, %six : f32
    linalg.yield %hi : f32
  } -> tensor<1x4xf32>
  %q = quantune.quantize %r6 qparams <si8, scale = 0.1, zero_point = 3> : tensor<1x4xf32> -> tensor<1x4xi8>
  return %q : tensor<1x4xi8>
}
