// RUN: quantune-opt %s --split-input-file --verify-diagnostics --quantune-strip
// The pass fails, so the tool exits with an error.
// RUN: not quantune-opt %s --split-input-file --quantune-strip 2>&1 | FileCheck %s

// quantune-strip refuses to drop quantune ops: each one is reported.

func.func @probe(%x: tensor<4xf32>) -> tensor<4xf32> attributes {quantune.layer = 0 : i64} {
  // CHECK: strip-invalid.mlir:[[# @LINE + 2]]:8: error: 'quantune.probe' must be lowered before quantune-strip; stripping would change the program
  // expected-error @+1 {{'quantune.probe' must be lowered before quantune-strip; stripping would change the program}}
  %0 = quantune.probe %x as input of layer 0 : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @fake_quant(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: strip-invalid.mlir:[[# @LINE + 2]]:8: error: 'quantune.fake_quant' must be lowered before quantune-strip; stripping would change the program
  // expected-error @+1 {{'quantune.fake_quant' must be lowered before quantune-strip; stripping would change the program}}
  %0 = quantune.fake_quant %x qparams <si8, scale = 5.0e-1> : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Every quantune op is reported, in every function, not just the first.
func.func @several(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: strip-invalid.mlir:[[# @LINE + 2]]:8: error: 'quantune.quantize' must be lowered before quantune-strip
  // expected-error @+1 {{'quantune.quantize' must be lowered before quantune-strip}}
  %q = quantune.quantize %x qparams <si8, scale = 0.5> : tensor<4xf32> -> tensor<4xi8>
  // CHECK: strip-invalid.mlir:[[# @LINE + 2]]:8: error: 'quantune.dequantize' must be lowered before quantune-strip
  // expected-error @+1 {{'quantune.dequantize' must be lowered before quantune-strip}}
  %d = quantune.dequantize %q qparams <si8, scale = 0.5> : tensor<4xi8> -> tensor<4xf32>
  return %d : tensor<4xf32>
}
func.func @other(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: strip-invalid.mlir:[[# @LINE + 2]]:8: error: 'quantune.probe' must be lowered before quantune-strip
  // expected-error @+1 {{'quantune.probe' must be lowered before quantune-strip}}
  %0 = quantune.probe %x as weight of layer 2 : tensor<4xf32>
  // CHECK: strip-invalid.mlir:[[# @LINE + 2]]:8: error: 'quantune.fake_quant' must be lowered before quantune-strip
  // expected-error @+1 {{'quantune.fake_quant' must be lowered before quantune-strip}}
  %1 = quantune.fake_quant %0 qparams <ui8, axis = 0, scales = [1.0, 1.0, 1.0, 1.0]> : tensor<4xf32>
  return %1 : tensor<4xf32>
}

// -----

// A quantune op nested in a region is found as well.
func.func @nested(%x: tensor<4xf32>, %cond: i1) -> tensor<4xf32> {
  %0 = scf.if %cond -> tensor<4xf32> {
    // CHECK: strip-invalid.mlir:[[# @LINE + 2]]:10: error: 'quantune.fake_quant' must be lowered before quantune-strip
    // expected-error @+1 {{'quantune.fake_quant' must be lowered before quantune-strip}}
    %f = quantune.fake_quant %x qparams <si8, scale = 0.5> : tensor<4xf32>
    scf.yield %f : tensor<4xf32>
  } else {
    scf.yield %x : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}
