"""int8 layers reach ARM's integer dot-product instructions (cross-compiled).

The bundled residual_cnn (four convs and a Gemm) is lowered with every layer
in int8 (``lower_plan(precision="int8")``) or in fp32, and compiled for the
``arm64`` target (``+neon,+dotprod,+i8mm``). IREE 3.13 writes each linked
executable's assembly as text with
``--iree-hal-dump-executable-intermediates-to=DIR`` (``DIR/*.s``, next to
the ``.o``, ``.bc`` and ``.ll`` files); the tests read the instruction
mnemonics from that ``.s`` file. One test disassembles the ``.o`` with
``llvm-objdump -d`` (Debian's LLVM 22) to check that the text assembly and
the object code agree.

What the flags do here (IREE 3.13, this model):

* default flags: the int8 convs and the matmul become widening
  multiply-accumulates (``smlal``/``smlal2``), no dot products;
* ``--iree-opt-data-tiling``: the matmul becomes an mmt4d on i8mm
  (``smmla``); the convs (NCHW) do not change. The ukernel flag
  (``--iree-llvmcpu-enable-ukernels=all``) neither adds nor removes any;
* plus img2col (``iree-global-opt-convert-conv2d-to-img2col`` as a
  preprocessing pipeline): every conv becomes a matmul and goes the same
  way; no ``smlal`` is left;
* with ``+dotprod`` but no ``+i8mm`` the same kernels use ``sdot`` instead.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from quantune_mlir.compiler import compile_mlir
from quantune_mlir.importer import import_onnx
from quantune_mlir.layers import list_layers
from quantune_mlir.lowering import lower_plan
from quantune_mlir.models import residual_cnn
from quantune_mlir.onnx_model import load_onnx
from quantune_mlir.opt import run_quantune_opt
from quantune_mlir.plan import LayerPlan, Plan
from quantune_mlir.targets import parse_target

DOT_PRODUCT = ("sdot", "udot", "usdot", "sudot", "smmla", "ummla", "usmmla")
DATA_TILING = ("--iree-opt-data-tiling",)
UKERNELS = ("--iree-llvmcpu-enable-ukernels=all",)
IMG2COL = ("--iree-preprocessing-pass-pipeline=builtin.module(util.func(iree-global-opt-convert-conv2d-to-img2col))",)
DOTPROD_ONLY = ("--iree-llvmcpu-target-cpu-features=+neon,+dotprod",)
OBJDUMP = Path("/usr/lib/llvm-22/bin/llvm-objdump")

_INSTRUCTION = re.compile(r"^\s+([a-z][a-z0-9.]*)\b", re.M)


@pytest.fixture(scope="module")
def lowered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """residual_cnn with every layer int8, and with every layer fp32."""
    import onnx

    path = tmp_path_factory.mktemp("arm64") / "residual_cnn.onnx"
    onnx.save(residual_cnn(seed=7), path)
    labelled = run_quantune_opt(import_onnx(load_onnx(path)), ["--quantune-label-layers"])
    # Activation qparams written by hand: they decide the numbers, not the
    # instructions, and this module never runs here.
    layers = [
        LayerPlan(id=l.id, name=l.name, kind=l.kind, params=l.params, macs=l.macs, precision="i8",
                  act_scale=0.05, act_zero_point=0)
        for l in list_layers(labelled)
    ]
    assert [l.kind for l in layers] == ["conv2d"] * 4 + ["matmul"]
    plan = Plan(model=str(path), method="manual", budget="none", ratio=[1.0] * 4, calibration={},
                inferences={}, phases_seconds={}, layers=layers)
    return {precision: lower_plan(labelled, plan, precision=precision).text for precision in ("int8", "fp32")}


def compile_arm64(text: str, dump: Path, *flags: str) -> Path:
    """Cross-compiles for arm64, dumping the executable intermediates; returns the .s file."""
    dump.mkdir()
    compile_mlir(text, parse_target("arm64"), extra_flags=[f"--iree-hal-dump-executable-intermediates-to={dump}", *flags])
    (asm,) = dump.glob("*.s")
    assert (dump / f"{asm.stem}.o").is_file()
    return asm


def mnemonics(asm: Path) -> Counter[str]:
    return Counter(_INSTRUCTION.findall(asm.read_text()))


def dot_products(counts: Counter[str]) -> dict[str, int]:
    return {m: counts[m] for m in DOT_PRODUCT if counts[m]}


def test_arm64_target_enables_dotprod_and_i8mm() -> None:
    flags = " ".join(parse_target("arm64").flags)
    assert "--iree-llvmcpu-target-triple=aarch64" in flags
    assert "+dotprod" in flags and "+i8mm" in flags


def test_int8_default_flags_use_no_dot_product(lowered: dict[str, str], tmp_path: Path) -> None:
    """Documents why the flags below are needed: IREE's default path widens
    and multiply-accumulates (smlal) instead."""
    counts = mnemonics(compile_arm64(lowered["int8"], tmp_path / "dump"))
    assert dot_products(counts) == {}
    assert counts["smlal"] + counts["smlal2"] > 0


@pytest.mark.parametrize("flags", [DATA_TILING, DATA_TILING + UKERNELS], ids=["dt", "dt+uk"])
def test_int8_data_tiling_uses_smmla(lowered: dict[str, str], tmp_path: Path, flags: tuple[str, ...]) -> None:
    counts = mnemonics(compile_arm64(lowered["int8"], tmp_path / "dump", *flags))
    assert counts["smmla"] > 0, dot_products(counts)


@pytest.fixture(scope="module")
def img2col_int8_asm(lowered: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    dump = tmp_path_factory.mktemp("img2col") / "dump"
    return compile_arm64(lowered["int8"], dump, *DATA_TILING, *UKERNELS, *IMG2COL)


def test_int8_img2col_puts_every_conv_on_smmla(img2col_int8_asm: Path) -> None:
    counts = mnemonics(img2col_int8_asm)
    assert counts["smmla"] > 0
    assert counts["smlal"] + counts["smlal2"] == 0, "an int8 layer stayed off the dot-product path"


@pytest.mark.skipif(not OBJDUMP.is_file(), reason=f"{OBJDUMP} not installed")
def test_object_code_has_the_same_smmla_as_the_assembly(img2col_int8_asm: Path) -> None:
    obj = img2col_int8_asm.with_suffix(".o")
    disassembly = subprocess.run([str(OBJDUMP), "-d", str(obj)], capture_output=True, text=True, check=True).stdout
    assert len(re.findall(r"\tsmmla\t", disassembly)) == mnemonics(img2col_int8_asm)["smmla"]


def test_int8_without_i8mm_uses_sdot(lowered: dict[str, str], tmp_path: Path) -> None:
    counts = mnemonics(compile_arm64(lowered["int8"], tmp_path / "dump", *DATA_TILING, *IMG2COL, *DOTPROD_ONLY))
    assert counts["sdot"] > 0
    assert counts["smmla"] == 0


def test_fp32_uses_no_integer_dot_product(lowered: dict[str, str], tmp_path: Path) -> None:
    counts = mnemonics(compile_arm64(lowered["fp32"], tmp_path / "dump", *DATA_TILING, *UKERNELS, *IMG2COL))
    assert dot_products(counts) == {}
    assert counts["fmla"] > 0
