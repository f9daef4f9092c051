// RUN: split-file %s %t
// RUN: quantune-opt %t/ranges.mlir --split-input-file --quantune-instrument="mode=ranges bins=4" | FileCheck %s
// The default mode is ranges.
// RUN: quantune-opt %t/ranges.mlir --split-input-file --quantune-instrument="bins=4" | FileCheck %s
// RUN: quantune-opt %t/bad-mode.mlir --verify-diagnostics --quantune-instrument="mode=histogram"
// RUN: quantune-opt %t/zero-bins.mlir --quantune-instrument="mode=ranges bins=0" | FileCheck %t/zero-bins.mlir --check-prefix=ZERO
// RUN: quantune-opt %t/zero-bins.mlir --verify-diagnostics --quantune-instrument="mode=ranges bins=16777217"
// RUN: quantune-opt %t/subsample.mlir --quantune-instrument="mode=ranges bins=4 hist-elements=4" | FileCheck %t/subsample.mlir --check-prefix=SUB
// RUN: quantune-opt %t/subsample.mlir --quantune-instrument="mode=ranges bins=4 hist-elements=0" | FileCheck %t/subsample.mlir --check-prefix=ALL
// RUN: quantune-opt %t/subsample.mlir --quantune-instrument="mode=ranges bins=4 hist-elements=10" | FileCheck %t/subsample.mlir --check-prefix=ALL
// RUN: quantune-opt %t/negative.mlir --verify-diagnostics --quantune-instrument="mode=ranges hist-elements=-1"
// RUN: quantune-opt %t/invalid.mlir --split-input-file --verify-diagnostics --quantune-instrument="mode=ranges bins=4"

//--- ranges.mlir

// Two layers in program order: min, max and hist of each layer's input are
// appended after the original result, and named in quantune.probe_outputs.

// CHECK-DAG:   #[[ID4:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG:   #[[SCALAR4:.+]] = affine_map<(d0, d1, d2, d3) -> ()>
// CHECK-DAG:   #[[ELEM:.+]] = affine_map<(d0, d1) -> (d1)>
// CHECK-DAG:   #[[BIN:.+]] = affine_map<(d0, d1) -> (d0)>
// CHECK-DAG:   #[[ID2:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG:   #[[SCALAR2:.+]] = affine_map<(d0, d1) -> ()>

// CHECK-LABEL: func.func @conv_then_matmul(
// CHECK-SAME:      %[[X:.+]]: tensor<1x3x4x4xf32>)
// CHECK-SAME:      -> (tensor<1x2xf32>, tensor<f32>, tensor<f32>, tensor<4xi32>, tensor<f32>, tensor<f32>, tensor<4xi32>)
// CHECK-SAME:      attributes {quantune.probe_outputs = ["0:min", "0:max", "0:hist", "3:min", "3:max", "3:hist"]}
// CHECK:         %[[CONV:.+]] = linalg.conv_2d_nchw_fchw {{.*}}quantune.layer = 0 : i64{{.*}} ins(%[[X]], %{{.*}} :
// min: a full reduction from +inf.
// CHECK:         %[[PINF:.+]] = arith.constant 0x7F800000 : f32
// CHECK:         %[[MININIT:.+]] = linalg.fill ins(%[[PINF]] : f32) outs(%{{.*}} : tensor<f32>)
// CHECK:         %[[MIN0:.+]] = linalg.generic {indexing_maps = [#[[ID4]], #[[SCALAR4]]], iterator_types = ["reduction", "reduction", "reduction", "reduction"]} ins(%[[X]] : tensor<1x3x4x4xf32>) outs(%[[MININIT]] : tensor<f32>)
// CHECK:           arith.minimumf
// max: a full reduction from -inf.
// CHECK:         %[[NINF:.+]] = arith.constant 0xFF800000 : f32
// CHECK:         %[[MAXINIT:.+]] = linalg.fill ins(%[[NINF]] : f32) outs(%{{.*}} : tensor<f32>)
// CHECK:         %[[MAX0:.+]] = linalg.generic {indexing_maps = [#[[ID4]], #[[SCALAR4]]], iterator_types = ["reduction", "reduction", "reduction", "reduction"]} ins(%[[X]] : tensor<1x3x4x4xf32>) outs(%[[MAXINIT]] : tensor<f32>)
// CHECK:           arith.maximumf
// Bin index of every element: clamp(floor((x - min) * 4 / (max - min)), 0, 3),
// 0 when max == min.
// CHECK:         %[[IDXINIT:.+]] = tensor.empty() : tensor<1x3x4x4xi32>
// CHECK:         %[[IDX:.+]] = linalg.generic {indexing_maps = [#[[ID4]], #[[SCALAR4]], #[[SCALAR4]], #[[ID4]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%[[X]], %[[MIN0]], %[[MAX0]] : tensor<1x3x4x4xf32>, tensor<f32>, tensor<f32>) outs(%[[IDXINIT]] : tensor<1x3x4x4xi32>)
// CHECK-NEXT:    ^bb0(%[[E:.+]]: f32, %[[LO:.+]]: f32, %[[HI:.+]]: f32, %{{.+}}: i32):
// CHECK:           %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK:           %[[RANGE:.+]] = arith.subf %[[HI]], %[[LO]] : f32
// CHECK:           %[[BINS:.+]] = arith.constant 4.000000e+00 : f32
// CHECK:           %[[OFF:.+]] = arith.subf %[[E]], %[[LO]] : f32
// CHECK:           %[[MUL:.+]] = arith.mulf %[[OFF]], %[[BINS]] : f32
// CHECK:           %[[DIV:.+]] = arith.divf %[[MUL]], %[[RANGE]] : f32
// CHECK:           %[[FLOOR:.+]] = math.floor %[[DIV]] : f32
// CHECK:           %[[LOW:.+]] = arith.maxnumf %[[FLOOR]], %[[ZERO]] : f32
// CHECK:           %[[LAST:.+]] = arith.constant 3.000000e+00 : f32
// CHECK:           %[[CLAMPED:.+]] = arith.minnumf %[[LOW]], %[[LAST]] : f32
// CHECK:           %[[NONEMPTY:.+]] = arith.cmpf ogt, %[[RANGE]], %[[ZERO]] : f32
// CHECK:           %[[SEL:.+]] = arith.select %[[NONEMPTY]], %[[CLAMPED]], %[[ZERO]] : f32
// CHECK:           %[[INT:.+]] = arith.fptosi %[[SEL]] : f32 to i32
// CHECK:           linalg.yield %[[INT]] : i32
// Flatten, then count with loops (bin parallel, element reduction).
// CHECK:         %[[FLAT:.+]] = tensor.collapse_shape %[[IDX]] {{\[\[}}0, 1, 2, 3]] : tensor<1x3x4x4xi32> into tensor<48xi32>
// CHECK:         %[[C0:.+]] = arith.constant 0 : i32
// CHECK:         %[[HINIT:.+]] = linalg.fill ins(%[[C0]] : i32) outs(%{{.*}} : tensor<4xi32>)
// CHECK:         %[[HIST0:.+]] = linalg.generic {indexing_maps = [#[[ELEM]], #[[BIN]]], iterator_types = ["parallel", "reduction"]} ins(%[[FLAT]] : tensor<48xi32>) outs(%[[HINIT]] : tensor<4xi32>)
// CHECK-NEXT:    ^bb0(%[[B:.+]]: i32, %[[ACC:.+]]: i32):
// CHECK-NEXT:      %[[I:.+]] = linalg.index 0 : index
// CHECK-NEXT:      %[[I32:.+]] = arith.index_cast %[[I]] : index to i32
// CHECK-NEXT:      %[[HIT:.+]] = arith.cmpi eq, %[[B]], %[[I32]] : i32
// CHECK-NEXT:      %[[ONE:.+]] = arith.extui %[[HIT]] : i1 to i32
// CHECK-NEXT:      %[[SUM:.+]] = arith.addi %[[ACC]], %[[ONE]] : i32
// CHECK-NEXT:      linalg.yield %[[SUM]] : i32
// The matmul's input is the collapsed conv output.
// CHECK:         %[[FLATCONV:.+]] = tensor.collapse_shape %[[CONV]]
// CHECK:         %[[MM:.+]] = linalg.matmul {quantune.layer = 3 : i64} ins(%[[FLATCONV]], %{{.*}} :
// CHECK:         %[[MIN1:.+]] = linalg.generic {indexing_maps = [#[[ID2]], #[[SCALAR2]]], iterator_types = ["reduction", "reduction"]} ins(%[[FLATCONV]] : tensor<1x8xf32>)
// CHECK:         %[[MAX1:.+]] = linalg.generic {indexing_maps = [#[[ID2]], #[[SCALAR2]]], iterator_types = ["reduction", "reduction"]} ins(%[[FLATCONV]] : tensor<1x8xf32>)
// CHECK:         %[[IDX1:.+]] = linalg.generic {{.*}} ins(%[[FLATCONV]], %[[MIN1]], %[[MAX1]] : tensor<1x8xf32>, tensor<f32>, tensor<f32>)
// CHECK:         %[[FLAT1:.+]] = tensor.collapse_shape %[[IDX1]] {{\[\[}}0, 1]] : tensor<1x8xi32> into tensor<8xi32>
// CHECK:         %[[HIST1:.+]] = linalg.generic {indexing_maps = [#[[ELEM]], #[[BIN]]], iterator_types = ["parallel", "reduction"]} ins(%[[FLAT1]] : tensor<8xi32>)
// CHECK:         return %[[MM]], %[[MIN0]], %[[MAX0]], %[[HIST0]], %[[MIN1]], %[[MAX1]], %[[HIST1]] : tensor<1x2xf32>, tensor<f32>, tensor<f32>, tensor<4xi32>, tensor<f32>, tensor<f32>, tensor<4xi32>
func.func @conv_then_matmul(%x: tensor<1x3x4x4xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<0.5> : tensor<2x3x3x3xf32>
  %m = arith.constant dense<0.25> : tensor<8x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x2x2x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>, quantune.layer = 0 : i64}
    ins(%x, %w : tensor<1x3x4x4xf32>, tensor<2x3x3x3xf32>) outs(%init : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %flat = tensor.collapse_shape %conv [[0], [1, 2, 3]] : tensor<1x2x2x2xf32> into tensor<1x8xf32>
  %e2 = tensor.empty() : tensor<1x2xf32>
  %init2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<1x2xf32>) -> tensor<1x2xf32>
  %mm = linalg.matmul {quantune.layer = 3 : i64} ins(%flat, %m : tensor<1x8xf32>, tensor<8x2xf32>) outs(%init2 : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %mm : tensor<1x2xf32>
}

// -----

// Unlabelled ops are not layers: the function is unchanged.
// CHECK-LABEL: func.func @no_layers(
// CHECK-SAME:      -> tensor<2x2xf32> {
// CHECK-NOT:     quantune.probe_outputs
// CHECK:         %[[R:.+]] = linalg.matmul ins(
// CHECK-NEXT:    return %[[R]] : tensor<2x2xf32>
func.func @no_layers(%a: tensor<2x3xf32>, %b: tensor<3x2xf32>, %c: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %0 = linalg.matmul ins(%a, %b : tensor<2x3xf32>, tensor<3x2xf32>) outs(%c : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

// Dynamic sizes: the bin index tensor takes them from the input, and result
// attributes of the original results are kept.
// CHECK-LABEL: func.func @dynamic(
// CHECK-SAME:      %[[A:[^:]+]]: tensor<?x4xf32>
// CHECK-SAME:      -> (tensor<?x2xf32> {foo.bar}, tensor<f32>, tensor<f32>, tensor<4xi32>)
// CHECK-SAME:      attributes {quantune.probe_outputs = ["1:min", "1:max", "1:hist"]}
// CHECK:         %[[DIM:.+]] = tensor.dim %[[A]], %{{.+}} : tensor<?x4xf32>
// CHECK:         %[[IDXINIT:.+]] = tensor.empty(%[[DIM]]) : tensor<?x4xi32>
// CHECK:         %[[IDX:.+]] = linalg.generic {{.*}} outs(%[[IDXINIT]] : tensor<?x4xi32>)
// CHECK:         tensor.collapse_shape %[[IDX]] {{\[\[}}0, 1]] : tensor<?x4xi32> into tensor<?xi32>
// CHECK:         return {{.*}} : tensor<?x2xf32>, tensor<f32>, tensor<f32>, tensor<4xi32>
func.func @dynamic(%a: tensor<?x4xf32>, %b: tensor<4x2xf32>, %c: tensor<?x2xf32>) -> (tensor<?x2xf32> {foo.bar}) {
  %0 = linalg.matmul {quantune.layer = 1 : i64} ins(%a, %b : tensor<?x4xf32>, tensor<4x2xf32>) outs(%c : tensor<?x2xf32>) -> tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

//--- bad-mode.mlir

// expected-error @below {{quantune-instrument: unknown mode 'histogram' (expected 'ranges' or 'local-error')}}
module {
  func.func @f(%a: tensor<2x3xf32>, %b: tensor<3x2xf32>, %c: tensor<2x2xf32>) -> tensor<2x2xf32> {
    %0 = linalg.matmul {quantune.layer = 0 : i64} ins(%a, %b : tensor<2x3xf32>, tensor<3x2xf32>) outs(%c : tensor<2x2xf32>) -> tensor<2x2xf32>
    return %0 : tensor<2x2xf32>
  }
}

//--- zero-bins.mlir

// bins=0: only min and max per layer, no histogram.
// ZERO-LABEL: func.func @f
// ZERO-SAME: -> (tensor<2x2xf32>, tensor<f32>, tensor<f32>)
// ZERO-SAME: quantune.probe_outputs = ["0:min", "0:max"]
// ZERO-NOT: xi32>
// expected-error @below {{quantune-instrument: bins must be between 0 and 16777216, got 16777217}}
module {
  func.func @f(%a: tensor<2x3xf32>, %b: tensor<3x2xf32>, %c: tensor<2x2xf32>) -> tensor<2x2xf32> {
    %0 = linalg.matmul {quantune.layer = 0 : i64} ins(%a, %b : tensor<2x3xf32>, tensor<3x2xf32>) outs(%c : tensor<2x2xf32>) -> tensor<2x2xf32>
    return %0 : tensor<2x2xf32>
  }
}

//--- invalid.mlir

// A function whose results a caller uses cannot get more of them.
// expected-error @below {{quantune-instrument: function @callee is called; instrumenting it would change the results its callers see}}
func.func @callee(%a: tensor<2x3xf32>, %b: tensor<3x2xf32>, %c: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %0 = linalg.matmul {quantune.layer = 0 : i64} ins(%a, %b : tensor<2x3xf32>, tensor<3x2xf32>) outs(%c : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}
func.func @caller(%a: tensor<2x3xf32>, %b: tensor<3x2xf32>, %c: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %0 = func.call @callee(%a, %b, %c) : (tensor<2x3xf32>, tensor<3x2xf32>, tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

//--- subsample.mlir

// hist-elements=4: the 2x5 input (10 elements) is counted on every
// ceil(10/4) = 3rd element of its row-major order, 4 of them; min and max
// still see all 10. With hist-elements=0 (or 10 and more) all are counted.
// SUB-LABEL: func.func @f(
// SUB:         %[[FLAT:.+]] = tensor.collapse_shape %{{.+}} {{\[\[}}0, 1]] : tensor<2x5xi32> into tensor<10xi32>
// SUB-NEXT:    %[[EVERY3:.+]] = tensor.extract_slice %[[FLAT]][0] [4] [3] : tensor<10xi32> to tensor<4xi32>
// SUB:         linalg.generic {{.*}} ins(%[[EVERY3]] : tensor<4xi32>)
// ALL-LABEL: func.func @f(
// ALL-NOT:     tensor.extract_slice
func.func @f(%a: tensor<2x5xf32>, %b: tensor<5x2xf32>, %c: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %0 = linalg.matmul {quantune.layer = 0 : i64} ins(%a, %b : tensor<2x5xf32>, tensor<5x2xf32>) outs(%c : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

//--- negative.mlir

// expected-error @+1 {{quantune-instrument: hist-elements must be 0 (no limit) or positive, got -1}}
module {
  func.func @f(%a: tensor<2x5xf32>, %b: tensor<5x2xf32>, %c: tensor<2x2xf32>) -> tensor<2x2xf32> {
    %0 = linalg.matmul {quantune.layer = 0 : i64} ins(%a, %b : tensor<2x5xf32>, tensor<5x2xf32>) outs(%c : tensor<2x2xf32>) -> tensor<2x2xf32>
    return %0 : tensor<2x2xf32>
  }
}
