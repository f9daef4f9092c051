"""Folding an ONNX model's constant shape arithmetic before import.

Exporters often compute padding, reshape targets and slice bounds at run
time from ``Shape`` of an activation. The TorchScript exporter does it for
every TF-"same" padded convolution (timm's ``Conv2dSame``/``pad_same``):
``Shape -> Gather -> Cast -> Div -> Ceil -> ... -> Concat -> Pad``, even
when every shape is static. IREE's ONNX importer keeps that arithmetic as
tensor ops, so the ``Pad`` amounts are run-time values and every shape after
it is dynamic: torch-mlir then lowers a depthwise convolution to a
dynamically shaped grouped ``linalg.conv_2d_ngchw_gfchw`` instead of
``linalg.depthwise_conv_2d_nchw_chw``, quantune-lower-mixed-precision cannot
quantize it (it needs static shapes), and IREE's CPU code generation of the
analysis' local-error module puts whole tiles of it on the stack ("exceeded
stack allocation limit").

:func:`fold_constants` evaluates, with ONNX's reference implementation,
every node whose inputs are all constants or that reads only the (static)
shape of a tensor, when its results are small, and turns the results that
the rest of the graph reads into initializers. Shape inference then sees
constant pads and gives every later tensor its static shape.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

MAX_FOLDED_ELEMENTS = 4096
"""Results larger than this stay computed at run time: folding is for shape
arithmetic, not for precomputing (and storing) large tensors."""

# Not foldable: random ops, ops with subgraphs, ops of training, and the
# quantization ops of QDQ models (their weight pattern is kept for the importer).
_NEVER = frozenset({
    "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli",
    "If", "Loop", "Scan", "SequenceMap", "Dropout",
    "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear",
})


def _static_shapes(graph: onnx.GraphProto) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for vi in [*graph.input, *graph.value_info, *graph.output]:
        tensor_type = vi.type.tensor_type
        if not vi.type.HasField("tensor_type") or not tensor_type.HasField("shape"):
            continue
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor_type.shape.dim]
        if all(d >= 0 for d in dims):
            shapes[vi.name] = tuple(dims)
    return shapes


def _shape_of(node: onnx.NodeProto, shape: tuple[int, ...]) -> np.ndarray:
    """The value of a Shape node (its start/end attributes, opset 15+)."""
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    rank = len(shape)
    start, end = attrs.get("start", 0), attrs.get("end", rank)
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = min(max(end + rank if end < 0 else end, 0), rank)
    return np.array(shape[start:end], dtype=np.int64)


def _evaluate(node: onnx.NodeProto, values: list[np.ndarray | None], opsets: dict[str, int]) -> list[np.ndarray]:
    names = [f"in{i}" if name else "" for i, name in enumerate(node.input)]
    outputs = [f"out{i}" if name else "" for i, name in enumerate(node.output)]
    single = onnx.NodeProto()
    single.CopyFrom(node)
    del single.input[:]
    single.input.extend(names)
    del single.output[:]
    single.output.extend(outputs)
    graph = onnx.helper.make_graph(
        [single], "fold",
        [onnx.helper.make_empty_tensor_value_info(n) for n in names if n],
        [onnx.helper.make_empty_tensor_value_info(n) for n in outputs if n],
    )
    feeds = {n: v for n, v in zip(names, values) if n}
    results = ReferenceEvaluator(graph, opsets=opsets).run(None, feeds)
    return [np.asarray(r) for r in results]


def _infer(model: onnx.ModelProto) -> onnx.ModelProto:
    """Strict shape inference without the stale shapes of the folded model."""
    del model.graph.value_info[:]
    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except Exception:
        for out in model.graph.output:
            if out.type.HasField("tensor_type"):
                out.type.tensor_type.ClearField("shape")
        return onnx.shape_inference.infer_shapes(model, strict_mode=True)


def fold_constants(model: onnx.ModelProto, max_elements: int = MAX_FOLDED_ELEMENTS) -> tuple[onnx.ModelProto, int]:
    """Folds constant (shape) arithmetic; returns the model and the number of
    nodes folded.

    ``model`` must be shape-inferred (``Shape`` nodes fold only where their
    input's shape is static). Folding and shape inference alternate until
    nothing more folds: a folded ``Pad`` gives static shapes to the tensors
    after it, whose ``Shape`` then folds in the next round. When something
    was folded, the result is a new model with its shapes inferred again;
    otherwise ``model`` itself. Functions and subgraphs are left as they are.
    """
    total = 0
    for _ in range(64):
        model, count = _fold_once(model, max_elements)
        if not count:
            break
        total += count
    return model, total


def _fold_once(model: onnx.ModelProto, max_elements: int) -> tuple[onnx.ModelProto, int]:
    graph = model.graph
    opsets = {o.domain or "": o.version for o in model.opset_import}
    opsets.setdefault("", 1)
    shapes = _static_shapes(graph)
    values: dict[str, np.ndarray] = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    folded: list[int] = []
    for index, node in enumerate(graph.node):
        if node.domain not in ("", "ai.onnx") or node.op_type in _NEVER:
            continue
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            continue
        if node.op_type == "Constant":
            try:
                values[node.output[0]] = _evaluate(node, [], opsets)[0]
            except Exception:
                pass
            continue  # a source of values; Constant nodes stay where they are
        if node.op_type == "Shape" and node.input[0] in shapes:
            results = [_shape_of(node, shapes[node.input[0]])]
        elif node.op_type == "Size" and node.input[0] in shapes:
            results = [np.array(int(np.prod(shapes[node.input[0]])), dtype=np.int64)]
        elif node.input and all(not name or name in values for name in node.input):
            if any(name and values[name].size > max_elements for name in node.input):
                continue  # arithmetic on weights, not on shapes
            try:
                results = _evaluate(node, [values[name] if name else None for name in node.input], opsets)
            except Exception:
                continue
        else:
            continue
        if any(r.size > max_elements or r.dtype == object for r in results):
            continue
        for name, result in zip(node.output, results):
            if name:
                values[name] = result
        folded.append(index)
    if not folded:
        return model, 0

    folded_set = set(folded)
    produced = {name for i in folded for name in graph.node[i].output if name}
    needed = {name for i, node in enumerate(graph.node) if i not in folded_set for name in node.input}
    needed |= {out.name for out in graph.output}
    result = onnx.ModelProto()
    result.CopyFrom(model)
    kept = [node for i, node in enumerate(graph.node) if i not in folded_set]
    del result.graph.node[:]
    result.graph.node.extend(kept)
    for name in sorted(produced & needed):
        tensor = numpy_helper.from_array(values[name], name)
        result.graph.initializer.append(tensor)
        if model.ir_version < 4:
            # Before IR 4 every initializer is also a graph input; shape
            # inference ignores the others.
            result.graph.input.append(onnx.helper.make_tensor_value_info(name, tensor.data_type, tensor.dims))
    # Drop Constant nodes that only fed folded nodes.
    used = {name for node in result.graph.node for name in node.input} | {out.name for out in graph.output}
    live = [n for n in result.graph.node if n.op_type != "Constant" or any(o in used for o in n.output)]
    del result.graph.node[:]
    result.graph.node.extend(live)
    try:
        return _infer(result), len(folded)
    except Exception:
        return model, 0  # folding is an improvement, never a new failure
