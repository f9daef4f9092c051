"""Activation ranges from per-sample (lo, hi, hist) statistics, checked against raw data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quantune_mlir.calibration import (
    RANGE_METHODS,
    RangeObserver,
    minmax_range,
    mse_range,
    percentile_range,
    qparams_for_range,
)
from quantune_mlir.errors import QuantuneError

B = 128  # bins of the probe's per-sample histograms


def probe(x: np.ndarray) -> tuple[float, float, np.ndarray]:
    """What the in-graph probe reports for one sample: its min, max and B-bin histogram."""
    lo, hi = float(x.min()), float(x.max())
    if hi == lo:
        hist = np.zeros(B, np.int32)
        hist[0] = x.size
        return lo, hi, hist
    hist, _ = np.histogram(x, bins=B, range=(lo, hi))
    return lo, hi, hist.astype(np.int32)


def observe(samples: list[np.ndarray], bins: int = 2048) -> RangeObserver:
    obs = RangeObserver(bins=bins)
    for x in samples:
        obs.update(*probe(x))
    return obs


def max_sample_bin_width(samples: list[np.ndarray]) -> float:
    return max(float(x.max() - x.min()) / B for x in samples)


def fake_quant(x: np.ndarray, lo: float, hi: float, bits: int = 8) -> np.ndarray:
    scale, zp = qparams_for_range(lo, hi, bits)
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    q = np.clip(np.rint(x / scale) + zp, qmin, qmax)  # np.rint rounds half to even
    return (q - zp) * scale


def quant_mse(x: np.ndarray, lo: float, hi: float) -> float:
    return float(np.mean((fake_quant(x, lo, hi) - x) ** 2))


def mixed_samples(seed: int = 0) -> list[np.ndarray]:
    """Samples of different shapes of distribution: shifted/scaled normals, a ReLU
    output with a point mass at 0, a skewed one, and a constant sample."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(40):
        x = rng.standard_normal(2000) * (0.5 + rng.random()) + rng.uniform(-0.5, 0.5)
        if i % 4 == 1:
            x = np.maximum(x, 0.0)
        if i % 4 == 2:
            x = rng.exponential(1.0, 2000) - 1.0
        samples.append(x)
    samples.append(np.full(500, 0.75))
    return samples


# --------------------------------------------------------------------------- qparams


@pytest.mark.parametrize(
    "lo, hi, bits, scale, zero_point",
    [
        # -128 - (-1) / (2/255) = -0.5, which rounds half to even: 0.
        (-1.0, 1.0, 8, 2 / 255, 0),
        # widened to [0, 2]: -128 - 0 = -128.
        (0.5, 2.0, 8, 2 / 255, -128),
        # widened to [-2, 0]: -128 + 2 / (2/255) = 127.
        (-2.0, -0.5, 8, 2 / 255, 127),
        # -128 + 0.25 / (1/255) = -64.25 -> -64.
        (-0.25, 0.75, 8, 1 / 255, -64),
        # -128 + (1/512) / (510/512/255) = -127.5 -> half to even: -128 (not -127).
        (-1 / 512, 509 / 512, 8, 510 / 512 / 255, -128),
        # 4 bits: qmin -8, 15 levels; -8 + 1 / (2/15) = -0.5 -> 0.
        (-1.0, 1.0, 4, 2 / 15, 0),
        # all zeros: scale 1, zero exact.
        (0.0, 0.0, 8, 1.0, 0),
    ],
)
def test_qparams_hand_computed(lo: float, hi: float, bits: int, scale: float, zero_point: int) -> None:
    got_scale, got_zp = qparams_for_range(lo, hi, bits)
    assert got_scale == pytest.approx(scale, rel=1e-12)
    assert got_zp == zero_point
    assert isinstance(got_zp, int)
    assert fake_quant(np.array([0.0]), lo, hi, bits)[0] == 0.0


def test_qparams_keep_zero_exact_and_cover_the_range() -> None:
    rng = np.random.default_rng(3)
    ranges = [(-1e-30, 1e-30), (0.0, 1e-42), (3.0, 3.0), (-7.5, -7.5), (1e6, 2e6), (-1e-3, 5e4)]
    ranges += [tuple(sorted(rng.standard_normal(2) * 10 ** rng.uniform(-4, 4))) for _ in range(200)]
    for lo, hi in ranges:
        scale, zp = qparams_for_range(lo, hi)
        assert math.isfinite(scale) and scale > 0, (lo, hi)
        assert -128 <= zp <= 127
        assert fake_quant(np.array([0.0]), lo, hi)[0] == 0.0
        # The widened range is representable to within half a step (rounding of the zero point).
        for x in (min(lo, 0.0), max(hi, 0.0)):
            assert abs(fake_quant(np.array([x]), lo, hi)[0] - x) <= 0.5 * scale * (1 + 1e-9) + 1e-300, (lo, hi, x)


@pytest.mark.parametrize(
    "lo, hi, bits, needle",
    [
        (math.nan, 1.0, 8, "lo is NaN"),
        (-1.0, math.inf, 8, "hi is Inf"),
        (1.0, -1.0, 8, "hi is below lo"),
        (-1.0, 1.0, 1, "bit width"),
        (-1e308, 1e308, 8, "too wide"),
    ],
)
def test_qparams_errors(lo: float, hi: float, bits: int, needle: str) -> None:
    with pytest.raises(QuantuneError, match=needle):
        qparams_for_range(lo, hi, bits)


# --------------------------------------------------------------------------- observer


def test_histogram_merge_hand_computed() -> None:
    obs = RangeObserver(bins=2)
    obs.update(0.0, 2.0, np.array([2, 2], np.int32))  # 2 in [0,1), 2 in [1,2]
    obs.update(1.0, 3.0, np.array([4, 0], np.int32))  # 4 in [1,2)
    edges, counts = obs.histogram()
    np.testing.assert_allclose(edges, [0.0, 1.5, 3.0])
    # [0,1.5): 2 + half of 2 + half of 4 = 5; [1.5,3]: 1 + 2 = 3.
    np.testing.assert_allclose(counts, [5.0, 3.0])
    assert counts.dtype == np.float64
    obs = RangeObserver(bins=3)
    obs.update(0.0, 2.0, np.array([2, 2]))
    obs.update(1.0, 3.0, np.array([4, 0]))
    obs.update(3.0, 3.0, np.array([5, 0, 0]))  # point mass at the global max
    obs.update(1.0, 1.0, np.array([1]))  # point mass on an inner edge: the bin to its right
    obs.update(-10.0, 10.0)  # min/max only: widens the range, no counts
    edges, counts = obs.histogram()
    np.testing.assert_allclose(edges, np.linspace(-10, 10, 4))
    assert (obs.min, obs.max, obs.count) == (-10.0, 10.0, 14)
    obs2 = RangeObserver(bins=3)
    for lo, hi, h in [(0.0, 2.0, [2, 2]), (1.0, 3.0, [4, 0]), (3.0, 3.0, [5, 0, 0]), (1.0, 1.0, [1])]:
        obs2.update(lo, hi, np.array(h))
    np.testing.assert_allclose(obs2.histogram()[1], [2.0, 7.0, 5.0])  # edges 0, 1, 2, 3
    np.testing.assert_allclose(counts, [0.0, 14.0, 0.0])


def test_merged_histogram_matches_the_raw_data_cdf() -> None:
    samples = mixed_samples()
    raw = np.sort(np.concatenate(samples))
    obs = observe(samples)
    edges, counts = obs.histogram()
    assert obs.count == raw.size
    assert counts.sum() == pytest.approx(raw.size)
    assert (edges[0], edges[-1]) == (raw[0], raw[-1])
    merged_cdf = np.concatenate([[0.0], np.cumsum(counts)])
    # Mass moves only inside its own sample bin, so the merged CDF at x lies
    # between the raw CDF at x - w and at x + w (w: widest sample bin).
    w = max_sample_bin_width(samples) * 1.001
    below_lo = np.searchsorted(raw, edges - w, side="left")
    below_hi = np.searchsorted(raw, edges + w, side="right")
    assert np.all(merged_cdf >= below_lo - 1e-6)
    assert np.all(merged_cdf <= below_hi + 1e-6)
    # ...and the bound is tight enough to mean something.
    assert np.mean(below_hi - below_lo) < 0.03 * raw.size


def test_minmax_is_exact() -> None:
    samples = mixed_samples(seed=5)
    raw = np.concatenate(samples)
    assert minmax_range(observe(samples)) == (raw.min(), raw.max())
    obs = RangeObserver()
    obs.update(-2.5, 1.0)  # min/max only
    obs.update(-1.0, 4.0)
    assert minmax_range(obs) == (-2.5, 4.0)


@pytest.mark.parametrize("p", [99.99, 99.9, 99.0, 90.0])
def test_percentile_matches_numpy(p: float) -> None:
    samples = mixed_samples(seed=1)
    raw = np.concatenate(samples)
    obs = observe(samples)
    lo, hi = percentile_range(obs, p)
    expected_lo, expected_hi = np.percentile(raw, [100 - p, p])
    edges, _ = obs.histogram()
    tol = max_sample_bin_width(samples) + (edges[1] - edges[0])
    assert lo == pytest.approx(expected_lo, abs=tol)
    assert hi == pytest.approx(expected_hi, abs=tol)


def test_percentile_hand_computed() -> None:
    obs = RangeObserver(bins=4)
    obs.update(0.0, 4.0, np.array([10, 10, 10, 10]))
    # 5 % of 40 = 2 lies 0.2 into bin [0, 1); 95 % = 38 lies 0.8 into bin [3, 4].
    lo, hi = percentile_range(obs, 95.0)
    assert lo == pytest.approx(0.2) and hi == pytest.approx(3.8)
    obs.update(2.0, 2.0, np.array([40]))  # a point mass in bin [2, 3): 80 values in all
    # Counts 10, 10, 50, 10 (cumulative 10, 20, 70, 80): 10 % = 8 lies 0.8 into bin [0, 1),
    # 90 % = 72 lies 0.2 into bin [3, 4].
    lo, hi = percentile_range(obs, 90.0)
    assert lo == pytest.approx(0.8) and hi == pytest.approx(3.2)


def test_percentile_100_is_minmax_and_bad_percentiles_fail() -> None:
    obs = observe(mixed_samples())
    assert percentile_range(obs, 100) == minmax_range(obs)
    for bad in (50, 49.0, 100.5, math.nan, -99):
        with pytest.raises(QuantuneError, match="percentile must be in"):
            percentile_range(obs, bad)


# --------------------------------------------------------------------------- mse


def outlier_samples() -> list[np.ndarray]:
    """1M standard-normal values with three huge outliers (two at +80, one at -60)."""
    rng = np.random.default_rng(1)
    samples = []
    for i in range(100):
        x = rng.standard_normal(10_000)
        if i in (10, 60):
            x[5] = 80.0
        if i == 30:
            x[7] = -60.0
        samples.append(x)
    return samples


def test_mse_clips_huge_outliers() -> None:
    samples = outlier_samples()
    raw = np.concatenate(samples)
    obs = observe(samples)
    lo, hi = mse_range(obs)
    assert -20.0 < lo < -2.0 and 2.0 < hi < 70.0, (lo, hi)
    assert quant_mse(raw, lo, hi) < 0.5 * quant_mse(raw, -60.0, 80.0)
    assert mse_range(obs) == (lo, hi)  # deterministic


def test_mse_is_near_the_best_of_a_brute_force_grid() -> None:
    # A skewed distribution: most mass near 0, a long right tail.
    rng = np.random.default_rng(2)
    samples = [rng.lognormal(0.0, 1.0, 4000) - 1.2 for _ in range(25)]
    raw = np.concatenate(samples)
    lo, hi = mse_range(observe(samples))
    grid = [
        quant_mse(raw, a, b)
        for a in np.linspace(raw.min(), 0.0, 8, endpoint=False)
        for b in np.geomspace(raw.max(), raw.max() / 64, 24)
    ]
    assert quant_mse(raw, lo, hi) <= 1.03 * min(grid)
    assert quant_mse(raw, lo, hi) < quant_mse(raw, raw.min(), raw.max())


def test_mse_keeps_a_one_sided_range_at_its_end() -> None:
    rng = np.random.default_rng(4)
    samples = [np.maximum(rng.standard_normal(3000), 0.0) for _ in range(10)]  # ReLU output
    obs = observe(samples)
    lo, hi = mse_range(obs)
    assert lo == 0.0 and 0.0 < hi <= obs.max
    scale, zp = qparams_for_range(lo, hi)
    assert zp == -128


# --------------------------------------------------------------------------- every method


def test_every_method_gives_a_range_with_zero_exact() -> None:
    rng = np.random.default_rng(6)
    cases = {
        "positive": [rng.uniform(2.0, 5.0, 1000) for _ in range(5)],
        "negative": [rng.uniform(-5.0, -2.0, 1000) for _ in range(5)],
        "mixed": mixed_samples(seed=2)[:10],
        "zeros": [np.zeros(100) for _ in range(3)],
    }
    assert set(RANGE_METHODS) == {"minmax", "percentile", "mse"}
    for name, samples in cases.items():
        obs = observe(samples)
        for method, range_of in RANGE_METHODS.items():
            lo, hi = range_of(obs)
            assert obs.min <= lo <= hi <= obs.max, (name, method, lo, hi)
            scale, zp = qparams_for_range(lo, hi)
            assert math.isfinite(scale) and scale > 0
            assert fake_quant(np.array([0.0]), lo, hi)[0] == 0.0
            if name == "zeros":
                assert (lo, hi, scale, zp) == (0.0, 0.0, 1.0, 0)


def test_observer_errors_name_the_sample() -> None:
    empty = RangeObserver(name="conv1")
    for range_of in RANGE_METHODS.values():
        with pytest.raises(QuantuneError, match="no calibration statistics were recorded for 'conv1'"):
            range_of(empty)
    obs = RangeObserver(name="conv1")
    obs.update(0.0, 1.0, np.ones(4))
    with pytest.raises(QuantuneError, match="sample 1 of 'conv1': lo is NaN"):
        obs.update(math.nan, 1.0, np.ones(4))
    with pytest.raises(QuantuneError, match="sample 1 of 'conv1': hi is NaN"):
        obs.update(0.0, np.float32("nan"))
    with pytest.raises(QuantuneError, match="hi -1.0 is below lo 0.0"):
        obs.update(0.0, -1.0)
    with pytest.raises(QuantuneError, match="non-negative"):
        obs.update(0.0, 1.0, np.array([1, -1]))
    with pytest.raises(QuantuneError, match="1-D"):
        obs.update(0.0, 1.0, np.ones((2, 2)))
    only_minmax = RangeObserver(name="fc")
    only_minmax.update(-1.0, 1.0)
    with pytest.raises(QuantuneError, match="no histogram was recorded for 'fc'"):
        percentile_range(only_minmax)
    with pytest.raises(QuantuneError, match="no histogram"):
        mse_range(only_minmax)
    for bins in (0, -3, 2.5):
        with pytest.raises(QuantuneError, match="bins"):
            RangeObserver(bins=bins)
