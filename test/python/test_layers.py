"""Reading layer attributes from printed IR, including hexadecimal floats."""

from __future__ import annotations

from quantune_mlir.layers import list_layers, parse_mlir_float


def test_mlir_floats_in_decimal_and_hex() -> None:
    assert parse_mlir_float("4.000000e+01") == 40.0
    assert parse_mlir_float("0x4059000000000000") == 100.0  # f64 bits of 100
    assert parse_mlir_float("0x3F800000") == 1.0  # f32 bits of 1
    assert parse_mlir_float("0x7FF0000000000000") == float("inf")


def test_hex_scale_of_a_layer_is_read_as_its_value() -> None:
    # MLIR prints a double that has no short decimal form as its bits.
    ir = ('%0 = "linalg.matmul"() {quantune.act_qparams = #quantune.qparams<si8, scale = 0x4059000000000000, '
          'zero_point = -128>, quantune.kind = "matmul", quantune.layer = 3 : i64, quantune.name = "fc"} : () -> ()')
    (layer,) = list_layers(ir)
    assert layer.id == 3 and layer.name == "fc"
    assert layer.act_qparams == {"scale": 100.0, "zero_point": -128.0}
