"""ONNX -> import -> quantune-opt -> iree-compile -> run, against onnxruntime."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import assert_close, onnxruntime_outputs, seeded_input
from quantune_mlir.compiler import compile_mlir
from quantune_mlir.importer import import_onnx
from quantune_mlir.layers import Layer, list_layers
from quantune_mlir.onnx_model import load_onnx
from quantune_mlir.opt import run_quantune_opt
from quantune_mlir.runtime import run_module
from quantune_mlir.targets import parse_target

EXPECTED_LAYERS = {
    "residual_cnn": [
        Layer(0, "stem", "conv2d"),
        Layer(1, "block_conv1", "conv2d"),
        Layer(2, "block_conv2", "conv2d"),
        Layer(3, "down", "conv2d"),
        Layer(4, "fc", "matmul"),
    ],
    "depthwise_net": [
        Layer(0, "stem", "conv2d"),
        Layer(1, "dwconv", "depthwise_conv2d"),
        Layer(2, "pwconv", "conv2d"),
        Layer(3, "head", "matmul"),
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED_LAYERS))
def test_label_layers_names_every_quantizable_onnx_node(model_dir: Path, name: str) -> None:
    imported = import_onnx(load_onnx(model_dir / f"{name}.onnx"))
    labelled = run_quantune_opt(imported, ["--quantune-label-layers"])
    assert [(l.id, l.name, l.kind) for l in list_layers(labelled)] == [
        (l.id, l.name, l.kind) for l in EXPECTED_LAYERS[name]
    ]
    # Labelling is stable: a second run changes nothing.
    assert run_quantune_opt(labelled, ["--quantune-label-layers"]) == labelled


@pytest.mark.parametrize("name", sorted(EXPECTED_LAYERS))
def test_stripped_module_has_no_quantune_attributes(stripped_mlir: dict[str, str], name: str) -> None:
    assert "quantune" not in stripped_mlir[name]
    assert '"linalg.' in stripped_mlir[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_LAYERS))
def test_host_matches_onnxruntime(model_dir: Path, stripped_mlir: dict[str, str], tmp_path: Path, name: str) -> None:
    vmfb = tmp_path / f"{name}.vmfb"
    compile_mlir(stripped_mlir[name], parse_target("host"), vmfb)
    for seed in (0, 1):
        x = seeded_input((1, 3, 32, 32), seed)
        (actual,) = run_module(vmfb, [x], device="local-task")
        (expected,) = onnxruntime_outputs(model_dir / f"{name}.onnx", [x])
        assert_close(actual, expected, rtol=1e-4)


@pytest.mark.parametrize("name", sorted(EXPECTED_LAYERS))
def test_vulkan_lavapipe_matches_onnxruntime(model_dir: Path, stripped_mlir: dict[str, str], tmp_path: Path, name: str) -> None:
    # depthwise_net also covers the channel-major depthwise rewrite that the
    # vulkan target applies: without it lavapipe's result is off by ~70%.
    vmfb = tmp_path / f"{name}_vk.vmfb"
    target = parse_target("vulkan:host")
    compile_mlir(stripped_mlir[name], target, vmfb)
    x = seeded_input((1, 3, 32, 32), 3)
    (actual,) = run_module(vmfb, [x], device=target.device)
    (expected,) = onnxruntime_outputs(model_dir / f"{name}.onnx", [x])
    assert_close(actual, expected, rtol=1e-4)


def _elf_machines(blob: bytes) -> set[int]:
    """e_machine of every ELF image embedded in a module."""
    machines = set()
    start = blob.find(b"\x7fELF")
    while start != -1:
        machines.add(int.from_bytes(blob[start + 18 : start + 20], "little"))
        start = blob.find(b"\x7fELF", start + 4)
    return machines


@pytest.mark.parametrize("target,machine", [("arm64", 0xB7), ("riscv64", 0xF3)])
def test_cross_compile_embeds_elf_for_the_target(stripped_mlir: dict[str, str], target: str, machine: int) -> None:
    vmfb = compile_mlir(stripped_mlir["depthwise_net"], parse_target(target))
    assert _elf_machines(vmfb) == {machine}
