"""Quantization rounding, compiled by IREE, against numpy bit for bit.

quantune-expand-quant-ops and quantune-fold-requantize round with the f32
rounding-bias trick (clamp, add 1.5 * 2^23, read the bits back; see
buildRoundClampToInt in dialect/include/quantune/Transforms/QuantUtils.h)
instead of math.roundeven. It must give exactly
``clip(round_half_even(x / s) + zp, qmin, qmax)``: the inputs below sit on
the ties (k + 0.5, where a wrong parity shows), beyond both ends of the
range, at infinity, and use odd and even zero points. Scales are powers of
two so that numpy's f32 division and IREE's agree without doubt.
"""

from __future__ import annotations

import numpy as np
import pytest

from quantune_mlir.compiler import compile_mlir
from quantune_mlir.opt import run_quantune_opt
from quantune_mlir.runtime import ModuleRunner
from quantune_mlir.targets import parse_target
from vulkan_probe import vulkan_unavailable

N = 64

# (storage, qmin, qmax, scale, zero point) of each per-tensor output.
PER_TENSOR = (
    ("si8", -128, 127, 0.5, 3),
    ("si8", -128, 127, 0.25, -128),
    ("ui8", 0, 255, 0.5, 128),
    ("ui8", 0, 255, 0.125, 7),
)
CHANNEL_SCALES = (0.5, 0.125)
CHANNEL_ZPS = (3, -4)
# acc * 0.05 / 0.1: the folded epilogue multiplies the i32 accumulator by 0.5.
FOLD_ZP = -5

MODULE = (
    f"func.func @main(%x: tensor<{N}xf32>, %xc: tensor<2x{N}xf32>, %acc: tensor<{N}xi32>) -> ("
    + ", ".join([f"tensor<{N}xi8>"] * len(PER_TENSOR))
    + f", tensor<2x{N}xi8>, tensor<{N}xi8>) {{\n"
    + "".join(
        f"  %q{i} = quantune.quantize %x qparams <{st}, scale = {s}, zero_point = {zp}> "
        f": tensor<{N}xf32> -> tensor<{N}xi8>\n"
        for i, (st, _, _, s, zp) in enumerate(PER_TENSOR)
    )
    + f"  %qc = quantune.quantize %xc qparams <si8, axis = 0, scales = [{CHANNEL_SCALES[0]}, {CHANNEL_SCALES[1]}], "
    f"zero_points = [{CHANNEL_ZPS[0]}, {CHANNEL_ZPS[1]}]> : tensor<2x{N}xf32> -> tensor<2x{N}xi8>\n"
    f"  %d = quantune.dequantize %acc qparams <si32, scale = 0.05> : tensor<{N}xi32> -> tensor<{N}xf32>\n"
    f"  %qf = quantune.quantize %d qparams <si8, scale = 0.1, zero_point = {FOLD_ZP}> "
    f": tensor<{N}xf32> -> tensor<{N}xi8>\n"
    "  return " + ", ".join(f"%q{i}" for i in range(len(PER_TENSOR))) + ", %qc, %qf : "
    + ", ".join([f"tensor<{N}xi8>"] * len(PER_TENSOR))
    + f", tensor<2x{N}xi8>, tensor<{N}xi8>\n}}\n"
)


def _quantize(v: np.ndarray, zp: int, lo: int, hi: int) -> np.ndarray:
    """numpy reference: round half to even (np.round), shift, clamp."""
    return np.clip(np.round(v.astype(np.float64)) + zp, lo, hi).astype(np.int64)


def _inputs(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # Half-integers of both parities up to past the i8 range at the largest
    # scale, quarter values, values far outside, and infinities.
    ties = (rng.integers(-300, 300, N) + 0.5) * rng.choice([0.5, 0.25, 0.125], N)
    x = ties.astype(np.float32)
    x[:4] = [1e30, -1e30, np.inf, -np.inf]
    x[4:8] = [0.0, -0.0, 2.0**22 + 0.5, -(2.0**22) - 0.5]
    xc = np.stack([x, x[::-1]]).astype(np.float32)
    acc = rng.integers(-600, 600, N).astype(np.int32)
    acc[:2] = [2**31 - 1, -(2**31)]
    return x, xc, acc


def _expected(x: np.ndarray, xc: np.ndarray, acc: np.ndarray) -> list[np.ndarray]:
    out = [_quantize(x / np.float32(s), zp, lo, hi) for _, lo, hi, s, zp in PER_TENSOR]
    out.append(np.stack([_quantize(xc[c] / np.float32(CHANNEL_SCALES[c]), CHANNEL_ZPS[c], -128, 127)
                         for c in range(2)]))
    # The fold's multiplier 0.05 / 0.1 is 0.5 in f32; acc * 0.5 is exact in
    # f32 except for the two extremes, which saturate either way.
    out.append(_quantize(acc.astype(np.float32) * np.float32(0.5), FOLD_ZP, -128, 127))
    return out


def _as_storage(got: np.ndarray, unsigned: bool) -> np.ndarray:
    return np.asarray(got).view(np.uint8 if unsigned else np.int8).astype(np.int64)


def _build(target_name: str, tmp_path) -> ModuleRunner:
    folded = run_quantune_opt(MODULE, ["--quantune-fold-requantize"])
    assert "quantune.folded_pairs = 1" in folded  # %qf is the fused epilogue
    text = run_quantune_opt(folded, ["--quantune-expand-quant-ops", "--quantune-strip"])
    assert "math.roundeven" not in text  # the rounding-bias form, not the fallback
    target = parse_target(target_name)
    path = tmp_path / f"rounding-{target_name}.vmfb"
    compile_mlir(text, target, path)
    return ModuleRunner(path, target.device)


@pytest.mark.parametrize("target_name", ["host", "vulkan"])
def test_rounding_matches_numpy_exactly(target_name: str, tmp_path) -> None:
    if target_name == "vulkan" and (reason := vulkan_unavailable()) is not None:
        pytest.skip(reason)
    runner = _build(target_name, tmp_path)
    unsigned = [st.startswith("ui") for st, *_ in PER_TENSOR] + [False, False]
    for seed in (0, 1, 2):
        inputs = _inputs(seed)
        outputs = runner(*inputs)
        for got, want, u in zip(outputs, _expected(*inputs), unsigned):
            np.testing.assert_array_equal(_as_storage(got, u), want)


def test_nan_quantizes_to_the_lowest_value(tmp_path) -> None:
    """A NaN (an fp32 layer that overflowed) becomes qmin, not an undefined
    conversion: maxnumf takes the lower clamp bound."""
    runner = _build("host", tmp_path)
    x, xc, acc = _inputs(0)
    x[:] = np.nan
    xc[:] = np.nan
    outputs = runner(x, xc, acc)
    for got, (st, lo, _, _, _) in zip(outputs, PER_TENSOR):
        np.testing.assert_array_equal(_as_storage(got, st.startswith("ui")), lo)
    np.testing.assert_array_equal(_as_storage(outputs[len(PER_TENSOR)], False), -128)
