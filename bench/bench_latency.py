"""Latency at 224x224 against onnxruntime (issue 10, part 1), written to a JSON file.

Models: the five zoo architectures at their ImageNet widths (ResNet-18,
ResNet-50, SqueezeNet 1.0, VGG-16, MobileNetV2; torchvision layouts, 1000
classes, seeded random weights, eval mode) and the pretrained ImageNet
MobileNetV2 of bench/imagenet/nets.py. Each is exported with
torch.onnx.export (opset 17, batch 1, 1x3x224x224, BatchNorm folded).

Variants, each measured at every thread count:

- ``fp32``: our module with every layer fp32 (CPU recipe);
- ``int8``: uniform int8 (every layer that can be int8);
- ``mixed``: the default plan (quantunev2, fp32-fraction=0.1), folded;
- ``naive``: the same plan without folding quantize/dequantize pairs;
- ``ort_fp32``: onnxruntime on the ONNX file (all graph optimisations);
- ``ort_int8``: onnxruntime on quantize_static's QDQ model (per-channel,
  int8 weights and activations, MinMax over the calibration inputs).

Our modules are timed with iree-benchmark-module (quantune_mlir.benchmark,
``--task_topology_group_count=T``, zero inputs); onnxruntime in-process with
intra_op_num_threads=T, inter_op 1, on one random input. Latency does not
depend on calibration quality, so calibration uses seeded random inputs.

Measurements are interleaved: after a warm-up pass, each of the
``--repetitions`` rounds measures every variant once (the order rotating
from round to round), so that machine noise hits all variants alike. One
measurement is the mean time per run over at least ``min_time`` seconds,
with min_time above one run so that the first (cold) run is never the one
reported. The JSON holds the median and spread of the rounds per variant
and the ratios; ``markdown`` holds the table printed at the end.

ONNX files and built modules are cached under ``--workdir`` (default
~/.cache/quantune-latency), keyed by the ONNX file's content, the IREE
version, this project's compiler (quantune-opt and the Python sources) and
the calibration count, so reruns only measure.

Usage: python bench/bench_latency.py --out bench/results/latency.json
           [--models resnet18,vgg16] [--threads 1,2] [--repetitions 10] [--calib 16]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "corpus"))

from compiler_key import compiler_key  # noqa: E402

MODELS = ("resnet18", "resnet50", "squeezenet", "vgg16", "mobilenetv2", "mobilenetv2_pretrained")
OURS = ("fp32", "int8", "mixed", "naive")
VARIANTS = (*OURS, "ort_fp32", "ort_int8")
RATIOS = (("int8", "fp32"), ("mixed", "fp32"), ("naive", "fp32"),
          ("fp32", "ort_fp32"), ("int8", "ort_fp32"), ("mixed", "ort_fp32"))
EXPORT_VERSION = 1  # bump when an architecture or the export changes


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- networks


def _networks() -> dict[str, Callable[[], Any]]:
    """Builders of the five architectures (torchvision layouts, seeded weights)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    # bench/corpus: the torchvision layouts shared with the coverage corpus
    from torch_models import Fire, MobileNetV2, ResNet18, _init

    class Bottleneck(nn.Module):
        """torchvision's ResNet-50 block (v1.5: the stride is on the 3x3 convolution)."""

        def __init__(self, cin: int, width: int, stride: int) -> None:
            super().__init__()
            cout = width * 4
            self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            idt = x if self.downsample is None else self.downsample(x)
            y = F.relu(self.bn1(self.conv1(x)))
            y = F.relu(self.bn2(self.conv2(y)))
            return F.relu(self.bn3(self.conv3(y)) + idt)

    class ResNet50(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            blocks: list[nn.Module] = []
            cin = 64
            for stage, count in enumerate((3, 4, 6, 3)):
                width = 64 * 2**stage
                for i in range(count):
                    blocks.append(Bottleneck(cin, width, 2 if stage > 0 and i == 0 else 1))
                    cin = width * 4
            self.layers = nn.Sequential(*blocks)
            self.fc = nn.Linear(2048, 1000)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.layers(self.maxpool(F.relu(self.bn1(self.conv1(x)))))
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    class SqueezeNet10(nn.Module):
        """torchvision's squeezenet1_0 (the zoo's SqueezeNet 1.0 at full width)."""

        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 96, 7, 2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True),
                Fire(96, 16, 64, 64), Fire(128, 16, 64, 64), Fire(128, 32, 128, 128),
                nn.MaxPool2d(3, 2, ceil_mode=True),
                Fire(256, 32, 128, 128), Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256),
                nn.MaxPool2d(3, 2, ceil_mode=True), Fire(512, 64, 256, 256))
            self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(512, 1000, 1), nn.ReLU(),
                                            nn.AdaptiveAvgPool2d(1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.flatten(self.classifier(self.features(x)), 1)

    class VGG16(nn.Module):
        """torchvision's vgg16 (configuration D, no BatchNorm). Its adaptive 7x7
        average pool is the identity at 224x224 and is left out."""

        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            cin = 3
            for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
                if v == "M":
                    layers.append(nn.MaxPool2d(2, 2))
                else:
                    layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU()]
                    cin = int(v)
            self.features = nn.Sequential(*layers)
            self.classifier = nn.Sequential(nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(),
                                            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 1000))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.classifier(torch.flatten(self.features(x), 1))

    return {
        "resnet18": lambda: _init(ResNet18(), 1),
        "resnet50": lambda: _init(ResNet50(), 11),
        "squeezenet": lambda: _init(SqueezeNet10(), 12),
        "vgg16": lambda: _init(VGG16(), 13),
        "mobilenetv2": lambda: _init(MobileNetV2(), 2),
    }


def export_onnx(name: str, workdir: Path) -> Path:
    """The model's ONNX file, exported once into ``workdir/onnx``."""
    path = workdir / "onnx" / f"{name}-v{EXPORT_VERSION}.onnx"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.onnx")
    _log(f"{name}: exporting ONNX")
    if name == "mobilenetv2_pretrained":
        # torchvision's ImageNet weights, as bench/bench_pretrained.py uses them
        sys.path.insert(0, str(Path(__file__).parent / "imagenet"))
        from nets import NETS

        NETS["mobilenet_v2"].build(tmp.parent).rename(tmp)
    else:
        import warnings

        import torch

        net = _networks()[name]().eval()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, (torch.zeros(1, 3, 224, 224),), str(tmp), input_names=["x"],
                              output_names=["logits"], opset_version=17, dynamo=False, do_constant_folding=True)
    tmp.replace(path)
    return path


# --------------------------------------------------------------------------- builds


def _file_key(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def _iree_version() -> str:
    from importlib.metadata import version

    try:
        return version("iree-base-compiler")
    except Exception:  # noqa: BLE001
        return "unknown"


def build_ours(onnx_path: Path, mdir: Path, calib: np.ndarray) -> dict[str, dict]:
    """Builds (or finds) the four modules; returns per variant its path and build facts, or an error."""
    import quantune_mlir as qt

    n = len(calib)
    specs = {
        "fp32": (mdir / "fp32.vmfb", {"precision": "fp32"}),
        "int8": (mdir / f"int8-c{n}.vmfb", {"precision": "int8", "calib": calib}),
        "mixed": (mdir / f"mixed-c{n}.vmfb", {"calib": calib, "save_plan": mdir / f"plan-c{n}.json"}),
        "naive": (mdir / f"naive-c{n}.vmfb", {"plan": mdir / f"plan-c{n}.json", "fold": False}),
    }
    out: dict[str, dict] = {}
    for variant, (vmfb, kwargs) in specs.items():
        meta_path = vmfb.with_suffix(".json")
        if vmfb.is_file() and meta_path.is_file():
            out[variant] = json.loads(meta_path.read_text())
            continue
        if variant == "naive" and "error" in out.get("mixed", {}):
            out[variant] = {"error": "no plan: the mixed build failed"}
            continue
        _log(f"{onnx_path.stem}: building {variant}")
        start = time.perf_counter()
        try:
            r = qt.quantize(onnx_path, vmfb, **kwargs)
        except Exception as exc:  # noqa: BLE001 - recorded, the other variants go on
            _log(f"{onnx_path.stem}: {variant} failed: {exc}")
            out[variant] = {"error": f"{type(exc).__name__}: {exc}".strip()[:2000]}
            traceback.print_exc(file=sys.stderr)
            continue
        meta = {"vmfb": str(vmfb), "build_seconds": round(time.perf_counter() - start, 1),
                "layers": len(r.plan.layers), "int8_layers": r.int8_layers, "folded_pairs": r.folded_pairs,
                "fallbacks": r.fallbacks, "module_bytes": r.module_bytes, "weight_bytes": r.weight_bytes,
                "weight_bytes_fp32": r.weight_bytes_fp32}
        meta_path.write_text(json.dumps(meta, indent=1))
        out[variant] = meta
    return out


def build_ort_int8(onnx_path: Path, mdir: Path, calib: np.ndarray) -> dict:
    """quantize_static's QDQ model (per-channel, s8 weights and activations, MinMax)."""
    out = mdir / f"ort-int8-c{len(calib)}.onnx"
    meta_path = out.with_suffix(".json")
    if out.is_file() and meta_path.is_file():
        return json.loads(meta_path.read_text())
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    _log(f"{onnx_path.stem}: building ort_int8 (quantize_static)")
    name = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{name: calib[i : i + 1]} for i in range(len(calib))])

        def get_next(self) -> dict | None:
            return next(self.items, None)

    start = time.perf_counter()
    tmp = out.with_suffix(".tmp.onnx")
    quantize_static(str(onnx_path), str(tmp), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)
    tmp.replace(out)
    meta = {"onnx": str(out), "build_seconds": round(time.perf_counter() - start, 1),
            "file_bytes": out.stat().st_size}
    meta_path.write_text(json.dumps(meta, indent=1))
    return meta


# --------------------------------------------------------------------------- timing


class IreeTimer:
    """One of our modules, timed by iree-benchmark-module (quantune_mlir.benchmark)."""

    def __init__(self, vmfb: str, threads: int) -> None:
        from quantune_mlir.evaluate import module_inputs
        from quantune_mlir.runtime import ModuleRunner

        runner = ModuleRunner(vmfb, "local-task")
        self.vmfb, self.function, self.inputs = vmfb, runner.function, module_inputs(runner)
        del runner
        self.threads = threads
        self.min_time = 0.2

    def warm(self) -> float:
        ms = self.measure()
        # Above one run, so that the reported run of iree-benchmark-module is never the first (cold) one.
        self.min_time = max(0.2, 2.0 * ms / 1e3)
        return ms

    def measure(self) -> float:
        from quantune_mlir.benchmark import benchmark_module

        latency = benchmark_module(self.vmfb, self.function, self.inputs, device="local-task",
                                   threads=self.threads, repetitions=1, min_time_s=self.min_time)
        return latency.median_ms


class OrtTimer:
    """An onnxruntime session, timed in-process on one random input."""

    def __init__(self, onnx_path: str, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
        inp = self.session.get_inputs()[0]
        shape = [d if isinstance(d, int) else 1 for d in inp.shape]
        self.feed = {inp.name: np.random.default_rng(1).standard_normal(shape).astype(np.float32)}
        self.min_time = 0.2
        self.iters = 1

    def _run(self, iters: int) -> float:
        start = time.perf_counter()
        for _ in range(iters):
            self.session.run(None, self.feed)
        return (time.perf_counter() - start) / iters * 1e3

    def warm(self) -> float:
        self._run(1)
        ms = self._run(2)
        self.iters = max(1, round(self.min_time * 1e3 / ms))
        return ms

    def measure(self) -> float:
        return self._run(self.iters)


# --------------------------------------------------------------------------- report


def _fmt(ms: float | None) -> str:
    if ms is None:
        return "—"
    return f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}"


def markdown(models: dict[str, dict]) -> str:
    head = ["model", "threads", *[f"{v} ms" for v in VARIANTS], *[f"{a}/{b}" for a, b in RATIOS]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, entry in models.items():
        for threads, t in entry.get("threads", {}).items():
            cells = [name, threads]
            cells += [_fmt((t["latency_ms"].get(v) or {}).get("median")) for v in VARIANTS]
            cells += [f"{t['ratios'][f'{a}/{b}']:.2f}" if t["ratios"].get(f"{a}/{b}") else "—" for a, b in RATIOS]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _machine() -> dict:
    from run import cpu_model  # bench/corpus/run.py

    cpu = cpu_model()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": usable, "platform": platform.platform(),
            "python": platform.python_version()}


def _versions() -> dict:
    from importlib.metadata import version

    out = {}
    for pkg in ("iree-base-compiler", "iree-base-runtime", "onnxruntime", "onnx", "torch"):
        try:
            out[pkg] = version(pkg)
        except Exception:  # noqa: BLE001
            out[pkg] = None
    return out


# --------------------------------------------------------------------------- main


def measure_model(name: str, args: argparse.Namespace, calib: np.ndarray) -> dict:
    onnx_path = export_onnx(name, args.workdir)
    mdir = args.workdir / f"{name}-{_file_key(onnx_path)}-iree{_iree_version()}-q{compiler_key()}"
    mdir.mkdir(parents=True, exist_ok=True)
    entry: dict = {"onnx": str(onnx_path), "onnx_bytes": onnx_path.stat().st_size, "builds": {}, "threads": {}}
    entry["builds"].update(build_ours(onnx_path, mdir, calib))
    try:
        entry["builds"]["ort_int8"] = build_ort_int8(onnx_path, mdir, calib)
    except Exception as exc:  # noqa: BLE001
        _log(f"{name}: ort_int8 failed: {exc}")
        entry["builds"]["ort_int8"] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
    entry["builds"]["ort_fp32"] = {"onnx": str(onnx_path)}
    for threads in args.threads:
        load_before = os.getloadavg()
        timers: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for v in VARIANTS:
            build = entry["builds"][v]
            if "error" in build:
                errors[v] = "build failed"
                continue
            try:
                timers[v] = IreeTimer(build["vmfb"], threads) if v in OURS else OrtTimer(build["onnx"], threads)
                warm = timers[v].warm()
                _log(f"{name} T={threads}: {v} warm-up {warm:.2f} ms")
            except Exception as exc:  # noqa: BLE001
                _log(f"{name} T={threads}: {v} cannot be timed: {exc}")
                errors[v] = f"{type(exc).__name__}: {exc}"[:2000]
                timers.pop(v, None)
        samples: dict[str, list[float]] = {v: [] for v in timers}
        order = list(timers)
        for rep in range(args.repetitions):
            k = rep % len(order) if order else 0
            for v in order[k:] + order[:k]:  # rotate so no variant always runs first
                samples[v].append(timers[v].measure())
            _log(f"{name} T={threads} round {rep + 1}/{args.repetitions}: "
                 + ", ".join(f"{v} {samples[v][-1]:.2f}" for v in order))
        del timers
        lat = {v: {"median": statistics.median(s), "min": min(s), "max": max(s), "samples": [round(x, 4) for x in s]}
               for v, s in samples.items() if s}
        ratios = {f"{a}/{b}": (lat[a]["median"] / lat[b]["median"] if a in lat and b in lat else None)
                  for a, b in RATIOS}
        # The 1-minute load average around the rounds: other work on the machine shows here.
        entry["threads"][str(threads)] = {"latency_ms": lat, "ratios": ratios, "errors": errors,
                                          "loadavg_1min": [round(load_before[0], 2), round(os.getloadavg()[0], 2)]}
    return entry


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, from {','.join(MODELS)}")
    parser.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    parser.add_argument("--repetitions", type=int, default=10, help="interleaved rounds per variant (default 10)")
    parser.add_argument("--calib", type=int, default=16, help="random calibration inputs (default 16)")
    parser.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "quantune-latency",
                        help="cache of ONNX files and modules (default ~/.cache/quantune-latency)")
    args = parser.parse_args()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; expected some of {', '.join(MODELS)}")
    args.threads = [int(t) for t in args.threads.split(",") if t.strip()]
    if not args.threads or min(args.threads) < 1 or args.repetitions < 1 or args.calib < 1:
        parser.error("threads, --repetitions and --calib must be positive")
    args.workdir = args.workdir.expanduser()
    calib = np.random.default_rng(0).standard_normal((args.calib, 3, 224, 224)).astype(np.float32)
    result: dict = {
        "command": "python " + " ".join(sys.argv),
        "machine": {**_machine(), "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]},
        "versions": _versions(),
        "settings": {"input": [1, 3, 224, 224], "threads": args.threads, "repetitions": args.repetitions,
                     "calibration_inputs": args.calib, "calibration": "seeded random normal",
                     "mixed_plan": "quantunev2, fp32-fraction=0.1 (the default)",
                     "ours": "iree-benchmark-module, llvm-cpu host with the CPU recipe, zero inputs",
                     "onnxruntime": "CPUExecutionProvider, ORT_ENABLE_ALL, inter_op 1, one random input"},
        "variants": list(VARIANTS),
        "models": {},
    }
    start = time.perf_counter()
    for name in models:
        _log(f"== {name}")
        t0 = time.perf_counter()
        try:
            result["models"][name] = measure_model(name, args, calib)
        except Exception as exc:  # noqa: BLE001 - e.g. the export failed; the other models go on
            traceback.print_exc(file=sys.stderr)
            result["models"][name] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
        result["models"][name]["seconds"] = round(time.perf_counter() - t0, 1)
        result["seconds"] = round(time.perf_counter() - start, 1)
        result["markdown"] = markdown(result["models"])
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
    print(result["markdown"])
    _log(f"wrote {args.out} in {result['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
