"""The model-zoo section of docs/results.md, from bench/out/zoo.json.

Also draws one accuracy-against-weight-size plot per model into
docs/img/zoo-<model>.svg (matplotlib, Agg backend).
"""

from __future__ import annotations

from pathlib import Path

METHODS = ("quantunev2", "sweep", "random")


def _pct(v: float) -> str:
    return f"{100 * v:.2f}"


def _plot(name: str, entry: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 3.6))
    ax = fig.add_subplot()
    fp32 = entry["fp32"]["weight_bytes_fp32"]
    for method, marker in zip(METHODS, "os^"):
        pts = sorted((p["weight_bytes"] / fp32, 100 * p["accuracy"]) for p in entry["points"] if p["method"] == method)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker, label=method)
    ax.scatter([1.0], [100 * entry["fp32"]["accuracy"]], marker="*", s=120, color="black", label="fp32", zorder=5)
    for label, run in entry["ort"].items():
        ax.scatter([run["file_bytes"] / fp32], [100 * run["accuracy"]], marker="x", label=f"ORT {label} (file size)")
    ax.set_xlabel("layer weights / fp32")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(f"{name}: accuracy against weight size")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="svg")


def zoo_section(data: dict, docs: Path) -> list[str]:
    lines = [
        "## Model zoo: accuracy, latency and size against the baselines",
        "",
        f"Command: `{data['command']}`. Models from bench/zoo/train.py (Fashion-MNIST, seeded; widths and stems "
        f"in bench/zoo/README.md). Top-1 on the first {data['eval_images']} test images, "
        f"{data['calibration_images']} training images as calibration data, IREE modules on the host with the "
        "CPU recipe, latency median of iree-benchmark-module at one thread (onnxruntime: median of its own runs, "
        "one thread). Budgets are the fraction of layers kept fp32.",
    ]
    for name, entry in data["models"].items():
        fp32, int8 = entry["fp32"], entry["int8"]
        img = docs / "img" / f"zoo-{name}.svg"
        _plot(name, entry, img)
        lines += [
            "",
            f"### {name}",
            "",
            f"fp32 {_pct(fp32['accuracy'])}% (torch, full test set: {_pct(entry['torch_accuracy'] or 0)}%), "
            f"{entry['layers']} layers. Plan time: quantunev2 {entry['plan_seconds']['quantunev2']:.1f} s, sweep "
            f"{entry['plan_seconds']['sweep']:.1f} s "
            f"({entry['plan_seconds']['sweep'] / entry['plan_seconds']['quantunev2']:.1f}x).",
            "",
            "| method | budget | fp32 layers | top-1 (%) | Δ vs fp32 (points) | latency (ms) | weights / fp32 |",
            "|---|---|---|---|---|---|---|",
            f"| fp32 | – | {entry['layers']} | {_pct(fp32['accuracy'])} | 0 | {fp32['latency_ms']:.2f} | 1.00 |",
            f"| uniform int8 | – | {int8['fp32_layers']} | {_pct(int8['accuracy'])} | "
            f"{100 * (int8['accuracy'] - fp32['accuracy']):+.2f} | {int8['latency_ms']:.2f} | "
            f"{int8['weight_bytes'] / int8['weight_bytes_fp32']:.2f} |",
        ]
        for p in entry["points"]:
            lines.append(
                f"| {p['method']} | {p['budget']:g} | {p['fp32_layers']} | {_pct(p['accuracy'])} | "
                f"{100 * (p['accuracy'] - fp32['accuracy']):+.2f} | {p['latency_ms']:.2f} | "
                f"{p['weight_bytes'] / p['weight_bytes_fp32']:.2f} |"
            )
        for label, run in entry["ort"].items():
            lines.append(
                f"| ORT quantize_static {label} (onnxruntime) | – | – | {_pct(run['accuracy'])} | "
                f"{100 * (run['accuracy'] - fp32['accuracy']):+.2f} | {run['latency_ms']:.2f} | "
                f"{run['file_bytes'] / fp32['weight_bytes_fp32']:.2f} (file) |"
            )
        lines += ["", f"![{name} Pareto](img/zoo-{name}.svg)"]
    return lines
