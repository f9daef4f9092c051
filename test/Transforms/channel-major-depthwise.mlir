// RUN: quantune-opt %s --quantune-channel-major-depthwise --split-input-file | FileCheck %s

// The named NCHW depthwise conv becomes a generic whose loops are
// (n, c, oh, ow, kh, kw): d1 is the channel in every indexing map.

// CHECK-DAG: #[[IN:.+]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2 * 2 + d4 * 3, d3 * 2 + d5 * 3)>
// CHECK-DAG: #[[W:.+]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d1, d4, d5)>
// CHECK-DAG: #[[OUT:.+]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3)>
// CHECK-NOT: memoized
// CHECK-LABEL: func.func @depthwise
// CHECK-NOT: linalg.depthwise_conv_2d_nchw_chw
// CHECK: linalg.generic
// CHECK-SAME: indexing_maps = [#[[IN]], #[[W]], #[[OUT]]]
// CHECK-SAME: iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]
// CHECK-SAME: attrs = {quantune.layer = 2 : i64, quantune.name = "dw"}
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: } -> tensor<1x8x5x5xf32>
func.func @depthwise(%in: tensor<1x8x16x16xf32>, %w: tensor<8x3x3xf32>, %init: tensor<1x8x5x5xf32>) -> tensor<1x8x5x5xf32> {
  %0 = linalg.depthwise_conv_2d_nchw_chw {dilations = dense<3> : vector<2xi64>, strides = dense<2> : vector<2xi64>, quantune.layer = 2 : i64, quantune.name = "dw"}
    ins(%in, %w : tensor<1x8x16x16xf32>, tensor<8x3x3xf32>) outs(%init : tensor<1x8x5x5xf32>) -> tensor<1x8x5x5xf32>
  return %0 : tensor<1x8x5x5xf32>
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
