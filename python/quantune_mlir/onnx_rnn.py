"""Recurrent layers in a form IREE's ONNX importer lowers.

torch-mlir's ONNX patterns lower a ``GRU`` in the forward direction only. A
bidirectional (or reverse) GRU is the same cell run forward over the
reversed sequence, so :func:`split_gru_directions` rewrites it into
forward-only GRUs around ``Slice`` nodes that reverse the time axis:

    X ─┬─ GRU(W[0], R[0], B[0], h0[0]) ──────────────────────── Y_f, Yh_f
       └─ reverse ─ GRU(W[1], R[1], B[1], h0[1]) ─ reverse ──── Y_b, Yh_b
    Y = Concat(Y_f, Y_b; axis 1),  Y_h = Concat(Yh_f, Yh_b; axis 0)

The rewrite needs constant W, R and B (initializers) and no
``sequence_lens``; other GRUs are left as they are.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

_INT64_MIN = np.iinfo(np.int64).min


def _initializers(graph: onnx.GraphProto) -> dict[str, onnx.TensorProto]:
    return {init.name: init for init in graph.initializer}


def _attr(node: onnx.NodeProto, name: str, default: object) -> object:
    for attr in node.attribute:
        if attr.name == name:
            value = helper.get_attribute_value(attr)
            return value.decode() if isinstance(value, bytes) else value
    return default


class _Namer:
    def __init__(self, graph: onnx.GraphProto) -> None:
        self._used = {name for node in graph.node for name in (*node.input, *node.output)}
        self._used |= {init.name for init in graph.initializer}

    def __call__(self, base: str) -> str:
        name, i = base, 0
        while name in self._used:
            i += 1
            name = f"{base}_{i}"
        self._used.add(name)
        return name


def _reverse_time(source: str, target: str, name: str, new: list[onnx.NodeProto], inits: list[onnx.TensorProto],
                  namer: _Namer) -> None:
    """``target = source[::-1]`` along axis 0."""
    consts = {}
    for key, value in (("starts", -1), ("ends", _INT64_MIN), ("axes", 0), ("steps", -1)):
        consts[key] = namer(f"{name}/{key}")
        inits.append(numpy_helper.from_array(np.array([value], dtype=np.int64), consts[key]))
    new.append(helper.make_node("Slice", [source, consts["starts"], consts["ends"], consts["axes"], consts["steps"]],
                                [target], name=namer(name)))


def _direction_part(array: np.ndarray | None, index: int) -> np.ndarray | None:
    return None if array is None else array[index:index + 1]


def _split_one(node: onnx.NodeProto, graph: onnx.GraphProto, namer: _Namer) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]] | None:
    direction = _attr(node, "direction", "forward")
    if direction == "forward":
        return None
    inputs = list(node.input) + [""] * (6 - len(node.input))
    x, w, r, b, seq_lens, h0 = inputs[:6]
    inits = _initializers(graph)
    if seq_lens or w not in inits or r not in inits or (b and b not in inits):
        return None
    arrays = {key: numpy_helper.to_array(inits[name]) if name else None for key, name in (("w", w), ("r", r), ("b", b))}
    outputs = list(node.output) + [""] * (2 - len(node.output))
    y, y_h = outputs[:2]
    keep_attrs = [a for a in node.attribute if a.name != "direction"]
    directions = ["reverse"] if direction == "reverse" else ["forward", "reverse"]
    new: list[onnx.NodeProto] = []
    new_inits: list[onnx.TensorProto] = []
    ys, yhs = [], []
    for index, way in enumerate(directions):
        tag = f"{node.name or 'gru'}/{way}"
        names = {}
        for key in ("w", "r", "b"):
            part = _direction_part(arrays[key], index)
            if part is not None:
                names[key] = namer(f"{tag}/{key.upper()}")
                new_inits.append(numpy_helper.from_array(part, names[key]))
        h0_part = ""
        if h0:
            h0_part = namer(f"{tag}/initial_h")
            idx = namer(f"{tag}/initial_h_index")
            new_inits.append(numpy_helper.from_array(np.array([index], dtype=np.int64), idx))
            new.append(helper.make_node("Gather", [h0, idx], [h0_part], name=namer(f"{tag}/initial_h_gather"), axis=0))
        x_in = x
        if way == "reverse":
            x_in = namer(f"{tag}/X_reversed")
            _reverse_time(x, x_in, f"{tag}/reverse_X", new, new_inits, namer)
        y_part, yh_part = namer(f"{tag}/Y"), namer(f"{tag}/Y_h")
        gru = helper.make_node("GRU", [x_in, names["w"], names["r"], names.get("b", ""), "", h0_part],
                               [y_part, yh_part], name=namer(tag))
        gru.attribute.extend(keep_attrs)
        new.append(gru)
        if way == "reverse":
            y_back = namer(f"{tag}/Y_in_order")
            _reverse_time(y_part, y_back, f"{tag}/reverse_Y", new, new_inits, namer)
            y_part = y_back
        ys.append(y_part)
        yhs.append(yh_part)
    for parts, target, axis in ((ys, y, 1), (yhs, y_h, 0)):
        if not target:
            continue
        if len(parts) == 1:
            new.append(helper.make_node("Identity", parts, [target], name=namer(f"{node.name}/out")))
        else:
            new.append(helper.make_node("Concat", parts, [target], name=namer(f"{node.name}/concat"), axis=axis))
    return new, new_inits


def split_gru_directions(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """Rewrites bidirectional and reverse GRUs of the main graph as forward
    GRUs (see the module docs); returns the model and how many were split."""
    graph = model.graph
    if not any(n.op_type == "GRU" and _attr(n, "direction", "forward") != "forward" for n in graph.node):
        return model, 0
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    namer = _Namer(graph)
    nodes: list[onnx.NodeProto] = []
    count = 0
    for node in graph.node:
        split = _split_one(node, graph, namer) if node.op_type == "GRU" and node.domain in ("", "ai.onnx") else None
        if split is None:
            nodes.append(node)
            continue
        new_nodes, new_inits = split
        nodes.extend(new_nodes)
        graph.initializer.extend(new_inits)
        if out.ir_version < 4:
            graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, t.dims) for t in new_inits)
        count += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return out, count
