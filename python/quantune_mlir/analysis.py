"""``quantune analyze``: per-layer sensitivity and a precision plan.

Two methods share the front end (import, labels, weight metrics, and
inference 1, which yields activation ranges and the fp32 outputs):

* ``quantunev2`` runs the calibration set once more (inference 2) through a
  module in which every layer also computes its int8 twin on the same fp32
  input, giving each layer's local activation SQNR/MSE: 2 passes in all.
* ``sweep`` is the per-layer baseline: for each layer, the model runs over
  the calibration set with only that layer fake-quantized, and the layer's
  sensitivity is the degradation of the model output: 1 + n passes.

Both end with quantune-assign-precision, so their plans compare directly.
Between inference 1 and the rest, the lowering's own feasibility checks
(``quantune-lower-mixed-precision{check-only=true}``) mark the layers that
cannot be int8; they, and layers any other stage cannot measure, stay f32
with a reason and are left out of the ranking (docs/analysis.md).
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import onnx

from quantune_mlir.calib_data import CalibrationInputs, ImageSpec, ModelInput, load_calibration_inputs
from quantune_mlir.calibration import RangeObserver
from quantune_mlir.compiler import CompileError, compile_mlir
from quantune_mlir.errors import QuantuneError
from quantune_mlir.fileio import write_text
from quantune_mlir.importer import import_onnx
from quantune_mlir.jsonio import annotations_json
from quantune_mlir.layers import Layer, list_layers, probe_outputs
from quantune_mlir.onnx_model import graph_inputs, load_onnx
from quantune_mlir.opt import run_quantune_opt
from quantune_mlir.plan import LayerPlan, Plan, TierPlan
from quantune_mlir.progress import report, track
from quantune_mlir.output_space import DEFAULT_MODE as DEFAULT_OUTPUT_MODE
from quantune_mlir.output_space import OutputSpace, detect
from quantune_mlir.propagation import (NO_LAYER, PROPAGATION_INPUTS_PER_LAYER, Propagated, ShadowErrors, propagate,
                                       shadow_channels, shadow_feed, shadow_schedule)
from quantune_mlir.range_choice import (
    AUTO_METHODS, CALIB_METHODS, DEFAULT_BIAS_CORRECTION, DEFAULT_CALIB_METHOD, DEFAULT_PROPAGATION, DEFAULT_RATIO,
    LocalErrors, RangeCandidate, choose,
    range_candidates,
)
from quantune_mlir.runtime import ModuleRunner
from quantune_mlir.targets import parse_target

METHODS = ("quantunev2", "sweep")

# What every model goes through after import, for the analysis and for the
# lowering alike, so that a saved plan meets the same IR as a fresh one.
LABEL_PASSES = ("--quantune-label-layers", "--quantune-weight-metrics")
# The same, also measuring 4-bit weights (the w4a8 tier) for --int4.
LABEL_PASSES_I4 = ("--quantune-label-layers", "--quantune-weight-metrics=i4=true")
MAX_SQNR_DB = 200.0  # as quantune-weight-metrics caps exact quantization


@dataclass
class AnalysisOptions:
    """Knobs of an analysis; the defaults are the CLI's."""

    method: str = "quantunev2"
    budget: str = "fp32-fraction=0.1"
    ratio: tuple[float, float, float, float] = DEFAULT_RATIO
    calib_method: str = DEFAULT_CALIB_METHOD
    """A range method for every layer, or ``auto``: each layer keeps the
    candidate of :data:`~quantune_mlir.range_choice.AUTO_METHODS` with the
    lowest local int8 error in inference 2."""
    percentile: float = 99.99
    propagation: bool = DEFAULT_PROPAGATION
    """Rank by each layer's estimated error at the model output (a one-layer
    sweep sampled inside inference 2, :mod:`quantune_mlir.propagation`)
    instead of its local error."""
    bias_correction: bool = DEFAULT_BIAS_CORRECTION
    """Add each int8 layer's mean local error per output channel (inference 2) to its bias."""
    bins: int = 128
    device: str = "local-task"
    keep_fp32: tuple[str, ...] = ()
    """Layers kept f32 whatever their sensitivity: ONNX node names or layer ids."""
    ranges_only: bool = False
    """No ranking: every layer that can be int8 is i8 (``--precision int8``), or
    with ``int4`` every layer that can be w4a8 is i4 (``--precision int4``)."""
    output_error: str = DEFAULT_OUTPUT_MODE
    """Where the sweep and --propagation measure the error at the model
    output: ``auto`` compares a softmax's probabilities as logits (centred
    log-probabilities), ``outputs`` every output as it is
    (:mod:`quantune_mlir.output_space`)."""
    int4: bool = False
    """Three tiers: layers may also take 4-bit weights with 8-bit activations
    (w4a8). Both integer forms are measured in the same two inferences; one
    ranking (by the w4a8 metrics) is cut twice under a weight budget."""


@dataclass
class _Phases:
    seconds: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def __call__(self, name: str, message: str) -> Iterator[None]:
        report(message)
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 4)


def _sqnr_db(signal: float, error: float) -> float:
    """SQNR in dB, capped at MAX_SQNR_DB; callers check that both sums are finite."""
    if error <= 0.0:
        return MAX_SQNR_DB
    if signal <= 0.0:
        return 0.0
    return min(MAX_SQNR_DB, 10.0 * math.log10(signal / error))


def _histogram_bins(options: AnalysisOptions) -> int:
    """Min-max calibration needs no histogram: 0 leaves it out of inference 1."""
    return 0 if options.calib_method == "minmax" else options.bins


def _chooses_in_inference_2(options: AnalysisOptions) -> bool:
    """Whether the calibration itself needs inference 2 (range choice or bias correction)."""
    return options.calib_method == "auto" or options.bias_correction


def _describe_source(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, np.ndarray):
        return f"<numpy array {'x'.join(map(str, source.shape))}>"
    return "<python iterable>"


def model_inputs(model: onnx.ModelProto) -> list[ModelInput]:
    """The model's inputs (static shapes, after :func:`load_onnx`), in order."""
    out = []
    for vi in graph_inputs(model):
        tensor_type = vi.type.tensor_type
        shape = tuple(d.dim_value for d in tensor_type.shape.dim)
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type))
        out.append(ModelInput(vi.name, shape, dtype))
    return out


class _Annotations:
    """Writes quantune-annotate JSON files into a private directory."""

    def __init__(self, directory: str) -> None:
        self._dir = Path(directory)
        self._count = 0

    def pass_flag(self, layers: Sequence[Mapping[str, Any]]) -> str:
        self._count += 1
        path = self._dir / f"annotations{self._count}.json"
        path.write_text(annotations_json(list(layers)))
        return f"--quantune-annotate=file={path}"


def _compile(
    text: str, options: AnalysisOptions, phases: _Phases, name: str, extra_flags: Sequence[str] = ()
) -> ModuleRunner:
    """Compiles an analysis module for the host with the CPU recipe (im2col,
    data tiling, microkernels: at 224x224 the inferences run 2-3x faster
    than with IREE's defaults). The recipe and ``extra_flags`` are
    preferences: if IREE rejects the module with them, it is built without,
    and only the first error is reported if nothing compiles."""
    attempts = list(dict.fromkeys([(True, tuple(extra_flags)), (True, ()), (False, tuple(extra_flags)), (False, ())]))
    with phases(name, "  compiling"):
        first_error: CompileError | None = None
        for recipe, flags in attempts:
            try:
                vmfb = compile_mlir(text, parse_target("host"), extra_flags=flags, recipe=recipe)
                return ModuleRunner(vmfb, options.device)
            except CompileError as exc:
                first_error = first_error or exc
        assert first_error is not None
        raise first_error


def _range_pass(
    runner: ModuleRunner, instrumented: str, calib: CalibrationInputs, layers: list[Layer], what: str
) -> tuple[dict[int, RangeObserver], list[list[np.ndarray]], dict[int, str]]:
    """Inference 1: activation statistics per layer and the fp32 outputs.

    A layer whose input is not finite, or that got no probe, has no range:
    it comes back with a reason to stay f32 instead of an observer.
    """
    meta = probe_outputs(instrumented)
    observers = {layer.id: RangeObserver(name=layer.name) for layer in layers}
    reasons: dict[int, str] = {}
    outputs: list[list[np.ndarray]] = []
    for index, sample in enumerate(track(calib, len(calib), what)):
        results = runner(*sample)
        n_model = len(results) - len(meta)
        outputs.append(results[:n_model])
        stats: dict[int, dict[str, np.ndarray]] = {}
        for (layer_id, stat), value in zip(meta, results[n_model:]):
            stats.setdefault(layer_id, {})[stat] = value
        for layer_id, s in stats.items():
            if layer_id not in observers:  # layers forced to f32 need no range
                continue
            lo, hi = float(s["min"]), float(s["max"])
            if not (math.isfinite(lo) and math.isfinite(hi)):
                reasons[layer_id] = (
                    f"its input is not finite on calibration sample {calib.label(index)} "
                    f"(min {lo:g}, max {hi:g}), so it has no int8 range"
                )
                del observers[layer_id]
                continue
            observers[layer_id].update(lo, hi, s.get("hist"))
    probed = {layer_id for layer_id, _ in meta}
    for layer_id in [lid for lid in observers if lid not in probed]:
        reasons[layer_id] = "no activation range was measured for it"
        del observers[layer_id]
    return observers, outputs, reasons


def _new_reasons(text: str, candidates: Sequence[Layer]) -> dict[int, str]:
    """Reasons a pass gave to layers that were candidates before it ran."""
    ids = {layer.id for layer in candidates}
    return {layer.id: layer.reason for layer in list_layers(text) if layer.id in ids and layer.reason}


def _range_candidates(observers: Mapping[int, RangeObserver], options: AnalysisOptions) -> dict[int, list[RangeCandidate]]:
    """Each layer's candidate input ranges: the configured method's, or for
    ``auto`` the distinct ranges of every method in AUTO_METHODS."""
    methods = AUTO_METHODS if options.calib_method == "auto" else (options.calib_method,)
    return {lid: range_candidates(obs, methods, options.percentile) for lid, obs in observers.items()}


def _qparams_entry(candidate: RangeCandidate) -> dict[str, Any]:
    return {"storage": "si8", "scale": candidate.scale, "zero_point": candidate.zero_point}


I4_SUFFIX = "_i4"
"""quantune-instrument{i4=true} names the w4a8 twin's sums ``sum_err2_i4[.k]`` and ``sum_err_i4[.k]``."""


def _local_error_pass(
    runner: ModuleRunner,
    instrumented: str,
    calib: CalibrationInputs,
    schedule: Sequence[int] | None = None,
    reference: Sequence[Sequence[np.ndarray]] = (),
    bias_correction: bool = False,
    space: OutputSpace = OutputSpace(),
) -> tuple[dict[int, LocalErrors], dict[int, LocalErrors], ShadowErrors | None]:
    """Inference 2: each layer's local error sums, per candidate range, for
    its int8 form and (when instrumented with ``i4=true``) its w4a8 form.

    With a ``schedule`` (the module has a layer selector, ``shadow=true``),
    sample n runs with layer ``schedule[n]`` in int8 (w4a8 when both forms
    are measured) on the model's path, in the form the samples before it
    choose (range and, with ``bias_correction``, correction); its outputs
    against inference 1's fp32 ``reference`` (already in ``space``) give that
    layer's error at the model output (:mod:`quantune_mlir.propagation`).
    """
    meta = probe_outputs(instrumented)
    sums: dict[int, LocalErrors] = {}
    sums_i4: dict[int, LocalErrors] = {}
    has_i4 = any(I4_SUFFIX in stat for _, stat in meta)
    # The fed form's sums: the w4a8 twin's when both forms are measured.
    fed_sums = sums_i4 if has_i4 else sums
    shadow = ShadowErrors() if schedule is not None else None
    channels = shadow_channels(instrumented) if shadow is not None else 0
    for index, sample in enumerate(track(calib, len(calib), "inference 2 (local error)")):
        selected = schedule[index] if schedule is not None else NO_LAYER
        if shadow is not None:
            feed = shadow_feed(fed_sums.get(selected), bias_correction, channels)
            results = runner(*sample, np.array(selected, dtype=np.int32),
                             np.array(feed.index, dtype=np.int32), feed.vector)
        else:
            results = runner(*sample)
        n_model = len(results) - len(meta)
        fed = LocalErrors()  # this sample's sums of the form the selected layer fed
        for (layer_id, stat), value in zip(meta, results[n_model:]):
            if layer_id == selected and (not has_i4 or I4_SUFFIX in stat or stat in ("sum_y2", "count")):
                fed.add(stat.replace(I4_SUFFIX, ""), value)
            if I4_SUFFIX in stat:
                sums_i4.setdefault(layer_id, LocalErrors()).add(stat.replace(I4_SUFFIX, ""), value)
                continue
            sums.setdefault(layer_id, LocalErrors()).add(stat, value)
            if has_i4 and stat in ("sum_y2", "count"):  # shared by both forms
                sums_i4.setdefault(layer_id, LocalErrors()).add(stat, value)
        if shadow is not None:
            shadow.add(selected, space(results[:n_model]), reference[index], feed.local_error(fed))
    return sums, sums_i4, shadow


@dataclass
class _Tuning:
    """What inference 2 decided per layer: metrics, range and bias correction."""

    local: dict[int, dict[str, float]] = field(default_factory=dict)
    """Local act_sqnr and act_mse of the layer's final int8 form."""
    propagated: dict[int, Propagated] = field(default_factory=dict)
    """With --propagation: the estimated effect at the model output."""
    chosen: dict[int, RangeCandidate] = field(default_factory=dict)
    corrections: dict[int, np.ndarray] = field(default_factory=dict)
    degenerate: dict[int, str] = field(default_factory=dict)

    def ranking(self) -> dict[int, dict[str, float]]:
        """The activation metrics the layers are ranked by: at the model
        output (estimated) with --propagation, else local."""
        if not self.propagated:
            return self.local
        return {lid: {"act_sqnr": p.output_sqnr, "act_mse": p.output_mse} for lid, p in self.propagated.items()}

    def entries(self) -> list[dict[str, Any]]:
        """quantune-annotate entries: chosen qparams and corrections."""
        out: list[dict[str, Any]] = []
        for lid in sorted(self.chosen):
            entry: dict[str, Any] = {"id": lid, "act_qparams": _qparams_entry(self.chosen[lid])}
            if lid in self.corrections:
                entry["bias_correction"] = _rounded_f32(self.corrections[lid])
            out.append(entry)
        return out


def _rounded_f32(values: np.ndarray) -> list[float]:
    """``values`` as the f32 numbers the lowering will use, in their shortest exact form."""
    return [float(f"{v:.9g}") for v in values.astype(np.float32).tolist()]


def _tune(
    sums: Mapping[int, LocalErrors],
    candidates: Mapping[int, list[RangeCandidate]],
    options: AnalysisOptions,
    shadow: ShadowErrors | None = None,
) -> _Tuning:
    """Local metrics of each layer, its range (the candidate with the lowest
    local error), with bias correction its mean error per channel, and with
    a ``shadow`` its estimated error at the model output.

    Layers whose sums are not finite (activations beyond the float range)
    get no metrics but a reason to stay f32.
    """
    tuning = _Tuning()
    errors_of: dict[int, float] = {}
    for layer_id, errors in sums.items():
        if not errors.finite():
            tuning.degenerate[layer_id] = (
                "its output energy is not finite in float arithmetic (sum of y^2 = "
                f"{errors.sum_y2:g}), so its int8 error cannot be measured"
            )
            continue
        options_here = candidates.get(layer_id, [])
        choice = choose(errors, max(len(options_here), 1), options.bias_correction)
        signal = errors.sum_y2
        errors_of[layer_id] = choice.error
        tuning.local[layer_id] = {
            "act_sqnr": _sqnr_db(signal, choice.error),
            "act_mse": choice.error / signal if signal > 0 else 0.0,
        }
        if options_here:
            tuning.chosen[layer_id] = options_here[choice.index]
        if choice.correction is not None and np.any(choice.correction != 0):
            tuning.corrections[layer_id] = choice.correction
    if shadow is not None:
        signals = {lid: sums[lid].sum_y2 for lid in errors_of}
        tuning.propagated = propagate(shadow, errors_of, signals, MAX_SQNR_DB)
    return tuning


def _sweep_pass(
    runner: ModuleRunner, calib: CalibrationInputs, candidates: list[Layer], reference: list[list[np.ndarray]],
    space: OutputSpace = OutputSpace(),
) -> dict[int, dict[str, float]]:
    """One pass per layer with only that layer fake-quantized; its outputs
    compared in ``space`` with the ``reference`` (already in it)."""
    signal = sum(float(np.sum(np.square(o, dtype=np.float64))) for outs in reference for o in outs)
    metrics = {}
    for index, layer in enumerate(candidates):
        selector = np.array(layer.id, dtype=np.int32)
        error = 0.0
        for sample, ref in zip(track(calib, len(calib), f"sweep {index + 1}/{len(candidates)} ({layer.name})"), reference):
            outs = space(runner(*sample, selector))
            error += sum(float(np.sum(np.square(o.astype(np.float64) - r))) for o, r in zip(outs, ref))
        if not (math.isfinite(signal) and math.isfinite(error)):
            error = math.inf  # an output that overflows is as bad as it gets
        metrics[layer.id] = {
            "act_sqnr": _sqnr_db(signal, error) if math.isfinite(error) else 0.0,
            "act_mse": error / signal if signal > 0 and math.isfinite(error) else 1.0,
        }
    return metrics


@dataclass
class Analysis:
    """An analysis' plan and the labelled IR it was made on (reused for lowering)."""

    plan: Plan
    labelled: str
    """The imported model after quantune-label-layers and weight metrics."""


def resolve_keep_fp32(keep: Sequence[str], layers: Sequence[Any]) -> dict[int, str]:
    """Layer ids for ``keep`` (ONNX node names or ids) among ``layers``
    (anything with ``id`` and ``name``), each with its reason."""
    by_name = {layer.name: layer.id for layer in layers}
    ids = {str(layer.id): layer.id for layer in layers}
    chosen: dict[int, str] = {}
    unknown = []
    for item in keep:
        layer_id = by_name.get(item, ids.get(item))
        if layer_id is None:
            unknown.append(item)
        else:
            chosen[layer_id] = "kept f32 by request (--keep-fp32)"
    if unknown:
        names = ", ".join(repr(layer.name) for layer in layers[:5])
        raise QuantuneError(
            f"--keep-fp32 names no layer: {', '.join(repr(u) for u in unknown)}; layers are named like {names}"
            f"{', ...' if len(layers) > 5 else ''} (ONNX node names, or ids 0-{len(layers) - 1})"
        )
    return chosen


def check_weight_budget(budget: str, layers: Sequence[Layer], candidates: set[int], int4: bool) -> None:
    """Refuses, before any inference, a weight budget below the smallest
    size the model can take: every candidate in its lowest tier (i4 with
    three tiers, else i8), every other layer fp32. (quantune-assign-precision
    checks it again at the end, when more layers may have become fp32.)"""
    kind, _, value = budget.split(",")[0].partition("=")
    try:
        amount = float(value)
    except ValueError:
        return  # a malformed budget: quantune-assign-precision says what is wrong
    if kind.strip() not in ("weight-bytes", "weight-fraction"):
        return
    lowest = 0.5 if int4 else 1.0
    params = {layer.id: layer.params or 0 for layer in layers}
    smallest = sum((lowest if lid in candidates else 4.0) * p for lid, p in params.items())
    limit = amount * (4.0 * sum(params.values()) if kind.strip() == "weight-fraction" else 1.0)
    if smallest > limit:
        tier = "i4" if int4 else "i8"
        raise QuantuneError(
            f"--budget '{budget}' allows {limit:,.0f} weight bytes, below the smallest possible size, "
            f"{smallest:,.0f} bytes with every quantizable layer in {tier} "
            f"({smallest / (4.0 * sum(params.values())):.3f} of the fp32 weights)"
        )


def _reason_entries(reasons: Mapping[int, str]) -> list[dict[str, Any]]:
    return [{"id": lid, "reason": why} for lid, why in sorted(reasons.items())]


def _prepare(
    model_path: str | os.PathLike[str],
    calib_source: Any,
    input_shapes: Sequence[str] | None,
    image_spec: ImageSpec | None,
    limit: int | None,
) -> tuple[CalibrationInputs, str]:
    """Loads the model and the calibration data, then imports the model."""
    model = load_onnx(model_path, input_shapes)
    calib = load_calibration_inputs(calib_source, model_inputs(model), image_spec=image_spec, limit=limit)
    return calib, import_onnx(model)


def _apply_tuning(
    with_qparams: str,
    tuning: _Tuning,
    ranges_of: Mapping[int, list[RangeCandidate]],
    candidates: Sequence[Layer],
    notes: _Annotations,
) -> str:
    """``with_qparams`` with the chosen ranges and corrections, after the
    lowering's feasibility checks. A layer that the choice makes infeasible
    (a smaller input scale can push a bias past the accumulator) gets its
    first candidate back, without correction, as before the choice."""
    def annotate(t: _Tuning) -> str:
        return run_quantune_opt(with_qparams, [notes.pass_flag(t.entries()), "--quantune-lower-mixed-precision=check-only=true"])

    tuned = annotate(tuning)
    refused = _new_reasons(tuned, candidates)
    reverted = [lid for lid in refused if tuning.chosen.get(lid) != ranges_of[lid][0] or lid in tuning.corrections]
    if reverted:
        for lid in reverted:
            tuning.chosen[lid] = ranges_of[lid][0]
            tuning.corrections.pop(lid, None)
        tuned = annotate(tuning)
    return tuned


def _inference_2(
    with_qparams: str,
    ranges_of: Mapping[int, list[RangeCandidate]],
    candidates: Sequence[Layer],
    calib: CalibrationInputs,
    reference: Sequence[Sequence[np.ndarray]],
    options: AnalysisOptions,
    phases: _Phases,
    notes: _Annotations,
    propagation: bool,
    space: OutputSpace = OutputSpace(),
) -> tuple[_Tuning, _Tuning | None, str]:
    """Inference 2 and what it decides: each layer's local metrics, range
    and bias correction (and with ``propagation`` its error at the model
    output), for its int8 form and, with ``options.int4``, its w4a8 form;
    and the IR annotated with the int8 form's ranges and corrections."""
    what = "local int8 error" + (" and w4a8 error" if options.int4 else "") + (
        ", range choice" if options.calib_method == "auto" else "") + (
        ", bias correction" if options.bias_correction else "") + (", propagation" if propagation else "")
    report(f"inference 2: {what} over {len(calib)} inputs")
    with phases("instrument_2", "  instrumenting"):
        instrumented = run_quantune_opt(
            with_qparams, [f"--quantune-instrument=mode=local-error shadow={str(propagation).lower()} "
                           f"i4={str(options.int4).lower()}"])
    # The local-error sums are f64 (f32 overflows on large outputs); IREE
    # demotes f64 to f32 unless told not to. Some models' own f64 ops do not
    # compile without the demotion: then the sums are f32, and a layer whose
    # sums overflow stays f32 with a reason.
    runner = _compile(instrumented, options, phases, "compile_2", ("--iree-input-demote-f64-to-f32=false",))
    schedule = shadow_schedule([layer.id for layer in candidates], len(calib)) if propagation else None
    if propagation and len(calib) < len(candidates):
        report(f"  note: --propagation samples each layer once; {len(calib)} inputs for "
               f"{len(candidates)} layers leave {len(candidates) - len(calib)} layers with an average gain")
    elif propagation and len(calib) < PROPAGATION_INPUTS_PER_LAYER * len(candidates):
        report(f"  note: --propagation measures each layer's gain on about {len(calib) // len(candidates)} of "
               f"the {len(calib)} inputs; with fewer than {PROPAGATION_INPUTS_PER_LAYER} per layer the ranking "
               f"is noisy ({PROPAGATION_INPUTS_PER_LAYER * len(candidates)} inputs or more rank better)")
    with phases("inference_2", "  running"):
        sums, sums_i4, shadow = _local_error_pass(runner, instrumented, calib, schedule, reference,
                                                  options.bias_correction, space)
        tuning = _tune(sums, ranges_of, options, shadow)
        # The w4a8 form chooses its own range and correction. The gains to
        # the output are measured on w4a8 twins then (instrument i4=true),
        # at the size of error the three-tier ranking compares.
        tuning_i4 = _tune(sums_i4, ranges_of, options, shadow) if options.int4 else None
    tuning.degenerate.update(_new_reasons(instrumented, candidates))
    if tuning_i4 is not None:
        tuning.degenerate.update(tuning_i4.degenerate)
    # The chosen ranges and corrections go through the lowering's checks
    # again; a layer they make infeasible keeps its first candidate,
    # uncorrected.
    with phases("tune", "  annotating chosen ranges, checking int8 feasibility"):
        tuned = _apply_tuning(with_qparams, tuning, ranges_of, candidates, notes)
    return tuning, tuning_i4, tuned


def _i4_entries(tuning: _Tuning, tuning_i4: _Tuning, ids: Sequence[int]) -> list[dict[str, Any]]:
    """quantune-annotate entries giving layers ``ids`` their w4a8 range and
    correction (in place of the int8 form's, which they replace)."""
    entries: list[dict[str, Any]] = []
    for lid in ids:
        entry: dict[str, Any] = {"id": lid}
        if lid in tuning_i4.chosen:
            entry["act_qparams"] = _qparams_entry(tuning_i4.chosen[lid])
        correction = tuning_i4.corrections.get(lid)
        if correction is None and lid in tuning.corrections:  # clears the int8 form's
            correction = np.zeros_like(tuning.corrections[lid])
        if correction is not None:
            entry["bias_correction"] = _rounded_f32(correction)
        entries.append(entry)
    return entries


def _apply_i4_tier(assigned: str, tuning: _Tuning, tuning_i4: _Tuning, candidates: Sequence[Layer],
                   notes: _Annotations) -> str:
    """``assigned`` with the layers it made i4 annotated with their w4a8
    range and correction, after the lowering's feasibility checks at 4 bits.
    A layer those refuse is i8 instead (with its int8 range and correction)."""
    i4_ids = [layer.id for layer in list_layers(assigned) if layer.precision == "i4"]
    if not i4_ids:
        return assigned

    def annotate(as_i4: Sequence[int], as_i8: Sequence[int]) -> str:
        entries = _i4_entries(tuning, tuning_i4, as_i4) + [{"id": lid, "precision": "i8"} for lid in as_i8]
        return run_quantune_opt(assigned, [notes.pass_flag(entries), "--quantune-lower-mixed-precision=check-only=true"])

    final = annotate(i4_ids, [])
    refused = [lid for lid in i4_ids if lid in _new_reasons(final, candidates)]
    if refused:
        final = annotate([lid for lid in i4_ids if lid not in refused], refused)
    return final


def run_analysis(
    model_path: str | os.PathLike[str],
    calib_source: Any,
    options: AnalysisOptions | None = None,
    input_shapes: Sequence[str] | None = None,
    image_spec: ImageSpec | None = None,
    limit: int | None = None,
    emit_mlir: str | os.PathLike[str] | None = None,
) -> Analysis:
    """Analyses a model: its precision plan and labelled IR (see module docs)."""
    options = options or AnalysisOptions()
    if options.method not in METHODS:
        raise QuantuneError(f"unknown method '{options.method}'; expected one of {', '.join(METHODS)}")
    if options.calib_method not in CALIB_METHODS:
        raise QuantuneError(f"unknown calibration method '{options.calib_method}'; expected one of {', '.join(CALIB_METHODS)}")
    phases = _Phases()
    with phases("import", f"importing {model_path}"):
        calib, imported = _prepare(model_path, calib_source, input_shapes, image_spec, limit)
    with phases("weight_metrics", "labelling layers and measuring weights"):
        labelled = run_quantune_opt(imported, LABEL_PASSES_I4 if options.int4 else LABEL_PASSES)
        layers = list_layers(labelled)
    if not layers:
        raise QuantuneError(f"'{model_path}' has no quantizable layers (conv, matmul, gemm)")
    kept = resolve_keep_fp32(options.keep_fp32, layers)
    candidates = [layer for layer in layers if not layer.reason and layer.id not in kept]
    if not options.ranges_only:
        check_weight_budget(options.budget, layers, {layer.id for layer in candidates}, options.int4)

    with tempfile.TemporaryDirectory(prefix="quantune-") as tmp:
        notes = _Annotations(tmp)
        report(f"inference 1: activation ranges over {len(calib)} inputs")
        with phases("instrument_1", "  instrumenting"):
            ranges = run_quantune_opt(labelled, [f"--quantune-instrument=mode=ranges bins={_histogram_bins(options)}"])
        runner = _compile(ranges, options, phases, "compile_1")
        with phases("inference_1", "  running"):
            observers, reference, unmeasured = _range_pass(runner, ranges, calib, candidates, "inference 1 (ranges)")
            ranges_of = _range_candidates(observers, options)
        # The outputs that the sweep and --propagation compare, in the space
        # they are compared in (a softmax's as logits).
        space = detect(reference, options.output_error)
        reference = [space(outputs) for outputs in reference]
        unmeasured.update(_new_reasons(ranges, candidates))
        # Activation qparams (the first candidate's; every candidate's for
        # inference 2 to choose from), the layers kept f32 on request, then
        # the layers the int8 lowering would refuse (they get a reason and
        # stay f32).
        with phases("qparams", "  annotating activation ranges, checking int8 feasibility"):
            entries: list[dict[str, Any]] = []
            for lid, found in sorted(ranges_of.items()):
                entry: dict[str, Any] = {"id": lid, "act_qparams": _qparams_entry(found[0])}
                if len(found) > 1:
                    entry["act_qparams_candidates"] = [_qparams_entry(c) for c in found]
                entries.append(entry)
            with_qparams = run_quantune_opt(labelled, [
                notes.pass_flag(entries + _reason_entries({**unmeasured, **kept})),
                "--quantune-lower-mixed-precision=check-only=true",
            ])
        candidates = [layer for layer in list_layers(with_qparams) if not layer.reason]
        tuning = _Tuning(chosen={lid: found[0] for lid, found in ranges_of.items()})
        tuning_i4: _Tuning | None = None
        meaning: dict[str, str] = {}
        local_error = options.method == "quantunev2" and not options.ranges_only
        # Three tiers need the w4a8 form's local error (or the sweep's own
        # ranges and corrections), measured beside the int8 form's.
        second = local_error or _chooses_in_inference_2(options) or (options.int4 and not options.ranges_only)
        if second:
            tuning, tuning_i4, tuned = _inference_2(
                with_qparams, ranges_of, candidates, calib, reference, options, phases, notes,
                propagation=options.propagation and local_error, space=space,
            )
            if not local_error:  # inference 2 ran for the calibration only
                tuning.local = {}
                if tuning_i4 is not None:
                    tuning_i4.local = {}
        else:
            tuned = with_qparams
        if options.int4 and tuning_i4 is None:  # the same ranges as the int8 form, uncorrected
            tuning_i4 = _Tuning(chosen=dict(tuning.chosen))
        passes = 2 if second else 1
        candidates = [layer for layer in list_layers(tuned) if not layer.reason]
        act_metrics = tuning.ranking()
        if options.ranges_only:
            ratio = options.ratio
        elif options.method == "quantunev2":
            ratio = options.ratio
            meaning = {
                "act_sqnr": "local SQNR (dB) of the layer output with int8 input and weights, on the fp32 input"
                + (", after bias correction" if options.bias_correction else ""),
                "act_mse": "local relative MSE of the layer output, same setting",
            }
            if tuning.propagated:
                meaning.update({
                    "output_sqnr": "estimated SQNR (dB) of the model output with only this layer int8 "
                    "(gain sampled in inference 2 times the local error); the ranking uses it and its MSE; "
                    f"measured on the {space.describe()}",
                    "gain_db": "how much the layer's relative error grows from its output to the model output (dB)",
                })
        else:
            report(f"sweep: {len(candidates)} layers x {len(calib)} inputs"
                   + (", each with 4-bit weights (w4a8)" if options.int4 else ""))
            # With three tiers the sweep measures each layer's w4a8 form,
            # with its own range and correction.
            swept = tuned
            if tuning_i4 is not None:
                swept = run_quantune_opt(tuned, [notes.pass_flag(
                    _i4_entries(tuning, tuning_i4, [layer.id for layer in candidates]))])
            switchable = run_quantune_opt(
                swept, [f"--quantune-fake-quantize=switchable=true bits={4 if options.int4 else 8}"])
            degenerate = _new_reasons(switchable, candidates)
            tuning.degenerate.update(degenerate)
            candidates = [layer for layer in candidates if layer.id not in degenerate]
            runner = _compile(switchable, options, phases, "compile_sweep")
            with phases("sweep", "  running"):
                act_metrics = _sweep_pass(runner, calib, candidates, reference, space)
            # The sweep ranks by model-output degradation only.
            ratio = (0.0, 1.0, 0.0, 1.0)
            passes += len(candidates)
            meaning = {
                "act_sqnr": "SQNR (dB) of the model output with only this layer fake-quantized, "
                f"measured on the {space.describe()}",
                "act_mse": "relative MSE of the model output with only this layer fake-quantized",
            }
            if options.int4:
                meaning = {k: v.replace("fake-quantized", "fake-quantized with 4-bit weights (w4a8)")
                           for k, v in meaning.items()}
        # The ranking's metrics: the int8 form's in quantune.metrics, the
        # w4a8 form's in quantune.metrics_i4 (the sweep measures only the
        # form it ranks by).
        if options.int4 and options.method == "sweep":
            metric_entries = [{"id": lid, "metrics_i4": m} for lid, m in sorted(act_metrics.items())]
        else:
            metric_entries = [{"id": lid, "metrics": m} for lid, m in sorted(act_metrics.items())]
            if tuning_i4 is not None:
                metric_entries += [{"id": lid, "metrics_i4": m} for lid, m in sorted(tuning_i4.ranking().items())]
        tier = "i4" if options.int4 else "i8"
        if options.ranges_only:
            what = "every layer that can be w4a8 is i4" if options.int4 else "every layer that can be int8 is i8"
            with phases("assign", what):
                final = run_quantune_opt(tuned, [notes.pass_flag(
                    metric_entries + [{"id": layer.id, "precision": tier} for layer in candidates]
                )])
        else:
            with phases("assign", f"assigning precisions under budget {options.budget}"):
                final = run_quantune_opt(tuned, [
                    notes.pass_flag(metric_entries + _reason_entries(tuning.degenerate)),
                    f"--quantune-assign-precision=ratio={','.join(repr(float(r)) for r in ratio)} "
                    f"budget={options.budget} int4={str(options.int4).lower()}",
                ])
        if tuning_i4 is not None:
            with phases("tiers", "  giving the i4 layers their w4a8 ranges, checking int8 feasibility at 4 bits"):
                final = _apply_i4_tier(final, tuning, tuning_i4, candidates, notes)
    if emit_mlir is not None:
        write_text(emit_mlir, final)

    meaning.update({
        "weight_sqnr": "SQNR (dB) of the int8 symmetric per-output-channel weights",
        "weight_mse": "relative MSE of the same weights",
        "sensitivity": "combined, min-max normalised score; higher is more sensitive",
    })
    if options.int4:
        meaning["i4"] = ("the layer's w4a8 form (4-bit weights, 8-bit activations): the same metrics, measured "
                         "in the same inferences, and the range and correction an i4 layer uses; the ranking "
                         "(sensitivity) is computed from its metrics")
    plan_layers = []
    for layer in list_layers(final):
        # The plan keeps the local activation metrics (the IR holds the
        # ranking's, which are output-level with --propagation).
        m, q = {**layer.metrics, **tuning.local.get(layer.id, {})}, layer.act_qparams
        chosen = tuning.chosen.get(layer.id)
        if q and chosen is not None and tuning_i4 is not None:
            # The int8 form's range (the IR holds the i4 layers' w4a8 one).
            q = {"scale": chosen.scale, "zero_point": chosen.zero_point}
        prop = tuning.propagated.get(layer.id)
        ranked = layer.metrics_i4 if options.int4 else layer.metrics
        plan_layers.append(LayerPlan(
            id=layer.id, name=layer.name, kind=layer.kind, params=layer.params, macs=layer.macs,
            precision=layer.precision or "f32", sensitivity=ranked.get("sensitivity"),
            weight_sqnr=m.get("weight_sqnr"), act_sqnr=m.get("act_sqnr"),
            weight_mse=m.get("weight_mse"), act_mse=m.get("act_mse"),
            act_scale=q.get("scale"), act_zero_point=int(q.get("zero_point", 0)) if q else None,
            reason=layer.reason,
            act_range=tuning.chosen[layer.id].method if q and layer.id in tuning.chosen else None,
            bias_correction=_rounded_f32(tuning.corrections[layer.id]) if layer.id in tuning.corrections else None,
            output_sqnr=prop.output_sqnr if prop else None,
            gain_db=prop.gain_db if prop else None,
            i4=_i4_tier_plan(layer, tuning_i4) if tuning_i4 is not None else None,
        ))
    plan = Plan(
        model=str(model_path),
        method=f"{'int4' if options.int4 else 'int8'} (ranges only)" if options.ranges_only else options.method,
        budget="none" if options.ranges_only else options.budget,
        ratio=list(ratio),
        calibration={
            "source": _describe_source(calib_source),
            "samples": len(calib),
            "method": options.calib_method,
            **({"percentile": options.percentile} if options.calib_method in ("percentile", "auto") else {}),
            **({"candidates": list(AUTO_METHODS)} if options.calib_method == "auto" else {}),
            "bias_correction": options.bias_correction,
            "histogram_bins": _histogram_bins(options),
        },
        inferences={"passes": passes, "model_runs": passes * len(calib)},
        phases_seconds=phases.seconds,
        layers=plan_layers,
        metric_meaning=meaning,
    )
    return Analysis(plan, labelled)


def _i4_tier_plan(layer: Layer, tuning_i4: _Tuning) -> TierPlan | None:
    """The plan's record of a layer's w4a8 form: its weight metrics, local
    (or, for the sweep, output-level) activation metrics, estimated output
    SQNR, range and correction."""
    chosen = tuning_i4.chosen.get(layer.id)
    m = {**layer.metrics_i4, **tuning_i4.local.get(layer.id, {})}
    if chosen is None and not m:
        return None
    prop = tuning_i4.propagated.get(layer.id)
    correction = tuning_i4.corrections.get(layer.id)
    return TierPlan(
        weight_sqnr=m.get("weight_sqnr"), weight_mse=m.get("weight_mse"),
        act_sqnr=m.get("act_sqnr"), act_mse=m.get("act_mse"),
        output_sqnr=prop.output_sqnr if prop else None,
        act_scale=chosen.scale if chosen else None,
        act_zero_point=chosen.zero_point if chosen else None,
        act_range=chosen.method if chosen else None,
        bias_correction=_rounded_f32(correction) if correction is not None else None,
    )


def analyze(
    model_path: str | os.PathLike[str],
    calib_source: Any,
    options: AnalysisOptions | None = None,
    input_shapes: Sequence[str] | None = None,
    image_spec: ImageSpec | None = None,
    limit: int | None = None,
    emit_mlir: str | os.PathLike[str] | None = None,
) -> Plan:
    """Analyses a model and returns its precision plan (see module docs)."""
    return run_analysis(model_path, calib_source, options, input_shapes, image_spec, limit, emit_mlir).plan
