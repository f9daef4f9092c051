"""A gathering int8 im2col is kept out of its matmul's packing
(quantune_mlir.gather_barriers, applied by compile_mlir between IREE's
preprocessing and the rest of the compile when the CPU recipe is on).

The barrier must go only on int8 matmuls whose left operand an im2col
gathers (a KxK kernel, K > 1, or a stride), not on a 1x1 stride-1
convolution, and on f32 ones only where the gather reads few channels (an
RGB stem), and must not change a single output value.
"""

from __future__ import annotations

import numpy as np
from iree.compiler import ir
from iree.compiler import tools as iree_tools

from quantune_mlir import compiler
from quantune_mlir.compiler import compile_mlir
from quantune_mlir.gather_barriers import add_gather_barriers
from quantune_mlir.runtime import ModuleRunner
from quantune_mlir.targets import parse_target

SCALE = 0.05
RNG = np.random.default_rng(11)
W3 = RNG.integers(-127, 128, size=(4, 3, 3, 3), dtype=np.int8)
W1 = RNG.integers(-127, 128, size=(4, 3, 1, 1), dtype=np.int8)
WF = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32)
WF8 = RNG.standard_normal((4, 8, 3, 3)).astype(np.float32)


def _dense(w: np.ndarray) -> str:
    return "dense<" + np.array2string(w, separator=", ", threshold=10**6, floatmode="unique").replace("\n", "") + ">"


def _conv(name: str, inp: str, w: str, wtype: str, out: str, etype: str, stride: int, zero: str) -> str:
    return (
        f"  %e_{name} = tensor.empty() : {out}\n"
        f"  %f_{name} = linalg.fill ins({zero} : {etype}) outs(%e_{name} : {out}) -> {out}\n"
        f"  %{name} = linalg.conv_2d_nchw_fchw {{dilations = dense<1> : vector<2xi64>, "
        f"strides = dense<{stride}> : vector<2xi64>}} ins({inp}, {w} : {wtype.split('|')[0]}, {wtype.split('|')[1]}) "
        f"outs(%f_{name} : {out}) -> {out}\n"
    )


MODULE = (
    "#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>\n"
    "func.func @main(%x: tensor<1x3x16x16xf32>, %x8: tensor<1x8x16x16xf32>) -> (tensor<1x4x14x14xi32>, "
    "tensor<1x4x8x8xi32>, tensor<1x4x16x16xi32>, tensor<1x4x14x14xf32>, tensor<1x4x14x14xf32>) {\n"
    "  %e = tensor.empty() : tensor<1x3x16x16xi8>\n"
    '  %q = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}\n'
    "      ins(%x : tensor<1x3x16x16xf32>) outs(%e : tensor<1x3x16x16xi8>) {\n"
    "  ^bb0(%a: f32, %o: i8):\n"
    f"    %s = arith.constant {SCALE} : f32\n"
    "    %lo = arith.constant -128.0 : f32\n"
    "    %hi = arith.constant 127.0 : f32\n"
    "    %d = arith.divf %a, %s : f32\n"
    "    %r = math.roundeven %d : f32\n"
    "    %c1 = arith.maximumf %r, %lo : f32\n"
    "    %c2 = arith.minimumf %c1, %hi : f32\n"
    "    %i = arith.fptosi %c2 : f32 to i8\n"
    "    linalg.yield %i : i8\n"
    "  } -> tensor<1x3x16x16xi8>\n"
    "  %zi = arith.constant 0 : i32\n"
    "  %zf = arith.constant 0.0 : f32\n"
    f"  %w3 = arith.constant {_dense(W3)} : tensor<4x3x3x3xi8>\n"
    f"  %w1 = arith.constant {_dense(W1)} : tensor<4x3x1x1xi8>\n"
    f"  %wf = arith.constant {_dense(WF)} : tensor<4x3x3x3xf32>\n"
    f"  %wf8 = arith.constant {_dense(WF8)} : tensor<4x8x3x3xf32>\n"
    + _conv("y3", "%q", "%w3", "tensor<1x3x16x16xi8>|tensor<4x3x3x3xi8>", "tensor<1x4x14x14xi32>", "i32", 1, "%zi")
    + _conv("y1s2", "%q", "%w1", "tensor<1x3x16x16xi8>|tensor<4x3x1x1xi8>", "tensor<1x4x8x8xi32>", "i32", 2, "%zi")
    + _conv("y1", "%q", "%w1", "tensor<1x3x16x16xi8>|tensor<4x3x1x1xi8>", "tensor<1x4x16x16xi32>", "i32", 1, "%zi")
    + _conv("yf", "%x", "%wf", "tensor<1x3x16x16xf32>|tensor<4x3x3x3xf32>", "tensor<1x4x14x14xf32>", "f32", 1, "%zf")
    + _conv("yf8", "%x8", "%wf8", "tensor<1x8x16x16xf32>|tensor<4x8x3x3xf32>", "tensor<1x4x14x14xf32>", "f32", 1,
            "%zf")
    + "  return %y3, %y1s2, %y1, %yf, %yf8 : tensor<1x4x14x14xi32>, tensor<1x4x8x8xi32>, tensor<1x4x16x16xi32>, "
    "tensor<1x4x14x14xf32>, tensor<1x4x14x14xf32>\n}\n"
)


def _conv_reference(x: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    """Direct NCHW convolution (no padding) in the inputs' own arithmetic."""
    _, kh, kw = w.shape[1:]
    oh = (x.shape[1] - kh) // stride + 1
    ow = (x.shape[2] - kw) // stride + 1
    y = np.zeros((w.shape[0], oh, ow), np.float64 if x.dtype.kind == "f" else np.int64)
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride : i * stride + kh, j * stride : j * stride + kw]
            y[:, i, j] = np.tensordot(w, patch, axes=([1, 2, 3], [0, 1, 2]))
    return y[None]


def _reference(x: np.ndarray, x8: np.ndarray) -> list[np.ndarray]:
    q = np.clip(np.round(x / np.float32(SCALE)), -128, 127).astype(np.int64)[0]
    return [
        _conv_reference(q, W3.astype(np.int64), 1),
        _conv_reference(q, W1.astype(np.int64), 2),
        _conv_reference(q, W1.astype(np.int64), 1),
        _conv_reference(x[0].astype(np.float64), WF.astype(np.float64), 1),
        _conv_reference(x8[0].astype(np.float64), WF8.astype(np.float64), 1),
    ]


def _preprocessed() -> str:
    host = parse_target("host")
    return iree_tools.compile_str(MODULE, extra_args=[*host.flags, *host.recipe, "--compile-to=preprocessing"]).decode()


def test_barriers_on_gathering_int8_matmuls_and_f32_ones_on_few_channels() -> None:
    text, count = add_gather_barriers(_preprocessed())
    # The 3x3 and the strided 1x1 int8 convolutions and the f32 3x3 one on 3
    # channels; not the 1x1 stride-1 int8 one, not the f32 3x3 on 8 channels.
    assert count == 3
    barriers = [line for line in text.splitlines() if "util.optimization_barrier" in line]
    assert len(barriers) == 3
    assert sum("xi8>" in line for line in barriers) == 2
    f32 = [line for line in barriers if "xf32>" in line]
    # The im2col matrix of a 3x3 kernel on 3 channels has 27 columns (72 on 8).
    assert len(f32) == 1 and "x27xf32>" in f32[0]
    # Each barrier feeds a matmul: its value is the matmul's left operand.
    for line in barriers:
        value = line.split("=")[0].strip()
        assert any("linalg.matmul" in m and f"ins({value}," in m for m in text.splitlines())


def test_malformed_text_is_left_to_iree_compile() -> None:
    assert add_gather_barriers("func.func @f(") == ("func.func @f(", 0)


def test_outputs_are_exact_with_the_barriers(tmp_path, monkeypatch) -> None:
    added: list[int] = []

    def spy(text: str) -> tuple[str, int]:
        result = add_gather_barriers(text)
        added.append(result[1])
        return result

    monkeypatch.setattr(compiler, "add_gather_barriers", spy)
    host = parse_target("host")
    module = tmp_path / "gather.vmfb"
    compile_mlir(MODULE, host, module, recipe=True)
    assert added == [3]  # compile_mlir went through the barrier phase
    runner = ModuleRunner(module, host.device)
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        x = (rng.standard_normal((1, 3, 16, 16)) * 3).astype(np.float32)
        x8 = rng.standard_normal((1, 8, 16, 16)).astype(np.float32)
        outputs = [np.asarray(o) for o in runner(x, x8)]
        expected = _reference(x, x8)
        for got, want in zip(outputs[:3], expected[:3]):
            np.testing.assert_array_equal(got, want)
        for got, want in zip(outputs[3:], expected[3:]):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_the_second_phase_keeps_the_layer_locations(monkeypatch) -> None:
    """An error after the barrier phase must still name the ONNX node
    (pipeline.layer_in_error retries that one layer), so the preprocessed
    text carries the input's locations into the second compile."""
    lines = MODULE.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  %y3 = linalg.conv_2d"))
    lines[at] += ' loc("conv_y3_node")'
    located = "\n".join(lines) + "\n"
    seen: list[str] = []
    real = iree_tools.compile_str

    def spy(text: str | bytes, extra_args: list[str]) -> bytes:
        seen.append(text)
        return real(text, extra_args=extra_args)

    monkeypatch.setattr(compiler.iree_tools, "compile_str", spy)
    host = parse_target("host")
    compile_mlir(located, host, recipe=True)
    assert len(seen) == 2  # the preprocessing phase, then the rest
    with ir.Context() as context:
        context.allow_unregistered_dialects = True
        second = ir.Module.parse(seen[1]).operation.get_asm(enable_debug_info=True)
    assert "conv_y3_node" in second
    # ... and the barriers were added to that module.
    assert "util.optimization_barrier" in second
