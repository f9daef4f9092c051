// RUN: split-file %s %t
// RUN: quantune-opt %t/check.mlir --verify-diagnostics --quantune-lower-mixed-precision=check-only=true | FileCheck %t/check.mlir
// The analysis order: check-only before assign-precision, which keeps the
// refused layers f32 outside the budget; the lowering then agrees with the
// check (strict=true would fail on any layer the check let through).
// RUN: quantune-opt %t/pipeline.mlir --quantune-lower-mixed-precision=check-only=true --quantune-assign-precision="budget=fp32-count=0" --quantune-lower-mixed-precision=strict=true 2>/dev/null | FileCheck %t/pipeline.mlir

//--- check.mlir

// check-only=true rewrites nothing. It runs the lowering's feasibility
// checks on every layer with act_qparams and no reason, whatever its
// precision, and marks the refused ones f32 with a reason.
// CHECK-LABEL: func.func @check(
// CHECK-NOT:     quantune.quantize
// Layer 0 (no precision yet): its live channels' bias is beyond the
// accumulator.
// CHECK:         linalg.matmul {{{.*}}quantune.layer = 0 : i64, quantune.precision = #quantune.precision<f32>, quantune.reason = "bias of channel 0 is 1.27e+10 input-weight quantization steps (bias 1e+05, input scale 0.001, weight scale 0.00787); beyond an i32 accumulator (limit 2^30); its weights are not negligible, so the input scale {{[0-9.e+-]+}} is too tiny for this bias (the input barely varies on the calibration data)"} ins({{.*}} : tensor<1x2xf32>, tensor<2x2xf32>)
// Layer 1 can be int8: untouched, no precision is set.
// CHECK:         linalg.matmul {quantune.act_qparams = #quantune.qparams<si8, scale = 5.000000e-01>, quantune.layer = 1 : i64} ins({{.*}} : tensor<1x2xf32>, tensor<2x2xf32>)
// Layer 2 has no act_qparams (the analysis gives them to candidates only).
// CHECK:         linalg.matmul {quantune.layer = 2 : i64} ins(
// Layer 3 already has a reason: kept as it is.
// CHECK:         linalg.matmul {{{.*}}quantune.layer = 3 : i64, quantune.precision = #quantune.precision<f32>, quantune.reason = "weight is not a constant (it is a function argument)"} ins(
// Layer 4 is i8 and feasible thanks to the dead-channel floor: untouched.
// CHECK:         linalg.matmul {{{.*}}quantune.layer = 4 : i64, quantune.precision = #quantune.precision<i8>} ins({{.*}} : tensor<1x2xf32>, tensor<2x2xf32>)
// Layer 5 is i8 with si16 activations: refused.
// CHECK:         linalg.matmul {{{.*}}quantune.layer = 5 : i64, quantune.precision = #quantune.precision<f32>, quantune.reason = "activation qparams are si16; the integer lowering needs si8"} ins(
// CHECK-NOT:     quantune.quantize
func.func @check(%a: tensor<1x2xf32>, %wa: tensor<2x2xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[1.0, 1.0], [-1.0, 0.5]]> : tensor<2x2xf32>
  %big = arith.constant 1.0e5 : f32
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x2xf32>
  %fill_big = linalg.fill ins(%big : f32) outs(%e : tensor<1x2xf32>) -> tensor<1x2xf32>
  %fill_zero = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2xf32>) -> tensor<1x2xf32>
  // expected-warning @+1 {{quantune-lower-mixed-precision: layer 0 stays f32: bias of channel 0 is 1.27e+10 input-weight quantization steps}}
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.act_qparams = #quantune.qparams<si8, scale = 0.001>}
    ins(%a, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%fill_big : tensor<1x2xf32>) -> tensor<1x2xf32>
  %1 = linalg.matmul {quantune.layer = 1 : i64, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
    ins(%0, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%fill_zero : tensor<1x2xf32>) -> tensor<1x2xf32>
  %2 = linalg.matmul {quantune.layer = 2 : i64}
    ins(%1, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%fill_zero : tensor<1x2xf32>) -> tensor<1x2xf32>
  %3 = linalg.matmul {quantune.layer = 3 : i64, quantune.precision = #quantune.precision<f32>, quantune.reason = "weight is not a constant (it is a function argument)", quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
    ins(%2, %wa : tensor<1x2xf32>, tensor<2x2xf32>) outs(%fill_zero : tensor<1x2xf32>) -> tensor<1x2xf32>
  %wd = arith.constant dense<[[1.0, 1.0e-9], [-0.4, -2.0e-9]]> : tensor<2x2xf32>
  %bias = arith.constant dense<[0.5, 1.0]> : tensor<2xf32>
  %b = linalg.broadcast ins(%bias : tensor<2xf32>) outs(%e : tensor<1x2xf32>) dimensions = [0]
  %4 = linalg.matmul {quantune.layer = 4 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si8, scale = 0.01, zero_point = 2>}
    ins(%3, %wd : tensor<1x2xf32>, tensor<2x2xf32>) outs(%b : tensor<1x2xf32>) -> tensor<1x2xf32>
  // expected-warning @+1 {{quantune-lower-mixed-precision: layer 5 stays f32: activation qparams are si16; the integer lowering needs si8}}
  %5 = linalg.matmul {quantune.layer = 5 : i64, quantune.precision = #quantune.precision<i8>, quantune.act_qparams = #quantune.qparams<si16, scale = 0.5>}
    ins(%4, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%fill_zero : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %5 : tensor<1x2xf32>
}

//--- pipeline.mlir

// Layer 0 is refused by the check, so quantune-assign-precision keeps it f32
// (a forced layer, not a candidate) and the lowering leaves it alone; layers
// 1 and 2 become i8 and are lowered.
// CHECK-LABEL: func.func @pipeline(
// CHECK:         %[[Y0:.+]] = linalg.matmul {{{.*}}quantune.layer = 0 : i64, {{.*}}quantune.precision = #quantune.precision<f32>, quantune.reason = "bias of channel 0 is {{.*}}"} ins({{.*}} : tensor<1x2xf32>, tensor<2x2xf32>) outs({{.*}} : tensor<1x2xf32>)
// CHECK:         quantune.quantize %[[Y0]]
// CHECK:         linalg.matmul {{{.*}}quantune.layer = 1 : i64, {{.*}}quantune.precision = #quantune.precision<i8>} ins({{.*}} : tensor<1x2xi8>, tensor<2x2xi8>)
// CHECK:         linalg.matmul {{{.*}}quantune.layer = 2 : i64, {{.*}}quantune.precision = #quantune.precision<i8>} ins({{.*}} : tensor<1x2xi8>, tensor<2x2xi8>)
func.func @pipeline(%a: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[1.0, 1.0], [-1.0, 0.5]]> : tensor<2x2xf32>
  %big = arith.constant 1.0e5 : f32
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x2xf32>
  %fill_big = linalg.fill ins(%big : f32) outs(%e : tensor<1x2xf32>) -> tensor<1x2xf32>
  %fill_zero = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2xf32>) -> tensor<1x2xf32>
  %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.params = 4 : i64, quantune.macs = 4 : i64, quantune.act_qparams = #quantune.qparams<si8, scale = 0.001>}
    ins(%a, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%fill_big : tensor<1x2xf32>) -> tensor<1x2xf32>
  %1 = linalg.matmul {quantune.layer = 1 : i64, quantune.params = 4 : i64, quantune.macs = 4 : i64, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
    ins(%0, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%fill_zero : tensor<1x2xf32>) -> tensor<1x2xf32>
  %wd = arith.constant dense<[[1.0, 1.0e-9], [-0.4, -2.0e-9]]> : tensor<2x2xf32>
  %bias = arith.constant dense<[0.5, 1.0]> : tensor<2xf32>
  %b = linalg.broadcast ins(%bias : tensor<2xf32>) outs(%e : tensor<1x2xf32>) dimensions = [0]
  %2 = linalg.matmul {quantune.layer = 2 : i64, quantune.params = 4 : i64, quantune.macs = 4 : i64, quantune.act_qparams = #quantune.qparams<si8, scale = 0.01, zero_point = 2>}
    ins(%1, %wd : tensor<1x2xf32>, tensor<2x2xf32>) outs(%b : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %2 : tensor<1x2xf32>
}
