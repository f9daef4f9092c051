// RUN: split-file %s %t
// RUN: quantune-opt %t/layers.mlir --quantune-fake-quantize | FileCheck %s
// RUN: quantune-opt %t/layers.mlir --quantune-fake-quantize=switchable=true | FileCheck %s --check-prefix=SWITCH
// RUN: quantune-opt %t/unsimulable.mlir --split-input-file --verify-diagnostics --quantune-fake-quantize | FileCheck %t/unsimulable.mlir --check-prefix=F32
// RUN: quantune-opt %t/unsimulable.mlir --split-input-file --quantune-fake-quantize="switchable=true" | FileCheck %s --check-prefix=SKIP
// RUN: quantune-opt %t/called.mlir --verify-diagnostics --quantune-fake-quantize="switchable=true"
// RUN: quantune-opt %t/correction.mlir --quantune-fake-quantize | FileCheck %t/correction.mlir --check-prefix=CORR
// RUN: quantune-opt %t/correction.mlir --quantune-fake-quantize=switchable=true | FileCheck %t/correction.mlir --check-prefix=CSWITCH
// RUN: quantune-opt %t/correction-size.mlir --verify-diagnostics --quantune-fake-quantize
// RUN: quantune-opt %t/i4.mlir --quantune-fake-quantize | FileCheck %t/i4.mlir --check-prefix=I4
// RUN: quantune-opt %t/i4.mlir --quantune-fake-quantize=switchable=true | FileCheck %t/i4.mlir --check-prefix=I4-SWITCH
// RUN: quantune-opt %t/i4.mlir --quantune-fake-quantize="switchable=true bits=4" | FileCheck %t/i4.mlir --check-prefix=I4-SWITCH4

//--- layers.mlir

// Three layers: 0 (i8, plain constant weight), 1 (f32) and 2 (i8, weight
// through a transpose). Weights are quantized per output channel: the
// columns of the K x N matmul weights, i.e. axis 0 of the constant that is
// transposed. Column 0 of %w has scale 1/127 (-0.5 -> -64/127 = -0.503937),
// column 1 has scale 0.3/127 (0.26 -> 110 * 0.3/127 = 0.259842545).

// CHECK-DAG:   #[[ID2:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @layers(
// CHECK-SAME:      %[[X:[^:]+]]: tensor<3x2xf32>) -> tensor<3x2xf32>
// The constants that only the simulated layers used are gone.
// CHECK-NOT:     dense<{{\[\[}}1.000000e+00, 3.000000e-01], [-5.000000e-01, 2.600000e-01]]>
// CHECK:         %[[W2:.+]] = arith.constant dense<{{\[\[}}1.000000e+00, 3.000000e-01, 0.000000e+00], [-5.000000e-01, 2.600000e-01, 1.000000e-01]]> : tensor<2x3xf32>
// CHECK-NOT:     linalg.transpose
// Layer 0: input and weight replaced in place.
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
// CHECK-NEXT:    %[[Y:.+]] = linalg.matmul {{{.*}}quantune.layer = 0 : i64{{.*}}} ins(%[[FQX]], %[[FQW]] : tensor<3x2xf32>, tensor<2x2xf32>)
// Layer 1 is f32: untouched.
// CHECK-NOT:     linalg.generic
// CHECK:         %[[Z:.+]] = linalg.matmul {{{.*}}quantune.layer = 1 : i64{{.*}}} ins(%[[Y]], %[[W2]] : tensor<3x2xf32>, tensor<2x3xf32>)
// Layer 2: the fake-quantized constant goes through a clone of the transpose.
// CHECK:         %[[FQZ:.+]] = linalg.generic {{.*}} ins(%[[Z]] : tensor<3x3xf32>)
// CHECK:         %[[FQW2:.+]] = arith.constant dense<{{\[\[}}1.000000e+00, 0.299212605, 0.000000e+00], [-5.000000e-01, 0.259842515, 0.0984251946]]> : tensor<2x3xf32>
// CHECK-NEXT:    %[[FQW2T:.+]] = linalg.transpose ins(%[[FQW2]] : tensor<2x3xf32>) outs(%{{.+}} : tensor<3x2xf32>) permutation = [1, 0]
// CHECK-NEXT:    %[[V:.+]] = linalg.matmul {{{.*}}quantune.layer = 2 : i64{{.*}}} ins(%[[FQZ]], %[[FQW2T]] : tensor<3x3xf32>, tensor<3x2xf32>)
// CHECK-NEXT:    return %[[V]] : tensor<3x2xf32>

// With switchable=true every layer with act_qparams and a constant weight,
// whatever its precision, gets selects on the trailing tensor<i32> argument.
// SWITCH-DAG:   #[[ID2:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// SWITCH-DAG:   #[[SCALAR2:.+]] = affine_map<(d0, d1) -> ()>
// SWITCH-LABEL: func.func @layers(
// SWITCH-SAME:      %[[X:[^:]+]]: tensor<3x2xf32>, %[[SEL:[^:]+]]: tensor<i32>) -> tensor<3x2xf32>
// SWITCH:         %[[W:.+]] = arith.constant dense<{{\[\[}}1.000000e+00, 3.000000e-01], [-5.000000e-01, 2.600000e-01]]> : tensor<2x2xf32>
// SWITCH:         %[[W2:.+]] = arith.constant dense<{{\[\[}}1.000000e+00, 3.000000e-01, 0.000000e+00], [-5.000000e-01, 2.600000e-01, 1.000000e-01]]> : tensor<2x3xf32>
// SWITCH:         %[[WT:.+]] = linalg.transpose ins(%[[W2]]
// x_sel = sel == 0 ? Q(x) : x, reading the selector through a map to ().
// SWITCH:         %[[XSEL:.+]] = linalg.generic {indexing_maps = [#[[ID2]], #[[SCALAR2]], #[[ID2]]], iterator_types = ["parallel", "parallel"]} ins(%[[X]], %[[SEL]] : tensor<3x2xf32>, tensor<i32>)
// SWITCH-NEXT:    ^bb0(%[[E:.+]]: f32, %[[S:.+]]: i32, %{{.+}}: f32):
// SWITCH:           %[[DQ:.+]] = arith.mulf
// SWITCH-NEXT:      %[[ID:.+]] = arith.constant 0 : i32
// SWITCH-NEXT:      %[[IS:.+]] = arith.cmpi eq, %[[S]], %[[ID]] : i32
// SWITCH-NEXT:      %[[R:.+]] = arith.select %[[IS]], %[[DQ]], %[[E]] : f32
// SWITCH-NEXT:      linalg.yield %[[R]] : f32
// W_sel = sel == 0 ? W' : W.
// SWITCH:         %[[FQW:.+]] = arith.constant dense<{{\[\[}}1.000000e+00, 3.000000e-01], [-5.039370e-01, 0.259842545]]> : tensor<2x2xf32>
// SWITCH:         %[[WSEL:.+]] = linalg.generic {indexing_maps = [#[[ID2]], #[[ID2]], #[[SCALAR2]], #[[ID2]]], iterator_types = ["parallel", "parallel"]} ins(%[[FQW]], %[[W]], %[[SEL]] : tensor<2x2xf32>, tensor<2x2xf32>, tensor<i32>)
// SWITCH-NEXT:    ^bb0(%[[A:.+]]: f32, %[[B:.+]]: f32, %[[S:.+]]: i32, %{{.+}}: f32):
// SWITCH-NEXT:      %[[ID:.+]] = arith.constant 0 : i32
// SWITCH-NEXT:      %[[IS:.+]] = arith.cmpi eq, %[[S]], %[[ID]] : i32
// SWITCH-NEXT:      %[[R:.+]] = arith.select %[[IS]], %[[A]], %[[B]] : f32
// SWITCH-NEXT:      linalg.yield %[[R]] : f32
// SWITCH:         %[[Y:.+]] = linalg.matmul {{{.*}}quantune.layer = 0 : i64{{.*}}} ins(%[[XSEL]], %[[WSEL]] :
// SWITCH:         arith.constant 1 : i32
// SWITCH:         %[[Z:.+]] = linalg.matmul {{{.*}}quantune.layer = 1 : i64{{.*}}} ins(%{{.+}}, %{{.+}} :
// SWITCH:         %[[FQW2:.+]] = arith.constant dense<{{\[\[}}1.000000e+00, 0.299212605, 0.000000e+00], [-5.000000e-01, 0.259842515, 0.0984251946]]> : tensor<2x3xf32>
// SWITCH-NEXT:    %[[FQW2T:.+]] = linalg.transpose ins(%[[FQW2]]
// SWITCH:         %[[W2SEL:.+]] = linalg.generic {{.*}} ins(%[[FQW2T]], %[[WT]], %[[SEL]] : tensor<3x2xf32>, tensor<3x2xf32>, tensor<i32>)
// SWITCH:           arith.constant 2 : i32
// SWITCH:         %[[V:.+]] = linalg.matmul {{{.*}}quantune.layer = 2 : i64{{.*}}} ins(%{{.+}}, %[[W2SEL]] :
// SWITCH-NEXT:    return %[[V]] : tensor<3x2xf32>
func.func @layers(%x: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, 0.3], [-0.5, 0.26]]> : tensor<2x2xf32>
  %w2 = arith.constant dense<[[1.0, 0.3, 0.0], [-0.5, 0.26, 0.1]]> : tensor<2x3xf32>
  %et = tensor.empty() : tensor<3x2xf32>
  %wt = linalg.transpose ins(%w2 : tensor<2x3xf32>) outs(%et : tensor<3x2xf32>) permutation = [1, 0]
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %y = linalg.matmul {quantune.layer = 0 : i64, quantune.name = "fc", quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5, zero_point = -3>}
    ins(%x, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  %e3 = tensor.empty() : tensor<3x3xf32>
  %init3 = linalg.fill ins(%zero : f32) outs(%e3 : tensor<3x3xf32>) -> tensor<3x3xf32>
  %z = linalg.matmul {quantune.layer = 1 : i64, quantune.precision = #quantune.precision<f32>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.25>}
    ins(%y, %w2 : tensor<3x2xf32>, tensor<2x3xf32>) outs(%init3 : tensor<3x3xf32>) -> tensor<3x3xf32>
  %v = linalg.matmul {quantune.layer = 2 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.25>}
    ins(%z, %wt : tensor<3x3xf32>, tensor<3x2xf32>) outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %v : tensor<3x2xf32>
}

//--- unsimulable.mlir

// An i8 layer without act_qparams or without a constant weight is not
// simulated by default: it stays f32 with a reason and a warning, as the
// lowering keeps it. A selector sweep skips it silently but still takes the
// selector.

// SKIP-LABEL: func.func @no_act_qparams(
// SKIP-SAME:      %{{[^:]+}}: tensor<2x3xf32>, %{{[^:]+}}: tensor<i32>) -> tensor<2x2xf32>
// SKIP-NOT:     linalg.generic
// SKIP:         return
// F32-LABEL: func.func @no_act_qparams(
// F32-NOT:     linalg.generic
// F32:         linalg.matmul {quantune.layer = 0 : i64, quantune.name = "fc", quantune.precision = #quantune.precision<f32>, quantune.reason = "it has no 'quantune.act_qparams'"} ins(%{{.+}}, %{{.+}} : tensor<2x3xf32>, tensor<3x2xf32>)
func.func @no_act_qparams(%a: tensor<2x3xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<1.0> : tensor<3x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x2xf32>
  %c = linalg.fill ins(%zero : f32) outs(%e : tensor<2x2xf32>) -> tensor<2x2xf32>
  // expected-warning @below {{quantune-fake-quantize: layer 0 ('fc') cannot be fake-quantized and stays f32: it has no 'quantune.act_qparams'}}
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.name = "fc", quantune.precision = #quantune.precision<i8>}
    ins(%a, %w : tensor<2x3xf32>, tensor<3x2xf32>) outs(%c : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

// SKIP-LABEL: func.func @weight_argument(
// SKIP-SAME:      %{{[^:]+}}: tensor<2x3xf32>, %{{[^:]+}}: tensor<3x2xf32>, %{{[^:]+}}: tensor<2x2xf32>, %{{[^:]+}}: tensor<i32>) -> tensor<2x2xf32>
// SKIP-NOT:     linalg.generic
// SKIP:         return
// F32-LABEL: func.func @weight_argument(
// F32-NOT:     linalg.generic
// F32:         linalg.matmul {{{.*}}quantune.precision = #quantune.precision<f32>, quantune.reason = "weight is not a constant (it is a function argument)"}
func.func @weight_argument(%a: tensor<2x3xf32>, %w: tensor<3x2xf32>, %c: tensor<2x2xf32>) -> tensor<2x2xf32> {
  // expected-warning @below {{quantune-fake-quantize: layer 1 ('proj') cannot be fake-quantized and stays f32: weight is not a constant (it is a function argument)}}
  %0 = linalg.matmul {quantune.layer = 1 : i64, quantune.name = "proj", quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
    ins(%a, %w : tensor<2x3xf32>, tensor<3x2xf32>) outs(%c : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

// A layer without a precision is not simulated by default, even with
// act_qparams and a constant weight; a selector sweep covers it.
// SKIP-LABEL: func.func @unassigned(
// SKIP-SAME:      %{{[^:]+}}: tensor<2x3xf32>, %{{[^:]+}}: tensor<i32>) -> tensor<2x2xf32>
// SKIP:         linalg.generic
// F32-LABEL: func.func @unassigned(
// F32-NOT:     linalg.generic
// F32-NOT:     quantune.reason
func.func @unassigned(%a: tensor<2x3xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<1.0> : tensor<3x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x2xf32>
  %c = linalg.fill ins(%zero : f32) outs(%e : tensor<2x2xf32>) -> tensor<2x2xf32>
  %0 = linalg.matmul {quantune.layer = 2 : i64, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
    ins(%a, %w : tensor<2x3xf32>, tensor<3x2xf32>) outs(%c : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

//--- called.mlir

// expected-error @below {{quantune-fake-quantize: function @callee is called; adding the layer selector argument would break its callers}}
func.func @callee(%a: tensor<2x3xf32>, %c: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<1.0> : tensor<3x2xf32>
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
    ins(%a, %w : tensor<2x3xf32>, tensor<3x2xf32>) outs(%c : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}
func.func @caller(%a: tensor<2x3xf32>, %c: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %0 = func.call @callee(%a, %c) : (tensor<2x3xf32>, tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

//--- correction.mlir

// A bias correction is added to the simulated output, per output channel
// (the columns of the matmul's 3x2 output), as the lowering adds it to the
// bias; with switchable=true only when the layer is selected.
// CORR-DAG:    #[[ID:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CORR-DAG:    #[[COL:.+]] = affine_map<(d0, d1) -> (d1)>
// CORR-LABEL:  func.func @corrected(
// CORR:          %[[Y:.+]] = linalg.matmul {{{.*}}quantune.layer = 0 : i64
// CORR-NEXT:     %[[C:.+]] = arith.constant dense<[2.500000e-01, -1.250000e-01]> : tensor<2xf32>
// CORR-NEXT:     %[[E:.+]] = tensor.empty() : tensor<3x2xf32>
// CORR-NEXT:     %[[R:.+]] = linalg.generic {indexing_maps = [#[[ID]], #[[COL]], #[[ID]]], iterator_types = ["parallel", "parallel"]} ins(%[[Y]], %[[C]] : tensor<3x2xf32>, tensor<2xf32>) outs(%[[E]] : tensor<3x2xf32>)
// CORR-NEXT:     ^bb0(%[[A:.+]]: f32, %[[B:.+]]: f32, %{{.+}}: f32):
// CORR-NEXT:       %[[S:.+]] = arith.addf %[[A]], %[[B]] : f32
// CORR-NEXT:       linalg.yield %[[S]] : f32
// CORR:          return %[[R]] : tensor<3x2xf32>
// CSWITCH-LABEL: func.func @corrected(
// CSWITCH-SAME:      %{{.+}}: tensor<3x2xf32>, %[[SEL:.+]]: tensor<i32>)
// CSWITCH:         %[[Y:.+]] = linalg.matmul {{{.*}}quantune.layer = 0 : i64
// CSWITCH:         %[[R:.+]] = linalg.generic {{.*}} ins(%[[Y]], %{{.+}}, %[[SEL]] : tensor<3x2xf32>, tensor<2xf32>, tensor<i32>)
// CSWITCH:           %[[S:.+]] = arith.addf
// CSWITCH:           %[[ID0:.+]] = arith.constant 0 : i32
// CSWITCH-NEXT:      %[[IS:.+]] = arith.cmpi eq, %{{.+}}, %[[ID0]] : i32
// CSWITCH-NEXT:      %[[PICK:.+]] = arith.select %[[IS]], %[[S]], %{{.+}} : f32
// CSWITCH:         return %[[R]] : tensor<3x2xf32>
func.func @corrected(%x: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, 0.3], [-0.5, 0.26]]> : tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %y = linalg.matmul {quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>,
                      quantune.act_qparams = #quantune.qparams<si8, scale = 0.5, zero_point = -3>,
                      quantune.bias_correction = dense<[0.25, -0.125]> : tensor<2xf32>}
    ins(%x, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

//--- correction-size.mlir

func.func @wrong_size(%x: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, 0.3], [-0.5, 0.26]]> : tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  // expected-error @+1 {{layer 0: 'quantune.bias_correction' has 3 values, but the output has 2 output channels}}
  %y = linalg.matmul {quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>,
                      quantune.act_qparams = #quantune.qparams<si8, scale = 0.5, zero_point = -3>,
                      quantune.bias_correction = dense<[0.25, -0.125, 1.0]> : tensor<3xf32>}
    ins(%x, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

//--- i4.mlir

// By precision, an i4 (w4a8) layer is simulated with 4-bit weights and an i8
// layer with 8-bit ones, on the same weight. Per column: column 0,
// s = 1/7: [1.0, -0.6] -> [7, -4] -> [1.0, -0.571428597] (8 bits: -76/127 =
// -0.59842521); column 1, s = 0.3/7: [0.3, 0.26] -> [7, 6] -> [0.3,
// 0.257142872] (8 bits: 0.259842545). A sweep simulates every layer at
// `bits`.

// I4-LABEL:    func.func @tiers(
// I4:            %[[W4:.+]] = arith.constant dense<{{\[\[}}1.000000e+00, 3.000000e-01], [-0.571428597, 0.257142872]]> : tensor<2x2xf32>
// I4:            linalg.matmul {{{.*}}quantune.layer = 0 : i64{{.*}}} ins(%{{.+}}, %[[W4]] :
// I4:            %[[W8:.+]] = arith.constant dense<{{\[\[}}1.000000e+00, 3.000000e-01], [-0.59842521, 0.259842545]]> : tensor<2x2xf32>
// I4:            linalg.matmul {{{.*}}quantune.layer = 1 : i64{{.*}}} ins(%{{.+}}, %[[W8]] :
// I4-SWITCH-NOT: -0.571428597
// I4-SWITCH4-NOT: -0.59842521
// I4-SWITCH4:   -0.571428597
func.func @tiers(%x: tensor<3x2xf32>, %c: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, 0.3], [-0.6, 0.26]]> : tensor<2x2xf32>
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i4>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
         ins(%x, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  %1 = linalg.matmul {quantune.layer = 1 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
         ins(%0, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%c : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %1 : tensor<3x2xf32>
}
