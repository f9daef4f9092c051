"""A plan for another budget, without running the model again.

The measured metrics of a plan do not depend on the budget: only the final
cut does. ``replan`` re-runs that cut (``quantune-assign-precision``) on the
labelled IR annotated with the plan's activation qparams and metrics, so a
Pareto curve over budgets costs one analysis. ``random_metrics`` gives the
random-ranking control: random scores in place of the activation SQNR,
ranked with ratio 0,1,0,0.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from quantune_mlir.jsonio import annotations_json
from quantune_mlir.layers import list_layers
from quantune_mlir.opt import run_quantune_opt
from quantune_mlir.plan import LayerPlan, Plan, TierPlan

_METRICS = ("weight_sqnr", "act_sqnr", "weight_mse", "act_mse")


def is_weight_budget(budget: str) -> bool:
    """Whether ``budget`` is counted in weight bytes (the only kind three tiers take)."""
    return budget.partition("=")[0].strip() in ("weight-bytes", "weight-fraction")


def replan(
    plan: Plan,
    labelled: str,
    budget: str,
    *,
    ratio: Sequence[float] | None = None,
    act_sqnr: Mapping[int, float] | None = None,
    method: str | None = None,
    int4: bool | None = None,
) -> Plan:
    """``plan`` with precisions re-assigned under ``budget``.

    ``labelled`` is the model's IR after ``quantune-label-layers``.
    ``act_sqnr`` replaces the activation SQNR the ranking reads for the
    given layers (used by the random control and to cut by the sweep's
    ranking). ``ratio`` defaults to the plan's own. ``int4`` cuts three
    tiers (f32, i8, i4); by default whenever the plan measured the w4a8
    form and ``budget`` is a weight budget.
    """
    ratio = list(plan.ratio if ratio is None else ratio)
    if int4 is None:
        int4 = plan.has_int4 and is_weight_budget(budget)
    entries = []
    for layer in plan.layers:
        if layer.act_scale is None or layer.act_zero_point is None:
            continue
        metrics = ranking_metrics(layer)
        metrics_i4 = ranking_metrics(layer.i4) if layer.i4 is not None else {}
        if act_sqnr is not None and layer.id in act_sqnr:
            (metrics_i4 if int4 else metrics)["act_sqnr"] = float(act_sqnr[layer.id])
        entry: dict[str, object] = {
            "id": layer.id,
            "act_qparams": {"storage": "si8", "scale": layer.act_scale, "zero_point": layer.act_zero_point},
        }
        if metrics:
            entry["metrics"] = metrics
        if metrics_i4:
            entry["metrics_i4"] = metrics_i4
        entries.append(entry)
    with tempfile.TemporaryDirectory(prefix="quantune-replan-") as tmp:
        notes = Path(tmp) / "metrics.json"
        notes.write_text(annotations_json(entries))
        assigned = run_quantune_opt(labelled, [
            f"--quantune-weight-metrics=i4={str(int4).lower()}",
            f"--quantune-annotate=file={notes}",
            f"--quantune-assign-precision=ratio={','.join(repr(float(r)) for r in ratio)} budget={budget} "
            f"int4={str(int4).lower()}",
        ])
    chosen = {layer.id: layer for layer in list_layers(assigned)}
    layers = [
        dataclasses.replace(
            layer,
            precision=chosen[layer.id].precision or "f32",
            sensitivity=(chosen[layer.id].metrics_i4 if int4 else chosen[layer.id].metrics).get(
                "sensitivity", layer.sensitivity),
        )
        for layer in plan.layers
    ]
    return dataclasses.replace(plan, budget=budget, ratio=ratio, layers=layers, method=method or plan.method)


def ranking_metrics(layer: LayerPlan | TierPlan) -> dict[str, float]:
    """The activation metrics a layer (or its w4a8 tier) was ranked by: its
    estimated output SQNR and MSE when the plan was made with
    --propagation, else local."""
    if layer.output_sqnr is not None:
        return {"act_sqnr": layer.output_sqnr, "act_mse": 10.0 ** (-layer.output_sqnr / 10.0)}
    return {k: getattr(layer, k) for k in ("act_sqnr", "act_mse") if getattr(layer, k) is not None}


def random_metrics(plan: Plan, seed: int) -> dict[int, float]:
    """Seeded random scores for every layer, for the random-ranking control."""
    rng = np.random.default_rng(seed)
    return {layer.id: float(rng.uniform(0.0, 60.0)) for layer in plan.layers}


def random_plan(plan: Plan, labelled: str, budget: str, seed: int = 0) -> Plan:
    """The random-ranking control at ``budget``."""
    return replan(plan, labelled, budget, ratio=(0.0, 1.0, 0.0, 0.0), act_sqnr=random_metrics(plan, seed), method="random")
