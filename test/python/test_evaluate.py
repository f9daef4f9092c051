"""quantune evaluate / bench: metrics against numpy, modules against known answers, CLI errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from quantune_mlir.compiler import compile_mlir
from quantune_mlir.errors import QuantuneError
from quantune_mlir.evaluate import (
    EvaluationResult,
    agreement,
    evaluate_module,
    load_evaluation_data,
    mean_kl,
    topk_accuracy,
)
from quantune_mlir.importer import import_onnx
from quantune_mlir.onnx_model import load_onnx
from quantune_mlir.targets import parse_target

FEATURES, CLASSES = 8, 10


def _gemm_model(weight: np.ndarray, bias: np.ndarray, batch: int = 1, two_outputs: bool = False) -> onnx.ModelProto:
    """y = x @ weight + bias (and, with two_outputs, relu(y) as a second output)."""
    nodes = [helper.make_node("Gemm", ["x", "W", "b"], ["y"], name="fc")]
    out_shape = [batch, weight.shape[1]]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)]
    if two_outputs:
        nodes.append(helper.make_node("Relu", ["y"], ["z"], name="relu"))
        outputs.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, out_shape))
    graph = helper.make_graph(
        nodes,
        "classifier",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, weight.shape[0]])],
        outputs,
        [numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _weights(classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((FEATURES, classes)).astype(np.float32),
        rng.standard_normal(classes).astype(np.float32),
    )


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """ONNX models and their host modules: gemm (1x8 -> 1x10), two_out (two results), batched (4x8 -> 4x3)."""
    root = tmp_path_factory.mktemp("evaluate")
    weight, bias = _weights(CLASSES, seed=3)
    small_w, small_b = _weights(3, seed=4)
    built = {
        "gemm": _gemm_model(weight, bias),
        "two_out": _gemm_model(weight, bias, two_outputs=True),
        "batched": _gemm_model(small_w, small_b, batch=4),
    }
    paths: dict[str, Path] = {}
    for name, model in built.items():
        onnx_path = root / f"{name}.onnx"
        onnx.save(model, onnx_path)
        compile_mlir(import_onnx(load_onnx(onnx_path)), parse_target("host"), root / f"{name}.vmfb")
        paths[name] = onnx_path
        paths[f"{name}_vmfb"] = root / f"{name}.vmfb"
    np.save(root / "W.npy", weight)
    np.save(root / "b.npy", bias)
    paths["root"] = root
    return paths


def _numpy_logits(models: dict[str, Path], x: np.ndarray) -> np.ndarray:
    """The gemm model computed by numpy in float64: an independent reference."""
    weight = np.load(models["root"] / "W.npy").astype(np.float64)
    bias = np.load(models["root"] / "b.npy").astype(np.float64)
    return x.astype(np.float64) @ weight + bias


def _labelled_set(models: dict[str, Path], count: int = 40) -> tuple[np.ndarray, np.ndarray, float]:
    """Inputs, labels that are right for exactly 70% of them, and the expected top-5 accuracy."""
    x = np.random.default_rng(11).standard_normal((count, FEATURES)).astype(np.float32)
    logits = _numpy_logits(models, x)
    labels = logits.argmax(axis=1)
    right = int(round(0.7 * count))
    labels[right:] = (labels[right:] + 1) % CLASSES  # wrong by construction
    # top-5 by counting how many classes score strictly higher than the label
    higher = (logits > logits[np.arange(count), labels][:, None]).sum(axis=1)
    return x, labels, float(np.mean(higher < 5))


# --------------------------------------------------------------------------- metrics


def test_topk_accuracy_by_hand_and_against_a_counting_definition() -> None:
    logits = np.array([[1.0, 3.0, 2.0], [5.0, 0.0, 1.0], [0.0, 1.0, 9.0]])
    labels = np.array([2, 0, 0])
    assert topk_accuracy(logits, labels, 1) == pytest.approx(1 / 3)
    assert topk_accuracy(logits, labels, 2) == pytest.approx(2 / 3)
    assert topk_accuracy(logits, labels, 3) == 1.0

    rng = np.random.default_rng(0)
    logits = rng.standard_normal((500, 12))
    labels = rng.integers(0, 12, 500)
    rank = (logits > logits[np.arange(500), labels][:, None]).sum(axis=1)
    for k in (1, 3, 5):
        assert topk_accuracy(logits, labels, k) == pytest.approx(np.mean(rank < k))
    with pytest.raises(QuantuneError, match="between 1 and"):
        topk_accuracy(logits, labels, 13)


def test_mean_kl_by_hand() -> None:
    # softmax([0, 0]) = (1/2, 1/2); softmax([ln 3, 0]) = (3/4, 1/4)
    # KL = 1/2 ln((1/2)/(3/4)) + 1/2 ln((1/2)/(1/4)) = 1/2 ln(4/3)
    ref = np.array([[0.0, 0.0]])
    model = np.array([[np.log(3.0), 0.0]])
    assert mean_kl(model, ref) == pytest.approx(0.5 * np.log(4 / 3), rel=1e-12)

    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((64, 7)), rng.standard_normal((64, 7)) * 3
    p = np.exp(b) / np.exp(b).sum(axis=1, keepdims=True)
    q = np.exp(a) / np.exp(a).sum(axis=1, keepdims=True)
    assert mean_kl(a, b) == pytest.approx(np.mean(np.sum(p * np.log(p / q), axis=1)), rel=1e-10)
    assert mean_kl(a, a) == pytest.approx(0.0, abs=1e-15)
    # invariant to a per-row shift and safe for huge logits
    assert mean_kl(a + 1000.0, b - 500.0) == pytest.approx(mean_kl(a, b), rel=1e-9)


def test_agreement_top1_and_top5() -> None:
    ref = np.array([[0, 9, 0, 0, 0, 0], [9, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 9.0]])
    model = np.array(
        [
            [0, 5, 1, 0, 0, 0],  # same argmax
            [6, 9, 8, 7, 6.5, 0],  # ref top-1 (0) ranks 5th in the model
            [9, 8, 7, 6, 5, 0.0],  # ref top-1 (5) ranks 6th
        ]
    )
    assert agreement(model, ref) == pytest.approx(1 / 3)
    assert agreement(model, ref, 5) == pytest.approx(2 / 3)
    assert agreement(ref, ref) == 1.0


def test_labels_are_validated_against_the_data(tmp_path: Path) -> None:
    x = np.zeros((6, FEATURES), np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(6))
    data = load_evaluation_data(tmp_path / "d.npz", (1, FEATURES))
    assert len(data) == 6 and data.labels.tolist() == list(range(6))
    limited = load_evaluation_data(tmp_path / "d.npz", (1, FEATURES), limit=4)
    assert len(limited) == 4 and limited.labels.tolist() == [0, 1, 2, 3]
    with pytest.raises(QuantuneError, match="5 labels for 6 samples"):
        load_evaluation_data(tmp_path / "d.npz", (1, FEATURES), labels=np.arange(5))
    with pytest.raises(QuantuneError, match="must be integers"):
        load_evaluation_data(tmp_path / "d.npz", (1, FEATURES), labels=np.full(6, 0.5))
    with pytest.raises(QuantuneError, match="one integer per sample"):
        load_evaluation_data(tmp_path / "d.npz", (1, FEATURES), labels=np.zeros((6, 2), np.int64))


# --------------------------------------------------------------------------- modules


def test_accuracy_is_known_by_construction(models: dict[str, Path]) -> None:
    x, labels, top5 = _labelled_set(models)
    result = evaluate_module(models["gemm_vmfb"], x, labels=labels, progress=False)
    assert isinstance(result, EvaluationResult)
    assert (result.samples, result.classes) == (40, CLASSES)
    assert result.top1_accuracy == pytest.approx(0.7)
    assert result.top5_accuracy == pytest.approx(top5)
    assert result.reference is None and result.mean_kl is None


@pytest.mark.parametrize("reference", ["gemm", "gemm_vmfb"])
def test_a_module_agrees_with_its_own_reference(models: dict[str, Path], reference: str) -> None:
    x = np.random.default_rng(5).standard_normal((25, FEATURES)).astype(np.float32)
    result = evaluate_module(models["gemm_vmfb"], x, reference=models[reference], progress=False)
    assert result.top1_agreement == 1.0 and result.top5_agreement == 1.0
    assert result.mean_kl == pytest.approx(0.0, abs=1e-9)
    assert result.max_abs_diff < 1e-4
    assert result.top1_accuracy is None
    assert json.loads(json.dumps(result.as_dict()))["top1_agreement"] == 1.0


def test_batch_axis_runs_rows_in_batches(models: dict[str, Path]) -> None:
    x = np.random.default_rng(6).standard_normal((10, FEATURES)).astype(np.float32)  # 10 = 4 + 4 + 2 (padded)
    weight, bias = _weights(3, seed=4)
    labels = (x.astype(np.float64) @ weight + bias).argmax(axis=1)
    result = evaluate_module(
        models["batched_vmfb"], x, labels=labels, reference=models["batched"], batch_axis=True, progress=False
    )
    assert (result.samples, result.classes) == (10, 3)
    assert result.top1_accuracy == 1.0 and result.top1_agreement == 1.0
    assert result.top5_accuracy is None and result.top5_agreement is None  # fewer than 5 classes
    with pytest.raises(QuantuneError, match="--batch-axis"):
        evaluate_module(models["batched_vmfb"], np.stack([x[:4], x[4:8]]), labels=labels[:2], progress=False)


# --------------------------------------------------------------------------- CLI


def quantune(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quantune_mlir", *map(str, args)], capture_output=True, text=True, timeout=120
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("quantune: error: ")
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_cli_evaluate_prints_and_writes_json(models: dict[str, Path], tmp_path: Path) -> None:
    x, labels, top5 = _labelled_set(models)
    np.savez(tmp_path / "val.npz", x=x, y=labels)
    out = tmp_path / "eval.json"
    proc = quantune("evaluate", models["gemm_vmfb"], "--data", tmp_path / "val.npz",
                    "--reference", models["gemm"], "--json", out)
    assert proc.returncode == 0, proc.stderr
    assert "top-1 70.00%" in proc.stdout and "agreement" in proc.stdout
    assert "evaluating: 40/40" in proc.stderr
    report = json.loads(out.read_text())
    assert report["samples"] == 40 and report["classes"] == CLASSES
    assert report["top1_accuracy"] == pytest.approx(0.7)
    assert report["top5_accuracy"] == pytest.approx(top5)
    assert report["top1_agreement"] == 1.0 and report["mean_kl"] < 1e-9


def test_cli_evaluate_errors(models: dict[str, Path], tmp_path: Path) -> None:
    x, labels, _ = _labelled_set(models)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "short.npy", labels[:-1])
    np.save(tmp_path / "big.npy", np.where(np.arange(len(labels)) == 3, CLASSES, labels))
    np.save(tmp_path / "narrow.npy", x[:, :7])
    np.save(tmp_path / "empty.npy", np.zeros((0, FEATURES), np.float32))
    gemm, out = models["gemm_vmfb"], tmp_path / "out.json"
    cases = [
        (("--data", tmp_path / "x.npy"), ("evaluate needs --labels (or labels in DATA) or --reference",)),
        (("--data", tmp_path / "x.npy", "--labels", tmp_path / "short.npy"), ("39 labels for 40 samples",)),
        (("--data", tmp_path / "x.npy", "--labels", tmp_path / "big.npy"),
         ("label 10 of sample 3 is out of range", "10 output classes")),
        (("--data", tmp_path / "narrow.npy", "--reference", models["gemm"]), ("1x7", "1x8")),
        (("--data", tmp_path / "empty.npy", "--reference", models["gemm"]), ("empty.npy", "empty")),
    ]
    for args, needles in cases:
        assert_one_line_error(quantune("evaluate", gemm, *args, "--json", out), *needles)
    proc = quantune("evaluate", models["two_out_vmfb"], "--data", tmp_path / "x.npy", "--labels",
                    tmp_path / "big.npy", "--json", out)
    assert_one_line_error(proc, "returns 2 results", "1x10xfloat32, 1x10xfloat32")
    assert not out.exists()


def test_cli_bench(models: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = quantune("bench", models["gemm_vmfb"], "--repetitions", "3", "--json", out)
    assert proc.returncode == 0, proc.stderr
    assert "median" in proc.stdout and " ms" in proc.stdout
    report = json.loads(out.read_text())
    assert report["median_ms"] > 0 and report["min_ms"] <= report["median_ms"] <= report["max_ms"]
    assert report["repetitions"] == 3 and report["threads"] == 1
    assert report["module_bytes"] == models["gemm_vmfb"].stat().st_size
    assert_one_line_error(quantune("bench", models["gemm_vmfb"], "--function", "nope"), "no function 'nope'")
