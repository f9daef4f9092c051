// RUN: quantune-opt %s --split-input-file --quantune-strip | FileCheck %s
// Stripping twice is the same as stripping once.
// RUN: quantune-opt %s --split-input-file --quantune-strip --quantune-strip | FileCheck %s

// Every `quantune.*` discardable attribute goes, on ops, functions and the
// module; everything else stays, including names that merely start with
// "quantune" without the dot (module attributes need a dialect prefix, so
// there the look-alike is `quantunex.kept`).

// CHECK-LABEL: module attributes {foo.bar = 1 : i64, quantunex.kept = "kept"} {
// CHECK-LABEL: func.func @annotated
// CHECK-SAME:    (%{{.*}}: tensor<4x8xf32>, %{{.*}}: tensor<8x2xf32>, %{{.*}}: tensor<4x2xf32>) -> tensor<4x2xf32>
// CHECK-SAME:    attributes {foo.bar = "func", quantune_x = 2 : i64} {
// CHECK-NEXT:    %[[E:.*]] = tensor.empty() : tensor<4x2xf32>
// CHECK-NEXT:    %[[Z:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    %[[F:.*]] = linalg.fill ins(%[[Z]] : f32) outs(%[[E]] : tensor<4x2xf32>) -> tensor<4x2xf32>
// CHECK-NEXT:    %[[M:.*]] = linalg.matmul {foo.bar = "keep", quantunex = 3 : i64} ins(%{{.*}}, %{{.*}} : tensor<4x8xf32>, tensor<8x2xf32>) outs(%[[F]] : tensor<4x2xf32>) -> tensor<4x2xf32>
// CHECK-NEXT:    %[[M2:.*]] = linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<4x8xf32>, tensor<8x2xf32>) outs(%[[M]] : tensor<4x2xf32>) -> tensor<4x2xf32>
// CHECK-NEXT:    return %[[M2]] : tensor<4x2xf32>
module attributes {quantune.precision = #quantune.precision<f32>, foo.bar = 1, quantunex.kept = "kept", quantune.version = 2} {
  func.func @annotated(%a: tensor<4x8xf32>, %b: tensor<8x2xf32>, %c: tensor<4x2xf32>) -> tensor<4x2xf32>
      attributes {quantune.metrics = #quantune.metrics<weight_sqnr = 1.0>, foo.bar = "func", quantune_x = 2} {
    %e = tensor.empty() {quantune.layer = 9 : i64} : tensor<4x2xf32>
    %zero = arith.constant {quantune.name = "zero"} 0.0 : f32
    %f = linalg.fill {quantune.kind = "fill"} ins(%zero : f32) outs(%e : tensor<4x2xf32>) -> tensor<4x2xf32>
    %0 = linalg.matmul {quantune.layer = 0 : i64, quantune.name = "fc", quantune.kind = "matmul",
                        quantune.precision = #quantune.precision<i8>,
                        quantune.metrics = #quantune.metrics<weight_sqnr = 38.5, act_mse = 1.0e-3>,
                        quantune.weight_qparams = #quantune.qparams<si8, scale = 0.5>,
                        foo.bar = "keep", quantunex = 3}
        ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%f : tensor<4x2xf32>) -> tensor<4x2xf32>
    %1 = linalg.matmul {quantune.layer = 1 : i64, quantune.name = "fc2", quantune.kind = "matmul"}
        ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%0 : tensor<4x2xf32>) -> tensor<4x2xf32>
    return %1 : tensor<4x2xf32>
  }
}

// -----

// Attributes nested in regions are stripped too.
// CHECK-LABEL: func.func @nested
// CHECK-NOT:     quantune.
// CHECK:         scf.if
// CHECK-NOT:     quantune.
// CHECK:         linalg.matmul ins(
// CHECK-NOT:     quantune.
// CHECK:         scf.yield
// CHECK-NOT:     quantune.
// CHECK:         } {other.attr}
// CHECK-NOT:     quantune.
// CHECK:         return
func.func @nested(%a: tensor<4x8xf32>, %b: tensor<8x2xf32>, %c: tensor<4x2xf32>, %cond: i1) -> tensor<4x2xf32> {
  %0 = scf.if %cond -> tensor<4x2xf32> {
    %m = linalg.matmul {quantune.layer = 0 : i64, quantune.name = "inner", quantune.kind = "matmul"}
        ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32>
    scf.yield %m : tensor<4x2xf32>
  } else {
    scf.yield %c : tensor<4x2xf32>
  } {quantune.layer = 3 : i64, other.attr}
  return %0 : tensor<4x2xf32>
}

// -----

// A module without quantune attributes is unchanged.
// CHECK-LABEL: func.func @plain
// CHECK-SAME:    attributes {foo.bar}
// CHECK-NEXT:    return %{{.*}} : tensor<4xf32>
func.func @plain(%x: tensor<4xf32>) -> tensor<4xf32> attributes {foo.bar} {
  return %x : tensor<4xf32>
}

// -----

// Function argument and result attributes, and quantune attribute values
// under any name (also nested in arrays and dictionaries), are removed too.
// CHECK-LABEL: func.func @arg_and_value_attrs
// CHECK-SAME:    (%{{.*}}: tensor<4xf32> {foo.arg = 1 : i64}, %{{.*}}: tensor<4xf32>) -> (tensor<4xf32> {foo.res = 2 : i64})
// CHECK-SAME:    attributes {plain = [1, 2]}
// CHECK-NOT:     quantune
// CHECK:         return
func.func @arg_and_value_attrs(%a: tensor<4xf32> {quantune.layer = 1 : i64, foo.arg = 1 : i64},
                               %b: tensor<4xf32> {foo.p = #quantune.precision<i8>})
    -> (tensor<4xf32> {foo.res = 2 : i64, quantune.name = "out"})
    attributes {plain = [1, 2], nested = [1, {q = #quantune.qparams<si8, scale = 0.5>}],
                m = #quantune.metrics<weight_sqnr = 30.0>} {
  return %a : tensor<4xf32>
}
