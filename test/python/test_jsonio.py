"""Strict JSON out: non-finite floats become null, and nothing writes NaN or Infinity."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from quantune_mlir.jsonio import dump_strict, dumps_strict, finite_or_none, write_json


def strict_loads(text: str) -> Any:
    def reject(token: str) -> None:
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=reject)


NESTED = {
    "a": math.nan,
    "b": [1.5, math.inf, (-math.inf, 2)],
    "c": {"d": {"e": np.float32("nan"), "f": np.float64(0.25), "g": np.int64(7)}},
    "h": np.float64("inf"),
    "i": True,
    "j": None,
    "k": "NaN",
    "l": 0.0,
}


def test_non_finite_floats_become_null_everywhere() -> None:
    expected = {
        "a": None,
        "b": [1.5, None, [None, 2]],
        "c": {"d": {"e": None, "f": 0.25, "g": 7}},
        "h": None,
        "i": True,
        "j": None,
        "k": "NaN",
        "l": 0.0,
    }
    assert finite_or_none(NESTED) == expected
    text = dumps_strict(NESTED, sort_keys=True)
    assert strict_loads(text) == expected
    assert text == json.dumps(expected, sort_keys=True)
    assert "NaN" not in text.replace('"NaN"', "") and "Infinity" not in text


def test_numpy_scalars_become_python_numbers() -> None:
    out = finite_or_none([np.float32(0.5), np.int32(-3), np.bool_(True)])
    assert out == [0.5, -3, True]
    assert [type(v) for v in out] == [float, int, bool]


def test_the_input_is_not_changed() -> None:
    data = {"x": [math.nan, 1.0]}
    dumps_strict(data)
    assert math.isnan(data["x"][0]) and data["x"][1] == 1.0


def test_keyword_arguments_pass_through() -> None:
    assert dumps_strict({"b": 1, "a": [math.nan]}, indent=2, sort_keys=True) == '{\n  "a": [\n    null\n  ],\n  "b": 1\n}'
    with pytest.raises(TypeError):
        dumps_strict({}, allow_nan=True)


def test_a_default_hook_cannot_sneak_in_nan() -> None:
    class Odd:
        pass

    with pytest.raises(ValueError):
        dumps_strict({"x": Odd()}, default=lambda _: math.nan)


def test_dump_and_write(tmp_path: Path) -> None:
    with open(tmp_path / "a.json", "w") as fp:
        dump_strict({"x": math.inf}, fp)
    assert (tmp_path / "a.json").read_text() == '{"x": null}'
    write_json(tmp_path / "b.json", {"y": [math.nan, 1]})
    assert strict_loads((tmp_path / "b.json").read_text()) == {"y": [None, 1]}
    assert (tmp_path / "b.json").read_text().endswith("\n")


def test_write_json_leaves_nothing_behind_on_failure(tmp_path: Path) -> None:
    (tmp_path / "out.json").write_text("old\n")
    with pytest.raises(TypeError):
        write_json(tmp_path / "out.json", {"x": object()})
    assert (tmp_path / "out.json").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
