// RUN: quantune-opt %s | quantune-opt | FileCheck %s
// RUN: quantune-opt %s --mlir-print-op-generic | quantune-opt | FileCheck %s
// RUN: quantune-opt %s --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC

// Round trip of every quantune op in its custom and generic forms.

// CHECK-LABEL: func.func @probe_roles
// CHECK-SAME:    (%[[ARG:.*]]: tensor<1x8x16x16xf32>)
// CHECK:         %[[IN:.*]] = quantune.probe %[[ARG]] as input of layer 3 : tensor<1x8x16x16xf32>
// CHECK-NEXT:    %[[OUT:.*]] = quantune.probe %[[IN]] as output of layer 0 : tensor<1x8x16x16xf32>
// CHECK-NEXT:    %[[W:.*]] = quantune.probe %[[OUT]] as weight of layer 9223372036854775807 : tensor<1x8x16x16xf32>
// CHECK-NEXT:    return %[[W]]
// GENERIC-LABEL: "func.func"
// GENERIC-SAME:    sym_name = "probe_roles"
// GENERIC:         "quantune.probe"(%{{.*}}) <{layer = 3 : i64, role = #quantune<role input>}>
// GENERIC:         "quantune.probe"(%{{.*}}) <{layer = 0 : i64, role = #quantune<role output>}>
// GENERIC:         "quantune.probe"(%{{.*}}) <{layer = 9223372036854775807 : i64, role = #quantune<role weight>}>
func.func @probe_roles(%arg0: tensor<1x8x16x16xf32>) -> tensor<1x8x16x16xf32> {
  %0 = quantune.probe %arg0 as input of layer 3 : tensor<1x8x16x16xf32>
  %1 = quantune.probe %0 as output of layer 0 : tensor<1x8x16x16xf32>
  %2 = quantune.probe %1 as weight of layer 9223372036854775807 : tensor<1x8x16x16xf32>
  return %2 : tensor<1x8x16x16xf32>
}

// CHECK-LABEL: func.func @probe_attr_dict_and_dynamic
// CHECK:         quantune.probe %{{.*}} as output of layer 12 {foo.bar = 1 : i64} : tensor<?x?xf16>
// CHECK:         quantune.probe %{{.*}} as weight of layer 1 : tensor<2x?xi8>
func.func @probe_attr_dict_and_dynamic(%arg0: tensor<?x?xf16>, %arg1: tensor<2x?xi8>) -> (tensor<?x?xf16>, tensor<2x?xi8>) {
  %0 = quantune.probe %arg0 as output of layer 12 {foo.bar = 1} : tensor<?x?xf16>
  %1 = quantune.probe %arg1 as weight of layer 1 : tensor<2x?xi8>
  return %0, %1 : tensor<?x?xf16>, tensor<2x?xi8>
}

// CHECK-LABEL: func.func @fake_quant_per_tensor
// CHECK:         quantune.fake_quant %{{.*}} qparams <si8, scale = 5.000000e-01> : tensor<4xf32>
// CHECK:         quantune.fake_quant %{{.*}} qparams <ui8, scale = 2.350000e-02, zero_point = 128> : tensor<4xf32>
// CHECK:         quantune.fake_quant %{{.*}} qparams <si4, scale = 1.250000e-01, zero_point = -8> : tensor<4xf32>
// GENERIC-LABEL: sym_name = "fake_quant_per_tensor"
// GENERIC:         "quantune.fake_quant"(%{{.*}}) <{qparams = #quantune.qparams<si8, scale = 5.000000e-01>}> : (tensor<4xf32>) -> tensor<4xf32>
func.func @fake_quant_per_tensor(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  %0 = quantune.fake_quant %arg0 qparams <si8, scale = 0.5> : tensor<4xf32>
  %1 = quantune.fake_quant %0 qparams <ui8, scale = 0.0235, zero_point = 128> : tensor<4xf32>
  %2 = quantune.fake_quant %1 qparams <si4, scale = 0.125, zero_point = -8> : tensor<4xf32>
  return %2 : tensor<4xf32>
}

// CHECK-LABEL: func.func @fake_quant_per_channel
// CHECK:         quantune.fake_quant %{{.*}} qparams <si8, axis = 0, scales = [5.000000e-01, 2.500000e-01, 1.250000e-01]> : tensor<3x8xf32>
// CHECK:         quantune.fake_quant %{{.*}} qparams <ui8, axis = 1, scales = [1.000000e+00, 2.000000e+00], zero_points = [0, 255]> : tensor<3x2xbf16>
// CHECK:         quantune.fake_quant %{{.*}} qparams <si8, axis = 1, scales = [1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<1x?x16xf16>
func.func @fake_quant_per_channel(%arg0: tensor<3x8xf32>, %arg1: tensor<3x2xbf16>, %arg2: tensor<1x?x16xf16>) -> (tensor<3x8xf32>, tensor<3x2xbf16>, tensor<1x?x16xf16>) {
  %0 = quantune.fake_quant %arg0 qparams <si8, axis = 0, scales = [0.5, 0.25, 0.125]> : tensor<3x8xf32>
  %1 = quantune.fake_quant %arg1 qparams <ui8, axis = 1, scales = [1.0, 2.0], zero_points = [0, 255]> : tensor<3x2xbf16>
  // A dynamic channel dimension accepts any number of scales.
  %2 = quantune.fake_quant %arg2 qparams <si8, axis = 1, scales = [1.0, 2.0, 3.0, 4.0]> : tensor<1x?x16xf16>
  return %0, %1, %2 : tensor<3x8xf32>, tensor<3x2xbf16>, tensor<1x?x16xf16>
}

// CHECK-LABEL: func.func @quantize
// CHECK:         quantune.quantize %{{.*}} qparams <si8, scale = 5.000000e-01> : tensor<4xf32> -> tensor<4xi8>
// CHECK:         quantune.quantize %{{.*}} qparams <ui8, scale = 2.350000e-02, zero_point = 128> {foo.bar} : tensor<2x?xf16> -> tensor<2x?xi8>
// CHECK:         quantune.quantize %{{.*}} qparams <si4, axis = 0, scales = [1.000000e+00, 5.000000e-01], zero_points = [-8, 7]> : tensor<2x?xf16> -> tensor<2x?xi4>
// CHECK:         quantune.quantize %{{.*}} qparams <si16, axis = 1, scales = [1.000000e+00, 5.000000e-01]> : tensor<?x?xf32> -> tensor<?x?xi16>
// GENERIC-LABEL: sym_name = "quantize"
// GENERIC:         "quantune.quantize"(%{{.*}}) <{qparams = #quantune.qparams<si8, scale = 5.000000e-01>}> : (tensor<4xf32>) -> tensor<4xi8>
func.func @quantize(%arg0: tensor<4xf32>, %arg1: tensor<2x?xf16>, %arg2: tensor<?x?xf32>) -> (tensor<4xi8>, tensor<2x?xi8>, tensor<2x?xi4>, tensor<?x?xi16>) {
  %0 = quantune.quantize %arg0 qparams <si8, scale = 0.5> : tensor<4xf32> -> tensor<4xi8>
  %1 = quantune.quantize %arg1 qparams <ui8, scale = 0.0235, zero_point = 128> {foo.bar} : tensor<2x?xf16> -> tensor<2x?xi8>
  %2 = quantune.quantize %arg1 qparams <si4, axis = 0, scales = [1.0, 0.5], zero_points = [-8, 7]> : tensor<2x?xf16> -> tensor<2x?xi4>
  %3 = quantune.quantize %arg2 qparams <si16, axis = 1, scales = [1.0, 0.5]> : tensor<?x?xf32> -> tensor<?x?xi16>
  return %0, %1, %2, %3 : tensor<4xi8>, tensor<2x?xi8>, tensor<2x?xi4>, tensor<?x?xi16>
}

// CHECK-LABEL: func.func @dequantize
// CHECK:         quantune.dequantize %{{.*}} qparams <si8, scale = 5.000000e-01, zero_point = -3> : tensor<4xi8> -> tensor<4xf32>
// CHECK:         quantune.dequantize %{{.*}} qparams <ui8, scale = 2.350000e-02, zero_point = 128> : tensor<4xi8> -> tensor<4xf16>
// CHECK:         quantune.dequantize %{{.*}} qparams <si4, scale = 1.000000e-03, zero_point = -8> : tensor<?x4xi4> -> tensor<?x4xbf16>
// CHECK:         quantune.dequantize %{{.*}} qparams <si4, axis = 1, scales = [1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<?x4xi4> -> tensor<?x4xf32>
// GENERIC-LABEL: sym_name = "dequantize"
// GENERIC:         "quantune.dequantize"(%{{.*}}) <{qparams = #quantune.qparams<si8, scale = 5.000000e-01, zero_point = -3>}> : (tensor<4xi8>) -> tensor<4xf32>
func.func @dequantize(%arg0: tensor<4xi8>, %arg1: tensor<?x4xi4>) -> (tensor<4xf32>, tensor<4xf16>, tensor<?x4xbf16>, tensor<?x4xf32>) {
  %0 = quantune.dequantize %arg0 qparams <si8, scale = 0.5, zero_point = -3> : tensor<4xi8> -> tensor<4xf32>
  %1 = quantune.dequantize %arg0 qparams <ui8, scale = 0.0235, zero_point = 128> : tensor<4xi8> -> tensor<4xf16>
  %2 = quantune.dequantize %arg1 qparams <si4, scale = 1.0e-3, zero_point = -8> : tensor<?x4xi4> -> tensor<?x4xbf16>
  %3 = quantune.dequantize %arg1 qparams <si4, axis = 1, scales = [1.0, 2.0, 3.0, 4.0]> : tensor<?x4xi4> -> tensor<?x4xf32>
  return %0, %1, %2, %3 : tensor<4xf32>, tensor<4xf16>, tensor<?x4xbf16>, tensor<?x4xf32>
}

// The fully generic spelling parses too, including the role enum attribute.
// CHECK-LABEL: func.func @generic_input
// CHECK:         quantune.probe %{{.*}} as weight of layer 4 : tensor<2xf32>
// CHECK:         quantune.quantize %{{.*}} qparams <ui8, scale = 2.500000e-01, zero_point = 1> : tensor<2xf32> -> tensor<2xi8>
func.func @generic_input(%arg0: tensor<2xf32>) -> tensor<2xi8> {
  %0 = "quantune.probe"(%arg0) <{layer = 4 : i64, role = #quantune<role weight>}> : (tensor<2xf32>) -> tensor<2xf32>
  %1 = "quantune.quantize"(%0) <{qparams = #quantune.qparams<ui8, scale = 0.25, zero_point = 1>}> : (tensor<2xf32>) -> tensor<2xi8>
  return %1 : tensor<2xi8>
}
