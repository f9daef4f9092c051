// quantune-opt maps its input while it writes its output, so an output that
// is the input (by name or through a link) would destroy it. It is refused
// before anything is read, and the input is left as it was.
// RUN: rm -rf %t && mkdir -p %t && cp %s %t/in.mlir && ln -s in.mlir %t/link.mlir
// RUN: not quantune-opt %t/in.mlir -o %t/in.mlir 2>&1 | FileCheck %s -DFILE=%t/in.mlir
// RUN: not quantune-opt %t/in.mlir -o %t/link.mlir 2>&1 | FileCheck %s -DFILE=%t/link.mlir
// RUN: diff %s %t/in.mlir
// Another output path works as before.
// RUN: quantune-opt %t/in.mlir -o %t/out.mlir && FileCheck %s --check-prefix=OUT < %t/out.mlir

// CHECK: quantune-opt: error: output '[[FILE]]' is the input file; write to another path
// OUT: func.func @identity
func.func @identity(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  return %arg0 : tensor<4xf32>
}
