"""How well a sensitivity ranking agrees with the per-layer sweep's.

The sweep measures what each layer's int8 error does to the model output,
one layer at a time; it is the reference QuantuneV2's metrics try to
predict at a fraction of the cost. For each metric alone and for several
ratios of the four QuantuneV2 terms, the sensitivity comes from
``quantune-assign-precision`` itself (through :func:`replan`), and its
Spearman rank correlation with the sweep's output-level sensitivity is
reported. With a plan made with ``--propagation`` the activation terms are
the estimated output-level ones; with a local plan they are local.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from quantune_mlir.plan import Plan
from quantune_mlir.replan import replan

# (label, ratio of weight_sqnr, act_sqnr, weight_mse, act_mse)
RATIOS: tuple[tuple[str, tuple[float, float, float, float]], ...] = (
    ("weight SQNR alone", (1.0, 0.0, 0.0, 0.0)),
    ("activation SQNR alone", (0.0, 1.0, 0.0, 0.0)),
    ("weight MSE alone", (0.0, 0.0, 1.0, 0.0)),
    ("activation MSE alone", (0.0, 0.0, 0.0, 1.0)),
    ("1,1,1,1", (1.0, 1.0, 1.0, 1.0)),
    ("0,1,0,1", (0.0, 1.0, 0.0, 1.0)),
    ("1,2,1,2", (1.0, 2.0, 1.0, 2.0)),
    ("1,4,1,4", (1.0, 4.0, 1.0, 4.0)),
)


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation, ties given their mean rank."""
    def ranks(values: Sequence[float]) -> np.ndarray:
        x = np.asarray(values, dtype=np.float64)
        order = np.argsort(x, kind="stable")
        r = np.empty(len(x))
        r[order] = np.arange(len(x), dtype=np.float64)
        for value in np.unique(x):
            tied = x == value
            r[tied] = r[tied].mean()
        return r

    ra, rb = ranks(a), ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def sweep_sensitivity(sweep: Plan) -> dict[int, float]:
    """The sweep's ranking score per layer: lower output SQNR is more sensitive."""
    return {layer.id: -layer.act_sqnr for layer in sweep.layers if layer.act_sqnr is not None}


def study(plans: Mapping[str, Plan], sweep: Plan, labelled: str) -> dict[str, dict[str, float]]:
    """Spearman with the sweep, for each plan (``{"local": ..., "propagation": ...}``) and ratio."""
    reference = sweep_sensitivity(sweep)
    out: dict[str, dict[str, float]] = {}
    for name, plan in plans.items():
        row = {}
        for label, ratio in RATIOS:
            ranked = replan(plan, labelled, "fp32-count=0", ratio=ratio)
            scores = {layer.id: layer.sensitivity for layer in ranked.layers if layer.sensitivity is not None}
            ids = sorted(set(scores) & set(reference))
            row[label] = spearman([scores[i] for i in ids], [reference[i] for i in ids])
        out[name] = row
    return out
