"""The rules a plan.json must follow, checked field by field when it is loaded.

:func:`check_plan` turns parsed JSON into the keyword arguments of
``plan.Plan`` and ``plan.LayerPlan``, or raises a one-line QuantuneError
that names the file, the layer (id and name) and the field. Keys this
version does not know are ignored (forward compatibility); a missing
required key is an error.

Metrics that older versions wrote as ``NaN``/``Infinity`` read as None
(they were "not measured"); non-finite quantization parameters are errors.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable

from quantune_mlir.errors import QuantuneError

PRECISIONS = ("i8", "i4", "f32")
ZERO_POINT_RANGE = (-128, 127)  # si8
RATIO_LENGTH = 4

TOP_REQUIRED = ("model", "method", "budget", "ratio", "calibration", "inferences", "layers")
TOP_FIELDS = (*TOP_REQUIRED, "version", "metric_meaning", "phases_seconds")
LAYER_REQUIRED = ("id", "name", "kind", "params", "macs", "precision")
METRICS = ("sensitivity", "weight_sqnr", "act_sqnr", "weight_mse", "act_mse")
LAYER_FIELDS = (*LAYER_REQUIRED, *METRICS, "act_scale", "act_zero_point", "reason", "act_range", "bias_correction",
                "output_sqnr", "gain_db", "i4")


class _Bad(Exception):
    """A field value is wrong: ``what`` it must be."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def show(value: Any, limit: int = 60) -> str:
    """``value`` as one line of JSON (``NaN`` for NaN), shortened past ``limit`` characters."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _quote(name: str) -> str:
    if name.isprintable() and "'" not in name and len(name) <= 60:
        return f"'{name}'"
    return show(name)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --------------------------------------------------------------------------- field rules


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _Bad("a string")
    return value


def _optional_string(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _Bad("a string or null")
    return value


def _finite_numbers(value: Any) -> list[float] | None:
    if value is None:
        return None
    if (not isinstance(value, list) or not value
            or not all(_is_number(v) and math.isfinite(v) for v in value)):
        raise _Bad("a non-empty array of finite numbers or null")
    return [float(v) for v in value]


def _count(value: Any) -> int | None:
    if value is None:
        return None
    if not _is_int(value) or value < 0:
        raise _Bad("a non-negative integer or null")
    return value


def _layer_id(value: Any) -> int:
    if not _is_int(value) or value < 0:
        raise _Bad("a non-negative integer")
    return value


def _precision(value: Any) -> str:
    if not isinstance(value, str) or value not in PRECISIONS:
        raise _Bad(", ".join(f'"{p}"' for p in PRECISIONS[:-1]) + f' or "{PRECISIONS[-1]}"')
    return value


def _metric(value: Any) -> float | None:
    if value is None:
        return None
    if not _is_number(value):
        raise _Bad("a number or null")
    value = float(value)
    return value if math.isfinite(value) else None


def _mse(value: Any) -> float | None:
    metric = _metric(value)
    if metric is not None and metric < 0:
        raise _Bad("a non-negative number or null")
    return metric


def _scale(value: Any) -> float | None:
    if value is None:
        return None
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise _Bad("a positive finite number")
    return float(value)


def _zero_point(value: Any) -> int | None:
    if value is None:
        return None
    lo, hi = ZERO_POINT_RANGE
    if not _is_int(value) or not lo <= value <= hi:
        raise _Bad(f"an integer in [{lo}, {hi}]")
    return value


TIER_RULES: dict[str, Callable[[Any], Any]] = {
    "weight_sqnr": _metric,
    "weight_mse": _mse,
    "act_sqnr": _metric,
    "act_mse": _mse,
    "output_sqnr": _metric,
    "act_scale": _scale,
    "act_zero_point": _zero_point,
    "act_range": _optional_string,
    "bias_correction": _finite_numbers,
}
"""The fields of a layer's w4a8 tier (``"i4"``): its own metrics, range and correction."""


def _tier(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Bad("an object of w4a8 metrics, act_scale and act_zero_point, or null")
    tier: dict[str, Any] = {}
    for key, rule in TIER_RULES.items():
        if key in value:
            try:
                tier[key] = rule(value[key])
            except _Bad as bad:
                raise _Bad(f"an object whose {key} is {bad.what} (got {show(value[key])})") from None
    if (tier.get("act_scale") is None) != (tier.get("act_zero_point") is None):
        raise _Bad("an object with both act_scale and act_zero_point, or neither")
    return tier


LAYER_RULES: dict[str, Callable[[Any], Any]] = {
    "id": _layer_id,
    "name": _string,
    "kind": _string,
    "params": _count,
    "macs": _count,
    "precision": _precision,
    "sensitivity": _metric,
    "weight_sqnr": _metric,
    "act_sqnr": _metric,
    "weight_mse": _mse,
    "act_mse": _mse,
    "act_scale": _scale,
    "act_zero_point": _zero_point,
    "reason": _optional_string,
    "act_range": _optional_string,
    "bias_correction": _finite_numbers,
    "output_sqnr": _metric,
    "gain_db": _metric,
    "i4": _tier,
}


def _ratio(value: Any) -> list[float]:
    what = f"an array of {RATIO_LENGTH} non-negative numbers"
    if not isinstance(value, list) or len(value) != RATIO_LENGTH:
        raise _Bad(what)
    if not all(_is_number(r) and math.isfinite(r) and r >= 0 for r in value):
        raise _Bad(what)
    return [float(r) for r in value]


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad("an object")
    return value


def _counts(value: Any) -> dict[str, int]:
    if not isinstance(value, dict) or not all(_is_int(v) and v >= 0 for v in value.values()):
        raise _Bad("an object of non-negative integers")
    return value


def _strings(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _Bad("an object of strings")
    return value


TOP_RULES: dict[str, Callable[[Any], Any]] = {
    "model": _string,
    "method": _string,
    "budget": _string,
    "ratio": _ratio,
    "calibration": _object,
    "inferences": _counts,
    # Timings: only the container is checked here (its format is its own matter).
    "phases_seconds": _object,
    "metric_meaning": _strings,
}


# --------------------------------------------------------------------------- the checks


def _layer_ref(entry: dict[str, Any], index: int) -> str:
    layer_id, name = entry.get("id"), entry.get("name")
    ref = f"layer {layer_id}" if _is_int(layer_id) and layer_id >= 0 else f"layers[{index}]"
    return f"{ref} ({_quote(name)})" if isinstance(name, str) else ref


def _check_layer(entry: Any, index: int, where: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise QuantuneError(f"{where}: layers[{index}] is {show(entry)}; it must be an object")
    ref = _layer_ref(entry, index)
    for key in LAYER_REQUIRED:
        if key not in entry:
            raise QuantuneError(f"{where}: {ref} has no '{key}'")
    layer: dict[str, Any] = {}
    for key, rule in LAYER_RULES.items():
        if key not in entry:
            continue
        try:
            layer[key] = rule(entry[key])
        except _Bad as bad:
            raise QuantuneError(f"{where}: {ref} has {key} {show(entry[key])}; it must be {bad.what}") from None
    scale, zero_point = layer.get("act_scale"), layer.get("act_zero_point")
    precision = layer["precision"]
    if precision in ("i8", "i4"):
        # An i4 layer reads the activation parameters of its w4a8 tier.
        source = (layer.get("i4") or {}) if precision == "i4" else layer
        prefix = "i4." if precision == "i4" else ""
        for key in ("act_scale", "act_zero_point"):
            if source.get(key) is None:
                raise QuantuneError(
                    f"{where}: {ref} is {precision} but has no {prefix}{key}; an {precision} layer needs "
                    f"{prefix}act_scale and {prefix}act_zero_point"
                )
        if layer.get("reason") is not None:
            raise QuantuneError(
                f"{where}: {ref} is {precision} but has reason {show(layer['reason'])}; "
                "a layer that cannot be quantized must be f32"
            )
    elif (scale is None) != (zero_point is None):
        present, missing = ("act_scale", "act_zero_point") if zero_point is None else ("act_zero_point", "act_scale")
        raise QuantuneError(f"{where}: {ref} has {present} but no {missing}; give both or neither")
    return layer


def check_plan(data: Any, where: str, version: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The validated ``Plan`` fields (without ``layers``) and ``LayerPlan`` fields of ``data``.

    ``where`` starts every message, e.g. ``plan 'p.json'``.
    """
    if not isinstance(data, dict):
        raise QuantuneError(f"{where} is not a quantune plan: it holds {show(data, 30)}, not a JSON object")
    if "version" not in data:
        raise QuantuneError(f"{where} is not a version {version} quantune plan: it has no 'version'")
    if not _is_int(data["version"]) or data["version"] != version:
        raise QuantuneError(
            f"{where} is not a version {version} quantune plan: its version is {show(data['version'])}"
        )
    for key in TOP_REQUIRED:
        if key not in data:
            raise QuantuneError(f"{where} has no '{key}'")
    top: dict[str, Any] = {"version": version}
    for key, rule in TOP_RULES.items():
        if key not in data:
            continue
        try:
            top[key] = rule(data[key])
        except _Bad as bad:
            raise QuantuneError(f"{where} has {key} {show(data[key])}; it must be {bad.what}") from None
    if not isinstance(data["layers"], list):
        raise QuantuneError(f"{where} has layers {show(data['layers'])}; it must be an array of layer objects")
    layers = [_check_layer(entry, index, where) for index, entry in enumerate(data["layers"])]
    seen: dict[int, dict[str, Any]] = {}
    for layer in layers:
        first = seen.setdefault(layer["id"], layer)
        if first is not layer:
            raise QuantuneError(
                f"{where}: layer id {layer['id']} appears twice ({_quote(first['name'])} and {_quote(layer['name'])})"
            )
    return top, layers
