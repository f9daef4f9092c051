"""Reading the per-layer attributes that quantune passes attach.

Quantune attributes print in one sorted dictionary after each layer op's
regions (generic form), e.g. ``{quantune.kind = "conv2d", quantune.layer = 0
: i64, quantune.metrics = #quantune.metrics<weight_sqnr = 40.1>, ...}``.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

_ATTR_DICT = re.compile(r"\{([^{}]*quantune\.layer = [^{}]*)\}")
_STRING = r'"((?:[^"\\]|\\.)*)"'
_FIELDS = {
    "layer": re.compile(r"quantune\.layer = (-?\d+)"),
    "name": re.compile(r"quantune\.name = " + _STRING),
    "kind": re.compile(r"quantune\.kind = " + _STRING),
    "params": re.compile(r"quantune\.params = (\d+)"),
    "macs": re.compile(r"quantune\.macs = (\d+)"),
    "reason": re.compile(r"quantune\.reason = " + _STRING),
    "precision": re.compile(r"quantune\.precision = #quantune\.precision<([a-z0-9]+)>"),
    "metrics": re.compile(r"quantune\.metrics = #quantune\.metrics<([^>]*)>"),
    "metrics_i4": re.compile(r"quantune\.metrics_i4 = #quantune\.metrics<([^>]*)>"),
    "act_qparams": re.compile(r"quantune\.act_qparams = #quantune\.qparams<([^>]*)>"),
}
# MLIR prints a float as decimal when that round-trips, else as the hex bits
# of its IEEE encoding (0x + 16 digits for f64, 8 for f32).
_KEY_VALUE = re.compile(r"([a-z_]+) = (0x[0-9A-Fa-f]+|-?[0-9][0-9.eE+-]*)")
_PROBE_OUTPUTS = re.compile(r"quantune\.probe_outputs = \[([^\]]*)\]")


@dataclass(frozen=True)
class Layer:
    """One labelled layer as the IR describes it."""

    id: int
    name: str
    kind: str
    params: int | None = None
    macs: int | None = None
    precision: str | None = None
    reason: str | None = None
    metrics: dict[str, float] = field(default_factory=dict, compare=False)
    metrics_i4: dict[str, float] = field(default_factory=dict, compare=False)
    """The metrics of the layer's w4a8 form (4-bit weights), when measured."""
    act_qparams: dict[str, float] = field(default_factory=dict, compare=False)


def parse_mlir_float(text: str) -> float:
    """A float as MLIR prints it: decimal, or ``0x...`` IEEE bits."""
    if text.startswith("0x"):
        digits = text[2:]
        fmt = {16: ">d", 8: ">f"}.get(len(digits))
        if fmt is None:
            raise ValueError(f"unexpected hexadecimal float '{text}'")
        return float(struct.unpack(fmt, bytes.fromhex(digits))[0])
    return float(text)


def _key_values(text: str) -> dict[str, float]:
    return {key: parse_mlir_float(value) for key, value in _KEY_VALUE.findall(text)}


def list_layers(mlir_text: str) -> list[Layer]:
    """The labelled layers of a module, sorted by id."""
    layers = []
    for match in _ATTR_DICT.finditer(mlir_text):
        body = match.group(1)
        found = {key: rx.search(body) for key, rx in _FIELDS.items()}
        if not found["layer"]:
            continue

        def text(key: str) -> str | None:
            m = found[key]
            return m.group(1) if m else None

        layers.append(
            Layer(
                id=int(text("layer")),
                name=text("name") or "",
                kind=text("kind") or "",
                params=int(text("params")) if text("params") else None,
                macs=int(text("macs")) if text("macs") else None,
                precision=text("precision"),
                reason=text("reason"),
                metrics=_key_values(text("metrics") or ""),
                metrics_i4=_key_values(text("metrics_i4") or ""),
                act_qparams=_key_values(text("act_qparams") or ""),
            )
        )
    return sorted(layers, key=lambda layer: layer.id)


def probe_outputs(mlir_text: str) -> list[tuple[int, str]]:
    """The ``(layer, statistic)`` of each extra result of an instrumented
    module, in result order."""
    match = _PROBE_OUTPUTS.search(mlir_text)
    if not match:
        return []
    out = []
    for item in re.findall(r'"(\d+):([a-z_0-9.]+)"', match.group(1)):
        out.append((int(item[0]), item[1]))
    return out
