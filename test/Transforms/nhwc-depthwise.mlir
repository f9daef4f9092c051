// RUN: quantune-opt %s --quantune-nhwc-depthwise --split-input-file | FileCheck %s
// RUN: quantune-opt %s --quantune-nhwc-depthwise=f32-accumulate=false --split-input-file | FileCheck %s --check-prefix=INTACC

// The named NCHW depthwise conv is computed on NHWC tensors: the input, the
// weight (CHW -> HWC) and the init are transposed in, a generic with loops
// (n, oh, ow, c, kh, kw) computes it with the named op's body, and the result
// is transposed back to NCHW. Strides (2) and dilations (3) go into the
// input map.

// CHECK-DAG: #[[IN:.+]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1 * 2 + d4 * 3, d2 * 2 + d5 * 3, d3)>
// CHECK-DAG: #[[W:.+]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d4, d5, d3)>
// CHECK-DAG: #[[OUT:.+]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3)>
// CHECK-LABEL: func.func @depthwise(
// CHECK-SAME:      %[[IN_ARG:[^:]+]]: tensor<1x8x16x16xf32>, %[[W_ARG:[^:]+]]: tensor<8x3x3xf32>, %[[INIT_ARG:[^:]+]]: tensor<1x8x5x5xf32>)
// CHECK-NOT: linalg.depthwise_conv_2d_nchw_chw
// CHECK:     %[[I:.+]] = linalg.transpose ins(%[[IN_ARG]] : tensor<1x8x16x16xf32>) outs(%{{.+}} : tensor<1x16x16x8xf32>) permutation = [0, 2, 3, 1]
// CHECK:     %[[WT:.+]] = linalg.transpose ins(%[[W_ARG]] : tensor<8x3x3xf32>) outs(%{{.+}} : tensor<3x3x8xf32>) permutation = [1, 2, 0]
// CHECK:     %[[O:.+]] = linalg.transpose ins(%[[INIT_ARG]] : tensor<1x8x5x5xf32>) outs(%{{.+}} : tensor<1x5x5x8xf32>) permutation = [0, 2, 3, 1]
// CHECK:     %[[G:.+]] = linalg.generic
// CHECK-SAME:    indexing_maps = [#[[IN]], #[[W]], #[[OUT]]]
// CHECK-SAME:    iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]
// CHECK-SAME:    ins(%[[I]], %[[WT]] : tensor<1x16x16x8xf32>, tensor<3x3x8xf32>) outs(%[[O]] : tensor<1x5x5x8xf32>)
// CHECK-SAME:    attrs = {{ *}}{quantune.layer = 2 : i64, quantune.name = "dw"}
// CHECK:       arith.mulf
// CHECK:       arith.addf
// CHECK:     } -> tensor<1x5x5x8xf32>
// CHECK:     %[[R:.+]] = linalg.transpose ins(%[[G]] : tensor<1x5x5x8xf32>) outs(%{{.+}} : tensor<1x8x5x5xf32>) permutation = [0, 3, 1, 2]
// CHECK:     return %[[R]]
func.func @depthwise(%in: tensor<1x8x16x16xf32>, %w: tensor<8x3x3xf32>, %init: tensor<1x8x5x5xf32>) -> tensor<1x8x5x5xf32> {
  %0 = linalg.depthwise_conv_2d_nchw_chw {dilations = dense<3> : vector<2xi64>, strides = dense<2> : vector<2xi64>, quantune.layer = 2 : i64, quantune.name = "dw"}
    ins(%in, %w : tensor<1x8x16x16xf32>, tensor<8x3x3xf32>) outs(%init : tensor<1x8x5x5xf32>) -> tensor<1x8x5x5xf32>
  return %0 : tensor<1x8x5x5xf32>
}

// -----

// The int8 form (i8 operands, i32 accumulator, 9 taps: |sum| <= 9 * 2^14
// < 2^24) accumulates exactly in f32 from 0; the i32 init is added after the
// exact conversion back to i32. The layer labels stay on the reduction.
// CHECK-DAG: #[[ID4:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-LABEL: func.func @depthwise_i8
// CHECK-SAME:      %{{[^:]+}}: tensor<1x4x6x6xi8>, %{{[^:]+}}: tensor<4x3x3xi8>, %[[INIT_ARG:[^:]+]]: tensor<1x4x4x4xi32>)
// CHECK:     %[[O:.+]] = linalg.transpose ins(%[[INIT_ARG]] : tensor<1x4x4x4xi32>) outs(%{{.+}} : tensor<1x4x4x4xi32>) permutation = [0, 2, 3, 1]
// CHECK:     %[[Z:.+]] = arith.constant 0.000000e+00 : f32
// CHECK:     %[[F:.+]] = linalg.fill ins(%[[Z]] : f32) outs(%{{.+}} : tensor<1x4x4x4xf32>)
// CHECK:     %[[S:.+]] = linalg.generic
// CHECK-SAME:    ins(%{{.+}}, %{{.+}} : tensor<1x6x6x4xi8>, tensor<3x3x4xi8>) outs(%[[F]] : tensor<1x4x4x4xf32>)
// CHECK-SAME:    attrs = {{ *}}{quantune.layer = 5 : i64}
// CHECK:       ^bb0(%[[X:.+]]: i8, %[[W:.+]]: i8, %[[ACC:.+]]: f32):
// CHECK-NEXT:    %[[XF:.+]] = arith.sitofp %[[X]] : i8 to f32
// CHECK-NEXT:    %[[WF:.+]] = arith.sitofp %[[W]] : i8 to f32
// CHECK-NEXT:    %[[P:.+]] = arith.mulf %[[XF]], %[[WF]] : f32
// CHECK-NEXT:    %[[N:.+]] = arith.addf %[[ACC]], %[[P]] : f32
// CHECK-NEXT:    linalg.yield %[[N]] : f32
// CHECK:     %[[I:.+]] = linalg.generic {indexing_maps = [#[[ID4]], #[[ID4]], #[[ID4]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%[[S]], %[[O]] : tensor<1x4x4x4xf32>, tensor<1x4x4x4xi32>)
// CHECK-NEXT:  ^bb0(%[[A:.+]]: f32, %[[B:.+]]: i32, %{{.+}}: i32):
// CHECK-NEXT:    %[[AI:.+]] = arith.fptosi %[[A]] : f32 to i32
// CHECK-NEXT:    %[[T:.+]] = arith.addi %[[AI]], %[[B]] : i32
// CHECK-NEXT:    linalg.yield %[[T]] : i32
// CHECK:     linalg.transpose ins(%[[I]] : tensor<1x4x4x4xi32>) outs(%{{.+}} : tensor<1x4x4x4xi32>) permutation = [0, 3, 1, 2]
// With f32-accumulate=false the named op's body is kept: sign extensions, i32.
// INTACC-LABEL: func.func @depthwise_i8
// INTACC:     linalg.generic
// INTACC-SAME:    ins(%{{.+}}, %{{.+}} : tensor<1x6x6x4xi8>, tensor<3x3x4xi8>) outs(%{{.+}} : tensor<1x4x4x4xi32>)
// INTACC:       arith.extsi %{{.+}} : i8 to i32
// INTACC:       arith.extsi %{{.+}} : i8 to i32
// INTACC:       arith.muli
// INTACC:       arith.addi
// INTACC-NOT:   arith.sitofp
// INTACC:     linalg.transpose ins(%{{.+}} : tensor<1x4x4x4xi32>) outs(%{{.+}} : tensor<1x4x4x4xi32>) permutation = [0, 3, 1, 2]
func.func @depthwise_i8(%in: tensor<1x4x6x6xi8>, %w: tensor<4x3x3xi8>, %init: tensor<1x4x4x4xi32>) -> tensor<1x4x4x4xi32> {
  %0 = linalg.depthwise_conv_2d_nchw_chw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>, quantune.layer = 5 : i64}
    ins(%in, %w : tensor<1x4x6x6xi8>, tensor<4x3x3xi8>) outs(%init : tensor<1x4x4x4xi32>) -> tensor<1x4x4x4xi32>
  return %0 : tensor<1x4x4x4xi32>
}

// -----

// Other convolutions, including NHWC depthwise, are left alone.
// CHECK-LABEL: func.func @others
// CHECK: linalg.depthwise_conv_2d_nhwc_hwc
// CHECK: linalg.conv_2d_nchw_fchw
// CHECK-NOT: linalg.generic
func.func @others(%in: tensor<1x16x16x8xf32>, %w: tensor<3x3x8xf32>, %init: tensor<1x14x14x8xf32>,
                  %in2: tensor<1x8x16x16xf32>, %w2: tensor<4x8x3x3xf32>, %init2: tensor<1x4x14x14xf32>) -> (tensor<1x14x14x8xf32>, tensor<1x4x14x14xf32>) {
  %0 = linalg.depthwise_conv_2d_nhwc_hwc ins(%in, %w : tensor<1x16x16x8xf32>, tensor<3x3x8xf32>) outs(%init : tensor<1x14x14x8xf32>) -> tensor<1x14x14x8xf32>
  %1 = linalg.conv_2d_nchw_fchw ins(%in2, %w2 : tensor<1x8x16x16xf32>, tensor<4x8x3x3xf32>) outs(%init2 : tensor<1x4x14x14xf32>) -> tensor<1x4x14x14xf32>
  return %0, %1 : tensor<1x14x14x8xf32>, tensor<1x4x14x14xf32>
}

// -----

// 33x33 i8 taps can sum past 2^24 (1089 * 2^14 > 2^24): i32 accumulation stays.
// CHECK-LABEL: func.func @depthwise_i8_too_many_taps
// CHECK-NOT:   arith.sitofp
// CHECK:       arith.extsi %{{.+}} : i8 to i32
// CHECK:       arith.muli
func.func @depthwise_i8_too_many_taps(%in: tensor<1x1x33x33xi8>, %w: tensor<1x33x33xi8>, %init: tensor<1x1x1x1xi32>) -> tensor<1x1x1x1xi32> {
  %0 = linalg.depthwise_conv_2d_nchw_chw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
    ins(%in, %w : tensor<1x1x33x33xi8>, tensor<1x33x33xi8>) outs(%init : tensor<1x1x1x1xi32>) -> tensor<1x1x1x1xi32>
  return %0 : tensor<1x1x1x1xi32>
}
