"""The quantize in front of an im2col convolution gets its own dispatch
(quantune_mlir.fusion_barriers, applied by compile_mlir with the CPU recipe).

Fused into the im2col, the quantize ran once per patch element: SqueezeNet's
7x7 stride-2 stem took 10 of the int8 module's 27 ms at 224x224. The barrier
must not change a single output value, and must go only where im2col applies
(a KxK convolution, K > 1, whose input is a quantize).
"""

from __future__ import annotations

import numpy as np
import pytest
from iree.compiler import tools as iree_tools

from quantune_mlir.compiler import compile_mlir
from quantune_mlir.fusion_barriers import add_im2col_barriers
from quantune_mlir.runtime import ModuleRunner
from quantune_mlir.targets import parse_target

SCALE = 0.05
RNG = np.random.default_rng(7)
W3 = RNG.integers(-127, 128, size=(4, 3, 3, 3), dtype=np.int8)
W1 = RNG.integers(-127, 128, size=(4, 3, 1, 1), dtype=np.int8)


def _dense(w: np.ndarray) -> str:
    return "dense<" + np.array2string(w, separator=", ", threshold=10**6).replace("\n", "") + ">"


MODULE = f"""
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
func.func @main(%x: tensor<1x3x16x16xf32>) -> (tensor<1x4x7x7xi32>, tensor<1x4x16x16xi32>) {{
  %e = tensor.empty() : tensor<1x3x16x16xi8>
  %q = linalg.generic {{indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}}
      ins(%x : tensor<1x3x16x16xf32>) outs(%e : tensor<1x3x16x16xi8>) {{
  ^bb0(%a: f32, %o: i8):
    %s = arith.constant {SCALE} : f32
    %lo = arith.constant -128.0 : f32
    %hi = arith.constant 127.0 : f32
    %d = arith.divf %a, %s : f32
    %r = math.roundeven %d : f32
    %c1 = arith.maximumf %r, %lo : f32
    %c2 = arith.minimumf %c1, %hi : f32
    %i = arith.fptosi %c2 : f32 to i8
    linalg.yield %i : i8
  }} -> tensor<1x3x16x16xi8>
  %zero = arith.constant 0 : i32
  %w3 = arith.constant {_dense(W3)} : tensor<4x3x3x3xi8>
  %e3 = tensor.empty() : tensor<1x4x7x7xi32>
  %f3 = linalg.fill ins(%zero : i32) outs(%e3 : tensor<1x4x7x7xi32>) -> tensor<1x4x7x7xi32>
  %y3 = linalg.conv_2d_nchw_fchw {{dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>}}
      ins(%q, %w3 : tensor<1x3x16x16xi8>, tensor<4x3x3x3xi8>) outs(%f3 : tensor<1x4x7x7xi32>) -> tensor<1x4x7x7xi32>
  %w1 = arith.constant {_dense(W1)} : tensor<4x3x1x1xi8>
  %e1 = tensor.empty() : tensor<1x4x16x16xi32>
  %f1 = linalg.fill ins(%zero : i32) outs(%e1 : tensor<1x4x16x16xi32>) -> tensor<1x4x16x16xi32>
  %y1 = linalg.conv_2d_nchw_fchw {{dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}}
      ins(%q, %w1 : tensor<1x3x16x16xi8>, tensor<4x3x1x1xi8>) outs(%f1 : tensor<1x4x16x16xi32>) -> tensor<1x4x16x16xi32>
  return %y3, %y1 : tensor<1x4x7x7xi32>, tensor<1x4x16x16xi32>
}}
"""


def _reference(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """numpy: quantize (round half to even, clamp) and exact integer convolutions."""
    q = np.clip(np.round(x / np.float32(SCALE)), -128, 127).astype(np.int64)[0]
    y3 = np.zeros((1, 4, 7, 7), np.int64)
    for i in range(7):
        for j in range(7):
            patch = q[:, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3]
            y3[0, :, i, j] = np.tensordot(W3.astype(np.int64), patch, axes=([1, 2, 3], [0, 1, 2]))
    y1 = np.einsum("fc,chw->fhw", W1[:, :, 0, 0].astype(np.int64), q)[None]
    return y3, y1


def test_a_barrier_only_between_the_quantize_and_the_kxk_convolution() -> None:
    text, count = add_im2col_barriers(MODULE)
    assert count == 1
    lines = [line.strip() for line in text.splitlines()]
    barrier = next(line for line in lines if "util.optimization_barrier" in line)
    barrier_value, operand = barrier.split(" = ")[0], barrier.split("util.optimization_barrier ")[1].split(" :")[0]
    conv3 = next(line for line in lines if "linalg.conv_2d_nchw_fchw" in line and "strides = dense<2>" in line)
    conv1 = next(line for line in lines if "linalg.conv_2d_nchw_fchw" in line and "strides = dense<1>" in line)
    # The 3x3 convolution reads the barrier; the 1x1 one (no im2col) the quantize.
    assert f"ins({barrier_value}," in conv3
    assert f"ins({operand}," in conv1
    # A 3x3 convolution of a constant, not of a quantize: nothing to do.
    constant_input = MODULE.replace("ins(%q, %w3", "ins(%c, %w3").replace(
        "%zero = arith.constant 0 : i32", "%zero = arith.constant 0 : i32\n  %c = arith.constant dense<1> : tensor<1x3x16x16xi8>")
    assert add_im2col_barriers(constant_input) == (constant_input, 0)


def test_malformed_text_is_left_to_iree_compile() -> None:
    assert add_im2col_barriers("func.func @f(") == ("func.func @f(", 0)


@pytest.mark.parametrize("seed", [0, 1])
def test_outputs_are_exact_with_and_without_the_barrier(tmp_path, seed: int) -> None:
    host = parse_target("host")
    with_barrier = tmp_path / "barrier.vmfb"
    compile_mlir(MODULE, host, with_barrier, recipe=True)
    without = tmp_path / "plain.vmfb"
    without.write_bytes(iree_tools.compile_str(MODULE, extra_args=[*host.flags, *host.recipe]))
    x = (np.random.default_rng(seed).standard_normal((1, 3, 16, 16)) * 3).astype(np.float32)
    expected = _reference(x)
    for module in (with_barrier, without):
        outputs = ModuleRunner(module, host.device)(x)
        for got, want in zip(outputs, expected):
            np.testing.assert_array_equal(np.asarray(got), want)
