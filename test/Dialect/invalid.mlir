// RUN: quantune-opt %s --split-input-file --verify-diagnostics

// One case per verifier and custom parser error of the quantune attributes
// and ops.

//===----------------------------------------------------------------------===//
// #quantune.qparams: storage type
//===----------------------------------------------------------------------===//

// expected-error @+1 {{storage type must be a signed (si) or unsigned (ui) integer type, got 'i8'}}
func.func @signless_storage() attributes {q = #quantune.qparams<i8, scale = 0.5>} {
  return
}

// -----

// expected-error @+1 {{storage width must be between 2 and 32 bits, got 1}}
func.func @storage_too_narrow() attributes {q = #quantune.qparams<si1, scale = 0.5>} {
  return
}

// -----

// expected-error @+1 {{storage width must be between 2 and 32 bits, got 33}}
func.func @storage_too_wide() attributes {q = #quantune.qparams<ui33, scale = 0.5>} {
  return
}

// -----

// expected-error @+1 {{storage width must be between 2 and 32 bits, got 64}}
func.func @storage_si64() attributes {q = #quantune.qparams<si64, scale = 0.5>} {
  return
}

// -----

// expected-error @+1 {{expected an integer storage type such as si8 or ui8, got 'f32'}}
func.func @float_storage() attributes {q = #quantune.qparams<f32, scale = 0.5>} {
  return
}

// -----

// expected-error @+1 {{expected an integer storage type such as si8 or ui8, got 'index'}}
func.func @index_storage() attributes {q = #quantune.qparams<index, scale = 0.5>} {
  return
}

// -----

//===----------------------------------------------------------------------===//
// #quantune.qparams: scales
//===----------------------------------------------------------------------===//

// expected-error @+1 {{scale #0 must be positive and finite, got 0.000000e+00}}
func.func @zero_scale() attributes {q = #quantune.qparams<si8, scale = 0.0>} {
  return
}

// -----

// expected-error @+1 {{scale #0 must be positive and finite, got -5.000000e-01}}
func.func @negative_scale() attributes {q = #quantune.qparams<si8, scale = -0.5>} {
  return
}

// -----

// +inf spelled as the bit pattern of an IEEE double.
// expected-error @+1 {{scale #0 must be positive and finite, got INF}}
func.func @inf_scale() attributes {q = #quantune.qparams<si8, scale = 0x7FF0000000000000>} {
  return
}

// -----

// NaN spelled as the bit pattern of an IEEE double.
// expected-error @+1 {{scale #0 must be positive and finite, got nan}}
func.func @nan_scale() attributes {q = #quantune.qparams<si8, scale = 0x7FF8000000000000>} {
  return
}

// -----

// The index in the message is that of the offending channel.
// expected-error @+1 {{scale #2 must be positive and finite, got -1.000000e+00}}
func.func @negative_channel_scale() attributes {q = #quantune.qparams<si8, axis = 0, scales = [1.0, 2.0, -1.0]>} {
  return
}

// -----

// expected-error @+1 {{expected at least one scale}}
func.func @empty_scales() attributes {q = #quantune.qparams<si8, axis = 0, scales = []>} {
  return
}

// -----

// expected-error @+2 {{unexpected decimal integer literal for a floating point value}}
// expected-note @+1 {{add a trailing dot to make the literal a float}}
func.func @integer_scale() attributes {q = #quantune.qparams<si8, scale = 1>} {
  return
}

// -----

// expected-error @+2 {{unexpected decimal integer literal for a floating point value}}
// expected-note @+1 {{add a trailing dot to make the literal a float}}
func.func @integer_in_scales() attributes {q = #quantune.qparams<si8, axis = 0, scales = [1.0, 2]>} {
  return
}

// -----

//===----------------------------------------------------------------------===//
// #quantune.qparams: zero points
//===----------------------------------------------------------------------===//

// expected-error @+1 {{zero point #0 (128) is outside the range [-128, 127] of 'si8'}}
func.func @si8_zero_point_too_large() attributes {q = #quantune.qparams<si8, scale = 0.5, zero_point = 128>} {
  return
}

// -----

// expected-error @+1 {{zero point #0 (-129) is outside the range [-128, 127] of 'si8'}}
func.func @si8_zero_point_too_small() attributes {q = #quantune.qparams<si8, scale = 0.5, zero_point = -129>} {
  return
}

// -----

// expected-error @+1 {{zero point #0 (256) is outside the range [0, 255] of 'ui8'}}
func.func @ui8_zero_point_too_large() attributes {q = #quantune.qparams<ui8, scale = 0.5, zero_point = 256>} {
  return
}

// -----

// expected-error @+1 {{zero point #0 (-1) is outside the range [0, 255] of 'ui8'}}
func.func @ui8_zero_point_negative() attributes {q = #quantune.qparams<ui8, scale = 0.5, zero_point = -1>} {
  return
}

// -----

// expected-error @+1 {{zero point #1 (8) is outside the range [-8, 7] of 'si4'}}
func.func @si4_channel_zero_point() attributes {q = #quantune.qparams<si4, axis = 0, scales = [1.0, 1.0], zero_points = [-8, 8]>} {
  return
}

// -----

// 4-bit storage, per channel (the w4a8 tier's weights): the range is checked
// for every channel of either signedness.
// expected-error @+1 {{zero point #2 (16) is outside the range [0, 15] of 'ui4'}}
func.func @ui4_channel_zero_point() attributes {q = #quantune.qparams<ui4, axis = 1, scales = [1.0, 0.5, 0.25], zero_points = [0, 15, 16]>} {
  return
}

// -----

// expected-error @+1 {{zero point #0 (-9) is outside the range [-8, 7] of 'si4'}}
func.func @si4_channel_zero_point_low() attributes {q = #quantune.qparams<si4, axis = 0, scales = [1.0], zero_points = [-9]>} {
  return
}

// -----

// expected-error @+1 {{expected one zero point per scale, got 2 zero points for 3 scales}}
func.func @zero_point_count() attributes {q = #quantune.qparams<si8, axis = 0, scales = [1.0, 2.0, 3.0], zero_points = [0, 1]>} {
  return
}

// -----

// expected-error @+1 {{expected one zero point per scale, got 1 zero points for 2 scales}}
func.func @single_zero_point_for_channels() attributes {q = #quantune.qparams<si8, axis = 0, scales = [1.0, 2.0], zero_point = 1>} {
  return
}

// -----

// expected-error @+1 {{expected integer value}}
func.func @float_zero_point() attributes {q = #quantune.qparams<si8, scale = 0.5, zero_point = 1.5>} {
  return
}

// -----

//===----------------------------------------------------------------------===//
// #quantune.qparams: axis and field syntax
//===----------------------------------------------------------------------===//

// The verifier's "per-tensor parameters take exactly one scale" check cannot
// be reached from text: the parser rejects any list without an axis first.
// expected-error @+1 {{'scales'/'zero_points' lists need a channel 'axis'}}
func.func @scales_without_axis() attributes {q = #quantune.qparams<si8, scales = [0.5, 0.25]>} {
  return
}

// -----

// A one-element list without an axis is rejected too.
// expected-error @+1 {{'scales'/'zero_points' lists need a channel 'axis'}}
func.func @single_scales_without_axis() attributes {q = #quantune.qparams<si8, scales = [0.5]>} {
  return
}

// -----

// expected-error @+1 {{'scales'/'zero_points' lists need a channel 'axis'}}
func.func @zero_points_without_axis() attributes {q = #quantune.qparams<si8, scale = 0.5, zero_points = [1]>} {
  return
}

// -----

// expected-error @+1 {{channel axis must be non-negative, got -1}}
func.func @negative_axis() attributes {q = #quantune.qparams<si8, axis = -1, scales = [0.5]>} {
  return
}

// -----

// expected-error @+1 {{duplicate qparams field 'scale'}}
func.func @duplicate_scale() attributes {q = #quantune.qparams<si8, scale = 0.5, scale = 0.5>} {
  return
}

// -----

// expected-error @+1 {{duplicate qparams field 'axis'}}
func.func @duplicate_axis() attributes {q = #quantune.qparams<si8, axis = 0, axis = 0, scales = [0.5]>} {
  return
}

// -----

// expected-error @+1 {{duplicate qparams field 'zero_point'}}
func.func @duplicate_zero_point() attributes {q = #quantune.qparams<si8, scale = 0.5, zero_point = 1, zero_point = 1>} {
  return
}

// -----

// expected-error @+1 {{unknown qparams field 'zeropoint' (expected axis, scale(s) or zero_point(s))}}
func.func @unknown_field() attributes {q = #quantune.qparams<si8, scale = 0.5, zeropoint = 1>} {
  return
}

// -----

// expected-error @+1 {{give either 'scale' or 'scales', not both}}
func.func @scale_and_scales() attributes {q = #quantune.qparams<si8, axis = 0, scale = 0.5, scales = [0.5]>} {
  return
}

// -----

// expected-error @+1 {{give either 'zero_point' or 'zero_points', not both}}
func.func @zero_point_and_zero_points() attributes {q = #quantune.qparams<si8, axis = 0, scales = [0.5], zero_points = [1], zero_point = 1>} {
  return
}

// -----

// expected-error @+1 {{qparams need a 'scale' (or 'scales' with 'axis')}}
func.func @missing_scale() attributes {q = #quantune.qparams<si8>} {
  return
}

// -----

// expected-error @+1 {{qparams need a 'scale' (or 'scales' with 'axis')}}
func.func @missing_scale_with_zero_point() attributes {q = #quantune.qparams<ui8, zero_point = 3>} {
  return
}

// -----

// expected-error @+1 {{expected '='}}
func.func @missing_equal() attributes {q = #quantune.qparams<si8, scale 0.5>} {
  return
}

// -----

//===----------------------------------------------------------------------===//
// #quantune.metrics
//===----------------------------------------------------------------------===//

// expected-error @+1 {{unknown metric 'sqnr' (expected weight_sqnr, act_sqnr, weight_mse, act_mse or sensitivity)}}
func.func @unknown_metric() attributes {m = #quantune.metrics<sqnr = 1.0>} {
  return
}

// -----

// expected-error @+1 {{duplicate metric 'act_sqnr'}}
func.func @duplicate_metric() attributes {m = #quantune.metrics<act_sqnr = 1.0, weight_sqnr = 2.0, act_sqnr = 3.0>} {
  return
}

// -----

// expected-error @+1 {{metric 'weight_mse' must be non-negative, got -1.000000e-04}}
func.func @negative_weight_mse() attributes {m = #quantune.metrics<weight_mse = -1.0e-4>} {
  return
}

// -----

// expected-error @+1 {{metric 'act_mse' must be non-negative, got -2.500000e+00}}
func.func @negative_act_mse() attributes {m = #quantune.metrics<weight_mse = 1.0, act_mse = -2.5>} {
  return
}

// -----

// expected-error @+1 {{metric 'act_sqnr' must be finite, got INF}}
func.func @inf_metric() attributes {m = #quantune.metrics<act_sqnr = 0x7FF0000000000000>} {
  return
}

// -----

// expected-error @+1 {{metric 'sensitivity' must be finite, got nan}}
func.func @nan_metric() attributes {m = #quantune.metrics<sensitivity = 0x7FF8000000000000>} {
  return
}

// -----

// expected-error @+2 {{unexpected decimal integer literal for a floating point value}}
// expected-note @+1 {{add a trailing dot to make the literal a float}}
func.func @integer_metric() attributes {m = #quantune.metrics<weight_sqnr = 38>} {
  return
}

// -----

// expected-error @+1 {{expected valid keyword}}
func.func @trailing_comma_metric() attributes {m = #quantune.metrics<weight_sqnr = 38.0,>} {
  return
}

// -----

//===----------------------------------------------------------------------===//
// #quantune.precision
//===----------------------------------------------------------------------===//

// expected-error @+1 {{unsupported precision 'f64' (expected f32, f16, bf16, i8 or i4)}}
func.func @precision_f64() attributes {p = #quantune.precision<f64>} {
  return
}

// -----

// expected-error @+1 {{unsupported precision 'i16' (expected f32, f16, bf16, i8 or i4)}}
func.func @precision_i16() attributes {p = #quantune.precision<i16>} {
  return
}

// -----

// expected-error @+1 {{unsupported precision 'si8' (expected f32, f16, bf16, i8 or i4)}}
func.func @precision_si8() attributes {p = #quantune.precision<si8>} {
  return
}

// -----

// expected-error @+1 {{unsupported precision 'tensor<4xf32>' (expected f32, f16, bf16, i8 or i4)}}
func.func @precision_tensor() attributes {p = #quantune.precision<tensor<4xf32>>} {
  return
}

// -----

//===----------------------------------------------------------------------===//
// quantune.probe
//===----------------------------------------------------------------------===//

func.func @probe_negative_layer(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'quantune.probe' op attribute 'layer' failed to satisfy constraint: 64-bit signless integer attribute whose value is non-negative}}
  %0 = quantune.probe %arg0 as input of layer -1 : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @probe_unknown_role(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{expected probe role 'input', 'output' or 'weight', got 'bias'}}
  %0 = quantune.probe %arg0 as bias of layer 1 : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @probe_role_case(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{expected probe role 'input', 'output' or 'weight', got 'Input'}}
  %0 = quantune.probe %arg0 as Input of layer 1 : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @probe_type_mismatch(%arg0: tensor<4xf32>) -> tensor<4xf16> {
  // expected-error @+1 {{'quantune.probe' op requires the same type for all operands and results}}
  %0 = "quantune.probe"(%arg0) <{layer = 0 : i64, role = #quantune<role input>}> : (tensor<4xf32>) -> tensor<4xf16>
  return %0 : tensor<4xf16>
}

// -----

//===----------------------------------------------------------------------===//
// quantune.fake_quant
//===----------------------------------------------------------------------===//

func.func @fake_quant_axis_out_of_range(%arg0: tensor<3x4xf32>) -> tensor<3x4xf32> {
  // expected-error @+1 {{'quantune.fake_quant' op channel axis 2 is out of range for a tensor of rank 2}}
  %0 = quantune.fake_quant %arg0 qparams <si8, axis = 2, scales = [1.0]> : tensor<3x4xf32>
  return %0 : tensor<3x4xf32>
}

// -----

func.func @fake_quant_channel_count(%arg0: tensor<3x4xf32>) -> tensor<3x4xf32> {
  // expected-error @+1 {{'quantune.fake_quant' op has 3 per-channel scales but dimension 1 of 'tensor<3x4xf32>' has size 4}}
  %0 = quantune.fake_quant %arg0 qparams <si8, axis = 1, scales = [1.0, 2.0, 3.0]> : tensor<3x4xf32>
  return %0 : tensor<3x4xf32>
}

// -----

func.func @fake_quant_integer_tensor(%arg0: tensor<4xi8>) -> tensor<4xi8> {
  // expected-error @+1 {{'quantune.fake_quant' op operand #0 must be ranked tensor of floating-point values, but got 'tensor<4xi8>'}}
  %0 = quantune.fake_quant %arg0 qparams <si8, scale = 1.0> : tensor<4xi8>
  return %0 : tensor<4xi8>
}

// -----

//===----------------------------------------------------------------------===//
// quantune.quantize
//===----------------------------------------------------------------------===//

func.func @quantize_shape_mismatch(%arg0: tensor<4xf32>) -> tensor<5xi8> {
  // expected-error @+1 {{'quantune.quantize' op float and integer tensors must have the same shape, got 'tensor<4xf32>' and 'tensor<5xi8>'}}
  %0 = quantune.quantize %arg0 qparams <si8, scale = 0.5> : tensor<4xf32> -> tensor<5xi8>
  return %0 : tensor<5xi8>
}

// -----

func.func @quantize_rank_mismatch(%arg0: tensor<4xf32>) -> tensor<4x1xi8> {
  // expected-error @+1 {{'quantune.quantize' op float and integer tensors must have the same shape, got 'tensor<4xf32>' and 'tensor<4x1xi8>'}}
  %0 = quantune.quantize %arg0 qparams <si8, scale = 0.5> : tensor<4xf32> -> tensor<4x1xi8>
  return %0 : tensor<4x1xi8>
}

// -----

// Static and dynamic dimensions do not match: the shapes must be identical.
func.func @quantize_dynamic_vs_static(%arg0: tensor<?xf32>) -> tensor<4xi8> {
  // expected-error @+1 {{'quantune.quantize' op float and integer tensors must have the same shape, got 'tensor<?xf32>' and 'tensor<4xi8>'}}
  %0 = quantune.quantize %arg0 qparams <si8, scale = 0.5> : tensor<?xf32> -> tensor<4xi8>
  return %0 : tensor<4xi8>
}

// -----

func.func @quantize_wrong_width(%arg0: tensor<4xf32>) -> tensor<4xi4> {
  // expected-error @+1 {{'quantune.quantize' op integer element type 'i4' does not hold storage type 'si8' (expected 'i8')}}
  %0 = quantune.quantize %arg0 qparams <si8, scale = 0.5> : tensor<4xf32> -> tensor<4xi4>
  return %0 : tensor<4xi4>
}

// -----

func.func @quantize_wrong_width_ui8(%arg0: tensor<4xf32>) -> tensor<4xi16> {
  // expected-error @+1 {{'quantune.quantize' op integer element type 'i16' does not hold storage type 'ui8' (expected 'i8')}}
  %0 = quantune.quantize %arg0 qparams <ui8, scale = 0.5> : tensor<4xf32> -> tensor<4xi16>
  return %0 : tensor<4xi16>
}

// -----

func.func @quantize_axis_out_of_range(%arg0: tensor<4xf32>) -> tensor<4xi8> {
  // expected-error @+1 {{'quantune.quantize' op channel axis 1 is out of range for a tensor of rank 1}}
  %0 = quantune.quantize %arg0 qparams <si8, axis = 1, scales = [0.5]> : tensor<4xf32> -> tensor<4xi8>
  return %0 : tensor<4xi8>
}

// -----

func.func @quantize_channel_count(%arg0: tensor<2x?xf32>) -> tensor<2x?xi8> {
  // expected-error @+1 {{'quantune.quantize' op has 3 per-channel scales but dimension 0 of 'tensor<2x?xf32>' has size 2}}
  %0 = quantune.quantize %arg0 qparams <si8, axis = 0, scales = [0.5, 1.0, 2.0]> : tensor<2x?xf32> -> tensor<2x?xi8>
  return %0 : tensor<2x?xi8>
}

// -----

func.func @quantize_signed_result(%arg0: tensor<4xf32>) -> tensor<4xsi8> {
  // expected-error @+1 {{'quantune.quantize' op result #0 must be ranked tensor of signless integer values, but got 'tensor<4xsi8>'}}
  %0 = quantune.quantize %arg0 qparams <si8, scale = 0.5> : tensor<4xf32> -> tensor<4xsi8>
  return %0 : tensor<4xsi8>
}

// -----

func.func @quantize_integer_input(%arg0: tensor<4xi32>) -> tensor<4xi8> {
  // expected-error @+1 {{'quantune.quantize' op operand #0 must be ranked tensor of floating-point values, but got 'tensor<4xi32>'}}
  %0 = quantune.quantize %arg0 qparams <si8, scale = 0.5> : tensor<4xi32> -> tensor<4xi8>
  return %0 : tensor<4xi8>
}

// -----

//===----------------------------------------------------------------------===//
// quantune.dequantize
//===----------------------------------------------------------------------===//

func.func @dequantize_shape_mismatch(%arg0: tensor<2x3xi8>) -> tensor<3x2xf32> {
  // expected-error @+1 {{'quantune.dequantize' op float and integer tensors must have the same shape, got 'tensor<3x2xf32>' and 'tensor<2x3xi8>'}}
  %0 = quantune.dequantize %arg0 qparams <si8, scale = 0.5> : tensor<2x3xi8> -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @dequantize_wrong_width(%arg0: tensor<4xi8>) -> tensor<4xf32> {
  // expected-error @+1 {{'quantune.dequantize' op integer element type 'i8' does not hold storage type 'si4' (expected 'i4')}}
  %0 = quantune.dequantize %arg0 qparams <si4, scale = 0.5> : tensor<4xi8> -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @dequantize_axis_out_of_range(%arg0: tensor<4x2xi8>) -> tensor<4x2xf32> {
  // expected-error @+1 {{'quantune.dequantize' op channel axis 5 is out of range for a tensor of rank 2}}
  %0 = quantune.dequantize %arg0 qparams <si8, axis = 5, scales = [0.5]> : tensor<4x2xi8> -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

// -----

func.func @dequantize_channel_count(%arg0: tensor<4x2xi8>) -> tensor<4x2xf32> {
  // expected-error @+1 {{'quantune.dequantize' op has 1 per-channel scales but dimension 1 of 'tensor<4x2xf32>' has size 2}}
  %0 = quantune.dequantize %arg0 qparams <si8, axis = 1, scales = [0.5]> : tensor<4x2xi8> -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

// -----

func.func @dequantize_float_input(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'quantune.dequantize' op operand #0 must be ranked tensor of signless integer values, but got 'tensor<4xf32>'}}
  %0 = quantune.dequantize %arg0 qparams <si8, scale = 0.5> : tensor<4xf32> -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @dequantize_integer_result(%arg0: tensor<4xi8>) -> tensor<4xi32> {
  // expected-error @+1 {{'quantune.dequantize' op result #0 must be ranked tensor of floating-point values, but got 'tensor<4xi32>'}}
  %0 = quantune.dequantize %arg0 qparams <si8, scale = 0.5> : tensor<4xi8> -> tensor<4xi32>
  return %0 : tensor<4xi32>
}

// -----

//===----------------------------------------------------------------------===//
// Discardable attributes: quantune.act_qparams_candidates
//===----------------------------------------------------------------------===//

// expected-error @+1 {{'quantune.act_qparams_candidates' must be a non-empty array of per-tensor #quantune.qparams}}
func.func @empty_candidates() attributes {quantune.act_qparams_candidates = []} {
  return
}

// -----

// expected-error @+1 {{'quantune.act_qparams_candidates' must hold per-tensor #quantune.qparams, got 1.000000e+00 : f32}}
func.func @candidate_not_qparams() attributes {quantune.act_qparams_candidates = [#quantune.qparams<si8, scale = 0.5>, 1.0 : f32]} {
  return
}

// -----

// expected-error @+1 {{'quantune.act_qparams_candidates' must hold per-tensor #quantune.qparams}}
func.func @candidate_per_channel() attributes {quantune.act_qparams_candidates = [#quantune.qparams<si8, axis = 0, scales = [0.5, 0.25]>]} {
  return
}

// -----

//===----------------------------------------------------------------------===//
// Discardable attributes: quantune.bias_correction
//===----------------------------------------------------------------------===//

// expected-error @+1 {{'quantune.bias_correction' must be a 1-D dense tensor of f32, got dense<1.000000e+00> : tensor<2x2xf32>}}
func.func @correction_not_1d() attributes {quantune.bias_correction = dense<1.0> : tensor<2x2xf32>} {
  return
}

// -----

// expected-error @+1 {{'quantune.bias_correction' must be a 1-D dense tensor of f32}}
func.func @correction_f64() attributes {quantune.bias_correction = dense<1.0> : tensor<2xf64>} {
  return
}

// -----

// expected-error @+1 {{'quantune.bias_correction' must hold finite values}}
func.func @correction_nan() attributes {quantune.bias_correction = dense<[1.0, 0x7FC00000]> : tensor<2xf32>} {
  return
}

// -----

//===----------------------------------------------------------------------===//
// Discardable attributes: quantune.metrics and quantune.metrics_i4
//===----------------------------------------------------------------------===//

// expected-error @+1 {{'quantune.metrics_i4' must be a #quantune.metrics, got #quantune.precision<i4>}}
func.func @metrics_i4_not_metrics() attributes {quantune.metrics_i4 = #quantune.precision<i4>} {
  return
}

// -----

// expected-error @+1 {{'quantune.metrics' must be a #quantune.metrics, got 3.000000e+01 : f64}}
func.func @metrics_not_metrics() attributes {quantune.metrics = 30.0 : f64} {
  return
}
