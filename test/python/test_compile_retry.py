"""Which layer a failed iree-compile is about (pipeline.layer_in_error).

quantize makes that layer fp32 and compiles again; a wrong pick spends the
retries on layers that were fine. The diagnostics below have the shape
iree-compile prints: the failing op's location carries the ONNX node name.
"""

from __future__ import annotations

from quantune_mlir.pipeline import layer_in_error
from quantune_mlir.plan import LayerPlan, Plan, TierPlan


def plan(*precisions: str) -> Plan:
    names = ["stem", "block_conv1", "down", "fc"]
    layers = [LayerPlan(i, names[i], "conv2d", 10, 10, p, act_scale=0.1, act_zero_point=0,
                        i4=TierPlan(act_scale=0.1, act_zero_point=0))
              for i, p in enumerate(precisions)]
    return Plan(model="m.onnx", method="manual", budget="none", ratio=[0.0] * 4, calibration={},
                inferences={}, phases_seconds={}, layers=layers)


def test_the_failing_ops_location_decides() -> None:
    # "stem" is mentioned first (in a note), but the error is about "down".
    diagnostics = (
        'note: see producer at loc(callsite("stem" at "graph:m"))\n'
        '<stdin>:40:5: error: loc(callsite("down" at "graph:m")): failed to legalize operation '
        "'vector.maskedload'\n"
    )
    assert layer_in_error(diagnostics, plan("i8", "i8", "i4", "i8"), "plan") == 2


def test_an_error_in_a_float_op_blames_no_integer_layer() -> None:
    # The ResNet50 case: an f32 transpose fails; the int8 layers named
    # elsewhere in the output had nothing to do with it.
    diagnostics = (
        'error: loc(callsite("fc" at "graph:m")): One or more operations with large vector sizes '
        "(32768 bytes) were found\n"
        'note: loc(callsite("block_conv1" at "graph:m")): in the dispatch of "block_conv1"\n'
    )
    assert layer_in_error(diagnostics, plan("i8", "i8", "i8", "f32"), "plan") is None


def test_fused_and_plain_locations() -> None:
    assert layer_in_error('error: loc(fused["block_conv1", "x"]): bad', plan("f32", "i8", "f32", "f32"), "plan") == 1
    assert layer_in_error('error: loc("stem"): bad', plan("i8", "i8", "f32", "f32"), "plan") == 0


def test_without_locations_any_named_integer_layer() -> None:
    diagnostics = 'error: failed to run translation of source executable to target executable for "down"'
    assert layer_in_error(diagnostics, plan("f32", "f32", "i8", "f32"), "plan") == 2
    assert layer_in_error(diagnostics, plan("f32", "f32", "f32", "f32"), "plan") is None


def test_precision_override_counts() -> None:
    diagnostics = 'error: loc("fc"): bad'
    assert layer_in_error(diagnostics, plan("f32", "f32", "f32", "f32"), "plan") is None
    assert layer_in_error(diagnostics, plan("f32", "f32", "f32", "f32"), "int8") == 3


def _compile_with_failures(monkeypatch, p: Plan, failures: dict[str, Exception]):  # noqa: ANN001, ANN202
    """Runs pipeline.lower_and_compile on ``p`` with the lowering and
    iree-compile faked: the n-th lowering is the text "module n", and
    compiling a text in ``failures`` raises its error. Returns the lowered
    module, the module bytes, each lowering's options and each compile's
    ``ukernel_fallback``."""
    from quantune_mlir import pipeline
    from quantune_mlir.lowering import LoweredModule
    from quantune_mlir.targets import parse_target

    lowerings: list[tuple[str, ...]] = []
    compiles: list[bool] = []

    def fake_lower(labelled, plan_, *, lowering_options=(), **kwargs):  # noqa: ANN001, ANN003
        lowerings.append(tuple(lowering_options))
        int8 = sum(layer.precision == "i8" for layer in plan_.layers)
        return LoweredModule(text=f"module {len(lowerings)}", int8_layers=int8, folded_pairs=0)

    def fake_compile(text, target, output, *, ukernel_fallback=True, **kwargs):  # noqa: ANN001, ANN003
        compiles.append(ukernel_fallback)
        if text in failures:
            raise failures[text]
        return b"vmfb"

    monkeypatch.setattr(pipeline, "lower_plan", fake_lower)
    monkeypatch.setattr(pipeline, "compile_mlir", fake_compile)
    lowered, module = pipeline.lower_and_compile("labelled", p, pipeline.QuantizeOptions(), parse_target("host"),
                                                 "out.vmfb", source_name="m.onnx")
    return lowered, module, lowerings, compiles


def test_a_microkernel_failure_relowers_with_the_starts_in_the_init(monkeypatch) -> None:
    """The first compile fails to lower a microkernel: the module is lowered
    again with start-in-init=true and compiled with the microkernels kept."""
    from quantune_mlir.compiler import MicrokernelError

    error = MicrokernelError("iree-compile failed for target host: error: loc(\"down\"): failed to lower "
                             "micro kernel operation to function call", "diagnostics")
    p = plan("i8", "i8", "i8", "f32")
    lowered, module, lowerings, compiles = _compile_with_failures(monkeypatch, p, {"module 1": error})
    assert module == b"vmfb" and lowered.text == "module 2"
    # Its diagnostics name no layer: every start moves into the init.
    assert lowerings == [(), ("start-in-init=true",)]
    # The first compile may not switch the microkernels off; the second may.
    assert compiles == [False, True]
    # No layer was made f32 for it.
    assert [layer.precision for layer in p.layers] == ["i8", "i8", "i8", "f32"]


def test_a_layer_error_in_the_start_after_form_relowers_before_blaming_the_layer(monkeypatch) -> None:
    """Pretrained open_nsfw ResNet-50 with a mixed plan: iree-compile put a
    residual add's dispatch over the stack limit, naming an int8 layer. That
    layer is lowered again with its start in the init before it is blamed:
    only a failure in that form makes it f32."""
    from quantune_mlir.compiler import CompileError

    stack = ('error: loc(callsite("down" at "graph:m")): \'func.func\' op exceeded stack allocation limit of '
             "32768 bytes for function. Got 103424 bytes")
    error = CompileError(f"iree-compile failed for target host: {stack}", stack)
    p = plan("i8", "i8", "i8", "f32")
    lowered, module, lowerings, _ = _compile_with_failures(monkeypatch, p, {"module 1": error, "module 2": error})
    assert module == b"vmfb" and lowered.text == "module 3"
    # Start-after fails, start-in-init fails too: only then is "down" made f32.
    assert lowerings == [(), ("start-in-init-layers=2",), ("start-in-init-layers=2",)]
    assert [layer.precision for layer in p.layers] == ["i8", "i8", "f32", "f32"]
    assert "stack allocation limit" in (p.layers[2].reason or "")


def test_clean_diagnostic_names_the_onnx_node_of_a_callsite_location() -> None:
    from quantune_mlir.opt import clean_diagnostic

    line = '<stdin>:3:4: error: loc(callsite("conv/BiasAdd" at "graph:tf2onnx")): \'func.func\' op exceeded'
    assert clean_diagnostic(line) == "at ONNX node 'conv/BiasAdd': 'func.func' op exceeded"


def test_clean_diagnostic_names_the_onnx_nodes_of_a_fused_location() -> None:
    from quantune_mlir.opt import clean_diagnostic

    # As IREE reported a dispatch fused from a tf2onnx ResNet-50's residual block.
    line = ('loc(fused[callsite("Relu_33" at "graph:tf2onnx"), callsite("conv_b/BiasAdd" at "graph:tf2onnx"), '
            '"Add_9", callsite("Relu_33" at "graph:tf2onnx"), callsite("conv_c/BiasAdd" at "graph:tf2onnx"), '
            'callsite("conv_d/BiasAdd" at "graph:tf2onnx")]): \'iree_codegen.ukernel.generic\' op failed')
    assert clean_diagnostic(line) == (
        "at ONNX nodes 'Relu_33', 'conv_b/BiasAdd', 'Add_9' and 2 more: 'iree_codegen.ukernel.generic' op failed"
    )
    two = '<stdin>:1:2: error: loc(fused["a", callsite("b" at "g")]): failed'
    assert clean_diagnostic(two) == "at ONNX nodes 'a', 'b': failed"
    assert clean_diagnostic('loc(fused["only"]): failed') == "at ONNX node 'only': failed"


def test_an_error_naming_no_integer_layer_moves_every_start_into_the_init(monkeypatch) -> None:
    from quantune_mlir.compiler import MicrokernelError

    error = MicrokernelError("iree-compile failed for target host: error: failed to lower micro kernel "
                             "operation to function call", "error: loc(\"Relu_3\"): failed")
    p = plan("i8", "i8", "i8", "f32")
    _, _, lowerings, _ = _compile_with_failures(monkeypatch, p, {"module 1": error})
    assert lowerings == [(), ("start-in-init=true",)]
    assert [layer.precision for layer in p.layers] == ["i8", "i8", "i8", "f32"]
