"""quantune_mlir.propagation: the form a selected layer feeds, worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from quantune_mlir.propagation import ShadowFeed, shadow_channels, shadow_feed, shadow_schedule
from quantune_mlir.range_choice import LocalErrors


def _errors(err2: dict[int, float], err: dict[int, list[float]], count: int) -> LocalErrors:
    return LocalErrors(sum_y2=100.0, count=count, sum_err2=dict(err2),
                       sum_err={k: np.asarray(v, dtype=np.float64) for k, v in err.items()})


def test_before_any_sample_the_first_candidate_goes_uncorrected() -> None:
    for running in (None, LocalErrors()):
        feed = shadow_feed(running, bias_correction=True, channels=3)
        assert feed.index == 0 and feed.correction is None
        assert feed.vector.dtype == np.float32 and feed.vector.tolist() == [0.0, 0.0, 0.0]


def test_the_candidate_with_the_lowest_corrected_error_and_its_correction() -> None:
    # 2 channels, 4 elements each (count 8). Candidate 0: sum e^2 = 10,
    # channel sums (4, 0): corrected 10 - 16/4 = 6. Candidate 1: sum e^2 =
    # 9, sums (0, 2): corrected 9 - 4/4 = 8. Candidate 0 wins after
    # correction (candidate 1 before it); its correction is sums / 4.
    running = _errors({0: 10.0, 1: 9.0}, {0: [4.0, 0.0], 1: [0.0, 2.0]}, count=8)
    feed = shadow_feed(running, bias_correction=True, channels=5)
    assert feed.index == 0
    assert feed.correction.tolist() == [1.0, 0.0]
    assert feed.vector.tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    plain = shadow_feed(running, bias_correction=False, channels=5)
    assert plain.index == 1 and plain.correction is None and not plain.vector.any()


def test_a_correction_longer_than_the_argument_is_not_fed() -> None:
    running = _errors({0: 10.0}, {0: [4.0, 0.0, 1.0]}, count=6)
    feed = shadow_feed(running, bias_correction=True, channels=2)
    assert feed.index == 0 and feed.correction is None and not feed.vector.any()


def test_local_error_of_the_fed_form() -> None:
    # One sample: e = y - y' per element, channel 0 = (1, 3), channel 1 =
    # (-1, 0). Fed: y' + c with c = (2, -0.5), so the error is e - c =
    # (-1, 1) and (-0.5, 0.5): sum of squares 2.5.
    e = np.array([[1.0, 3.0], [-1.0, 0.0]])
    sample = _errors({0: float(np.sum(e**2))}, {0: e.sum(axis=1).tolist()}, count=4)
    c = np.array([2.0, -0.5])
    feed = ShadowFeed(0, c, c.astype(np.float32))
    assert feed.local_error(sample) == pytest.approx(2.5)
    assert ShadowFeed(0, None, np.zeros(2, np.float32)).local_error(sample) == pytest.approx(11.0)


def test_shadow_channels_and_schedule() -> None:
    assert shadow_channels('func.func @f() attributes {quantune.shadow_channels = 96 : i64}') == 96
    assert shadow_channels("func.func @f()") == 0
    order = shadow_schedule([3, 1, 2], 7)
    assert sorted(order[:3]) == [1, 2, 3] and order[3:6] == order[:3] and order[6] == order[0]
