"""Folding inference-mode BatchNormalization into the convolution before it.

Older exporters (Caffe2, paddle2onnx, some TF converters) keep
``Conv -> BatchNormalization`` as two nodes. Left as they are, the batch norm
is an affine op between the int8 convolution and whatever follows, so no
quantize/dequantize pair around that convolution can fold. With constant
parameters it is exactly a per-channel rescale of the convolution's weights
and a new bias:

    k = gamma / sqrt(var + epsilon)
    W' = W * k (per output channel),  b' = (b - mean) * k + beta
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
from onnx import helper, numpy_helper


def _attr(node: onnx.NodeProto, name: str, default: object) -> object:
    for attr in node.attribute:
        if attr.name == name:
            return helper.get_attribute_value(attr)
    return default


def fold_batch_norms(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """Folds every ``BatchNormalization`` whose input is a ``Conv`` used by
    nothing else, when both have constant parameters; returns the model and
    how many were folded. ``model`` is left unchanged."""
    if not any(n.op_type == "BatchNormalization" for n in model.graph.node):
        return model, 0
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    inits = {t.name: t for t in graph.initializer}
    producers = {name: node for node in graph.node for name in node.output}
    # Constant nodes count as initializers (paddle2onnx writes parameters so).
    for name, node in producers.items():
        if node.op_type == "Constant" and name not in inits:
            value = next((a for a in node.attribute if a.name == "value"), None)
            if value is not None:
                inits[name] = value.t
    uses = Counter(name for node in graph.node for name in node.input)
    uses.update(o.name for o in graph.output)
    taken = set(inits) | set(producers) | {i.name for i in graph.input}

    def fresh(base: str) -> str:
        name = base
        while name in taken:
            name += "_"
        taken.add(name)
        return name

    added: dict[str, onnx.TensorProto] = {}
    dropped: set[int] = set()
    renames: dict[str, str] = {}  # conv output -> BN output: the conv takes over the BN's name
    for index, bn in enumerate(graph.node):
        if bn.op_type != "BatchNormalization" or bn.domain not in ("", "ai.onnx") or len(bn.output) != 1:
            continue
        if _attr(bn, "training_mode", 0) or any(name not in inits for name in bn.input[1:5]):
            continue
        conv = producers.get(bn.input[0])
        if conv is None or conv.op_type != "Conv" or uses[conv.output[0]] != 1 or conv.output[0] in renames:
            continue
        w_name = conv.input[1] if len(conv.input) > 1 else ""
        b_name = conv.input[2] if len(conv.input) > 2 else ""
        if w_name not in inits or (b_name and b_name not in inits):
            continue  # computed parameters
        weight = numpy_helper.to_array(inits[w_name])
        gamma, beta, mean, var = (numpy_helper.to_array(inits[n]).astype(np.float64) for n in bn.input[1:5])
        if weight.dtype != np.float32 or weight.ndim < 3 or gamma.shape != (weight.shape[0],):
            continue
        bias = numpy_helper.to_array(inits[b_name]).astype(np.float64) if b_name else np.zeros(weight.shape[0])
        k = gamma / np.sqrt(var + float(_attr(bn, "epsilon", 1e-5)))
        scaled = weight.astype(np.float64) * k.reshape(-1, *([1] * (weight.ndim - 1)))
        # The conv gets parameters of its own: others may share the old ones.
        w_new, b_new = fresh(f"{conv.output[0]}/bn_folded_weight"), fresh(f"{conv.output[0]}/bn_folded_bias")
        added[w_new] = numpy_helper.from_array(scaled.astype(np.float32), w_new)
        added[b_new] = numpy_helper.from_array(((bias - mean) * k + beta).astype(np.float32), b_new)
        del conv.input[1:]
        conv.input.extend([w_new, b_new])
        renames[conv.output[0]] = bn.output[0]
        dropped.add(index)
    if not dropped:
        return model, 0

    nodes = [node for index, node in enumerate(graph.node) if index not in dropped]
    for node in nodes:
        node.output[:] = [renames.get(name, name) for name in node.output]
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(added.values())
    if out.ir_version < 4:
        graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, t.dims) for t in added.values())
    del graph.value_info[:]
    return out, len(dropped)
