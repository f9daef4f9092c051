// RUN: quantune-opt %s --split-input-file --quantune-lower-mixed-precision | FileCheck %s
// The generic form shows the body the pass builds for the integer layer.
// RUN: quantune-opt %s --split-input-file --quantune-lower-mixed-precision --mlir-print-op-generic | FileCheck %s --check-prefix=BODY
// With start-in-init=true every layer's accumulator starts at its start values.
// RUN: quantune-opt %s --split-input-file --quantune-lower-mixed-precision=start-in-init=true | FileCheck %s --check-prefix=INITSTART

// Expected values come from a numpy reference of the documented arithmetic:
// weights are read as f32, s_w = max|W_c| / 127 per output channel (in
// double), q = clip(round_half_even(W / s_w), -127, 127), the accumulator
// starts at 0, the i32 start value round(bias / (s_x s_w)) - zp_x * sum_c(q)
// is added after the layer (an elementwise op that IREE fuses into the
// layer's dispatch) and the result scale is s_x * s_w. No value below is a
// rounding tie.

// ONNX Gemm (transB=1): the weight is stored N x K = 3x2 behind a
// linalg.transpose. The i8 constant is already in the K x N layout the matmul
// reads; channels are its columns.
//   W = [[0.4, 0.2, -0.2], [-1.0, 0.25, 0.6]], max|W_c| = [1.0, 0.25, 0.6]
//   q = [[51, 102, -42], [-127, 127, 127]]   (0.4*127 = 50.8, 0.2*127/0.25 = 101.6, -0.2*127/0.6 = -42.3)
//   sum_c(q) = [-76, 229, 85], zp_x = 3 -> init = -3 * sum = [228, -687, -255]
//   s_x * s_w = 0.05 * [1.0, 0.25, 0.6f] / 127 = [3.937008e-4, 9.842520e-5, 2.362205e-4]
// INITSTART-LABEL: func.func @gemm(
// INITSTART:       %[[START:.+]] = arith.constant dense<[228, -687, -255]> : tensor<3xi32>
// INITSTART-NEXT:  %[[ACC0:.+]] = linalg.broadcast ins(%[[START]] : tensor<3xi32>) outs(%{{.+}} : tensor<1x3xi32>) dimensions = [0]
// INITSTART-NEXT:  %[[ACC:.+]] = linalg.matmul {{.*}} outs(%[[ACC0]] : tensor<1x3xi32>) -> tensor<1x3xi32>
// INITSTART-NEXT:  quantune.dequantize %[[ACC]] qparams
// CHECK-DAG:     #[[ID2:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG:     #[[COL:.+]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @gemm(
// CHECK-SAME:      %[[X:[^:]+]]: tensor<1x2xf32>) -> tensor<1x3xf32>
// The f32 weight, its transpose and the f32 fill are erased.
// CHECK-NOT:     xf32>
// CHECK:         %[[XQ:.+]] = quantune.quantize %[[X]] qparams <si8, scale = 5.000000e-02, zero_point = 3> : tensor<1x2xf32> -> tensor<1x2xi8>
// CHECK-NEXT:    %[[W:.+]] = arith.constant dense<{{\[\[}}51, 102, -42], [-127, 127, 127]]> : tensor<2x3xi8>
// CHECK-NEXT:    %[[E:.+]] = tensor.empty() : tensor<1x3xi32>
// CHECK-NEXT:    %[[Z:.+]] = arith.constant 0 : i32
// CHECK-NEXT:    %[[ACC0:.+]] = linalg.fill ins(%[[Z]] : i32) outs(%[[E]] : tensor<1x3xi32>) -> tensor<1x3xi32>
// CHECK-NEXT:    %[[ACC:.+]] = linalg.matmul {{{.*}}quantune.layer = 0 : i64{{.*}}} ins(%[[XQ]], %[[W]] : tensor<1x2xi8>, tensor<2x3xi8>) outs(%[[ACC0]] : tensor<1x3xi32>) -> tensor<1x3xi32>
// CHECK-NEXT:    %[[INIT:.+]] = arith.constant dense<[228, -687, -255]> : tensor<3xi32>
// CHECK-NEXT:    %[[E2:.+]] = tensor.empty() : tensor<1x3xi32>
// CHECK-NEXT:    %[[SUM:.+]] = linalg.generic {indexing_maps = [#[[ID2]], #[[COL]], #[[ID2]]], iterator_types = ["parallel", "parallel"]} ins(%[[ACC]], %[[INIT]] : tensor<1x3xi32>, tensor<3xi32>) outs(%[[E2]] : tensor<1x3xi32>)
// CHECK-NEXT:    ^bb0(%[[A:.+]]: i32, %[[B:.+]]: i32, %{{.+}}: i32):
// CHECK-NEXT:      %[[S:.+]] = arith.addi %[[A]], %[[B]] : i32
// CHECK-NEXT:      linalg.yield %[[S]] : i32
// CHECK-NEXT:    } -> tensor<1x3xi32>
// CHECK-NEXT:    %[[Y:.+]] = quantune.dequantize %[[SUM]] qparams <si32, axis = 1, scales = [3.93700{{[0-9]*}}E-4, 9.84251{{[0-9]*}}E-5, 2.36220{{[0-9]*}}E-4]> : tensor<1x3xi32> -> tensor<1x3xf32>
// CHECK-NEXT:    return %[[Y]] : tensor<1x3xf32>

// The integer matmul multiplies sign-extended i8 operands into the i32
// accumulator: out + extsi(x) * extsi(w).
// BODY:          "linalg.matmul"(
// BODY-NEXT:     ^bb0(%[[IN:.+]]: i8, %[[WT:.+]]: i8, %[[OUT:.+]]: i32):
// BODY-NEXT:       %[[A:.+]] = "arith.extsi"(%[[IN]]) : (i8) -> i32
// BODY-NEXT:       %[[B:.+]] = "arith.extsi"(%[[WT]]) : (i8) -> i32
// BODY-NEXT:       %[[P:.+]] = "arith.muli"(%[[A]], %[[B]]) {{.*}} : (i32, i32) -> i32
// BODY-NEXT:       %[[S:.+]] = "arith.addi"(%[[OUT]], %[[P]]) {{.*}} : (i32, i32) -> i32
// BODY-NEXT:       "linalg.yield"(%[[S]]) : (i32) -> ()
// BODY-NEXT:     }) {{.*}} : (tensor<1x2xi8>, tensor<2x3xi8>, tensor<1x3xi32>) -> tensor<1x3xi32>
func.func @gemm(%x: tensor<1x2xf32>) -> tensor<1x3xf32> {
  %wt = arith.constant dense<[[0.4, -1.0], [0.2, 0.25], [-0.2, 0.6]]> : tensor<3x2xf32>
  %et = tensor.empty() : tensor<2x3xf32>
  %w = linalg.transpose ins(%wt : tensor<3x2xf32>) outs(%et : tensor<2x3xf32>) permutation = [1, 0]
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x3xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x3xf32>) -> tensor<1x3xf32>
  %y = linalg.matmul {quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.05, zero_point = 3>}
    ins(%x, %w : tensor<1x2xf32>, tensor<2x3xf32>) outs(%init : tensor<1x3xf32>) -> tensor<1x3xf32>
  return %y : tensor<1x3xf32>
}

// -----

// The same Gemm with a bias correction from the analysis (the mean int8
// error of each output channel): it is added to the bias in the i32 start,
//   round([0.01, -0.002, 0.0] / (s_x s_w)) = round([25.40, -20.32, 0]) = [25, -20, 0]
// on top of -zp_x * sum_c(q) = [228, -687, -255].
// CHECK-LABEL: func.func @gemm_bias_correction(
// CHECK:         linalg.matmul {{{.*}}quantune.bias_correction = dense<[0.00999999977, -2.000000e-03, 0.000000e+00]> : tensor<3xf32>{{.*}}}
// CHECK-NEXT:    %[[INIT:.+]] = arith.constant dense<[253, -707, -255]> : tensor<3xi32>
func.func @gemm_bias_correction(%x: tensor<1x2xf32>) -> tensor<1x3xf32> {
  %wt = arith.constant dense<[[0.4, -1.0], [0.2, 0.25], [-0.2, 0.6]]> : tensor<3x2xf32>
  %et = tensor.empty() : tensor<2x3xf32>
  %w = linalg.transpose ins(%wt : tensor<3x2xf32>) outs(%et : tensor<2x3xf32>) permutation = [1, 0]
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x3xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x3xf32>) -> tensor<1x3xf32>
  %y = linalg.matmul {quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.05, zero_point = 3>,
                      quantune.bias_correction = dense<[0.01, -0.002, 0.0]> : tensor<3xf32>}
    ins(%x, %w : tensor<1x2xf32>, tensor<2x3xf32>) outs(%init : tensor<1x3xf32>) -> tensor<1x3xf32>
  return %y : tensor<1x3xf32>
}

// -----

// The same Gemm whose value reaches two consumers through a ReLU: folding
// would make both read the i32 sum, so the start values stay in the
// accumulator's init (IREE 3.13 fails to lower a microkernel when an added
// start feeds several epilogues). Same start values as @gemm.
// CHECK-LABEL: func.func @gemm_two_consumers(
// CHECK:         %[[START:.+]] = arith.constant dense<[228, -687, -255]> : tensor<3xi32>
// CHECK-NEXT:    %[[ACC0:.+]] = linalg.broadcast ins(%[[START]] : tensor<3xi32>) outs(%{{.+}} : tensor<1x3xi32>) dimensions = [0]
// CHECK-NEXT:    %[[ACC:.+]] = linalg.matmul {{.*}} outs(%[[ACC0]] : tensor<1x3xi32>) -> tensor<1x3xi32>
// CHECK-NEXT:    quantune.dequantize %[[ACC]] qparams
func.func @gemm_two_consumers(%x: tensor<1x2xf32>) -> (tensor<1x3xf32>, tensor<1x3xf32>) {
  %wt = arith.constant dense<[[0.4, -1.0], [0.2, 0.25], [-0.2, 0.6]]> : tensor<3x2xf32>
  %et = tensor.empty() : tensor<2x3xf32>
  %w = linalg.transpose ins(%wt : tensor<3x2xf32>) outs(%et : tensor<2x3xf32>) permutation = [1, 0]
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x3xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x3xf32>) -> tensor<1x3xf32>
  %y = linalg.matmul {quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.05, zero_point = 3>}
    ins(%x, %w : tensor<1x2xf32>, tensor<2x3xf32>) outs(%init : tensor<1x3xf32>) -> tensor<1x3xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
    ins(%y : tensor<1x3xf32>) outs(%e : tensor<1x3xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.maximumf %a, %zero : f32
    linalg.yield %m : f32
  } -> tensor<1x3xf32>
  %n = arith.constant dense<1.0> : tensor<1x3xf32>
  %s = linalg.add ins(%r, %n : tensor<1x3xf32>, tensor<1x3xf32>) outs(%e : tensor<1x3xf32>) -> tensor<1x3xf32>
  return %r, %s : tensor<1x3xf32>, tensor<1x3xf32>
}

// -----

// CHECK-DAG:     #[[ID4:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG:     #[[CH1:.+]] = affine_map<(d0, d1, d2, d3) -> (d1)>
// Conv with its bias broadcast into the init: the bias is folded into the
// i32 start value. The explicit tensor.pad stays f32 (quantize runs on the
// padded tensor, so the padding becomes the zero point).
//   filter 0 = [0.3, -0.7, 0.9, 1.2], s_w0 = 1.2/127 -> q = [32, -74, 95, 127] (31.75, -74.08, 95.25), sum 180
//   filter 1 = [-0.4, 0.1, 0.22, 0.05], s_w1 = 0.4/127 -> q = [-127, 32, 70, 16] (31.75, 69.85, 15.875), sum -9
//   s_x * s_w = 0.1 * [1.2f, 0.4f] / 127 = [9.448819e-4, 3.149606e-4]
//   round(0.1 / 9.448819e-4) = round(105.83) = 106,  106 - (-5) * 180 = 1006
//   round(-0.2 / 3.149606e-4) = -635,               -635 - (-5) * (-9) = -680
// CHECK-LABEL: func.func @conv_bias(
// CHECK-SAME:      %[[X:[^:]+]]: tensor<1x1x2x2xf32>) -> tensor<1x2x3x3xf32>
// CHECK:         %[[PAD:.+]] = tensor.pad %[[X]] low[0, 0, 1, 1] high[0, 0, 1, 1]
// CHECK:           tensor.yield %{{.+}} : f32
// CHECK-NEXT:    } : tensor<1x1x2x2xf32> to tensor<1x1x4x4xf32>
// CHECK-NEXT:    %[[XQ:.+]] = quantune.quantize %[[PAD]] qparams <si8, scale = 1.000000e-01, zero_point = -5> : tensor<1x1x4x4xf32> -> tensor<1x1x4x4xi8>
// CHECK-NEXT:    %[[W:.+]] = arith.constant dense<{{\[\[\[\[}}32, -74], [95, 127]]], {{\[\[\[}}-127, 32], [70, 16]]]]> : tensor<2x1x2x2xi8>
// CHECK-NEXT:    %[[E:.+]] = tensor.empty() : tensor<1x2x3x3xi32>
// CHECK-NEXT:    %[[Z:.+]] = arith.constant 0 : i32
// CHECK-NEXT:    %[[ACC0:.+]] = linalg.fill ins(%[[Z]] : i32) outs(%[[E]] : tensor<1x2x3x3xi32>) -> tensor<1x2x3x3xi32>
// CHECK-NEXT:    %[[ACC:.+]] = linalg.conv_2d_nchw_fchw {{{.*}}strides = dense<1> : tensor<2xi64>} ins(%[[XQ]], %[[W]] : tensor<1x1x4x4xi8>, tensor<2x1x2x2xi8>) outs(%[[ACC0]] : tensor<1x2x3x3xi32>) -> tensor<1x2x3x3xi32>
// CHECK-NEXT:    %[[INIT:.+]] = arith.constant dense<[1006, -680]> : tensor<2xi32>
// CHECK-NEXT:    tensor.empty() : tensor<1x2x3x3xi32>
// CHECK-NEXT:    %[[SUM:.+]] = linalg.generic {indexing_maps = [#[[ID4]], #[[CH1]], #[[ID4]]], {{.*}} ins(%[[ACC]], %[[INIT]] : tensor<1x2x3x3xi32>, tensor<2xi32>)
// CHECK:         } -> tensor<1x2x3x3xi32>
// CHECK-NEXT:    %[[Y:.+]] = quantune.dequantize %[[SUM]] qparams <si32, axis = 1, scales = [9.44881{{[0-9]*}}E-4, 3.14960{{[0-9]*}}E-4]> : tensor<1x2x3x3xi32> -> tensor<1x2x3x3xf32>
// CHECK-NEXT:    return %[[Y]]
func.func @conv_bias(%x: tensor<1x1x2x2xf32>) -> tensor<1x2x3x3xf32> {
  %w = arith.constant dense<[[[[0.3, -0.7], [0.9, 1.2]]], [[[-0.4, 0.1], [0.22, 0.05]]]]> : tensor<2x1x2x2xf32>
  %b = arith.constant dense<[0.1, -0.2]> : tensor<2xf32>
  %zero = arith.constant 0.0 : f32
  %padded = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<1x1x2x2xf32> to tensor<1x1x4x4xf32>
  %e = tensor.empty() : tensor<1x2x3x3xf32>
  %init = linalg.broadcast ins(%b : tensor<2xf32>) outs(%e : tensor<1x2x3x3xf32>) dimensions = [0, 2, 3]
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>,
         quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.1, zero_point = -5>}
    ins(%padded, %w : tensor<1x1x4x4xf32>, tensor<2x1x2x2xf32>) outs(%init : tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  return %y : tensor<1x2x3x3xf32>
}

// -----

// Depthwise conv: the channel is weight axis 0 and output axis 1.
//   channel 0 = [0.5, -0.1, 0.2, 0.3], s_w0 = 0.5/127 -> q = [127, -25, 51, 76] (-25.4, 50.8, 76.2), sum 229
//   channel 1 = [-2.0, 0.9, 0.7, 0.0], s_w1 = 2/127  -> q = [-127, 57, 44, 0]  (57.15, 44.45), sum -26
//   zp_x = 10 -> init = [-2290, 260]; s_x * s_w = 0.25 * [0.5, 2.0] / 127 = [9.842520e-4, 3.937008e-3]
// CHECK-LABEL: func.func @depthwise(
// CHECK:         %[[XQ:.+]] = quantune.quantize %{{.+}} qparams <si8, scale = 2.500000e-01, zero_point = 10> : tensor<1x2x3x3xf32> -> tensor<1x2x3x3xi8>
// CHECK-NEXT:    %[[W:.+]] = arith.constant dense<{{\[\[\[}}127, -25], [51, 76]], {{\[\[}}-127, 57], [44, 0]]]> : tensor<2x2x2xi8>
// CHECK:         %[[ACC0:.+]] = linalg.fill ins(%{{.+}} : i32) outs(%{{.+}} : tensor<1x2x2x2xi32>) -> tensor<1x2x2x2xi32>
// CHECK-NEXT:    %[[ACC:.+]] = linalg.depthwise_conv_2d_nchw_chw {{.*}} ins(%[[XQ]], %[[W]] : tensor<1x2x3x3xi8>, tensor<2x2x2xi8>) outs(%[[ACC0]] : tensor<1x2x2x2xi32>) -> tensor<1x2x2x2xi32>
// CHECK-NEXT:    %[[INIT:.+]] = arith.constant dense<[-2290, 260]> : tensor<2xi32>
// CHECK-NEXT:    tensor.empty() : tensor<1x2x2x2xi32>
// CHECK-NEXT:    %[[SUM:.+]] = linalg.generic {{.*}} ins(%[[ACC]], %[[INIT]] : tensor<1x2x2x2xi32>, tensor<2xi32>)
// CHECK:         } -> tensor<1x2x2x2xi32>
// CHECK-NEXT:    quantune.dequantize %[[SUM]] qparams <si32, axis = 1, scales = [9.84251{{[0-9]*}}E-4, 0.0039370{{[0-9]*}}]> : tensor<1x2x2x2xi32> -> tensor<1x2x2x2xf32>
func.func @depthwise(%x: tensor<1x2x3x3xf32>) -> tensor<1x2x2x2xf32> {
  %w = arith.constant dense<[[[0.5, -0.1], [0.2, 0.3]], [[-2.0, 0.9], [0.7, 0.0]]]> : tensor<2x2x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x2x2x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %y = linalg.depthwise_conv_2d_nchw_chw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>,
         quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.25, zero_point = 10>}
    ins(%x, %w : tensor<1x2x3x3xf32>, tensor<2x2x2xf32>) outs(%init : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  return %y : tensor<1x2x2x2xf32>
}

// -----

// Strided conv (stride 2 kept) with a constant fill of 0.25 as the init, and
// zp_x = 0: one channel, so one start value, added as a scalar constant.
//   s_w = 0.9/127 -> q = [14, 28, 42, -56, 71, -85, 99, 113, -127] (14.11, 28.22, 42.33, -56.44, 70.56, -84.67, 98.78, 112.89)
//   s_x * s_w = 0.02 * 0.9f / 127 = 1.417323e-4; round(0.25 / 1.417323e-4) = round(1763.89) = 1764
// CHECK-LABEL: func.func @strided(
// CHECK:         %[[XQ:.+]] = quantune.quantize %{{.+}} qparams <si8, scale = 2.000000e-02> : tensor<1x1x5x5xf32> -> tensor<1x1x5x5xi8>
// CHECK-NEXT:    %[[W:.+]] = arith.constant dense<{{\[\[\[\[}}14, 28, 42], [-56, 71, -85], [99, 113, -127]]]]> : tensor<1x1x3x3xi8>
// CHECK-NEXT:    %[[E:.+]] = tensor.empty() : tensor<1x1x2x2xi32>
// CHECK-NEXT:    %[[Z:.+]] = arith.constant 0 : i32
// CHECK-NEXT:    %[[ACC0:.+]] = linalg.fill ins(%[[Z]] : i32) outs(%[[E]] : tensor<1x1x2x2xi32>) -> tensor<1x1x2x2xi32>
// CHECK-NEXT:    %[[ACC:.+]] = linalg.conv_2d_nchw_fchw {{{.*}}strides = dense<2> : tensor<2xi64>} ins(%[[XQ]], %[[W]] : tensor<1x1x5x5xi8>, tensor<1x1x3x3xi8>) outs(%[[ACC0]] : tensor<1x1x2x2xi32>)
// CHECK-NEXT:    tensor.empty() : tensor<1x1x2x2xi32>
// CHECK-NEXT:    %[[SUM:.+]] = linalg.generic {{.*}} ins(%[[ACC]] : tensor<1x1x2x2xi32>)
// CHECK-NEXT:    ^bb0(%[[A:.+]]: i32, %{{.+}}: i32):
// CHECK-NEXT:      %[[B:.+]] = arith.constant 1764 : i32
// CHECK-NEXT:      %[[S:.+]] = arith.addi %[[A]], %[[B]] : i32
// CHECK-NEXT:      linalg.yield %[[S]] : i32
// CHECK-NEXT:    } -> tensor<1x1x2x2xi32>
// CHECK-NEXT:    quantune.dequantize %[[SUM]] qparams <si32, axis = 1, scales = [1.41732{{[0-9]*}}E-4]> : tensor<1x1x2x2xi32> -> tensor<1x1x2x2xf32>
func.func @strided(%x: tensor<1x1x5x5xf32>) -> tensor<1x1x2x2xf32> {
  %w = arith.constant dense<[[[[0.1, 0.2, 0.3], [-0.4, 0.5, -0.6], [0.7, 0.8, -0.9]]]]> : tensor<1x1x3x3xf32>
  %b = arith.constant 0.25 : f32
  %e = tensor.empty() : tensor<1x1x2x2xf32>
  %init = linalg.fill ins(%b : f32) outs(%e : tensor<1x1x2x2xf32>) -> tensor<1x1x2x2xf32>
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>,
         quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.02, zero_point = 0>}
    ins(%x, %w : tensor<1x1x5x5xf32>, tensor<1x1x3x3xf32>) outs(%init : tensor<1x1x2x2xf32>) -> tensor<1x1x2x2xf32>
  return %y : tensor<1x1x2x2xf32>
}

// -----

// batch_matmul with a constant B x K x N weight: the output channel spans
// b and n, so the weight has ONE scale for the whole tensor and the
// dequantize is per tensor. The zero-point correction is still per (b, n).
//   s_w = max|W| / 127 = 2/127; q = [[[32, -16], [70, 6]], [[-127, 19], [38, -3]]]
//     (W * 127 / 2 = [[[31.75, -15.875], [69.85, 6.35]], [[-127, 19.05], [38.1, -3.175]]])
//   sum over k: [[102, -10], [-89, 16]], zp_x = 1 -> init = [[-102, 10], [89, -16]]
//   s_x * s_w = 0.5 * 2 / 127 = 7.874016e-3
// CHECK-DAG:     #[[ID3:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG:     #[[BN:.+]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-LABEL: func.func @bmm(
// CHECK:         %[[XQ:.+]] = quantune.quantize %{{.+}} qparams <si8, scale = 5.000000e-01, zero_point = 1> : tensor<2x1x2xf32> -> tensor<2x1x2xi8>
// CHECK-NEXT:    %[[W:.+]] = arith.constant dense<{{\[\[\[}}32, -16], [70, 6]], {{\[\[}}-127, 19], [38, -3]]]> : tensor<2x2x2xi8>
// CHECK-NEXT:    %[[E:.+]] = tensor.empty() : tensor<2x1x2xi32>
// CHECK-NEXT:    %[[Z:.+]] = arith.constant 0 : i32
// CHECK-NEXT:    %[[ACC0:.+]] = linalg.fill ins(%[[Z]] : i32) outs(%[[E]] : tensor<2x1x2xi32>) -> tensor<2x1x2xi32>
// CHECK-NEXT:    %[[ACC:.+]] = linalg.batch_matmul {{.*}} ins(%[[XQ]], %[[W]] : tensor<2x1x2xi8>, tensor<2x2x2xi8>) outs(%[[ACC0]] : tensor<2x1x2xi32>)
// CHECK-NEXT:    %[[INIT:.+]] = arith.constant dense<{{\[\[}}-102, 10], [89, -16]]> : tensor<2x2xi32>
// CHECK-NEXT:    tensor.empty() : tensor<2x1x2xi32>
// CHECK-NEXT:    %[[SUM:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[BN]], #[[ID3]]], {{.*}} ins(%[[ACC]], %[[INIT]] : tensor<2x1x2xi32>, tensor<2x2xi32>)
// CHECK:         } -> tensor<2x1x2xi32>
// CHECK-NEXT:    quantune.dequantize %[[SUM]] qparams <si32, scale = 0.0078740{{[0-9]*}}> : tensor<2x1x2xi32> -> tensor<2x1x2xf32>
func.func @bmm(%x: tensor<2x1x2xf32>) -> tensor<2x1x2xf32> {
  %w = arith.constant dense<[[[0.5, -0.25], [1.1, 0.1]], [[-2.0, 0.3], [0.6, -0.05]]]> : tensor<2x2x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x1x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<2x1x2xf32>) -> tensor<2x1x2xf32>
  %y = linalg.batch_matmul {quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5, zero_point = 1>}
    ins(%x, %w : tensor<2x1x2xf32>, tensor<2x2x2xf32>) outs(%init : tensor<2x1x2xf32>) -> tensor<2x1x2xf32>
  return %y : tensor<2x1x2xf32>
}

// -----

// An i8 layer next to an f32 one: only layer 0 is lowered (zp_x = 0, so the
// start value is 0 and no add follows the layer); layer 1 (precision f32) still reads f32
// values and keeps its f32 weight.
//   W0 = [[0.5, -0.35], [0.8, 0.6]], s_w = [0.8, 0.6] / 127 -> q = [[79, -74], [127, 127]] (79.375, -74.08)
//   s_x * s_w = 0.1 * [0.8f, 0.6f] / 127 = [6.299213e-4, 4.724410e-4]
// CHECK-LABEL: func.func @mixed(
// CHECK-SAME:      %[[X:[^:]+]]: tensor<1x2xf32>)
// CHECK-DAG:     %[[W1:.+]] = arith.constant dense<{{\[\[}}1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>
// CHECK-DAG:     %[[XQ:.+]] = quantune.quantize %[[X]] qparams <si8, scale = 1.000000e-01> : tensor<1x2xf32> -> tensor<1x2xi8>
// CHECK-DAG:     %[[W0:.+]] = arith.constant dense<{{\[\[}}79, -74], [127, 127]]> : tensor<2x2xi8>
// CHECK-DAG:     %[[Z:.+]] = arith.constant 0 : i32
// CHECK:         %[[ACC0:.+]] = linalg.fill ins(%[[Z]] : i32) outs(%{{.+}} : tensor<1x2xi32>) -> tensor<1x2xi32>
// CHECK-NEXT:    %[[ACC:.+]] = linalg.matmul {{{.*}}quantune.layer = 0 : i64{{.*}}} ins(%[[XQ]], %[[W0]] : tensor<1x2xi8>, tensor<2x2xi8>) outs(%[[ACC0]] : tensor<1x2xi32>)
// CHECK-NEXT:    %[[Y0:.+]] = quantune.dequantize %[[ACC]] qparams <si32, axis = 1, scales = [6.29921{{[0-9]*}}E-4, 4.72440{{[0-9]*}}E-4]> : tensor<1x2xi32> -> tensor<1x2xf32>
// CHECK-NEXT:    %[[Y1:.+]] = linalg.matmul {{{.*}}quantune.layer = 1 : i64{{.*}}} ins(%[[Y0]], %[[W1]] : tensor<1x2xf32>, tensor<2x2xf32>) outs(%{{.+}} : tensor<1x2xf32>) -> tensor<1x2xf32>
// CHECK-NOT:     quantune.
// CHECK:         return %[[Y1]]
func.func @mixed(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w0 = arith.constant dense<[[0.5, -0.35], [0.8, 0.6]]> : tensor<2x2xf32>
  %w1 = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2xf32>) -> tensor<1x2xf32>
  %y0 = linalg.matmul {quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.1>}
    ins(%x, %w0 : tensor<1x2xf32>, tensor<2x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  %y1 = linalg.matmul {quantune.layer = 1 : i64, quantune.precision = #quantune.precision<f32>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.1>}
    ins(%y0, %w1 : tensor<1x2xf32>, tensor<2x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %y1 : tensor<1x2xf32>
}

// -----

// f32 layers and layers without a precision are left exactly as they are.
// CHECK-LABEL: func.func @all_f32(
// CHECK-SAME:      %[[X:[^:]+]]: tensor<1x2xf32>, %[[C:[^:]+]]: tensor<1x2xf32>)
// CHECK-NEXT:    %[[W:.+]] = arith.constant dense<{{\[\[}}5.000000e-01, -3.500000e-01], [8.000000e-01, 6.000000e-01]]> : tensor<2x2xf32>
// CHECK-NEXT:    %[[Y0:.+]] = linalg.matmul {quantune.act_qparams = #quantune.qparams<si8, scale = 1.000000e-01>, quantune.layer = 0 : i64, quantune.precision = #quantune.precision<f32>} ins(%[[X]], %[[W]] : tensor<1x2xf32>, tensor<2x2xf32>) outs(%[[C]] : tensor<1x2xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:    %[[Y1:.+]] = linalg.matmul {quantune.act_qparams = #quantune.qparams<si8, scale = 1.000000e-01>, quantune.layer = 1 : i64} ins(%[[Y0]], %[[W]] : tensor<1x2xf32>, tensor<2x2xf32>) outs(%[[C]] : tensor<1x2xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:    return %[[Y1]]
func.func @all_f32(%x: tensor<1x2xf32>, %c: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[0.5, -0.35], [0.8, 0.6]]> : tensor<2x2xf32>
  %y0 = linalg.matmul {quantune.layer = 0 : i64, quantune.precision = #quantune.precision<f32>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.1>}
    ins(%x, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%c : tensor<1x2xf32>) -> tensor<1x2xf32>
  %y1 = linalg.matmul {quantune.layer = 1 : i64, quantune.act_qparams = #quantune.qparams<si8, scale = 0.1>}
    ins(%y0, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%c : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %y1 : tensor<1x2xf32>
}

// -----

// A non-constant init (a function argument): the i32 start holds only the
// zero-point correction and the argument is added in f32 after the
// dequantize.
//   filter 0 = [1.0, 0.45, 0.25, -0.55], s_w0 = 1/127   -> q = [127, 57, 32, -70] (57.15, 31.75, -69.85), sum 146
//   filter 1 = [0.1, 0.18, 0.3, 0.4],   s_w1 = 0.4/127 -> q = [32, 57, 95, 127] (31.75, 57.15, 95.25), sum 311
//   zp_x = 2 -> init = [-292, -622]; s_x * s_w = 0.1 * [1.0, 0.4f] / 127 = [7.874016e-4, 3.149606e-4]
// CHECK-DAG:     #[[ID4:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-LABEL: func.func @init_arg(
// CHECK-SAME:      %[[X:[^:]+]]: tensor<1x1x3x3xf32>, %[[ACCIN:[^:]+]]: tensor<1x2x2x2xf32>)
// CHECK:         %[[ACC:.+]] = linalg.conv_2d_nchw_fchw {{.*}} outs(%{{.+}} : tensor<1x2x2x2xi32>)
// CHECK-NEXT:    %[[INIT:.+]] = arith.constant dense<[-292, -622]> : tensor<2xi32>
// CHECK-NEXT:    tensor.empty() : tensor<1x2x2x2xi32>
// CHECK-NEXT:    %[[SUM:.+]] = linalg.generic {{.*}} ins(%[[ACC]], %[[INIT]] : tensor<1x2x2x2xi32>, tensor<2xi32>)
// CHECK:         } -> tensor<1x2x2x2xi32>
// CHECK-NEXT:    %[[DQ:.+]] = quantune.dequantize %[[SUM]] qparams <si32, axis = 1, scales = [7.87401{{[0-9]*}}E-4, 3.14960{{[0-9]*}}E-4]>
// CHECK-NEXT:    %[[E:.+]] = tensor.empty() : tensor<1x2x2x2xf32>
// CHECK-NEXT:    %[[Y:.+]] = linalg.generic {indexing_maps = [#[[ID4]], #[[ID4]], #[[ID4]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%[[DQ]], %[[ACCIN]] : tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) outs(%[[E]] : tensor<1x2x2x2xf32>)
// CHECK-NEXT:    ^bb0(%[[A:.+]]: f32, %[[B:.+]]: f32, %{{.+}}: f32):
// CHECK-NEXT:      %[[S:.+]] = arith.addf %[[A]], %[[B]] : f32
// CHECK-NEXT:      linalg.yield %[[S]] : f32
// CHECK:         return %[[Y]]
func.func @init_arg(%x: tensor<1x1x3x3xf32>, %acc: tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> {
  %w = arith.constant dense<[[[[1.0, 0.45], [0.25, -0.55]]], [[[0.1, 0.18], [0.3, 0.4]]]]> : tensor<2x1x2x2xf32>
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>,
         quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.1, zero_point = 2>}
    ins(%x, %w : tensor<1x1x3x3xf32>, tensor<2x1x2x2xf32>) outs(%acc : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  return %y : tensor<1x2x2x2xf32>
}
