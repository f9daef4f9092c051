"""What a model input takes, and the check every calibration sample passes.

A sample is accepted when its shape is exactly the input's and its dtype
casts to the input's dtype within the same kind (float64 to float32,
integers to float by value, ...); it is then copied to a fresh contiguous
array of the input's dtype, and NaN, Inf and out-of-range values are
errors. Each conversion is worth saying once: :func:`conversion_message`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from quantune_mlir.errors import QuantuneError, first_line

Shape = tuple[int, ...]


def format_shape(shape: Iterable[int]) -> str:
    """``(1, 3, 32, 32)`` -> ``1x3x32x32`` (``scalar`` for a 0-d shape)."""
    dims = [str(d) for d in shape]
    return "x".join(dims) if dims else "scalar"


@dataclass(frozen=True)
class ModelInput:
    """One model input: its name, static shape (batch included) and dtype.

    ``name`` may be empty for the only input of a model when it is unknown;
    then an ``.npz`` source must hold a single array.
    """

    name: str
    shape: Shape
    dtype: np.dtype = np.dtype(np.float32)

    def __post_init__(self) -> None:
        of = f" for '{self.name}'" if self.name else ""
        if not isinstance(self.name, str):
            raise QuantuneError(f"bad model input name {self.name!r}: it must be a string")
        try:
            shape = tuple(int(d) for d in self.shape)
        except (TypeError, ValueError):
            raise QuantuneError(f"bad model input shape {self.shape!r}{of}") from None
        if any(d <= 0 for d in shape):
            raise QuantuneError(f"bad model input shape {format_shape(shape)}{of}: dimensions must be positive")
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            raise QuantuneError(f"bad model input dtype {self.dtype!r}{of}") from None
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "dtype", dtype)

    def describe(self) -> str:
        """``model input 'x'``, or ``the model input`` when the name is unknown."""
        return f"model input '{self.name}'" if self.name else "the model input"


def check_sample(raw: Any, label: str, spec: ModelInput, target: str) -> tuple[np.ndarray, np.dtype]:
    """``raw`` as a fresh array of ``spec``'s shape and dtype, and the dtype it had.

    ``label`` names the sample and ``target`` the input (``the model input``,
    ``model input 'x'``) in the one-line errors.
    """
    shape, dtype = spec.shape, spec.dtype
    try:
        array = np.asarray(raw)
    except Exception as exc:
        raise QuantuneError(f"calibration sample {label} is not an array: {first_line(str(exc))}") from None
    if array.dtype != dtype and not (array.dtype.kind in "biuf" and np.can_cast(array.dtype, dtype, "same_kind")):
        raise QuantuneError(f"calibration sample {label} has dtype {array.dtype}, which cannot be cast to {dtype}")
    if array.shape != shape:
        raise QuantuneError(
            f"calibration sample {label} has shape {format_shape(array.shape)} but {target} is {format_shape(shape)}"
        )
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
        out = np.array(array, dtype=dtype, copy=True, order="C")
    if dtype.kind == "f" and not np.isfinite(out).all():
        nans = int(np.isnan(out).sum())
        if nans:
            raise QuantuneError(f"calibration sample {label} contains NaN ({nans} of {out.size} values)")
        infs = int(np.isinf(array).sum()) if array.dtype.kind == "f" else 0
        if infs:
            raise QuantuneError(f"calibration sample {label} contains Inf ({infs} of {out.size} values)")
        raise QuantuneError(f"calibration sample {label} has values outside the {dtype} range")
    if dtype.kind in "iu" and array.dtype.kind in "iu" and array.size:
        info = np.iinfo(dtype)
        if array.min() < info.min or array.max() > info.max:
            raise QuantuneError(f"calibration sample {label} has values outside the {dtype} range")
    return out, array.dtype


def conversion_message(what: str, source: np.dtype, model: np.dtype) -> str | None:
    """The note (or warning) for converting ``what``'s data from ``source`` to ``model``; None if equal.

    ``what`` names the data, e.g. ``calibration input 'x'``. Integers (and
    booleans) become floats by value; uint8 data meeting a float input gets
    a warning, since it is usually unnormalised image data.
    """
    if source == model:
        return None
    if model.kind == "f" and source == np.uint8:
        return (
            f"warning: {what} is uint8 (values 0..255) and the model takes {model}: converted by value, "
            "not scaled to [0, 1]; normalise the data (or use an image folder with --image-spec) "
            "if the model expects normalised input"
        )
    if model.kind == "f" and source.kind in "biu":
        return f"note: {what} is {source}; converted to {model} by value (not rescaled)"
    return f"note: {what} is {source}; converted to {model}"
