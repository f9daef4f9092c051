"""``quantune quantize``: ONNX model to a mixed-precision IREE module.

import → label → plan (analysis, or a saved plan.json) → quantune stage
(:mod:`quantune_mlir.lowering`) → iree-compile with the target's fast
recipe. With ``emit_mlir`` every stage's IR is written to a directory.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

from quantune_mlir.analysis import LABEL_PASSES, AnalysisOptions, resolve_keep_fp32, run_analysis
from quantune_mlir.calib_data import ImageSpec
from quantune_mlir.compiler import CompileError, compile_mlir
from quantune_mlir.errors import QuantuneError
from quantune_mlir.fileio import check_paths, check_replaceable, path_or_none, write_directory
from quantune_mlir.importer import import_onnx
from quantune_mlir.layers import list_layers
from quantune_mlir.lowering import INTEGER, LoweredModule, Precision, lower_plan, plan_annotations
from quantune_mlir.onnx_model import load_onnx
from quantune_mlir.opt import clean_diagnostic, run_quantune_opt
from quantune_mlir.plan import LayerPlan, Plan, load_plan
from quantune_mlir.progress import report
from quantune_mlir.targets import Target, check_target, parse_target


STAGE_FILE = r"\d+-[\w.-]+\.mlir"
"""The names of the stage files ``emit_mlir`` writes (``0-imported.mlir``, ...)."""


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
    options: QuantizeOptions


BYTES_PER_WEIGHT = {"i8": 1.0, "i4": 0.5, "f32": 4.0}
"""Weight storage per precision: an i4 layer's weights are packed two per byte."""


def weight_bytes(plan: Plan, precision: Precision = "plan") -> tuple[int, int]:
    """(fp32 bytes, bytes under ``precision``) of the layers' weights.

    An i8 layer stores one byte per weight, an i4 layer half a byte, any
    other four. Biases and per-channel scales are not counted.
    """
    chosen = {e["id"]: e["precision"] for e in plan_annotations(plan, precision)}
    fp32 = sum(4 * (layer.params or 0) for layer in plan.layers)
    mixed = sum(BYTES_PER_WEIGHT.get(str(chosen[layer.id]), 4.0) * (layer.params or 0) for layer in plan.layers)
    return fp32, int(round(mixed))


def _check_plan_matches(plan: Plan, labelled: str, model_path: str | os.PathLike[str]) -> None:
    layers = {layer.id: layer.name for layer in list_layers(labelled)}
    planned = {layer.id: layer.name for layer in plan.layers}
    if layers != planned:
        first = min(i for i in set(layers) | set(planned) if layers.get(i) != planned.get(i))
        raise QuantuneError(
            f"the plan does not match '{model_path}': it has {len(planned)} layers, the model {len(layers)}; "
            f"layer {first} is '{planned.get(first, '-')}' in the plan and '{layers.get(first, '-')}' in the model"
        )


def fp32_plan(model_path: str | os.PathLike[str], labelled: str) -> Plan:
    """A plan that keeps every layer f32; it needs no calibration data."""
    layers = [
        LayerPlan(id=layer.id, name=layer.name, kind=layer.kind, params=layer.params, macs=layer.macs,
                  precision="f32", reason=layer.reason)
        for layer in list_layers(labelled)
    ]
    return Plan(model=str(model_path), method="fp32", budget="none", ratio=[0.0] * 4, calibration={},
                inferences={"passes": 0, "model_runs": 0}, phases_seconds={}, layers=layers)


def keep_fp32(plan: Plan, names: Sequence[str]) -> None:
    """Makes the layers named in ``names`` (ONNX node names or ids) f32 in ``plan``."""
    by_id = {layer.id: layer for layer in plan.layers}
    for layer_id, reason in resolve_keep_fp32(names, plan.layers).items():
        by_id[layer_id].precision = "f32"
        by_id[layer_id].reason = reason


def apply_precision(plan: Plan, precision: Precision) -> None:
    """Makes a saved plan say what ``--precision`` builds from it.

    ``--plan P --precision int8`` (or ``int4``, ``fp32``) ignores the plan's
    cut, so the printed table, the saved plan and the report show the
    precision each layer gets in the module, and the method says where the
    ranges came from. ``plan`` (the default) leaves the plan as it is.
    """
    if precision == "plan":
        return
    chosen = {entry["id"]: entry["precision"] for entry in plan_annotations(plan, precision)}
    for layer in plan.layers:
        layer.precision = chosen[layer.id]
    plan.method = f"--precision {precision} on a {plan.method} plan"
    plan.budget = "none"


def record_fallbacks(plan: Plan, fallbacks: dict[int, str]) -> None:
    """Marks layers that could not be int8 as f32 in ``plan`` and says so."""
    by_id = {layer.id: layer for layer in plan.layers}
    for layer_id, reason in sorted(fallbacks.items()):
        layer = by_id[layer_id]
        layer.precision = "f32"
        layer.reason = reason
        report(f"  layer {layer_id} ('{layer.name}') stays f32: {reason}")


_MAX_COMPILE_RETRIES = 8


# The location of the op an error is about: `error: loc("name")` or
# `error: loc(callsite("name" at ...))` (also inside `fused[...]`).
_ERROR_LOCATION = re.compile(r'error: loc\((?:callsite\()?(?:fused\[)?"((?:[^"\\]|\\.)*)"')


def layer_in_error(diagnostics: str, plan: Plan, precision: Precision) -> int | None:
    """The integer layer an iree-compile error is about, or None.

    The op that failed carries the ONNX node name of the layer it was
    lowered from in its location. When an error's location names an integer
    layer, that is the one. When the errors' locations name only other ops
    (an f32 layer, say), making some integer layer f32 would not help: None.
    Only when no error has a location does any integer layer named in the
    diagnostics count.
    """
    integer = {e["id"] for e in plan_annotations(plan, precision) if e["precision"] in INTEGER}
    by_name = {layer.name: layer.id for layer in plan.layers if layer.id in integer and layer.name}
    located = _ERROR_LOCATION.findall(diagnostics)
    for name in located:
        if name in by_name:
            return by_name[name]
    if located:
        return None
    for layer in plan.layers:
        if layer.id in integer and layer.name and f'"{layer.name}"' in diagnostics:
            return layer.id
    return None


def lower_and_compile(
    labelled: str, plan: Plan, options: QuantizeOptions, target: Target, output: str | os.PathLike[str] | None,
    *, keep_stages: bool = False, source_name: str | None = None,
) -> tuple[LoweredModule, bytes]:
    """Lowers and compiles; a layer whose int8 form IREE cannot compile is
    made f32 (with the reason in the plan) and the module built again.

    IREE 3.13 fails on some modules whose integer layers add their start
    values (bias, zero-point correction) after the layer: a microkernel it
    cannot lower, or a dispatch over the stack limit (mixed ResNet-50
    plans, where a residual add joins two such layers). So a layer that an
    error names is first lowered again with its start values in the
    accumulator's init (``start-in-init-layers``), and made f32 only if it
    fails in that form too. An error that names no integer layer makes
    every start value start in the init before anything else is tried
    (docs/lowering.md, "Known problems"); only then are the microkernels
    switched off.
    """
    every_start_in_init = False
    starts_in_init: set[int] = set()
    for _ in range(2 * _MAX_COMPILE_RETRIES + 2):
        lowering_options = list(target.lowering_options)
        if every_start_in_init:
            lowering_options.append("start-in-init=true")
        elif starts_in_init:
            lowering_options.append("start-in-init-layers=" + ",".join(map(str, sorted(starts_in_init))))
        lowered = lower_plan(labelled, plan, fold=options.fold, precision=options.precision, keep_stages=keep_stages,
                             lowering_options=tuple(lowering_options))
        record_fallbacks(plan, lowered.fallbacks)
        report(f"compiling for {target.spec}")
        # Re-lowering can only help a module with int8 layers and no w4a8
        # ones (those already keep every start value in the init).
        may_relower = not every_start_in_init and lowered.int8_layers > 0 and lowered.int4_layers == 0
        try:
            module = compile_mlir(lowered.text, target, output, recipe=options.recipe,
                                  source_name=source_name or "<input>",
                                  extra_flags=lowered.compile_flags, ukernel_fallback=not may_relower)
            return lowered, module
        except CompileError as exc:
            detail = clean_diagnostic(str(exc).split(": ", 1)[-1])
            layer_id = layer_in_error(exc.diagnostics, plan, options.precision)
            if may_relower and layer_id is not None and layer_id not in starts_in_init:
                report(f"warning: {detail}; lowering layer {layer_id} again with its start values in the "
                       "accumulator's init")
                starts_in_init.add(layer_id)
                continue
            if may_relower and layer_id is None:
                report(f"warning: {detail}; lowering again with every start value in the accumulators' init")
                every_start_in_init = True
                continue
            if layer_id is None:
                raise
            # The reason also keeps the layer f32 under --precision int8.
            record_fallbacks(plan, {layer_id: f"IREE cannot compile its int8 form ({detail})"})
    raise QuantuneError(f"iree-compile kept failing after {_MAX_COMPILE_RETRIES} layers were made f32")


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
    check_target(target)
    check_paths(
        {"model": model_path, "--plan": plan_path, "--calib": path_or_none(calib)},
        {"-o": output, "--save-plan": save_plan},
        {"--emit-mlir": emit_mlir},
    )
    if emit_mlir is not None:
        check_replaceable(emit_mlir, "--emit-mlir", STAGE_FILE)
    if plan_path is None and calib is None and options.precision != "fp32":
        raise QuantuneError("quantize needs calibration data (--calib) or an existing plan (--plan)")
    labelled = None
    if plan_path is not None:
        plan = load_plan(plan_path)
        if options.precision == "int4" and not plan.has_int4:
            raise QuantuneError(
                f"--precision int4 needs the w4a8 measurements of each layer, and plan '{plan_path}' has none; "
                "make the plan with --int4"
            )
        keep_fp32(plan, options.analysis.keep_fp32)
        apply_precision(plan, options.precision)
    elif options.precision == "fp32":
        report(f"importing {model_path}")
        labelled = run_quantune_opt(import_onnx(load_onnx(model_path, input_shapes)), LABEL_PASSES)
        plan = fp32_plan(model_path, labelled)
    else:
        analysis_options = options.analysis
        if options.precision in ("int8", "int4"):
            analysis_options = replace(analysis_options, ranges_only=True, int4=options.precision == "int4")
        analysis = run_analysis(model_path, calib, analysis_options, input_shapes, image_spec, limit)
        plan, labelled = analysis.plan, analysis.labelled

    report(f"lowering {model_path}")
    if labelled is None:
        labelled = run_quantune_opt(import_onnx(load_onnx(model_path, input_shapes)), LABEL_PASSES)
    _check_plan_matches(plan, labelled, model_path)
    lowered, module = lower_and_compile(
        labelled, plan, options, target, output, keep_stages=emit_mlir is not None, source_name=str(model_path)
    )
    if save_plan is not None:
        plan.save(save_plan)
    if emit_mlir is not None:
        # Built aside and renamed: concurrent runs never mix their stages.
        stages = {"0-imported.mlir": labelled}
        stages.update({f"{i}-{stage}.mlir": text for i, (stage, text) in enumerate(lowered.stages.items(), start=1)})
        write_directory(emit_mlir, stages, "--emit-mlir", STAGE_FILE)
    fp32_bytes, quantized_bytes = weight_bytes(plan, options.precision)
    return QuantizeResult(plan, lowered, len(module), fp32_bytes, quantized_bytes, labelled, options)
