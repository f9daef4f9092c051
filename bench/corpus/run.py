"""Runs the coverage corpus through `quantune quantize` and writes docs/coverage.md.

For every gathered model (bench/corpus/gather.py) and each mode (the
default plan, ``--precision int8``, ``--precision fp32``) this runs

    quantune quantize MODEL --calib calib.npz --target host -o OUT.vmfb --save-plan PLAN.json [--precision P]

as a subprocess with a timeout, records the status, the one-line error and
the time, then (in another subprocess, so a crash in the runtime cannot take
the runner down) runs the module and onnxruntime fp32 on the check inputs:

- fp32 mode: max relative error against onnxruntime (max |a - r| / max |r|
  over all outputs and check samples; target 1e-4);
- default and int8 modes: output SQNR in dB (10 log10 sum r^2 / sum (a - r)^2,
  per output, the lowest reported) and top-1 agreement (argmax over the last
  axis of the model's class output, per time step for sequence outputs).

The plan gives the layers int8/fp32 and the fp32 fallbacks counted by kind of
reason; the summary line gives "N quantize/dequantize pairs folded".

``--input-shape`` is passed only where the manifest has an override (dynamic
dims other than the batch); a model whose only dynamic dim is the batch runs
without it.

Results are cached per model and mode under ``<cache>/_runs`` and keyed by
the model, its inputs, the command and a fingerprint of the quantune package
and quantune-opt, so a rerun only redoes what changed (``--force`` redoes
all). Writes the raw results as JSON (``--json``) and the Markdown table
(``--md``).

Usage:
  python bench/corpus/run.py [--cache DIR] [--models a,b] [--modes plan,int8,fp32] [--timeout 600]
                             [--json bench/out/coverage.json] [--md docs/coverage.md] [--force]
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from corpus import MODELS, CorpusError, default_cache, load_manifest, select  # noqa: E402

MODES = ("plan", "int8", "fp32")
MODE_LABEL = {"plan": "default", "int8": "int8", "fp32": "fp32"}
SUMMARY = re.compile(r"wrote .*?: (\d+)/(\d+) layers int8, (\d+) quantize/dequantize pairs folded")
FP32_TARGET = 1e-4


# --------------------------------------------------------------------------- helpers


def quantune_exe() -> str:
    exe = Path(sys.executable).with_name("quantune")
    return str(exe) if exe.is_file() else "quantune"


def snapshot_opt(cache: Path, wait: float = 300) -> Path:
    """A private copy of quantune-opt for this run, so a rebuild during a long run does not mix binaries.

    Waits up to ``wait`` seconds for the binary (a rebuild may have removed it); sets QUANTUNE_OPT for the
    quantize subprocesses.
    """
    src = Path(os.environ.get("QUANTUNE_OPT") or ROOT / "build" / "bin" / "quantune-opt")
    deadline = time.monotonic() + wait
    while not src.is_file():
        if time.monotonic() > deadline:
            raise SystemExit(f"run: error: {src} not found; run `make build` or set QUANTUNE_OPT")
        time.sleep(5)
    time.sleep(1)  # let a linker that just wrote it finish
    data = src.read_bytes()
    dest = cache / "_bin" / f"quantune-opt-{hashlib.sha256(data).hexdigest()[:16]}"
    if not dest.is_file():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.chmod(0o755)
        tmp.replace(dest)
    os.environ["QUANTUNE_OPT"] = str(dest)
    return dest


def fingerprint() -> str:
    """Changes whenever the quantune package, quantune-opt (the snapshot's content hash) or the IREE versions change."""
    h = hashlib.sha256()
    pkg = ROOT / "python" / "quantune_mlir"
    for p in sorted(pkg.rglob("*.py")):
        h.update(p.relative_to(pkg).as_posix().encode())
        h.update(p.read_bytes())
    h.update(Path(os.environ.get("QUANTUNE_OPT", "")).name.encode())
    from importlib import metadata

    for dist in ("iree-base-compiler", "iree-base-runtime", "onnx", "onnxruntime"):
        try:
            h.update(f"{dist}={metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:
            pass
    return h.hexdigest()[:16]


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def one_line_error(stderr: str, stdout: str) -> str:
    lines = [ln.strip() for ln in (stderr + "\n" + stdout).splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("quantune: error:"):
            return ln[len("quantune: error:"):].strip()
    for ln in reversed(lines):
        if re.match(r"^[A-Za-z_.]+(Error|Exception|Fault)\b", ln) or "error" in ln.lower():
            return ln
    return lines[-1] if lines else "(no output)"


def reason_kind(reason: str) -> str:
    """A reason without its numbers and names, so that the same cause counts once."""
    r = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`", "X", reason)
    r = re.sub(r"\b\d+(\.\d+)?(e[-+]?\d+)?\b", "N", r)
    r = re.sub(r"\s+", " ", r).strip()
    return r[:90]


def parse_plan(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    layers = data.get("layers", [])
    reasons: collections.Counter[str] = collections.Counter()
    for layer in layers:
        if layer.get("precision") != "i8":
            reasons[reason_kind(layer["reason"]) if layer.get("reason") else "budget"] += 1
    return {
        "layers": len(layers),
        "plan_int8": sum(1 for layer in layers if layer.get("precision") == "i8"),
        "plan_fp32": sum(1 for layer in layers if layer.get("precision") != "i8"),
        "fallbacks": dict(reasons.most_common()),
        "kinds": dict(collections.Counter(layer.get("kind", "?") for layer in layers)),
    }


# --------------------------------------------------------------------------- evaluation (subprocess)


def evaluate(model_dir: Path, vmfb: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Module vs onnxruntime fp32 on the check set."""
    import numpy as np
    import onnxruntime

    from quantune_mlir.runtime import ModuleRunner

    check = np.load(model_dir / manifest["check"]["file"])
    names = [i["name"] for i in manifest["inputs"]]
    count = check[names[0]].shape[0]
    session = onnxruntime.InferenceSession(str(model_dir / manifest["file"]), providers=["CPUExecutionProvider"])
    runner = ModuleRunner(str(vmfb))
    got: list[list[Any]] = []
    ref: list[list[Any]] = []
    for i in range(count):
        xs = [np.ascontiguousarray(check[n][i]) for n in names]
        ref.append(session.run(None, dict(zip(names, xs))))
        got.append([np.asarray(a) for a in runner(*xs)])
    n_out = len(ref[0])
    if len(got[0]) != n_out:
        return {"eval_error": f"module returns {len(got[0])} outputs, onnxruntime {n_out}"}
    rel, sqnr, nan = [], [], False
    for k in range(n_out):
        r = np.concatenate([np.asarray(s[k], dtype=np.float64).ravel() for s in ref])
        a = np.concatenate([np.asarray(s[k], dtype=np.float64).ravel() for s in got])
        if r.shape != a.shape:
            return {"eval_error": f"output {k} has {a.size} values, onnxruntime {r.size}"}
        if not np.isfinite(a).all():
            nan = True
            rel.append(float("inf"))
            sqnr.append(float("-inf"))
            continue
        scale = float(np.max(np.abs(r))) or 1.0
        rel.append(float(np.max(np.abs(a - r))) / scale)
        err = float(np.sum((a - r) ** 2))
        sig = float(np.sum(r ** 2))
        sqnr.append(200.0 if err == 0 else (10 * np.log10(sig / err) if sig > 0 else float("-inf")))
    out: dict[str, Any] = {"rel_err": max(rel), "rel_err_per_output": rel, "sqnr_db": min(sqnr),
                           "sqnr_db_per_output": sqnr, "non_finite": nan, "samples": count}
    k = manifest.get("top1_output", 0)
    if manifest.get("top1") and k < n_out:
        agree = total = 0
        for s_ref, s_got in zip(ref, got):
            r, a = np.asarray(s_ref[k]), np.asarray(s_got[k])
            if r.shape[-1] < 2:
                continue
            agree += int(np.sum(np.argmax(r, -1) == np.argmax(a, -1)))
            total += int(np.prod(r.shape[:-1]))
        if total:
            out["top1_agreement"] = agree / total
            out["top1_positions"] = total
    return out


def _eval_main(argv: list[str]) -> int:
    model_dir, vmfb, out = Path(argv[0]), Path(argv[1]), Path(argv[2])
    manifest = json.loads((model_dir / "manifest.json").read_text())
    try:
        result = evaluate(model_dir, vmfb, manifest)
    except Exception as exc:  # noqa: BLE001 - reported as the evaluation error
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        result = {"eval_error": f"{type(exc).__name__}: {msg}"[:300]}
    out.write_text(json.dumps(result, default=float))
    return 0


# --------------------------------------------------------------------------- one model, one mode


def run_mode(model_dir: Path, manifest: dict[str, Any], mode: str, work: Path, timeout: float, fp: str,
             force: bool) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    vmfb, plan = work / "model.vmfb", work / "plan.json"
    cmd = [quantune_exe(), "quantize", str(model_dir / manifest["file"]), "--calib",
           str(model_dir / manifest["calib"]["file"]), "--target", "host", "-o", str(vmfb), "--save-plan", str(plan)]
    if mode != "plan":
        cmd += ["--precision", mode]
    for spec in manifest.get("input_shape_override", []):
        cmd += ["--input-shape", spec]
    key = hashlib.sha256(json.dumps([fp, manifest["sha256"], file_hash(model_dir / manifest["calib"]["file"]),
                                     file_hash(model_dir / manifest["check"]["file"]), cmd[1:]]).encode()).hexdigest()
    cached = work / "result.json"
    if not force and cached.is_file():
        old = json.loads(cached.read_text())
        if old.get("key") == key:
            old["cached"] = True
            return old
    for p in (vmfb, plan):
        if p.exists():
            p.unlink()
    res: dict[str, Any] = {"mode": mode, "key": key, "command": " ".join(shlex.quote(c) for c in cmd)}
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=str(work))
        res["seconds"] = round(time.perf_counter() - start, 1)
        res["returncode"] = proc.returncode
        (work / "stdout.txt").write_text(proc.stdout)
        (work / "stderr.txt").write_text(proc.stderr)
        if proc.returncode == 0 and vmfb.is_file():
            res["status"] = "ok"
        elif proc.returncode < 0:
            res["status"] = "crash"
            res["error"] = f"killed by signal {-proc.returncode}: " + one_line_error(proc.stderr, proc.stdout)
        else:
            res["status"] = "error"
            res["error"] = one_line_error(proc.stderr, proc.stdout)
        m = SUMMARY.search(proc.stderr + proc.stdout)
        if m:
            res["int8_layers"], res["total_layers"], res["folded_pairs"] = (int(g) for g in m.groups())
    except subprocess.TimeoutExpired:
        res["seconds"] = round(time.perf_counter() - start, 1)
        res["status"] = "timeout"
        res["error"] = f"timed out after {timeout:g} s"
    if plan.is_file():
        try:
            res["plan"] = parse_plan(plan)
        except Exception as exc:  # noqa: BLE001
            res["plan_error"] = f"{type(exc).__name__}: {exc}"[:200]
    if res.get("status") == "ok":
        ev_out = work / "eval.json"
        start = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--_eval", str(model_dir), str(vmfb),
                                   str(ev_out)], capture_output=True, text=True, timeout=timeout)
            if ev_out.is_file() and proc.returncode == 0:
                res["eval"] = json.loads(ev_out.read_text())
            else:
                res["eval"] = {"eval_error": f"evaluation exited {proc.returncode}: "
                               + one_line_error(proc.stderr, proc.stdout)}
        except subprocess.TimeoutExpired:
            res["eval"] = {"eval_error": f"evaluation timed out after {timeout:g} s"}
        res["eval_seconds"] = round(time.perf_counter() - start, 1)
    if vmfb.exists():
        res["module_bytes"] = vmfb.stat().st_size
        vmfb.unlink()  # modules are not kept: the cache holds results only
    cached.write_text(json.dumps(res, indent=2, default=float) + "\n")
    return res


# --------------------------------------------------------------------------- report


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    cpu = cpu_model()
    mem = ""
    try:
        kb = int(next(ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")).split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    from importlib import metadata

    versions = {}
    for dist in ("iree-base-compiler", "onnx", "onnxruntime", "numpy", "torch"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=str(ROOT)).stdout.strip()
    except OSError:
        commit = ""
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "os": platform.platform(),
            "python": platform.python_version(), "versions": versions, "commit": commit}


def _fmt_sqnr(ev: dict[str, Any] | None) -> str:
    if not ev or "eval_error" in ev:
        return "eval failed" if ev else "-"
    if ev.get("non_finite"):
        return "NaN/Inf"
    return f"{ev['sqnr_db']:.1f}"


def _fmt_top1(ev: dict[str, Any] | None) -> str:
    if not ev or "top1_agreement" not in ev:
        return "-"
    return f"{100 * ev['top1_agreement']:.0f}%"


def _status(res: dict[str, Any] | None) -> str:
    if res is None:
        return "-"
    s = res.get("status", "?")
    if s == "ok":
        ev = res.get("eval", {})
        if "eval_error" in ev:
            return "ok, run fails"
        if res["mode"] == "fp32" and ev.get("rel_err", 0) > FP32_TARGET:
            return "ok, wrong"
        return "ok"
    return {"error": "FAIL", "timeout": "TIMEOUT", "crash": "CRASH"}.get(s, s)


def _short(text: str, n: int = 160) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= n else text[: n - 1] + "…"


def write_markdown(results: dict[str, Any], meta: dict[str, Any], path: Path) -> None:
    rows = []
    failures = []
    pending = [m.name for m in MODELS if m.name not in results]
    for name, r in results.items():
        man = r.get("manifest") or {}
        modes = r.get("modes", {})
        plan_res, int8_res, fp32_res = (modes.get(m) for m in MODES)
        src = man.get("source", "?")
        if src == "package":
            src = f"{man['package']}=={man['version']}"
        elif src == "onnx-backend":
            src = f"onnx=={man.get('version')} backend"
        elif src == "torch":
            src = f"torch {'dynamo' if 'dynamo=True' in man.get('exporter', '') else 'legacy'}"
        layers = "-"
        reasons = "-"
        for res in (plan_res, int8_res):  # the fp32 mode's plan says nothing about int8 coverage
            if res and res.get("plan"):
                p = res["plan"]
                layers = f"{p['plan_int8']}/{p['plan_fp32']}"
                reasons = "; ".join(f"{k}: {v}" for k, v in p["fallbacks"].items()) or "none"
                break
        if plan_res and "int8_layers" in plan_res:
            layers += f" (built {plan_res['int8_layers']}/{plan_res['total_layers'] - plan_res['int8_layers']})" \
                if plan_res["plan"]["plan_int8"] != plan_res["int8_layers"] else ""
        folded = str(plan_res["folded_pairs"]) if plan_res and "folded_pairs" in plan_res else "-"
        fp_ev = (fp32_res or {}).get("eval")
        rel = "-"
        if fp_ev and "rel_err" in fp_ev:
            rel = "NaN/Inf" if fp_ev.get("non_finite") else f"{fp_ev['rel_err']:.1e}"
        total_s = sum((res or {}).get("seconds", 0) + (res or {}).get("eval_seconds", 0)
                      for res in (plan_res, int8_res, fp32_res))
        if "gather_error" in r:
            rows.append(f"| {name} | {src} | - | - | - | - | - | not gathered | | | | | | | |")
            failures.append((name, "gather", r["gather_error"]))
            continue
        rows.append("| " + " | ".join([
            name, src, str(man.get("opset", "?")), man.get("layout", "?"),
            ", ".join(man.get("main_ops", [])[:5]), layers, _short(reasons, 200),
            _status(plan_res), _status(int8_res), _status(fp32_res),
            f"{_fmt_sqnr((plan_res or {}).get('eval'))} / {_fmt_sqnr((int8_res or {}).get('eval'))}",
            f"{_fmt_top1((plan_res or {}).get('eval'))} / {_fmt_top1((int8_res or {}).get('eval'))}",
            rel, folded, f"{total_s:.0f}",
        ]) + " |")
        for mode in MODES:
            res = modes.get(mode)
            if not res:
                continue
            if res.get("status") != "ok":
                failures.append((name, MODE_LABEL[mode], f"[{res.get('status')}] {res.get('error', '')}"))
            elif "eval_error" in res.get("eval", {}):
                failures.append((name, MODE_LABEL[mode], f"[module run] {res['eval']['eval_error']}"))
            elif mode == "fp32" and res["eval"].get("rel_err", 0) > FP32_TARGET:
                failures.append((name, MODE_LABEL[mode], f"[accuracy] max relative error {res['eval']['rel_err']:.2e} "
                                 f"> {FP32_TARGET:g} against onnxruntime"))
            elif res.get("eval", {}).get("non_finite"):
                failures.append((name, MODE_LABEL[mode], "[accuracy] module output has NaN/Inf"))

    n = len(results) + len(pending)
    ok = {m: sum(1 for r in results.values() if _status(r.get("modes", {}).get(m)) == "ok") for m in MODES}
    m = meta["machine"]
    lines = [
        "# Coverage corpus",
        "",
        "Generated by `make coverage` (`bench/corpus/gather.py`, then `bench/corpus/run.py`); do not edit by hand.",
        "Each real ONNX model of the corpus (see `bench/corpus/corpus.py` and each model's `manifest.json`) goes",
        "through `quantune quantize MODEL --calib calib.npz --target host -o OUT.vmfb --save-plan PLAN.json` in three",
        "modes: the default plan, `--precision int8` and `--precision fp32`. The modules then run on the check",
        "inputs (disjoint from the calibration inputs) next to onnxruntime fp32.",
        "",
        f"- Command: `{meta['command']}`",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory']}; {m['os']}; Python {m['python']}; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + f"; commit {m['commit']}",
        f"- Per-mode timeout {meta['timeout']:g} s; {meta['calib']} calibration and {meta['check']} check samples per model;"
        f" wall time of this run {meta['wall_seconds'] / 60:.1f} min ({meta['cached']} of {meta['runs']} mode runs from the cache).",
        f"- Built and ran: default {ok['plan']}/{n}, int8 {ok['int8']}/{n}, fp32 {ok['fp32']}/{n} "
        f"(fp32 counted only within {FP32_TARGET:g} of onnxruntime).",
        "",
        "Columns: *layers int8/fp32* from the default plan (plus the count the module was built with when the",
        "lowering changed it); *fallbacks*: fp32 layers of that plan counted by kind of reason (`budget`: chosen by",
        "the analysis); *status* per mode (`FAIL`: quantize exited with an error, `ok, run fails`: the module does",
        "not run, `ok, wrong`: fp32 beyond 1e-4); *SQNR* of the outputs (dB, lowest output) and *top-1* agreement",
        "(argmax over the class axis, per time step for sequences; `-` where it means nothing) against onnxruntime",
        "fp32, for the default and int8 modules; *fp32 rel. err*: max |a - r| / max |r| of the fp32 module;",
        "*folded*: quantize/dequantize pairs folded in the default module; *time*: all three modes, quantize and",
        "check run.",
        "",
        "| model | source | opset | layout | main ops | layers int8/fp32 | fallbacks | default | int8 | fp32 "
        "| SQNR dB default / int8 | top-1 default / int8 | fp32 rel. err | folded | time s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        *[f"| {name} | | | | | | | not run yet | | | | | | | |" for name in pending],
        "",
        "## Failures",
        "",
    ]
    if failures:
        lines += ["| model | mode | message |", "|---|---|---|"]
        lines += [f"| {name} | {mode} | {_short(msg, 400)} |" for name, mode, msg in failures]
    else:
        lines.append("None.")
    lines += ["", "## Models", "", "| model | origin | exporter | inputs (declared) | --input-shape | size | notes |",
              "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        man = r.get("manifest")
        if not man:
            continue
        ins = "; ".join(f"{i['name']}: {'x'.join(str(d) for d in i['shape'])} {i['dtype']}" for i in man["inputs"])
        lines.append("| " + " | ".join([
            name, _short(man.get("origin", ""), 120), _short(man.get("exporter", ""), 60), _short(ins, 120),
            ", ".join(man.get("input_shape_override", [])) or "-", f"{man['size_bytes'] / 1e6:.2f} MB",
            _short(man.get("notes", ""), 300)]) + " |")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--_eval":
        return _eval_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=None,
                        help="corpus directory (default: $QUANTUNE_CORPUS or ~/.cache/quantune-corpus)")
    parser.add_argument("--models", help="comma-separated subset (default: every model of the corpus)")
    parser.add_argument("--modes", default=",".join(MODES), help="default: plan,int8,fp32")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per quantize run (default 600)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "coverage.json")
    parser.add_argument("--md", type=Path, default=ROOT / "docs" / "coverage.md")
    parser.add_argument("--force", action="store_true", help="ignore cached results")
    parser.add_argument("--report-only", action="store_true", help="only rewrite --md from the --json results")
    args = parser.parse_args(argv)
    if args.report_only:
        data = json.loads(args.json.read_text())
        write_markdown(data["models"], data["meta"], args.md)
        return 0
    cache = (args.cache or default_cache()).expanduser()
    try:
        models = select(args.models)
    except CorpusError as exc:
        print(f"run: error: {exc}", file=sys.stderr)
        return 2
    modes = [m for m in args.modes.split(",") if m]
    if any(m not in MODES for m in modes):
        print(f"run: error: modes are {', '.join(MODES)}", file=sys.stderr)
        return 2
    opt = snapshot_opt(cache)
    print(f"[coverage] using {opt}", file=sys.stderr, flush=True)
    fp = fingerprint()
    index = json.loads((cache / "index.json").read_text()) if (cache / "index.json").is_file() else {}
    # a subset run keeps the other models' earlier results in the report
    results: dict[str, Any] = {}
    if args.json.is_file() and args.models:
        try:
            results = json.loads(args.json.read_text()).get("models", {})
        except json.JSONDecodeError:
            results = {}
    start = time.perf_counter()
    runs = cached = 0
    counts = {"calib": 0, "check": 0}
    for model in models:
        entry: dict[str, Any] = {"modes": {}}
        if not (cache / model.name / "manifest.json").is_file():
            entry["gather_error"] = index.get(model.name, {}).get("error", "not gathered (run gather.py)")
            results[model.name] = entry
            print(f"[coverage] {model.name}: not gathered: {entry['gather_error']}", file=sys.stderr, flush=True)
            continue
        manifest = load_manifest(cache, model.name)
        entry["manifest"] = manifest
        counts = {"calib": manifest["calib"]["count"], "check": manifest["check"]["count"]}
        for mode in modes:
            res = run_mode(cache / model.name, manifest, mode, cache / "_runs" / model.name / mode, args.timeout, fp,
                           args.force)
            runs += 1
            cached += bool(res.get("cached"))
            entry["modes"][mode] = res
            ev = res.get("eval", {})
            extra = ""
            if "eval_error" in ev:
                extra = f" run: {ev['eval_error']}"
            elif ev:
                extra = f" rel_err {ev['rel_err']:.1e} sqnr {ev['sqnr_db']:.1f} dB" + (
                    f" top1 {ev['top1_agreement']:.2f}" if "top1_agreement" in ev else "")
            print(f"[coverage] {model.name} {MODE_LABEL[mode]}: {res['status']} {res.get('seconds', 0):.0f}s"
                  f"{' (cached)' if res.get('cached') else ''}{': ' + res['error'] if 'error' in res else ''}{extra}",
                  file=sys.stderr, flush=True)
        results[model.name] = entry
        _write(results, args, argv, fp, start, runs, cached, counts)
    print(f"[coverage] wrote {args.md} and {args.json} in {(time.perf_counter() - start) / 60:.1f} min",
          file=sys.stderr)
    return 0


def _write(results: dict[str, Any], args: argparse.Namespace, argv: list[str], fp: str, start: float, runs: int,
           cached: int, counts: dict[str, int]) -> None:
    """Writes the JSON and the Markdown (after every model, so an interrupted run still leaves a report)."""
    meta = {"command": "make coverage" if os.environ.get("MAKELEVEL") else "python bench/corpus/run.py "
            + " ".join(argv), "timeout": args.timeout, "machine": machine(), "fingerprint": fp,
            "wall_seconds": time.perf_counter() - start, "runs": runs, "cached": cached,
            **counts}
    ordered = {m.name: results[m.name] for m in MODELS if m.name in results}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"meta": meta, "models": ordered}, indent=1, default=float) + "\n")
    write_markdown(ordered, meta, args.md)


if __name__ == "__main__":
    sys.exit(main())
