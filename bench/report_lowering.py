"""The lowering section of docs/results.md, from bench/out/lowering.json."""

from __future__ import annotations


def _ms(record: dict, threads: str) -> float:
    return record["latency"][threads]["median_ms"]


def _spread(record: dict, threads: str) -> str:
    lat = record["latency"][threads]
    return f"{lat['median_ms']:.2f} ({lat['min_ms']:.2f}–{lat['max_ms']:.2f})"


def _sized(v: dict, layers: int) -> str:
    sized = v.get("mixed-w0.3")
    if not sized:
        return "–"
    w = sized["weight_bytes"] / sized["weight_bytes_fp32"]
    return f"{w:.2f} ({sized['int8_layers'] / layers:.0%}), {_ms(sized, '1t') / _ms(v['fp32'], '1t'):.2f}"


def lowering_section(data: dict) -> list[str]:
    size, calib = data["size"], data["calibration_inputs"]
    lines = [
        "## Mixed-precision lowering: latency and size",
        "",
        f"Command: `{data['command']}`. Random seeded weights (bench/onnx_models.py), input {size}x{size}, "
        f"{data['classes']} classes, one QuantuneV2 plan per model from {calib} random calibration inputs with the "
        "default budget (fp32-fraction=0.1). Latency: iree-benchmark-module, median of repetitions "
        "(min–max in brackets), in ms, all variants of a model measured one after the other.",
    ]
    if data.get("recipes"):
        lines += [
            "",
            "### Code generation recipe (ResNet18, 1 thread)",
            "",
            "| recipe | fp32 (ms) | all-int8 (ms) | int8 / fp32 |",
            "|---|---|---|---|",
        ]
        for recipe, runs in data["recipes"].items():
            f, i = runs["fp32"]["median_ms"], runs["int8"]["median_ms"]
            lines.append(f"| {recipe} | {f:.2f} | {i:.2f} | {i / f:.2f} |")
        lines += [
            "",
            "`quantune quantize` uses dt+uk+img2col (`--iree-opt-data-tiling --iree-llvmcpu-enable-ukernels=all` and "
            "the `iree-global-opt-convert-conv2d-to-img2col` preprocessing pass): the integer NCHW convolutions "
            "become im2col + an i8 x i8 -> i32 matmul that data tiling hands to the s8s8s32 microkernel.",
        ]
    lines += [
        "",
        "### fp32, all-int8, mixed and naive mixed",
        "",
        "| model | int8 layers (plan) | folded pairs | fp32 1t | int8 1t | mixed 1t | naive 1t | fp32 2t | mixed 2t | naive 2t |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    models = data["models"]
    for name, m in models.items():
        v = m["variants"]
        lines.append(
            f"| {name} | {m['int8_layers_plan']}/{m['layers']} | {v['mixed']['folded_pairs']} | "
            f"{_spread(v['fp32'], '1t')} | {_spread(v['int8'], '1t')} | {_spread(v['mixed'], '1t')} | "
            f"{_spread(v['naive'], '1t')} | {_spread(v['fp32'], '2t')} | {_spread(v['mixed'], '2t')} | "
            f"{_spread(v['naive'], '2t')} |"
        )
    lines += [
        "",
        "Targets: naive / mixed >= 1.12 (mixed is faster than naive), mixed / fp32 <= 1.00, and layer weights "
        "<= 0.3x fp32 when 75% or more of the layers are int8.",
        "",
        "| model | naive / mixed 1t | naive / mixed 2t | mixed / fp32 1t | mixed / fp32 2t | int8 / fp32 1t | "
        "weights mixed / fp32 (int8 share) | weights int8 / fp32 | mixed-w0.3: weights (int8 share), latency / fp32 1t "
        "| module MB fp32 / mixed / int8 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m in models.items():
        v = m["variants"]
        share = v["mixed"]["int8_layers"] / m["layers"]
        w_mixed = v["mixed"]["weight_bytes"] / v["mixed"]["weight_bytes_fp32"]
        w_int8 = v["int8"]["weight_bytes"] / v["int8"]["weight_bytes_fp32"]
        lines.append(
            f"| {name} | {_ms(v['naive'], '1t') / _ms(v['mixed'], '1t'):.2f} | "
            f"{_ms(v['naive'], '2t') / _ms(v['mixed'], '2t'):.2f} | "
            f"{_ms(v['mixed'], '1t') / _ms(v['fp32'], '1t'):.2f} | {_ms(v['mixed'], '2t') / _ms(v['fp32'], '2t'):.2f} | "
            f"{_ms(v['int8'], '1t') / _ms(v['fp32'], '1t'):.2f} | {w_mixed:.2f} ({share:.0%}) | {w_int8:.2f} | "
            f"{_sized(v, m['layers'])} | "
            f"{v['fp32']['module_bytes'] / 1e6:.1f} / {v['mixed']['module_bytes'] / 1e6:.1f} / "
            f"{v['int8']['module_bytes'] / 1e6:.1f} |"
        )
    return lines
