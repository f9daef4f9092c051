"""Activation ranges and int8 qparams from per-sample calibration statistics.

The in-graph probe reports, for every calibration sample and every layer
input, the tensor's min ``lo``, max ``hi`` and a histogram of B bins spanning
[lo, hi] of that sample (bin i covers [lo + i*w, lo + (i+1)*w), the last bin
includes hi; when lo == hi the counts are a point mass at lo).

``RangeObserver`` collects these and merges them into one histogram of
``bins`` bins over [global min, global max], spreading each sample bin's
count uniformly over its width. The range methods pick a clipping range from
it: ``minmax`` (exact global extremes), ``percentile`` (quantiles of the
merged histogram) and ``mse`` (least expected squared quantisation error).
``qparams_for_range`` turns a range into a signed asymmetric scale and zero
point, always with 0 exactly representable.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from quantune_mlir.errors import QuantuneError

# Scales are stored as f32; below this a range is treated as a single point.
_MIN_SCALE = float(np.finfo(np.float32).tiny)
_CHUNK = 256  # samples merged at a time (bounds the temporary arrays)


def _nonfinite(value: float) -> str:
    return "NaN" if math.isnan(value) else ("Inf" if value > 0 else "-Inf")


def _int_range(bits: int) -> tuple[int, int]:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 2 <= bits <= 16:
        raise QuantuneError(f"quantisation bit width must be an integer in [2, 16], got {bits!r}")
    return -(2 ** (int(bits) - 1)), 2 ** (int(bits) - 1) - 1


class RangeObserver:
    """Accumulates per-sample (lo, hi, hist) statistics of one tensor."""

    def __init__(self, bins: int = 2048, name: str | None = None) -> None:
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
            raise QuantuneError(f"histogram bins must be a positive integer, got {bins!r}")
        self.bins = int(bins)
        self.name = name
        self._samples = 0
        self._min = math.inf
        self._max = -math.inf
        self._count = 0.0
        self._stats: list[tuple[float, float, np.ndarray]] = []  # samples with a non-empty histogram
        self._merged: tuple[np.ndarray, np.ndarray] | None = None

    def _what(self) -> str:
        return f"'{self.name}'" if self.name else "the tensor"

    def update(self, lo: float, hi: float, hist: np.ndarray | None = None) -> None:
        """Adds one sample's min, max and (optionally) histogram over [lo, hi]."""
        where = f"calibration sample {self._samples} of {self._what()}"
        lo, hi = float(lo), float(hi)
        for label, value in (("lo", lo), ("hi", hi)):
            if not math.isfinite(value):
                raise QuantuneError(f"{where}: {label} is {_nonfinite(value)}")
        if hi < lo:
            raise QuantuneError(f"{where}: hi {hi!r} is below lo {lo!r}")
        if hist is not None:
            counts = np.asarray(hist)
            if counts.ndim != 1 or counts.size == 0 or counts.dtype.kind not in "iuf":
                raise QuantuneError(
                    f"{where}: histogram must be a non-empty 1-D numeric array, got shape "
                    f"{counts.shape} dtype {counts.dtype}"
                )
            counts = counts.astype(np.float64)
            if not np.isfinite(counts).all() or (counts < 0).any():
                raise QuantuneError(f"{where}: histogram counts must be finite and non-negative")
            total = float(counts.sum())
            if total > 0:
                self._stats.append((lo, hi, counts))
                self._count += total
        self._min = min(self._min, lo)
        self._max = max(self._max, hi)
        self._samples += 1
        self._merged = None

    def _require_data(self) -> None:
        if self._samples == 0:
            raise QuantuneError(f"no calibration statistics were recorded for {self._what()}")

    @property
    def samples(self) -> int:
        """Number of ``update`` calls."""
        return self._samples

    @property
    def min(self) -> float:
        self._require_data()
        return self._min

    @property
    def max(self) -> float:
        self._require_data()
        return self._max

    @property
    def count(self) -> int:
        """Total elements seen: the sum of all histogram counts."""
        return int(round(self._count))

    def histogram(self) -> tuple[np.ndarray, np.ndarray]:
        """(edges[bins+1], counts[bins] float64) over [global min, global max].

        Each sample bin's count is spread uniformly over the bin and added to
        the global bins in proportion to the overlap; a point-mass sample
        (lo == hi) adds its count to the global bin holding lo. Samples given
        without a histogram only widen the range.
        """
        self._require_data()
        if not self._stats:
            raise QuantuneError(f"no histogram was recorded for {self._what()}: only min/max")
        if self._merged is None:
            self._merged = self._merge()
        edges, counts = self._merged
        return edges.copy(), counts.copy()

    def _merge(self) -> tuple[np.ndarray, np.ndarray]:
        gmin, gmax = self._min, self._max
        if not gmax > gmin:
            counts = np.zeros(self.bins)
            counts[0] = self._count
            return np.full(self.bins + 1, gmin), counts
        edges = np.linspace(gmin, gmax, self.bins + 1)
        # cdf[k]: mass below edges[k], summed over samples; bins are its differences.
        cdf = np.zeros(self.bins + 1)
        by_length: dict[int, list[tuple[float, float, np.ndarray]]] = {}
        for stat in self._stats:
            by_length.setdefault(stat[2].size, []).append(stat)
        for length, stats in by_length.items():
            for start in range(0, len(stats), _CHUNK):
                chunk = stats[start : start + _CHUNK]
                lo = np.array([s[0] for s in chunk])[:, None]
                hi = np.array([s[1] for s in chunk])[:, None]
                hist = np.stack([s[2] for s in chunk])
                cum = np.concatenate([np.zeros((len(chunk), 1)), np.cumsum(hist, axis=1)], axis=1)
                total = cum[:, -1:]
                width = (hi - lo) / length
                point = width[:, 0] <= 0
                safe = np.where(width > 0, width, 1.0)
                t = (edges[None, :] - lo) / safe
                j = np.clip(np.floor(t), 0, length - 1).astype(np.int64)
                frac = np.clip(t - j, 0.0, 1.0)
                below = np.take_along_axis(cum, j, axis=1) + frac * np.take_along_axis(hist, j, axis=1)
                below[point] = (total * (edges[None, :] > lo))[point]
                below[:, 0] = 0.0
                below[:, -1] = total[:, 0]
                cdf += below.sum(axis=0)
        counts = np.maximum(np.diff(cdf), 0.0)
        return edges, counts


def minmax_range(obs: RangeObserver) -> tuple[float, float]:
    """The exact global min and max."""
    return obs.min, obs.max


def _quantile(edges: np.ndarray, counts: np.ndarray, q: float) -> float:
    """The value below which a fraction ``q`` of the histogram lies (linear inside a bin)."""
    cum = np.concatenate([[0.0], np.cumsum(counts)])
    target = q * cum[-1]
    k = min(int(np.searchsorted(cum[1:], target, side="left")), counts.size - 1)
    frac = (target - cum[k]) / counts[k] if counts[k] > 0 else 0.0
    return float(edges[k] + min(max(frac, 0.0), 1.0) * (edges[k + 1] - edges[k]))


def percentile_range(obs: RangeObserver, percentile: float = 99.99) -> tuple[float, float]:
    """(value at 100-p %, value at p %) of the merged histogram; p in (50, 100]."""
    p = float(percentile)
    if not 50.0 < p <= 100.0:
        raise QuantuneError(f"percentile must be in (50, 100], got {percentile!r}")
    if p == 100.0:
        return minmax_range(obs)
    edges, counts = obs.histogram()
    lo = _quantile(edges, counts, (100.0 - p) / 100.0)
    hi = _quantile(edges, counts, p / 100.0)
    return lo, max(lo, hi)


def _qparams(lo: np.ndarray, hi: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised ``qparams_for_range`` (inputs already checked)."""
    qmin, qmax = _int_range(bits)
    levels = qmax - qmin
    lo = np.minimum(lo, 0.0)
    hi = np.maximum(hi, 0.0)
    span = hi - lo
    point = ~(span / levels >= _MIN_SCALE)
    safe = np.where(point, 1.0, span)
    scale = np.where(point, 1.0, span / levels)
    # lo * levels / span rather than lo / scale: exact for ranges like [-1, 1].
    zero_point = np.clip(np.rint(qmin - lo * levels / safe), qmin, qmax)
    return scale, np.where(point, 0.0, zero_point)


def qparams_for_range(lo: float, hi: float, bits: int = 8) -> tuple[float, int]:
    """(scale, zero_point) of signed asymmetric ``bits``-bit quantisation of [lo, hi].

    The range is first widened to include 0; scale = (hi - lo) / (2^bits - 1),
    zero_point = round_half_even(qmin - lo / scale) clamped to [qmin, qmax].
    A range too narrow for an f32 scale (e.g. all zeros) gives scale 1.0 and
    zero point 0. 0.0 always quantises exactly to the zero point.
    """
    lo, hi = float(lo), float(hi)
    for label, value in (("lo", lo), ("hi", hi)):
        if not math.isfinite(value):
            raise QuantuneError(f"quantisation range {label} is {_nonfinite(value)}")
    if hi < lo:
        raise QuantuneError(f"quantisation range [{lo!r}, {hi!r}] is empty: hi is below lo")
    if not math.isfinite(max(hi, 0.0) - min(lo, 0.0)):
        raise QuantuneError(f"quantisation range [{lo!r}, {hi!r}] is too wide for a finite scale")
    scale, zero_point = _qparams(np.array(lo), np.array(hi), bits)
    return float(scale), int(zero_point)


def _sawtooth_integral(u: np.ndarray) -> np.ndarray:
    """An antiderivative of (t - round(t))^2, the rounding error in units of the scale."""
    v = u + 0.5
    cells = np.floor(v)
    r = v - cells
    return cells / 12.0 + ((r - 0.5) ** 3 + 0.125) / 3.0


def _expected_sq_error(
    a: np.ndarray, b: np.ndarray, counts: np.ndarray, lo: np.ndarray, hi: np.ndarray, bits: int
) -> np.ndarray:
    """Mean squared fake-quant error of the histogram, one value per candidate (lo[k], hi[k]).

    Values are uniform inside each bin [a, b). With the candidate's actual
    qparams the grid is s*k for integers k in [xmin/s, xmax/s]; below xmin and
    above xmax the error is the clipping distance, in between the rounding
    sawtooth. Each piece is integrated exactly over each bin.
    """
    qmin, qmax = _int_range(bits)
    scale, zero_point = _qparams(lo, hi, bits)
    s = scale[:, None]
    xmin = (qmin - zero_point)[:, None] * s
    xmax = (qmax - zero_point)[:, None] * s
    a, b = a[None, :], b[None, :]
    below = (np.maximum(xmin - a, 0.0) ** 3 - np.maximum(xmin - b, 0.0) ** 3) / 3.0
    above = (np.maximum(b - xmax, 0.0) ** 3 - np.maximum(a - xmax, 0.0) ** 3) / 3.0
    inside_lo = np.clip(a, xmin, xmax)
    inside_hi = np.clip(b, xmin, xmax)
    inside = s**3 * (_sawtooth_integral(inside_hi / s) - _sawtooth_integral(inside_lo / s))
    density = counts / (b - a)
    return ((below + above + inside) * density).sum(axis=1) / counts.sum()


_OCTAVE_STEPS = 8  # coarse candidates per halving of a range end
_COARSE = 2.0 ** (-np.arange(0, 11 * _OCTAVE_STEPS + 1) / _OCTAVE_STEPS)  # 1 .. 1/2048
_FINE = 33  # refinement candidates between coarse neighbours


def mse_range(obs: RangeObserver, bits: int = 8) -> tuple[float, float]:
    """The clipping range minimising the expected squared fake-quant error of the histogram.

    Each candidate (lo, hi) is scored by integrating the exact error of its
    actual qparams (``qparams_for_range``: widened to 0, rounded zero point)
    over the merged histogram (clipping plus rounding, uniform within bins).
    Search, deterministic: the ends move towards 0 independently. Coarse
    candidates are min * 2^(-i/8) and max * 2^(-i/8), i = 0..88 (1 down to
    1/2048 of each end, ~9 % apart); coordinate descent sweeps hi with lo
    fixed, then lo with hi fixed, starting from [min, max], until neither
    moves (at most 4 rounds). Two more rounds then sweep 33 evenly spaced
    values between the coarse neighbours of each end. A move is taken only
    if it strictly lowers the error, and ties go to the wider range, so the
    result never scores worse than [min, max]. An end on the far side of 0
    (min >= 0 or max <= 0) is not searched: widening makes it 0 anyway.
    """
    _int_range(bits)
    edges, counts = obs.histogram()
    gmin, gmax = obs.min, obs.max
    if not gmax > gmin:
        return gmin, gmax
    keep = counts > 0
    a, b, c = edges[:-1][keep], edges[1:][keep], counts[keep]

    def score(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return _expected_sq_error(a, b, c, lo, hi, bits)

    lo_coarse = gmin * _COARSE if gmin < 0 else np.array([gmin])
    hi_coarse = gmax * _COARSE if gmax > 0 else np.array([gmax])
    lo, hi = gmin, gmax
    best = float(score(np.array([lo]), np.array([hi]))[0])

    def sweep(lo: float, hi: float, best: float, los: np.ndarray, his: np.ndarray) -> tuple[float, float, float]:
        errors = score(np.full(his.size, lo), his)
        k = int(np.argmin(errors))
        if errors[k] < best:
            hi, best = float(his[k]), float(errors[k])
        errors = score(los, np.full(los.size, hi))
        k = int(np.argmin(errors))
        if errors[k] < best:
            lo, best = float(los[k]), float(errors[k])
        return lo, hi, best

    for _ in range(4):
        before = (lo, hi)
        lo, hi, best = sweep(lo, hi, best, lo_coarse, hi_coarse)
        if (lo, hi) == before:
            break

    def fine(values: np.ndarray, current: float) -> np.ndarray:
        if values.size == 1:
            return values
        k = int(np.argmin(np.abs(values - current)))
        wide = values[max(k - 1, 0)]
        narrow = values[min(k + 1, values.size - 1)]
        return np.linspace(wide, narrow, _FINE)  # widest first: ties keep the wider range

    lo_fine, hi_fine = fine(lo_coarse, lo), fine(hi_coarse, hi)
    for _ in range(2):
        lo, hi, best = sweep(lo, hi, best, lo_fine, hi_fine)
    return lo, hi


RANGE_METHODS: dict[str, Callable[[RangeObserver], tuple[float, float]]] = {
    "minmax": minmax_range,
    "percentile": percentile_range,
    "mse": mse_range,
}
