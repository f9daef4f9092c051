"""onnxruntime's ``quantize_static``, the int8 baseline of the benchmarks:
QDQ format, int8 activations and weights, per-channel weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def quantize_static_qdq(model: Path, out: Path, calib: np.ndarray, method: str) -> None:
    """Writes the QDQ model of ``model`` calibrated on ``calib`` (N stacked
    inputs of its single input) with the ``minmax`` or ``percentile`` calibrator."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

    name = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{name: calib[i : i + 1]} for i in range(len(calib))])

        def get_next(self) -> dict | None:
            return next(self.items, None)

    proto = onnx.load(model)
    opset = max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset < 13:  # per-channel QDQ needs opset 13
        model = out.with_name(out.stem + "-opset13.onnx")
        onnx.save(onnx.version_converter.convert_version(proto, 13), model)
    # CalibMaxIntermediateOutputs: the calibrator keeps every layer's outputs
    # of this many inputs at a time, not of all of them (at 224x224 and 256
    # inputs, all of them need more than 10 GB). onnxruntime 1.32's MinMax
    # calibrator fails ("No data is collected") when the count is a multiple
    # of it (the last, empty chunk), so it must not divide the count.
    chunk = next(k for k in range(16, 1, -1) if len(calib) % k)
    quantize_static(str(model), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    calibrate_method={"minmax": CalibrationMethod.MinMax,
                                      "percentile": CalibrationMethod.Percentile}[method],
                    extra_options={"CalibMaxIntermediateOutputs": chunk})
