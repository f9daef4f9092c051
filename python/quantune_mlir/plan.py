"""The analysis result: plan.json and the per-layer table.

The schema is documented in docs/analysis.md (plan.json) and checked by
:mod:`quantune_mlir.plan_schema` when a plan is loaded; bump ``PLAN_VERSION``
when it changes incompatibly.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from quantune_mlir import plan_schema
from quantune_mlir.errors import QuantuneError
from quantune_mlir.fileio import write_text
from quantune_mlir.jsonio import dumps_strict

PLAN_VERSION = 1


@dataclass
class TierPlan:
    """A layer's w4a8 form (4-bit weights, 8-bit activations), measured
    beside its int8 form when the analysis has three tiers (``--int4``).
    Its fields mean what the ``LayerPlan`` fields of the same name mean for
    the int8 form; an i4 layer is lowered with these activation parameters
    and this bias correction."""

    weight_sqnr: float | None = None
    weight_mse: float | None = None
    act_sqnr: float | None = None
    act_mse: float | None = None
    output_sqnr: float | None = None
    act_scale: float | None = None
    act_zero_point: int | None = None
    act_range: str | None = None
    bias_correction: list[float] | None = None


@dataclass
class LayerPlan:
    """One layer's metrics and chosen precision."""

    id: int
    name: str
    kind: str
    params: int | None
    macs: int | None
    precision: str
    sensitivity: float | None = None
    weight_sqnr: float | None = None
    act_sqnr: float | None = None
    weight_mse: float | None = None
    act_mse: float | None = None
    act_scale: float | None = None
    act_zero_point: int | None = None
    reason: str | None = None
    """Why the layer cannot be quantized, when it is forced to f32."""
    act_range: str | None = None
    """The range method the activation qparams come from (``minmax``,
    ``percentile 99.99``, ``mse``), chosen per layer with ``--calib-method auto``."""
    bias_correction: list[float] | None = None
    """Added to the int8 layer's bias, one value per output channel (``--bias-correction``)."""
    output_sqnr: float | None = None
    """Estimated SQNR (dB) of the model output with only this layer int8 (``--propagation``)."""
    gain_db: float | None = None
    """How much the layer's relative error grows to the model output, dB (``--propagation``)."""
    i4: TierPlan | None = None
    """The layer's w4a8 form, when measured (``--int4``); the fields above are its int8 form's."""

    def tier(self, precision: str) -> "LayerPlan | TierPlan":
        """Where the activation parameters and correction of ``precision`` live:
        the w4a8 tier for ``i4`` (when measured), else the layer itself."""
        return self.i4 if precision == "i4" and self.i4 is not None else self


@dataclass
class Plan:
    """What ``quantune analyze`` decided, and how it got there."""

    model: str
    method: str
    budget: str
    ratio: list[float]
    calibration: dict[str, Any]
    inferences: dict[str, int]
    phases_seconds: dict[str, float]
    layers: list[LayerPlan]
    version: int = PLAN_VERSION
    metric_meaning: dict[str, str] = field(default_factory=dict)

    def to_json(self, timings: bool = False) -> str:
        """Strict JSON: NaN or infinite metrics are written as ``null``.

        Without ``timings`` the wall times (``phases_seconds``) are left
        out, so the same model, data and options give the same bytes and two
        plans can be diffed as they are.
        """
        data = asdict(self)
        if not timings:
            del data["phases_seconds"]
        return dumps_strict(data, indent=2) + "\n"

    def save(self, path: str | os.PathLike[str], timings: bool = False) -> None:
        write_text(path, self.to_json(timings))

    @property
    def int8_layers(self) -> int:
        return sum(layer.precision == "i8" for layer in self.layers)

    @property
    def int4_layers(self) -> int:
        return sum(layer.precision == "i4" for layer in self.layers)

    @property
    def has_int4(self) -> bool:
        """Whether the w4a8 tier was measured (an analysis with ``--int4``)."""
        return any(layer.i4 is not None for layer in self.layers)


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Reads and validates a plan.json written by :meth:`Plan.save`.

    Every problem is a one-line QuantuneError naming the file and, for a
    layer, its id, name and the field (see :func:`plan_from_dict`).
    """
    where = f"plan '{path}'"
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise QuantuneError(f"cannot read {where}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        offset = exc.start + (len(raw) - len(exc.object))  # exc.object lacks a stripped BOM
        raise QuantuneError(f"{where} is not UTF-8 text (byte 0x{raw[offset]:02x} at offset {offset})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise QuantuneError(f"{where} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise QuantuneError(f"{where} is not valid JSON: nested too deeply") from None
    return plan_from_dict(data, where)


def plan_from_dict(data: Any, where: str = "plan") -> Plan:
    """A :class:`Plan` from parsed plan.json ``data``, validated field by field.

    ``where`` starts every message (``plan 'p.json'``); the rules are in
    :mod:`quantune_mlir.plan_schema`. Unknown keys are ignored.
    """
    top, layers = plan_schema.check_plan(data, where, PLAN_VERSION)
    top.setdefault("phases_seconds", {})  # plans are saved without timings
    for layer in layers:
        if layer.get("i4") is not None:
            layer["i4"] = TierPlan(**layer["i4"])
    return Plan(layers=[LayerPlan(**layer) for layer in layers], **top)


def _fmt(value: float | int | None, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def format_table(plan: Plan) -> str:
    """The per-layer table printed by ``quantune analyze``."""
    propagated = any(layer.output_sqnr is not None for layer in plan.layers)
    tiers = plan.has_int4
    headers = ["id", "name", "kind", "params", "MACs", "SQNR_w", "SQNR_a", "MSE_w", "MSE_a"]
    if propagated:
        headers.append("SQNR_out")
    if tiers:
        headers += ["SQNR_w4", "SQNR_a4"] + (["SQNR_out4"] if propagated else [])
    headers += ["sens", "range", "prec"]
    rows = []
    for layer in plan.layers:
        # The range and correction of the tier the layer runs in.
        tier = layer.tier(layer.precision)
        act_range = tier.act_range or "-"
        if tier.bias_correction:
            act_range += " +bc"
        row = [
            str(layer.id), layer.name, layer.kind, _fmt(layer.params, "d"), _fmt(layer.macs, "d"),
            _fmt(layer.weight_sqnr, ".1f"), _fmt(layer.act_sqnr, ".1f"),
            _fmt(layer.weight_mse, ".2e"), _fmt(layer.act_mse, ".2e"),
        ]
        if propagated:
            row.append(_fmt(layer.output_sqnr, ".1f"))
        if tiers:
            i4 = layer.i4 or TierPlan()
            row += [_fmt(i4.weight_sqnr, ".1f"), _fmt(i4.act_sqnr, ".1f")]
            if propagated:
                row.append(_fmt(i4.output_sqnr, ".1f"))
        rows.append(row + [_fmt(layer.sensitivity, ".3f"), act_range, layer.precision + (" *" if layer.reason else "")])
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    left = {1, 2, headers.index("range")}
    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    forced = [layer for layer in plan.layers if layer.reason]
    for layer in forced:
        out.append(f"* layer {layer.id} stays f32: {layer.reason}")
    passes = plan.inferences.get("passes", 0)
    how = (f"method {plan.method}, budget {plan.budget}; {passes} passes over "
           f"{plan.calibration.get('samples', 0)} calibration inputs") if passes else f"method {plan.method}, no analysis"
    if tiers:
        counts = (f"{plan.int4_layers} i4 (w4a8), {plan.int8_layers} i8, "
                  f"{len(plan.layers) - plan.int4_layers - plan.int8_layers} f32 of {len(plan.layers)} layers")
    else:
        counts = f"{plan.int8_layers}/{len(plan.layers)} layers in i8"
    out.append(f"{counts}; {how}")
    if any(layer.tier(layer.precision).bias_correction for layer in plan.layers):
        out.append("+bc: the layer's bias is corrected by its mean int8 error per output channel")
    if propagated:
        space = (", on the logits of its final softmax (--output-error auto)"
                 if "log-probabilities" in plan.metric_meaning.get("output_sqnr", "") else "")
        out.append(f"SQNR_out: estimated SQNR of the model output with only this layer int8 (--propagation){space}")
    if tiers:
        out.append("SQNR_w4, SQNR_a4" + (", SQNR_out4" if propagated else "")
                   + ": the same for the layer's w4a8 form (4-bit weights, 8-bit activations); "
                   "the ranking (sens) uses the w4a8 metrics")
    return "\n".join(out)
