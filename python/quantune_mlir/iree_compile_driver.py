"""``quantune-iree-compile``: iree-compile with the quantune stage in front.

A drop-in for ``iree-compile``. Without ``--quantune-plan`` the input goes to
IREE's compiler as iree-compile would read it. With a plan, the linalg input
is labelled (if needed) and lowered by :func:`quantune_mlir.lowering.lower_plan`
first. Either way the module is compiled IN THIS PROCESS through IREE's
embedding C API as the PyPI wheel exposes it (``iree.compiler.api``: Session,
Invocation, Source, Output), not by running the iree-compile executable.
See docs/iree-integration.md.

Flags are routed as follows:

* ``--quantune-*``: this tool (see ``--help``);
* ``-o``, ``--output-format``, ``--compile-mode``, ``--compile-from``,
  ``--compile-to``, ``--dump-compilation-phases-to``, ``--verify``,
  ``--emit-mlir-bytecode``: iree-compile's own main-program flags,
  re-implemented here on the C API;
* flags the compiler session knows (``Session.get_flags()``: targets, HAL,
  global optimization, preprocessing, VM): ``Session.set_flags``;
* every other flag (``--mlir-*``, codegen and LLVM options, which are
  process-global ``llvm::cl`` options): IREE's global command line
  (``ireeCompilerSetupGlobalCL``, set up once per process as iree-compile
  does), after a check in a child Python process, because LLVM's parser
  exits the process it runs in on a bad flag.

Diagnostics reach a callback (``ireeCompilerInvocationEnableCallbackDiagnostics``):
errors become one :class:`QuantuneError` line (exit status 2), warnings are
printed. The result is written atomically, so a failure leaves no file.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence, TypeVar

from quantune_mlir.errors import QuantuneError

if TYPE_CHECKING:  # importing iree.compiler.api loads the compiler library
    from iree.compiler.api import Invocation, Output, Session

PROG = "quantune-iree-compile"
T = TypeVar("T")

# iree-compile's main-program flags that take a value: the ToolOptions field
# and the accepted values (None: any). They are not compiler-session options.
_TOOL_VALUE_FLAGS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "o": ("output", None),
    "output-format": ("output_format", ("vm-bytecode", "vm-asm", "vm-c")),
    "compile-mode": ("compile_mode", ("std", "vm", "hal-executable", "precompile")),
    "compile-from": ("compile_from", None),
    "compile-to": ("compile_to", None),
    "dump-compilation-phases-to": ("dump_phases_to", None),
}
_TOOL_BOOL_FLAGS = {"verify": "verify", "emit-mlir-bytecode": "emit_mlir_bytecode"}
_UNSUPPORTED_TOOL_FLAGS = (
    "split-input-file", "emit-mlir-bytecode-version", "remarks-filter", "remarks-output-file",
    "iree-hal-list-target-backends", "iree-list-plugins",
)
_QUANTUNE_VALUE_FLAGS = ("--quantune-plan", "--quantune-precision", "--quantune-emit-mlir")

# iree_compiler_pipeline_t and iree_compiler_diagnostic_severity_t
# (iree/compiler/embedding_api.h).
_PIPELINES = {"std": 0, "hal-executable": 1, "precompile": 2, "vm": 3}
_SEVERITY = {0: "note", 1: "warning", 2: "error", 3: "remark"}

_GLOBAL_CL_CHECK = "import sys\nfrom iree.compiler.api import _initializeGlobalCL\n_initializeGlobalCL(*sys.argv[1:])\n"
_global_cl_flags: list[str] | None = None


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

@dataclass
class ToolOptions:
    """iree-compile's own (main-program) options."""

    output: str = "-"
    output_format: str = "vm-bytecode"
    compile_mode: str = "std"
    compile_from: str = "start"
    compile_to: str = "end"
    dump_phases_to: str = ""
    verify: bool = True
    emit_mlir_bytecode: bool = False


@dataclass
class Arguments:
    input: str | None = None
    quantune: argparse.Namespace = field(default_factory=argparse.Namespace)
    tool: ToolOptions = field(default_factory=ToolOptions)
    iree_flags: list[str] = field(default_factory=list)
    help: bool = False
    version: bool = False


class _QuantuneParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise QuantuneError(message)


def _quantune_parser() -> argparse.ArgumentParser:
    from quantune_mlir.lowering import PRECISIONS, STAGES

    p = _QuantuneParser(
        prog=PROG,
        usage=f"{PROG} [iree-compile flags] [--quantune-* flags] INPUT.mlir|- [-o OUTPUT]",
        description="iree-compile with the quantune stage in front, in one process: the linalg input is lowered "
        "for a precision plan (quantune-opt passes), then compiled by IREE's in-process compiler API.",
        epilog="All other flags go to IREE's compiler; see iree-compile --help (give values as --flag=value). "
        "-o FILE (default '-': stdout), --output-format, --compile-mode, --compile-from/--compile-to, "
        "--dump-compilation-phases-to, --verify and --emit-mlir-bytecode behave as in iree-compile. "
        "Without --quantune-plan the tool is iree-compile. Errors print one line and exit with status 2. "
        "See docs/iree-integration.md.",
        allow_abbrev=False,
        add_help=False,
    )
    p.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    p.add_argument("--quantune-plan", metavar="PLAN.json",
                   help="precision plan (quantune analyze); without it nothing quantune happens")
    p.add_argument("--quantune-precision", choices=PRECISIONS, default="plan",
                   help="plan: the plan's choice per layer; int8: every layer with qparams; fp32: none "
                   "(default: plan)")
    p.add_argument("--quantune-no-fold", action="store_true",
                   help="naive form: keep a quantize/dequantize pair around every int8 layer")
    p.add_argument("--quantune-emit-mlir", metavar="DIR",
                   help=f"write the IR after each quantune stage to DIR/<stage>.mlir ({', '.join(STAGES)})")
    p.add_argument("--quantune-label", action="store_true",
                   help="run quantune-label-layers first (default: only when the input has no quantune.layer)")
    return p


def _flag_name(arg: str) -> str:
    return arg.lstrip("-").partition("=")[0]


def split_args(argv: Sequence[str]) -> Arguments:
    """Sorts ``argv`` into the input, quantune flags, iree-compile's own
    flags and the flags for IREE's compiler (kept untouched, in order)."""
    args = Arguments()
    quantune: list[str] = []
    it = iter(argv)
    for arg in it:
        name = _flag_name(arg)
        if arg == "-" or not arg.startswith("-"):
            if args.input is not None:
                raise QuantuneError(
                    f"more than one input ('{args.input}', '{arg}'); give flag values as --flag=value"
                )
            args.input = arg
        elif arg in ("-h", "--help", "-help"):
            args.help = True
        elif arg in ("--version", "-version"):
            args.version = True
        elif arg.startswith("--quantune-"):
            quantune.append(arg)
            value = next(it, None) if arg in _QUANTUNE_VALUE_FLAGS else None
            if value is not None:  # a missing value is left for argparse to report
                quantune.append(value)
        elif name in _TOOL_VALUE_FLAGS:
            attr, choices = _TOOL_VALUE_FLAGS[name]
            value = arg.partition("=")[2] if "=" in arg else next(it, "")
            if not value or (choices and value not in choices):
                expected = f"one of {', '.join(choices)}" if choices else "a value"
                raise QuantuneError(f"-{'-' * (len(name) > 1)}{name} needs {expected}, got '{value}'")
            setattr(args.tool, attr, value)
        elif name in _TOOL_BOOL_FLAGS:
            value = arg.partition("=")[2] if "=" in arg else "true"
            if value not in ("true", "false", "1", "0"):
                raise QuantuneError(f"--{name} takes true or false, got '{value}'")
            setattr(args.tool, _TOOL_BOOL_FLAGS[name], value in ("true", "1"))
        elif name in _UNSUPPORTED_TOOL_FLAGS:
            raise QuantuneError(f"iree-compile's --{name} is not supported by {PROG}; use iree-compile for it")
        else:
            args.iree_flags.append(arg)
    args.quantune = _quantune_parser().parse_args(quantune)
    args.help = args.help or args.quantune.help
    return args


# ---------------------------------------------------------------------------
# IREE's compiler, in process
# ---------------------------------------------------------------------------

_DiagCallback = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)


def _capi() -> ctypes.CDLL:
    """libIREECompiler, with the signatures iree.compiler.api does not bind."""
    from iree.compiler.api import ctypes_dl

    lib = ctypes_dl._dylib
    if not getattr(lib, "_quantune_bound", False):
        sigs: dict[str, list[object]] = {
            "ireeCompilerInvocationEnableCallbackDiagnostics": [ctypes.c_void_p, ctypes.c_int, _DiagCallback,
                                                                ctypes.c_void_p],
            "ireeCompilerInvocationSetCompileFromPhase": [ctypes.c_void_p, ctypes.c_char_p],
            "ireeCompilerInvocationSetCompileToPhase": [ctypes.c_void_p, ctypes.c_char_p],
            "ireeCompilerInvocationSetDumpCompilationPhasesTo": [ctypes.c_void_p, ctypes.c_char_p],
            "ireeCompilerInvocationSetVerifyIR": [ctypes.c_void_p, ctypes.c_bool],
        }
        for fn, argtypes in sigs.items():
            getattr(lib, fn).argtypes = argtypes
            getattr(lib, fn).restype = None
        for fn in ("ireeCompilerInvocationOutputVMCSource", "ireeCompilerInvocationOutputHALExecutable"):
            getattr(lib, fn).argtypes = [ctypes.c_void_p, ctypes.c_void_p]
            getattr(lib, fn).restype = ctypes.c_void_p
        lib._quantune_bound = True
    return lib


class _Diagnostics:
    """Collects an invocation's diagnostics; warnings go to stderr as they come."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.callback = _DiagCallback(self._on_diagnostic)  # kept alive with self

    def _on_diagnostic(self, severity: int, message: int | None, size: int, _user: int | None) -> None:
        text = ctypes.string_at(message, size).decode("utf-8", "replace") if message else ""
        kind = _SEVERITY.get(severity, "error")
        if kind == "error":
            self.errors.append(text)
        else:
            print(f"{PROG}: {kind}: {text}", file=sys.stderr)

    def failure(self, what: str) -> QuantuneError:
        if not self.errors:
            return QuantuneError(f"IREE's compiler failed to {what} (no diagnostic)")
        first = next((line.strip() for line in self.errors[0].splitlines() if line.strip()), "")
        more = len(self.errors) - 1
        return QuantuneError(first + (f" (and {more} more error{'s' * (more > 1)})" if more else ""))


def _iree_call(fn: Callable[[], T], what: str) -> T:
    """Runs an iree.compiler.api call whose errors are raised as ValueError."""
    try:
        return fn()
    except ValueError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise QuantuneError(f"{what}: {'; '.join(lines) or type(exc).__name__}") from None


def _session_flag_names() -> set[str]:
    from iree.compiler.api import Session

    with Session() as session:
        return {_flag_name(flag) for flag in session.get_flags()}


def _check_global_flags(flags: Sequence[str]) -> None:
    """Lets LLVM's parser judge ``flags`` in a child process (on a bad flag it
    exits the process it runs in) and turns its complaint into one line."""
    proc = subprocess.run([sys.executable, "-c", _GLOBAL_CL_CHECK, PROG, *flags], capture_output=True, text=True)
    if proc.returncode == 0:
        return
    lines = [line.removeprefix(f"{PROG}: ").strip() for line in proc.stderr.splitlines() if line.strip()]
    unknown = re.match(r"Unknown command line argument '([^']*)'", lines[0]) if lines else None
    if unknown:
        hint = next((line for line in lines[1:] if line.startswith("Did you mean")), "")
        message = f"unknown IREE flag '{unknown.group(1)}'" + (f" ({hint[0].lower()}{hint[1:]})" if hint else "")
        raise QuantuneError(f"{message}; see iree-compile --help")
    raise QuantuneError(f"bad IREE flag: {lines[0] if lines else f'exit status {proc.returncode}'}")


def _setup_global_flags(flags: list[str]) -> None:
    """Sets up IREE's global command line once per process, as iree-compile
    does, even with no flags: sessions then start from the command-line
    defaults (the C output format, for one, reads its options only there)."""
    global _global_cl_flags
    if _global_cl_flags is not None:
        if flags != _global_cl_flags:
            raise QuantuneError("IREE's global flags can only be set once per process")
        return
    from iree.compiler.api import _initializeGlobalCL

    if flags:
        _check_global_flags(flags)
    _initializeGlobalCL(PROG, *flags)
    _global_cl_flags = flags


def open_session(iree_flags: Sequence[str]) -> Session:
    """A compiler session with ``iree_flags`` applied (bad flags: QuantuneError)."""
    from iree.compiler.api import Session

    session_names = _session_flag_names()
    local = [f for f in iree_flags if _flag_name(f) in session_names]
    _setup_global_flags([f for f in iree_flags if _flag_name(f) not in session_names])
    session = Session()
    if local:
        _set_session_flags(session, local)
    return session


def _set_session_flags(session: Session, flags: Sequence[str]) -> None:
    """``Session.set_flags``; LLVM writes the reason for a bad value straight
    to fd 2, so it is captured there and made the one-line message."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            session.set_flags(*flags)
            return
        except ValueError as exc:
            error = str(exc)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        llvm_said = captured.read().decode("utf-8", "replace")
    lines = [line.strip().lstrip(":").strip() for line in (llvm_said + "\n" + error).splitlines()]
    detail = next((line for line in lines if line and line != "Error parsing flags:"), error)
    raise QuantuneError(f"bad IREE flag: {detail}")


def compile_in_session(
    session: Session,
    tool: ToolOptions,
    *,
    text: str | None = None,
    path: str | None = None,
    name: str = "<stdin>",
) -> bytes:
    """Parses ``text`` (named ``name``) or the file at ``path``, runs IREE's
    pipeline and returns the output iree-compile would write."""
    from iree.compiler.api import Output, Source

    lib = _capi()
    diagnostics = _Diagnostics()
    with session.invocation() as inv:
        lib.ireeCompilerInvocationEnableCallbackDiagnostics(inv._inv_p, 0, diagnostics.callback, None)
        lib.ireeCompilerInvocationSetCompileFromPhase(inv._inv_p, tool.compile_from.encode())
        lib.ireeCompilerInvocationSetCompileToPhase(inv._inv_p, tool.compile_to.encode())
        lib.ireeCompilerInvocationSetDumpCompilationPhasesTo(inv._inv_p, tool.dump_phases_to.encode())
        lib.ireeCompilerInvocationSetVerifyIR(inv._inv_p, tool.verify)
        if text is not None:
            source = _iree_call(lambda: Source.wrap_buffer(session, text.encode() + b"\0", buffer_name=name),
                                "cannot read input")
        else:
            source = _iree_call(lambda: Source.open_file(session, path or "-"), f"cannot read '{path}'")
        if not inv.parse_source(source):
            raise diagnostics.failure("parse the input")
        if not lib.ireeCompilerInvocationPipeline(inv._inv_p, _PIPELINES[tool.compile_mode]):
            raise diagnostics.failure("compile")
        with Output.open_membuffer() as output:
            _emit(lib, inv, output, tool)
            if diagnostics.errors:
                raise diagnostics.failure("write the output")
            return bytes(output.map_memory())


def _emit(lib: ctypes.CDLL, inv: Invocation, output: Output, tool: ToolOptions) -> None:
    """Writes what iree-compile would for ``tool`` into ``output``."""
    from iree.compiler.api.ctypes_dl import _handle_error

    def mlir() -> None:
        if tool.emit_mlir_bytecode:
            inv.output_ir_bytecode(output)
        else:
            inv.output_ir(output)

    def raw(fn: str) -> Callable[[], None]:
        return lambda: _handle_error(getattr(lib, fn)(inv._inv_p, output._output_p))

    if tool.compile_to != "end" or tool.compile_mode == "precompile" or tool.output_format == "vm-asm":
        emit = mlir
    elif tool.compile_mode == "hal-executable":
        emit = raw("ireeCompilerInvocationOutputHALExecutable")
    elif tool.output_format == "vm-c":
        emit = raw("ireeCompilerInvocationOutputVMCSource")
    else:
        emit = lambda: inv.output_vm_bytecode(output)  # noqa: E731
    _iree_call(emit, "cannot write the output")


# ---------------------------------------------------------------------------
# The quantune stage
# ---------------------------------------------------------------------------

def _read_input(path: str) -> str:
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise QuantuneError(f"cannot read '{path}': {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise QuantuneError(
            f"'{path}' is not MLIR text (bytecode does not cross between MLIR versions)"
        ) from None


def _vulkan_target(iree_flags: Sequence[str]) -> bool:
    devices = [f.partition("=")[2] for f in iree_flags
               if _flag_name(f) in ("iree-hal-target-device", "iree-hal-target-backends")]
    return any("vulkan" in d for d in devices)


def _target_passes(iree_flags: Sequence[str]) -> tuple[str, ...]:
    """quantune-opt passes the selected IREE target needs (see targets.py)."""
    from quantune_mlir.targets import parse_target

    return parse_target("vulkan").quantune_passes if _vulkan_target(iree_flags) else ()


def quantune_stage(text: str, options: argparse.Namespace, iree_flags: Sequence[str]) -> str:
    """Labels (if needed) and lowers ``text`` for the plan; writes the stages."""
    from quantune_mlir.fileio import write_text
    from quantune_mlir.lowering import lower_plan
    from quantune_mlir.opt import run_quantune_opt
    from quantune_mlir.plan import load_plan

    plan = load_plan(options.quantune_plan)
    emit_dir = Path(options.quantune_emit_mlir) if options.quantune_emit_mlir else None
    if emit_dir is not None:
        try:
            emit_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise QuantuneError(f"cannot create --quantune-emit-mlir directory '{emit_dir}': {exc.strerror}") from None
    if options.quantune_label or "quantune.layer" not in text:
        text = run_quantune_opt(text, ["--quantune-label-layers"])
    from quantune_mlir.targets import parse_target

    # Vulkan: the int8 forms IREE's SPIR-V backend gets wrong stay f32.
    lowering_options = parse_target("vulkan").lowering_options if _vulkan_target(iree_flags) else ()
    lowered = lower_plan(text, plan, fold=not options.quantune_no_fold, precision=options.quantune_precision,
                         keep_stages=emit_dir is not None, lowering_options=lowering_options)
    for layer_id, reason in sorted(lowered.fallbacks.items()):
        print(f"{PROG}: warning: layer {layer_id} stays f32: {reason}", file=sys.stderr)
    if emit_dir is not None:
        for stage, stage_text in lowered.stages.items():
            write_text(emit_dir / f"{stage}.mlir", stage_text)
    passes = _target_passes(iree_flags)
    text = run_quantune_opt(lowered.text, passes) if passes else lowered.text
    if _im2col_requested(iree_flags):
        from quantune_mlir.fusion_barriers import add_im2col_barriers

        text, _ = add_im2col_barriers(text)
    return text


# iree-compile's phases in order (``--compile-from``/``--compile-to``).
_PHASES = ("start", "input", "abi", "preprocessing", "global-optimization", "dispatch-creation", "flow", "stream",
           "executable-sources", "executable-configurations", "executable-targets", "hal", "vm", "end")
_PREPROCESSING = _PHASES.index("preprocessing")


def _splits_at_preprocessing(tool: ToolOptions, iree_flags: Sequence[str], text: str) -> bool:
    """Whether to compile in two phases with gather barriers between them,
    as ``quantune quantize`` does (:mod:`quantune_mlir.gather_barriers`):
    the flags ask for im2col, the module has convolutions, and the
    requested phases run through preprocessing and past it."""
    from quantune_mlir.compiler import has_convolution

    if tool.compile_mode != "std" or tool.compile_from not in _PHASES or tool.compile_to not in _PHASES:
        return False  # IREE itself says what is wrong with an unknown phase
    return (_im2col_requested(iree_flags) and has_convolution(text)
            and _PHASES.index(tool.compile_from) < _PREPROCESSING < _PHASES.index(tool.compile_to))


def compile_with_gather_barriers(session: Session, tool: ToolOptions, text: str, name: str) -> bytes:
    """:func:`compile_in_session` in two invocations: up to IREE's
    preprocessing, where the gather barriers go in, then the rest."""
    from quantune_mlir.gather_barriers import add_gather_barriers

    # Ending at a phase, the output is that phase's IR; here as text.
    first = replace(tool, compile_to="preprocessing", emit_mlir_bytecode=False)
    preprocessed = compile_in_session(session, first, text=text, name=name).decode()
    text, _ = add_gather_barriers(preprocessed)
    return compile_in_session(session, replace(tool, compile_from="preprocessing"), text=text, name=name)


def _im2col_requested(iree_flags: Sequence[str]) -> bool:
    """Whether the flags turn convolutions into im2col (as the CPU recipe
    does): then a quantize is kept out of the im2col it feeds, as
    ``quantune quantize`` does (:mod:`quantune_mlir.fusion_barriers`)."""
    return any(_flag_name(f) == "iree-preprocessing-pass-pipeline" and "convert-conv2d-to-img2col" in f
               for f in iree_flags)


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------

def _write_output(path: str, data: bytes) -> None:
    """Writes the result atomically, with the permissions iree-compile's would get."""
    from quantune_mlir.fileio import atomic_path

    try:
        if path == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return
        umask = os.umask(0)
        os.umask(umask)
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
            tmp.chmod(0o666 & ~umask)
    except OSError as exc:
        raise QuantuneError(f"cannot write '{path}': {exc.strerror}") from None


def _plan_flags(q: Any, iree_flags: Sequence[str]) -> list[str]:
    """The iree-compile flags the plan's module needs: a plan with i4 layers
    keeps their weights packed (:data:`~quantune_mlir.lowering.KEEP_PACKED`),
    unless the command line already decides on constant evaluation."""
    if not q.quantune_plan:
        return []
    from quantune_mlir.lowering import KEEP_PACKED, plan_annotations
    from quantune_mlir.plan import load_plan

    chosen = plan_annotations(load_plan(q.quantune_plan), q.quantune_precision)
    decided = {_flag_name(flag) for flag in iree_flags}
    if any(e["precision"] == "i4" for e in chosen) and not decided & {_flag_name(f) for f in KEEP_PACKED}:
        return list(KEEP_PACKED)
    return []


def run(args: Arguments) -> int:
    if args.input is None:
        raise QuantuneError("no input file; give INPUT.mlir or '-' for stdin (see --help)")
    q = args.quantune
    if q.quantune_plan == "":
        raise QuantuneError("--quantune-plan needs a file name")
    if not q.quantune_plan:
        used = [flag for flag, on in (("--quantune-emit-mlir", q.quantune_emit_mlir), ("--quantune-no-fold",
                q.quantune_no_fold), ("--quantune-label", q.quantune_label), ("--quantune-precision",
                q.quantune_precision != "plan")) if on]
        if used:
            raise QuantuneError(f"{used[0]} needs --quantune-plan")
    if args.input != "-" and not Path(args.input).is_file():
        raise QuantuneError(f"cannot read '{args.input}': no such file")
    out = args.tool.output
    if out != "-":
        from quantune_mlir.fileio import check_paths

        inputs = {"input": None if args.input == "-" else args.input, "--quantune-plan": q.quantune_plan or None}
        check_paths(inputs, {"-o": out}, {"--quantune-emit-mlir": q.quantune_emit_mlir or None})
    iree_flags = [*args.iree_flags, *_plan_flags(q, args.iree_flags)]
    session = open_session(iree_flags)  # bad flags fail before the quantune stage
    try:
        if q.quantune_plan:
            text = quantune_stage(_read_input(args.input), q, args.iree_flags)
            name = "<stdin>" if args.input == "-" else args.input
            if _splits_at_preprocessing(args.tool, args.iree_flags, text):
                data = compile_with_gather_barriers(session, args.tool, text, name)
            else:
                data = compile_in_session(session, args.tool, text=text, name=name)
        else:
            data = compile_in_session(session, args.tool, path=args.input)
    finally:
        session.close()
    _write_output(out, data)
    return 0


def _print_version() -> None:
    from quantune_mlir import __version__

    lib = _capi()
    lib.ireeCompilerGetRevision.restype = ctypes.c_char_p
    revision = (lib.ireeCompilerGetRevision() or b"").decode() or "(unknown)"
    print(f"{PROG} (quantune-mlir {__version__}); IREE compiler {revision}")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = split_args(list(sys.argv[1:] if argv is None else argv))
        if args.help:
            print(_quantune_parser().format_help())
            return 0
        if args.version:
            _print_version()
            return 0
        return run(args)
    except QuantuneError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
