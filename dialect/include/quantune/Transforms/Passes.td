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
      `matmul` or `batch_matmul`;
    * `quantune.params`: the element count of the weight operand, and
      `quantune.macs`: the multiply-accumulate count (product of the loop
      ranges), each when static.

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

def QuantuneNhwcDepthwise
    : Pass<"quantune-nhwc-depthwise", "::mlir::ModuleOp"> {
  let summary = "Run NCHW depthwise convs in NHWC, as a linalg.generic";
  let description = [{
    Replaces every `linalg.depthwise_conv_2d_nchw_chw` (float, or the int8
    form quantune-lower-mixed-precision leaves: i8 operands, i32
    accumulator) with

    * a `linalg.transpose` of the input to NHWC and of the accumulator
      init to NHWC, and of the constant weight from CHW to HWC,
    * a `linalg.generic` computing the depthwise convolution on NHWC
      tensors, loops `(n, oh, ow, c, kh, kw)`, input map
      `(n, oh * sh + kh * dh, ow * sw + kw * dw, c)`, with the named op's
      body (so the arithmetic is unchanged, bit for bit), and
    * a `linalg.transpose` of the result back to NCHW.

    Discardable attributes (the quantune labels) move to the generic.

    An integer convolution whose sums are exact in f32 (every partial sum
    below 2^24 in magnitude: i8 x i8 with up to 1,040 taps) accumulates in
    f32 instead, with `f32-accumulate` (default on): the generic converts
    both operands with `arith.sitofp`, multiplies and adds in f32 from 0,
    and an elementwise generic converts the sum to i32 (`arith.fptosi`,
    exact) and adds the original i32 init. The values are the same bit for
    bit; IREE 3.13 compiles the f32 form to FMAs, faster on x86 than its
    i32 multiplies (all-int8 MobileNetV2 at 224x224: 10.3 to 10.0 ms).

    Why: IREE 3.13 compiles the named NCHW depthwise op for the CPU as a
    loop nest that reads channels with a stride, about 20x slower than the
    same convolution in NHWC (6.8 ms against 0.34 ms for one 56x56x144
    layer; docs/results.md). With the CPU recipe's
    `iree-preprocessing-convert-conv-to-channels-last`, the other
    convolutions become NHWC too and the transposes between layers cancel.
    It must stay a `linalg.generic`: the named NHWC op is turned into an
    im2col + batch_matvec by the recipe, which is slower still. The CPU
    targets run this pass with their recipe (`quantune compile` without
    `--no-recipe`).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
  let options = [
    Option<"f32Accumulate", "f32-accumulate", "bool", /*default=*/"true",
           "Accumulate integer depthwise convolutions in f32 where the sums "
           "are exact (below 2^24)">
  ];
  let statistics = [
    Statistic<"numRewritten", "num-rewritten",
              "Number of depthwise convolutions rewritten">
  ];
}

def QuantuneWeightMetrics
    : Pass<"quantune-weight-metrics", "::mlir::ModuleOp"> {
  let summary = "Weight SQNR and relative MSE of every labelled layer";
  let description = [{
    For every labelled layer, finds its constant weight (looking through
    `linalg.transpose` and transposing `linalg.generic` ops), quantizes it to
    `bits`-bit signed integers, symmetric per output channel
    (`s_c = max|W_c| / (2^(bits-1) - 1)`, round half to even, clamp to
    `[-(2^(bits-1) - 1), 2^(bits-1) - 1]`), and records

    * `weight_sqnr = 10 log10(sum W^2 / sum (W - W')^2)` in dB, capped at
      200 dB when the quantization is exact, and
    * `weight_mse = mean((W - W')^2) / mean(W^2)`

    in the layer's `quantune.metrics` (other fields are kept). With
    `i4=true` the same two metrics of the weights quantized to 4 bits (the
    w4a8 tier) also go into `quantune.metrics_i4`, from the same read of
    the weights. The output
    channel axes are the weight dimensions that also index the layer's
    output. Both `dense` and `dense_resource` constants are read; the cost
    is linear in the number of weights.

    A layer whose weight is not a constant gets a warning,
    `quantune.precision = #quantune.precision<f32>` and a
    `quantune.reason`, and so does a layer whose weight or result has no
    elements (a zero-size dimension such as 0 output channels) and a layer
    nested in a region such as a loop body (the analysis cannot return its
    statistics; reason "inside a loop body (recurrent layer)"). NaN or
    infinite weights are an error.
  }];
  let options = [
    Option<"bits", "bits", "unsigned", /*default=*/"8",
           "Weight bit width (2 to 16)">,
    Option<"i4", "i4", "bool", /*default=*/"false",
           "Also measure 4-bit weights into quantune.metrics_i4 (w4a8)">
  ];
  let dependentDialects = ["::mlir::quantune::QuantuneDialect"];
  let statistics = [
    Statistic<"numMeasured", "num-measured", "Number of layers measured">,
    Statistic<"numNonConstant", "num-non-constant",
              "Number of layers whose weight is not a constant">,
    Statistic<"numOtherF32", "num-other-f32",
              "Number of layers kept f32 because they are empty or nested "
              "in a region">
  ];
}

def QuantuneInstrument : Pass<"quantune-instrument", "::mlir::ModuleOp"> {
  let summary = "Make a probe module that returns per-layer statistics";
  let description = [{
    Adds, for every labelled layer of a function, reductions whose results
    are appended to the function's results, and records on the function
    `quantune.probe_outputs`: one `"<layer>:<statistic>"` string per extra
    result, in order. The original results come first and are unchanged.
    Everything is reduced in-graph; no activation tensor leaves the module.

    `mode=ranges` (inference 1): for the layer's input activation, `min`
    and `max` (`tensor<f32>`) and `hist` (`tensor<BINSxi32>`), a histogram
    with `bins` equal bins spanning this sample's `[min, max]`; `bins=0`
    leaves the histogram out (min-max calibration needs none). Counting
    costs `bins` compares per element, so a static input with more than
    `hist-elements` elements (default 65536; 0 means no limit) is counted on
    every k-th element of its row-major order, `k = ceil(elements /
    hist-elements)`; `min` and `max` always see every element.

    `mode=local-error` (inference 2): every layer also computes its
    quantized twin on the same fp32 input, `y' = op(Q(x), Q(W))`, with the
    input fake-quantized under the layer's `quantune.act_qparams` and the
    weight fake-quantized per output channel as in quantune-weight-metrics.
    It returns `sum_y2` (sum of y^2) and `sum_err2` (sum of (y - y')^2),
    both accumulated and returned as `tensor<f64>` (each element is
    extended to f64 before it is squared; f32 sums overflow to inf on
    layers with large activations), and `count` (`tensor<i32>`, the element
    count of y). IREE demotes f64 to f32 unless the module is compiled with
    `--iree-input-demote-f64-to-f32=false`. Layers without
    `quantune.act_qparams` or with a `quantune.reason` are skipped silently.
    A candidate (act_qparams, no reason) that cannot be measured (weight
    not a constant, input or output not a ranked float tensor, no tensor
    semantics, more than 2^31 - 1 output elements) is skipped too and gets
    `quantune.precision = #quantune.precision<f32>`, a `quantune.reason` and
    a warning. The twin reuses the layer's init operand, so a bias folded
    into it is part of both y and y'.

    With `act_qparams_candidates` (an array of per-tensor qparams) on a
    layer, the twin is computed once per candidate `k`, all sharing the
    quantized weight, and the sums are named `sum_err2.k` and `sum_err.k`;
    without it the one candidate is `act_qparams` and the names carry no
    suffix. `sum_err` (`tensor<...xf64>`, one value per output channel: the
    output dimensions whose loop also indexes the weight, in order) is
    `sum (y - y')` over the other dimensions, the mean shift that bias
    correction removes; it is left out when a channel dimension is dynamic.

    `i4=true` (mode=local-error) also measures each layer's w4a8 form:
    per candidate, a second twin on the same quantized input with the
    weight quantized to 4 bits, whose sums are named `sum_err2_i4` and
    `sum_err_i4` (with the same `.k` suffixes). `sum_y2` and `count` are
    shared. One inference thus measures both integer tiers.

    `shadow=true` (mode=local-error) also adds three trailing arguments: a
    `tensor<i32>` layer selector, a `tensor<i32>` candidate index and a
    `tensor<Cxf32>` correction, C the largest static output channel count
    of the function's layers (recorded as `quantune.shadow_channels` on the
    function). The layer whose id equals the selector passes the twin of
    the given candidate (the first for an index out of range; the w4a8
    twin with `i4=true`) plus the first c values of the correction (c its
    own channel count, row-major over its output channel dimensions; none
    when those are dynamic), instead of its fp32 result, to the rest of the
    network (its own probes still compare the fp32 result with each twin),
    so the function's original results show that one layer's int8 error at
    the model output: a per-sample, one-layer sweep inside inference 2.
    The caller passes the range and bias correction the layer would get, so
    that the error measured is the one of the layer's final form. `-1`
    selects none.

    In `quantune.probe_outputs`, `<layer>` is the layer id. Instrumented
    functions must be single-block and not called from elsewhere (their
    signature changes); anything else is an error. A labelled layer nested
    in a region (e.g. the matmuls of an LSTM, which becomes an scf loop)
    has no value the function could return: it gets no probe, in both
    modes, and, if it has no `quantune.reason` yet, f32, the reason
    "inside a loop body (recurrent layer)" (or "nested in a region of
    '<op>'" outside loops) and a warning.
  }];
  let options = [
    Option<"mode", "mode", "std::string", /*default=*/"\"ranges\"",
           "ranges or local-error">,
    Option<"bins", "bins", "unsigned", /*default=*/"128",
           "Histogram bins per sample, 0 for none (mode=ranges)">,
    Option<"histElements", "hist-elements", "int64_t", /*default=*/"65536",
           "Count a larger static input's histogram on every k-th element "
           "so that at most this many are counted; 0 counts all (mode=ranges)">,
    Option<"bits", "bits", "unsigned", /*default=*/"8",
           "Weight bit width of the quantized twin (mode=local-error)">,
    Option<"shadow", "shadow", "bool", /*default=*/"false",
           "Add a layer selector, candidate index and correction: the "
           "selected layer feeds that candidate's int8 twin, corrected, to "
           "the rest of the network (mode=local-error)">,
    Option<"i4", "i4", "bool", /*default=*/"false",
           "Also measure each layer's w4a8 twin (4-bit weights), as "
           "sum_err2_i4 / sum_err_i4 (mode=local-error)">
  ];
  let dependentDialects = [
    "::mlir::quantune::QuantuneDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def QuantuneFakeQuantize
    : Pass<"quantune-fake-quantize", "::mlir::ModuleOp"> {
  let summary = "Simulate int8 layers in fp32 with fake quantization";
  let description = [{
    Replaces the input and the weight of layers with their fake-quantized
    values (input per tensor under `quantune.act_qparams`, weight per output
    channel as in quantune-weight-metrics), so the fp32 program computes
    what the int8 program would, up to accumulation order.

    By default every layer whose `quantune.precision` is `i8` or `i4` is
    simulated: an `i8` layer with `bits`-bit weights, an `i4` (w4a8) layer
    with 4-bit weights.
    With `switchable=true` the functions get one more argument, a
    `tensor<i32>` layer selector, and a layer is simulated only when the
    selector equals its id (`-1` simulates none): one compiled module then
    serves a whole per-layer sweep. Inputs and weights are switched with
    elementwise selects, so the layer itself runs once.

    A layer's `quantune.bias_correction` (one value per output channel) is
    added to its simulated output, as the lowering adds it to the bias
    (with `switchable=true`, only when the layer is selected).

    In the default mode an i8 layer without `quantune.act_qparams` or
    without a constant weight is not simulated: it gets a warning,
    `quantune.precision = #quantune.precision<f32>` and a `quantune.reason`,
    as quantune-lower-mixed-precision keeps such a layer in f32. With
    `switchable=true` such layers are skipped silently (the selector never
    activates them). Malformed `quantune.act_qparams` and NaN or infinite
    weights are errors in both modes.
  }];
  let options = [
    Option<"switchable", "switchable", "bool", /*default=*/"false",
           "Add a layer-selector argument instead of using precisions">,
    Option<"bits", "bits", "unsigned", /*default=*/"8",
           "Weight bit width">
  ];
  let dependentDialects = [
    "::mlir::quantune::QuantuneDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def QuantuneAnnotate : Pass<"quantune-annotate", "::mlir::ModuleOp"> {
  let summary = "Attach per-layer qparams, metrics and precisions from JSON";
  let description = [{
    Reads a JSON file written by the Python analysis:

    ```json
    {"version": 1,
     "layers": [{"id": 0,
                 "act_qparams": {"storage": "si8", "scale": 0.02, "zero_point": -3},
                 "metrics": {"act_sqnr": 31.5, "act_mse": 0.0007},
                 "precision": "i8"} ] }
    ```

    and sets `quantune.act_qparams`, merges the given fields into
    `quantune.metrics` (and those of `metrics_i4` into
    `quantune.metrics_i4`, the w4a8 tier's), and sets `quantune.precision` (`f32`, `f16`,
    `bf16`, `i8`, `i4`) on the layer with that id. Every key is optional
    except `id`. Unknown layer ids, unknown keys, wrong value types and
    malformed JSON are errors that name the file and the entry.
  }];
  let options = [
    Option<"file", "file", "std::string", /*default=*/"",
           "Path of the JSON annotations">
  ];
  let dependentDialects = ["::mlir::quantune::QuantuneDialect"];
}

def QuantuneAssignPrecision
    : Pass<"quantune-assign-precision", "::mlir::ModuleOp"> {
  let summary = "Rank layers by sensitivity and choose f32, i8 (or i4) under a budget";
  let description = [{
    Combines the four local metrics of every labelled layer into one
    sensitivity and keeps the most sensitive layers in f32.

    Each metric is min-max normalised across the layers to [0, 1], oriented
    so that 1 is the most sensitive (lowest SQNR, highest MSE); if all layers
    share a value it contributes 0. The sensitivity is
    `sum_k r_k n_k / sum_k r_k` over `(weight_sqnr, act_sqnr, weight_mse,
    act_mse)` with the `ratio` weights `r`; a metric missing on every layer
    is left out. The result is stored as `sensitivity` in
    `quantune.metrics`.

    Layers are sorted by sensitivity, most sensitive first, ties broken by
    ascending layer id, and kept in f32 from the top of that list (a single
    sort and cut) until the `budget` is met:

    * `fp32-count=K`: the K most sensitive layers are f32;
    * `fp32-fraction=F`: ceil(F * layers) layers are f32;
    * `weight-bytes=B`: f32 layers are added while the weight size (4 bytes
      per f32 weight, 1 per i8 weight) stays <= B; a B below the all-i8
      size is an error;
    * `weight-fraction=F`: the same with B = F times the f32 size of every
      labelled layer's weights;
    * `int8-mac-share=P`: f32 layers are added while the i8 share of MACs
      stays >= P.

    A weight budget may name a cap on the f32 layers as a second item,
    `weight-bytes=B,fp32-count=K` or `weight-fraction=F,fp32-fraction=G`:
    f32 layers are added only while there are fewer than the cap.

    `int4=true` adds a third tier, `i4` (w4a8: 4-bit weights, 8-bit
    activations), for a weight budget (anything else is an error). One
    ranking, computed as above from `quantune.metrics_i4` (the layers'
    w4a8 metrics; the sensitivity is stored there), and two cuts: every
    candidate starts in i4 (half a byte per weight); from the top of the
    ranking, layers are promoted to i8 while the weights fit the budget,
    and then, with the bytes left, the top of the i8 layers to f32 (at
    most the cap). i8 comes first because it removes most of the 4-bit
    error for a quarter of f32's bytes. A budget below the all-i4 size is
    an error.

    Layers that already carry a `quantune.reason` stay f32 and are not
    counted against the budget. Every other layer gets
    `quantune.precision` `i8` or `f32` (or `i4`). The result is
    deterministic.
  }];
  let options = [
    ListOption<"ratio", "ratio", "double",
               "Weights of weight_sqnr, act_sqnr, weight_mse, act_mse (default 1,1,1,1)">,
    Option<"budget", "budget", "std::string", /*default=*/"\"fp32-count=0\"",
           "fp32-count=K | fp32-fraction=F | weight-bytes=B | weight-fraction=F "
           "| int8-mac-share=P; a weight budget may add ,fp32-count=K or "
           ",fp32-fraction=F (a cap on the f32 layers)">,
    Option<"int4", "int4", "bool", /*default=*/"false",
           "Three tiers, f32 / i8 / i4 (w4a8), ranked by quantune.metrics_i4 "
           "and cut under a weight budget">
  ];
  let dependentDialects = ["::mlir::quantune::QuantuneDialect"];
}

def QuantuneLowerMixedPrecision
    : Pass<"quantune-lower-mixed-precision", "::mlir::ModuleOp"> {
  let summary = "Rewrite every i8 and i4 layer as integer linalg arithmetic";
  let description = [{
    For every layer whose `quantune.precision` is `#quantune.precision<i8>`
    or `#quantune.precision<i4>` (w4a8: 4-bit weights, 8-bit activations),
    set by `quantune-annotate` or `quantune-assign-precision`:

    * the input activation is quantized with the layer's
      `quantune.act_qparams` (`quantune.quantize`, si8 with a zero point);
    * the weight becomes an i8 constant, symmetric with one scale per
      output channel (per tensor when the output channel spans several
      dimensions, as in grouped convolutions and batch_matmul), already in
      the layout the layer reads (transposes are folded into the constant).
      An i4 layer's weights are quantized to [-7, 7] (`s = max|W| / 7`) and
      stored two per byte in a 1-D i8 constant (element 2k in the low nibble
      of byte k), unpacked in front of the layer by an elementwise
      `linalg.generic` (shift left, arithmetic shift right) and a reshape.
      IREE hoists the unpacking, and the data-tiling pack after it, into an
      initializer: compiled with `--iree-opt-const-eval=false` it runs once
      when the module is loaded, the module keeps 4 bits per weight and the
      layer runs the i8 kernels. No i4 type reaches IREE, whose sub-byte
      code generation fails or is wrong on some shapes;
    * the layer itself becomes the same linalg op on i8 operands with an
      i32 accumulator (`extsi` then `muli`/`addi`);
    * the i32 start value of each output channel folds the bias,
      `round(bias / (s_x * s_w))`, and the zero-point correction
      `-zp_x * sum(w)`. Padding is explicit in this IR (`tensor.pad` before
      the layer), so after quantization it pads with the zero point and the
      correction is exact. The accumulator starts at 0 and an elementwise
      `linalg.generic` adds the start values after the layer (IREE fuses it
      into the layer's dispatch); the start values are the accumulator's
      init instead for a layer whose value reaches several consumers, in a
      module with w4a8 layers, with `start-in-init=true`, and for the layers
      listed in `start-in-init-layers` (IREE 3.13 fails to compile some
      such modules otherwise: a microkernel it cannot lower, or a dispatch
      over the stack limit). When
      the layer's initial value is not a constant fill or broadcast, it is
      added in f32 after the epilogue;
    * a `quantune.dequantize` of the i32 sum (si32, scale `s_x * s_w` per
      output channel) gives the f32 result back.

    Bias headroom: a channel's bias may use at most 2^30 accumulator steps,
    `|b_c| / (s_x * s_w[c]) <= 2^30`. When a channel exceeds that and is
    *dead* (its `max|W_c|` is at most 1e-5 times the layer's largest
    `max|W|`, typical of channels that batch-norm folding left with weights
    near 1e-10 and a bias near 1), its weight scale is raised to
    `|b_c| / (s_x * 2^30)`: its weights quantize to about 0 and the bias is
    kept (the `num-floored` statistic counts these channels). Otherwise the
    layer is refused.

    Per-layer fallback: a layer marked i8 that cannot be lowered (no
    act_qparams, weight not constant, activation storage other than si8, a
    result that is not statically shaped or has no elements, a bias beyond
    the accumulator, ...) stays the f32 linalg op it was: it gets
    `quantune.precision = #quantune.precision<f32>`, a `quantune.reason`
    string saying why, and a warning, and the pass goes on. With
    `strict=true` such a layer is an error instead and the pass fails.
    Malformed IR (act_qparams that are not a per-tensor `#quantune.qparams`,
    NaN or infinite weights) is always an error.

    `check-only=true` rewrites nothing: every labelled layer that has
    `quantune.act_qparams` and no `quantune.reason`, whatever its precision,
    goes through the same feasibility checks (the same code as the
    lowering), and the refused ones get f32, a `quantune.reason` and a
    warning. The analysis runs it before `quantune-assign-precision`, which
    keeps layers with a reason in f32 outside the budget.

    `vulkan-safe=true` keeps every layer f32, with a reason. IREE 3.13's
    SPIR-V code for int8 is wrong on Mesa's lavapipe in several ways
    (docs/lowering.md, "Known problems"): without 8-bit storage a
    vectorized `vector<4xi8>` buffer element is addressed as
    `vector<4xi32>` (matmul-shaped contractions, and also the quantize
    dispatch in front of a 3x3 convolution once its rows are a multiple of
    4 wide); small i8 weight constants inlined into a dispatch hang; and
    with 8-bit storage enabled, 8-wide i8 loads lose their sign. Which
    dispatches are hit follows IREE's vectorization heuristics, not a rule
    on the layer, so no int8 layer can be promised correct. `quantune
    quantize --target vulkan` sets it.

    The output is the "naive" mixed-precision form: a quantize/dequantize
    pair around every int8 layer. `quantune-fold-requantize` removes the
    pairs between int8 layers and `quantune-expand-quant-ops` turns what
    remains into linalg.generic.
  }];
  let options = [
    Option<"strict", "strict", "bool", /*default=*/"false",
           "Fail on an i8 layer that cannot be lowered instead of keeping "
           "it f32">,
    Option<"checkOnly", "check-only", "bool", /*default=*/"false",
           "Only mark the layers that cannot be int8 (f32 + "
           "quantune.reason); rewrite nothing">,
    Option<"vulkanSafe", "vulkan-safe", "bool", /*default=*/"false",
           "Keep every layer f32 (with a reason): IREE 3.13's SPIR-V "
           "backend miscompiles int8">,
    Option<"startInInit", "start-in-init", "bool", /*default=*/"false",
           "Start every integer layer's accumulator at its start values "
           "instead of adding them after the layer">,
    ListOption<"startInInitLayers", "start-in-init-layers", "int64_t",
               "Ids of the layers whose accumulators start at their start "
               "values (as start-in-init=true, for these layers only)">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::quantune::QuantuneDialect"
  ];
  let statistics = [
    Statistic<"numLowered", "num-lowered", "Number of layers lowered to int8">,
    Statistic<"numRefused", "num-refused",
              "Number of layers kept in f32 because they cannot be int8">,
    Statistic<"numFloored", "num-floored",
              "Number of dead channels whose weight scale was raised so "
              "that their bias fits">
  ];
}

def QuantuneFoldRequantize
    : Pass<"quantune-fold-requantize", "::mlir::ModuleOp"> {
  let summary = "Remove dequantize/quantize pairs between int8 layers";
  let description = [{
    Walks the `quantune.quantize` ops of each function in program order and
    tries to compute the quantized value directly in the integer domain,
    looking through the ops that commute with (monotone, affine)
    quantization:

    * `tensor.pad` with a constant: pads with the quantized constant (the
      zero point for 0.0);
    * ReLU / ReLU6 / clip (`linalg.generic` max/min/compare-select against
      constants): become integer clamp bounds of the epilogue;
    * max pooling: runs on i8;
    * `tensor.collapse_shape`, `tensor.expand_shape`, `linalg.transpose`:
      run on i8;
    * `tensor.concat`: every input is materialized with the same parameters
      and the concatenation runs on i8 (all inputs must fold);
    * `quantune.dequantize` of an accumulator: replaced by one fused
      requantization epilogue, a `linalg.generic` computing
      `clamp(round(acc * s_in / s_out) + zp_out, lo, hi)` with the clamp
      bounds of any activation folded in;
    * an elementwise `arith.addf` (a residual add) whose inputs are
      dequantized accumulators or values that already have an int8 form:
      every input is rescaled to the output scale inside one fused
      epilogue; plain f32 inputs (such as a bias) are added in the same
      epilogue.

    * elementwise activations that do not commute with quantization
      (HardSwish, SiLU as Sigmoid + Mul, sigmoid, GELU, ...: a DAG of at
      most 16 pure elementwise `linalg.generic` ops whose tensor inputs come
      from one dequantized accumulator or int8 value, plus 0-d constants):
      one epilogue dequantizes, applies the ops in f32 and quantizes, so no
      f32 tensor is written between the two int8 layers.

    Ops that do not commute (average pooling, concatenation, ...) stop the
    search; the quantize then stays on the f32 value. Ops left without users
    are erased. The number of dequantize/quantize pairs removed is recorded
    on each function as `quantune.folded_pairs` (and in the `num-folded`
    statistic).
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect"
  ];
  let statistics = [
    Statistic<"numFolded", "num-folded",
              "Number of dequantize/quantize pairs removed">
  ];
}

def QuantuneExpandQuantOps
    : Pass<"quantune-expand-quant-ops", "::mlir::ModuleOp"> {
  let summary = "Lower quantune.quantize/dequantize to linalg.generic";
  let description = [{
    Replaces every `quantune.quantize` with an elementwise `linalg.generic`
    computing `clamp(roundeven(x / s) + zp, qmin, qmax)` as an integer: for
    storage of at most 16 bits, `x / s` is clamped to `[qmin - zp, qmax - zp]`,
    `1.5 * 2^23` is added in f32 (the addition rounds half to even), and the
    bits minus `0x4B400000 - zp` are truncated to the storage width; wider
    storage uses `math.roundeven` and `arith.fptosi`. Every
    `quantune.dequantize` becomes one computing
    `(sitofp(q) - zp) * s`. Per-channel parameters are read from 1-D
    constant tensors indexed by the channel dimension. Afterwards the module
    holds only upstream dialects and can go to `quantune-strip` and IREE.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect"
  ];
  let statistics = [
    Statistic<"numExpanded", "num-expanded", "Number of quantune ops expanded">
  ];
}

#endif // QUANTUNE_TRANSFORMS_PASSES_TD
