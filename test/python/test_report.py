"""The HTML/JSON report: structure, numbers, charts, escaping and atomic writes."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from quantune_mlir.errors import QuantuneError
from quantune_mlir.plan import LayerPlan, Plan, TierPlan
from quantune_mlir.report import (
    MISSING,
    PRECISION_COLOURS,
    Accuracy,
    LatencyMs,
    ParetoPoint,
    ReportData,
    Summary,
    bar_gid,
    render_html,
    report_dict,
    write_report,
)

GENERATED = "2026-01-02T03:04:05+00:00"
NASTY_NAME = 'conv<2>&"x"'


def make_plan() -> Plan:
    layers = [
        LayerPlan(0, "conv1", "conv2d", 432, 442368, "i8", 0.12, 44.1, 37.9, 3.9e-5, 1.6e-4, 0.0123, -3),
        LayerPlan(1, NASTY_NAME, "conv2d", 4608, 1179648, "f32", 0.91, 30.2, 21.5, 9.5e-4, 7.1e-3, 0.02, 5),
        LayerPlan(2, "gather_mm", "matmul", None, None, "f32", reason="weight is not a constant"),
        LayerPlan(3, "fc", "matmul", 1000, 1000, "i8", 0.30, 40.0, 35.0, 1.0e-4, 1.2e-4, 0.05, 0,
                  act_range="mse", bias_correction=[0.25, -0.5, 0.125], output_sqnr=28.25, gain_db=-6.75),
    ]
    return Plan(
        model="model.onnx", method="quantunev2", budget="fp32-fraction=0.25", ratio=[1.0, 1.0, 1.0, 1.0],
        calibration={"source": "calib.npy", "samples": 64, "method": "minmax", "histogram_bins": 0},
        inferences={"passes": 2, "model_runs": 128}, phases_seconds={"import": 0.4, "assign": 0.1},
        layers=layers, metric_meaning={"act_sqnr": "local output SQNR, dB"},
    )


PARETO = [
    ParetoPoint("qv2 10%", "fp32-fraction=0.1", 1, "quantunev2", weight_bytes=270, latency_ms=6.1, accuracy=0.757),
    ParetoPoint("qv2 25%", "fp32-fraction=0.25", 2, "quantunev2", weight_bytes=400, latency_ms=7.0, accuracy=0.760),
    ParetoPoint("sweep 10%", "fp32-fraction=0.1", 1, "sweep", weight_bytes=270, latency_ms=6.2, accuracy=0.755),
    ParetoPoint("all int8", "fp32-count=0", 0, "uniform int8", weight_bytes=250, latency_ms=5.5, accuracy=0.70),
    ParetoPoint("ort <1.17>", "-", 0, "ort", weight_bytes=260, latency_ms=None, accuracy=0.74),
]


def make_data(**changes: object) -> ReportData:
    data = ReportData(
        plan=make_plan(), model="model.onnx", target="llvm-cpu:host",
        fp32=Summary(Accuracy(top1=0.761, top5=0.93), LatencyMs(12.3, 11.0, 14.2), weight_bytes=1000,
                     module_bytes=5000),
        quantized=Summary(Accuracy(top1=0.757, agreement=0.98, mean_kl=0.0123), LatencyMs(6.15, 5.9, 7.0), weight_bytes=270,
                          module_bytes=2100),
        folded_pairs=12, pareto=list(PARETO), notes=["calibrated on <64> images & checked"],
        generated=GENERATED,
    )
    return replace(data, **changes)


# --------------------------------------------------------------------------- HTML helpers

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class CheckingParser(HTMLParser):
    """Collects tables by id and fails on unbalanced or misnested tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "table":
            self._table = dict(attrs).get("id") or f"table{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(text: str) -> CheckingParser:
    parser = CheckingParser()
    parser.feed(text)
    parser.close()
    assert not parser.errors, parser.errors[:5]
    assert parser.stack == [], f"unclosed tags: {parser.stack}"
    return parser


def figure(text: str, fig_id: str) -> str:
    match = re.search(rf'<figure id="{re.escape(fig_id)}">(.*?)</figure>', text, re.S)
    assert match, f"no figure {fig_id}"
    return match.group(1)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, ReportData]:
    out = tmp_path_factory.mktemp("report")
    data = make_data()
    html_path, json_path = write_report(out / "report.html", data)
    assert json_path == out / "report.json"
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.json"]
    return html_path, json_path, data


# --------------------------------------------------------------------------- tests


def test_html_is_well_formed_and_self_contained(written: tuple[Path, Path, ReportData]) -> None:
    text = written[0].read_text(encoding="utf-8")
    parse(text)
    assert text.startswith("<!DOCTYPE html>")
    for external in ("<script", "<img", "<link", "src=", 'href="http', "url(http", "@font-face", "@import",
                     "<metadata"):
        assert external not in text, external
    ids = re.findall(r'\bid="([^"]+)"', text)  # the inline SVGs' ids are namespaced per figure
    assert len(ids) == len(set(ids))
    refs = set(re.findall(r'href="#([^"]+)"', text)) | set(re.findall(r"url\(#([^)]+)\)", text))
    assert refs and refs <= set(ids)
    assert "<h1>Quantune-MLIR report: model.onnx</h1>" in text
    assert "llvm-cpu:host" in text and GENERATED in text and "quantune-mlir 0.1.0" in text


def test_layer_table_has_every_layer(written: tuple[Path, Path, ReportData]) -> None:
    parser = parse(written[0].read_text(encoding="utf-8"))
    header, *rows = parser.tables["layer-table"]
    assert header[:2] == ["id", "name"] and header[-2:] == ["precision", "reason"]
    plan = written[2].plan
    assert len(rows) == len(plan.layers)
    for row, layer in zip(rows, plan.layers):
        assert row[0] == str(layer.id)
        assert row[1] == layer.name  # the parser unescapes: the text round-trips
        assert row[header.index("precision")] == layer.precision
        assert row[header.index("reason")] == (layer.reason or MISSING)
    assert rows[0][3:5] == ["432", "442,368"]
    assert rows[0][header.index("sensitivity")] == "0.120"
    assert rows[2][3:10] == [MISSING] * 7  # no params, MACs or metrics
    # The activation range, the bias correction and the estimated output SQNR.
    assert [rows[3][header.index(h)] for h in ("activation range", "bias correction", "SQNR_out (dB)")] == [
        "mse", "3 ch, max |0.5|", "28.2"]
    assert [rows[0][header.index(h)] for h in ("activation range", "bias correction", "SQNR_out (dB)")] == [MISSING] * 3


def test_sensitivity_chart_has_one_bar_per_layer_coloured_by_precision(
        written: tuple[Path, Path, ReportData]) -> None:
    svg = figure(written[0].read_text(encoding="utf-8"), "sensitivity-chart")
    assert svg.lstrip().startswith("<svg")
    plan = written[2].plan
    ids = re.findall(r'<g id="sens-bar-(\d+)">', svg)
    assert ids == [str(layer.id) for layer in plan.layers]
    for layer in plan.layers:
        group = re.search(rf'<g id="{bar_gid(layer.id)}">(.*?)</g>', svg, re.S)
        assert group and group.group(1).count("<path") == 1
        colour = PRECISION_COLOURS[layer.precision]
        if layer.reason:  # hatched: filled with a pattern over the precision colour
            pattern = re.search(r"fill: url\(#([\w-]+)\)", group.group(1))
            assert pattern and re.search(rf'<pattern id="{pattern.group(1)}"[^>]*>\s*<rect [^>]*fill="{colour}"', svg)
        else:
            assert f"fill: {colour}" in group.group(1)
    for label in ("i8", "f32", "f32 (forced)"):  # legend entries (text drawn as paths, named in comments)
        assert f"<!-- {label} -->" in svg


def test_pareto_plots_one_series_per_method(written: tuple[Path, Path, ReportData]) -> None:
    text = written[0].read_text(encoding="utf-8")
    size = figure(text, "pareto-size")
    for method in ("quantunev2", "sweep", "uniform-int8", "ort"):
        assert f'<g id="pareto-size-{method}">' in size
    latency = figure(text, "pareto-latency")  # ort has no latency: left out
    for method in ("quantunev2", "sweep", "uniform-int8"):
        assert f'<g id="pareto-latency-{method}">' in latency
    assert 'id="pareto-latency-ort"' not in latency
    header, *rows = parse(text).tables["pareto-table"]
    assert [r[0] for r in rows] == [p.label for p in PARETO]
    assert rows[4][header.index("latency")] == MISSING


def test_no_pareto_section_without_points() -> None:
    text = render_html(make_data(pareto=[]), GENERATED)
    parse(text)
    assert 'id="pareto' not in text and 'id="sensitivity-chart"' in text
    no_latency = [replace(p, latency_ms=None) for p in PARETO]
    text = render_html(make_data(pareto=no_latency), GENERATED)
    assert 'id="pareto-size"' in text and 'id="pareto-latency"' not in text


def test_summary_numbers(written: tuple[Path, Path, ReportData]) -> None:
    parser = parse(written[0].read_text(encoding="utf-8"))
    header, *rows = parser.tables["summary-table"]
    assert header == ["", "fp32", "quantized", "quantized vs fp32"]
    table = {row[0]: row[1:] for row in rows}
    assert table["weight size"] == ["1,000 B", "270 B", "0.27\u00d7"]
    assert table["module size"] == ["4.88 KiB (5,000 B)", "2.05 KiB (2,100 B)", "0.42\u00d7"]
    assert table["top-1 accuracy"] == ["76.10 %", "75.70 %", "\u22120.40 pp"]
    assert table["top-5 accuracy"] == ["93.00 %", MISSING, MISSING]
    assert table["top-1 agreement with fp32"] == [MISSING, "98.00 %", MISSING]
    assert table["mean KL from fp32 (nats)"] == ["0.0000", "0.0123", MISSING]
    assert table["latency, median"] == ["12.30 ms", "6.15 ms", "0.50\u00d7"]


def test_missing_summaries_print_dashes() -> None:
    parser = parse(render_html(make_data(fp32=None, quantized=Summary(weight_bytes=270), pareto=[]), GENERATED))
    table = {row[0]: row[1:] for row in parser.tables["summary-table"][1:]}
    assert table["top-1 accuracy"] == [MISSING, MISSING, MISSING]
    assert table["weight size"] == [MISSING, "270 B", MISSING]
    assert "latency, min \u2013 max" not in table


def test_json_round_trips(written: tuple[Path, Path, ReportData]) -> None:
    _, json_path, data = written
    loaded = json.loads(json_path.read_text(encoding="utf-8"))
    assert loaded == report_dict(data, GENERATED)
    assert loaded["plan"] == asdict(data.plan)
    assert loaded["plan"]["layers"][1]["name"] == NASTY_NAME
    assert loaded["pareto"] == [asdict(p) for p in PARETO]
    assert loaded["fp32"]["weight_bytes"] == 1000 and loaded["quantized"]["weight_bytes"] == 270
    assert loaded["ratios"]["weight_bytes"] == pytest.approx(0.27)
    assert loaded["int8_layers"] == 2 and loaded["layers"] == 4 and loaded["folded_pairs"] == 12
    # int8_layers is stored resolved (from the plan when the data left it None).
    assert ReportData.from_dict(loaded) == replace(data, int8_layers=2)


def test_special_characters_are_escaped(written: tuple[Path, Path, ReportData]) -> None:
    text = written[0].read_text(encoding="utf-8")
    assert "conv&lt;2&gt;&amp;&quot;x&quot;" in text
    assert NASTY_NAME not in text and "conv<2>" not in text
    assert "calibrated on &lt;64&gt; images &amp; checked" in text
    assert "ort <1.17>" not in text  # a Pareto label, inside the SVG too


def test_unwritable_directory_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(QuantuneError) as err:
        write_report(tmp_path / "missing" / "report.html", make_data(pareto=[]))
    assert "\n" not in str(err.value) and "does not exist" in str(err.value)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(QuantuneError):
        write_report(blocker / "report.html", make_data(pareto=[]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_failed_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = tmp_path / "report.html"
    old.write_text("old report")
    real_write_text = Path.write_text

    def failing_write_text(self: Path, text: str, *args: object, **kwargs: object) -> int:
        if ".report.json." in self.name:  # the JSON's temporary, after the HTML's was written
            raise OSError(28, "No space left on device")
        return real_write_text(self, text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", failing_write_text)
    with pytest.raises(QuantuneError) as err:
        write_report(old, make_data(pareto=[]))
    assert str(err.value) == f"cannot write report '{tmp_path / 'report.json'}': No space left on device"
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    assert old.read_text() == "old report"


def test_invalid_inputs_are_rejected(tmp_path: Path) -> None:
    percent = make_data(pareto=[], quantized=Summary(Accuracy(top1=75.7)))
    with pytest.raises(QuantuneError, match="not a fraction"):
        write_report(tmp_path / "r.html", percent)
    with pytest.raises(QuantuneError, match="same file"):
        write_report(tmp_path / "r.json", make_data(pareto=[]))
    assert list(tmp_path.iterdir()) == []


def test_three_tier_plan_shows_the_w4a8_form(tmp_path: Path) -> None:
    """A plan with i4 layers: their w4a8 metrics in three more columns, their
    own range and correction, their colour in the chart and their count."""
    plan = make_plan()
    tier = TierPlan(weight_sqnr=20.5, act_sqnr=18.25, output_sqnr=30.5, act_scale=0.02, act_zero_point=1,
                    act_range="percentile 99.99", bias_correction=[1.5, -2.0, 0.25])
    plan.layers[3] = replace(plan.layers[3], precision="i4", i4=tier)
    plan.layers[0] = replace(plan.layers[0], i4=TierPlan(weight_sqnr=21.0, act_sqnr=19.0))
    data = make_data(plan=plan, pareto=[])
    html, json_path = write_report(tmp_path / "r.html", data)
    text = html.read_text(encoding="utf-8")
    header, *rows = parse(text).tables["layer-table"]
    assert header[header.index("SQNR_out (dB)") + 1:][:3] == ["SQNR_w4 (dB)", "SQNR_a4 (dB)", "SQNR_out4 (dB)"]
    fc = rows[3]
    assert [fc[header.index(h)] for h in ("SQNR_w4 (dB)", "SQNR_a4 (dB)", "SQNR_out4 (dB)")] == ["20.5", "18.2", "30.5"]
    # An i4 layer shows its w4a8 range and correction, not its int8 ones.
    assert [fc[header.index(h)] for h in ("activation range", "bias correction", "precision")] == [
        "percentile 99.99", "3 ch, max |2|", "i4"]
    assert [rows[2][header.index(h)] for h in ("SQNR_w4 (dB)", "SQNR_a4 (dB)")] == [MISSING, MISSING]
    svg = figure(text, "sensitivity-chart")
    group = re.search(rf'<g id="{bar_gid(3)}">(.*?)</g>', svg, re.S)
    assert group and f"fill: {PRECISION_COLOURS['i4']}" in group.group(1)
    assert "<!-- i4 (w4a8) -->" in svg
    assert "i4 (w4a8) layers" in text
    # The two-tier report has none of it.
    plain = render_html(make_data(pareto=[]), GENERATED)
    assert "SQNR_w4" not in plain and "i4 (w4a8)" not in plain
    assert ReportData.from_dict(json.loads(json_path.read_text(encoding="utf-8"))).plan == plan
