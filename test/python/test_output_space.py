"""quantune_mlir.output_space: which outputs are compared as logits, and the logits recovered."""

from __future__ import annotations

import numpy as np
import pytest

from quantune_mlir.output_space import OutputSpace, centred_log, detect, is_probability


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def test_a_softmax_gives_back_its_logits_centred() -> None:
    z = np.array([[2.0, -1.0, 0.5, 3.0]])
    np.testing.assert_allclose(centred_log(_softmax(z)), z - z.mean(), atol=1e-6)


def test_saturated_probabilities_still_give_the_logits() -> None:
    # A gap of 30: the top probability rounds to 1.0 in f32, the others are
    # about 1e-13 and keep their information.
    z = np.array([[30.0, 0.0, -5.0]])
    p = _softmax(z)
    assert p[0, 0] == 1.0
    np.testing.assert_allclose(centred_log(p), z - z.mean(), atol=1e-4)


def test_an_underflowed_probability_counts_as_the_floor() -> None:
    out = centred_log(np.array([[1.0, 0.0]], dtype=np.float32))
    assert np.all(np.isfinite(out))
    assert out[0, 0] - out[0, 1] == pytest.approx(-np.log(1e-30))


@pytest.mark.parametrize("value,expected", [
    (np.array([[0.2, 0.8]], dtype=np.float32), True),
    (np.array([[0.2, 0.7]], dtype=np.float32), False),     # does not sum to 1
    (np.array([[-0.5, 1.5]], dtype=np.float32), False),    # sums to 1, outside [0, 1]
    (np.array([[1.0]], dtype=np.float32), False),          # one class: nothing to compare
    (np.array([[0.5, 0.5]], dtype=np.int64), False),
    (np.array([[np.nan, 1.0]], dtype=np.float32), False),
])
def test_is_probability(value: np.ndarray, expected: bool) -> None:
    assert is_probability(value) is expected


def test_detect_needs_every_sample_and_honours_the_mode() -> None:
    rng = np.random.default_rng(0)
    probs = [_softmax(rng.standard_normal((1, 5))) for _ in range(3)]
    logits = [rng.standard_normal((1, 5)).astype(np.float32) for _ in range(3)]
    reference = [[p, z] for p, z in zip(probs, logits)]
    assert detect(reference).logits == (True, False)
    assert detect(reference, "outputs").logits == (False, False)
    # One sample that is not a distribution: that output stays as it is.
    reference[1][0] = reference[1][0] * 0.5
    assert detect(reference).logits == (False, False)
    with pytest.raises(ValueError, match="expected one of auto, outputs"):
        detect(reference, "probabilities")


def test_the_space_transforms_only_the_flagged_outputs() -> None:
    p = _softmax(np.array([[1.0, 2.0, 3.0]]))
    z = np.array([[1.0, 2.0]], dtype=np.float32)
    out = OutputSpace((True, False))([p, z])
    np.testing.assert_allclose(out[0], [[-1.0, 0.0, 1.0]], atol=1e-6)
    assert out[0].dtype == np.float32  # as inference 1 kept the outputs: no doubled memory
    assert out[1] is z
    assert OutputSpace().describe() == "model outputs"
    assert OutputSpace((True, False)).describe() == "log-probabilities of output 0 (a softmax: compared as logits)"
