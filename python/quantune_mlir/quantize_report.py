"""Measurements behind ``quantune quantize --report``.

Builds the fp32 module of the same model next to the quantized one, then
measures both: layer weight bytes and module size always; latency
(iree-benchmark-module) when the target runs here; accuracy when evaluation
data is given (top-1/top-5 with labels, else top-1 agreement with the fp32
module). With ``budgets`` the plan is re-cut at each fraction of fp32 layers
(:mod:`quantune_mlir.replan`, no new analysis) and every point is measured
the same way, which gives the accuracy-against-size Pareto plot.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

from quantune_mlir.compiler import compile_mlir
from quantune_mlir.evaluate import (EvaluationResult, _numpy_dtype, evaluate_module, load_evaluation_data,
                                    module_inputs, module_latency)
from quantune_mlir.lowering import lower_plan
from quantune_mlir.plan import Plan
from quantune_mlir.progress import report
from quantune_mlir.pipeline import QuantizeOptions, QuantizeResult, lower_and_compile, weight_bytes
from quantune_mlir.replan import replan
from quantune_mlir.report import Accuracy, LatencyMs, ParetoPoint, ReportData, Summary
from quantune_mlir.runtime import ModuleRunner
from quantune_mlir.targets import Target, parse_target


class _Measurer:
    def __init__(self, target: Target, data: Any, reference: Path | None) -> None:
        self.target, self.data, self.reference = target, data, reference

    def accuracy(self, vmfb: Path, reference: Path | None) -> Accuracy | None:
        if self.data is None or self.target.device is None:
            return None
        has_labels = self.data.labels is not None
        if not has_labels and reference is None:
            return Accuracy(agreement=1.0, mean_kl=0.0)  # the fp32 module itself
        # Agreement with the fp32 module is measured whenever there is one,
        # labels or not: it shows what quantization changed.
        result: EvaluationResult = evaluate_module(vmfb, self.data, reference=reference,
                                                   device=self.target.device, progress=False)
        return Accuracy(top1=result.top1_accuracy, top5=result.top5_accuracy, agreement=result.top1_agreement,
                        mean_kl=result.mean_kl)

    def latency(self, vmfb: Path) -> LatencyMs | None:
        if self.target.device is None:
            return None
        _, lat = module_latency(vmfb, self.target.device, repetitions=5)
        return LatencyMs(median=lat.median_ms, min=lat.min_ms, max=lat.max_ms)

    def summary(self, vmfb: Path, plan: Plan, precision: str, reference: Path | None) -> Summary:
        return Summary(accuracy=self.accuracy(vmfb, reference), latency_ms=self.latency(vmfb),
                       weight_bytes=weight_bytes(plan, precision)[1], module_bytes=vmfb.stat().st_size)


def build_report_data(
    result: QuantizeResult,
    model_path: str | os.PathLike[str],
    module_path: str | os.PathLike[str],
    options: QuantizeOptions,
    eval_data: Any = None,
    eval_labels: Any = None,
    budgets: Sequence[float] = (),
) -> ReportData:
    """Measures fp32 against the quantized module (see the module docstring)."""
    target = parse_target(options.target)
    data = None
    if eval_data is not None and target.device is not None:
        shape, elt = module_inputs(ModuleRunner(module_path, target.device))[0]
        data = load_evaluation_data(eval_data, shape, _numpy_dtype(elt), labels=eval_labels)
    with tempfile.TemporaryDirectory(prefix="quantune-report-") as tmp:
        fp32_path = Path(tmp) / "fp32.vmfb"
        report("report: compiling the fp32 module for comparison")
        fp32_text = lower_plan(result.labelled, result.plan, precision="fp32",
                               lowering_options=target.lowering_options).text
        compile_mlir(fp32_text, target, fp32_path, recipe=options.recipe)
        measurer = _Measurer(target, data, fp32_path)
        report("report: measuring fp32 and quantized modules")
        fp32 = measurer.summary(fp32_path, result.plan, "fp32", None)
        quantized = measurer.summary(Path(module_path), result.plan, options.precision, fp32_path)
        points = []
        # A three-tier plan is re-cut by weight bytes (fractions of fp32's),
        # a two-tier one by its share of fp32 layers.
        kind = "weight-fraction" if result.plan.has_int4 else "fp32-fraction"
        for budget in budgets:
            spec = f"{kind}={budget:g}"
            report(f"report: budget {spec}")
            plan = replan(result.plan, result.labelled, spec)
            path = Path(tmp) / f"budget-{budget:g}.vmfb"
            lowered, _ = lower_and_compile(result.labelled, plan, replace(options, precision="plan"), target, path)
            summary = measurer.summary(path, plan, "plan", fp32_path)
            acc = summary.accuracy
            points.append(ParetoPoint(
                label=spec, budget=spec,
                fp32_layers=len(plan.layers) - lowered.int8_layers - lowered.int4_layers,
                method=plan.method, weight_bytes=summary.weight_bytes,
                latency_ms=summary.latency_ms.median if summary.latency_ms else None,
                accuracy=(acc.top1 if acc and acc.top1 is not None else acc.agreement if acc else None),
            ))
    notes = []
    if data is not None and data.labels is None:
        notes.append("No labels were given: accuracy is top-1 agreement with the fp32 module.")
    if target.device is None:
        notes.append(f"Target {target.spec} cannot run here: no latency or accuracy.")
    return ReportData(plan=result.plan, model=str(model_path), target=target.spec, fp32=fp32, quantized=quantized,
                      folded_pairs=result.lowered.folded_pairs, int8_layers=result.lowered.int8_layers,
                      pareto=points, notes=notes)
