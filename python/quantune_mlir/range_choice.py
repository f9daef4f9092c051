"""Per-layer activation ranges chosen by local error, and bias correction.

Inference 1 gives every layer input a histogram; from it each range method
(``minmax``, ``percentile``, ``mse``) proposes a clipping range. With
``--calib-method auto`` every distinct proposal becomes a candidate:
inference 2 computes the layer's int8 twin once per candidate on the same
fp32 input and returns, per candidate, ``sum (y - y')^2`` and, per output
channel, ``sum (y - y')``. :func:`choose` keeps the candidate with the lowest
local error, so the choice costs no extra pass over the data.

Bias correction uses the same sums: the mean error of output channel c,
``mu_c = sum_c (y - y') / n_c``, is added to the int8 layer's bias, which
removes the systematic shift that rounding the weights leaves (largest on
depthwise layers, whose channels sum few products). After correction the
error energy of a channel is ``sum (e - mu_c)^2 = sum e^2 - (sum e)^2 / n_c``,
exactly, so candidates are compared on what the corrected layer will do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from quantune_mlir.calibration import (
    RANGE_METHODS, RangeObserver, minmax_range, mse_range, percentile_range, qparams_for_range,
)

AUTO_METHODS = ("minmax", "percentile", "mse")
"""The range methods ``auto`` chooses from, in order (ties keep the earlier one)."""
CALIB_METHODS = (*RANGE_METHODS, "auto")
"""``--calib-method``: one range method for every layer, or ``auto``."""
# The defaults come from the accuracy study in docs/results.md (issue 11):
# on pretrained networks each of the three raises agreement with fp32.
DEFAULT_CALIB_METHOD = "auto"
DEFAULT_BIAS_CORRECTION = True
DEFAULT_PROPAGATION = True
DEFAULT_RATIO = (0.0, 1.0, 0.0, 1.0)
"""weight_sqnr, act_sqnr, weight_mse, act_mse: the weight terms alone rank
layers unlike the output-level sweep (docs/analysis.md, "The ratio")."""


@dataclass(frozen=True)
class RangeCandidate:
    """One activation range proposed for a layer input and its int8 qparams."""

    method: str
    """The range method, e.g. ``minmax``, ``percentile 99.99`` or ``mse``."""
    lo: float
    hi: float
    scale: float
    zero_point: int


def method_label(method: str, percentile: float) -> str:
    return f"percentile {percentile:g}" if method == "percentile" else method


def range_candidates(obs: RangeObserver, methods: Sequence[str], percentile: float) -> list[RangeCandidate]:
    """The distinct int8 ranges ``methods`` propose for ``obs``, in order.

    Methods whose qparams equal an earlier one's are dropped: they would
    measure the same twin.
    """
    out: list[RangeCandidate] = []
    for method in methods:
        if method == "minmax":
            lo, hi = minmax_range(obs)
        elif method == "percentile":
            lo, hi = percentile_range(obs, percentile)
        elif method == "mse":
            lo, hi = mse_range(obs)
        else:
            raise ValueError(f"unknown range method '{method}'")
        scale, zero_point = qparams_for_range(lo, hi, bits=8)
        if any(c.scale == scale and c.zero_point == zero_point for c in out):
            continue
        out.append(RangeCandidate(method_label(method, percentile), lo, hi, scale, zero_point))
    return out


@dataclass
class LocalErrors:
    """One layer's inference-2 sums over the calibration set."""

    sum_y2: float = 0.0
    count: int = 0
    sum_err2: dict[int, float] = field(default_factory=dict)
    """Per candidate index: sum (y - y')^2."""
    sum_err: dict[int, np.ndarray] = field(default_factory=dict)
    """Per candidate index: sum (y - y') per output channel (flattened)."""

    def add(self, stat: str, value: np.ndarray) -> None:
        """Adds one sample's value of statistic ``stat`` (``sum_y2``,
        ``count``, ``sum_err2[.k]``, ``sum_err[.k]``)."""
        name, _, index = stat.partition(".")
        k = int(index) if index else 0
        if name == "sum_y2":
            self.sum_y2 += float(value)
        elif name == "count":
            self.count += int(value)
        elif name == "sum_err2":
            self.sum_err2[k] = self.sum_err2.get(k, 0.0) + float(value)
        elif name == "sum_err":
            flat = np.asarray(value, dtype=np.float64).reshape(-1)
            self.sum_err[k] = self.sum_err[k] + flat if k in self.sum_err else flat.copy()

    def finite(self) -> bool:
        values = [self.sum_y2, *self.sum_err2.values()]
        return all(math.isfinite(v) for v in values) and all(np.isfinite(s).all() for s in self.sum_err.values())


@dataclass(frozen=True)
class Choice:
    """The candidate kept for a layer and what it will do."""

    index: int
    error: float
    """sum (y - y')^2 of the kept candidate, after bias correction when applied."""
    correction: np.ndarray | None
    """The mean error per output channel, to add to the bias (None: not applied)."""


def corrected_error(sum_err2: float, sum_err: np.ndarray | None, count: int) -> float:
    """sum (e - mu_c)^2 over all elements, with mu_c each channel's mean error."""
    if sum_err is None or sum_err.size == 0 or count <= 0:
        return sum_err2
    per_channel = count / sum_err.size
    return max(sum_err2 - float(np.sum(np.square(sum_err))) / per_channel, 0.0)


def choose(errors: LocalErrors, candidates: int, bias_correction: bool) -> Choice:
    """The candidate (of ``candidates``) with the lowest local error.

    With ``bias_correction`` the errors compared are those after correction
    and the kept candidate's per-channel mean error comes back with it.
    Ties keep the earlier candidate.
    """
    best: Choice | None = None
    for k in range(candidates):
        raw = errors.sum_err2[k]
        sums = errors.sum_err.get(k) if bias_correction else None
        error = corrected_error(raw, sums, errors.count)
        if best is None or error < best.error:
            correction = None
            if sums is not None and errors.count > 0:
                correction = sums / (errors.count / sums.size)
            best = Choice(k, error, correction)
    assert best is not None
    return best
