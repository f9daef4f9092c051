"""``quantune quantize``: ONNX model to a mixed-precision IREE module.

import → label → plan (analysis, or a saved plan.json) → quantune stage
(:mod:`quantune_mlir.lowering`) → iree-compile with the target's fast
recipe. With ``emit_mlir`` every stage's IR is written to a directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from quantune_mlir.analyze import AnalysisOptions, analyze
from quantune_mlir.calib_data import ImageSpec
from quantune_mlir.compiler import compile_mlir
from quantune_mlir.errors import QuantuneError
from quantune_mlir.fileio import write_text
from quantune_mlir.importer import import_onnx
from quantune_mlir.layers import list_layers
from quantune_mlir.lowering import LoweredModule, Precision, lower_plan, plan_annotations
from quantune_mlir.onnx_model import load_onnx
from quantune_mlir.opt import run_quantune_opt
from quantune_mlir.plan import Plan, load_plan
from quantune_mlir.progress import report
from quantune_mlir.targets import parse_target


@dataclass
class QuantizeOptions:
    """How ``quantize_model`` builds the module."""

    target: str = "host"
    fold: bool = True
    """False gives the naive form (a quantize/dequantize pair per int8 layer)."""
    precision: Precision = "plan"
    recipe: bool = True
    """Compile with the target's fast code generation recipe."""
    analysis: AnalysisOptions = field(default_factory=AnalysisOptions)


@dataclass
class QuantizeResult:
    plan: Plan
    lowered: LoweredModule
    module_bytes: int
    weight_bytes_fp32: int
    weight_bytes: int
    labelled: str
    """The model's labelled IR, for re-lowering (e.g. the report's fp32 build)."""


def weight_bytes(plan: Plan, precision: Precision = "plan") -> tuple[int, int]:
    """(fp32 bytes, bytes under ``precision``) of the layers' weights.

    An i8 layer stores one byte per weight, any other four. Biases and
    per-channel scales are not counted.
    """
    chosen = {e["id"]: e["precision"] for e in plan_annotations(plan, precision)}
    fp32 = sum(4 * (layer.params or 0) for layer in plan.layers)
    mixed = sum((1 if chosen[layer.id] == "i8" else 4) * (layer.params or 0) for layer in plan.layers)
    return fp32, mixed


def _check_plan_matches(plan: Plan, labelled: str, model_path: str | os.PathLike[str]) -> None:
    layers = {layer.id: layer.name for layer in list_layers(labelled)}
    planned = {layer.id: layer.name for layer in plan.layers}
    if layers != planned:
        first = min(i for i in set(layers) | set(planned) if layers.get(i) != planned.get(i))
        raise QuantuneError(
            f"the plan does not match '{model_path}': it has {len(planned)} layers, the model {len(layers)}; "
            f"layer {first} is '{planned.get(first, '-')}' in the plan and '{layers.get(first, '-')}' in the model"
        )


def quantize_model(
    model_path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    calib: Any = None,
    plan_path: str | os.PathLike[str] | None = None,
    options: QuantizeOptions | None = None,
    input_shapes: Sequence[str] | None = None,
    image_spec: ImageSpec | None = None,
    limit: int | None = None,
    emit_mlir: str | os.PathLike[str] | None = None,
    save_plan: str | os.PathLike[str] | None = None,
) -> QuantizeResult:
    """Quantizes and compiles a model (see the module docstring)."""
    options = options or QuantizeOptions()
    target = parse_target(options.target)
    if plan_path is None and calib is None and options.precision != "fp32":
        raise QuantuneError("quantize needs calibration data (--calib) or an existing plan (--plan)")
    if plan_path is not None:
        plan = load_plan(plan_path)
    elif calib is not None:
        plan = analyze(model_path, calib, options.analysis, input_shapes, image_spec, limit)
    else:
        raise QuantuneError("an fp32 module still needs the layer list of a plan; pass --calib or --plan")
    if save_plan is not None:
        plan.save(save_plan)

    report(f"lowering {model_path}")
    labelled = run_quantune_opt(import_onnx(load_onnx(model_path, input_shapes)), ["--quantune-label-layers"])
    _check_plan_matches(plan, labelled, model_path)
    lowered = lower_plan(labelled, plan, fold=options.fold, precision=options.precision, keep_stages=emit_mlir is not None)
    if emit_mlir is not None:
        directory = Path(emit_mlir)
        directory.mkdir(parents=True, exist_ok=True)
        write_text(directory / "0-imported.mlir", labelled)
        for index, (stage, text) in enumerate(lowered.stages.items(), start=1):
            write_text(directory / f"{index}-{stage}.mlir", text)

    if target.device == "vulkan" and lowered.int8_layers:
        report("warning: IREE 3.13's SPIR-V code generation can miscompile int8 1x1 convolutions and some int8 "
               "matmuls on Vulkan (seen on lavapipe); check the module against --precision fp32 "
               "(docs/lowering.md, 'Known problems')")
    report(f"compiling for {target.spec}")
    module = compile_mlir(lowered.text, target, output, recipe=options.recipe, source_name=str(model_path))
    fp32_bytes, quantized_bytes = weight_bytes(plan, options.precision)
    return QuantizeResult(plan, lowered, len(module), fp32_bytes, quantized_bytes, labelled)
