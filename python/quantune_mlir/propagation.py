"""How much a layer's local int8 error grows on its way to the model output.

Local metrics measure each layer's error where it arises; they cannot see
that an error made early, or in a channel the next layers amplify, weighs
more at the output. The per-layer sweep sees it, at one pass per layer.

``--propagation`` measures it inside inference 2 at no extra pass: the
inference-2 module gets a layer selector (``quantune-instrument
shadow=true``), and on each calibration sample one layer, in a seeded
round-robin order, feeds its int8 twin (its w4a8 twin when the analysis
measures three tiers) to the rest of the network. That
sample's model outputs, against inference 1's fp32 outputs, give the output
error this one layer causes, next to the local error its probes measure on
the same sample. Per layer, over the samples that selected it,

    gain_l = sum output error / sum local error            (error energy)

and the output error the layer's final int8 form (chosen range, bias
correction) would cause over the whole set is estimated as
``gain_l * local error``.

The fed twin is the layer's final form as far as the samples before it
can tell (:func:`shadow_feed`): the candidate range with the lowest local
error so far, plus (with bias correction) the mean error per channel so
far, passed to the module as runtime arguments. How an error grows depends
on its make-up: a range's clipping error or a mean shift grows differently
from rounding noise. Feeding the first candidate, uncorrected, measured the
gain of a form the layer would not have, and misjudged depthwise layers,
whose final form removes most of that error, by up to 10 dB
(docs/analysis.md). Each layer needs at least one sample, so the
calibration set should hold at least as many samples as there are layers;
a layer left without one gets the geometric mean of the measured gains.

The estimate assumes that errors propagate linearly, as the sweep's
one-layer-at-a-time measurement also does; the local error of layers
downstream of the selected one is measured on an input that carries that
one layer's int8 error, which is small next to their own.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from quantune_mlir.range_choice import LocalErrors, choose

NO_LAYER = -1

PROPAGATION_INPUTS_PER_LAYER = 16
"""Calibration inputs per layer below which ``analyze`` says the gains are
noisy. On pretrained PP-LCNet (33 layers), 256 inputs (8 per layer) put
its estimates 2.3 dB from the sweep's and kept a different second layer
fp32 at 5 %; 512 (16 per layer) gave 1.5 dB and the sweep's choice at
5 % (``bench/calib_count_study.py``, docs/analysis.md)."""


def shadow_schedule(layer_ids: Sequence[int], samples: int, seed: int = 0) -> list[int]:
    """The layer each calibration sample selects: a seeded permutation of
    ``layer_ids``, repeated (``NO_LAYER`` for every sample when there is none)."""
    if not layer_ids:
        return [NO_LAYER] * samples
    order = list(np.random.default_rng(seed).permutation(np.asarray(sorted(layer_ids), dtype=np.int64)))
    return [int(order[n % len(order)]) for n in range(samples)]


_SHADOW_CHANNELS = re.compile(r"quantune\.shadow_channels = (\d+)")


def shadow_channels(mlir_text: str) -> int:
    """The length of the per-channel correction argument of a module
    instrumented with ``shadow=true`` (0 when it has none)."""
    match = _SHADOW_CHANNELS.search(mlir_text)
    return int(match.group(1)) if match else 0


@dataclass(frozen=True)
class ShadowFeed:
    """The form a selected layer feeds to the network on one sample: its
    candidate range ``index`` and the ``correction`` added per channel."""

    index: int
    correction: np.ndarray | None
    """Per output channel, as the module adds it (f32 values, in f64)."""
    vector: np.ndarray
    """The module's correction argument: ``correction`` padded with zeros (f32)."""

    def local_error(self, sample: LocalErrors) -> float:
        """The fed form's local error on one sample, sum (e - c)^2 with e
        the twin's error y - y' and c the channel's correction, from the
        sample's sums of e^2 and of e per channel."""
        raw = sample.sum_err2.get(self.index, 0.0)
        sums = sample.sum_err.get(self.index)
        if self.correction is None or sums is None or sums.size != self.correction.size or sample.count <= 0:
            return raw
        per_channel = sample.count / sums.size
        c = self.correction
        return max(raw - 2.0 * float(np.dot(c, sums)) + per_channel * float(np.dot(c, c)), 0.0)


def shadow_feed(running: LocalErrors | None, bias_correction: bool, channels: int) -> ShadowFeed:
    """What a selected layer should feed, from its sums over the samples
    so far (``running``; None or empty before its first sample): the
    candidate :func:`choose` keeps and, with ``bias_correction``, its
    correction, written into a ``channels``-long argument."""
    vector = np.zeros(max(channels, 1), dtype=np.float32)
    if running is None or running.count <= 0 or not running.sum_err2:
        return ShadowFeed(0, None, vector)
    choice = choose(running, len(running.sum_err2), bias_correction)
    correction = choice.correction
    if correction is None or correction.size > vector.size or not np.all(np.isfinite(correction)):
        return ShadowFeed(choice.index, None, vector)
    vector[: correction.size] = correction
    return ShadowFeed(choice.index, vector[: correction.size].astype(np.float64), vector)


@dataclass
class ShadowErrors:
    """Output and local error energies of the samples that selected each layer."""

    output_error: dict[int, float] = field(default_factory=dict)
    local_error: dict[int, float] = field(default_factory=dict)
    samples: dict[int, int] = field(default_factory=dict)
    output_energy: float = 0.0
    """sum of the fp32 model outputs squared, over every sample."""

    def add(self, layer: int, outputs: Sequence[np.ndarray], reference: Sequence[np.ndarray], local: float) -> None:
        """One sample: ``outputs`` with ``layer`` switched to int8, the fp32 ``reference``."""
        self.output_energy += sum(float(np.sum(np.square(r, dtype=np.float64))) for r in reference)
        if layer == NO_LAYER:
            return
        error = sum(float(np.sum(np.square(o.astype(np.float64) - r))) for o, r in zip(outputs, reference))
        self.output_error[layer] = self.output_error.get(layer, 0.0) + error
        self.local_error[layer] = self.local_error.get(layer, 0.0) + local
        self.samples[layer] = self.samples.get(layer, 0) + 1

    def gains(self) -> dict[int, float]:
        """Error energy gain from each sampled layer's output to the model output."""
        return {
            lid: self.output_error[lid] / self.local_error[lid]
            for lid in self.samples
            if self.local_error[lid] > 0 and math.isfinite(self.output_error[lid])
        }


@dataclass(frozen=True)
class Propagated:
    """One layer's estimated effect at the model output."""

    output_sqnr: float
    """SQNR (dB) of the model output with only this layer in int8 (estimated)."""
    output_mse: float
    """The same, as output error energy over output energy."""
    gain_db: float | None
    """How much the layer's relative error grows to the output, in dB (None: not sampled)."""
    samples: int


def propagate(
    shadow: ShadowErrors,
    local_error: Mapping[int, float],
    local_signal: Mapping[int, float],
    max_sqnr_db: float,
) -> dict[int, Propagated]:
    """Each layer's estimated output error: its measured gain (or, when it was
    not sampled, the geometric mean gain) times its final local error."""
    gains = shadow.gains()
    positive = [g for g in gains.values() if g > 0]
    fallback = math.exp(sum(math.log(g) for g in positive) / len(positive)) if positive else 1.0
    out: dict[int, Propagated] = {}
    for lid, error in local_error.items():
        gain = gains.get(lid, fallback)
        estimate = gain * error
        mse = estimate / shadow.output_energy if shadow.output_energy > 0 else 0.0
        sqnr = max_sqnr_db if mse <= 0 else min(max_sqnr_db, -10.0 * math.log10(mse))
        gain_db = None
        signal = local_signal.get(lid, 0.0)
        if lid in gains and gains[lid] > 0 and signal > 0 and shadow.output_energy > 0:
            gain_db = 10.0 * math.log10(gains[lid] * signal / shadow.output_energy)
        out[lid] = Propagated(sqnr, mse, gain_db, shadow.samples.get(lid, 0))
    return out
