"""From a precision plan to the mixed-precision module IREE compiles.

The quantune stage is a fixed sequence of quantune-opt passes over the
labelled linalg IR (``quantune import`` output after ``quantune-label-layers``):

1. ``annotate``  – the plan's precisions and activation qparams;
2. ``lower``     – ``quantune-lower-mixed-precision``: i8 and i4 (w4a8)
   layers become integer linalg with a quantize/dequantize pair around each
   (an i4 layer's weights are stored as 4-bit constants);
3. ``fold``      – ``quantune-fold-requantize`` (skipped for the naive form):
   pairs between int8 layers become fused requantization epilogues;
4. ``expand``    – ``quantune-expand-quant-ops``: what is left of the
   quantune ops becomes linalg.generic;
5. ``final``     – ``quantune-strip``; the target's own passes run later,
   in :func:`quantune_mlir.compiler.compile_mlir`.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Sequence

from quantune_mlir.errors import QuantuneError
from quantune_mlir.jsonio import annotations_json
from quantune_mlir.layers import list_layers
from quantune_mlir.opt import run_quantune_opt
from quantune_mlir.plan import LayerPlan, Plan, TierPlan

Precision = Literal["plan", "int8", "int4", "fp32"]
PRECISIONS: tuple[str, ...] = ("plan", "int8", "int4", "fp32")
INTEGER = ("i8", "i4")
"""The integer precisions: 8-bit activations with 8- or 4-bit weights."""
KEEP_PACKED = ("--iree-opt-const-eval=false",)
"""iree-compile flags of a module with 4-bit weights: IREE hoists their
unpacking into an initializer; evaluated at compile time it would store the
unpacked bytes, so it runs when the module is loaded instead."""
STAGES: tuple[str, ...] = ("annotated", "lowered", "folded", "expanded", "final")


@dataclass
class LoweredModule:
    """The result of the quantune stage."""

    text: str
    """Upstream-only linalg IR, ready for iree-compile."""
    int8_layers: int
    folded_pairs: int
    fallbacks: dict[int, str] = field(default_factory=dict)
    """Layers planned i8 or i4 that the lowering kept f32, with the reason."""
    int4_layers: int = 0
    """Layers with 4-bit weights (w4a8); ``int8_layers`` counts the 8-bit ones."""

    @property
    def compile_flags(self) -> tuple[str, ...]:
        """The iree-compile flags this module needs (:data:`KEEP_PACKED` when it has 4-bit weights)."""
        return KEEP_PACKED if self.int4_layers else ()
    stages: dict[str, str] = field(default_factory=dict)
    """IR after each stage (only when ``keep_stages`` was set)."""


def plan_annotations(plan: Plan, precision: Precision = "plan") -> list[dict[str, object]]:
    """quantune-annotate entries for ``plan``.

    ``precision`` overrides the plan's choice: ``int8`` makes every layer
    that has activation qparams i8, ``int4`` every layer that has w4a8
    qparams i4, ``fp32`` makes every layer f32. An i4 layer gets its w4a8
    tier's activation qparams and bias correction.
    """
    entries: list[dict[str, object]] = []
    for layer in plan.layers:
        def quantized(tier: LayerPlan | TierPlan | None) -> bool:
            return tier is not None and tier.act_scale is not None and tier.act_zero_point is not None

        if precision == "fp32":
            chosen = "f32"
        elif precision == "int8":
            chosen = "i8" if quantized(layer) and layer.reason is None else "f32"
        elif precision == "int4":
            chosen = "i4" if quantized(layer.i4) and layer.reason is None else "f32"
        else:
            chosen = layer.precision
        tier = layer.tier(chosen)
        if chosen in INTEGER and not quantized(tier if chosen == "i8" else layer.i4):
            raise QuantuneError(f"plan layer {layer.id} ('{layer.name}') is {chosen} but has no activation scale")
        entry: dict[str, object] = {"id": layer.id}
        if quantized(tier):
            entry["act_qparams"] = {"storage": "si8", "scale": tier.act_scale, "zero_point": tier.act_zero_point}
        if tier.bias_correction:
            entry["bias_correction"] = tier.bias_correction
        entry["precision"] = chosen
        entries.append(entry)
    return entries


def _folded_pairs(text: str) -> int:
    return sum(int(n) for n in re.findall(r"quantune\.folded_pairs = (\d+)", text))


def _fallbacks(lowered: str, entries: list[dict[str, object]]) -> dict[int, str]:
    """The layers planned i8 or i4 that quantune-lower-mixed-precision kept f32."""
    planned = {e["id"] for e in entries if e["precision"] in INTEGER}
    return {layer.id: layer.reason for layer in list_layers(lowered) if layer.id in planned and layer.reason}


def lower_plan(
    labelled: str,
    plan: Plan,
    *,
    fold: bool = True,
    precision: Precision = "plan",
    keep_stages: bool = False,
    lowering_options: Sequence[str] = (),
) -> LoweredModule:
    """Runs the quantune stage on labelled IR for ``plan``.

    ``fold=False`` gives the naive form: a quantize/dequantize pair around
    every int8 layer. ``keep_stages`` keeps the IR after every stage (one
    quantune-opt run per stage instead of one in total).
    ``lowering_options`` are options of quantune-lower-mixed-precision, such
    as a target's :attr:`~quantune_mlir.targets.Target.lowering_options`.
    """
    entries = plan_annotations(plan, precision)
    with tempfile.TemporaryDirectory(prefix="quantune-lower-") as tmp:
        annotations = Path(tmp) / "plan-annotations.json"
        annotations.write_text(annotations_json(entries))
        passes: list[tuple[str, tuple[str, ...]]] = [
            ("annotated", (f"--quantune-annotate=file={annotations}",)),
            # A layer the pass cannot make int8 stays f32 with a reason.
            ("lowered", ("--quantune-lower-mixed-precision"
                         + (f"={' '.join(lowering_options)}" if lowering_options else ""),)),
        ]
        if fold:
            passes.append(("folded", ("--quantune-fold-requantize",)))
        passes.append(("expanded", ("--quantune-expand-quant-ops",)))
        passes.append(("final", ("--quantune-strip",)))
        stages: dict[str, str] = {}
        if keep_stages:
            text = labelled
            folded = 0
            for name, flags in passes:
                text = run_quantune_opt(text, flags)
                if name == "folded":
                    folded = _folded_pairs(text)
                stages[name] = text
            fallbacks = _fallbacks(stages["lowered"], entries)
        else:
            # Everything but the last step in one run, so the fold count can
            # be read before quantune-strip removes it.
            all_flags = [flag for _, flags in passes[:-1] for flag in flags]
            before_strip = run_quantune_opt(labelled, all_flags)
            folded = _folded_pairs(before_strip)
            fallbacks = _fallbacks(before_strip, entries)
            text = run_quantune_opt(before_strip, passes[-1][1])
    def count(tier: str) -> int:
        return sum(1 for e in entries if e["precision"] == tier and e["id"] not in fallbacks)

    return LoweredModule(
        text=text, int8_layers=count("i8"), folded_pairs=folded, fallbacks=fallbacks, stages=stages,
        int4_layers=count("i4"),
    )
