"""Where the error at the model output is measured.

The sweep and ``--propagation`` compare the model's outputs with one layer
int8 against the fp32 outputs of inference 1. Most classifiers return
logits, and the squared error on them is what decides a top-1 flip on
average. A model that ends in a softmax returns probabilities instead; on
confident inputs those saturate at 0 and 1, so the error there is close to
zero on most inputs and large on the few near-ties, and an error energy
summed over a handful of inputs per layer says little (docs/analysis.md).

With ``auto`` (the default) an output whose every calibration sample is a
probability distribution over its last axis (values in [0, 1], rows summing
to 1) is compared as centred log-probabilities, which are the logits up to
the per-row constant a softmax removes. Other outputs are compared as they
are. ``outputs`` compares every output as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MODES = ("auto", "outputs")
DEFAULT_MODE = "auto"

_SUM_TOLERANCE = 1e-3
_FLOOR = 1e-30
"""Probabilities below this (an underflowed softmax entry) count as this."""


def is_probability(value: np.ndarray) -> bool:
    """Whether ``value`` holds probability distributions over its last axis."""
    if value.ndim < 1 or value.shape[-1] < 2 or not np.issubdtype(value.dtype, np.floating):
        return False
    v = value.astype(np.float64)
    if not np.all(np.isfinite(v)) or v.min() < -1e-6 or v.max() > 1.0 + 1e-6:
        return False
    return bool(np.all(np.abs(v.sum(axis=-1) - 1.0) <= _SUM_TOLERANCE))


def centred_log(p: np.ndarray) -> np.ndarray:
    """Log-probabilities minus their mean over the last axis: a softmax's
    logits minus theirs. Computed in f64, returned in f32 (inference 1 keeps
    one per calibration sample, as it kept the outputs)."""
    log = np.log(np.maximum(p.astype(np.float64), _FLOOR))
    return (log - log.mean(axis=-1, keepdims=True)).astype(np.float32)


@dataclass(frozen=True)
class OutputSpace:
    """Per model output: whether its error is measured on centred log-probabilities."""

    logits: tuple[bool, ...] = ()

    def __call__(self, outputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [centred_log(o) if i < len(self.logits) and self.logits[i] else o for i, o in enumerate(outputs)]

    def describe(self) -> str:
        if not any(self.logits):
            return "model outputs"
        which = [str(i) for i, flag in enumerate(self.logits) if flag]
        return ("log-probabilities of output" + ("s " if len(which) > 1 else " ") + ", ".join(which)
                + " (a softmax: compared as logits)")


def detect(reference: Sequence[Sequence[np.ndarray]], mode: str = DEFAULT_MODE) -> OutputSpace:
    """The space for ``reference`` (inference 1's outputs, one list per
    sample): with ``auto``, logits for each output that is a probability
    distribution on every sample."""
    if mode not in MODES:
        raise ValueError(f"output error mode {mode!r}: expected one of {', '.join(MODES)}")
    if not reference:
        return OutputSpace()
    count = len(reference[0])
    if mode == "outputs":
        return OutputSpace((False,) * count)
    return OutputSpace(tuple(all(is_probability(sample[i]) for sample in reference) for i in range(count)))
