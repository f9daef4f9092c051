"""Never lose the user's data (issue 14), and build the same bytes twice (issue 13).

Every bad-input case checks three things: the exit status, the single
``quantune: error:`` line naming the option at fault, and that the working
directory is exactly as before (every file hashed before and after; nothing
added, nothing changed, no temporary left behind). Cases that must fail
before any work also check that they took less than the analysis would.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest

from quantune_mlir.models import residual_cnn

QUANTUNE = [sys.executable, "-m", "quantune_mlir"]


def snapshot(root: Path) -> dict[str, str]:
    """Every file and directory under ``root``, with the files' hashes."""
    out = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_file():
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[key] = "dir" if path.is_dir() else "special"  # a pipe: never read it
    return out


@pytest.fixture()
def work(tmp_path: Path) -> Path:
    """A directory with a model, calibration data and a plan, as a user has them."""
    onnx.save(residual_cnn(seed=3), tmp_path / "model.onnx")
    rng = np.random.default_rng(0)
    np.save(tmp_path / "calib.npy", rng.standard_normal((4, 1, 3, 32, 32)).astype(np.float32))
    np.save(tmp_path / "x.npy", rng.standard_normal((1, 3, 32, 32)).astype(np.float32))
    (tmp_path / "in.mlir").write_text(
        "func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {\n  return %x : tensor<4xf32>\n}\n"
    )
    return tmp_path


def tmpdir_of(work: Path) -> Path:
    """The TMPDIR the runs of one test get (outside ``work``, one per test)."""
    tmp = work.parent / f"{work.name}-tmp"
    tmp.mkdir(exist_ok=True)
    return tmp


def quantune(work: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TMPDIR": str(tmpdir_of(work))}
    return subprocess.run([*QUANTUNE, *args], cwd=work, capture_output=True, text=True, timeout=timeout, env=env)


def assert_refused(work: Path, args: list[str], *needles: str, seconds: float = 15) -> None:
    before = snapshot(work)
    start = time.monotonic()
    proc = quantune(work, *args)
    elapsed = time.monotonic() - start
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, (args, proc.returncode, proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("quantune: error: "), (args, lines)
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert snapshot(work) == before, f"{args} changed the working directory"
    assert not list((tmpdir_of(work)).iterdir()), "a temporary was left behind"
    assert elapsed < seconds, f"{args} failed only after {elapsed:.1f} s: the check is not before the work"


# --------------------------------------------------------------------------- outputs that name an input

@pytest.mark.parametrize("args, needles", [
    (["quantize", "model.onnx", "--calib", "calib.npy", "-o", "model.onnx"], ["-o 'model.onnx' is the input model"]),
    (["import", "model.onnx", "-o", "model.onnx"], ["-o 'model.onnx' is the input model"]),
    (["analyze", "model.onnx", "--calib", "calib.npy", "-o", "calib.npy"], ["-o 'calib.npy' is the input --calib"]),
    (["compile", "in.mlir", "-o", "in.mlir"], ["-o 'in.mlir' is the input"]),
    (["quantize", "model.onnx", "--calib", "calib.npy", "-o", "m.vmfb", "--save-plan", "model.onnx"],
     ["--save-plan 'model.onnx' is the input model"]),
    (["quantize", "model.onnx", "--calib", "calib.npy", "-o", "./sub/../model.onnx"], ["is the input model"]),
    (["quantize", "model.onnx", "--calib", "calib.npy", "-o", "link.onnx"], ["-o 'link.onnx' is the input model"]),
    (["run", "x.npy", "--input", "x.npy", "-o", "x.npy"], ["-o 'x.npy' is the input"]),
    (["quantize", "model.onnx", "--calib", "calib.npy", "-o", "m.vmfb", "--save-plan", "m.vmfb"],
     ["-o and --save-plan both name 'm.vmfb'"]),
    # The report writes its JSON next to its HTML: r.html -> r.json, here the --eval input.
    (["quantize", "model.onnx", "--calib", "calib.npy", "-o", "m.vmfb", "--report", "r.html", "--eval", "r.json"],
     ["--report (JSON) 'r.json' is the input --eval 'r.json'"]),
])
def test_an_output_that_names_an_input_is_refused(work: Path, args: list[str], needles: list[str]) -> None:
    (work / "sub").mkdir()
    (work / "link.onnx").symlink_to("model.onnx")
    (work / "r.json").write_text("{}")
    assert_refused(work, args, *needles)


def test_quantune_opt_refuses_to_write_over_its_input(work: Path) -> None:
    # Big enough that the driver maps the file (it used to die with SIGBUS and lose it).
    body = "".join(f"  %{i} = arith.addf %x, %x : tensor<4xf32>\n" for i in range(2000))
    (work / "big.mlir").write_text(f"func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {{\n{body}  return %x : tensor<4xf32>\n}}\n")
    before = snapshot(work)
    proc = quantune(work, "opt", "big.mlir", "--canonicalize", "-o", "big.mlir")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "quantune-opt: error: output 'big.mlir' is the input file; write to another path"
    assert snapshot(work) == before


# --------------------------------------------------------------------------- every option checked first

@pytest.mark.parametrize("extra, needles", [
    (["-o", "missing/m.vmfb"], ["-o 'missing/m.vmfb': directory 'missing' does not exist"]),
    (["-o", "m.vmfb", "--target", "vulkan:bogus"], ["--target vulkan:bogus", "Unknown Vulkan target 'bogus'"]),
    (["-o", "m.vmfb", "--budget", "fp32-fraction=2"], ["--budget 'fp32-fraction=2'", "[0, 1]"]),
    (["-o", "m.vmfb", "--budget", "fp32-fraction=-1"], ["--budget 'fp32-fraction=-1'"]),
    (["-o", "m.vmfb", "--budget", "fp32-fraction=nan"], ["--budget 'fp32-fraction=nan'"]),
    (["-o", "m.vmfb", "--budget", "fp32-count=1.5"], ["whole number"]),
    (["-o", "m.vmfb", "--ratio", "0,0,1e999,1"], ["--ratio"]),
    (["-o", "m.vmfb", "--report", "r.html", "--report-budgets=-1,2"], ["--report-budgets '-1,2'", "'-1'"]),
    (["-o", "m.vmfb", "--report", "r.html", "--report-budgets", "-1,2"], ["--report-budgets '-1,2'"]),
    (["-o", "m.vmfb", "--report", "r.html", "--report-budgets", "0.1,x"], ["'x' is not a fraction"]),
    (["-o", "m.vmfb", "--bins", "-4"], ["--bins -4", "positive"]),
    (["-o", "m.vmfb", "--limit", "0"], ["--limit 0"]),
    (["-o", "m.vmfb", "--percentile", "-3"], ["--percentile -3"]),
    (["-o", "m.vmfb", "--emit-mlir", "x.npy"], ["--emit-mlir 'x.npy' is a file"]),
    (["-o", "."], ["-o '.' is a directory"]),
    (["-o", "m.vmfb", "--report", "missing/r.html"], ["--report 'missing/r.html'", "does not exist"]),
    (["-o", "m.vmfb", "--method", "best"], ["--method", "invalid choice"]),
    # Renaming onto a pipe (or a device such as /dev/full) would replace it with a file.
    (["-o", "pipe"], ["-o 'pipe' exists and is not a regular file"]),
    # os.access() says yes to root here; creating a file does not.
    (["-o", "/proc/m.vmfb"], ["-o '/proc/m.vmfb': directory '/proc' is not writable"]),
])
def test_quantize_checks_every_option_before_the_work(work: Path, extra: list[str], needles: list[str]) -> None:
    os.mkfifo(work / "pipe")
    assert_refused(work, ["quantize", "model.onnx", "--calib", "calib.npy", *extra], *needles)


def test_emit_mlir_never_replaces_a_directory_it_did_not_write(work: Path) -> None:
    (work / "notes").mkdir()
    (work / "notes" / "todo.txt").write_text("mine")
    assert_refused(work, ["quantize", "model.onnx", "--calib", "calib.npy", "-o", "m.vmfb", "--emit-mlir", "notes"],
                   "--emit-mlir 'notes' holds 'todo.txt'")


@pytest.mark.skipif(os.geteuid() == 0, reason="running as root, which permission bits do not stop: the directory "
                    "is writable (the '/proc/m.vmfb' case checks the not-writable path instead)")
def test_a_read_only_output_directory_is_refused_first(work: Path) -> None:
    (work / "ro").mkdir()
    (work / "ro").chmod(0o555)
    try:
        assert_refused(work, ["quantize", "model.onnx", "--calib", "calib.npy", "-o", "ro/m.vmfb"], "not writable")
    finally:
        (work / "ro").chmod(0o755)


@pytest.mark.parametrize("args, needles", [
    (["bench", "x.npy", "--threads", "0"], ["--threads 0"]),
    (["bench", "x.npy", "--repetitions", "-2"], ["--repetitions -2"]),
    (["evaluate", "x.npy", "--data", "calib.npy", "--limit", "0"], ["--limit 0"]),
    (["bench", "x.npy", "--json", "missing/b.json"], ["--json 'missing/b.json'"]),
    (["quantize", "model.onnx", "-o"], ["quantize: argument -o/--output: expected one argument",
                                        "see 'quantune quantize --help'"]),
    (["frobnicate"], ["invalid choice: 'frobnicate'"]),
    # Found walking the options (issue 13): these escaped as tracebacks.
    (["run", "sub", "--input", "x.npy"], ["cannot read module 'sub': it is a directory"]),
    (["analyze", "model.onnx", "--calib", "calib.npy", "-o", "p.json", "--limit", "99999999999999999999"],
     ["bad --limit 99999999999999999999"]),
    (["demo", "--workdir", "model.onnx"], ["--workdir 'model.onnx' is a file"]),
])
def test_other_commands_check_options_in_one_line(work: Path, args: list[str], needles: list[str]) -> None:
    (work / "sub").mkdir()
    assert_refused(work, args, *needles)


# --------------------------------------------------------------------------- signals

def _running(pid: int) -> bool:
    """``pid`` exists and is not a zombie (exited, waiting to be reaped)."""
    try:
        return "(zombie)" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_sigterm_stops_the_children_cleans_up_and_exits_143(work: Path) -> None:
    tmp = tmpdir_of(work)
    tmp.mkdir(exist_ok=True)
    before = snapshot(work)
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen([*QUANTUNE, "quantize", "model.onnx", "--calib", "calib.npy", "-o", "m.vmfb",
                             "--save-plan", "p.json", "--emit-mlir", "stages"],
                            cwd=work, env=env, stderr=subprocess.PIPE, text=True)
    # Interrupt iree-compile mid-run: killed, it cannot remove its own
    # temporaries (module_linked-*.so/.o), which must still disappear.
    def compiling() -> bool:
        for child in _children(proc.pid):
            try:
                if b"iree-compile" in Path(f"/proc/{child}/cmdline").read_bytes():
                    return True
            except OSError:
                pass
        return False

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not compiling():
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    time.sleep(0.3)
    children = _children(proc.pid)
    assert children, "no child process was running when the signal was sent"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == "quantune: terminated by SIGTERM"
    assert "Traceback" not in err
    assert snapshot(work) == before  # no module, plan or stage directory, complete or not
    assert not list(tmp.iterdir()), "temporary files were left behind"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_running(child) for child in children):
        time.sleep(0.05)
    assert not [child for child in children if _running(child)], "a child process outlived the run"


# --------------------------------------------------------------------------- all or nothing, reproducible

def test_a_failing_report_leaves_no_module_behind(work: Path) -> None:
    # The report needs --eval data the module can run; a wrong shape fails
    # after the module is built. Nothing may be left: not the module, not the plan.
    np.save(work / "bad_eval.npy", np.zeros((2, 1, 3, 8, 8), np.float32))
    before = snapshot(work)
    proc = quantune(work, "quantize", "model.onnx", "--calib", "calib.npy", "-o", "m.vmfb", "--save-plan", "p.json",
                    "--report", "r.html", "--eval", "bad_eval.npy")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("quantune: error: ")
    assert snapshot(work) == before
    assert not list((tmpdir_of(work)).iterdir())


def test_the_same_command_builds_the_same_bytes(work: Path) -> None:
    """Module (host and arm64), plan and every stage are byte-identical across runs."""
    results = []
    for run in range(2):
        out = work / f"run{run}"
        out.mkdir()
        for target in ("host", "arm64"):
            proc = quantune(work, "quantize", "model.onnx", "--calib", "calib.npy", "--target", target,
                            "-o", f"run{run}/{target}.vmfb", "--save-plan", f"run{run}/{target}.json",
                            "--emit-mlir", f"run{run}/{target}-stages")
            assert proc.returncode == 0, proc.stderr
        results.append(snapshot(out))
    assert results[0] == results[1]
    assert {"host.vmfb", "arm64.vmfb", "host.json", "arm64.json", "host-stages/0-imported.mlir"} <= set(results[0])


def test_concurrent_runs_never_mix_their_stage_directories(work: Path) -> None:
    """Two runs with different precisions write one --emit-mlir directory at
    once: the result is wholly one run's stages, never a mix."""
    alone = {}
    for precision in ("fp32", "int8"):
        proc = quantune(work, "quantize", "model.onnx", "--calib", "calib.npy", "--precision", precision,
                        "-o", f"{precision}.vmfb", "--emit-mlir", f"alone-{precision}")
        assert proc.returncode == 0, proc.stderr
        alone[precision] = snapshot(work / f"alone-{precision}")
    assert alone["fp32"] != alone["int8"]
    env = {**os.environ, "TMPDIR": str(tmpdir_of(work))}
    procs = [
        subprocess.Popen([*QUANTUNE, "quantize", "model.onnx", "--calib", "calib.npy", "--precision", precision,
                          "-o", "shared.vmfb", "--emit-mlir", "shared"], cwd=work, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for precision in ("fp32", "int8")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    assert snapshot(work / "shared") in (alone["fp32"], alone["int8"])
    assert (work / "shared.vmfb").read_bytes() in ((work / "fp32.vmfb").read_bytes(), (work / "int8.vmfb").read_bytes())
    assert not [p for p in work.iterdir() if p.name.startswith(".")], "a staging directory was left behind"
