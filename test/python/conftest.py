"""Shared fixtures: bundled test models and the import/compile steps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from quantune_mlir.importer import import_onnx
from quantune_mlir.models import depthwise_net, residual_cnn
from quantune_mlir.onnx_model import load_onnx
from quantune_mlir.opt import run_quantune_opt

MODEL_BUILDERS = {"residual_cnn": residual_cnn, "depthwise_net": depthwise_net}


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test model saved as <name>.onnx in one session directory."""
    root = tmp_path_factory.mktemp("models")
    for name, build in MODEL_BUILDERS.items():
        onnx.save(build(seed=7), root / f"{name}.onnx")
    return root


@pytest.fixture(scope="session")
def stripped_mlir(model_dir: Path) -> dict[str, str]:
    """Each model imported, labelled and stripped: the text iree-compile takes."""
    out = {}
    for name in MODEL_BUILDERS:
        imported = import_onnx(load_onnx(model_dir / f"{name}.onnx"))
        out[name] = run_quantune_opt(imported, ["--quantune-label-layers", "--quantune-strip"])
    return out


def seeded_input(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def onnxruntime_outputs(model_path: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    return session.run(None, {i.name: x for i, x in zip(session.get_inputs(), inputs)})


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-4) -> None:
    """Max error relative to the largest reference magnitude stays under rtol."""
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    scale = float(np.max(np.abs(expected)))
    err = float(np.max(np.abs(actual.astype(np.float64) - expected))) / scale
    assert err <= rtol, f"relative error {err:.3e} > {rtol:g}"
