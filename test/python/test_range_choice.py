"""Per-layer range choice and bias correction, against numpy on known errors."""

from __future__ import annotations

import numpy as np
import pytest

from quantune_mlir.calibration import RangeObserver, qparams_for_range
from quantune_mlir.range_choice import LocalErrors, choose, corrected_error, range_candidates


def _errors(y: np.ndarray, twins: list[np.ndarray], channel_axis: int = 1) -> LocalErrors:
    """What inference 2 would accumulate for outputs y and the twins' outputs, one sample."""
    errors = LocalErrors()
    errors.add("sum_y2", np.sum(y.astype(np.float64) ** 2))
    errors.add("count", np.array(y.size, np.int32))
    other = tuple(a for a in range(y.ndim) if a != channel_axis)
    for k, twin in enumerate(twins):
        e = y.astype(np.float64) - twin
        errors.add(f"sum_err2.{k}", np.sum(e**2))
        errors.add(f"sum_err.{k}", np.sum(e, axis=other))
    return errors


def test_corrected_error_is_the_error_around_each_channels_mean() -> None:
    rng = np.random.default_rng(0)
    e = rng.standard_normal((2, 3, 4, 5)) + np.array([0.5, -2.0, 0.0])[None, :, None, None]
    sums = e.sum(axis=(0, 2, 3))
    mu = e.mean(axis=(0, 2, 3), keepdims=True)
    expected = float(np.sum((e - mu) ** 2))
    assert corrected_error(float(np.sum(e**2)), sums, e.size) == pytest.approx(expected, rel=1e-12)
    # Nothing to correct without per-channel sums.
    assert corrected_error(7.0, None, e.size) == 7.0


def test_samples_accumulate_across_calls() -> None:
    errors = LocalErrors()
    for value in (1.5, 2.5):
        errors.add("sum_err2", np.float64(value))
        errors.add("sum_err", np.array([value, -value]))
        errors.add("count", np.int32(4))
    assert errors.sum_err2 == {0: 4.0}
    np.testing.assert_array_equal(errors.sum_err[0], [4.0, -4.0])
    assert errors.count == 8


def test_choose_keeps_the_lowest_error_and_returns_the_channel_means() -> None:
    rng = np.random.default_rng(1)
    y = rng.standard_normal((1, 4, 6, 6))
    shift = np.array([0.3, -0.1, 0.0, 0.2])[None, :, None, None]
    noisy = y + 0.05 * rng.standard_normal(y.shape)       # candidate 0: unbiased, noisy
    biased = y - shift + 0.01 * rng.standard_normal(y.shape)  # candidate 1: precise but shifted
    errors = _errors(y, [noisy, biased])

    plain = choose(errors, 2, bias_correction=False)
    assert plain.index == 0 and plain.correction is None
    assert plain.error == pytest.approx(float(np.sum((y - noisy) ** 2)))

    corrected = choose(errors, 2, bias_correction=True)
    assert corrected.index == 1
    mean_error = (y - biased).mean(axis=(0, 2, 3))
    np.testing.assert_allclose(corrected.correction, mean_error, rtol=1e-12)
    np.testing.assert_allclose(mean_error, shift.ravel(), atol=0.01)
    # The corrected twin's error is what is left after adding the mean back.
    assert corrected.error == pytest.approx(float(np.sum((y - biased - mean_error[None, :, None, None]) ** 2)))


def test_ties_keep_the_first_candidate() -> None:
    y = np.ones((1, 2, 2, 2))
    errors = _errors(y, [y * 0.9, y * 0.9])
    assert choose(errors, 2, bias_correction=False).index == 0


def test_non_finite_sums_are_reported() -> None:
    errors = LocalErrors()
    errors.add("sum_y2", np.float64(np.inf))
    errors.add("sum_err2", np.float64(1.0))
    assert not errors.finite()


def test_candidates_are_distinct_and_labelled() -> None:
    rng = np.random.default_rng(2)
    obs = RangeObserver(bins=2048)
    for _ in range(8):
        # Mostly small values with rare large outliers: percentile and mse clip.
        x = np.concatenate([rng.standard_normal(4096), [40.0, -30.0]])
        hist, _ = np.histogram(x, bins=128, range=(x.min(), x.max()))
        obs.update(x.min(), x.max(), hist)
    found = range_candidates(obs, ("minmax", "percentile", "mse"), 99.99)
    assert [c.method for c in found] == ["minmax", "percentile 99.99", "mse"]
    assert found[0].scale == qparams_for_range(obs.min, obs.max)[0]
    assert found[1].scale < found[0].scale and found[2].scale < found[0].scale
    # The same method twice measures one twin.
    assert len(range_candidates(obs, ("minmax", "minmax"), 99.99)) == 1
