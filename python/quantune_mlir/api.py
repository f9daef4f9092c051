"""The Python entry points: :func:`analyze` and :func:`quantize`.

They take the CLI's options as keyword arguments (the CLI is a thin layer
over them) and return a result with the plan, the per-layer table and the
files written::

    import numpy as np
    import quantune_mlir as qt

    calib = np.load("calib.npy")          # or a file, a folder, or dicts per input
    result = qt.quantize("model.onnx", "model.vmfb", calib=calib, budget="fp32-fraction=0.1")
    print(result.table)
    print(result.int8_layers, result.fallbacks)
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from quantune_mlir.analysis import AnalysisOptions, run_analysis
from quantune_mlir.calib_data import ImageSpec
from quantune_mlir.errors import QuantuneError
from quantune_mlir.fileio import check_paths, path_or_none
from quantune_mlir.lowering import PRECISIONS
from quantune_mlir.output_space import DEFAULT_MODE as DEFAULT_OUTPUT_MODE
from quantune_mlir.output_space import MODES as OUTPUT_MODES
from quantune_mlir.plan import Plan, format_table
from quantune_mlir.range_choice import (
    CALIB_METHODS, DEFAULT_BIAS_CORRECTION, DEFAULT_CALIB_METHOD, DEFAULT_PROPAGATION, DEFAULT_RATIO,
)
from quantune_mlir.pipeline import QuantizeOptions, QuantizeResult, quantize_model

PathLike = str | os.PathLike[str]


@dataclass
class AnalyzeResult:
    """What :func:`analyze` decided."""

    plan: Plan
    table: str
    """The per-layer table, as ``quantune analyze`` prints it."""
    plan_path: Path | None = None
    """Where the plan was written, if ``output`` was given."""


@dataclass
class ModuleResult:
    """What :func:`quantize` built."""

    plan: Plan
    table: str
    module_path: Path
    int8_layers: int
    int4_layers: int
    """Layers with 4-bit weights (w4a8); ``int8_layers`` counts the 8-bit ones."""
    folded_pairs: int
    """Quantize/dequantize pairs removed between int8 layers."""
    fallbacks: dict[str, str]
    """Layers that stay f32 for a reason (name: reason), whatever the budget."""
    weight_bytes: int
    weight_bytes_fp32: int
    module_bytes: int
    details: QuantizeResult = field(repr=False)
    """The internal result (lowered IR, labelled IR), e.g. for the HTML report."""


def parse_ratio(value: str | Sequence[float], name: str = "ratio") -> tuple[float, float, float, float]:
    """Four non-negative, finite weights with a positive sum, from ``"1,1,1,1"`` or a sequence."""
    try:
        values = tuple(float(v) for v in (value.split(",") if isinstance(value, str) else value))
    except (TypeError, ValueError):
        values = ()
    if len(values) != 4 or any(not 0 <= v < float("inf") for v in values) or sum(values) <= 0:
        raise QuantuneError(
            f"bad {name} '{value}': expected four non-negative numbers for "
            "weight_sqnr,act_sqnr,weight_mse,act_mse, e.g. 1,1,1,1"
        )
    return values  # type: ignore[return-value]


_BUDGET_KINDS = {"fp32-count": "K", "fp32-fraction": "F", "weight-bytes": "B", "weight-fraction": "F",
                 "int8-mac-share": "P"}
_WEIGHT_BUDGETS = ("weight-bytes", "weight-fraction")
_FP32_CAPS = ("fp32-count", "fp32-fraction")
DEFAULT_BUDGET = "fp32-fraction=0.1"
DEFAULT_INT4_BUDGET = "weight-fraction=0.15"
"""With three tiers the budget is in weight bytes: 0.15 x the fp32 weights
leaves about a fifth of them at 8 bits (all-i4 is 0.125x)."""


def _budget_item(item: str, value: str, name: str) -> tuple[str, float]:
    kind, _, number = item.partition("=")
    kind = kind.strip()
    try:
        amount = float(number)
    except ValueError:
        amount = float("nan")
    expected = ", ".join(f"{k}={v}" for k, v in _BUDGET_KINDS.items())
    if kind not in _BUDGET_KINDS or not 0 <= amount < float("inf"):
        raise QuantuneError(f"bad {name} '{value}': expected {expected} with a non-negative number")
    if kind in ("fp32-fraction", "weight-fraction", "int8-mac-share") and amount > 1:
        raise QuantuneError(f"bad {name} '{value}': {kind} is a fraction in [0, 1]")
    if kind == "fp32-count" and amount != int(amount):
        raise QuantuneError(f"bad {name} '{value}': fp32-count is a whole number of layers")
    return kind, amount


def check_budget(value: str, name: str = "--budget", int4: bool = False) -> str:
    """Checks a budget such as ``fp32-fraction=0.1`` or, for a weight budget,
    ``weight-fraction=0.3,fp32-count=2`` (at most that many fp32 layers)
    before any work (the assign-precision pass checks it again). Three
    tiers (``int4``) need a weight budget."""
    main, _, cap = str(value).partition(",")
    kind, _ = _budget_item(main, value, name)
    if cap:
        cap_kind, _ = _budget_item(cap, value, name)
        if kind not in _WEIGHT_BUDGETS or cap_kind not in _FP32_CAPS:
            raise QuantuneError(
                f"bad {name} '{value}': only a weight budget (weight-bytes=B or weight-fraction=F) takes a second "
                "item, and it must cap the fp32 layers: fp32-count=K or fp32-fraction=F"
            )
    if int4 and kind not in _WEIGHT_BUDGETS:
        raise QuantuneError(
            f"bad {name} '{value}' for --int4: three tiers are cut under a weight budget, weight-bytes=B or "
            f"weight-fraction=F (e.g. {DEFAULT_INT4_BUDGET}, the default with --int4)"
        )
    return value


def _image_spec(value: str | ImageSpec | None) -> ImageSpec | None:
    return ImageSpec.parse(value) if isinstance(value, str) else value


def _shape_specs(value: Sequence[str] | Mapping[str, Sequence[int]] | None) -> list[str] | None:
    """``["x:1x3x224x224"]`` or ``{"x": (1, 3, 224, 224)}`` as CLI-style specs."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return [f"{name}:{'x'.join(str(int(d)) for d in dims)}" for name, dims in value.items()]
    if isinstance(value, str):
        return [value]
    return list(value)


def _analysis_options(
    method: str, budget: str | None, ratio: str | Sequence[float], calib_method: str, percentile: float, bins: int,
    keep_fp32: Sequence[str], device: str, bias_correction: bool, propagation: bool | None, int4: bool = False,
    output_error: str = DEFAULT_OUTPUT_MODE,
) -> AnalysisOptions:
    if not 0 < percentile <= 100:
        raise QuantuneError(f"bad --percentile {percentile}: expected a number in (0, 100]")
    if bins < 1:
        raise QuantuneError(f"bad --bins {bins}: expected a positive number of histogram bins")
    if propagation and method == "sweep":
        raise QuantuneError("--propagation applies to --method quantunev2: the sweep measures every layer at the "
                            "model output already")
    if propagation is None:  # the default: on for quantunev2
        propagation = DEFAULT_PROPAGATION and method == "quantunev2"
    if calib_method not in CALIB_METHODS:
        raise QuantuneError(f"unknown --calib-method '{calib_method}'; expected one of {', '.join(CALIB_METHODS)}")
    if output_error not in OUTPUT_MODES:
        raise QuantuneError(f"unknown --output-error '{output_error}'; expected one of {', '.join(OUTPUT_MODES)}")
    if budget is None:
        budget = DEFAULT_INT4_BUDGET if int4 else DEFAULT_BUDGET
    check_budget(budget, int4=int4)
    return AnalysisOptions(
        method=method, budget=budget, ratio=parse_ratio(ratio), calib_method=calib_method,
        percentile=percentile, bins=bins, device=device, keep_fp32=tuple(str(k) for k in keep_fp32),
        bias_correction=bool(bias_correction), propagation=bool(propagation), int4=bool(int4),
        output_error=output_error,
    )


def _check_limit(limit: int | None) -> None:
    if limit is not None and not 1 <= limit <= sys.maxsize:
        raise QuantuneError(f"bad --limit {limit}: expected a positive number of inputs")


def analyze(
    model: PathLike,
    calib: Any,
    *,
    output: PathLike | None = None,
    method: str = "quantunev2",
    budget: str | None = None,
    int4: bool = False,
    ratio: str | Sequence[float] = DEFAULT_RATIO,
    calib_method: str = DEFAULT_CALIB_METHOD,
    bias_correction: bool = DEFAULT_BIAS_CORRECTION,
    propagation: bool | None = None,
    output_error: str = DEFAULT_OUTPUT_MODE,
    percentile: float = 99.99,
    bins: int = 128,
    keep_fp32: Sequence[str] = (),
    input_shapes: Sequence[str] | Mapping[str, Sequence[int]] | None = None,
    image_spec: str | ImageSpec | None = None,
    limit: int | None = None,
    emit_mlir: PathLike | None = None,
    device: str = "local-task",
) -> AnalyzeResult:
    """Ranks the layers of ``model`` and decides which stay fp32 (``quantune analyze``).

    ``calib`` is an ``.npy``/``.npz`` file, a folder of them or of images
    (with ``image_spec``), an array stacking samples, or an iterable of
    arrays or of ``{input_name: array}`` dicts. ``keep_fp32`` names layers
    (ONNX node names or ids) that stay fp32 whatever their sensitivity.
    ``int4`` adds a third tier, w4a8 (4-bit weights, 8-bit activations):
    the budget is then in weight bytes (default ``weight-fraction=0.15``;
    otherwise ``fp32-fraction=0.1``). ``output_error`` says where the sweep
    and ``propagation`` compare the model outputs: ``auto`` compares a
    softmax's probabilities as logits, ``outputs`` every output as it is.
    With ``output`` the plan is also written as JSON.
    """
    options = _analysis_options(
        method, budget, ratio, calib_method, percentile, bins, keep_fp32, device, bias_correction, propagation,
        int4, output_error,
    )
    _check_limit(limit)
    check_paths({"model": model, "--calib": path_or_none(calib)}, {"-o": output, "--emit-mlir": emit_mlir})
    plan = run_analysis(model, calib, options, _shape_specs(input_shapes), _image_spec(image_spec), limit, emit_mlir).plan
    if output is not None:
        plan.save(output)
    return AnalyzeResult(plan, format_table(plan), Path(output) if output is not None else None)


def quantize(
    model: PathLike,
    output: PathLike,
    *,
    calib: Any = None,
    plan: PathLike | None = None,
    save_plan: PathLike | None = None,
    target: str = "host",
    precision: str = "plan",
    fold: bool = True,
    recipe: bool = True,
    emit_mlir: PathLike | None = None,
    method: str = "quantunev2",
    budget: str | None = None,
    int4: bool = False,
    ratio: str | Sequence[float] = DEFAULT_RATIO,
    calib_method: str = DEFAULT_CALIB_METHOD,
    bias_correction: bool = DEFAULT_BIAS_CORRECTION,
    propagation: bool | None = None,
    output_error: str = DEFAULT_OUTPUT_MODE,
    percentile: float = 99.99,
    bins: int = 128,
    keep_fp32: Sequence[str] = (),
    input_shapes: Sequence[str] | Mapping[str, Sequence[int]] | None = None,
    image_spec: str | ImageSpec | None = None,
    limit: int | None = None,
    device: str = "local-task",
) -> ModuleResult:
    """Builds a mixed-precision module from ``model`` (``quantune quantize``).

    The plan comes from an analysis of ``calib`` (see :func:`analyze`) or
    from a saved ``plan``; ``precision="int8"`` makes every layer that can
    be int8 (no ranking), ``"int4"`` every layer that can be w4a8,
    ``"fp32"`` none (no calibration data needed). ``int4`` lets the plan
    use three tiers (see :func:`analyze`). Layers the lowering or IREE
    cannot build in integers stay fp32; ``fallbacks`` says which and why.
    """
    if calib is not None and plan is not None:
        raise QuantuneError("give either calib (run the analysis) or plan (reuse one), not both")
    if precision not in PRECISIONS:
        raise QuantuneError(f"unknown precision '{precision}'; expected one of {', '.join(PRECISIONS)}")
    _check_limit(limit)  # the target and the paths: quantize_model checks them first
    options = QuantizeOptions(
        target=target, fold=fold, precision=precision, recipe=recipe,  # type: ignore[arg-type]
        analysis=_analysis_options(
            method, budget, ratio, calib_method, percentile, bins, keep_fp32, device, bias_correction, propagation,
            int4, output_error,
        ),
    )
    result = quantize_model(
        model, output, calib=calib, plan_path=plan, options=options, input_shapes=_shape_specs(input_shapes),
        image_spec=_image_spec(image_spec), limit=limit, emit_mlir=emit_mlir, save_plan=save_plan,
    )
    return ModuleResult(
        plan=result.plan,
        table=format_table(result.plan),
        module_path=Path(output),
        int8_layers=result.lowered.int8_layers,
        int4_layers=result.lowered.int4_layers,
        folded_pairs=result.lowered.folded_pairs,
        fallbacks={layer.name: layer.reason for layer in result.plan.layers if layer.reason},
        weight_bytes=result.weight_bytes,
        weight_bytes_fp32=result.weight_bytes_fp32,
        module_bytes=result.module_bytes,
        details=result,
    )
