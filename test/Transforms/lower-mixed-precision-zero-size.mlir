// Layers with a zero-size channel dimension (0 output channels, a depthwise
// conv with 0 channels, a matmul with 0 output columns) have nothing to
// quantize. They used to crash quantune-lower-mixed-precision (the
// reproducers of /work/shared/repro); now every pass leaves them f32 with a
// reason.
// RUN: quantune-opt %s --split-input-file --verify-diagnostics --quantune-lower-mixed-precision | FileCheck %s
// RUN: not quantune-opt %s --split-input-file --quantune-lower-mixed-precision=strict=true 2>&1 | FileCheck %s --check-prefix=STRICT
// RUN: quantune-opt %s --split-input-file --quantune-lower-mixed-precision=check-only=true 2>/dev/null | FileCheck %s
// RUN: quantune-opt %s --split-input-file --quantune-weight-metrics 2>/dev/null | FileCheck %s
// RUN: quantune-opt %s --split-input-file --quantune-weight-metrics 2>&1 >/dev/null | FileCheck %s --check-prefix=WARN
// The rest of the pipeline, the analysis passes and fake quantization run
// without crashing.
// RUN: quantune-opt %s --split-input-file --quantune-lower-mixed-precision --quantune-fold-requantize --quantune-expand-quant-ops --quantune-strip 2>/dev/null | FileCheck %s --check-prefix=STRIP
// RUN: quantune-opt %s --split-input-file --quantune-instrument=mode=ranges 2>/dev/null | FileCheck %s --check-prefix=RUNS
// RUN: quantune-opt %s --split-input-file --quantune-instrument=mode=local-error 2>/dev/null | FileCheck %s --check-prefix=RUNS
// RUN: quantune-opt %s --split-input-file --quantune-fake-quantize 2>/dev/null | FileCheck %s --check-prefix=RUNS
// RUN: quantune-opt %s --split-input-file --quantune-fake-quantize=switchable=true 2>/dev/null | FileCheck %s --check-prefix=RUNS

// CHECK-LABEL: func.func @c(
// CHECK:         linalg.conv_2d_nchw_fchw {{{.*}}quantune.precision = #quantune.precision<f32>, quantune.reason = "weight tensor<0x3x3x3xf32> has no elements (a zero-size dimension); nothing to quantize"{{.*}}} ins(%{{.+}}, %{{.+}} : tensor<1x3x4x4xf32>, tensor<0x3x3x3xf32>) outs(%{{.+}} : tensor<1x0x2x2xf32>) -> tensor<1x0x2x2xf32>
// STRICT: error: quantune-lower-mixed-precision: layer 0 is i8 but cannot be lowered: weight tensor<0x3x3x3xf32> has no elements (a zero-size dimension); nothing to quantize
// WARN: warning: layer 0 stays f32: weight tensor<0x3x3x3xf32> has no elements (a zero-size dimension); nothing to quantize
// STRIP-LABEL: func.func @c(
// STRIP:         linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%{{.+}}, %{{.+}} : tensor<1x3x4x4xf32>, tensor<0x3x3x3xf32>)
// RUNS-LABEL: func.func @c(
func.func @c(%x: tensor<1x3x4x4xf32>, %o: tensor<1x0x2x2xf32>) -> tensor<1x0x2x2xf32> {
  %w = arith.constant dense<> : tensor<0x3x3x3xf32>
  // expected-warning @below {{quantune-lower-mixed-precision: layer 0 stays f32: weight tensor<0x3x3x3xf32> has no elements (a zero-size dimension); nothing to quantize}}
  %0 = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>, quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.1>}
         ins(%x, %w : tensor<1x3x4x4xf32>, tensor<0x3x3x3xf32>) outs(%o : tensor<1x0x2x2xf32>) -> tensor<1x0x2x2xf32>
  return %0 : tensor<1x0x2x2xf32>
}

// -----

// CHECK-LABEL: func.func @dw(
// CHECK:         linalg.depthwise_conv_2d_nchw_chw {{{.*}}quantune.precision = #quantune.precision<f32>, quantune.reason = "weight tensor<0x3x3xf32> has no elements (a zero-size dimension); nothing to quantize"{{.*}}} ins(%{{.+}}, %{{.+}} : tensor<1x0x4x4xf32>, tensor<0x3x3xf32>) outs(%{{.+}} : tensor<1x0x2x2xf32>) -> tensor<1x0x2x2xf32>
// STRICT: error: quantune-lower-mixed-precision: layer 0 is i8 but cannot be lowered: weight tensor<0x3x3xf32> has no elements (a zero-size dimension); nothing to quantize
// WARN: warning: layer 0 stays f32: weight tensor<0x3x3xf32> has no elements (a zero-size dimension); nothing to quantize
// STRIP-LABEL: func.func @dw(
// STRIP:         linalg.depthwise_conv_2d_nchw_chw ins(%{{.+}}, %{{.+}} : tensor<1x0x4x4xf32>, tensor<0x3x3xf32>)
// RUNS-LABEL: func.func @dw(
func.func @dw(%in: tensor<1x0x4x4xf32>, %init: tensor<1x0x2x2xf32>) -> tensor<1x0x2x2xf32> {
  %w = arith.constant dense<> : tensor<0x3x3xf32>
  // expected-warning @below {{quantune-lower-mixed-precision: layer 0 stays f32: weight tensor<0x3x3xf32> has no elements (a zero-size dimension); nothing to quantize}}
  %0 = linalg.depthwise_conv_2d_nchw_chw {quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.1>}
    ins(%in, %w : tensor<1x0x4x4xf32>, tensor<0x3x3xf32>) outs(%init : tensor<1x0x2x2xf32>) -> tensor<1x0x2x2xf32>
  return %0 : tensor<1x0x2x2xf32>
}

// -----

// CHECK-LABEL: func.func @mm(
// CHECK:         linalg.matmul {{{.*}}quantune.precision = #quantune.precision<f32>, quantune.reason = "weight tensor<2x0xf32> has no elements (a zero-size dimension); nothing to quantize"} ins(%{{.+}}, %{{.+}} : tensor<3x2xf32>, tensor<2x0xf32>) outs(%{{.+}} : tensor<3x0xf32>) -> tensor<3x0xf32>
// STRICT: error: quantune-lower-mixed-precision: layer 0 is i8 but cannot be lowered: weight tensor<2x0xf32> has no elements (a zero-size dimension); nothing to quantize
// WARN: warning: layer 0 stays f32: weight tensor<2x0xf32> has no elements (a zero-size dimension); nothing to quantize
// STRIP-LABEL: func.func @mm(
// STRIP:         linalg.matmul ins(%{{.+}}, %{{.+}} : tensor<3x2xf32>, tensor<2x0xf32>)
// RUNS-LABEL: func.func @mm(
func.func @mm(%a: tensor<3x2xf32>, %c: tensor<3x0xf32>) -> tensor<3x0xf32> {
  %w = arith.constant dense<> : tensor<2x0xf32>
  // expected-warning @below {{quantune-lower-mixed-precision: layer 0 stays f32: weight tensor<2x0xf32> has no elements (a zero-size dimension); nothing to quantize}}
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.1>} ins(%a, %w : tensor<3x2xf32>, tensor<2x0xf32>) outs(%c : tensor<3x0xf32>) -> tensor<3x0xf32>
  return %0 : tensor<3x0xf32>
}

// -----

// An empty result with a non-empty weight (batch 0) stays f32 as well.
// CHECK-LABEL: func.func @empty_batch(
// CHECK:         linalg.matmul {{{.*}}quantune.reason = "result tensor<0x2xf32> has no elements (a zero-size dimension); nothing to quantize"}
// STRICT: error: quantune-lower-mixed-precision: layer 0 is i8 but cannot be lowered: result tensor<0x2xf32> has no elements
// WARN: warning: layer 0 stays f32: result tensor<0x2xf32> has no elements
// STRIP-LABEL: func.func @empty_batch(
// RUNS-LABEL: func.func @empty_batch(
func.func @empty_batch(%a: tensor<0x2xf32>, %c: tensor<0x2xf32>) -> tensor<0x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  // expected-warning @below {{quantune-lower-mixed-precision: layer 0 stays f32: result tensor<0x2xf32> has no elements (a zero-size dimension); nothing to quantize}}
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.1>} ins(%a, %w : tensor<0x2xf32>, tensor<2x2xf32>) outs(%c : tensor<0x2xf32>) -> tensor<0x2xf32>
  return %0 : tensor<0x2xf32>
}
