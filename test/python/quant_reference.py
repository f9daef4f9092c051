"""A reference for the numerics of a quantune plan, for tests.

Two independent renderings of "the fp32 model with the plan's int8 layers
fake-quantized":

* :func:`build_qdq_model` rewrites the ONNX model into QDQ form
  (QuantizeLinear -> DequantizeLinear pairs feeding float ops) so that
  onnxruntime, run with graph optimizations disabled, computes it;
* :func:`simulate` interprets the fp32 graph in numpy with the same
  quantization applied.

Semantics of an ``i8`` layer (a Conv, Gemm or MatMul node named by the plan):

* Input activation: signed int8, asymmetric, per tensor, with the plan's
  ``act_scale`` / ``act_zero_point``:
  ``q = clamp(round_half_even(x / s) + zp, -128, 127)``, ``x' = (q - zp) * s``.
  Like onnxruntime's ``quantize_static``, *every* consumer of the tensor
  (e.g. the skip branch of a residual Add) reads ``x'``, not only the layer.
  When several i8 layers read one tensor with different qparams, each of
  them reads its own ``x'`` and the other consumers read the float tensor.
  (Note: the compiler's ``quantune-fake-quantize`` pass quantizes only the
  layer's own operand; this reference follows quantize_static instead.)
* Weight: symmetric per output channel, ``s_c = max|w_c| / 127`` (1.0 for an
  all-zero channel), ``q = clamp(round_half_even(w / s_c), -127, 127)``.
  An ``i4`` layer (w4a8) has 4-bit weights, ``s_c = max|w_c| / 7`` and
  ``q`` in [-7, 7], and takes its activation qparams and bias correction
  from its ``i4`` entry; the rest is as for ``i8``.
  The channel axis is 0 for a Conv weight and for Gemm ``B`` with
  ``transB=1``, 1 for Gemm ``B`` with ``transB=0`` and for a MatMul's
  constant ``B [K, N]``.
* Bias (Conv ``B``, Gemm ``C``): by default rounded onto the grid the
  compiler folds it to, ``b' = round_half_even(b / (s_x s_c)) * s_x s_c``;
  ``quantize_bias=False`` keeps it float. A layer's ``bias_correction`` (one
  value per output channel, from the analysis) is added to the bias before
  the rounding, as the compiler does; a Conv without a bias gets one.

All scales are rounded to float32 first (the precision the compiler and the
ONNX initializers hold them in), and both renderings share the quantized
weight, scale and bias arrays, so they differ only in arithmetic precision:
onnxruntime computes in float32, :func:`simulate` in float64.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import onnx
import onnx.version_converter
from numpy.lib.stride_tricks import sliding_window_view
from onnx import TensorProto, helper, numpy_helper

QDQ_MIN_OPSET = 13
"""Per-channel DequantizeLinear (the ``axis`` attribute) needs opset 13."""

LAYER_OPS = ("Conv", "Gemm", "MatMul")
_ACT_QMIN, _ACT_QMAX = -128, 127
_W_QMAX = 127
_MIN_SCALE = float(np.finfo(np.float32).tiny)


# --------------------------------------------------------------------------
# Plan access
# --------------------------------------------------------------------------

def plan_layers(plan: Any) -> dict[str, dict]:
    """Node name -> layer entry, from a plan dict (as loaded from plan.json),
    a ``quantune_mlir.plan.Plan`` or a plain list of layer entries."""
    if isinstance(plan, Mapping):
        layers = plan["layers"]
    elif hasattr(plan, "layers"):
        layers = plan.layers
    else:
        layers = plan
    out: dict[str, dict] = {}
    for layer in layers:
        entry = dataclasses.asdict(layer) if dataclasses.is_dataclass(layer) else dict(layer)
        name = entry["name"]
        if name in out:
            raise ValueError(f"plan names layer '{name}' twice")
        out[name] = entry
    return out


@dataclasses.dataclass(frozen=True)
class ActQParams:
    """Per-tensor int8 qparams; ``scale`` is already rounded to float32."""

    scale: float
    zero_point: int

    def fake_quantize(self, x: np.ndarray) -> np.ndarray:
        q = np.clip(np.rint(x / self.scale) + self.zero_point, _ACT_QMIN, _ACT_QMAX)
        return (q - self.zero_point) * self.scale


@dataclasses.dataclass
class LayerQuant:
    """What quantizing one i8 layer changes, shared by both renderings."""

    node_index: int
    act_input: int  # index of the activation among the node's inputs
    weight_input: int  # index of the constant weight among the node's inputs
    act: ActQParams
    weight_q: np.ndarray  # int8, same shape as the weight
    weight_scale: np.ndarray  # float32, one per output channel
    axis: int  # output-channel axis of the weight
    bias_input: int | None = None
    bias: np.ndarray | None = None  # float32 rounded bias, or None to keep the original

    def weight_dequantized(self) -> np.ndarray:
        shape = [1] * self.weight_q.ndim
        shape[self.axis] = -1
        return self.weight_q.astype(np.float64) * self.weight_scale.astype(np.float64).reshape(shape)


def _tier(layer: dict) -> dict:
    """Where an integer layer's activation qparams and correction are: its
    ``i4`` entry for an i4 layer, else the layer itself."""
    if layer.get("precision") == "i4":
        if not layer.get("i4"):
            raise ValueError(f"i4 layer '{layer['name']}' has no 'i4' entry")
        return {"name": layer["name"], **layer["i4"]}
    return layer


def _act_qparams(layer: dict) -> ActQParams:
    name, scale, zp = layer["name"], layer.get("act_scale"), layer.get("act_zero_point")
    if scale is None or zp is None:
        raise ValueError(f"i8 layer '{name}' has no act_scale / act_zero_point")
    scale32 = float(np.float32(scale))
    if not (np.isfinite(scale32) and scale32 > 0):
        raise ValueError(f"i8 layer '{name}' has act_scale {scale!r}; it must be finite and > 0")
    if int(zp) != zp or not _ACT_QMIN <= zp <= _ACT_QMAX:
        raise ValueError(f"i8 layer '{name}' has act_zero_point {zp!r}; it must be an int8")
    return ActQParams(scale32, int(zp))


# --------------------------------------------------------------------------
# Weight and bias quantization
# --------------------------------------------------------------------------

def quantize_weight(w: np.ndarray, axis: int, bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-channel ``bits``-bit integers, held in int8: (q of w's
    shape, scale float32 [w.shape[axis]])."""
    qmax = 2 ** (bits - 1) - 1
    w32 = np.asarray(w, dtype=np.float32)
    if not np.all(np.isfinite(w32)):
        raise ValueError("weight has NaN or infinite values")
    other = tuple(a for a in range(w32.ndim) if a != axis)
    amax = np.max(np.abs(w32), axis=other) if other else np.abs(w32)
    scale = (amax / np.float32(qmax)).astype(np.float32)
    scale = np.where(scale >= _MIN_SCALE, scale, np.float32(1.0)).astype(np.float32)
    shape = [1] * w32.ndim
    shape[axis] = -1
    q = np.clip(np.rint(w32.astype(np.float64) / scale.astype(np.float64).reshape(shape)), -qmax, qmax)
    return q.astype(np.int8), scale


def round_bias(b: np.ndarray, act_scale: float, weight_scale: np.ndarray) -> np.ndarray:
    """``round_half_even(b / (s_x s_c)) * s_x s_c`` along b's last axis, as float32."""
    step = np.float64(act_scale) * weight_scale.astype(np.float64)
    return (np.rint(np.asarray(b, np.float64) / step) * step).astype(np.float32)


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _weight_axis(node: onnx.NodeProto, weight: np.ndarray) -> int:
    """Output-channel axis of the node's constant weight."""
    if node.op_type == "Conv":
        return 0
    if weight.ndim != 2:
        raise NotImplementedError(f"{node.op_type} '{node.name}': i8 needs a 2-D weight, got {weight.shape}")
    if node.op_type == "Gemm":
        return 0 if _attrs(node).get("transB", 0) else 1
    return 1  # MatMul, B [K, N]


def _layer_quant(
    index: int, node: onnx.NodeProto, layer: dict, inits: Mapping[str, np.ndarray], quantize_bias: bool
) -> LayerQuant:
    if node.op_type not in LAYER_OPS:
        raise ValueError(f"i8 layer '{node.name}' is a {node.op_type}, not one of {LAYER_OPS}")
    if node.op_type == "Gemm":
        attrs = _attrs(node)
        if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
            raise NotImplementedError(f"Gemm '{node.name}': i8 needs transA=0 and alpha=beta=1")
    if len(node.input) < 2 or node.input[1] not in inits:
        raise ValueError(f"i8 layer '{node.name}' has no constant weight (input 1)")
    if node.input[0] in inits:
        raise ValueError(f"i8 layer '{node.name}' has a constant activation (input 0)")
    weight = inits[node.input[1]]
    axis = _weight_axis(node, weight)
    bits = 4 if layer.get("precision") == "i4" else 8
    layer = _tier(layer)
    act = _act_qparams(layer)
    wq, ws = quantize_weight(weight, axis, bits)
    lq = LayerQuant(index, 0, 1, act, wq, ws, axis)
    has_bias = node.op_type in ("Conv", "Gemm") and len(node.input) > 2 and node.input[2] != ""
    correction = layer.get("bias_correction")
    if correction is not None and not quantize_bias:
        raise NotImplementedError(f"'{node.name}': a bias correction needs quantize_bias=True")
    if correction is not None and not has_bias and node.op_type != "Conv":
        raise NotImplementedError(f"{node.op_type} '{node.name}': a bias correction needs a bias input")
    if (has_bias or correction is not None) and quantize_bias:
        channels = ws.shape[0]
        if has_bias:
            if node.input[2] not in inits:
                raise ValueError(f"i8 layer '{node.name}' has a non-constant bias")
            bias = inits[node.input[2]].astype(np.float64)
        else:
            bias = np.zeros(channels)
        if node.op_type == "Gemm":
            # Gemm's C may be a scalar, [N], [1, N] or [M, 1]: spread it over the channels.
            bias = np.broadcast_to(bias, np.broadcast_shapes(bias.shape, (1, channels)))
        if correction is not None:
            bias = bias + np.asarray(correction, np.float32).astype(np.float64)
        lq.bias_input, lq.bias = 2, round_bias(bias, act.scale, ws)
    return lq


def _initializers(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in graph.initializer}


def _quantized_layers(model: onnx.ModelProto, plan: Any, quantize_bias: bool) -> list[LayerQuant]:
    """The i8 and i4 layers of the plan, in graph order, with their quantized parameters."""
    layers = plan_layers(plan)
    wanted = {name for name, layer in layers.items() if layer.get("precision") in ("i8", "i4")}
    for name, layer in layers.items():
        if layer.get("precision") not in ("i8", "i4", "f32"):
            raise ValueError(f"layer '{name}' has precision {layer.get('precision')!r}")
    inits = _initializers(model.graph)
    out, found = [], set()
    for index, node in enumerate(model.graph.node):
        if node.name in wanted:
            if node.name in found:
                raise ValueError(f"the model has two nodes named '{node.name}'")
            found.add(node.name)
            out.append(_layer_quant(index, node, layers[node.name], inits, quantize_bias))
    missing = sorted(wanted - found)
    if missing:
        raise ValueError(f"i8 layers not in the model: {missing}")
    return out


# --------------------------------------------------------------------------
# Which node inputs read a fake-quantized activation
# --------------------------------------------------------------------------

Slot = tuple[int, int]  # (node index, input index)


def activation_reads(model: onnx.ModelProto, lqs: list[LayerQuant]) -> dict[Slot, tuple[str, ActQParams]]:
    """Node inputs that read a fake-quantized tensor, with the tensor and qparams.

    A tensor read by i8 layers that agree on qparams is quantized once and
    every consumer reads the quantized copy. If they disagree, each i8 layer
    reads its own copy and every other consumer reads the float tensor.
    """
    wanted: dict[str, dict[Slot, ActQParams]] = {}
    for lq in lqs:
        tensor = model.graph.node[lq.node_index].input[lq.act_input]
        wanted.setdefault(tensor, {})[(lq.node_index, lq.act_input)] = lq.act
    shared = {t: next(iter(qs.values())) for t, qs in wanted.items() if len(set(qs.values())) == 1}
    reads: dict[Slot, tuple[str, ActQParams]] = {}
    for index, node in enumerate(model.graph.node):
        for i, name in enumerate(node.input):
            if name in shared:
                reads[(index, i)] = (name, shared[name])
            elif name in wanted and (index, i) in wanted[name]:
                reads[(index, i)] = (name, wanted[name][(index, i)])
    return reads


# --------------------------------------------------------------------------
# QDQ model for onnxruntime
# --------------------------------------------------------------------------

def _default_opset(model: onnx.ModelProto) -> int:
    for op in model.opset_import:
        if op.domain in ("", "ai.onnx"):
            return op.version
    raise ValueError("the model imports no default-domain opset")


class _Names:
    """Fresh tensor / node names that do not clash with the model's."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.used = {t.name for t in graph.initializer} | {i.name for i in graph.input}
        for node in graph.node:
            self.used.update(node.input, node.output, [node.name])

    def __call__(self, base: str) -> str:
        name, k = base, 1
        while name in self.used:
            name, k = f"{base}_{k}", k + 1
        self.used.add(name)
        return name


def build_qdq_model(model: onnx.ModelProto, plan: Any, quantize_bias: bool = True) -> onnx.ModelProto:
    """A QDQ copy of the fp32 model with the plan's i8 layers fake-quantized.

    Run it in onnxruntime with ``GraphOptimizationLevel.ORT_DISABLE_ALL``;
    otherwise ORT fuses the QDQ pattern into integer kernels with their own
    rounding. Models below opset 13 are converted to opset 13 first.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    if _default_opset(out) < QDQ_MIN_OPSET:
        out = onnx.version_converter.convert_version(out, QDQ_MIN_OPSET)
    graph = out.graph
    lqs = _quantized_layers(out, plan, quantize_bias)
    reads = activation_reads(out, lqs)
    by_node = {lq.node_index: lq for lq in lqs}
    names = _Names(graph)
    new_inits: list[TensorProto] = []
    new_nodes: list[onnx.NodeProto] = []
    dq_of: dict[tuple[str, ActQParams], str] = {}  # (tensor, qparams) -> dequantized tensor

    def init(base: str, array: np.ndarray) -> str:
        name = names(base)
        new_inits.append(numpy_helper.from_array(array, name))
        return name

    def activation_qdq(tensor: str, qp: ActQParams) -> str:
        if (tensor, qp) not in dq_of:
            scale = init(f"{tensor}_scale", np.array(qp.scale, np.float32))
            zp = init(f"{tensor}_zero_point", np.array(qp.zero_point, np.int8))
            q, dq = names(f"{tensor}_quantized"), names(f"{tensor}_dequantized")
            new_nodes.append(helper.make_node("QuantizeLinear", [tensor, scale, zp], [q], name=names(f"{q}_node")))
            new_nodes.append(helper.make_node("DequantizeLinear", [q, scale, zp], [dq], name=names(f"{dq}_node")))
            dq_of[(tensor, qp)] = dq
        return dq_of[(tensor, qp)]

    for index, node in enumerate(graph.node):
        new = onnx.NodeProto()
        new.CopyFrom(node)
        for i in range(len(node.input)):
            if (index, i) in reads:
                new.input[i] = activation_qdq(*reads[(index, i)])
        lq = by_node.get(index)
        if lq is not None:
            base = node.name or f"node{index}"
            wq = init(f"{base}_weight_quantized", lq.weight_q)
            ws = init(f"{base}_weight_scale", lq.weight_scale)
            wz = init(f"{base}_weight_zero_point", np.zeros(lq.weight_scale.shape, np.int8))
            wdq = names(f"{base}_weight_dequantized")
            new_nodes.append(helper.make_node(
                "DequantizeLinear", [wq, ws, wz], [wdq], name=names(f"{wdq}_node"), axis=lq.axis))
            new.input[lq.weight_input] = wdq
            if lq.bias is not None:
                bias = init(f"{base}_bias_rounded", lq.bias)
                if len(new.input) > lq.bias_input:
                    new.input[lq.bias_input] = bias
                else:  # a Conv that had no bias gets its correction as one
                    new.input.append(bias)
        new_nodes.append(new)

    del graph.node[:]
    graph.node.extend(new_nodes)
    graph.initializer.extend(new_inits)
    _drop_unused_initializers(graph)
    return out


def _drop_unused_initializers(graph: onnx.GraphProto) -> None:
    """Removes float weights / biases that only the quantized layers read."""
    used = {name for node in graph.node for name in node.input}
    used |= {o.name for o in graph.output} | {i.name for i in graph.input}
    keep = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)


# --------------------------------------------------------------------------
# numpy interpreter
# --------------------------------------------------------------------------

def simulate(model: onnx.ModelProto, plan: Any, x: np.ndarray, quantize_bias: bool = True) -> np.ndarray:
    """Runs the model's first output in numpy, float64, with the plan applied.

    ``x`` feeds the model's single non-initializer input. The quantization is
    that of :func:`build_qdq_model`; the arithmetic is float64 throughout
    (weights and activations included), so the result is the exact value of
    the fake-quantized program up to float64 rounding.
    """
    graph = model.graph
    lqs = _quantized_layers(model, plan, quantize_bias)
    reads = activation_reads(model, lqs)
    by_node = {lq.node_index: lq for lq in lqs}
    consts = {name: _to_compute(a) for name, a in _initializers(graph).items()}
    env: dict[str, np.ndarray] = dict(consts)
    env[_single_input(graph, consts)] = np.asarray(x, dtype=np.float64)
    fake: dict[tuple[str, ActQParams], np.ndarray] = {}
    opset = _default_opset(model)
    consumed = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}

    for index, node in enumerate(graph.node):
        if node.domain not in ("", "ai.onnx"):
            raise NotImplementedError(f"op {node.domain}.{node.op_type} (node '{node.name}')")
        inputs: list[np.ndarray | None] = []
        for i, name in enumerate(node.input):
            if name == "":
                inputs.append(None)
            elif (index, i) in reads:
                key = reads[(index, i)]
                if key not in fake:
                    fake[key] = key[1].fake_quantize(env[name])
                inputs.append(fake[key])
            else:
                inputs.append(env[name])
        lq = by_node.get(index)
        if lq is not None:
            inputs[lq.weight_input] = lq.weight_dequantized()
            if lq.bias is not None:
                if len(inputs) <= lq.bias_input:
                    inputs.append(None)
                inputs[lq.bias_input] = lq.bias.astype(np.float64)
        op = _OPS.get(node.op_type)
        if op is None:
            raise NotImplementedError(f"op {node.op_type} (node '{node.name}') is not supported by simulate")
        results = op(inputs, _attrs(node), opset)
        for k, name in enumerate(node.output):
            if k < len(results):
                env[name] = results[k]
            elif name in consumed:
                raise NotImplementedError(f"op {node.op_type}: output {k} ('{name}') is not supported")
    return env[graph.output[0].name]


def _to_compute(a: np.ndarray) -> np.ndarray:
    """Float initializers in float64; integer ones (shapes, axes) unchanged."""
    return a.astype(np.float64) if np.issubdtype(a.dtype, np.floating) else a


def _single_input(graph: onnx.GraphProto, consts: Mapping[str, np.ndarray]) -> str:
    names = [i.name for i in graph.input if i.name not in consts]
    if len(names) != 1:
        raise ValueError(f"simulate needs a model with one input, this one has {names}")
    return names[0]


# --- op implementations: (inputs, attributes, opset) -> outputs -------------

OpFn = Callable[[list, dict, int], list]


def _spatial_windows(
    x: np.ndarray, kernel: list[int], strides: list[int], pads: list[int], dilations: list[int], fill: float
) -> np.ndarray:
    """[N, C, H, W] -> a [N, C, OH, OW, kh, kw] view of the padded input's windows."""
    kh, kw = kernel
    (pt, pl, pb, pr) = pads
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=fill)
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilations)]
    if xp.shape[2] < span[0] or xp.shape[3] < span[1]:
        raise ValueError(f"kernel {kernel} larger than the padded input {xp.shape[2:]}")
    win = sliding_window_view(xp, span, axis=(2, 3))
    return win[:, :, :: strides[0], :: strides[1], :: dilations[0], :: dilations[1]]


def _check_2d(op: str, x: np.ndarray, attrs: dict) -> None:
    if x.ndim != 4:
        raise NotImplementedError(f"op {op}: only 2-D (NCHW) inputs are supported, got rank {x.ndim}")
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise NotImplementedError(f"op {op}: auto_pad={attrs['auto_pad']!r} is not supported")


def _conv(inputs: list, attrs: dict, opset: int) -> list:
    x, w = inputs[0], inputs[1]
    b = inputs[2] if len(inputs) > 2 else None
    _check_2d("Conv", x, attrs)
    group = attrs.get("group", 1)
    m, cg, kh, kw = w.shape
    win = _spatial_windows(
        x, [kh, kw], attrs.get("strides", [1, 1]), attrs.get("pads", [0, 0, 0, 0]),
        attrs.get("dilations", [1, 1]), 0.0)
    n, c, oh, ow = win.shape[:4]
    if c != cg * group or m % group:
        raise ValueError(f"Conv: input channels {c}, weight {w.shape}, group {group} do not match")
    win = win.reshape(n, group, cg, oh, ow, kh, kw)
    wg = w.reshape(group, m // group, cg, kh, kw)
    y = np.einsum("ngchwij,gmcij->ngmhw", win, wg, optimize=True).reshape(n, m, oh, ow)
    if b is not None:
        y = y + b.reshape(1, m, 1, 1)
    return [y]


def _gemm(inputs: list, attrs: dict, opset: int) -> list:
    a, b = inputs[0], inputs[1]
    c = inputs[2] if len(inputs) > 2 else None
    a = a.T if attrs.get("transA", 0) else a
    b = b.T if attrs.get("transB", 0) else b
    y = attrs.get("alpha", 1.0) * (a @ b)
    if c is not None:
        y = y + attrs.get("beta", 1.0) * c
    return [y]


def _clip(inputs: list, attrs: dict, opset: int) -> list:
    x = inputs[0]
    if opset < 11:
        lo, hi = attrs.get("min", -np.inf), attrs.get("max", np.inf)
    else:
        lo = inputs[1] if len(inputs) > 1 and inputs[1] is not None else -np.inf
        hi = inputs[2] if len(inputs) > 2 and inputs[2] is not None else np.inf
    return [np.minimum(np.maximum(x, lo), hi)]


def _pool_attrs(op: str, x: np.ndarray, attrs: dict) -> tuple[list[int], list[int], list[int], list[int]]:
    _check_2d(op, x, attrs)
    if attrs.get("ceil_mode", 0):
        raise NotImplementedError(f"op {op}: ceil_mode=1 is not supported")
    kernel = attrs["kernel_shape"]
    return (kernel, attrs.get("strides", [1, 1]), attrs.get("pads", [0, 0, 0, 0]),
            attrs.get("dilations", [1, 1]))


def _max_pool(inputs: list, attrs: dict, opset: int) -> list:
    if attrs.get("storage_order", 0):
        raise NotImplementedError("op MaxPool: storage_order=1 is not supported")
    x = inputs[0]
    kernel, strides, pads, dilations = _pool_attrs("MaxPool", x, attrs)
    return [_spatial_windows(x, kernel, strides, pads, dilations, -np.inf).max(axis=(4, 5))]


def _average_pool(inputs: list, attrs: dict, opset: int) -> list:
    x = inputs[0]
    kernel, strides, pads, dilations = _pool_attrs("AveragePool", x, attrs)
    if any(pads) or any(d != 1 for d in dilations):
        raise NotImplementedError("op AveragePool: padding and dilations are not supported")
    return [_spatial_windows(x, kernel, strides, pads, dilations, 0.0).mean(axis=(4, 5))]


def _flatten(inputs: list, attrs: dict, opset: int) -> list:
    x = inputs[0]
    axis = attrs.get("axis", 1)
    axis = axis + x.ndim if axis < 0 else axis
    return [x.reshape(int(np.prod(x.shape[:axis])), int(np.prod(x.shape[axis:])))]


def _reshape(inputs: list, attrs: dict, opset: int) -> list:
    x, shape = inputs[0], [int(s) for s in np.asarray(inputs[1]).ravel()]
    if not attrs.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return [x.reshape(shape)]


def _batch_norm(inputs: list, attrs: dict, opset: int) -> list:
    if attrs.get("training_mode", 0):
        raise NotImplementedError("op BatchNormalization: training_mode=1 is not supported")
    x, scale, bias, mean, var = inputs[:5]
    shape = (1, -1) + (1,) * (x.ndim - 2)
    inv = scale / np.sqrt(var + attrs.get("epsilon", 1e-5))
    return [(x - mean.reshape(shape)) * inv.reshape(shape) + bias.reshape(shape)]


def _constant(inputs: list, attrs: dict, opset: int) -> list:
    if "value" not in attrs:
        raise NotImplementedError(f"op Constant: only the 'value' attribute is supported, got {sorted(attrs)}")
    return [_to_compute(numpy_helper.to_array(attrs["value"]))]


_OPS: dict[str, OpFn] = {
    "Conv": _conv,
    "Gemm": _gemm,
    "MatMul": lambda i, a, o: [np.matmul(i[0], i[1])],
    "Relu": lambda i, a, o: [np.maximum(i[0], 0.0)],
    "Clip": _clip,
    "Add": lambda i, a, o: [i[0] + i[1]],
    "Mul": lambda i, a, o: [i[0] * i[1]],
    "MaxPool": _max_pool,
    "AveragePool": _average_pool,
    "GlobalAveragePool": lambda i, a, o: [i[0].mean(axis=tuple(range(2, i[0].ndim)), keepdims=True)],
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Concat": lambda i, a, o: [np.concatenate([t for t in i if t is not None], axis=a["axis"])],
    "Identity": lambda i, a, o: [i[0]],
    "BatchNormalization": _batch_norm,
    "Constant": _constant,
}


# --------------------------------------------------------------------------
# Tolerance unit
# --------------------------------------------------------------------------

def output_step(y: np.ndarray) -> float:
    """The step of 8-bit min-max quantization of y: (max - min) / 255 over
    y's range widened to include 0.

    Like the project's ``qparams_for_range``, a range too narrow for a float32
    step (e.g. y all zeros) gives 1.0.
    """
    y = np.asarray(y, dtype=np.float64)
    if y.size == 0 or not np.all(np.isfinite(y)):
        raise ValueError("output_step needs a non-empty, finite array")
    step = (max(float(y.max()), 0.0) - min(float(y.min()), 0.0)) / 255.0
    return step if step >= _MIN_SCALE else 1.0
