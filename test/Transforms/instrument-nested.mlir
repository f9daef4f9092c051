// Layers nested in a region (the matmuls of an LSTM, which torch-mlir turns
// into an scf loop) have no value the instrumented function could return.
// quantune-instrument gives them no probe; one without a quantune.reason
// gets f32, a reason and a warning. The other layers are instrumented.
// RUN: quantune-opt %s --split-input-file --verify-diagnostics --quantune-instrument="mode=ranges bins=0" | FileCheck %s --check-prefixes=CHECK,RANGES
// RUN: quantune-opt %s --split-input-file --verify-diagnostics --quantune-instrument="mode=local-error" | FileCheck %s --check-prefixes=CHECK,LOCAL
// In the analysis, weight-metrics runs first and already gives every nested
// layer a reason, so the instrument pass has nothing to warn about.
// RUN: quantune-opt %s --split-input-file --quantune-weight-metrics --quantune-instrument="mode=ranges bins=0" 2>/dev/null | FileCheck %s --check-prefix=WM
// RUN: quantune-opt %s --split-input-file --quantune-weight-metrics --quantune-instrument="mode=ranges bins=0" 2>&1 >/dev/null | FileCheck %s --check-prefix=WMDIAG

// Layer 0 reads its weight through an extract_slice (the weight-metrics
// reason is already there); layer 1's weight is a constant, so it has no
// reason yet. Layer 2 follows the loop.
// CHECK-LABEL: func.func @lstm(
// RANGES-SAME:     -> (tensor<2x2xf32>, tensor<f32>, tensor<f32>)
// RANGES-SAME:     attributes {quantune.probe_outputs = ["2:min", "2:max"]}
// LOCAL-SAME:      -> (tensor<2x2xf32>, tensor<f64>, tensor<f64>, tensor<2xf64>, tensor<i32>)
// LOCAL-SAME:      attributes {quantune.probe_outputs = ["2:sum_y2", "2:sum_err2", "2:sum_err", "2:count"]}
// CHECK:         scf.for
// CHECK:           linalg.matmul {{{.*}}quantune.layer = 0 : i64, quantune.precision = #quantune.precision<f32>, quantune.reason = "weight is not a constant (it is computed by 'tensor.extract_slice')"}
// CHECK:           linalg.matmul {{{.*}}quantune.layer = 1 : i64, quantune.precision = #quantune.precision<f32>, quantune.reason = "inside a loop body (recurrent layer)"}
// CHECK:           scf.yield
// CHECK:         linalg.matmul {{{.*}}quantune.layer = 2 : i64}
// WMDIAG-NOT:    warning: quantune-instrument
// WMDIAG:        warning: layer 1 stays f32: inside a loop body (recurrent layer)
// WMDIAG-NOT:    warning: quantune-instrument
// WMDIAG:        warning: layer 0 stays f32: nested in a region of 'scf.if'
// WMDIAG-NOT:    warning: quantune-instrument
// WM-LABEL:      func.func @lstm(
// WM-SAME:           attributes {quantune.probe_outputs = ["2:min", "2:max"]}
// WM:              linalg.matmul {{{.*}}quantune.layer = 0 : i64{{.*}}quantune.reason = "weight is not a constant (it is computed by 'tensor.extract_slice')"}
// WM:              linalg.matmul {{{.*}}quantune.layer = 1 : i64{{.*}}quantune.reason = "inside a loop body (recurrent layer)"}
func.func @lstm(%x: tensor<2x2xf32>, %h0: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %wall = arith.constant dense<[[[1.0, 2.0], [3.0, 4.0]], [[0.5, 0.25], [-1.0, 2.0]], [[1.0, 0.0], [0.0, 1.0]]]> : tensor<3x2x2xf32>
  %u = arith.constant dense<[[0.5, -0.5], [0.25, 1.0]]> : tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<2x2xf32>) -> tensor<2x2xf32>
  %h = scf.for %i = %c0 to %c3 step %c1 iter_args(%acc = %h0) -> (tensor<2x2xf32>) {
    %wi = tensor.extract_slice %wall[%i, 0, 0] [1, 2, 2] [1, 1, 1] : tensor<3x2x2xf32> to tensor<2x2xf32>
    %a = linalg.matmul {quantune.layer = 0 : i64, quantune.precision = #quantune.precision<f32>, quantune.reason = "weight is not a constant (it is computed by 'tensor.extract_slice')"}
      ins(%x, %wi : tensor<2x2xf32>, tensor<2x2xf32>) outs(%init : tensor<2x2xf32>) -> tensor<2x2xf32>
    // expected-warning @below {{quantune-instrument: layer 1 gets no probe and stays f32: inside a loop body (recurrent layer)}}
    %b = linalg.matmul {quantune.layer = 1 : i64, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
      ins(%acc, %u : tensor<2x2xf32>, tensor<2x2xf32>) outs(%a : tensor<2x2xf32>) -> tensor<2x2xf32>
    scf.yield %b : tensor<2x2xf32>
  }
  %y = linalg.matmul {quantune.layer = 2 : i64, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
    ins(%h, %u : tensor<2x2xf32>, tensor<2x2xf32>) outs(%init : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %y : tensor<2x2xf32>
}

// -----

// A region that is not a loop is named in the reason. With no layer left to
// instrument, the function keeps its signature.
// CHECK-LABEL: func.func @branch(
// CHECK-SAME:      -> tensor<2x2xf32> {
// CHECK-NOT:     quantune.probe_outputs
// CHECK:         scf.if
// CHECK:           linalg.matmul {{{.*}}quantune.layer = 0 : i64, quantune.precision = #quantune.precision<f32>, quantune.reason = "nested in a region of 'scf.if'"}
// WM-LABEL:      func.func @branch(
// WM:              linalg.matmul {{{.*}}quantune.layer = 0 : i64{{.*}}quantune.reason = "nested in a region of 'scf.if'"}
func.func @branch(%cond: i1, %x: tensor<2x2xf32>, %c: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %u = arith.constant dense<[[0.5, -0.5], [0.25, 1.0]]> : tensor<2x2xf32>
  %r = scf.if %cond -> tensor<2x2xf32> {
    // expected-warning @below {{quantune-instrument: layer 0 gets no probe and stays f32: nested in a region of 'scf.if'}}
    %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.act_qparams = #quantune.qparams<si8, scale = 0.5>}
      ins(%x, %u : tensor<2x2xf32>, tensor<2x2xf32>) outs(%c : tensor<2x2xf32>) -> tensor<2x2xf32>
    scf.yield %0 : tensor<2x2xf32>
  } else {
    scf.yield %c : tensor<2x2xf32>
  }
  return %r : tensor<2x2xf32>
}
