"""plan.json: exact round trips, strict JSON out, and a one-line error for every bad field."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Callable

import pytest

from quantune_mlir import plan_schema
from quantune_mlir.errors import QuantuneError
from quantune_mlir.plan import LayerPlan, Plan, load_plan, plan_from_dict


def strict_loads(text: str) -> Any:
    """json.loads that rejects NaN/Infinity, as strict readers do."""

    def reject(token: str) -> None:
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=reject)


def make_plan() -> Plan:
    return Plan(
        model="model.onnx",
        method="quantunev2",
        budget="fp32-fraction=0.1",
        ratio=[1.0, 0.5, 1.0, 0.25],
        calibration={"source": "calib.npy", "samples": 16, "method": "percentile", "percentile": 99.9},
        inferences={"passes": 2, "model_runs": 32},
        phases_seconds={"import": 0.1 + 0.2, "inference_1": 3.141592653589793, "assign": 1e-7},
        layers=[
            LayerPlan(0, "conv_a", "conv2d", 432, 442368, "i8", 0.12, 44.1, 37.9, 3.9e-5, 1.6e-4, 0.0123, -3),
            LayerPlan(1, "conv_b", "conv2d", 4608, 1179648, "f32", 0.91, 30.2, 21.5, 9.5e-4, 7.1e-3, 0.02, 5),
            LayerPlan(2, "gather_mm", "matmul", None, None, "f32", reason="weight is not a constant"),
            LayerPlan(3, "conv_3", "conv2d", 10, 20, "i8", 0.3, 40.0, 35.0, 1e-4, 1.2e-4, 0.05, 0,
                      act_range="percentile 99.99", bias_correction=[0.001, -2.5e-4]),
        ],
        metric_meaning={"act_sqnr": "local SQNR (dB)", "act_mse": "local relative MSE"},
    )


# --------------------------------------------------------------------------- round trips


def test_save_and_load_round_trip_exactly(tmp_path: Path) -> None:
    plan = make_plan()
    plan.save(tmp_path / "p.json", timings=True)
    loaded = load_plan(tmp_path / "p.json")
    assert loaded == plan
    assert loaded.phases_seconds["import"] == 0.1 + 0.2  # floats survive bit for bit
    assert loaded.to_json(True) == plan.to_json(True) == (tmp_path / "p.json").read_text()
    assert [type(r) for r in loaded.ratio] == [float] * 4


def test_saved_plans_leave_timings_out_so_they_diff_cleanly(tmp_path: Path) -> None:
    slow, fast = make_plan(), make_plan()
    fast.phases_seconds = {"import": 0.01, "inference_1": 0.5, "assign": 0.0}
    slow.save(tmp_path / "slow.json")
    fast.save(tmp_path / "fast.json")
    assert (tmp_path / "slow.json").read_bytes() == (tmp_path / "fast.json").read_bytes()
    assert "phases_seconds" not in strict_loads((tmp_path / "slow.json").read_text())
    loaded = load_plan(tmp_path / "slow.json")
    assert loaded.phases_seconds == {}
    assert dataclasses.replace(loaded, phases_seconds=slow.phases_seconds) == slow


def test_non_finite_metrics_are_written_as_null_and_read_as_none(tmp_path: Path) -> None:
    plan = make_plan()
    first = plan.layers[0]
    first.act_sqnr, first.weight_sqnr, first.sensitivity = math.inf, -math.inf, math.nan
    plan.phases_seconds["assign"] = math.nan
    text = plan.to_json(timings=True)
    data = strict_loads(text)  # strict JSON: no NaN or Infinity tokens
    assert data["layers"][0]["act_sqnr"] is None
    assert data["layers"][0]["weight_sqnr"] is None
    assert data["layers"][0]["sensitivity"] is None
    assert data["phases_seconds"]["assign"] is None
    assert data["layers"][0]["act_mse"] == 1.6e-4
    plan.save(tmp_path / "p.json")
    loaded = load_plan(tmp_path / "p.json")
    assert (loaded.layers[0].act_sqnr, loaded.layers[0].weight_sqnr, loaded.layers[0].sensitivity) == (None, None, None)
    assert loaded.layers[1:] == plan.layers[1:]


def test_metrics_that_old_versions_wrote_as_nan_read_as_none(tmp_path: Path) -> None:
    data = json.loads(make_plan().to_json())
    data["layers"][1]["act_sqnr"] = math.nan
    data["layers"][1]["weight_mse"] = math.inf
    (tmp_path / "old.json").write_text(json.dumps(data))  # json.dumps writes NaN / Infinity
    assert "NaN" in (tmp_path / "old.json").read_text()
    layer = load_plan(tmp_path / "old.json").layers[1]
    assert layer.act_sqnr is None and layer.weight_mse is None and layer.act_mse == 7.1e-3


def test_unknown_keys_are_ignored(tmp_path: Path) -> None:
    data = json.loads(make_plan().to_json())
    data["produced_by"] = "quantune 9"
    data["layers"][0]["future_field"] = [1, 2]
    del data["metric_meaning"]  # optional
    (tmp_path / "p.json").write_text(json.dumps(data))
    loaded = load_plan(tmp_path / "p.json")
    assert loaded.layers == make_plan().layers and loaded.metric_meaning == {}


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_bytes(b"\xef\xbb\xbf" + make_plan().to_json(timings=True).encode())
    assert load_plan(tmp_path / "p.json") == make_plan()


def test_schema_knows_every_field() -> None:
    assert set(plan_schema.LAYER_FIELDS) == {f.name for f in dataclasses.fields(LayerPlan)}
    assert set(plan_schema.LAYER_FIELDS) == set(plan_schema.LAYER_RULES)
    assert set(plan_schema.TOP_FIELDS) == {f.name for f in dataclasses.fields(Plan)}


# --------------------------------------------------------------------------- bad plans


def layer(index: int, **changes: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        data["layers"][index].update(changes)
    return edit


def drop(*path: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return edit


def top(**changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.update(changes)


LAYER_CASES = [
    (layer(3, act_scale=0.0), "layer 3 ('conv_3') has act_scale 0.0; it must be a positive finite number"),
    (layer(3, act_scale=-0.5), "layer 3 ('conv_3') has act_scale -0.5; it must be a positive finite number"),
    (layer(3, act_scale=math.inf), "layer 3 ('conv_3') has act_scale Infinity; it must be a positive finite number"),
    (layer(3, act_scale=math.nan), "layer 3 ('conv_3') has act_scale NaN; it must be a positive finite number"),
    (layer(3, act_scale="0.05"), "layer 3 ('conv_3') has act_scale \"0.05\"; it must be a positive finite number"),
    (layer(0, act_zero_point=128), "layer 0 ('conv_a') has act_zero_point 128; it must be an integer in [-128, 127]"),
    (layer(0, act_zero_point=-129), "layer 0 ('conv_a') has act_zero_point -129; it must be an integer in [-128, 127]"),
    (layer(0, act_zero_point=3.0), "layer 0 ('conv_a') has act_zero_point 3.0; it must be an integer in [-128, 127]"),
    (layer(0, act_zero_point=True), "layer 0 ('conv_a') has act_zero_point true; it must be an integer in [-128, 127]"),
    (layer(1, precision="int8"), "layer 1 ('conv_b') has precision \"int8\"; it must be \"i8\", \"i4\" or \"f32\""),
    (layer(1, precision=None), "layer 1 ('conv_b') has precision null; it must be \"i8\", \"i4\" or \"f32\""),
    (layer(2, id="2"), "layers[2] ('gather_mm') has id \"2\"; it must be a non-negative integer"),
    (layer(2, id=2.0), "layers[2] ('gather_mm') has id 2.0; it must be a non-negative integer"),
    (layer(2, id=-1), "layers[2] ('gather_mm') has id -1; it must be a non-negative integer"),
    (layer(2, id=True), "layers[2] ('gather_mm') has id true; it must be a non-negative integer"),
    (layer(3, id=0), "layer id 0 appears twice ('conv_a' and 'conv_3')"),
    (layer(1, name=7), "layer 1 has name 7; it must be a string"),
    (layer(1, kind=["conv"]), "layer 1 ('conv_b') has kind [\"conv\"]; it must be a string"),
    (layer(1, params="4608"), "layer 1 ('conv_b') has params \"4608\"; it must be a non-negative integer or null"),
    (layer(1, macs=-1), "layer 1 ('conv_b') has macs -1; it must be a non-negative integer or null"),
    (layer(1, act_sqnr="high"), "layer 1 ('conv_b') has act_sqnr \"high\"; it must be a number or null"),
    (layer(1, act_mse=-0.1), "layer 1 ('conv_b') has act_mse -0.1; it must be a non-negative number or null"),
    (layer(1, reason=False), "layer 1 ('conv_b') has reason false; it must be a string or null"),
    (layer(3, act_range=3), "layer 3 ('conv_3') has act_range 3; it must be a string or null"),
    (layer(3, bias_correction=[]), "layer 3 ('conv_3') has bias_correction []; it must be a non-empty array of finite numbers or null"),
    (layer(3, bias_correction=[1.0, math.nan]), "layer 3 ('conv_3') has bias_correction [1.0, NaN]; it must be a non-empty array of finite numbers or null"),
    (layer(3, bias_correction=0.5), "layer 3 ('conv_3') has bias_correction 0.5; it must be a non-empty array of finite numbers or null"),
    (layer(3, act_scale=None), "layer 3 ('conv_3') is i8 but has no act_scale; an i8 layer needs act_scale and act_zero_point"),
    (drop("layers", 3, "act_zero_point"), "layer 3 ('conv_3') is i8 but has no act_zero_point"),
    (layer(2, precision="i8", act_scale=0.1, act_zero_point=0),
     "layer 2 ('gather_mm') is i8 but has reason \"weight is not a constant\"; a layer that cannot be quantized must be f32"),
    (layer(1, act_zero_point=None), "layer 1 ('conv_b') has act_scale but no act_zero_point; give both or neither"),
    (drop("layers", 1, "precision"), "layer 1 ('conv_b') has no 'precision'"),
    (drop("layers", 1, "id"), "layers[1] ('conv_b') has no 'id'"),
    (lambda d: d["layers"].__setitem__(1, [1, 2]), "layers[1] is [1, 2]; it must be an object"),
]


TOP_CASES = [
    (drop("layers"), "plan '{path}' has no 'layers'"),
    (drop("model"), "plan '{path}' has no 'model'"),
    (top(layers={"0": {}}), "plan '{path}' has layers {{\"0\": {{}}}}; it must be an array of layer objects"),
    (top(version=2), "plan '{path}' is not a version 1 quantune plan: its version is 2"),
    (top(version="1"), "plan '{path}' is not a version 1 quantune plan: its version is \"1\""),
    (top(version=True), "plan '{path}' is not a version 1 quantune plan: its version is true"),
    (drop("version"), "plan '{path}' is not a version 1 quantune plan: it has no 'version'"),
    (top(model=None), "plan '{path}' has model null; it must be a string"),
    (top(ratio=[1, 1, 1]), "plan '{path}' has ratio [1, 1, 1]; it must be an array of 4 non-negative numbers"),
    (top(ratio=[1, 1, -1, 1]), "plan '{path}' has ratio [1, 1, -1, 1]; it must be an array of 4 non-negative numbers"),
    (top(ratio="1,1,1,1"), "plan '{path}' has ratio \"1,1,1,1\"; it must be an array of 4 non-negative numbers"),
    (top(calibration=[]), "plan '{path}' has calibration []; it must be an object"),
    (top(inferences={"passes": -2}), "plan '{path}' has inferences {{\"passes\": -2}}; it must be an object of non-negative integers"),
    (top(phases_seconds=3.0), "plan '{path}' has phases_seconds 3.0; it must be an object"),
    (top(metric_meaning={"a": 1}), "plan '{path}' has metric_meaning {{\"a\": 1}}; it must be an object of strings"),
]


def write_edited(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    data = json.loads(make_plan().to_json())
    edit(data)
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data, indent=2))  # json.dumps: NaN/Infinity as an old writer would
    return path


@pytest.mark.parametrize("edit, expected", LAYER_CASES)
def test_bad_layer_fields(tmp_path: Path, edit: Callable[[dict[str, Any]], None], expected: str) -> None:
    path = write_edited(tmp_path, edit)
    with pytest.raises(QuantuneError) as excinfo:
        load_plan(path)
    message = str(excinfo.value)
    assert message.startswith(f"plan '{path}': ") and expected in message, message
    assert "\n" not in message


@pytest.mark.parametrize("edit, expected", TOP_CASES)
def test_bad_top_level_fields(tmp_path: Path, edit: Callable[[dict[str, Any]], None], expected: str) -> None:
    path = write_edited(tmp_path, edit)
    with pytest.raises(QuantuneError) as excinfo:
        load_plan(path)
    assert str(excinfo.value) == expected.format(path=path)


def test_long_values_are_shortened(tmp_path: Path) -> None:
    path = write_edited(tmp_path, layer(1, name="x" * 500, kind={"deep": list(range(300))}))
    with pytest.raises(QuantuneError) as excinfo:
        load_plan(path)
    message = str(excinfo.value)
    assert "\n" not in message and len(message) < 300 + len(str(path)), message
    assert "has kind {\"deep\": [0, 1, 2," in message and message.endswith("...; it must be a string")


def test_files_that_are_not_plans(tmp_path: Path) -> None:
    cases: list[tuple[str, bytes, str]] = [
        ("png.json", b"\x89PNG\r\n\x1a\n\x00\x00", "is not UTF-8 text (byte 0x89 at offset 0)"),
        ("latin1.json", '{"model": "caf\u00e9"}'.encode("latin-1"), "is not UTF-8 text (byte 0xe9 at offset 14)"),
        ("bom_latin1.json", b"\xef\xbb\xbf" + '{"model": "caf\u00e9"}'.encode("latin-1"),
         "is not UTF-8 text (byte 0xe9 at offset 17)"),
        ("cut.json", b'{"version": 1, "layers": [', "is not valid JSON: Expecting value at line 1 column 27"),
        ("empty.json", b"", "is not valid JSON: Expecting value at line 1 column 1"),
        ("list.json", b"[1, 2]", "is not a quantune plan: it holds [1, 2], not a JSON object"),
        ("deep.json", b"[" * 100000 + b"]" * 100000, "is not valid JSON"),
    ]
    for name, content, expected in cases:
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(QuantuneError) as excinfo:
            load_plan(path)
        message = str(excinfo.value)
        assert message.startswith(f"plan '{path}' ") and expected in message, message
        assert "\n" not in message and len(message) < 200 + len(str(path))


def test_unreadable_paths(tmp_path: Path) -> None:
    with pytest.raises(QuantuneError) as excinfo:
        load_plan(tmp_path / "missing.json")
    assert str(excinfo.value) == f"cannot read plan '{tmp_path / 'missing.json'}': No such file or directory"
    with pytest.raises(QuantuneError) as excinfo:
        load_plan(tmp_path)
    assert str(excinfo.value) == f"cannot read plan '{tmp_path}': Is a directory"


def test_plan_from_dict_names_its_source() -> None:
    data = json.loads(make_plan().to_json(timings=True))
    assert plan_from_dict(data) == make_plan()
    data["layers"][0]["act_scale"] = 0
    with pytest.raises(QuantuneError) as excinfo:
        plan_from_dict(data, "report 'r.json' plan")
    assert str(excinfo.value) == (
        "report 'r.json' plan: layer 0 ('conv_a') has act_scale 0; it must be a positive finite number"
    )
