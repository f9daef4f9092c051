"""The three-tier (w4a8) section of docs/results.md, from bench/bench_int4.py's JSON."""

from __future__ import annotations

TARGET_BYTES = 0.15
TARGET_I4_SHARE = 0.6
TARGET_OVER_RANDOM = 2.0  # points of top-1
TARGET_FROM_SWEEP = 1.0


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def _row(label: str, r: dict, fp32_top1: float, fp32_ms: float) -> str:
    share = r["i4_layers"] / r["layers"] if r.get("layers") else 0.0
    return (f"| {label} | {_pct(r['top1'])} | {100 * (r['top1'] - fp32_top1):+.2f} | "
            f"{r['weight_bytes'] / r['fp32_weight_bytes']:.3f} | {r['i4_layers']} / {r['i8_layers']} "
            f"({100 * share:.0f}% i4) | {r['module_bytes'] / 1e6:.2f} | {r['latency_ms']:.2f} "
            f"({r['latency_ms'] / fp32_ms:.2f}x) |")


def int4_section(data: dict) -> list[str]:
    budgets = [f"{b:g}" for b in data["budgets"]]
    lines = [
        "## Three tiers: w4a8 beside int8 and fp32 (Fashion-MNIST zoo)",
        "",
        f"Command: `{data['command']}`. Machine: {data['machine']}. The zoo of bench/zoo/train.py, "
        f"{data['calibration_images']} training images as calibration data (seed 0), top-1 on "
        f"{data['eval_images']:,} test images. One `--int4` analysis per model (QuantuneV2, and the sweep with "
        "4-bit weights), re-cut per weight budget; all rankings share the same ranges and bias corrections. "
        f"Random: mean ± standard deviation over {data['random_seeds']} seeds. Weight bytes count an i4 weight as "
        "half a byte (the module stores them two per byte); latency: one image, iree-benchmark-module, one "
        "thread, `local-sync`, median, all rows of a model measured in one run.",
        f"Targets (issue 12): weights at most {TARGET_BYTES}x fp32 with w4a8 on at least "
        f"{100 * TARGET_I4_SHARE:.0f}% of the layers; at equal weight bytes, QuantuneV2 at least "
        f"{TARGET_OVER_RANDOM:g} points over the random ranking's mean on at least three models and within "
        f"{TARGET_FROM_SWEEP:g} point of the sweep.",
    ]
    verdicts = []
    for name, m in data["models"].items():
        u = m["uniform"]
        fp32_top1, fp32_ms = u["fp32"]["top1"], u["fp32"]["latency_ms"]
        lines += [
            "",
            f"### {name}",
            "",
            f"{m['layers']} layers; fp32 top-1 {_pct(fp32_top1)}% (torch, full test set: "
            f"{_pct(m['torch_accuracy']) if m.get('torch_accuracy') else '?'}%). Plan time: QuantuneV2 "
            f"{m['plan_seconds']['quantunev2']:.0f} s, sweep {m['plan_seconds']['sweep']:.0f} s.",
            "",
            "| variant | top-1 (%) | Δ vs fp32 (points) | weights / fp32 | i4 / i8 layers | module MB | latency ms (vs fp32) |",
            "|---|---|---|---|---|---|---|",
            _row("fp32", u["fp32"], fp32_top1, fp32_ms),
            _row("uniform int8", u["int8"], fp32_top1, fp32_ms),
            _row("uniform w4a8", u["w4a8"], fp32_top1, fp32_ms),
        ]
        for budget in budgets:
            rows = m["budgets"][budget]
            lines.append(_row(f"QuantuneV2, weights ≤ {budget}x", rows["quantunev2"], fp32_top1, fp32_ms))
            lines.append(_row(f"sweep, weights ≤ {budget}x", rows["sweep"], fp32_top1, fp32_ms))
            rnd = rows["random"]
            lines.append(
                f"| random, weights ≤ {budget}x | {_pct(rnd['top1']['mean'])} ± {100 * rnd['top1']['stdev']:.2f} | "
                f"{100 * (rnd['top1']['mean'] - fp32_top1):+.2f} | {rnd['weight_bytes']['mean'] / u['fp32']['weight_bytes']:.3f} | "
                f"{rnd['i4_layers']['mean']:.1f} / {rnd['i8_layers']['mean']:.1f} | – | {rnd['latency_ms']['mean']:.2f} |")
        first = m["budgets"][budgets[0]]
        q = first["quantunev2"]
        verdicts.append({
            "model": name,
            "bytes": q["weight_bytes"] / q["fp32_weight_bytes"],
            "i4_share": q["i4_layers"] / q["layers"],
            "over_random": 100 * (q["top1"] - first["random"]["top1"]["mean"]),
            "from_sweep": 100 * (q["top1"] - first["sweep"]["top1"]),
            "w4a8_loss": 100 * (u["w4a8"]["top1"] - fp32_top1),
        })
    lines += [
        "",
        f"### Targets at weights ≤ {budgets[0]}x fp32",
        "",
        "| model | weights / fp32 | i4 share of layers | QuantuneV2 − random mean (points) | QuantuneV2 − sweep (points) | uniform w4a8 − fp32 (points) |",
        "|---|---|---|---|---|---|",
    ]
    for v in verdicts:
        lines.append(f"| {v['model']} | {v['bytes']:.3f} | {100 * v['i4_share']:.0f}% | {v['over_random']:+.2f} | "
                     f"{v['from_sweep']:+.2f} | {v['w4a8_loss']:+.2f} |")
    size_met = sum(v["bytes"] <= TARGET_BYTES + 1e-9 and v["i4_share"] >= TARGET_I4_SHARE for v in verdicts)
    random_met = sum(v["over_random"] >= TARGET_OVER_RANDOM for v in verdicts)
    sweep_met = sum(v["from_sweep"] >= -TARGET_FROM_SWEEP for v in verdicts)
    lines += [
        "",
        f"- Weights ≤ {TARGET_BYTES}x with ≥ {100 * TARGET_I4_SHARE:.0f}% i4 layers: {size_met} of {len(verdicts)} "
        f"models ({'met' if size_met == len(verdicts) else 'missed'}).",
        f"- ≥ {TARGET_OVER_RANDOM:g} points over the random mean: {random_met} of {len(verdicts)} models "
        f"({'met' if random_met >= 3 else 'missed'}; the target needs three). No ranking can gain more than uniform "
        "w4a8 loses (last column).",
        f"- Within {TARGET_FROM_SWEEP:g} point of the sweep: {sweep_met} of {len(verdicts)} models.",
    ]
    return lines
