"""Loading and validating ONNX models before import."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Mapping, Sequence

import onnx
import onnx.version_converter

from quantune_mlir.errors import QuantuneError, first_line
from quantune_mlir.onnx_bn import fold_batch_norms
from quantune_mlir.onnx_fold import fold_constants
from quantune_mlir.onnx_rnn import split_gru_directions
from quantune_mlir.progress import report

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


# The opset the importer (IREE 3.13's torch-mlir ONNX patterns) handles best:
# older versions of BatchNormalization (< 15), MaxPool (< 12) and Unsqueeze
# (< 13) have no torch lowering, and onnx.version_converter upgrades them.
TARGET_OPSET = 17


def _example_shape(vi: onnx.ValueInfoProto) -> str:
    """A complete --input-shape example: batch 1, known dims kept, and a
    plausible size (224 for image dims, else 1) for each other dynamic dim."""
    dims = _describe_dims(vi)
    rank = len(dims)
    out = []
    for i, d in enumerate(dims):
        if d.isdigit():
            out.append(d)
        elif i == 0:
            out.append("1")
        else:
            out.append("224" if rank == 4 and i >= 1 and i != _channel_axis(dims) else "1")
    return "x".join(out)


def _channel_axis(dims: list[str]) -> int:
    """The channel axis of a 4-D image input: 1 (NCHW) unless the last dim is 1 or 3 and dim 1 is not."""
    small = {"1", "3", "4"}
    return 3 if dims[3] in small and dims[1] not in small else 1


def _fix_dynamic_batch(model: onnx.ModelProto) -> list[str]:
    """Sets a dynamic leading (batch) dimension of every rank >= 2 input to 1.

    Returns the names of the inputs changed. Other dynamic dimensions are
    left for :func:`_check_static` to report.
    """
    changed = []
    for vi in graph_inputs(model):
        tensor_type = vi.type.tensor_type
        if not vi.type.HasField("tensor_type") or not tensor_type.HasField("shape"):
            continue
        dims = tensor_type.shape.dim
        if len(dims) >= 2 and not (dims[0].HasField("dim_value") and dims[0].dim_value > 0):
            dims[0].Clear()
            dims[0].dim_value = 1
            changed.append(vi.name)
    return changed


def _check_static(model: onnx.ModelProto) -> None:
    for vi in graph_inputs(model):
        if not vi.type.HasField("tensor_type"):
            raise QuantuneError(f"input '{vi.name}' is not a tensor; only tensor inputs are supported")
        tensor_type = vi.type.tensor_type
        if not tensor_type.HasField("shape"):
            raise QuantuneError(
                f"input '{vi.name}' has unknown rank; give a static shape with --input-shape {vi.name}:DIMS"
            )
        dims = _describe_dims(vi)
        if any(not d.isdigit() for d in dims):
            raise QuantuneError(
                f"input '{vi.name}' has dynamic dimensions ({'x'.join(dims)}); give a static shape, "
                f"e.g. --input-shape {vi.name}:{_example_shape(vi)}"
            )


def model_opset(model: onnx.ModelProto) -> int:
    """The model's version of the default ONNX domain (0 if it declares none)."""
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return entry.version
    return 0


def _upgrade_opset(model: onnx.ModelProto, label: str) -> tuple[onnx.ModelProto, str | None]:
    """Converts a model below :data:`TARGET_OPSET` to it; returns a note."""
    opset = model_opset(model)
    if opset == 0 or opset >= TARGET_OPSET:
        return model, None
    try:
        upgraded = onnx.version_converter.convert_version(model, TARGET_OPSET)
    except Exception as exc:
        return model, (
            f"note: '{label}' uses opset {opset}; upgrading it to {TARGET_OPSET} failed "
            f"({first_line(str(exc)) or type(exc).__name__}), importing it as it is"
        )
    return upgraded, f"opset {opset} upgraded to {TARGET_OPSET}"


def _clear_inferred_shapes(model: onnx.ModelProto) -> None:
    """Drops value_info and the output shapes (keeping element types):
    shape inference recomputes both from the inputs."""
    del model.graph.value_info[:]
    for out in model.graph.output:
        if out.type.HasField("tensor_type"):
            out.type.tensor_type.ClearField("shape")


def _infer_shapes(model: onnx.ModelProto, label: str) -> tuple[onnx.ModelProto, bool]:
    """Strict shape inference. A model whose stored shapes (value_info, or a
    declared output shape) disagree with inference is re-inferred without
    them; the flag says that happened."""
    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=True), False
    except Exception as first:
        stripped = onnx.ModelProto()
        stripped.CopyFrom(model)
        _clear_inferred_shapes(stripped)
        try:
            return onnx.shape_inference.infer_shapes(stripped, strict_mode=True), True
        except Exception:
            raise QuantuneError(f"shape inference failed for '{label}': {first_line(str(first))}") from None


def load_onnx(
    path: str | os.PathLike[str],
    input_shapes: Mapping[str | None, Shape] | Sequence[str] | None = None,
    notify: Callable[[str], None] | None = report,
) -> onnx.ModelProto:
    """Loads, checks and shape-infers an ONNX model with static input shapes.

    ``input_shapes`` maps input names (or ``None`` for a single-input model)
    to static shapes, or is a list of ``[NAME:]D0xD1`` strings. What loading
    changes is said in one line through ``notify``:

    * a dynamic leading (batch) dimension becomes 1;
    * a model below opset :data:`TARGET_OPSET` is converted to it;
    * stored shapes that disagree with shape inference (stale value_info, a
      wrong output declaration) are dropped and inferred again;
    * a bidirectional or reverse GRU becomes forward GRUs over a reversed
      sequence (:mod:`quantune_mlir.onnx_rnn`), the only direction the
      importer lowers;
    * constant shape arithmetic (pads or reshape targets computed from
      ``Shape`` of a static tensor) is folded, so that later shapes are static
      (:mod:`quantune_mlir.onnx_fold`);
    * an inference-mode BatchNormalization right after a convolution is
      folded into its weights and bias (:mod:`quantune_mlir.onnx_bn`), so the
      quantize/dequantize pairs around that convolution can fold.

    Raises :class:`QuantuneError` for a missing or non-ONNX file, an invalid
    model, or other dynamic input dimensions that no shape was given for.
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

    changes = []
    if input_shapes:
        if not isinstance(input_shapes, Mapping):
            input_shapes = dict(parse_input_shape(s) for s in input_shapes)
        _apply_shapes(model, input_shapes)
    batched = _fix_dynamic_batch(model)
    if batched:
        changes.append(f"dynamic batch of {', '.join(repr(n) for n in batched)} set to 1")
    _check_static(model)
    model, note = _upgrade_opset(model, str(p))
    if note and note.startswith("note:"):
        if notify:
            notify(note)
    elif note:
        changes.append(note)
    model, split = split_gru_directions(model)
    if split:
        changes.append(f"{split} bidirectional or reverse GRU(s) split into forward GRUs")
    if batched or note or split:
        # Shapes stored for the old batch, opset or graph are stale: infer them anew.
        del model.graph.value_info[:]
    model, reinferred = _infer_shapes(model, str(p))
    if reinferred:
        changes.append("stored shapes that disagreed with shape inference dropped")
    try:
        model, folded = fold_constants(model)
    except Exception as exc:  # the reference evaluator on an op it does not know, for instance
        folded = 0
        if notify:
            notify(f"note: '{p}': folding constant shape arithmetic failed ({first_line(str(exc))}); importing as is")
    if folded:
        changes.append(f"{folded} nodes of constant shape arithmetic folded")
    model, bn_folded = fold_batch_norms(model)
    if bn_folded:
        changes.append(f"{bn_folded} BatchNormalization node(s) folded into the convolution before them")
        model, _ = _infer_shapes(model, str(p))
    if changes and notify:
        notify(f"note: '{p}': {'; '.join(changes)}")
    return model
