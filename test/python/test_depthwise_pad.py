"""Depthwise convolutions after explicit Pad nodes (issue 9).

EfficientNet-Lite as timm exports it with the TorchScript exporter pads every
stride-2 convolution "same" at run time: the Pad amounts are computed from
``Shape`` of the activation (``Shape -> Slice -> Cast -> Div -> Ceil -> ...
-> Concat -> Pad``), even when every shape is static. Imported as it is, that
arithmetic makes the Pad amounts run-time values and every later shape
dynamic: the depthwise convolutions become dynamically shaped grouped
convolutions, the analysis' local-error module failed in iree-compile with
"exceeded stack allocation limit" at the first such depthwise conv (for
``--precision`` plan, int8 and fp32 alike, since all three run the analysis),
and the lowering could not quantize a dynamically shaped layer.
:func:`quantune_mlir.onnx_fold.fold_constants` folds the arithmetic when the
model is loaded (:func:`quantune_mlir.onnx_model.load_onnx`).

The model here has both kinds of explicit Pad: computed ("same", before the
stem and a stride-2 depthwise conv) and constant (before a stride-1 and a
stride-2 5x5 depthwise conv, as Keras/TF exports write them), with ReLU6
(Clip), SiLU, HardSwish and a squeeze-excite block.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import assert_close, onnxruntime_outputs
from quantune_mlir.onnx_fold import fold_constants
from quantune_mlir.onnx_model import load_onnx
from quantune_mlir.pipeline import QuantizeOptions, quantize_model
from quantune_mlir.runtime import ModuleRunner

pytest.importorskip("onnxruntime")

SIZE = 32
SHAPE = (1, 3, SIZE, SIZE)


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0
        self.const("zero", np.array(0.0, np.float32))
        self.const("six", np.array(6.0, np.float32))

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}_{self.count}"

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], name: str | None = None, **attrs) -> str:
        name = name or self.fresh(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def conv(self, x: str, cin: int, cout: int, k: int = 1, stride: int = 1, group: int = 1, name: str | None = None) -> str:
        name = name or self.fresh("conv")
        fan_in = cin // group * k * k
        w = self.const(f"{name}.w", (self.rng.standard_normal((cout, cin // group, k, k)) * np.sqrt(2 / fan_in)).astype(np.float32))
        b = self.const(f"{name}.b", (self.rng.standard_normal(cout) * 0.1).astype(np.float32))
        return self.node("Conv", [x, w, b], name, kernel_shape=[k, k], strides=[stride, stride], group=group)

    def act(self, x: str, kind: str) -> str:
        if kind == "relu6":
            return self.node("Clip", [x, "zero", "six"])
        if kind == "silu":
            return self.node("Mul", [x, self.node("Sigmoid", [x])])
        return self.node("HardSwish", [x])

    def constant_pad(self, x: str, before: int, after: int) -> str:
        pads = self.const(self.fresh("pads"), np.array([0, 0, before, before, 0, 0, after, after], np.int64))
        return self.node("Pad", [x, pads], mode="constant")

    def same_pad(self, x: str, k: int, stride: int) -> str:
        """timm's pad_same as the TorchScript exporter writes it: the pads
        are computed from the input's shape at run time."""
        c = lambda v, dt=np.float32: self.const(self.fresh("c"), np.array(v, dt))  # noqa: E731
        hw = self.node("Slice", [self.node("Shape", [x]), c([2], np.int64), c([4], np.int64)])
        hwf = self.node("Cast", [hw], to=TensorProto.FLOAT)
        out = self.node("Ceil", [self.node("Div", [hwf, c(float(stride))])])
        total = self.node("Sub", [self.node("Add", [self.node("Mul", [self.node("Sub", [out, c(1.0)]), c(float(stride))]),
                                                    c(float(k))]), hwf])
        total = self.node("Cast", [self.node("Max", [total, c(0.0)])], to=TensorProto.INT64)
        before = self.node("Div", [total, c([2], np.int64)])
        after = self.node("Sub", [total, before])
        zeros = c([0, 0], np.int64)
        pads = self.node("Concat", [zeros, before, zeros, after], axis=0)
        return self.node("Pad", [x, pads], mode="constant")


def efficientnet_lite_like(seed: int = 3, size: int = SIZE) -> onnx.ModelProto:
    b = _Builder(seed)
    # stem: computed "same" pad, 3x3 stride 2
    x = b.act(b.conv(b.same_pad("x", 3, 2), 3, 16, 3, 2, name="stem"), "relu6")
    # depthwise-separable block, constant pad, stride 1, residual
    y = b.act(b.conv(b.constant_pad(x, 1, 1), 16, 16, 3, 1, group=16, name="dw1"), "relu6")
    x = b.node("Add", [b.conv(y, 16, 16, name="project1"), x])
    # inverted residual: SiLU, computed pad before a stride-2 depthwise conv, squeeze-excite
    y = b.act(b.conv(x, 16, 48, name="expand2"), "silu")
    y = b.act(b.conv(b.same_pad(y, 3, 2), 48, 48, 3, 2, group=48, name="dw2"), "silu")
    se = b.act(b.conv(b.node("GlobalAveragePool", [y]), 48, 8, name="se_reduce"), "silu")
    se = b.node("Sigmoid", [b.conv(se, 8, 48, name="se_expand")])
    x = b.conv(b.node("Mul", [y, se]), 48, 24, name="project2")
    # inverted residual: HardSwish, constant TF-style pad (1, 2) before a 5x5 stride-2 depthwise conv
    y = b.act(b.conv(x, 24, 72, name="expand3"), "hswish")
    y = b.act(b.conv(b.constant_pad(y, 1, 2), 72, 72, 5, 2, group=72, name="dw3"), "hswish")
    x = b.conv(y, 72, 32, name="project3")
    x = b.node("Flatten", [b.node("GlobalAveragePool", [b.act(b.conv(x, 32, 64, name="head"), "relu6")])])
    fc_w = b.const("fc.w", (b.rng.standard_normal((10, 64)) * 0.2).astype(np.float32))
    fc_b = b.const("fc.b", np.zeros(10, np.float32))
    b.nodes.append(helper.make_node("Gemm", [x, fc_w, fc_b], ["logits"], name="fc", transB=1))
    graph = helper.make_graph(
        b.nodes, "efficientnet_lite_like",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])], b.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


DEPTHWISE = ("dw1", "dw2", "dw3")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("depthwise_pad")
    onnx.save(efficientnet_lite_like(), root / "model.onnx")
    np.save(root / "calib.npy", np.random.default_rng(11).standard_normal((4, *SHAPE)).astype(np.float32))
    return root


def test_fold_constants_makes_pads_and_shapes_static(workdir: Path) -> None:
    model = onnx.load(workdir / "model.onnx")
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    folded, count = fold_constants(inferred)
    ops = [n.op_type for n in folded.graph.node]
    assert count == 2 * 14, count  # each computed pad is 14 nodes
    assert "Shape" not in ops and ops.count("Pad") == 4
    initializers = {init.name for init in folded.graph.initializer}
    assert all(n.input[1] in initializers for n in folded.graph.node if n.op_type == "Pad")
    for vi in folded.graph.value_info:
        assert all(d.HasField("dim_value") for d in vi.type.tensor_type.shape.dim), vi.name
    onnx.checker.check_model(folded)
    # Folding changes nothing numerically.
    onnx.save(folded, workdir / "folded.onnx")
    x = np.random.default_rng(5).standard_normal(SHAPE).astype(np.float32)
    (before,) = onnxruntime_outputs(workdir / "model.onnx", [x])
    (after,) = onnxruntime_outputs(workdir / "folded.onnx", [x])
    np.testing.assert_array_equal(before, after)
    # Nothing to fold: the model comes back as it is.
    again, none = fold_constants(folded)
    assert none == 0 and again is folded


def test_load_onnx_folds(workdir: Path) -> None:
    ops = [n.op_type for n in load_onnx(workdir / "model.onnx", notify=None).graph.node]
    assert "Shape" not in ops and ops.count("Pad") == 4


@pytest.fixture(scope="module")
def modules(workdir: Path) -> dict[str, tuple[Path, int]]:
    """quantize in each precision mode: (module, number of int8 layers).
    plan and int8 run the analysis (where iree-compile failed); fp32
    reuses the saved plan to save time."""
    out = {}
    saved = workdir / "plan.json"
    for precision in ("plan", "int8", "fp32"):
        vmfb = workdir / f"{precision}.vmfb"
        source = {"calib": workdir / "calib.npy"} if precision != "fp32" else {"plan_path": saved}
        result = quantize_model(workdir / "model.onnx", vmfb, options=QuantizeOptions(precision=precision),
                                save_plan=saved if precision == "plan" else None, **source)
        out[precision] = (vmfb, result.lowered.int8_layers)
    return out


def test_every_layer_is_static_and_quantizable(modules: dict[str, tuple[Path, int]], workdir: Path) -> None:
    layers = {layer["name"]: layer for layer in json.loads((workdir / "plan.json").read_text())["layers"]}
    for name in DEPTHWISE:
        assert layers[name]["kind"] == "depthwise_conv2d", layers[name]
    for layer in layers.values():  # before the fix, everything after the first computed pad was dynamic
        assert layer["macs"] and layer["reason"] is None, layer
    assert modules["int8"][1] == len(layers)
    assert 0 < modules["plan"][1] < len(layers)
    assert modules["fp32"][1] == 0


@pytest.mark.parametrize("precision", ["plan", "int8", "fp32"])
def test_quantize_matches_onnxruntime(modules: dict[str, tuple[Path, int]], workdir: Path, precision: str) -> None:
    x = np.random.default_rng(21).standard_normal(SHAPE).astype(np.float32)
    (reference,) = onnxruntime_outputs(workdir / "model.onnx", [x])
    (actual,) = ModuleRunner(modules[precision][0])(x)
    if precision == "fp32":
        assert_close(actual, reference, rtol=1e-4)
    else:
        # Quantized: close to the float model, not equal.
        err = float(np.max(np.abs(actual - reference))) / float(np.max(np.abs(reference)))
        assert err < 0.25, f"relative error {err:.3f}"
