// RUN: quantune-opt %s --verify-diagnostics --quantune-lower-mixed-precision=vulkan-safe=true | FileCheck %s
// RUN: quantune-opt %s --quantune-lower-mixed-precision | FileCheck %s --check-prefix=DEFAULT

// vulkan-safe=true: IREE 3.13's SPIR-V backend miscompiles int8 (wrong
// addresses for vectorized i8 buffers, hangs on inlined i8 constants, sign
// loss with 8-bit storage; which dispatches are hit follows its vectorizer,
// not a rule on the layer), so every layer planned i8 stays f32 with a
// reason and the module holds no i8 at all. Without the option the same
// layers are lowered.

// CHECK-LABEL: func.func @vulkan(
// CHECK-NOT:     xi8>
// CHECK:         linalg.conv_2d_nchw_fchw {{{.*}}quantune.name = "conv3x3", quantune.precision = #quantune.precision<f32>, quantune.reason = "int8 on Vulkan is miscompiled by IREE 3.13's SPIR-V backend (vectorized i8 buffer accesses of contractions and quantize dispatches are wrong or hang on lavapipe); kept f32 so that the Vulkan module is correct"
// CHECK:         linalg.matmul {{{.*}}quantune.name = "fc", quantune.precision = #quantune.precision<f32>, quantune.reason = "int8 on Vulkan is miscompiled
// CHECK-NOT:     xi8>

// DEFAULT-LABEL: func.func @vulkan(
// DEFAULT:         tensor<1x4x6x6xi8>, tensor<4x4x3x3xi8>
// DEFAULT:         tensor<1x8xi8>, tensor<8x2xi8>
// DEFAULT-NOT:     quantune.reason
func.func @vulkan(%x: tensor<1x4x6x6xf32>, %c4: tensor<1x4x4x4xf32>, %fc_in: tensor<1x8xf32>, %c2: tensor<1x2xf32>)
    -> (tensor<1x4x4x4xf32>, tensor<1x2xf32>) {
  %w3 = arith.constant dense<0.25> : tensor<4x4x3x3xf32>
  // expected-warning @+1 {{layer 0 ('conv3x3') stays f32: int8 on Vulkan is miscompiled}}
  %0 = linalg.conv_2d_nchw_fchw {quantune.layer = 0 : i64, quantune.name = "conv3x3", quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.05>, dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
    ins(%x, %w3 : tensor<1x4x6x6xf32>, tensor<4x4x3x3xf32>) outs(%c4 : tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
  %wf = arith.constant dense<1.0> : tensor<8x2xf32>
  // expected-warning @+1 {{layer 1 ('fc') stays f32: int8 on Vulkan is miscompiled}}
  %1 = linalg.matmul {quantune.layer = 1 : i64, quantune.name = "fc", quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.05>}
    ins(%fc_in, %wf : tensor<1x8xf32>, tensor<8x2xf32>) outs(%c2 : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %0, %1 : tensor<1x4x4x4xf32>, tensor<1x2xf32>
}
