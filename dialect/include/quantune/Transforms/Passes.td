//===- Passes.td - Quantune passes -------------------------*- tablegen -*-===//
//
// Part of the Quantune-MLIR project.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTUNE_TRANSFORMS_PASSES_TD
#define QUANTUNE_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def QuantuneLabelLayers : Pass<"quantune-label-layers", "::mlir::ModuleOp"> {
  let summary = "Give every quantizable layer a stable id, name and kind";
  let description = [{
    Walks the module in program order (functions in order, ops pre-order)
    and labels every quantizable linalg op with three discardable
    attributes:

    * `quantune.layer`: an `i64` id, dense from 0 in program order;
    * `quantune.name`: the ONNX node name when the op's location carries
      one (a `NameLoc`, possibly inside a `FusedLoc`), else `<kind>_<id>`;
    * `quantune.kind`: `conv2d`, `depthwise_conv2d`, `grouped_conv2d`,
      `matmul` or `batch_matmul`.

    The quantizable ops are the `linalg.conv_2d_*` family in every layout
    (including grouped), `linalg.depthwise_conv_2d_*`, `linalg.matmul` (with
    or without transposing indexing maps) and `linalg.batch_matmul`.

    Labels that are already present are kept, so running the pass twice is a
    no-op and ids stay stable; new layers are numbered after the largest
    existing id. Duplicate ids are reported as errors.
  }];
  let dependentDialects = ["::mlir::quantune::QuantuneDialect"];
  let statistics = [
    Statistic<"numLabelled", "num-labelled", "Number of layers labelled">
  ];
}

def QuantuneStrip : Pass<"quantune-strip", "::mlir::ModuleOp"> {
  let summary = "Remove every quantune attribute";
  let description = [{
    Removes every discardable attribute whose name starts with `quantune.`
    or whose value holds a quantune attribute (e.g. `foo =
    #quantune.precision<i8>`) from all ops, and likewise from function
    argument and result attributes, leaving plain upstream IR for IREE. Quantune ops have
    semantics that must be lowered first, so the pass fails with an error
    at each quantune op it finds and changes nothing in that case.
  }];
  let statistics = [
    Statistic<"numStripped", "num-stripped", "Number of attributes removed">
  ];
}

def QuantuneChannelMajorDepthwise
    : Pass<"quantune-channel-major-depthwise", "::mlir::ModuleOp"> {
  let summary = "Rewrite NCHW depthwise convs as channel-major linalg.generic";
  let description = [{
    Replaces every `linalg.depthwise_conv_2d_nchw_chw` with the equivalent
    `linalg.generic` whose loops run `(n, c, oh, ow, kh, kw)` instead of the
    named op's `(n, oh, ow, c, kh, kw)`. The computation is unchanged;
    discardable attributes such as the quantune labels are carried over.

    Why: IREE 3.13's SPIR-V (Vulkan) code generation distributes the named
    op's output fill and its accumulation loop over the workgroup's threads
    in two different ways with no barrier between them, so threads read
    elements that other threads are still zeroing. On Mesa's lavapipe the
    result is wrong (relative error near 0.7). With channel-major loops both
    are distributed alike and the result matches onnxruntime. `quantune
    compile --target vulkan` runs this pass before iree-compile.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
  let statistics = [
    Statistic<"numRewritten", "num-rewritten",
              "Number of depthwise convolutions rewritten">
  ];
}

#endif // QUANTUNE_TRANSFORMS_PASSES_TD
