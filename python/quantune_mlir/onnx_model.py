"""Loading and validating ONNX models before import."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import onnx

from quantune_mlir.errors import QuantuneError, first_line

Shape = tuple[int, ...]


def parse_input_shape(spec: str) -> tuple[str | None, Shape]:
    """Parses ``[NAME:]D0xD1x...`` (e.g. ``x:1x3x224x224`` or ``1x3x32x32``)."""
    name, sep, dims = spec.rpartition(":")
    try:
        shape = tuple(int(d) for d in dims.lower().split("x"))
    except ValueError:
        shape = ()
    if not shape or any(d <= 0 for d in shape):
        raise QuantuneError(
            f"bad --input-shape '{spec}': expected [NAME:]D0xD1x... with positive "
            "integers, e.g. x:1x3x224x224"
        )
    return (name if sep else None), shape


def graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """The graph inputs that are real inputs, not initializers."""
    initializers = {init.name for init in model.graph.initializer}
    return [vi for vi in model.graph.input if vi.name not in initializers]


def _describe_dims(vi: onnx.ValueInfoProto) -> list[str]:
    out = []
    for d in vi.type.tensor_type.shape.dim:
        if d.HasField("dim_value") and d.dim_value > 0:
            out.append(str(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param:
            out.append(d.dim_param)
        else:
            out.append("?")
    return out


def _apply_shapes(model: onnx.ModelProto, shapes: Mapping[str | None, Shape]) -> None:
    inputs = graph_inputs(model)
    by_name = {vi.name: vi for vi in inputs}
    for name, shape in shapes.items():
        if name is None:
            if len(inputs) != 1:
                raise QuantuneError(
                    f"--input-shape without a name needs a single-input model; "
                    f"this one has inputs {sorted(by_name)}: use NAME:SHAPE"
                )
            vi = inputs[0]
        elif name in by_name:
            vi = by_name[name]
        else:
            raise QuantuneError(
                f"--input-shape names unknown input '{name}'; inputs are {sorted(by_name)}"
            )
        tensor_type = vi.type.tensor_type
        if tensor_type.HasField("shape") and len(tensor_type.shape.dim) != len(shape):
            raise QuantuneError(
                f"--input-shape for '{vi.name}' has rank {len(shape)} but the model "
                f"declares rank {len(tensor_type.shape.dim)} ({'x'.join(_describe_dims(vi))})"
            )
        tensor_type.shape.Clear()
        for d in shape:
            tensor_type.shape.dim.add().dim_value = d


def _check_static(model: onnx.ModelProto) -> None:
    for vi in graph_inputs(model):
        if not vi.type.HasField("tensor_type"):
            raise QuantuneError(f"input '{vi.name}' is not a tensor; only tensor inputs are supported")
        tensor_type = vi.type.tensor_type
        dims = _describe_dims(vi)
        if not tensor_type.HasField("shape") or any(not d.isdigit() for d in dims):
            shown = "x".join(dims) if tensor_type.HasField("shape") else "unknown rank"
            raise QuantuneError(
                f"input '{vi.name}' has dynamic dimensions ({shown}); give a static shape "
                f"with --input-shape {vi.name}:1x..."
            )


def load_onnx(
    path: str | os.PathLike[str],
    input_shapes: Mapping[str | None, Shape] | Sequence[str] | None = None,
) -> onnx.ModelProto:
    """Loads, checks and shape-infers an ONNX model with static input shapes.

    ``input_shapes`` maps input names (or ``None`` for a single-input model)
    to static shapes, or is a list of ``[NAME:]D0xD1`` strings. Raises
    :class:`QuantuneError` for a missing or non-ONNX file, an invalid model,
    or dynamic input dimensions that no shape was given for.
    """
    p = Path(path)
    if not p.is_file():
        raise QuantuneError(f"cannot read '{p}': no such file")
    try:
        model = onnx.load(str(p))
    except Exception as exc:  # protobuf DecodeError and friends
        raise QuantuneError(f"'{p}' is not an ONNX model ({first_line(str(exc)) or type(exc).__name__})") from None
    if model.ir_version == 0 or not model.HasField("graph") or not model.graph.node:
        raise QuantuneError(f"'{p}' is not an ONNX model (no graph or IR version found)")
    try:
        onnx.checker.check_model(model)
    except Exception as exc:
        raise QuantuneError(f"'{p}' is not a valid ONNX model: {first_line(str(exc))}") from None

    if input_shapes:
        if not isinstance(input_shapes, Mapping):
            input_shapes = dict(parse_input_shape(s) for s in input_shapes)
        _apply_shapes(model, input_shapes)
    _check_static(model)
    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except Exception as exc:
        raise QuantuneError(f"shape inference failed for '{p}': {first_line(str(exc))}") from None
