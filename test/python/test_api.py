"""The Python entry points quantune_mlir.pipeline / analyze: several inputs,
per-layer fallback, --keep-fp32 and fp32 without calibration data, checked
against onnxruntime."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import quantune_mlir as qt
from quantune_mlir.cli import main
from quantune_mlir.runtime import run_module

from conftest import assert_close, onnxruntime_outputs

RNG = np.random.default_rng(3)


def _init(name: str, shape: tuple[int, ...], scale: float = 0.3) -> onnx.TensorProto:
    return numpy_helper.from_array((RNG.standard_normal(shape) * scale).astype(np.float32), name)


def two_input_model() -> onnx.ModelProto:
    """image -> conv -> relu -> global pool -> flatten ─┐
       meta  -> gemm -> relu ───────────────────────────┴ add -> gemm -> logits"""
    nodes = [
        helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], name="conv_image", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu_image"),
        helper.make_node("GlobalAveragePool", ["r1"], ["p1"], name="pool"),
        helper.make_node("Flatten", ["p1"], ["f1"], name="flatten"),
        helper.make_node("Gemm", ["meta", "w2", "b2"], ["g2"], name="gemm_meta", transB=1),
        helper.make_node("Relu", ["g2"], ["r2"], name="relu_meta"),
        helper.make_node("Add", ["f1", "r2"], ["s"], name="join"),
        helper.make_node("Gemm", ["s", "w3", "b3"], ["logits"], name="classifier", transB=1),
    ]
    inits = [_init("w1", (8, 3, 3, 3)), _init("b1", (8,), 0.1), _init("w2", (8, 5)), _init("b2", (8,), 0.1),
             _init("w3", (4, 8)), _init("b3", (4,), 0.1)]
    graph = helper.make_graph(
        nodes, "two_inputs",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 8, 8]),
         helper.make_tensor_value_info("meta", TensorProto.FLOAT, ["batch", 5])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 4])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def samples(n: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{"image": rng.standard_normal((1, 3, 8, 8)).astype(np.float32),
             "meta": rng.standard_normal((1, 5)).astype(np.float32)} for _ in range(n)]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("api") / "two_inputs.onnx"
    onnx.save(two_input_model(), path)
    return path


def _sqnr_db(actual: np.ndarray, expected: np.ndarray) -> float:
    err = float(np.sum((actual.astype(np.float64) - expected) ** 2))
    return 10 * np.log10(float(np.sum(expected.astype(np.float64) ** 2)) / max(err, 1e-30))


def test_quantize_two_inputs_from_dicts_matches_onnxruntime(model_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.vmfb"
    result = qt.quantize(model_path, out, calib=samples(16), precision="int8", save_plan=tmp_path / "p.json")
    assert result.module_path == out and out.is_file()
    assert result.int8_layers == 3  # every layer: two gemms and the conv
    assert {"conv_image", "gemm_meta", "classifier"} <= set(result.table.split())
    check = samples(4, seed=9)
    for sample in check:
        (got,) = run_module(out, [sample["image"], sample["meta"]])
        (want,) = onnxruntime_outputs(model_path, [sample["image"], sample["meta"]])
        assert _sqnr_db(got, want) > 25.0
    saved = json.loads((tmp_path / "p.json").read_text())
    assert [layer["precision"] for layer in saved["layers"]] == ["i8", "i8", "i8"]


def test_fp32_needs_no_calibration_and_matches_onnxruntime(model_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "f.vmfb"
    result = qt.quantize(model_path, out, precision="fp32", save_plan=tmp_path / "p.json")
    assert result.int8_layers == 0
    # The saved plan is a valid plan: it builds an fp32 module again.
    again = qt.quantize(model_path, tmp_path / "g.vmfb", plan=tmp_path / "p.json")
    assert again.int8_layers == 0 and again.module_bytes == result.module_bytes
    sample = samples(1, seed=5)[0]
    (got,) = run_module(out, [sample["image"], sample["meta"]])
    (want,) = onnxruntime_outputs(model_path, [sample["image"], sample["meta"]])
    assert_close(got, want, rtol=1e-4)


def test_precision_on_a_saved_plan_is_what_the_table_and_saved_plan_show(model_path: Path, tmp_path: Path) -> None:
    """``--plan P --precision int8`` builds every layer int8 whatever P's cut
    was: the table, the saved plan and the module agree on that."""
    planned = tmp_path / "p.json"
    first = qt.quantize(model_path, tmp_path / "a.vmfb", calib=samples(8), budget="fp32-count=1", save_plan=planned)
    assert first.int8_layers == 2 and "2/3 layers in i8" in first.table
    for precision, int8_layers, want in (("int8", 3, ["i8", "i8", "i8"]), ("fp32", 0, ["f32", "f32", "f32"])):
        saved = tmp_path / f"{precision}.json"
        result = qt.quantize(model_path, tmp_path / f"{precision}.vmfb", plan=planned, precision=precision,
                             save_plan=saved)
        assert result.int8_layers == int8_layers
        assert f"{int8_layers}/3 layers in i8" in result.table
        assert f"method --precision {precision} on a quantunev2 plan, budget none" in result.table
        assert [layer["precision"] for layer in json.loads(saved.read_text())["layers"]] == want
    # The input plan is left as it was.
    assert [layer["precision"] for layer in json.loads(planned.read_text())["layers"]].count("f32") == 1


def test_analyze_with_an_npz_per_input_and_keep_fp32(model_path: Path, tmp_path: Path) -> None:
    data = samples(8)
    npz = tmp_path / "calib.npz"
    np.savez(npz, image=np.stack([d["image"] for d in data]), meta=np.stack([d["meta"] for d in data]))
    result = qt.analyze(model_path, str(npz), keep_fp32=["classifier"], budget="fp32-count=0", output=tmp_path / "p.json")
    by_name = {layer.name: layer for layer in result.plan.layers}
    assert by_name["classifier"].precision == "f32"
    assert by_name["classifier"].reason == "kept f32 by request (--keep-fp32)"
    assert by_name["conv_image"].precision == by_name["gemm_meta"].precision == "i8"
    assert "* layer 2 stays f32: kept f32 by request" in result.table
    assert result.plan_path is not None and result.plan_path.is_file()


def test_missing_input_in_calibration_is_named(model_path: Path, tmp_path: Path) -> None:
    npz = tmp_path / "calib.npz"
    np.savez(npz, image=np.stack([d["image"] for d in samples(4)]))
    with pytest.raises(qt.QuantuneError, match="no array for model input 'meta'"):
        qt.analyze(model_path, str(npz))


def test_unknown_output_error_mode_is_refused_before_any_work(model_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    with pytest.raises(qt.QuantuneError, match="unknown --output-error 'probabilities'; expected one of auto, outputs"):
        qt.analyze(model_path, np.zeros((2, 1)), output=out, output_error="probabilities")
    assert not out.exists()


def test_unknown_keep_fp32_name_is_one_line_before_the_inferences(model_path: Path, tmp_path: Path, capsys) -> None:
    npz = tmp_path / "calib.npz"
    data = samples(4)
    np.savez(npz, image=np.stack([d["image"] for d in data]), meta=np.stack([d["meta"] for d in data]))
    out = tmp_path / "p.json"
    code = main(["analyze", str(model_path), "--calib", str(npz), "-o", str(out), "--keep-fp32", "conv_image,not_a_layer"])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    errors = [line for line in err.splitlines() if "error" in line]
    assert errors == [errors[-1]] and errors[0].startswith("quantune: error: --keep-fp32 names no layer: 'not_a_layer'")
    assert "inference" not in err  # found before any model run


def test_layer_the_lowering_refuses_falls_back_per_layer(model_path: Path, tmp_path: Path) -> None:
    """A plan whose conv input scale is tiny: the folded bias cannot fit i32,
    so that layer stays f32 with the reason, and the others stay int8."""
    plan_path = tmp_path / "p.json"
    qt.quantize(model_path, tmp_path / "a.vmfb", calib=samples(8), precision="int8", save_plan=plan_path)
    plan = json.loads(plan_path.read_text())
    conv = next(layer for layer in plan["layers"] if layer["name"] == "conv_image")
    conv["act_scale"] = 1e-12
    plan_path.write_text(json.dumps(plan))

    out = tmp_path / "b.vmfb"
    result = qt.quantize(model_path, out, plan=plan_path, save_plan=tmp_path / "p2.json")
    assert set(result.fallbacks) == {"conv_image"}
    assert "input scale" in result.fallbacks["conv_image"] and "tiny" in result.fallbacks["conv_image"]
    assert result.int8_layers == 2
    saved = {layer["name"]: layer for layer in json.loads((tmp_path / "p2.json").read_text())["layers"]}
    assert saved["conv_image"]["precision"] == "f32" and saved["conv_image"]["reason"] == result.fallbacks["conv_image"]
    sample = samples(1, seed=11)[0]
    (got,) = run_module(out, [sample["image"], sample["meta"]])
    (want,) = onnxruntime_outputs(model_path, [sample["image"], sample["meta"]])
    assert _sqnr_db(got, want) > 25.0


def test_analysis_sees_the_tiny_input_scale_before_the_cut(model_path: Path, tmp_path: Path) -> None:
    """Calibration images around 1e-9 give the conv a tiny input scale: the
    analysis keeps it f32 with the reason instead of failing later."""
    data = samples(8)
    for d in data:
        d["image"] = d["image"] * np.float32(1e-9)
    result = qt.analyze(model_path, data, budget="fp32-count=0")
    conv = next(layer for layer in result.plan.layers if layer.name == "conv_image")
    assert conv.precision == "f32" and conv.reason and "tiny" in conv.reason
    assert [layer.precision for layer in result.plan.layers if layer.name != "conv_image"] == ["i8", "i8"]


def test_layer_iree_cannot_compile_in_int8_is_retried_in_fp32(model_path: Path, tmp_path: Path, monkeypatch) -> None:
    """iree-compile's diagnostic names the int8 layer's ONNX node: that layer
    is first lowered again with its start values in the accumulator's init;
    when that fails too it becomes f32 with the reason, and the module is
    built again."""
    import quantune_mlir.pipeline as pipeline
    from quantune_mlir.compiler import CompileError

    real_compile = pipeline.compile_mlir
    calls: list[int] = []

    def flaky_compile(text: str, *args, **kwargs):
        calls.append(text.count("i8"))
        if len(calls) <= 2:
            raise CompileError("iree-compile failed for target host: error: stack allocation limit exceeded",
                               '<unknown>:0: error: loc("gemm_meta"): \'func.func\' op exceeded stack allocation limit')
        return real_compile(text, *args, **kwargs)

    monkeypatch.setattr(pipeline, "compile_mlir", flaky_compile)
    out = tmp_path / "m.vmfb"
    result = qt.quantize(model_path, out, calib=samples(8), precision="int8")
    # The retry with the start in the init keeps every int8 value; the
    # third module, with gemm_meta f32, has fewer.
    assert len(calls) == 3 and calls[1] == calls[0] and calls[2] < calls[0]
    assert set(result.fallbacks) == {"gemm_meta"}
    assert result.fallbacks["gemm_meta"].startswith("IREE cannot compile its int8 form")
    assert result.int8_layers == 2 and out.is_file()


def test_missing_output_directory_is_reported_before_any_work(model_path: Path, tmp_path: Path, capsys) -> None:
    code = main(["quantize", str(model_path), "--precision", "fp32", "-o", str(tmp_path / "m.vmfb"),
                 "--save-plan", str(tmp_path / "no" / "such" / "plan.json")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [f"quantune: error: --save-plan '{tmp_path / 'no' / 'such' / 'plan.json'}': directory "
                   f"'{tmp_path / 'no' / 'such'}' does not exist"]
    assert not (tmp_path / "m.vmfb").exists()


def test_emit_mlir_naming_a_file_is_reported_before_any_work(model_path: Path, tmp_path: Path, capsys) -> None:
    taken = tmp_path / "stages"
    taken.write_text("not a directory\n")
    code = main(["quantize", str(model_path), "--precision", "fp32", "-o", str(tmp_path / "m.vmfb"),
                 "--emit-mlir", str(taken)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [f"quantune: error: --emit-mlir '{taken}' is a file; it must be a directory (new or existing)"]
    assert taken.read_text() == "not a directory\n" and not (tmp_path / "m.vmfb").exists()


def test_analyze_output_in_a_missing_directory_fails_before_the_inferences(model_path: Path, tmp_path: Path,
                                                                          capsys) -> None:
    npz = tmp_path / "calib.npz"
    data = samples(2)
    np.savez(npz, image=np.stack([d["image"] for d in data]), meta=np.stack([d["meta"] for d in data]))
    out = tmp_path / "missing" / "plan.json"
    code = main(["analyze", str(model_path), "--calib", str(npz), "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [f"quantune: error: -o '{out}': directory '{out.parent}' does not exist"]
