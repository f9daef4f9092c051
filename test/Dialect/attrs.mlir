// RUN: quantune-opt %s | quantune-opt | FileCheck %s
// RUN: quantune-opt %s --mlir-print-op-generic | quantune-opt | FileCheck %s

// Round trip of every #quantune attribute form, attached as discardable
// attributes. Every check is anchored on the full attribute text so that a
// change in the printed form is caught.

//===----------------------------------------------------------------------===//
// #quantune.qparams
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @qparams_per_tensor()
// CHECK-SAME:    a = #quantune.qparams<si8, scale = 5.000000e-01>,
// CHECK-SAME:    b = #quantune.qparams<si8, scale = 2.500000e-01>,
// CHECK-SAME:    c = #quantune.qparams<ui8, scale = 2.350000e-02, zero_point = 128>,
// CHECK-SAME:    d = #quantune.qparams<si8, scale = 1.000000e+00, zero_point = -128>,
// CHECK-SAME:    e = #quantune.qparams<ui8, scale = 1.000000e+00, zero_point = 255>,
// CHECK-SAME:    f = #quantune.qparams<si8, scale = 1.000000e+00, zero_point = 127>,
// CHECK-SAME:    g = #quantune.qparams<si8, scale = 1.250000e-01, zero_point = 3>,
// CHECK-SAME:    h = #quantune.qparams<si8, scale = 0.123456789>
// CHECK-SAME:  {
func.func @qparams_per_tensor() attributes {
    // zero point omitted: it is 0 and not printed.
    a = #quantune.qparams<si8, scale = 0.5>,
    // explicit zero point 0: not printed either.
    b = #quantune.qparams<si8, scale = 0.25, zero_point = 0>,
    c = #quantune.qparams<ui8, scale = 0.0235, zero_point = 128>,
    // boundary zero points are accepted.
    d = #quantune.qparams<si8, scale = 1.0, zero_point = -128>,
    e = #quantune.qparams<ui8, scale = 1.0, zero_point = 255>,
    f = #quantune.qparams<si8, scale = 1.0, zero_point = 127>,
    // fields in a different order print in canonical order.
    g = #quantune.qparams<si8, zero_point = 3, scale = 0.125>,
    // a scale that %e cannot represent exactly keeps all its digits.
    h = #quantune.qparams<si8, scale = 0.123456789>} {
  return
}

// CHECK-LABEL: func.func @qparams_storage_types()
// CHECK-SAME:    a = #quantune.qparams<si4, scale = 5.000000e-01, zero_point = -8>,
// CHECK-SAME:    b = #quantune.qparams<ui4, scale = 5.000000e-01, zero_point = 15>,
// CHECK-SAME:    c = #quantune.qparams<ui8, scale = 5.000000e-01>,
// CHECK-SAME:    d = #quantune.qparams<si16, scale = 5.000000e-01, zero_point = -32768>,
// CHECK-SAME:    e = #quantune.qparams<si2, scale = 5.000000e-01, zero_point = 1>,
// CHECK-SAME:    f = #quantune.qparams<ui32, scale = 5.000000e-01, zero_point = 4294967295>,
// CHECK-SAME:    g = #quantune.qparams<si32, scale = 5.000000e-01, zero_point = -2147483648>
// CHECK-SAME:  {
func.func @qparams_storage_types() attributes {
    a = #quantune.qparams<si4, scale = 0.5, zero_point = -8>,
    b = #quantune.qparams<ui4, scale = 0.5, zero_point = 15>,
    c = #quantune.qparams<ui8, scale = 0.5>,
    d = #quantune.qparams<si16, scale = 0.5, zero_point = -32768>,
    e = #quantune.qparams<si2, scale = 0.5, zero_point = 1>,
    f = #quantune.qparams<ui32, scale = 0.5, zero_point = 4294967295>,
    g = #quantune.qparams<si32, scale = 0.5, zero_point = -2147483648>} {
  return
}

// CHECK-LABEL: func.func @qparams_per_channel()
// CHECK-SAME:    a = #quantune.qparams<si8, axis = 0, scales = [5.000000e-01, 2.500000e-01, 1.250000e-01]>,
// CHECK-SAME:    b = #quantune.qparams<ui8, axis = 1, scales = [1.000000e+00, 2.000000e+00], zero_points = [0, 255]>,
// CHECK-SAME:    c = #quantune.qparams<si4, axis = 3, scales = [1.000000e+00]>,
// CHECK-SAME:    d = #quantune.qparams<si16, axis = 2, scales = [1.000000e+00, 2.000000e+00], zero_points = [-5, 5]>,
// CHECK-SAME:    e = #quantune.qparams<si8, axis = 0, scales = [1.000000e+00, 2.000000e+00]>,
// CHECK-SAME:    f = #quantune.qparams<ui8, axis = 0, scales = [1.000000e+00], zero_points = [7]>,
// CHECK-SAME:    g = #quantune.qparams<ui4, axis = 0, scales = [1.000000e+00, 5.000000e-01], zero_points = [0, 15]>,
// CHECK-SAME:    h = #quantune.qparams<si4, axis = 1, scales = [2.500000e-01, 1.250000e-01], zero_points = [-8, 7]>
// CHECK-SAME:  {
func.func @qparams_per_channel() attributes {
    a = #quantune.qparams<si8, axis = 0, scales = [0.5, 0.25, 0.125]>,
    b = #quantune.qparams<ui8, axis = 1, scales = [1.0, 2.0], zero_points = [0, 255]>,
    // a single 'scale' with an axis is per-channel with one channel.
    c = #quantune.qparams<si4, axis = 3, scale = 1.0>,
    // fields in a different order print in canonical order.
    d = #quantune.qparams<si16, zero_points = [-5, 5], scales = [1.0, 2.0], axis = 2>,
    // all-zero zero points are not printed.
    e = #quantune.qparams<si8, axis = 0, scales = [1.0, 2.0], zero_points = [0, 0]>,
    // one 'zero_point' with an axis and a single scale.
    f = #quantune.qparams<ui8, zero_point = 7, axis = 0, scale = 1.0>,
    // 4-bit storage per channel, at the ends of each range.
    g = #quantune.qparams<ui4, axis = 0, scales = [1.0, 0.5], zero_points = [0, 15]>,
    h = #quantune.qparams<si4, axis = 1, scales = [0.25, 0.125], zero_points = [-8, 7]>} {
  return
}

// Different spellings of the same parameters print identically.
// CHECK-LABEL: func.func @qparams_on_ops()
// CHECK:         arith.constant {q = #quantune.qparams<si8, scale = 5.000000e-01>} 0 : i32
// CHECK:         arith.constant {q = #quantune.qparams<si8, axis = 0, scales = [5.000000e-01]>} 1 : i32
func.func @qparams_on_ops() {
  %0 = arith.constant {q = #quantune.qparams<si8, scale = 5.0e-1, zero_point = 0>} 0 : i32
  // Per-channel with one channel is distinct from per-tensor.
  %1 = arith.constant {q = #quantune.qparams<si8, axis = 0, scales = [0.5]>} 1 : i32
  return
}

//===----------------------------------------------------------------------===//
// #quantune.metrics
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @metrics()
// CHECK-SAME:    empty = #quantune.metrics<>,
// CHECK-SAME:    full = #quantune.metrics<weight_sqnr = 3.850000e+01, act_sqnr = 3.100000e+01, weight_mse = 1.400000e-04, act_mse = 7.900000e-04, sensitivity = 2.500000e-01>,
// CHECK-SAME:    negative_sqnr = #quantune.metrics<weight_sqnr = -3.500000e+00, act_sqnr = -1.000000e+00, sensitivity = -2.000000e+00>,
// CHECK-SAME:    partial = #quantune.metrics<weight_sqnr = 3.850000e+01, weight_mse = 1.400000e-04>,
// CHECK-SAME:    partial_act = #quantune.metrics<act_mse = 0.000000e+00>,
// CHECK-SAME:    reordered = #quantune.metrics<weight_sqnr = 1.000000e+00, act_sqnr = 2.000000e+00, weight_mse = 3.000000e+00, act_mse = 4.000000e+00, sensitivity = 5.000000e+00>,
// CHECK-SAME:    sens_only = #quantune.metrics<sensitivity = 1.000000e+300>
// CHECK-SAME:  {
func.func @metrics() attributes {
    empty = #quantune.metrics<>,
    full = #quantune.metrics<weight_sqnr = 38.5, act_sqnr = 31.0, weight_mse = 1.4e-04, act_mse = 7.9e-04, sensitivity = 0.25>,
    // SQNR and sensitivity may be negative; only the MSEs may not.
    negative_sqnr = #quantune.metrics<weight_sqnr = -3.5, act_sqnr = -1.0, sensitivity = -2.0>,
    partial = #quantune.metrics<weight_sqnr = 38.5, weight_mse = 1.4e-04>,
    // a zero MSE is accepted.
    partial_act = #quantune.metrics<act_mse = 0.0>,
    // fields in a different order print in canonical order.
    reordered = #quantune.metrics<sensitivity = 5.0, act_mse = 4.0, weight_mse = 3.0, act_sqnr = 2.0, weight_sqnr = 1.0>,
    sens_only = #quantune.metrics<sensitivity = 1.0e300>} {
  return
}

//===----------------------------------------------------------------------===//
// #quantune.precision
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @precision()
// CHECK-SAME:    bf16 = #quantune.precision<bf16>,
// CHECK-SAME:    f16 = #quantune.precision<f16>,
// CHECK-SAME:    f32 = #quantune.precision<f32>,
// CHECK-SAME:    i4 = #quantune.precision<i4>,
// CHECK-SAME:    i8 = #quantune.precision<i8>
// CHECK-SAME:  {
func.func @precision() attributes {
    bf16 = #quantune.precision<bf16>,
    f16 = #quantune.precision<f16>,
    f32 = #quantune.precision<f32>,
    i4 = #quantune.precision<i4>,
    i8 = #quantune.precision<i8>} {
  return
}

//===----------------------------------------------------------------------===//
// All kinds together on ops, as the flow writes them.
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @annotated_ops
// CHECK:         linalg.matmul
// CHECK-SAME:      quantune.act_qparams = #quantune.qparams<ui8, scale = 2.000000e-02, zero_point = 3>
// CHECK-SAME:      quantune.metrics = #quantune.metrics<weight_sqnr = 4.000000e+01, act_mse = 1.000000e-03>
// CHECK-SAME:      quantune.precision = #quantune.precision<i8>
// CHECK-SAME:      quantune.weight_qparams = #quantune.qparams<si8, axis = 1, scales = [1.000000e-02, 2.000000e-02]>
// CHECK:         tensor.empty() {quantune.precision = #quantune.precision<f16>} : tensor<4x2xf32>
func.func @annotated_ops(%a: tensor<4x8xf32>, %b: tensor<8x2xf32>, %c: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %0 = linalg.matmul {quantune.precision = #quantune.precision<i8>,
                      quantune.metrics = #quantune.metrics<act_mse = 1.0e-3, weight_sqnr = 40.0>,
                      quantune.act_qparams = #quantune.qparams<ui8, scale = 0.02, zero_point = 3>,
                      quantune.weight_qparams = #quantune.qparams<si8, axis = 1, scales = [0.01, 0.02]>}
      ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32>
  %1 = tensor.empty() {quantune.precision = #quantune.precision<f16>} : tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}
