// RUN: quantune-opt %s --verify-diagnostics --quantune-lower-mixed-precision=vulkan-safe=true | FileCheck %s
// RUN: quantune-opt %s --quantune-lower-mixed-precision | FileCheck %s --check-prefix=DEFAULT

// vulkan-safe=true: the layers whose int8 form is a matmul-shaped contraction
// (a matmul, a 1x1 convolution) stay f32 with a reason, because IREE 3.13's
// SPIR-V backend gets them wrong; a 3x3 convolution and a depthwise
// convolution are still lowered to int8. Without the option all four are.

// CHECK-LABEL: func.func @vulkan(
// CHECK:         linalg.conv_2d_nchw_fchw {{.*}}quantune.name = "conv3x3"{{.*}} ins(%{{.+}}, %{{.+}} : tensor<1x4x6x6xi8>, tensor<4x4x3x3xi8>)
// CHECK:         linalg.depthwise_conv_2d_nchw_chw {{.*}}quantune.name = "dw"{{.*}} ins(%{{.+}}, %{{.+}} : tensor<1x4x6x6xi8>, tensor<4x3x3xi8>)
// CHECK:         linalg.conv_2d_nchw_fchw {{{.*}}quantune.name = "pw", quantune.precision = #quantune.precision<f32>, quantune.reason = "an int8 1x1 convolution is miscompiled by IREE 3.13's SPIR-V backend (wrong results or a hang on lavapipe); kept f32 so that the Vulkan module is correct"{{.*}} ins(%{{.+}}, %{{.+}} : tensor<1x4x4x4xf32>, tensor<8x4x1x1xf32>)
// CHECK:         linalg.matmul {{{.*}}quantune.name = "fc", quantune.precision = #quantune.precision<f32>, quantune.reason = "an int8 matmul is miscompiled by IREE 3.13's SPIR-V backend {{.*}}"} ins(%{{.+}}, %{{.+}} : tensor<1x8xf32>, tensor<8x2xf32>)

// DEFAULT-LABEL: func.func @vulkan(
// DEFAULT-COUNT-2: tensor<1x4x6x6xi8>
// DEFAULT:         tensor<1x4x4x4xi8>, tensor<8x4x1x1xi8>
// DEFAULT:         tensor<1x8xi8>, tensor<8x2xi8>
// DEFAULT-NOT:     quantune.reason
func.func @vulkan(%x: tensor<1x4x6x6xf32>, %c4: tensor<1x4x4x4xf32>, %c8: tensor<1x8x4x4xf32>, %fc_in: tensor<1x8xf32>, %c2: tensor<1x2xf32>)
    -> (tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>, tensor<1x8x4x4xf32>, tensor<1x2xf32>) {
  %w3 = arith.constant dense<0.25> : tensor<4x4x3x3xf32>
  %0 = linalg.conv_2d_nchw_fchw {quantune.layer = 0 : i64, quantune.name = "conv3x3", quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.05>, dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
    ins(%x, %w3 : tensor<1x4x6x6xf32>, tensor<4x4x3x3xf32>) outs(%c4 : tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
  %wd = arith.constant dense<0.5> : tensor<4x3x3xf32>
  %1 = linalg.depthwise_conv_2d_nchw_chw {quantune.layer = 1 : i64, quantune.name = "dw", quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.05>, dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
    ins(%x, %wd : tensor<1x4x6x6xf32>, tensor<4x3x3xf32>) outs(%c4 : tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
  %wp = arith.constant dense<0.125> : tensor<8x4x1x1xf32>
  // expected-warning @+1 {{layer 2 ('pw') stays f32: an int8 1x1 convolution is miscompiled}}
  %2 = linalg.conv_2d_nchw_fchw {quantune.layer = 2 : i64, quantune.name = "pw", quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.05>, dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
    ins(%1, %wp : tensor<1x4x4x4xf32>, tensor<8x4x1x1xf32>) outs(%c8 : tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %wf = arith.constant dense<1.0> : tensor<8x2xf32>
  // expected-warning @+1 {{layer 3 ('fc') stays f32: an int8 matmul is miscompiled}}
  %3 = linalg.matmul {quantune.layer = 3 : i64, quantune.name = "fc", quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.05>}
    ins(%fc_in, %wf : tensor<1x8xf32>, tensor<8x2xf32>) outs(%c2 : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %0, %1, %2, %3 : tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>, tensor<1x8x4x4xf32>, tensor<1x2xf32>
}
