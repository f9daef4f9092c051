// RUN: quantune-opt %s --split-input-file --verify-diagnostics --quantune-label-layers | FileCheck %s
// Idempotence: running the pass a second time, in the same pipeline or after
// a print/parse round trip, changes nothing.
// RUN: quantune-opt %s --split-input-file --verify-diagnostics --quantune-label-layers --quantune-label-layers | FileCheck %s
// RUN: quantune-opt %s --split-input-file --verify-diagnostics --quantune-label-layers | quantune-opt --split-input-file --quantune-label-layers | FileCheck %s
// Locations are kept untouched by the pass.
// RUN: quantune-opt %s --split-input-file --verify-diagnostics --quantune-label-layers --mlir-print-debuginfo | FileCheck %s --check-prefix=LOC

// Every quantizable layout, in two functions: ids are dense from 0 in program
// order and continue across functions.

// CHECK-LABEL: func.func @convs
// CHECK:         linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, quantune.kind = "conv2d", quantune.layer = 0 : i64, quantune.macs = 7776 : i64, quantune.name = "conv1", quantune.params = 216 : i64, strides = dense<1> : tensor<2xi64>}
// CHECK:         linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : tensor<2xi64>, quantune.kind = "conv2d", quantune.layer = 1 : i64, quantune.macs = 7776 : i64, quantune.name = "conv2d_1", quantune.params = 216 : i64, strides = dense<1> : tensor<2xi64>}
// CHECK:         linalg.conv_2d_nhwc_fhwc {dilations = dense<1> : tensor<2xi64>, quantune.kind = "conv2d", quantune.layer = 2 : i64, quantune.macs = 7776 : i64, quantune.name = "conv2d_2", quantune.params = 216 : i64, strides = dense<1> : tensor<2xi64>}
// CHECK:         linalg.conv_2d_ngchw_fgchw {dilations = dense<1> : tensor<2xi64>, quantune.kind = "grouped_conv2d", quantune.layer = 3 : i64, quantune.macs = 3888 : i64, quantune.name = "grouped_conv2d_3", quantune.params = 108 : i64, strides = dense<1> : tensor<2xi64>}
// CHECK:         linalg.depthwise_conv_2d_nchw_chw {dilations = dense<1> : tensor<2xi64>, quantune.kind = "depthwise_conv2d", quantune.layer = 4 : i64, quantune.macs = 1296 : i64, quantune.name = "depthwise_conv2d_4", quantune.params = 36 : i64, strides = dense<1> : tensor<2xi64>}
// CHECK:         linalg.depthwise_conv_2d_nhwc_hwc {dilations = dense<1> : tensor<2xi64>, quantune.kind = "depthwise_conv2d", quantune.layer = 5 : i64, quantune.macs = 1296 : i64, quantune.name = "dw", quantune.params = 36 : i64, strides = dense<1> : tensor<2xi64>}
// CHECK:         return
// LOC-LABEL:   func.func @convs
// LOC:           linalg.conv_2d_nchw_fchw {{.*}} loc(#[[CONV1:loc[0-9]*]])
// LOC:           linalg.depthwise_conv_2d_nhwc_hwc {{.*}} loc(#[[DW:loc[0-9]*]])
func.func @convs(%i: tensor<1x4x8x8xf32>, %w: tensor<6x4x3x3xf32>, %o: tensor<1x6x6x6xf32>,
                 %ih: tensor<1x8x8x4xf32>, %wh: tensor<3x3x4x6xf32>, %oh: tensor<1x6x6x6xf32>,
                 %wf: tensor<6x3x3x4xf32>,
                 %ig: tensor<1x2x2x8x8xf32>, %wg: tensor<3x2x2x3x3xf32>, %og: tensor<1x2x3x6x6xf32>,
                 %wd: tensor<4x3x3xf32>, %od: tensor<1x4x6x6xf32>,
                 %wdh: tensor<3x3x4xf32>, %odh: tensor<1x6x6x4xf32>) {
  %0 = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
         ins(%i, %w : tensor<1x4x8x8xf32>, tensor<6x4x3x3xf32>) outs(%o : tensor<1x6x6x6xf32>) -> tensor<1x6x6x6xf32> loc("conv1")
  %1 = linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
         ins(%ih, %wh : tensor<1x8x8x4xf32>, tensor<3x3x4x6xf32>) outs(%oh : tensor<1x6x6x6xf32>) -> tensor<1x6x6x6xf32>
  %2 = linalg.conv_2d_nhwc_fhwc {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
         ins(%ih, %wf : tensor<1x8x8x4xf32>, tensor<6x3x3x4xf32>) outs(%oh : tensor<1x6x6x6xf32>) -> tensor<1x6x6x6xf32>
  %3 = linalg.conv_2d_ngchw_fgchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
         ins(%ig, %wg : tensor<1x2x2x8x8xf32>, tensor<3x2x2x3x3xf32>) outs(%og : tensor<1x2x3x6x6xf32>) -> tensor<1x2x3x6x6xf32>
  %4 = linalg.depthwise_conv_2d_nchw_chw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
         ins(%i, %wd : tensor<1x4x8x8xf32>, tensor<4x3x3xf32>) outs(%od : tensor<1x4x6x6xf32>) -> tensor<1x4x6x6xf32>
  // A NameLoc wrapping a file location.
  %5 = linalg.depthwise_conv_2d_nhwc_hwc {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
         ins(%ih, %wdh : tensor<1x8x8x4xf32>, tensor<3x3x4xf32>) outs(%odh : tensor<1x6x6x4xf32>) -> tensor<1x6x6x4xf32> loc("dw"("model.onnx":12:3))
  return
}

// Ops that are not quantizable layers are left alone and take no id.
// CHECK-LABEL: func.func @not_quantizable
// CHECK-NOT:     quantune.
// CHECK:         linalg.pooling_nchw_max {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(
// CHECK-NOT:     quantune.
// CHECK:         linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}], iterator_types = ["parallel"]} ins(
// CHECK-NOT:     quantune.
// CHECK:         linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<4x8xi8>, tensor<8x2xi8>) outs(%{{.*}} : tensor<4x2xi32>)
// CHECK-NOT:     quantune.
// CHECK:         linalg.conv_2d_nhwc_hwcf_q {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(
// CHECK-NOT:     quantune.
// CHECK:         linalg.fill ins(
// CHECK-NOT:     quantune.
// CHECK:         return
func.func @not_quantizable(%i: tensor<1x4x8x8xf32>, %k: tensor<2x2xf32>, %po: tensor<1x4x4x4xf32>, %x: tensor<4xf32>,
                           %a8: tensor<4x8xi8>, %b8: tensor<8x2xi8>, %c32: tensor<4x2xi32>,
                           %ih: tensor<1x8x8x4xi8>, %wh: tensor<3x3x4x6xi8>, %oh: tensor<1x6x6x6xi32>, %zp: i32) {
  %0 = linalg.pooling_nchw_max {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>}
         ins(%i, %k : tensor<1x4x8x8xf32>, tensor<2x2xf32>) outs(%po : tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
  %1 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
         ins(%x : tensor<4xf32>) outs(%x : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %out : f32
    linalg.yield %s : f32
  } -> tensor<4xf32>
  // Integer matmul with an i32 accumulator: already quantized.
  %2 = linalg.matmul ins(%a8, %b8 : tensor<4x8xi8>, tensor<8x2xi8>) outs(%c32 : tensor<4x2xi32>) -> tensor<4x2xi32>
  %3 = linalg.conv_2d_nhwc_hwcf_q {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
         ins(%ih, %wh, %zp, %zp : tensor<1x8x8x4xi8>, tensor<3x3x4x6xi8>, i32, i32) outs(%oh : tensor<1x6x6x6xi32>) -> tensor<1x6x6x6xi32>
  %4 = linalg.fill ins(%zp : i32) outs(%c32 : tensor<4x2xi32>) -> tensor<4x2xi32>
  return
}

// CHECK-LABEL: func.func @matmuls
// CHECK:         linalg.matmul {quantune.kind = "matmul", quantune.layer = 6 : i64, quantune.macs = 64 : i64, quantune.name = "matmul_6", quantune.params = 16 : i64} ins(
// CHECK:         linalg.matmul indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}] {quantune.kind = "matmul", quantune.layer = 7 : i64, quantune.macs = 64 : i64, quantune.name = "fc", quantune.params = 16 : i64} ins(
// CHECK:         linalg.batch_matmul {quantune.kind = "batch_matmul", quantune.layer = 8 : i64, quantune.macs = 192 : i64, quantune.name = "batch_matmul_8", quantune.params = 48 : i64} ins(
// CHECK:         linalg.matmul {quantune.kind = "matmul", quantune.layer = 9 : i64, quantune.macs = 64 : i64, quantune.name = "matmul_9", quantune.params = 16 : i64} ins(%{{.*}}, %{{.*}} : tensor<4x8xf16>, tensor<8x2xf16>)
// CHECK:         return
// LOC-LABEL:   func.func @matmuls
// LOC:           linalg.matmul indexing_maps = {{.*}} loc(#[[FC:loc[0-9]*]])
// LOC-DAG:     #[[CONV1]] = loc("conv1")
// LOC-DAG:     #[[DW]] = loc("dw"(
// LOC-DAG:     #[[FC]] = loc(fused[
func.func @matmuls(%a: tensor<4x8xf32>, %b: tensor<8x2xf32>, %bt: tensor<2x8xf32>, %c: tensor<4x2xf32>,
                   %ba: tensor<3x4x8xf32>, %bb: tensor<3x8x2xf32>, %bc: tensor<3x4x2xf32>,
                   %ah: tensor<4x8xf16>, %bh: tensor<8x2xf16>, %ch: tensor<4x2xf16>) {
  %0 = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32>
  // Transposed B; the name is found inside a fused location.
  %1 = linalg.matmul indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                      affine_map<(d0, d1, d2) -> (d1, d2)>,
                                      affine_map<(d0, d1, d2) -> (d0, d1)>]
         ins(%a, %bt : tensor<4x8xf32>, tensor<2x8xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32> loc(fused["a.mlir":1:1, "fc"])
  %2 = linalg.batch_matmul ins(%ba, %bb : tensor<3x4x8xf32>, tensor<3x8x2xf32>) outs(%bc : tensor<3x4x2xf32>) -> tensor<3x4x2xf32>
  %3 = linalg.matmul ins(%ah, %bh : tensor<4x8xf16>, tensor<8x2xf16>) outs(%ch : tensor<4x2xf16>) -> tensor<4x2xf16>
  return
}

// -----

// Location forms: only a non-empty NameLoc gives a name.

// CHECK-LABEL: func.func @locations
// CHECK:         quantune.layer = 0 : i64, quantune.macs = 64 : i64, quantune.name = "matmul_0"
// CHECK:         quantune.layer = 1 : i64, quantune.macs = 64 : i64, quantune.name = "inner"
// CHECK:         quantune.layer = 2 : i64, quantune.macs = 64 : i64, quantune.name = "callee_name"
// CHECK:         quantune.layer = 3 : i64, quantune.macs = 64 : i64, quantune.name = "first"
// CHECK:         quantune.layer = 4 : i64, quantune.macs = 64 : i64, quantune.name = "matmul_4"
// CHECK:         quantune.layer = 5 : i64, quantune.macs = 64 : i64, quantune.name = "nested"
// CHECK:         scf.yield
// CHECK:         quantune.layer = 6 : i64, quantune.macs = 64 : i64, quantune.name = "matmul_6"
// CHECK:         return
func.func @locations(%a: tensor<4x8xf32>, %b: tensor<8x2xf32>, %c: tensor<4x2xf32>, %cond: i1) -> tensor<4x2xf32> {
  // A fused location without any name.
  %0 = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32> loc(fused["a.mlir":1:1, "b.mlir":2:2])
  // An empty NameLoc is skipped in favour of the name inside it.
  %1 = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32> loc(""("inner"))
  // A call site location gives the callee's name.
  %2 = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32> loc(callsite("callee_name" at "caller_name"))
  // The first name in a fused location wins.
  %3 = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32> loc(fused["x.mlir":3:1, "first", "second"])
  // A plain file location gives no name.
  %4 = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32> loc("x.mlir":4:1)
  // Layers inside regions are numbered in pre-order.
  %5 = scf.if %cond -> tensor<4x2xf32> {
    %n = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32> loc("nested")
    scf.yield %n : tensor<4x2xf32>
  } else {
    scf.yield %c : tensor<4x2xf32>
  }
  %6 = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%5 : tensor<4x2xf32>) -> tensor<4x2xf32>
  return %6 : tensor<4x2xf32>
}

// -----

// Existing labels are kept; new ids start after the largest existing id, and
// an existing name is kept while the kind is always recomputed.

// CHECK-LABEL: func.func @pre_labelled
// CHECK:         linalg.matmul {quantune.kind = "matmul", quantune.layer = 6 : i64, quantune.macs = 64 : i64, quantune.name = "matmul_6", quantune.params = 16 : i64} ins(
// CHECK:         linalg.matmul {foo.bar = "keep", quantune.kind = "matmul", quantune.layer = 5 : i64, quantune.macs = 64 : i64, quantune.name = "matmul_5", quantune.params = 16 : i64} ins(
// CHECK:         linalg.batch_matmul {quantune.kind = "batch_matmul", quantune.layer = 2 : i64, quantune.macs = 192 : i64, quantune.name = "custom", quantune.params = 48 : i64} ins(
// CHECK:         linalg.matmul {quantune.kind = "matmul", quantune.layer = 7 : i64, quantune.macs = 64 : i64, quantune.name = "late", quantune.params = 16 : i64} ins(
// CHECK:         return
func.func @pre_labelled(%a: tensor<4x8xf32>, %b: tensor<8x2xf32>, %c: tensor<4x2xf32>,
                        %ba: tensor<3x4x8xf32>, %bb: tensor<3x8x2xf32>, %bc: tensor<3x4x2xf32>) {
  %0 = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32>
  %1 = linalg.matmul {quantune.layer = 5 : i64, foo.bar = "keep"} ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32>
  %2 = linalg.batch_matmul {quantune.layer = 2 : i64, quantune.name = "custom", quantune.kind = "bogus"} ins(%ba, %bb : tensor<3x4x8xf32>, tensor<3x8x2xf32>) outs(%bc : tensor<3x4x2xf32>) -> tensor<3x4x2xf32> loc("ignored")
  %3 = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32> loc("late")
  return
}

// -----

// A module without layers is unchanged.
// CHECK-LABEL: func.func @no_layers
// CHECK-NOT:     quantune.
// CHECK:         return
func.func @no_layers(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// -----

func.func @duplicate_ids(%a: tensor<4x8xf32>, %b: tensor<8x2xf32>, %c: tensor<4x2xf32>) {
  // expected-note @+1 {{first used here}}
  %0 = linalg.matmul {quantune.layer = 3 : i64} ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32>
  %1 = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32>
  // expected-error @+1 {{duplicate layer id 3}}
  %2 = linalg.matmul {quantune.layer = 3 : i64} ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32>
  return
}

// -----

// Duplicates are found across functions too.
func.func @dup_a(%a: tensor<4x8xf32>, %b: tensor<8x2xf32>, %c: tensor<4x2xf32>) {
  // expected-note @+1 {{first used here}}
  %0 = linalg.matmul {quantune.layer = 0 : i64} ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32>
  return
}
func.func @dup_b(%ba: tensor<3x4x8xf32>, %bb: tensor<3x8x2xf32>, %bc: tensor<3x4x2xf32>) {
  // expected-error @+1 {{duplicate layer id 0}}
  %0 = linalg.batch_matmul {quantune.layer = 0 : i64} ins(%ba, %bb : tensor<3x4x8xf32>, tensor<3x8x2xf32>) outs(%bc : tensor<3x4x2xf32>) -> tensor<3x4x2xf32>
  return
}

// -----

func.func @negative_id(%a: tensor<4x8xf32>, %b: tensor<8x2xf32>, %c: tensor<4x2xf32>) {
  // expected-error @+1 {{'quantune.layer' must be an i64 in [0, 2^63 - 1), got -1 : i64}}
  %0 = linalg.matmul {quantune.layer = -1 : i64} ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32>
  return
}

// -----

// Every bad id is reported, not just the first.
func.func @non_integer_ids(%a: tensor<4x8xf32>, %b: tensor<8x2xf32>, %c: tensor<4x2xf32>) {
  // expected-error @+1 {{'quantune.layer' must be an i64 in [0, 2^63 - 1), got "conv1"}}
  %0 = linalg.matmul {quantune.layer = "conv1"} ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32>
  // expected-error @+1 {{'quantune.layer' must be an i64 in [0, 2^63 - 1), got 1.000000e+00 : f32}}
  %1 = linalg.matmul {quantune.layer = 1.0 : f32} ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32>
  return
}

// -----

// Ids on ops that are not quantizable still count: the float matmul may not
// reuse the id an integer matmul already carries.
func.func @id_on_non_quantizable_op(%a: tensor<4x8xi8>, %b: tensor<8x2xi8>, %c: tensor<4x2xi32>,
                                    %fa: tensor<4x8xf32>, %fb: tensor<8x2xf32>, %fc: tensor<4x2xf32>) {
  // expected-note @+1 {{first used here}}
  %0 = linalg.matmul {quantune.layer = 0 : i64} ins(%a, %b : tensor<4x8xi8>, tensor<8x2xi8>) outs(%c : tensor<4x2xi32>) -> tensor<4x2xi32>
  // expected-error @+1 {{duplicate layer id 0}}
  %1 = linalg.matmul {quantune.layer = 0 : i64} ins(%fa, %fb : tensor<4x8xf32>, tensor<8x2xf32>) outs(%fc : tensor<4x2xf32>) -> tensor<4x2xf32>
  return
}

// -----

func.func @wrong_id_type_and_range(%a: tensor<4x8xf32>, %b: tensor<8x2xf32>, %c: tensor<4x2xf32>) {
  // expected-error @+1 {{'quantune.layer' must be an i64 in [0, 2^63 - 1), got 5 : ui8}}
  %0 = linalg.matmul {quantune.layer = 5 : ui8} ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32>
  // expected-error @+1 {{'quantune.layer' must be an i64 in [0, 2^63 - 1), got 9223372036854775807 : i64}}
  %1 = linalg.matmul {quantune.layer = 9223372036854775807 : i64} ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32>
  return
}
