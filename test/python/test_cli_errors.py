"""Bad input: one-line message, exit status 2, no partial output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from conftest import seeded_input
from quantune_mlir.cli import main
from quantune_mlir.models import residual_cnn


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    return code, err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("quantune: error: ")
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_import_rejects_a_file_that_is_not_onnx(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "notes.onnx"
    bad.write_text("this is a text file, not a protobuf\n")
    out = tmp_path / "out.mlir"
    code, err = run_cli(capsys, "import", str(bad), "-o", str(out))
    assert_one_line_error(code, err, "notes.onnx", "not an ONNX model")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [bad]


def test_import_rejects_a_missing_file(tmp_path: Path, capsys) -> None:
    code, err = run_cli(capsys, "import", str(tmp_path / "nope.onnx"), "-o", str(tmp_path / "o.mlir"))
    assert_one_line_error(code, err, "nope.onnx", "no such file")


def test_import_names_the_unsupported_op(tmp_path: Path, capsys) -> None:
    graph = helper.make_graph(
        [
            helper.make_node("Relu", ["x"], ["r"], name="relu"),
            helper.make_node("FancyNorm", ["r"], ["y"], name="my_norm", domain="com.example"),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    path = tmp_path / "custom.onnx"
    onnx.save(model, path)
    out = tmp_path / "out.mlir"
    code, err = run_cli(capsys, "import", str(path), "-o", str(out))
    assert_one_line_error(code, err, "unsupported ONNX op", "FancyNorm", "my_norm")
    assert not out.exists()


def _dynamic_batch_model() -> onnx.ModelProto:
    model = residual_cnn(seed=0)
    dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    dim.Clear()
    dim.dim_param = "batch"
    model.graph.output[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    return model


def test_import_sets_a_dynamic_batch_to_one_with_a_note(tmp_path: Path, capsys) -> None:
    path = tmp_path / "dyn.onnx"
    onnx.save(_dynamic_batch_model(), path)
    out = tmp_path / "out.mlir"
    code, err = run_cli(capsys, "import", str(path), "-o", str(out))
    assert code == 0, err
    assert "tensor<1x3x32x32xf32>" in out.read_text()
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "dynamic batch of 'x' set to 1" in notes[0]


def test_import_rejects_other_dynamic_dims_with_a_complete_example(tmp_path: Path, capsys) -> None:
    model = _dynamic_batch_model()
    model.graph.input[0].type.tensor_type.shape.dim[3].dim_param = "width"
    path = tmp_path / "dyn.onnx"
    onnx.save(model, path)
    out = tmp_path / "out.mlir"
    code, err = run_cli(capsys, "import", str(path), "-o", str(out))
    assert_one_line_error(code, err, "'x'", "dynamic", "1x3x32xwidth", "--input-shape x:1x3x32x224")
    assert not out.exists()


def test_input_shape_makes_a_dynamic_model_importable(tmp_path: Path, capsys) -> None:
    path = tmp_path / "dyn.onnx"
    onnx.save(_dynamic_batch_model(), path)
    out = tmp_path / "out.mlir"
    code, err = run_cli(capsys, "import", str(path), "-o", str(out), "--input-shape", "x:2x3x32x32")
    assert code == 0, err
    assert "tensor<2x3x32x32xf32>" in out.read_text()


@pytest.mark.parametrize(
    "spec,needle",
    [("x:1x3", "rank 2"), ("y:1x3x32x32", "unknown input 'y'"), ("x:1x0x3x3", "bad --input-shape"), ("abc", "bad --input-shape")],
)
def test_bad_input_shape_specs(tmp_path: Path, capsys, spec: str, needle: str) -> None:
    path = tmp_path / "dyn.onnx"
    onnx.save(_dynamic_batch_model(), path)
    code, err = run_cli(capsys, "import", str(path), "-o", str(tmp_path / "o.mlir"), "--input-shape", spec)
    assert_one_line_error(code, err, needle)


def test_compile_rejects_unknown_target(tmp_path: Path, capsys) -> None:
    src = tmp_path / "m.mlir"
    src.write_text("module {}\n")
    code, err = run_cli(capsys, "compile", str(src), "--target", "sparc", "-o", str(tmp_path / "m.vmfb"))
    assert_one_line_error(code, err, "unknown target 'sparc'")


def test_compile_reports_malformed_mlir_without_output(tmp_path: Path, capsys) -> None:
    src = tmp_path / "broken.mlir"
    src.write_text('func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {\n  return %b : tensor<4xf32>\n}\n')
    out = tmp_path / "broken.vmfb"
    code, err = run_cli(capsys, "compile", str(src), "--target", "host", "-o", str(out))
    assert_one_line_error(code, err, "iree-compile failed", "error:")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mlir"]


def test_run_rejects_wrong_input_shape(tmp_path: Path, capsys, stripped_mlir) -> None:
    from quantune_mlir.compiler import compile_mlir
    from quantune_mlir.targets import parse_target

    vmfb = tmp_path / "m.vmfb"
    compile_mlir(stripped_mlir["residual_cnn"], parse_target("host"), vmfb)
    x = tmp_path / "x.npy"
    np.save(x, seeded_input((1, 3, 16, 16)))
    code, err = run_cli(capsys, "run", str(vmfb), "--input", str(x))
    assert_one_line_error(code, err, "input 0", "1x3x32x32xf32", "(1, 3, 16, 16)")

    np.save(x, seeded_input((1, 3, 32, 32)).astype(np.float64))
    code, err = run_cli(capsys, "run", str(vmfb), "--input", str(x))
    assert_one_line_error(code, err, "float64")


def test_run_saves_outputs_atomically(tmp_path: Path, capsys, stripped_mlir) -> None:
    from quantune_mlir.compiler import compile_mlir
    from quantune_mlir.targets import parse_target

    vmfb = tmp_path / "m.vmfb"
    compile_mlir(stripped_mlir["residual_cnn"], parse_target("host"), vmfb)
    x = tmp_path / "x.npy"
    np.save(x, seeded_input((1, 3, 32, 32)))
    out = tmp_path / "y.npy"
    code, err = run_cli(capsys, "run", str(vmfb), "--input", str(x), "-o", str(out))
    assert code == 0, err
    assert np.load(out).shape == (1, 10)


def test_run_rejects_a_file_that_is_not_a_module(tmp_path: Path, capsys) -> None:
    bogus = tmp_path / "m.vmfb"
    bogus.write_bytes(b"\x00" * 64)
    x = tmp_path / "x.npy"
    np.save(x, seeded_input((1, 3, 32, 32)))
    code, err = run_cli(capsys, "run", str(bogus), "--input", str(x))
    assert_one_line_error(code, err, "m.vmfb")


def test_opt_reports_malformed_ir_through_diagnostics(tmp_path: Path) -> None:
    src = tmp_path / "bad.mlir"
    src.write_text('%0 = "quantune.fake_quant"() : () -> ()\n')
    proc = subprocess.run(
        [sys.executable, "-m", "quantune_mlir", "opt", str(src), "--quantune-strip"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 1
    assert "error:" in proc.stderr
    assert "Stack dump" not in proc.stderr and "PLEASE submit a bug report" not in proc.stderr


def test_entry_point_exit_status_is_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "quantune_mlir", "import", str(tmp_path / "missing.onnx"), "-o", str(tmp_path / "o")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("quantune: error: ")


def test_run_explains_a_device_mismatch(tmp_path: Path, capsys, stripped_mlir) -> None:
    from quantune_mlir.compiler import compile_mlir
    from quantune_mlir.targets import parse_target

    vmfb = tmp_path / "vk.vmfb"
    compile_mlir(stripped_mlir["residual_cnn"], parse_target("vulkan"), vmfb)
    x = tmp_path / "x.npy"
    np.save(x, seeded_input((1, 3, 32, 32)))
    code, err = run_cli(capsys, "run", str(vmfb), "--input", str(x), "--device", "local-task")
    assert_one_line_error(code, err, "compiled for vulkan devices", "--device")


def test_run_rejects_an_unknown_device(tmp_path: Path, capsys) -> None:
    x = tmp_path / "x.npy"
    np.save(x, seeded_input((1, 3, 32, 32)))
    vmfb = tmp_path / "m.vmfb"
    vmfb.write_bytes(b"\x00")
    code, err = run_cli(capsys, "run", str(vmfb), "--input", str(x), "--device", "tpu9000")
    assert_one_line_error(code, err, "cannot open IREE device 'tpu9000'")
