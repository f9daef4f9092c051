"""ONNX to linalg-on-tensors MLIR text, in-process through IREE's importer.

The result is printed in generic form with locations so that quantune-opt
(MLIR 22) parses it; see docs/architecture.md for why the two meet in text.
"""

from __future__ import annotations

import re

import onnx
from iree.compiler import ir, passmanager
from iree.compiler.extras import onnx_importer

from quantune_mlir.errors import QuantuneError
from quantune_mlir.ir_walk import walk_operations

# Stage 1: ONNX ops to torch ops. Anything left as `torch.operator "onnx.X"`
# has no lowering in IREE's torch-mlir.
_ONNX_TO_TORCH = "builtin.module(func.func(convert-torch-onnx-to-torch))"
# Stage 2: torch to plain func + linalg + tensor + arith (no IREE util/hal).
_TORCH_TO_LINALG = (
    "builtin.module(torch-lower-to-backend-contract,"
    "torch-backend-to-linalg-on-tensors-backend-pipeline)"
)
_LOC_NAME = re.compile(r'loc\("([^"]*)"')


_NO_PATTERN = "failed to legalize operation 'torch.operator'"


def _describe_node(node: onnx.NodeProto) -> str:
    """``GRU (direction=bidirectional, hidden_size=32)``: the op and its short attributes."""
    attrs = []
    for attr in node.attribute:
        value = onnx.helper.get_attribute_value(attr)
        if isinstance(value, bytes):
            value = value.decode(errors="replace")
        if isinstance(value, (int, float, str)) or (isinstance(value, list) and len(value) <= 8):
            attrs.append(f"{attr.name}={value}")
    return f"{node.op_type} ({', '.join(attrs)})" if attrs else node.op_type


def _diagnostic_line(exc: Exception, nodes: dict[str, onnx.NodeProto] | None = None, opset: int = 0) -> str:
    """One line from an MLIRError: the first error, attributed to its ONNX node."""
    diagnostics = getattr(exc, "error_diagnostics", None) or []
    for diag in diagnostics:
        # Drop the printed op that legalization errors append after ': %'.
        message = diag.message.split("\n")[0].split(": %")[0]
        match = _LOC_NAME.search(str(diag.location))
        if match and nodes and match.group(1) in nodes:
            node = nodes[match.group(1)]
            if _NO_PATTERN in message:
                return (f"ONNX node '{node.name}': IREE's ONNX importer has no lowering for "
                        f"{_describe_node(node)} at opset {opset}")
            return f"ONNX node '{node.name}' ({node.op_type}): {message}"
        return f"{diag.location}: {message}"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _node_name(op: ir.Operation) -> str:
    match = _LOC_NAME.search(str(op.location))
    return match.group(1) if match else "?"


def _unsupported_ops(module: ir.Module) -> list[str]:
    """Names the ONNX ops that stage 1 could not convert, with their node names."""
    found: dict[str, set[str]] = {}
    for op in walk_operations(module.operation):
        if op.name != "torch.operator":
            continue
        onnx_name = ir.StringAttr(op.attributes["name"]).value.removeprefix("onnx.")
        found.setdefault(onnx_name, set()).add(_node_name(op))
    return [f"{op} (node {', '.join(repr(n) for n in sorted(nodes))})" for op, nodes in sorted(found.items())]


def _run_pipeline(
    module: ir.Module, pipeline: str, failure: str, nodes: dict[str, onnx.NodeProto], opset: int
) -> None:
    """Runs an IREE pass pipeline in-process; a failure names the ONNX node."""
    try:
        passmanager.PassManager.parse(pipeline).run(module.operation)
    except ir.MLIRError as exc:
        raise QuantuneError(f"{failure} at {_diagnostic_line(exc, nodes, opset)}") from None


def import_onnx(model: onnx.ModelProto) -> str:
    """Imports a loaded, shape-inferred ONNX model and lowers it to linalg.

    Returns generic-form MLIR text with debug locations: each op keeps the
    ONNX node name as a ``loc("name")``. Raises :class:`QuantuneError` naming
    the unsupported op when a node has no lowering.
    """
    nodes = {node.name: node for node in model.graph.node if node.name}
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    context = ir.Context()
    try:
        info = onnx_importer.ModelInfo(model)
        module = info.create_module(context=context)
        importer = onnx_importer.NodeImporter.define_function(info.main_graph, module.operation)
        importer.import_all()
    except Exception as exc:
        raise QuantuneError(f"ONNX import failed: {_diagnostic_line(exc)}") from None

    with context:
        _run_pipeline(module, _ONNX_TO_TORCH, "unsupported model: ONNX to torch conversion failed", nodes, opset)
        unsupported = _unsupported_ops(module)
        if unsupported:
            raise QuantuneError(f"unsupported ONNX op(s): {'; '.join(unsupported)}")
        _run_pipeline(module, _TORCH_TO_LINALG, "unsupported model: lowering to linalg failed", nodes, opset)

    text = module.operation.get_asm(print_generic_op_form=True, enable_debug_info=True)
    if "!torch." in text or '"torch.' in text:
        raise QuantuneError("lowering to linalg left torch ops behind; the model uses an unsupported feature")
    return text
