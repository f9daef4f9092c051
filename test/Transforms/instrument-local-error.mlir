// RUN: split-file %s %t
// RUN: quantune-opt %t/local-error.mlir --split-input-file --quantune-instrument="mode=local-error" | FileCheck %s
// RUN: quantune-opt %t/bad-bits.mlir --verify-diagnostics --quantune-instrument="mode=local-error bits=1"
// RUN: quantune-opt %t/invalid.mlir --split-input-file --verify-diagnostics --quantune-instrument="mode=local-error"
// RUN: quantune-opt %t/shadow.mlir --quantune-instrument="mode=local-error shadow=true" | FileCheck %t/shadow.mlir --check-prefix=SHADOW
// RUN: quantune-opt %t/refused.mlir --split-input-file --verify-diagnostics --quantune-instrument="mode=local-error" | FileCheck %t/refused.mlir --check-prefix=REFUSED

//--- local-error.mlir

// A matmul: its quantized twin runs on Q(x) and Q(W) with the same init, and
// sum y^2, sum (y - y')^2 and the element count of y are returned. The sums
// are accumulated and returned in f64 (in f32 they overflow to inf on large
// activations); each element is extended to f64 before it is squared.
// The weight is quantized per output channel (the columns of the K x N
// weight): column 0 has scale 1/127, so -0.5 becomes -64/127 = -0.503937;
// column 1 has scale 0.3/127, so 0.26 becomes 110 * 0.3/127 = 0.259842545.

// CHECK-DAG:   #[[ID2:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG:   #[[SCALAR2:.+]] = affine_map<(d0, d1) -> ()>
// CHECK-DAG:   #[[COLUMN:.+]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @matmul(
// CHECK-SAME:      %[[X:.+]]: tensor<3x2xf32>)
// CHECK-SAME:      -> (tensor<3x2xf32>, tensor<f64>, tensor<f64>, tensor<2xf64>, tensor<i32>)
// CHECK-SAME:      attributes {quantune.probe_outputs = ["0:sum_y2", "0:sum_err2", "0:sum_err", "0:count"]}
// CHECK:         %[[W:.+]] = arith.constant dense<{{\[\[}}1.000000e+00, 3.000000e-01], [-5.000000e-01, 2.600000e-01]]> : tensor<2x2xf32>
// CHECK:         %[[INIT:.+]] = linalg.fill
// CHECK:         %[[Y:.+]] = linalg.matmul {{{.*}}quantune.layer = 0 : i64{{.*}}} ins(%[[X]], %[[W]] : tensor<3x2xf32>, tensor<2x2xf32>) outs(%[[INIT]] : tensor<3x2xf32>)
// Q(x) = (clamp(roundeven(x / 0.5) + (-3), -128, 127) - (-3)) * 0.5.
// CHECK:         %[[FQX:.+]] = linalg.generic {indexing_maps = [#[[ID2]], #[[ID2]]], iterator_types = ["parallel", "parallel"]} ins(%[[X]] : tensor<3x2xf32>)
// CHECK-NEXT:    ^bb0(%[[E:.+]]: f32, %{{.+}}: f32):
// CHECK-NEXT:      %[[S:.+]] = arith.constant 5.000000e-01 : f32
// CHECK-NEXT:      %[[ZP:.+]] = arith.constant -3.000000e+00 : f32
// CHECK-NEXT:      %[[DIV:.+]] = arith.divf %[[E]], %[[S]] : f32
// CHECK-NEXT:      %[[RND:.+]] = math.roundeven %[[DIV]] : f32
// CHECK-NEXT:      %[[SHIFT:.+]] = arith.addf %[[RND]], %[[ZP]] : f32
// CHECK-NEXT:      %[[QMIN:.+]] = arith.constant -1.280000e+02 : f32
// CHECK-NEXT:      %[[LO:.+]] = arith.maximumf %[[SHIFT]], %[[QMIN]] : f32
// CHECK-NEXT:      %[[QMAX:.+]] = arith.constant 1.270000e+02 : f32
// CHECK-NEXT:      %[[HI:.+]] = arith.minimumf %[[LO]], %[[QMAX]] : f32
// CHECK-NEXT:      %[[UNSHIFT:.+]] = arith.subf %[[HI]], %[[ZP]] : f32
// CHECK-NEXT:      %[[DQ:.+]] = arith.mulf %[[UNSHIFT]], %[[S]] : f32
// CHECK-NEXT:      linalg.yield %[[DQ]] : f32
// CHECK:         %[[FQW:.+]] = arith.constant dense<{{\[\[}}1.000000e+00, 3.000000e-01], [-5.039370e-01, 0.259842545]]> : tensor<2x2xf32>
// The twin carries no quantune attributes.
// CHECK-NEXT:    %[[TWIN:.+]] = linalg.matmul ins(%[[FQX]], %[[FQW]] : tensor<3x2xf32>, tensor<2x2xf32>) outs(%[[INIT]] : tensor<3x2xf32>)
// CHECK:         %[[E1:.+]] = tensor.empty() : tensor<f64>
// CHECK-NEXT:    %[[Z1:.+]] = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %[[I1:.+]] = linalg.fill ins(%[[Z1]] : f64) outs(%[[E1]] : tensor<f64>) -> tensor<f64>
// CHECK-NEXT:    %[[SUMY2:.+]] = linalg.generic {indexing_maps = [#[[ID2]], #[[SCALAR2]]], iterator_types = ["reduction", "reduction"]} ins(%[[Y]] : tensor<3x2xf32>) outs(%[[I1]] : tensor<f64>)
// CHECK-NEXT:    ^bb0(%[[A:.+]]: f32, %[[ACC:.+]]: f64):
// CHECK-NEXT:      %[[AW:.+]] = arith.extf %[[A]] : f32 to f64
// CHECK-NEXT:      %[[SQ:.+]] = arith.mulf %[[AW]], %[[AW]] : f64
// CHECK-NEXT:      %[[ADD:.+]] = arith.addf %[[ACC]], %[[SQ]] : f64
// CHECK-NEXT:      linalg.yield %[[ADD]] : f64
// CHECK-NEXT:    } -> tensor<f64>
// CHECK:         %[[SUMERR2:.+]] = linalg.generic {indexing_maps = [#[[ID2]], #[[ID2]], #[[SCALAR2]]], iterator_types = ["reduction", "reduction"]} ins(%[[Y]], %[[TWIN]] : tensor<3x2xf32>, tensor<3x2xf32>) outs(%{{.+}} : tensor<f64>)
// CHECK-NEXT:    ^bb0(%[[A:.+]]: f32, %[[B:.+]]: f32, %[[ACC:.+]]: f64):
// CHECK-NEXT:      %[[AW:.+]] = arith.extf %[[A]] : f32 to f64
// CHECK-NEXT:      %[[BW:.+]] = arith.extf %[[B]] : f32 to f64
// CHECK-NEXT:      %[[ERR:.+]] = arith.subf %[[AW]], %[[BW]] : f64
// CHECK-NEXT:      %[[SQ:.+]] = arith.mulf %[[ERR]], %[[ERR]] : f64
// CHECK-NEXT:      %[[ADD:.+]] = arith.addf %[[ACC]], %[[SQ]] : f64
// CHECK-NEXT:      linalg.yield %[[ADD]] : f64
// CHECK-NEXT:    } -> tensor<f64>
// sum (y - y') per output channel (the columns of y), for bias correction:
// rows are reduced, columns kept.
// CHECK:         %[[E2:.+]] = tensor.empty() : tensor<2xf64>
// CHECK-NEXT:    %[[Z2:.+]] = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %[[I2:.+]] = linalg.fill ins(%[[Z2]] : f64) outs(%[[E2]] : tensor<2xf64>) -> tensor<2xf64>
// CHECK-NEXT:    %[[SUMERR:.+]] = linalg.generic {indexing_maps = [#[[ID2]], #[[ID2]], #[[COLUMN]]], iterator_types = ["reduction", "parallel"]} ins(%[[Y]], %[[TWIN]] : tensor<3x2xf32>, tensor<3x2xf32>) outs(%[[I2]] : tensor<2xf64>)
// CHECK-NEXT:    ^bb0(%[[A:.+]]: f32, %[[B:.+]]: f32, %[[ACC:.+]]: f64):
// CHECK-NEXT:      %[[AW:.+]] = arith.extf %[[A]] : f32 to f64
// CHECK-NEXT:      %[[BW:.+]] = arith.extf %[[B]] : f32 to f64
// CHECK-NEXT:      %[[ERR:.+]] = arith.subf %[[AW]], %[[BW]] : f64
// CHECK-NEXT:      %[[ADD:.+]] = arith.addf %[[ACC]], %[[ERR]] : f64
// CHECK-NEXT:      linalg.yield %[[ADD]] : f64
// CHECK-NEXT:    } -> tensor<2xf64>
// CHECK:         %[[COUNT:.+]] = arith.constant dense<6> : tensor<i32>
// CHECK-NEXT:    return %[[Y]], %[[SUMY2]], %[[SUMERR2]], %[[SUMERR]], %[[COUNT]] : tensor<3x2xf32>, tensor<f64>, tensor<f64>, tensor<2xf64>, tensor<i32>
func.func @matmul(%x: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, 0.3], [-0.5, 0.26]]> : tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %y = linalg.matmul {quantune.layer = 0 : i64, quantune.name = "fc", quantune.act_qparams = #quantune.qparams<si8, scale = 0.5, zero_point = -3>}
    ins(%x, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----

// A conv whose init holds a broadcast bias: the twin reuses it. The weight
// channels are along the F axis; ui8 storage clamps to [0, 255].
// CHECK-LABEL: func.func @conv(
// CHECK-SAME:      -> (tensor<1x2x3x2xf32>, tensor<f64>, tensor<f64>, tensor<2xf64>, tensor<i32>)
// CHECK-SAME:      attributes {quantune.probe_outputs = ["1:sum_y2", "1:sum_err2", "1:sum_err", "1:count"]}
// CHECK:         %[[BIAS:.+]] = linalg.broadcast
// CHECK:         %[[Y:.+]] = linalg.conv_2d_nchw_fchw {{.*}}quantune.layer = 1 : i64{{.*}} outs(%[[BIAS]] : tensor<1x2x3x2xf32>)
// CHECK:         %[[FQX:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel"]
// CHECK:           arith.constant 1.250000e-01 : f32
// CHECK:           arith.constant 1.280000e+02 : f32
// CHECK:           math.roundeven
// CHECK:           arith.constant 0.000000e+00 : f32
// CHECK:           arith.maximumf
// CHECK:           arith.constant 2.550000e+02 : f32
// CHECK:           arith.minimumf
// CHECK:         %[[FQW:.+]] = arith.constant dense<{{\[\[\[\[}}1.000000e+00, 0.299212605]]], {{\[\[\[}}-5.000000e-01, 0.259842515]]]]> : tensor<2x1x1x2xf32>
// CHECK-NEXT:    %[[TWIN:.+]] = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%[[FQX]], %[[FQW]] : tensor<1x1x3x3xf32>, tensor<2x1x1x2xf32>) outs(%[[BIAS]] : tensor<1x2x3x2xf32>)
// CHECK:         linalg.generic {{.*}} ins(%[[Y]], %[[TWIN]] :
// The per-channel sums keep the F axis (dimension 1 of the NCHW output).
// CHECK:         linalg.generic {indexing_maps = [#{{.+}}, #{{.+}}, #[[FAXIS:.+]]], iterator_types = ["reduction", "parallel", "reduction", "reduction"]} ins(%[[Y]], %[[TWIN]] : {{.*}}) outs(%{{.+}} : tensor<2xf64>)
// CHECK:         %[[COUNT:.+]] = arith.constant dense<12> : tensor<i32>
// CHECK-NEXT:    return %[[Y]], %{{.+}}, %{{.+}}, %{{.+}}, %[[COUNT]] :
func.func @conv(%x: tensor<1x1x3x3xf32>) -> tensor<1x2x3x2xf32> {
  %w = arith.constant dense<[[[[1.0, 0.3]]], [[[-0.5, 0.26]]]]> : tensor<2x1x1x2xf32>
  %bias = arith.constant dense<[0.25, -1.0]> : tensor<2xf32>
  %e = tensor.empty() : tensor<1x2x3x2xf32>
  %b = linalg.broadcast ins(%bias : tensor<2xf32>) outs(%e : tensor<1x2x3x2xf32>) dimensions = [0, 2, 3]
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>, quantune.layer = 1 : i64, quantune.act_qparams = #quantune.qparams<ui8, scale = 0.125, zero_point = 128>}
    ins(%x, %w : tensor<1x1x3x3xf32>, tensor<2x1x1x2xf32>) outs(%b : tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  return %y : tensor<1x2x3x2xf32>
}

// -----

// The weight reaches the layer through a transpose (ONNX Gemm with transB):
// the fake-quantized constant keeps the constant's layout (channels along
// its axis 0) and goes through a clone of the transpose. Zero point 0 adds
// no shift.
// CHECK-LABEL: func.func @transposed(
// CHECK:         %[[W:.+]] = arith.constant dense<{{\[\[}}1.000000e+00, 3.000000e-01, 0.000000e+00], [-5.000000e-01, 2.600000e-01, 1.000000e-01]]> : tensor<2x3xf32>
// CHECK:         %[[ET:.+]] = tensor.empty() : tensor<3x2xf32>
// CHECK:         %[[WT:.+]] = linalg.transpose ins(%[[W]] : tensor<2x3xf32>) outs(%[[ET]] : tensor<3x2xf32>) permutation = [1, 0]
// CHECK:         %[[Y:.+]] = linalg.matmul {{.*}} ins(%{{.+}}, %[[WT]] :
// CHECK:         %[[FQX:.+]] = linalg.generic
// CHECK-NOT:       arith.addf
// CHECK-NOT:       arith.subf
// CHECK:           math.roundeven
// CHECK:         } -> tensor<4x3xf32>
// CHECK-NEXT:    %[[FQW:.+]] = arith.constant dense<{{\[\[}}1.000000e+00, 0.299212605, 0.000000e+00], [-5.000000e-01, 0.259842515, 0.0984251946]]> : tensor<2x3xf32>
// CHECK-NEXT:    %[[FQWT:.+]] = linalg.transpose ins(%[[FQW]] : tensor<2x3xf32>) outs(%[[ET]] : tensor<3x2xf32>) permutation = [1, 0]
// CHECK-NEXT:    %[[TWIN:.+]] = linalg.matmul ins(%[[FQX]], %[[FQWT]] : tensor<4x3xf32>, tensor<3x2xf32>)
// CHECK:         return %[[Y]],
func.func @transposed(%x: tensor<4x3xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[[1.0, 0.3, 0.0], [-0.5, 0.26, 0.1]]> : tensor<2x3xf32>
  %et = tensor.empty() : tensor<3x2xf32>
  %wt = linalg.transpose ins(%w : tensor<2x3xf32>) outs(%et : tensor<3x2xf32>) permutation = [1, 0]
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<4x2xf32>) -> tensor<4x2xf32>
  %y = linalg.matmul {quantune.layer = 2 : i64, quantune.act_qparams = #quantune.qparams<si8, scale = 0.25>}
    ins(%x, %wt : tensor<4x3xf32>, tensor<3x2xf32>) outs(%init : tensor<4x2xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

// Candidate ranges: one twin per candidate (each with its own input
// quantization, all sharing the quantized weight), each with its sums,
// suffixed by the candidate index. act_qparams itself is not measured.
// CHECK-LABEL: func.func @candidates(
// CHECK-SAME:      -> (tensor<3x2xf32>, tensor<f64>, tensor<f64>, tensor<2xf64>, tensor<f64>, tensor<2xf64>, tensor<i32>)
// CHECK-SAME:      attributes {quantune.probe_outputs = ["7:sum_y2", "7:sum_err2.0", "7:sum_err.0", "7:sum_err2.1", "7:sum_err.1", "7:count"]}
// CHECK:         %[[Y:.+]] = linalg.matmul {{.*}}quantune.layer = 7 : i64
// CHECK:         %[[FQX0:.+]] = linalg.generic
// CHECK:           arith.constant 2.500000e-01 : f32
// CHECK-NOT:       arith.constant 5.000000e-01 : f32
// CHECK:         %[[FQW:.+]] = arith.constant dense<{{.*}}> : tensor<2x2xf32>
// CHECK-NEXT:    %[[TWIN0:.+]] = linalg.matmul ins(%[[FQX0]], %[[FQW]] :
// CHECK:         %[[FQX1:.+]] = linalg.generic
// CHECK:           arith.constant 1.250000e-01 : f32
// CHECK:         %[[TWIN1:.+]] = linalg.matmul ins(%[[FQX1]], %[[FQW]] :
// CHECK:         linalg.generic {{.*}} ins(%[[Y]] : tensor<3x2xf32>) outs(%{{.+}} : tensor<f64>)
// CHECK:         linalg.generic {{.*}} ins(%[[Y]], %[[TWIN0]] : {{.*}}) outs(%{{.+}} : tensor<f64>)
// CHECK:         linalg.generic {{.*}} ins(%[[Y]], %[[TWIN0]] : {{.*}}) outs(%{{.+}} : tensor<2xf64>)
// CHECK:         linalg.generic {{.*}} ins(%[[Y]], %[[TWIN1]] : {{.*}}) outs(%{{.+}} : tensor<f64>)
// CHECK:         linalg.generic {{.*}} ins(%[[Y]], %[[TWIN1]] : {{.*}}) outs(%{{.+}} : tensor<2xf64>)
func.func @candidates(%x: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, 0.3], [-0.5, 0.26]]> : tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %y = linalg.matmul {quantune.layer = 7 : i64, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>,
                      quantune.act_qparams_candidates = [#quantune.qparams<si8, scale = 0.25>, #quantune.qparams<si8, scale = 0.125, zero_point = 4>]}
    ins(%x, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----

// Skipped: a layer without act_qparams (silently: the analysis gives
// act_qparams to candidates only), a layer with act_qparams whose weight is
// not a constant (it stays f32 with a reason and a warning, see
// refused.mlir) and a layer that already has a reason. Only layer 5 is
// instrumented.
// CHECK-LABEL: func.func @skipped(
// CHECK-SAME:      -> (tensor<2x2xf32>, tensor<f64>, tensor<f64>, tensor<2xf64>, tensor<i32>)
// CHECK-SAME:      attributes {quantune.probe_outputs = ["5:sum_y2", "5:sum_err2", "5:sum_err", "5:count"]}
// CHECK:         linalg.matmul {quantune.layer = 3 : i64} ins(
// CHECK:         linalg.matmul {{{.*}}quantune.layer = 4 : i64, quantune.precision = #quantune.precision<f32>, quantune.reason = "weight is not a constant (it is a function argument)"} ins(
// CHECK:         linalg.matmul {{{.*}}quantune.layer = 6 : i64, quantune.reason = "set earlier"} ins(
// CHECK:         linalg.matmul {{{.*}}quantune.layer = 5 : i64} ins(
// CHECK-NOT:     linalg.matmul {
// CHECK:         linalg.matmul ins(
// CHECK-NOT:     linalg.matmul
// CHECK:         return
func.func @skipped(%x: tensor<2x2xf32>, %wa: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<2x2xf32>) -> tensor<2x2xf32>
  %0 = linalg.matmul {quantune.layer = 3 : i64}
    ins(%x, %w : tensor<2x2xf32>, tensor<2x2xf32>) outs(%init : tensor<2x2xf32>) -> tensor<2x2xf32>
  %1 = linalg.matmul {quantune.layer = 4 : i64, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
    ins(%0, %wa : tensor<2x2xf32>, tensor<2x2xf32>) outs(%init : tensor<2x2xf32>) -> tensor<2x2xf32>
  %r = linalg.matmul {quantune.layer = 6 : i64, quantune.reason = "set earlier", quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
    ins(%1, %w : tensor<2x2xf32>, tensor<2x2xf32>) outs(%init : tensor<2x2xf32>) -> tensor<2x2xf32>
  %2 = linalg.matmul {quantune.layer = 5 : i64, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
    ins(%r, %w : tensor<2x2xf32>, tensor<2x2xf32>) outs(%init : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %2 : tensor<2x2xf32>
}

// -----

// No layer qualifies: the function is unchanged.
// CHECK-LABEL: func.func @nothing(
// CHECK-SAME:      -> tensor<2x2xf32> {
// CHECK-NOT:     quantune.probe_outputs
// CHECK-NOT:     linalg.generic
// CHECK:         return
func.func @nothing(%x: tensor<2x2xf32>, %w: tensor<2x2xf32>, %init: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
    ins(%x, %w : tensor<2x2xf32>, tensor<2x2xf32>) outs(%init : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

//--- bad-bits.mlir

// expected-error @below {{quantune-instrument: bits must be between 2 and 16, got 1}}
module {
}

//--- invalid.mlir

func.func @per_channel(%x: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<2x2xf32>) -> tensor<2x2xf32>
  // expected-error @below {{layer 0: 'quantune.act_qparams' must be a per-tensor #quantune.qparams, got #quantune.qparams<si8, axis = 1, scales = [5.000000e-01, 2.500000e-01]>}}
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.act_qparams = #quantune.qparams<si8, axis = 1, scales = [0.5, 0.25]>}
    ins(%x, %w : tensor<2x2xf32>, tensor<2x2xf32>) outs(%init : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

func.func @not_qparams(%x: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<2x2xf32>) -> tensor<2x2xf32>
  // expected-error @below {{layer 0: 'quantune.act_qparams' must be a per-tensor #quantune.qparams, got 5.000000e-01 : f32}}
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.act_qparams = 0.5 : f32}
    ins(%x, %w : tensor<2x2xf32>, tensor<2x2xf32>) outs(%init : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

func.func @non_finite(%x: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<[[1.0, 0x7FC00000], [3.0, 0x7F800000]]> : tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<2x2xf32>) -> tensor<2x2xf32>
  // expected-error @below {{layer 0 has 2 NaN or infinite weight value(s)}}
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
    ins(%x, %w : tensor<2x2xf32>, tensor<2x2xf32>) outs(%init : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

//--- refused.mlir

// A candidate (a layer with act_qparams and no reason) that cannot be
// measured gets no probe; it stays f32 with a reason and a warning, and the
// other layers are still instrumented.
// REFUSED-LABEL: func.func @weight_argument(
// REFUSED-SAME:      -> (tensor<2x2xf32>, tensor<f64>, tensor<f64>, tensor<2xf64>, tensor<i32>)
// REFUSED-SAME:      attributes {quantune.probe_outputs = ["1:sum_y2", "1:sum_err2", "1:sum_err", "1:count"]}
// REFUSED:         linalg.matmul {{{.*}}quantune.layer = 0 : i64, quantune.name = "proj", quantune.precision = #quantune.precision<f32>, quantune.reason = "weight is not a constant (it is a function argument)"}
func.func @weight_argument(%x: tensor<2x2xf32>, %wa: tensor<2x2xf32>, %init: tensor<2x2xf32>) -> tensor<2x2xf32> {
  // expected-warning @below {{quantune-instrument: layer 0 ('proj') gets no probe and stays f32: weight is not a constant (it is a function argument)}}
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.name = "proj", quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
    ins(%x, %wa : tensor<2x2xf32>, tensor<2x2xf32>) outs(%init : tensor<2x2xf32>) -> tensor<2x2xf32>
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %1 = linalg.matmul {quantune.layer = 1 : i64, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
    ins(%0, %w : tensor<2x2xf32>, tensor<2x2xf32>) outs(%init : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %1 : tensor<2x2xf32>
}

// -----

// The input is not a float tensor (linalg.matmul converts it).
// REFUSED-LABEL: func.func @int_input(
// REFUSED-SAME:      -> tensor<2x2xf32> {
// REFUSED:         linalg.matmul {{{.*}}quantune.precision = #quantune.precision<f32>, quantune.reason = "input is not a ranked tensor of floats"}
func.func @int_input(%x: tensor<2x2xi32>, %init: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  // expected-warning @below {{quantune-instrument: layer 0 gets no probe and stays f32: input is not a ranked tensor of floats}}
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
    ins(%x, %w : tensor<2x2xi32>, tensor<2x2xf32>) outs(%init : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

// A layer on memrefs has no tensor result to measure.
// REFUSED-LABEL: func.func @buffers(
// REFUSED:         linalg.matmul {{{.*}}quantune.precision = #quantune.precision<f32>, quantune.reason = "does not have tensor semantics"}
func.func @buffers(%x: memref<2x2xf32>, %w: memref<2x2xf32>, %out: memref<2x2xf32>) {
  // expected-warning @below {{quantune-instrument: layer 0 gets no probe and stays f32: does not have tensor semantics}}
  linalg.matmul {quantune.layer = 0 : i64, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
    ins(%x, %w : memref<2x2xf32>, memref<2x2xf32>) outs(%out : memref<2x2xf32>)
  return
}

//--- shadow.mlir

// shadow=true: three trailing arguments, the layer selector, the candidate
// index and the per-channel correction (as long as the largest output
// channel count: 3, layer 1's). The selected layer passes on the twin of
// the given candidate plus its channels' corrections (the first C values)
// instead of its fp32 result. The layer's own probes still compare the fp32
// result with each twin, and the next layer reads the switched value.
// SHADOW-DAG:     #[[ID:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// SHADOW-DAG:     #[[SCALAR:.+]] = affine_map<(d0, d1) -> ()>
// SHADOW-DAG:     #[[CHANNEL:.+]] = affine_map<(d0, d1) -> (d1)>
// SHADOW-LABEL: func.func @two(
// SHADOW-SAME:      %[[X:[^:]+]]: tensor<3x2xf32>, %[[SEL:[^:]+]]: tensor<i32>, %[[CAND:[^:]+]]: tensor<i32>, %[[CORR:[^:]+]]: tensor<3xf32>)
// SHADOW-SAME:      quantune.shadow_channels = 3 : i64
// SHADOW:         %[[Y:.+]] = linalg.matmul {{{.*}}quantune.layer = 0 : i64{{.*}}} ins(%[[X]],
// SHADOW:         %[[TWIN0:.+]] = linalg.matmul ins(
// SHADOW:         %[[TWIN1:.+]] = linalg.matmul ins(
// SHADOW:         %[[C0:.+]] = tensor.extract_slice %[[CORR]][0] [2] [1] : tensor<3xf32> to tensor<2xf32>
// SHADOW:         %[[FED:.+]] = linalg.generic {indexing_maps = [#[[ID]], #[[ID]], #[[SCALAR]], #[[CHANNEL]], #[[ID]]], {{.*}} ins(%[[TWIN0]], %[[TWIN1]], %[[CAND]], %[[C0]] :
// SHADOW-NEXT:    ^bb0(%[[T0:.+]]: f32, %[[T1:.+]]: f32, %[[K:.+]]: i32, %[[C:.+]]: f32, %{{.+}}: f32):
// SHADOW-NEXT:      %[[ONE:.+]] = arith.constant 1 : i32
// SHADOW-NEXT:      %[[IS1:.+]] = arith.cmpi eq, %[[K]], %[[ONE]] : i32
// SHADOW-NEXT:      %[[PICK:.+]] = arith.select %[[IS1]], %[[T1]], %[[T0]] : f32
// SHADOW-NEXT:      %[[SUM:.+]] = arith.addf %[[PICK]], %[[C]] : f32
// SHADOW-NEXT:      linalg.yield %[[SUM]] : f32
// SHADOW:         %[[SW:.+]] = linalg.generic {{.*}} ins(%[[FED]], %[[Y]], %[[SEL]] : tensor<3x2xf32>, tensor<3x2xf32>, tensor<i32>)
// SHADOW:           %[[ID0:.+]] = arith.constant 0 : i32
// SHADOW-NEXT:      %[[IS:.+]] = arith.cmpi eq, %{{.+}}, %[[ID0]] : i32
// SHADOW-NEXT:      arith.select %[[IS]]
// SHADOW:         linalg.generic {{.*}} ins(%[[Y]], %[[TWIN0]] : {{.*}}) outs(%{{.+}} : tensor<f64>)
// SHADOW:         %[[Z:.+]] = linalg.matmul {{{.*}}quantune.layer = 1 : i64{{.*}}} ins(%[[SW]],
// Layer 1 has one candidate: its twin, plus all three corrections.
// SHADOW:         %[[TWINZ:.+]] = linalg.matmul ins(
// SHADOW:         %[[C1:.+]] = tensor.extract_slice %[[CORR]][0] [3] [1] : tensor<3xf32> to tensor<3xf32>
// SHADOW:         %[[FEDZ:.+]] = linalg.generic {{.*}} ins(%[[TWINZ]], %[[CAND]], %[[C1]] :
// SHADOW:         %[[SWZ:.+]] = linalg.generic {{.*}} ins(%[[FEDZ]], %[[Z]], %[[SEL]] :
// SHADOW:         %[[OUT:.+]] = tensor.extract_slice %[[SWZ]]
// SHADOW:         return %[[OUT]],
func.func @two(%x: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, 0.3], [-0.5, 0.26]]> : tensor<2x2xf32>
  %w2 = arith.constant dense<[[1.0, 0.3, 0.1], [-0.5, 0.26, 0.2]]> : tensor<2x3xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %e3 = tensor.empty() : tensor<3x3xf32>
  %init3 = linalg.fill ins(%zero : f32) outs(%e3 : tensor<3x3xf32>) -> tensor<3x3xf32>
  %y = linalg.matmul {quantune.layer = 0 : i64, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5, zero_point = -3>,
                      quantune.act_qparams_candidates = [#quantune.qparams<si8, scale = 0.5, zero_point = -3>, #quantune.qparams<si8, scale = 0.25>]}
    ins(%x, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  %z = linalg.matmul {quantune.layer = 1 : i64, quantune.act_qparams = #quantune.qparams<si8, scale = 0.25>}
    ins(%y, %w2 : tensor<3x2xf32>, tensor<2x3xf32>) outs(%init3 : tensor<3x3xf32>) -> tensor<3x3xf32>
  %r = tensor.extract_slice %z[0, 0] [3, 2] [1, 1] : tensor<3x3xf32> to tensor<3x2xf32>
  return %r : tensor<3x2xf32>
}

