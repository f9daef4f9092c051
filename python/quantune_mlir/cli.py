"""The ``quantune`` command line."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from quantune_mlir import __version__
from quantune_mlir.errors import QuantuneError
from quantune_mlir.fileio import check_paths, staged_outputs
from quantune_mlir.output_space import DEFAULT_MODE as DEFAULT_OUTPUT_MODE
from quantune_mlir.output_space import MODES as OUTPUT_MODES
from quantune_mlir.range_choice import (
    CALIB_METHODS, DEFAULT_BIAS_CORRECTION, DEFAULT_CALIB_METHOD, DEFAULT_PROPAGATION, DEFAULT_RATIO,
)

EPILOG = """\
one command, model to deployable module:
  quantune quantize model.onnx --calib calib.npy --target host -o model.vmfb

step by step:
  quantune import model.onnx -o model.mlir
  quantune opt model.mlir --quantune-label-layers --quantune-strip -o clean.mlir
  quantune compile clean.mlir --target host -o model.vmfb
  quantune run model.vmfb --input x.npy
  quantune analyze model.onnx --calib calib.npy -o plan.json
  quantune evaluate model.vmfb --data val.npz --reference model.onnx
  quantune bench model.vmfb --threads 1 --repetitions 10

Errors print one line and exit with status 2. See docs/cli.md.
"""


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _cmd_import(args: argparse.Namespace) -> int:
    from quantune_mlir.fileio import write_text
    from quantune_mlir.importer import import_onnx
    from quantune_mlir.onnx_model import load_onnx

    check_paths({"model": args.model}, {"-o": args.output})
    model = load_onnx(args.model, args.input_shape)
    text = import_onnx(model)
    write_text(args.output, text)
    _progress(f"wrote {args.output}")
    return 0


def _cmd_opt(args: argparse.Namespace, rest: Sequence[str]) -> int:
    from quantune_mlir.opt import find_quantune_opt

    return subprocess.run([str(find_quantune_opt()), *rest]).returncode


def _read_text(path: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise QuantuneError(f"cannot read '{p}': no such file")
    try:
        return p.read_text()
    except UnicodeDecodeError:
        raise QuantuneError(f"'{p}' is not MLIR text (bytecode does not cross between MLIR versions)") from None


def _cmd_compile(args: argparse.Namespace) -> int:
    from quantune_mlir.compiler import compile_mlir
    from quantune_mlir.targets import check_target, parse_target

    target = parse_target(args.target)
    check_target(target)
    check_paths({"input": args.input}, {"-o": args.output})
    text = _read_text(args.input)
    vmfb = compile_mlir(text, target, args.output, args.iree_flag, source_name=args.input)
    _progress(f"wrote {args.output} ({len(vmfb)} bytes, target {target.spec})")
    return 0


def _load_input(path: str) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise QuantuneError(f"cannot read input '{p}': no such file")
    try:
        return np.load(p, allow_pickle=False)
    except Exception as exc:
        raise QuantuneError(f"input '{p}' is not a .npy array ({exc})") from None


def _cmd_run(args: argparse.Namespace) -> int:
    from quantune_mlir.emulation import EMULATED_TIME_NOTE, needs_arm64_emulation, require_arm64_runner
    from quantune_mlir.fileio import atomic_path
    from quantune_mlir.runtime import run_module

    check_paths({"module": args.module, **{f"--input #{i + 1}": p for i, p in enumerate(args.input)}},
                {"-o": args.output})
    inputs = [_load_input(p) for p in args.input]
    if needs_arm64_emulation(args.module):
        run = require_arm64_runner().run(args.module, inputs, device=args.device, function=args.function)
        outputs = run.outputs
        _progress(f"ran {run.function} of arm64 module {args.module} under qemu-aarch64 in {run.seconds:.2f} s "
                  f"({EMULATED_TIME_NOTE})")
    else:
        outputs = run_module(args.module, inputs, device=args.device, function=args.function)
    if args.output:
        out = Path(args.output)
        if len(outputs) > 1 and out.suffix != ".npz":
            raise QuantuneError(f"the module returns {len(outputs)} results: give an .npz output path")
        with atomic_path(out) as tmp:
            with open(tmp, "wb") as f:
                if out.suffix == ".npz":
                    np.savez(f, *outputs)
                else:
                    np.save(f, outputs[0])
        _progress(f"wrote {out}")
    else:
        for i, value in enumerate(outputs):
            shape = "x".join(str(d) for d in value.shape)
            print(f"result[{i}]: {shape}{'x' if shape else ''}{value.dtype}")
            print(np.array2string(value, threshold=64, precision=6))
    return 0


def _analysis_kwargs(args: argparse.Namespace) -> dict:
    """The analysis options of the command line, as keyword arguments of the API."""
    from quantune_mlir.api import parse_ratio

    return dict(
        method=args.method,
        budget=args.budget,
        int4=args.int4,
        ratio=parse_ratio(args.ratio, "--ratio"),
        calib_method=args.calib_method,
        bias_correction=args.bias_correction,
        propagation=args.propagation,
        output_error=args.output_error,
        percentile=args.percentile,
        bins=args.bins,
        keep_fp32=[name for group in args.keep_fp32 for name in group.split(",") if name],
        input_shapes=args.input_shape,
        image_spec=args.image_spec,
        limit=args.limit,
    )


def _cmd_analyze(args: argparse.Namespace) -> int:
    from quantune_mlir.api import analyze

    check_paths({"model": args.model, "--calib": args.calib}, {"-o": args.output, "--emit-mlir": args.emit_mlir})
    # Both files appear together, or neither does.
    with staged_outputs({"plan": args.output, "mlir": args.emit_mlir}) as staged:
        result = analyze(
            args.model, args.calib, output=staged["plan"], emit_mlir=staged["mlir"], **_analysis_kwargs(args)
        )
    print(result.table)
    _progress(f"wrote {args.output}" + (f" and {args.emit_mlir}" if args.emit_mlir else ""))
    return 0


def _cmd_quantize(args: argparse.Namespace) -> int:
    from quantune_mlir.api import quantize
    from quantune_mlir.fileio import check_replaceable
    from quantune_mlir.pipeline import STAGE_FILE
    from quantune_mlir.report import default_json_path, write_report
    from quantune_mlir.targets import check_target, parse_target

    if args.calib and args.plan:
        raise QuantuneError("give either --calib (run the analysis) or --plan (reuse one), not both")
    if (args.eval or args.eval_labels or args.report_budgets) and not args.report:
        raise QuantuneError("--eval, --eval-labels and --report-budgets only apply with --report")
    budgets = _report_budgets(args.report_budgets)
    target = parse_target(args.target)
    check_target(target)
    report_json = default_json_path(Path(args.report)) if args.report else None
    check_paths(
        {"model": args.model, "--calib": args.calib, "--plan": args.plan, "--eval": args.eval,
         "--eval-labels": args.eval_labels},
        {"-o": args.output, "--save-plan": args.save_plan, "--report": args.report, "--report (JSON)": report_json},
        {"--emit-mlir": args.emit_mlir},
    )
    if args.emit_mlir:
        check_replaceable(args.emit_mlir, "--emit-mlir", STAGE_FILE)
    # The module, plan, stages and report appear together once all of them
    # are built; a failure or a signal leaves none of them behind.
    with staged_outputs({"module": args.output, "plan": args.save_plan}, {"stages": args.emit_mlir}) as staged:
        result = quantize(
            args.model, staged["module"], calib=args.calib, plan=args.plan, save_plan=staged["plan"],
            target=args.target, precision=args.precision, fold=not args.no_fold, recipe=not args.no_recipe,
            emit_mlir=staged["stages"], **_analysis_kwargs(args),
        )
        if args.report:
            from quantune_mlir.quantize_report import build_report_data

            options = result.details.options
            data = build_report_data(
                result.details, args.model, staged["module"], options, args.eval, args.eval_labels, budgets
            )
            html, js = write_report(args.report, data)
    if args.plan is None or result.plan.layers and any(layer.reason for layer in result.plan.layers):
        print(result.table)
    total = len(result.plan.layers)
    ratio = result.weight_bytes / result.weight_bytes_fp32 if result.weight_bytes_fp32 else 1.0
    integer = (f"{result.int4_layers} i4 (w4a8) and {result.int8_layers} i8 of {total} layers"
               if result.int4_layers else f"{result.int8_layers}/{total} layers int8")
    _progress(
        f"wrote {args.output}: {integer}, "
        f"{result.folded_pairs} quantize/dequantize pairs folded, "
        f"layer weights {result.weight_bytes / 1e6:.2f} MB ({ratio:.2f}x fp32), module {result.module_bytes / 1e6:.2f} MB"
    )
    if args.report:
        _progress(f"wrote {html} and {js}")
    return 0


def _report_budgets(text: str | None) -> list[float]:
    """``--report-budgets 0,0.05,0.1`` as fractions in [0, 1]."""
    if not text:
        return []
    budgets = []
    for item in text.split(","):
        try:
            value = float(item)
        except ValueError:
            value = float("nan")
        if not 0 <= value <= 1:
            raise QuantuneError(
                f"bad --report-budgets '{text}': '{item}' is not a fraction in [0, 1] (of fp32 layers, or with "
                "--int4 of the fp32 weight bytes); "
                "expected e.g. 0,0.05,0.1,0.2"
            )
        budgets.append(value)
    return budgets


def _add_analysis_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", default="quantunev2", choices=["quantunev2", "sweep"], help="default: quantunev2")
    p.add_argument("--budget", default=None,
                   help="how many layers stay fp32: fp32-count=K, fp32-fraction=F, weight-bytes=B, "
                   "weight-fraction=F (of the fp32 weight bytes) or int8-mac-share=P; a weight budget may add a cap, "
                   "e.g. weight-fraction=0.3,fp32-count=2; default: fp32-fraction=0.1, or weight-fraction=0.15 "
                   "with --int4")
    p.add_argument("--int4", action="store_true",
                   help="three tiers: layers may also run with 4-bit weights and 8-bit activations (w4a8). Both "
                   "integer forms are measured in the same two inferences; one ranking (by the w4a8 metrics) is "
                   "cut twice under a weight budget: the least sensitive layers i4, then i8, then fp32")
    default_ratio = ",".join(f"{r:g}" for r in DEFAULT_RATIO)
    p.add_argument("--ratio", default=default_ratio,
                   help="weights of weight_sqnr,act_sqnr,weight_mse,act_mse in the sensitivity (with --propagation "
                   f"the activation terms are measured at the model output); default: {default_ratio}")
    p.add_argument("--calib-method", default=DEFAULT_CALIB_METHOD, choices=list(CALIB_METHODS),
                   help="activation range calibration: one method for every layer, or auto (each layer keeps "
                   "the minmax, percentile or mse range with the lowest local int8 error, measured in "
                   f"inference 2); default: {DEFAULT_CALIB_METHOD}")
    p.add_argument("--bias-correction", action=argparse.BooleanOptionalAction, default=DEFAULT_BIAS_CORRECTION,
                   help="add each int8 layer's mean local error per output channel (measured in inference 2) "
                   f"to its bias; default: {'on' if DEFAULT_BIAS_CORRECTION else 'off'}")
    p.add_argument("--propagation", action=argparse.BooleanOptionalAction, default=None,
                   help="rank layers by their estimated error at the model output: in inference 2 each "
                   "calibration input also runs with one layer in its int8 form (round robin; the range and "
                   "bias correction chosen so far), which measures how that layer's error grows downstream; "
                   "needs at least as many inputs as layers, and ranks better with more; "
                   f"default: {'on' if DEFAULT_PROPAGATION else 'off'} for --method quantunev2")
    p.add_argument("--output-error", default=DEFAULT_OUTPUT_MODE, choices=list(OUTPUT_MODES),
                   help="where the sweep and --propagation compare the model outputs with one layer int8 against "
                   "fp32: auto compares an output that is a probability distribution (a final softmax) as logits "
                   "(centred log-probabilities), since saturated probabilities hide the error on confident "
                   f"inputs; outputs compares every output as it is; default: {DEFAULT_OUTPUT_MODE}")
    p.add_argument("--percentile", type=float, default=99.99, help="for --calib-method percentile; default: 99.99")
    p.add_argument("--bins", type=int, default=128, help="histogram bins per sample in inference 1 (percentile and mse); default: 128")
    p.add_argument("--image-spec", help="preprocessing for an image folder, e.g. "
                   "size=256,crop=224,mean=0.485/0.456/0.406,std=0.229/0.224/0.225,layout=nchw,channels=rgb")
    p.add_argument("--limit", type=int, help="use only the first N calibration inputs")
    p.add_argument("--keep-fp32", action="append", default=[], metavar="NAME[,NAME...]",
                   help="layers that stay fp32 whatever their sensitivity: ONNX node names or layer ids "
                   "(comma-separated, repeatable)")
    p.add_argument("--input-shape", action="append", default=[], metavar="[NAME:]DIMS",
                   help="static shape for an input with dynamic dimensions other than the batch, as for import")


def _write_json(path: str, data: dict) -> None:
    from quantune_mlir.jsonio import write_json

    write_json(path, data)
    _progress(f"wrote {path}")


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from quantune_mlir.calib_data import ImageSpec
    from quantune_mlir.evaluate import evaluate_module

    check_paths({"module": args.module, "--data": args.data, "--labels": args.labels, "--reference": args.reference},
                {"--json": args.json})
    _refuse_foreign_module(args.module, "evaluated")
    if args.limit is not None and not 1 <= args.limit <= sys.maxsize:
        raise QuantuneError(f"bad --limit {args.limit}: expected a positive number of samples")
    image_spec = ImageSpec.parse(args.image_spec) if args.image_spec else None
    result = evaluate_module(
        args.module, args.data, labels=args.labels, reference=args.reference, device=args.device,
        function=args.function, limit=args.limit, batch_axis=args.batch_axis, image_spec=image_spec,
    )
    print(result.summary())
    if args.json:
        _write_json(args.json, result.as_dict())
    return 0


def _refuse_foreign_module(module: str, what: str) -> None:
    """bench and evaluate run on this host's runtime only."""
    from quantune_mlir.emulation import executable_architectures, needs_arm64_emulation

    if not Path(module).is_file():
        return  # the runner names the missing file
    if needs_arm64_emulation(module):
        raise QuantuneError(
            f"'{module}' is an arm64 module; it can only be {what} on ARM hardware (emulated time says nothing "
            "about ARM speed); 'quantune run' checks its outputs under qemu"
        )
    if executable_architectures(module) == {"riscv_64"}:
        raise QuantuneError(f"'{module}' is a riscv64 module: riscv64 is cross-compile only here")


def _format_bytes(size: int) -> str:
    return f"{size / 1e6:.2f} MB" if size >= 1e6 else f"{size / 1e3:.1f} kB"


def _cmd_bench(args: argparse.Namespace) -> int:
    from quantune_mlir.evaluate import module_latency

    check_paths({"module": args.module}, {"--json": args.json})
    _refuse_foreign_module(args.module, "timed")
    if args.threads < 1 or args.repetitions < 1:
        name, value = ("--threads", args.threads) if args.threads < 1 else ("--repetitions", args.repetitions)
        raise QuantuneError(f"bad {name} {value}: expected a positive integer")
    if args.device == "cpu":
        args.device = "local-sync" if args.threads == 1 else "local-task"
    function, latency = module_latency(
        args.module, device=args.device, function=args.function, threads=args.threads, repetitions=args.repetitions,
    )
    size = Path(args.module).stat().st_size
    print(
        f"{function}: median {latency.median_ms:.4f} ms (min {latency.min_ms:.4f} - max {latency.max_ms:.4f} ms, "
        f"stdev {latency.stdev_ms:.4f} ms) over {latency.repetitions} repetitions, "
        f"{latency.threads} thread(s) on {args.device}; module {_format_bytes(size)}"
    )
    if args.json:
        _write_json(args.json, {**latency.as_dict(), "function": function, "device": args.device, "module_bytes": size})
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from quantune_mlir.demo import run_demo

    if Path(args.workdir).exists() and not Path(args.workdir).is_dir():
        raise QuantuneError(f"--workdir '{args.workdir}' is a file; give a directory (new or existing)")
    check_paths({}, {}, {"--workdir": args.workdir})
    return run_demo(Path(args.workdir), args.target, args.model)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (status 2), like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        where = "" if self.prog == "quantune" else f"{self.prog.removeprefix('quantune ')}: "
        raise QuantuneError(f"{where}{message} (see '{self.prog} --help')")


# Options whose value may start with '-' (argparse would take "-1,2" for an
# option): "--report-budgets -1,2" is read as "--report-budgets=-1,2", so the
# value's own check names what is wrong with it.
_SIGNED_VALUE_OPTIONS = {
    "--report-budgets", "--ratio", "--percentile", "--bins", "--limit", "--threads", "--repetitions", "--budget",
}


def _join_signed_values(argv: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in _SIGNED_VALUE_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-") \
                and not argv[i + 1].startswith("--"):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived; unwinds like Ctrl-C so temporaries are removed."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum: int, _frame: object) -> None:
    raise Terminated(signum)


class _PrivateTmpdir:
    """Points ``tempfile`` and ``$TMPDIR`` at a fresh directory until closed."""

    def __init__(self) -> None:
        self._saved_env = os.environ.get("TMPDIR")
        self._saved_tempdir = tempfile.tempdir
        self.path = tempfile.mkdtemp(prefix="quantune-run-")
        os.environ["TMPDIR"] = self.path
        tempfile.tempdir = self.path

    def close(self) -> None:
        if self._saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = self._saved_env
        tempfile.tempdir = self._saved_tempdir
        shutil.rmtree(self.path, ignore_errors=True)


def build_parser() -> argparse.ArgumentParser:
    from quantune_mlir.models import MODELS
    from quantune_mlir.targets import TARGET_HELP

    parser = _Parser(
        prog="quantune",
        description="Quantune-MLIR: compile ONNX models to mixed-precision IREE modules.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"quantune-mlir {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("import", help="ONNX model to linalg-on-tensors MLIR text",
                       description="Import an ONNX model through IREE (in-process) and lower it to "
                       "func + linalg on tensors, printed in generic form that quantune-opt parses.")
    p.add_argument("model", help="the .onnx file")
    p.add_argument("-o", "--output", required=True, help="the .mlir file to write")
    p.add_argument("--input-shape", action="append", default=[], metavar="[NAME:]DIMS",
                   help="static shape for an input with dynamic dimensions, e.g. x:1x3x224x224 "
                   "(repeat for several inputs); a dynamic batch alone becomes 1 without it")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("opt", help="run quantune-opt (all its flags pass through)", add_help=False,
                       description="Runs the quantune-opt pass driver; every argument is passed through.")
    p.set_defaults(func=None)

    p = sub.add_parser("compile", help="MLIR text to an IREE module for a target",
                       description="Compile linalg-on-tensors MLIR with iree-compile for a target.")
    p.add_argument("input", help="the .mlir file (quantune ops must be lowered first)")
    p.add_argument("--target", default="host", help=f"{TARGET_HELP}; default: host")
    p.add_argument("-o", "--output", required=True, help="the .vmfb file to write")
    p.add_argument("--iree-flag", action="append", default=[], metavar="FLAG",
                   help="extra iree-compile flag, e.g. --iree-flag=--iree-opt-data-tiling (repeatable)")
    p.set_defaults(func=_cmd_compile)

    p = sub.add_parser("run", help="run an IREE module on .npy inputs",
                       description="Run a compiled module with IREE's runtime and print or save the results.")
    p.add_argument("module", help="the .vmfb file")
    p.add_argument("--input", action="append", required=True, metavar="X.npy",
                   help="one .npy file per function argument, in order (repeatable)")
    p.add_argument("--device", default="local-task",
                   help="IREE device: local-task (CPU, threaded), local-sync, or vulkan; default: local-task")
    p.add_argument("--function", help="function to call; default: the module's only exported function")
    p.add_argument("-o", "--output", help="save results to .npy (one result) or .npz instead of printing")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("analyze", help="per-layer sensitivity and an int8/fp32 plan (QuantuneV2)",
                       description="Measure every quantizable layer (weight and activation SQNR/MSE), rank the "
                       "layers by sensitivity and keep the most sensitive ones in fp32 under a budget. "
                       "quantunev2 runs the calibration set twice; sweep is the per-layer baseline (n+1 runs). "
                       "See docs/analysis.md.")
    p.add_argument("model", help="the .onnx file")
    p.add_argument("--calib", required=True, metavar="DATA",
                   help="calibration inputs: .npy/.npz (N x input shape), a folder of .npy files, or a folder "
                   "of images with --image-spec")
    p.add_argument("-o", "--output", required=True, help="the plan .json to write")
    _add_analysis_flags(p)
    p.add_argument("--emit-mlir", metavar="FILE", help="also write the annotated MLIR (metrics, qparams, precisions)")
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("quantize", help="ONNX model to a mixed-precision IREE module, in one command",
                       description="Import the model, analyse it (or reuse --plan), lower the int8 layers to "
                       "integer linalg, fold the quantize/dequantize pairs between them and compile for the "
                       "target with the fast code generation recipe. See docs/lowering.md.")
    p.add_argument("model", help="the .onnx file")
    p.add_argument("-o", "--output", required=True, help="the .vmfb file to write")
    p.add_argument("--calib", metavar="DATA", help="calibration inputs, as for analyze")
    p.add_argument("--plan", metavar="PLAN.json", help="reuse a plan from quantune analyze instead of --calib")
    p.add_argument("--save-plan", metavar="PLAN.json", help="also write the plan the analysis produced")
    p.add_argument("--target", default="host", help=f"{TARGET_HELP}; default: host")
    p.add_argument("--precision", default="plan", choices=["plan", "int8", "int4", "fp32"],
                   help="plan: the plan's choice per layer (default); int8: every layer that can be; int4: every "
                   "layer that can be w4a8 (4-bit weights, 8-bit activations), the rest int8; fp32: none")
    p.add_argument("--no-fold", action="store_true",
                   help="keep a quantize/dequantize pair around every int8 layer (the naive form, for comparison)")
    p.add_argument("--no-recipe", action="store_true",
                   help="compile with IREE's default flags instead of im2col + data tiling + microkernels")
    p.add_argument("--emit-mlir", metavar="DIR", help="write the IR of every stage to DIR")
    p.add_argument("--report", metavar="REPORT.html",
                   help="write a self-contained HTML report (and REPORT.json): per-layer table, sensitivity chart, "
                   "fp32 against quantized size, latency and (with --eval) accuracy")
    p.add_argument("--eval", metavar="DATA", help="evaluation data for the report (.npz with x and y, or as --calib)")
    p.add_argument("--eval-labels", metavar="LABELS.npy", help="labels for --eval; without labels the report "
                   "shows top-1 agreement with the fp32 module")
    p.add_argument("--report-budgets", metavar="F1,F2,...",
                   help="also measure the plan re-cut at these fractions of fp32 layers (with --int4: of the fp32 "
                   "weight bytes) for a Pareto plot, e.g. 0,0.05,0.1,0.2")
    _add_analysis_flags(p)
    p.set_defaults(func=_cmd_quantize)

    p = sub.add_parser("evaluate", help="accuracy of a module on labelled data, or agreement with a reference",
                       description="Run a compiled classifier over a data set and report top-1/top-5 accuracy "
                       "against labels and/or top-1/top-5 agreement, mean KL divergence and the largest logit "
                       "difference against a reference model (.vmfb or .onnx in onnxruntime).")
    p.add_argument("module", help="the .vmfb file")
    p.add_argument("--data", required=True, metavar="DATA",
                   help="inputs: an .npz with x (and optionally labels y), an .npy (N x input shape), a folder of "
                   ".npy files, or a folder of images with --image-spec")
    p.add_argument("--labels", metavar="LABELS.npy", help="integer class labels, one per sample (default: y in DATA)")
    p.add_argument("--reference", metavar="REF", help="a reference model: another .vmfb (run on --device) or an .onnx")
    p.add_argument("--device", default="local-task",
                   help="IREE device: local-task (CPU, threaded), local-sync, or vulkan; default: local-task")
    p.add_argument("--function", help="function to call; default: the module's only exported function")
    p.add_argument("--limit", type=int, help="use only the first N samples (and labels)")
    p.add_argument("--batch-axis", action="store_true",
                   help="the module's first input dimension B is a batch: DATA holds single rows "
                   "(N x input shape without it), run B at a time, one label per row")
    p.add_argument("--image-spec", help="preprocessing for an image folder, as for analyze")
    p.add_argument("--json", metavar="OUT.json", help="also write the results as JSON")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("bench", help="latency of a module with iree-benchmark-module",
                       description="Time a compiled module's function with iree-benchmark-module on zero-filled "
                       "inputs of the shapes in its signature; prints the median and spread over repetitions.")
    p.add_argument("module", help="the .vmfb file")
    p.add_argument("--device", default="cpu",
                   help="IREE device: local-task (CPU, threaded), local-sync (CPU, on the calling thread), vulkan, "
                   "or cpu: local-sync for --threads 1 (no task-system overhead, as a single-core deployment "
                   "runs), local-task otherwise; default: cpu")
    p.add_argument("--threads", type=int, default=1, help="worker threads (local-task only); default: 1")
    p.add_argument("--repetitions", type=int, default=10, help="timed repetitions; default: 10")
    p.add_argument("--function", help="function to time; default: the module's only exported function")
    p.add_argument("--json", metavar="OUT.json", help="also write the latency (ms) and module size as JSON")
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("demo", help="build the bundled model, import, compile, run, compare with onnxruntime",
                       description="The end-to-end check on a bundled model: build it, import it, label its "
                       "layers, compile it, run it and compare the output with onnxruntime.")
    p.add_argument("--workdir", default="out/demo", help="where to write the artifacts; default: out/demo")
    p.add_argument("--target", default="host", help="host or vulkan[:ARCH]; default: host")
    p.add_argument("--model", default="residual_cnn", choices=sorted(MODELS), help="bundled model; default: residual_cnn")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # SIGTERM and SIGHUP unwind like Ctrl-C: child processes are killed
    # (subprocess.run does that on any exception) and the temporary files
    # and directories are removed on the way out.
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)}
    # One private temporary directory for this run and its child processes
    # (TMPDIR is inherited): whatever a killed iree-compile leaves behind is
    # removed with it.
    private = _PrivateTmpdir()
    try:
        if argv and argv[0] == "opt":
            return _cmd_opt(argparse.Namespace(), argv[1:])
        args = build_parser().parse_args(_join_signed_values(argv))
        return args.func(args)
    except QuantuneError as exc:
        print(f"quantune: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("quantune: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a disk that fills up, a file system that turns read-only, ...
        where = f" ('{exc.filename}')" if exc.filename else ""
        print(f"quantune: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except Terminated as exc:
        print(f"quantune: terminated by {signal.Signals(exc.signum).name}", file=sys.stderr)
        return 128 + exc.signum
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        private.close()


if __name__ == "__main__":
    sys.exit(main())
