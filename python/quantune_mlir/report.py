"""A self-contained HTML report of a precision plan, and the same data as JSON.

:func:`write_report` writes one HTML page (no JavaScript, no external files,
no web fonts: the charts are inline SVG with text drawn as paths) and a JSON
file next to it. The page holds:

* a header: model, target, generation time, quantune-mlir version;
* a summary table, fp32 against the quantized module (accuracy, latency,
  weight and module size, and their ratios);
* the plan's facts (method, budget, calibration, i8 layer count);
* a per-layer sensitivity bar chart coloured by precision;
* the per-layer table (the columns of ``quantune analyze``, plus the reason a
  layer is forced to f32);
* when Pareto points are given, accuracy against weight size (and against
  latency, when points have latencies), one series per method, and a table;
* free-form notes.

Accuracies (top-1, top-5, agreement) are fractions in [0, 1], as in
:mod:`quantune_mlir.evaluate`; sizes are bytes; latencies milliseconds.
Missing values print as "–".
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Collection, Iterable, Iterator, Sequence

from quantune_mlir.errors import QuantuneError, first_line
from quantune_mlir.fileio import atomic_path
from quantune_mlir.plan import LayerPlan, Plan, TierPlan, plan_from_dict

REPORT_VERSION = 1
MISSING = "\u2013"  # en dash

PRECISION_COLOURS = {"i4": "#38a169", "i8": "#2b6cb0", "f32": "#dd6b20"}
OTHER_COLOUR = "#718096"
PARETO_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
MAX_LABELLED_POINTS = 12  # beyond this the point labels overlap; the Pareto table has them


# --------------------------------------------------------------------------- data


@dataclass
class Accuracy:
    """Fractions in [0, 1]; ``agreement`` is top-1 agreement with the fp32 model."""

    top1: float | None = None
    top5: float | None = None
    agreement: float | None = None
    mean_kl: float | None = None
    """Mean KL divergence (nats) of the class distributions from the fp32 model's (not a fraction)."""


@dataclass
class LatencyMs:
    """Latency over repetitions, in milliseconds."""

    median: float | None = None
    min: float | None = None
    max: float | None = None


@dataclass
class Summary:
    """One build of the model (fp32 or quantized); every field is optional."""

    accuracy: Accuracy | None = None
    latency_ms: LatencyMs | None = None
    weight_bytes: int | None = None
    module_bytes: int | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Summary | None:
        if d is None:
            return None
        acc, lat = d.get("accuracy"), d.get("latency_ms")
        return cls(
            accuracy=Accuracy(**acc) if acc is not None else None,
            latency_ms=LatencyMs(**lat) if lat is not None else None,
            weight_bytes=d.get("weight_bytes"),
            module_bytes=d.get("module_bytes"),
        )


@dataclass
class ParetoPoint:
    """One (budget, method) trade-off: what it keeps in fp32 and what it costs."""

    label: str
    budget: str
    fp32_layers: int
    method: str
    weight_bytes: int | None = None
    latency_ms: float | None = None
    accuracy: float | None = None


@dataclass
class ReportData:
    """Everything the report shows.

    ``int8_layers`` defaults to the plan's count; ``generated`` (ISO 8601)
    defaults to the time :func:`write_report` runs.
    """

    plan: Plan
    model: str
    target: str
    fp32: Summary | None = None
    quantized: Summary | None = None
    folded_pairs: int | None = None
    int8_layers: int | None = None
    pareto: list[ParetoPoint] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    generated: str | None = None

    def resolved_int8_layers(self) -> int:
        return self.plan.int8_layers if self.int8_layers is None else self.int8_layers

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReportData:
        """Inverse of :func:`report_dict` (non-finite floats come back as None).

        ``int8_layers`` comes back as the resolved count.
        """
        try:
            return cls._from_dict(d)
        except (KeyError, TypeError, AttributeError) as exc:
            raise QuantuneError(f"not a quantune report: {type(exc).__name__}: {exc}") from None

    @classmethod
    def _from_dict(cls, d: dict[str, Any]) -> ReportData:
        return cls(
            plan=plan_from_dict(d["plan"], "report plan"),
            model=d["model"],
            target=d["target"],
            fp32=Summary.from_dict(d.get("fp32")),
            quantized=Summary.from_dict(d.get("quantized")),
            folded_pairs=d.get("folded_pairs"),
            int8_layers=d.get("int8_layers"),
            pareto=[ParetoPoint(**p) for p in d.get("pareto", [])],
            notes=list(d.get("notes", [])),
            generated=d.get("generated"),
        )


def tool_version() -> str:
    import quantune_mlir

    return str(getattr(quantune_mlir, "__version__", "unknown"))


def validate(data: ReportData) -> None:
    """Rejects accuracies given in percent instead of fractions, and negative sizes."""
    def check_fraction(what: str, value: float | None) -> None:
        if value is not None and _finite(value) and not 0.0 <= value <= 1.0:
            raise QuantuneError(f"report: {what} = {value:g} is not a fraction in [0, 1]")

    def check_size(what: str, value: int | None) -> None:
        if value is not None and value < 0:
            raise QuantuneError(f"report: {what} = {value} is negative")

    for name, summary in (("fp32", data.fp32), ("quantized", data.quantized)):
        if summary is None:
            continue
        if summary.accuracy is not None:
            for key, value in asdict(summary.accuracy).items():
                if key == "mean_kl":
                    if value is not None and _finite(value) and value < 0:
                        raise QuantuneError(f"report: {name} accuracy mean_kl = {value:g} is negative")
                    continue
                check_fraction(f"{name} accuracy {key}", value)
        check_size(f"{name} weight_bytes", summary.weight_bytes)
        check_size(f"{name} module_bytes", summary.module_bytes)
    for point in data.pareto:
        check_fraction(f"accuracy of point '{point.label}'", point.accuracy)
        check_size(f"weight_bytes of point '{point.label}'", point.weight_bytes)


# --------------------------------------------------------------------------- formatting


def _finite(value: float | int | None) -> bool:
    return value is not None and not (isinstance(value, float) and not math.isfinite(value))


def fmt_number(value: float | int | None, spec: str) -> str:
    return format(value, spec) if _finite(value) else MISSING


def fmt_percent(value: float | None) -> str:
    return f"{100.0 * value:.2f} %" if _finite(value) else MISSING


def fmt_ms(value: float | None) -> str:
    """``12.35 ms``; three significant digits below 1 ms (``0.0421 ms``)."""
    if not _finite(value):
        return MISSING
    return f"{value:.2f} ms" if abs(value) >= 1 else f"{value:.3g} ms"  # type: ignore[arg-type]


def fmt_bytes(value: int | None) -> str:
    """``270 B``, ``1.50 MiB (1,572,864 B)``."""
    if not _finite(value):
        return MISSING
    n = int(value)  # type: ignore[arg-type]
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.2f} {unit} ({n:,} B)"
    return f"{n:,} B"


def ratio(quantized: float | int | None, fp32: float | int | None) -> float | None:
    if not (_finite(quantized) and _finite(fp32)) or fp32 == 0:
        return None
    return float(quantized) / float(fp32)  # type: ignore[arg-type]


def fmt_ratio(value: float | None) -> str:
    return f"{value:.2f}\u00d7" if _finite(value) else MISSING


def fmt_delta_pp(quantized: float | None, fp32: float | None) -> str:
    """Accuracy change in percentage points, with a real minus sign."""
    if not (_finite(quantized) and _finite(fp32)):
        return MISSING
    delta = 100.0 * (quantized - fp32)  # type: ignore[operator]
    sign = "+" if delta >= 0 else "\u2212"
    return f"{sign}{abs(delta):.2f} pp"


def _mpl_text(text: str) -> str:
    """Text matplotlib shows literally: no mathtext, and not hidden from legends."""
    text = text.replace("$", r"\$")
    return " " + text if text.startswith("_") else text


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "series"


# --------------------------------------------------------------------------- plots


@contextlib.contextmanager
def _plot_style(salt: str) -> Iterator[None]:
    """rc settings for deterministic, font-free SVG (text drawn as paths)."""
    import matplotlib

    with matplotlib.rc_context({
        "svg.fonttype": "path",
        "svg.hashsalt": f"quantune-{salt}",
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
    }):
        yield


def _figure(width: float, height: float) -> Any:
    # The object-oriented API: no pyplot, so no global backend state; savefig
    # picks matplotlib's SVG canvas from the format.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def namespace_svg_ids(svg: str, prefix: str, keep: Collection[str] = ()) -> str:
    """Prefixes the ids of one SVG (and the references to them) with ``prefix-``.

    matplotlib numbers its ids per figure (``axes_1``, glyph and clip-path
    ids), so two inline SVGs on one page would share ids; ``keep`` lists the
    ids set on purpose (gids), which stay as they are.
    """
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    rename = {old: f"{prefix}-{old}" for old in ids if old not in keep}

    def new(name: str) -> str:
        return rename.get(name, name)

    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{new(m.group(1))}"', svg)
    svg = re.sub(r'\b((?:xlink:)?href)="#([^"]+)"', lambda m: f'{m.group(1)}="#{new(m.group(2))}"', svg)
    return re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{new(m.group(1))})", svg)


def figure_to_svg(fig: Any, prefix: str, keep_ids: Collection[str] = ()) -> str:
    """The figure as an inline ``<svg>`` element, its ids namespaced with ``prefix``.

    The XML prolog, doctype and RDF metadata block (creator, namespaces) are
    dropped: they mean nothing inside an HTML page.
    """
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    start = text.find("<svg")
    if start < 0:
        raise QuantuneError("report: matplotlib produced no <svg> element")
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", text[start:], count=1, flags=re.S).strip()
    return namespace_svg_ids(svg, prefix, keep_ids)


def bar_gid(layer_id: int) -> str:
    """The SVG id of the sensitivity bar of one layer."""
    return f"sens-bar-{layer_id}"


def sensitivity_chart_svg(layers: Sequence[LayerPlan]) -> str:
    """Bars of sensitivity by layer id, coloured by precision; one SVG group per bar.

    Layers with no sensitivity (not ranked, e.g. forced to f32) get a
    zero-height bar and an "n/a" mark, so every layer id has its bar.
    Forced layers are hatched.
    """
    from matplotlib.patches import Patch

    n = len(layers)
    with _plot_style("sensitivity"):
        fig = _figure(max(5.0, min(0.28 * n + 2.0, 18.0)), 3.0)
        ax = fig.add_subplot()
        xs = list(range(n))
        heights = [layer.sensitivity if _finite(layer.sensitivity) else 0.0 for layer in layers]
        colours = [PRECISION_COLOURS.get(layer.precision, OTHER_COLOUR) for layer in layers]
        bars = ax.bar(xs, heights, color=colours, edgecolor="white", linewidth=0.5)
        for rect, layer in zip(bars, layers):
            rect.set_gid(bar_gid(layer.id))
            if layer.reason:
                rect.set_hatch("//")
                rect.set_edgecolor("#333333")
        for x, layer in zip(xs, layers):
            if not _finite(layer.sensitivity):
                ax.text(x, 0.02, "n/a", ha="center", va="bottom", fontsize=7, rotation=90, color="#555555")
        crowded = n > 30
        ax.set_xticks(xs, [str(layer.id) for layer in layers], rotation=90 if crowded else 0,
                      fontsize=7 if crowded else 9)
        ax.set_xlim(-0.6, n - 0.4)
        ax.set_ylim(0.0, max([1.0, *heights]) * 1.05)
        ax.set_xlabel("layer id")
        ax.set_ylabel("sensitivity")
        ax.grid(axis="x", visible=False)
        handles = [Patch(facecolor=PRECISION_COLOURS[p], label="i4 (w4a8)" if p == "i4" else p)
                   for p in ("i4", "i8", "f32") if p != "i4" or any(layer.precision == "i4" for layer in layers)]
        if any(layer.reason for layer in layers):
            handles.append(Patch(facecolor=PRECISION_COLOURS["f32"], hatch="//", edgecolor="#333333",
                                 label="f32 (forced)"))
        if any(layer.precision not in PRECISION_COLOURS for layer in layers):
            handles.append(Patch(facecolor=OTHER_COLOUR, label="other"))
        # Above the axes, so it never hides a bar.
        ax.legend(handles=handles, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=len(handles), fontsize=8,
                  frameon=False)
        return figure_to_svg(fig, "sensitivity", {bar_gid(layer.id) for layer in layers})


def _byte_unit(max_bytes: float) -> tuple[str, float]:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if max_bytes >= size:
            return unit, float(size)
    return "B", 1.0


def _group_by_method(points: Sequence[ParetoPoint]) -> dict[str, list[ParetoPoint]]:
    groups: dict[str, list[ParetoPoint]] = {}
    for point in points:
        groups.setdefault(point.method, []).append(point)
    return groups


def pareto_series_gid(axis: str, method: str) -> str:
    """The SVG id of one method's series on one Pareto plot (``axis``: size or latency)."""
    return f"pareto-{axis}-{_slug(method)}"


def pareto_chart_svg(points: Sequence[ParetoPoint], axis: str, fp32_accuracy: float | None = None) -> str | None:
    """Accuracy against weight size (``axis="size"``) or latency (``"latency"``).

    One series per method (its own marker, connected in x order); points are
    labelled when there are at most ``MAX_LABELLED_POINTS``. Points missing either coordinate are left out; None when no
    point has both.
    """
    if axis not in ("size", "latency"):
        raise ValueError(f"unknown Pareto axis '{axis}'")

    def x_of(p: ParetoPoint) -> float | None:
        value = p.weight_bytes if axis == "size" else p.latency_ms
        return float(value) if _finite(value) else None

    usable = [p for p in points if x_of(p) is not None and _finite(p.accuracy)]
    if not usable:
        return None
    if axis == "size":
        unit, scale = _byte_unit(max(x_of(p) for p in usable))  # type: ignore[type-var]
        xlabel = f"weight size ({unit})"
    else:
        scale, xlabel = 1.0, "latency (ms)"
    with _plot_style(f"pareto-{axis}"):
        fig = _figure(6.0, 3.8)
        ax = fig.add_subplot()
        gids: list[str] = []
        for i, (method, group) in enumerate(_group_by_method(usable).items()):
            group = sorted(group, key=lambda p: x_of(p))  # type: ignore[arg-type, return-value]
            xs = [x_of(p) / scale for p in group]  # type: ignore[operator]
            ys = [100.0 * p.accuracy for p in group]  # type: ignore[operator]
            (line,) = ax.plot(xs, ys, marker=PARETO_MARKERS[i % len(PARETO_MARKERS)], linewidth=1,
                              markersize=6, label=_mpl_text(method))
            gid = pareto_series_gid(axis, method)
            gids.append(gid if gid not in gids else f"{gid}-{i}")  # methods whose slugs collide
            line.set_gid(gids[-1])
            for x, y, p in zip(xs, ys, group) if len(usable) <= MAX_LABELLED_POINTS else ():
                ax.annotate(_mpl_text(p.label), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7,
                            color=line.get_color())
        if _finite(fp32_accuracy):
            ax.axhline(100.0 * fp32_accuracy, color="#444444", linestyle="--", linewidth=1,  # type: ignore[operator]
                       label="fp32")
        ax.margins(x=0.1, y=0.1)  # room for the point labels
        ax.set_xlabel(xlabel)
        ax.set_ylabel("accuracy (%)")
        ax.legend(fontsize=8, loc="best", framealpha=0.9)
        return figure_to_svg(fig, f"pareto-{axis}", gids)


# --------------------------------------------------------------------------- HTML

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1rem; color: #1a202c; line-height: 1.4; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #e2e8f0; padding-bottom: 0.2rem; }
.meta { color: #4a5568; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.88rem; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #e2e8f0; text-align: left; vertical-align: top; }
th { background: #f7fafc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.f32 td { background: #fffaf0; }
.prec-i8 { color: #2b6cb0; font-weight: 600; }
.prec-i4 { color: #2f855a; font-weight: 600; }
.prec-f32 { color: #c05621; font-weight: 600; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.15rem 1rem; font-size: 0.9rem; }
dl.facts dt { color: #4a5568; } dl.facts dd { margin: 0; }
figure { margin: 1rem 0; } figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 0.85rem; color: #4a5568; }
.scroll { overflow-x: auto; }
code { font-size: 0.9em; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _cell(text: str, numeric: bool = False, cls: str | None = None) -> str:
    classes = " ".join(c for c in ("num" if numeric else None, cls) if c)
    attr = f' class="{_e(classes)}"' if classes else ""
    return f"<td{attr}>{_e(text)}</td>"


def _table(table_id: str, headers: Sequence[str], rows: Iterable[str]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "\n".join(rows)
    return (f'<div class="scroll"><table id="{_e(table_id)}">\n<thead><tr>{head}</tr></thead>\n'
            f"<tbody>\n{body}\n</tbody></table></div>")


def _acc(summary: Summary | None, key: str) -> float | None:
    if summary is None or summary.accuracy is None:
        return None
    return getattr(summary.accuracy, key)


def _lat(summary: Summary | None, key: str) -> float | None:
    if summary is None or summary.latency_ms is None:
        return None
    return getattr(summary.latency_ms, key)


def _size(summary: Summary | None, key: str) -> int | None:
    return None if summary is None else getattr(summary, key)


def summary_rows(fp32: Summary | None, quantized: Summary | None) -> list[tuple[str, str, str, str]]:
    """(metric, fp32, quantized, quantized vs fp32) text rows of the summary table.

    Top-1 accuracy, median latency, weight and module size always appear;
    top-5, agreement and the latency range only when either side has them.
    """
    rows: list[tuple[str, str, str, str]] = []
    for key, label, always in (("top1", "top-1 accuracy", True), ("top5", "top-5 accuracy", False),
                               ("agreement", "top-1 agreement with fp32", False)):
        f, q = _acc(fp32, key), _acc(quantized, key)
        if always or f is not None or q is not None:
            rows.append((label, fmt_percent(f), fmt_percent(q), fmt_delta_pp(q, f)))
    kl = _acc(quantized, "mean_kl")
    if kl is not None:
        rows.append(("mean KL from fp32 (nats)", fmt_number(0.0, ".4f"), fmt_number(kl, ".4f"), MISSING))
    f, q = _lat(fp32, "median"), _lat(quantized, "median")
    rows.append(("latency, median", fmt_ms(f), fmt_ms(q), fmt_ratio(ratio(q, f))))
    ranges = [(_lat(s, "min"), _lat(s, "max")) for s in (fp32, quantized)]
    if any(v is not None for pair in ranges for v in pair):
        f_r, q_r = (f"{fmt_ms(lo)} \u2013 {fmt_ms(hi)}" if lo is not None or hi is not None else MISSING
                    for lo, hi in ranges)
        rows.append(("latency, min \u2013 max", f_r, q_r, MISSING))
    for key, label in (("weight_bytes", "weight size"), ("module_bytes", "module size")):
        f, q = _size(fp32, key), _size(quantized, key)
        rows.append((label, fmt_bytes(f), fmt_bytes(q), fmt_ratio(ratio(q, f))))
    return rows


def summary_table_html(data: ReportData) -> str:
    rows = [f"<tr><th>{_e(metric)}</th>{_cell(f, True)}{_cell(q, True)}{_cell(c, True)}</tr>"
            for metric, f, q, c in summary_rows(data.fp32, data.quantized)]
    return _table("summary-table", ["", "fp32", "quantized", "quantized vs fp32"], rows)


def plan_facts_html(data: ReportData) -> str:
    plan = data.plan
    calib = plan.calibration
    calib_text = ", ".join(f"{k} {v}" for k, v in calib.items()) if calib else MISSING
    facts = [
        ("i8 layers", f"{data.resolved_int8_layers()} / {len(plan.layers)}"),
        *([("i4 (w4a8) layers", f"{plan.int4_layers} / {len(plan.layers)}")] if plan.has_int4 else []),
        ("method", plan.method),
        ("budget", plan.budget),
        ("metric ratio", ", ".join(f"{r:g}" for r in plan.ratio) if plan.ratio else MISSING),
        ("calibration", calib_text),
        ("passes over calibration set", str(plan.inferences.get("passes", MISSING))),
        ("folded quantize/dequantize pairs", MISSING if data.folded_pairs is None else str(data.folded_pairs)),
        ("plan model", plan.model),
    ]
    items = "\n".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    return f'<dl class="facts">\n{items}\n</dl>'


LAYER_HEADERS = ["id", "name", "kind", "params", "MACs", "SQNR_w (dB)", "SQNR_a (dB)", "MSE_w", "MSE_a",
                 "SQNR_out (dB)", "sensitivity", "activation range", "bias correction", "precision", "reason"]
W4A8_HEADERS = ["SQNR_w4 (dB)", "SQNR_a4 (dB)", "SQNR_out4 (dB)"]
"""Added after ``SQNR_out`` for three-tier plans: the w4a8 form's metrics."""


def range_text(layer: LayerPlan) -> str:
    """The activation range method of the layer's tier, e.g. ``mse``."""
    return layer.tier(layer.precision).act_range or MISSING


def correction_text(layer: LayerPlan) -> str:
    """The size of the bias correction of the layer's tier: its largest |value| and channel count."""
    correction = layer.tier(layer.precision).bias_correction
    if not correction:
        return MISSING
    largest = max(abs(v) for v in correction)
    return f"{len(correction)} ch, max |{largest:.3g}|"


def layer_row_html(layer: LayerPlan, tiers: bool = False) -> str:
    w4a8 = []
    if tiers:
        i4 = layer.i4 or TierPlan()
        w4a8 = [_cell(fmt_number(v, ".1f"), True) for v in (i4.weight_sqnr, i4.act_sqnr, i4.output_sqnr)]
    cells = [
        _cell(str(layer.id), True), _cell(layer.name), _cell(layer.kind),
        _cell(fmt_number(layer.params, ",d"), True), _cell(fmt_number(layer.macs, ",d"), True),
        _cell(fmt_number(layer.weight_sqnr, ".1f"), True), _cell(fmt_number(layer.act_sqnr, ".1f"), True),
        _cell(fmt_number(layer.weight_mse, ".2e"), True), _cell(fmt_number(layer.act_mse, ".2e"), True),
        _cell(fmt_number(layer.output_sqnr, ".1f"), True),
        *w4a8,
        _cell(fmt_number(layer.sensitivity, ".3f"), True),
        _cell(range_text(layer)), _cell(correction_text(layer)),
        _cell(layer.precision, cls=f"prec-{_slug(layer.precision)}"),
        _cell(layer.reason or MISSING),
    ]
    return f'<tr class="{_e(_slug(layer.precision))}" id="layer-{layer.id}">{"".join(cells)}</tr>'


def layer_table_html(layers: Sequence[LayerPlan]) -> str:
    """The per-layer table; with the w4a8 columns when any layer measured that form."""
    tiers = any(layer.i4 is not None for layer in layers)
    cut = LAYER_HEADERS.index("SQNR_out (dB)") + 1
    headers = LAYER_HEADERS[:cut] + W4A8_HEADERS + LAYER_HEADERS[cut:] if tiers else LAYER_HEADERS
    return _table("layer-table", headers, (layer_row_html(layer, tiers) for layer in layers))


def pareto_table_html(points: Sequence[ParetoPoint]) -> str:
    rows = [
        "<tr>" + "".join([
            _cell(p.label), _cell(p.method), _cell(p.budget), _cell(fmt_number(p.fp32_layers, "d"), True),
            _cell(fmt_bytes(p.weight_bytes), True), _cell(fmt_ms(p.latency_ms), True),
            _cell(fmt_percent(p.accuracy), True),
        ]) + "</tr>"
        for p in points
    ]
    return _table("pareto-table", ["label", "method", "budget", "fp32 layers", "weight size", "latency", "accuracy"],
                  rows)


def _figure_html(svg: str, fig_id: str, caption: str) -> str:
    # The SVG comes from matplotlib, which escapes the text it embeds.
    return f'<figure id="{_e(fig_id)}">\n{svg}\n<figcaption>{_e(caption)}</figcaption>\n</figure>'


def pareto_section_html(data: ReportData) -> str:
    """Empty when there are no Pareto points."""
    if not data.pareto:
        return ""
    fp32_top1 = _acc(data.fp32, "top1")
    parts = ['<section id="pareto">', "<h2>Accuracy against cost</h2>"]
    size_svg = pareto_chart_svg(data.pareto, "size", fp32_top1)
    if size_svg:
        parts.append(_figure_html(size_svg, "pareto-size", "Accuracy against weight size, one series per method."))
    latency_svg = pareto_chart_svg(data.pareto, "latency", fp32_top1)
    if latency_svg:
        parts.append(_figure_html(latency_svg, "pareto-latency", "Accuracy against latency, one series per method."))
    parts += [pareto_table_html(data.pareto), "</section>"]
    return "\n".join(parts)


def render_html(data: ReportData, generated: str) -> str:
    """The whole page; every piece of user text is escaped."""
    plan = data.plan
    title = f"Quantune-MLIR report: {data.model}"
    sens_caption = ("Sensitivity per layer (higher = more sensitive to int8), coloured by chosen precision; "
                    "hatched bars are forced to f32, n/a marks layers that were not ranked.")
    notes = ""
    if data.notes:
        items = "\n".join(f"<li>{_e(note)}</li>" for note in data.notes)
        notes = f'<section id="notes">\n<h2>Notes</h2>\n<ul>\n{items}\n</ul>\n</section>'
    sections = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">target <code>{_e(data.target)}</code> \u00b7 generated {_e(generated)} \u00b7 '
        f"quantune-mlir {_e(tool_version())}</p>",
        "</header>",
        '<section id="summary">',
        "<h2>Summary</h2>",
        summary_table_html(data),
        plan_facts_html(data),
        "</section>",
        '<section id="sensitivity">',
        "<h2>Sensitivity</h2>",
        _figure_html(sensitivity_chart_svg(plan.layers), "sensitivity-chart", sens_caption)
        if plan.layers else f"<p>{MISSING} (the plan has no layers)</p>",
        "</section>",
        '<section id="layers">',
        "<h2>Layers</h2>",
        layer_table_html(plan.layers),
        "</section>",
        pareto_section_html(data),
        notes,
        "</body>",
        "</html>",
    ]
    return "\n".join(s for s in sections if s) + "\n"


# --------------------------------------------------------------------------- JSON


def _json_safe(value: Any) -> Any:
    """Non-finite floats become None, so the output is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def report_dict(data: ReportData, generated: str) -> dict[str, Any]:
    """The report's data: the plan as in plan.json, the summaries, the points, ratios."""
    f, q = data.fp32, data.quantized
    return _json_safe({
        "report_version": REPORT_VERSION,
        "tool_version": tool_version(),
        "generated": generated,
        "model": data.model,
        "target": data.target,
        "fp32": asdict(f) if f is not None else None,
        "quantized": asdict(q) if q is not None else None,
        "ratios": {
            "latency_median": ratio(_lat(q, "median"), _lat(f, "median")),
            "weight_bytes": ratio(_size(q, "weight_bytes"), _size(f, "weight_bytes")),
            "module_bytes": ratio(_size(q, "module_bytes"), _size(f, "module_bytes")),
        },
        "folded_pairs": data.folded_pairs,
        "int8_layers": data.resolved_int8_layers(),
        "layers": len(data.plan.layers),
        "pareto": [asdict(p) for p in data.pareto],
        "notes": list(data.notes),
        "plan": asdict(data.plan),
    })


def render_json(data: ReportData, generated: str) -> str:
    return json.dumps(report_dict(data, generated), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- writing


def default_json_path(html_path: str | os.PathLike[str]) -> Path:
    return Path(html_path).with_suffix(".json")


def write_report(html_path: str | os.PathLike[str], data: ReportData,
                 json_path: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """Writes the HTML report and its JSON; returns both paths.

    Both documents are rendered in memory first, then written to temporary
    files next to their targets and renamed into place only once both are
    written, so a failure leaves neither a partial file nor a stray
    temporary. Errors are one-line :class:`QuantuneError`.
    """
    html_out = Path(html_path)
    json_out = Path(json_path) if json_path is not None else default_json_path(html_out)
    if html_out.resolve() == json_out.resolve():
        raise QuantuneError(f"report: the HTML and JSON outputs are the same file '{html_out}'")
    for path in (html_out, json_out):
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():  # fail before the (slower) rendering
            raise QuantuneError(f"cannot write report '{path}': directory '{parent}' does not exist")
    validate(data)
    generated = data.generated or datetime.now().astimezone().isoformat(timespec="seconds")
    documents = [(html_out, render_html(data, generated)), (json_out, render_json(data, generated))]
    current = html_out
    try:
        with contextlib.ExitStack() as stack:
            for path, text in documents:
                current = path
                tmp = stack.enter_context(atomic_path(path))
                tmp.write_text(text, encoding="utf-8")
            current = html_out
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise QuantuneError(first_line(f"cannot write report '{current}': {reason}")) from None
    return html_out, json_out
