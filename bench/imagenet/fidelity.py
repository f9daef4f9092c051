"""How closely a quantized network follows its fp32 self, on unlabelled views.

The label of a view is the fp32 network's top-1 (onnxruntime, the
independent reference). Besides top-1 and top-5 agreement and the mean KL
divergence of the class distributions, agreement is also reported on the
*confident* views only: those where the fp32 top-1 probability exceeds the
runner-up's by at least ``CONFIDENT_MARGIN``. On near-ties any perturbation
flips the top-1, which says little about the quantization.
"""

from __future__ import annotations

import numpy as np

FIDELITY_VERSION = 2
"""Bumped when a metric changes (cached module scores are keyed by it).
2: a softmax's output SQNR on centred log-probabilities."""

CONFIDENT_MARGIN = 0.2
"""fp32 top-1 minus top-2 probability, for a view to count as confident."""


def log_probabilities(outputs: np.ndarray, probabilities: bool) -> np.ndarray:
    """Log class probabilities of network outputs (logits, or a softmax's output)."""
    out = outputs.astype(np.float64)
    if probabilities:
        return np.log(np.clip(out, 1e-12, None))
    out = out - out.max(axis=1, keepdims=True)
    return out - np.log(np.exp(out).sum(axis=1, keepdims=True))


def _centred_log(p: np.ndarray) -> np.ndarray:
    """A softmax's logits up to their mean: log-probabilities (floored at 1e-30) minus their mean."""
    logp = np.log(np.maximum(p.astype(np.float64), 1e-30))
    return logp - logp.mean(axis=1, keepdims=True)


def confident(ref_logp: np.ndarray, margin: float = CONFIDENT_MARGIN) -> np.ndarray:
    """Views where the fp32 top-1 probability beats the runner-up by ``margin``."""
    p = np.sort(np.exp(ref_logp), axis=1)
    return (p[:, -1] - p[:, -2]) >= margin


def fidelity(outputs: np.ndarray, reference: np.ndarray, probabilities: bool) -> dict[str, float | int | None]:
    """Agreement of ``outputs`` with ``reference`` (both views x classes)."""
    logp = log_probabilities(outputs, probabilities)
    ref = log_probabilities(reference, probabilities)
    top1 = np.argmax(ref, axis=1)
    hits = np.argmax(logp, axis=1) == top1
    classes = ref.shape[1]
    top5 = None
    if classes > 5:
        best5 = np.argsort(-logp, axis=1)[:, :5]
        top5 = float(np.mean((best5 == top1[:, None]).any(axis=1)))
    sure = confident(ref)
    kl = np.sum(np.exp(ref) * (ref - logp), axis=1)
    # Output SQNR where the analysis measures output error (its default
    # --output-error auto): a softmax's outputs as centred log-probabilities.
    y, y_ref = (_centred_log(outputs), _centred_log(reference)) if probabilities else (
        outputs.astype(np.float64), reference.astype(np.float64))
    signal = float(np.sum(np.square(y_ref)))
    error = float(np.sum(np.square(y - y_ref)))
    return {
        "top1": float(np.mean(hits)),
        "top5": top5,
        "confident_top1": float(np.mean(hits[sure])) if sure.any() else None,
        "confident_views": int(sure.sum()),
        "mean_kl": float(np.mean(kl)),
        "output_sqnr_db": 10 * np.log10(signal / error) if error > 0 else None,
    }
