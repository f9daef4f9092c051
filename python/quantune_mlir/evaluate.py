"""Accuracy of a compiled classifier, and latency of a compiled module.

``evaluate_module`` runs a module over a labelled data set (top-1 and top-5
accuracy) and/or compares it with a reference model, another ``.vmfb`` or
an ``.onnx`` model run in onnxruntime (top-1/top-5 agreement, mean KL
divergence, largest logit difference). The data is read with
:func:`quantune_mlir.calib_data.load_calibration`, so it takes the same
forms as calibration data; an ``.npz`` may also carry the labels as ``y``.

Each input gives one row of class scores: the module's single output, with
every dimension but one of size 1 (``1xC``, ``C``, ``1xCx1x1``). With
``batch_axis`` the module's first input dimension ``B`` is a batch: the data
holds single rows (``N x input_shape[1:]``), which are run ``B`` at a time
(the last batch padded with zeros, whose results are dropped), and each row
of the output is one row of class scores.

``module_inputs`` reads a module's argument shapes from its signature, for
:func:`quantune_mlir.benchmark.benchmark_module`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from quantune_mlir.calib_data import CalibrationSet, ImageSpec, format_shape, load_calibration
from quantune_mlir.errors import QuantuneError, first_line

DEFAULT_DEVICE = "local-task"


# --------------------------------------------------------------------------- metrics


def _as_logits(logits: Any, name: str = "logits") -> np.ndarray:
    array = np.asarray(logits, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise QuantuneError(f"{name} must be a non-empty N x C array, got shape {array.shape}")
    return array


def _pair(logits: Any, ref_logits: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = _as_logits(logits), _as_logits(ref_logits, "reference logits")
    if a.shape != b.shape:
        raise QuantuneError(f"logits {a.shape} and reference logits {b.shape} differ in shape")
    return a, b


def topk(logits: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores of each row, largest first (ties: lower index first)."""
    scores = _as_logits(logits)
    if not 1 <= k <= scores.shape[1]:
        raise QuantuneError(f"k={k} must be between 1 and the number of classes ({scores.shape[1]})")
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def topk_accuracy(logits: np.ndarray, labels: np.ndarray, k: int = 1) -> float:
    """Fraction of rows whose label is among the ``k`` highest scores."""
    scores = _as_logits(logits)
    labels = np.asarray(labels).reshape(-1)
    if labels.shape[0] != scores.shape[0]:
        raise QuantuneError(f"{labels.shape[0]} labels for {scores.shape[0]} rows of logits")
    hits = (topk(scores, k) == labels[:, None]).any(axis=1)
    return float(hits.mean())


def agreement(logits: np.ndarray, ref_logits: np.ndarray, k: int = 1) -> float:
    """Fraction of rows where the reference's top-1 class is in the model's top ``k``.

    ``k=1``: the two argmaxes agree.
    """
    scores, ref = _pair(logits, ref_logits)
    ref_top1 = topk(ref, 1)[:, 0]
    return float((topk(scores, k) == ref_top1[:, None]).any(axis=1).mean())


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log softmax in float64 (max-shifted, so large logits do not overflow)."""
    x = np.asarray(logits, dtype=np.float64)
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def mean_kl(logits: np.ndarray, ref_logits: np.ndarray) -> float:
    """Mean over rows of KL(softmax(ref) || softmax(model)), in nats."""
    scores, ref = _pair(logits, ref_logits)
    log_p, log_q = log_softmax(ref), log_softmax(scores)
    kl = (np.exp(log_p) * (log_p - log_q)).sum(axis=1)
    return float(np.maximum(kl, 0.0).mean())


def max_abs_diff(logits: np.ndarray, ref_logits: np.ndarray) -> float:
    """Largest absolute difference between the model's and the reference's scores."""
    scores, ref = _pair(logits, ref_logits)
    return float(np.max(np.abs(scores - ref)))


# --------------------------------------------------------------------------- the result


@dataclass(frozen=True)
class EvaluationResult:
    """What ``evaluate_module`` measured; the metrics it could not measure are None."""

    model: str
    device: str
    function: str
    samples: int
    classes: int
    top1_accuracy: float | None = None
    top5_accuracy: float | None = None
    reference: str | None = None
    top1_agreement: float | None = None
    top5_agreement: float | None = None
    mean_kl: float | None = None
    max_abs_diff: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """A few human-readable lines."""
        lines = [f"{self.model} ({self.function} on {self.device}): {self.samples} samples, {self.classes} classes"]
        if self.top1_accuracy is not None:
            top5 = f", top-5 {_percent(self.top5_accuracy)}" if self.top5_accuracy is not None else ""
            lines.append(f"  accuracy:  top-1 {_percent(self.top1_accuracy)}{top5}")
        if self.reference is not None:
            top5 = f", top-5 {_percent(self.top5_agreement)}" if self.top5_agreement is not None else ""
            lines.append(f"  agreement with {self.reference}: top-1 {_percent(self.top1_agreement)}{top5}")
            lines.append(f"  mean KL(reference || model): {self.mean_kl:.6g} nats")
            lines.append(f"  max |logit difference|: {self.max_abs_diff:.6g}")
        return "\n".join(lines)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100.0 * value:.2f}%"


# --------------------------------------------------------------------------- data


@dataclass
class EvaluationData:
    """Validated model inputs (one per row of class scores) and their labels, if any."""

    inputs: CalibrationSet
    labels: np.ndarray | None

    def __len__(self) -> int:
        return len(self.inputs)


def _data_error(exc: QuantuneError) -> QuantuneError:
    """load_calibration's message, worded for evaluation data."""
    return QuantuneError(str(exc).replace("calibration ", "data ", 1))


def _npz_keys(path: Path) -> list[str] | None:
    """The array names of an .npz archive; None if ``path`` is not one."""
    if path.suffix.lower() != ".npz" or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            return list(archive.files) if hasattr(archive, "files") else None
    except Exception:
        return None  # load_calibration reports the problem


def read_labels(source: Any, name: str | None = None) -> np.ndarray:
    """Integer class labels (int64, shape (N,)) from a .npy/.npz file or an array.

    An ``.npz`` gives its array ``y``, or its only array. Labels must be
    integers (floats holding whole numbers are accepted); shape ``(N,)`` or
    ``(N, 1)``.
    """
    label = name or (str(source) if isinstance(source, (str, os.PathLike)) else "labels")
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise QuantuneError(f"cannot read labels '{path}': no such file")
        try:
            loaded = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise QuantuneError(f"labels '{path}' are not a .npy array ({first_line(str(exc))})") from None
        if not isinstance(loaded, np.ndarray):
            with loaded:
                keys = list(loaded.files)
                if "y" in keys:
                    key = "y"
                elif len(keys) == 1:
                    key = keys[0]
                else:
                    raise QuantuneError(f"labels file '{path}' holds {keys}; expected an array named 'y'")
                loaded = loaded[key]
        array = loaded
    else:
        array = np.asarray(source)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise QuantuneError(f"labels {label} must be one integer per sample (shape N), got shape {array.shape}")
    if array.dtype.kind == "f":
        if not (np.isfinite(array).all() and (array == np.round(array)).all()):
            raise QuantuneError(f"labels {label} must be integers, got {array.dtype} values that are not whole numbers")
    elif array.dtype.kind not in "iu":
        raise QuantuneError(f"labels {label} must be integers, got dtype {array.dtype}")
    return array.astype(np.int64)


def load_evaluation_data(
    data: Any,
    input_shape: tuple[int, ...],
    dtype: Any = np.float32,
    labels: Any = None,
    limit: int | None = None,
    image_spec: ImageSpec | None = None,
) -> EvaluationData:
    """Loads evaluation inputs of ``input_shape`` and their labels.

    ``data`` is anything :func:`load_calibration` accepts; an ``.npz``
    holding ``x`` and ``y`` gives inputs ``x`` and labels ``y``. ``labels``
    (a file or an array, see :func:`read_labels`) overrides ``y``. With
    ``limit`` the first ``limit`` samples and labels are used; otherwise the
    label count must equal the sample count.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
        raise QuantuneError(f"--limit must be a positive integer, got {limit!r}")
    input_name = None
    keys = _npz_keys(Path(data)) if isinstance(data, (str, os.PathLike)) else None
    if keys is not None and len(keys) > 1:
        input_name = "x"
    try:
        inputs = load_calibration(data, input_shape, dtype, image_spec=image_spec, limit=limit, input_name=input_name)
    except QuantuneError as exc:
        raise _data_error(exc) from None
    label_array = None
    if labels is not None:
        label_array = read_labels(labels)
    elif keys is not None and "y" in keys and len(keys) > 1:
        label_array = read_labels(data, f"'{data}:y'")
    if label_array is not None:
        count = len(inputs)
        if limit is not None and len(label_array) >= count:
            label_array = label_array[:count]
        if len(label_array) != count:
            what = f"the first {count} samples (--limit)" if limit is not None and count == limit else f"{count} samples"
            raise QuantuneError(f"{len(label_array)} labels for {what} of '{inputs.source}'")
    return EvaluationData(inputs, label_array)


# --------------------------------------------------------------------------- modules


def _load_runner(vmfb: str | os.PathLike[str] | bytes, device: str, function: str | None) -> Any:
    from quantune_mlir.runtime import ModuleRunner

    return ModuleRunner(vmfb, device, function)


def module_inputs(runner: Any) -> list[tuple[tuple[int, ...], str]]:
    """The (static shape, element type) of each argument of a loaded ModuleRunner's function."""
    from quantune_mlir.runtime import _signature

    sig = _signature(runner._vm_function)
    if sig is None:
        raise QuantuneError(f"'{runner.source}' declares no signature for '{runner.function}'; cannot tell its input shapes")
    out = []
    for i, (shape, elt) in enumerate(sig):
        if any(d is None for d in shape):
            dims = "x".join("?" if d is None else str(d) for d in shape)
            raise QuantuneError(f"input {i} of '{runner.function}' has dynamic dimensions ({dims}x{elt}); compile it with static shapes")
        out.append((tuple(int(d) for d in shape), elt))  # type: ignore[arg-type]
    return out


def _numpy_dtype(elt: str) -> np.dtype:
    from quantune_mlir.runtime import _DTYPES

    if elt not in _DTYPES:
        raise QuantuneError(f"unsupported input element type {elt}")
    return np.dtype(_DTYPES[elt])


def _describe(results: Sequence[np.ndarray]) -> str:
    return ", ".join(f"{format_shape(r.shape)}x{r.dtype}" for r in results)


class _Reference:
    """A reference model: another module, or an ONNX model in onnxruntime."""

    def __init__(self, path: str | os.PathLike[str], device: str) -> None:
        self.path = str(path)
        p = Path(path)
        if not p.is_file():
            raise QuantuneError(f"cannot read reference '{p}': no such file")
        suffix = p.suffix.lower()
        if suffix == ".vmfb":
            runner = _load_runner(p, device, None)
            self._run: Callable[[np.ndarray], list[np.ndarray]] = lambda x: runner(x)
        elif suffix == ".onnx":
            self._run = self._onnx(p)
        else:
            raise QuantuneError(f"reference '{p}' must be a .vmfb module or an .onnx model")

    def _onnx(self, path: Path) -> Callable[[np.ndarray], list[np.ndarray]]:
        try:
            import onnxruntime
        except ImportError:
            raise QuantuneError("an .onnx reference needs onnxruntime (pip install onnxruntime)") from None
        try:
            session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise QuantuneError(f"onnxruntime cannot load reference '{path}': {first_line(str(exc))}") from None
        inputs = session.get_inputs()
        if len(inputs) != 1:
            raise QuantuneError(f"reference '{path}' has {len(inputs)} inputs {[i.name for i in inputs]}; evaluate needs one")
        outputs = [o.name for o in session.get_outputs()]
        if len(outputs) != 1:
            raise QuantuneError(
                f"reference '{path}' has {len(outputs)} outputs {outputs}; evaluate needs a single output of class scores"
            )
        name = inputs[0].name

        def run(x: np.ndarray) -> list[np.ndarray]:
            try:
                return [np.asarray(v) for v in session.run(None, {name: x})]
            except Exception as exc:
                raise QuantuneError(f"onnxruntime failed on reference '{path}': {first_line(str(exc))}") from None

        return run

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        return self._run(x)


def _rows(results: Sequence[np.ndarray], who: str, function: str, batch: int | None) -> np.ndarray:
    """The single result of one call as rows of class scores (batch rows, or one)."""
    if len(results) != 1:
        raise QuantuneError(
            f"{who} '{function}' returns {len(results)} results ({_describe(results)}); "
            "evaluate needs a single output of class scores"
        )
    out = np.asarray(results[0])
    if batch is not None:
        if out.ndim == 0 or out.shape[0] != batch:
            raise QuantuneError(
                f"{who} '{function}' returns {format_shape(out.shape)}, but with --batch-axis the first dimension "
                f"must be the batch ({batch})"
            )
        per_row = out.shape[1:]
    else:
        per_row = out.shape
    if sum(d != 1 for d in per_row) > 1:
        hint = "" if batch is not None else " (use --batch-axis if the first dimension is a batch)"
        raise QuantuneError(
            f"{who} '{function}' returns {format_shape(out.shape)}: expected one row of class scores per input{hint}"
        )
    return out.reshape(batch or 1, -1)


def evaluate_module(
    vmfb: str | os.PathLike[str],
    inputs: Any,
    labels: Any = None,
    reference: str | os.PathLike[str] | None = None,
    device: str = DEFAULT_DEVICE,
    function: str | None = None,
    limit: int | None = None,
    batch_axis: bool = False,
    image_spec: ImageSpec | None = None,
    progress: bool = True,
) -> EvaluationResult:
    """Runs the module over ``inputs`` and scores it (see the module docstring).

    ``inputs`` is an :class:`EvaluationData` or a source for
    :func:`load_evaluation_data` (with ``labels``, ``limit``,
    ``image_spec``). Needs labels (argument or ``y`` in an ``.npz``) or a
    ``reference`` (a ``.vmfb`` run on ``device``, or an ``.onnx`` model).
    """
    from quantune_mlir.progress import track

    runner = _load_runner(vmfb, device, function)
    signature = module_inputs(runner)
    if len(signature) != 1:
        raise QuantuneError(f"'{runner.function}' takes {len(signature)} inputs; evaluate supports single-input models")
    (shape, elt), = signature
    dtype = _numpy_dtype(elt)
    batch = shape[0] if batch_axis else None
    if batch_axis and not shape:
        raise QuantuneError(f"--batch-axis needs an input with a batch dimension; '{runner.function}' takes a scalar")
    sample_shape = (1, *shape[1:]) if batch_axis else shape

    if isinstance(inputs, EvaluationData):
        data = inputs
        if labels is not None:
            data = EvaluationData(data.inputs, read_labels(labels))
    else:
        data = load_evaluation_data(inputs, sample_shape, dtype, labels, limit, image_spec)
    if data.inputs.input_shape != sample_shape:
        raise QuantuneError(
            f"data samples are {format_shape(data.inputs.input_shape)} but '{runner.function}' needs "
            f"{format_shape(sample_shape)}"
        )
    if data.labels is not None and len(data.labels) != len(data):
        raise QuantuneError(f"{len(data.labels)} labels for {len(data)} samples")
    if data.labels is None and reference is None:
        raise QuantuneError("evaluate needs --labels (or labels in DATA) or --reference")
    ref = _Reference(reference, device) if reference is not None else None

    count = len(data)
    step = batch or 1
    starts = range(0, count, step)
    logits: list[np.ndarray] = []
    ref_logits: list[np.ndarray] = []
    classes = 0
    iterator = track(starts, len(starts), "evaluating") if progress else starts
    for start in iterator:
        take = min(step, count - start)
        if batch_axis:
            parts = [data.inputs[start + i] for i in range(take)]
            if take < step:
                parts.append(np.zeros((step - take, *shape[1:]), dtype=dtype))
            x = np.concatenate(parts, axis=0)
        else:
            x = data.inputs[start]
        rows = _rows(runner(x), "module", runner.function, batch)[:take]
        if not classes:
            classes = rows.shape[1]
            _check_labels(data.labels, classes)
        logits.append(rows)
        if ref is not None:
            ref_rows = _rows(ref(x), "reference", Path(ref.path).name, batch)[:take]
            if ref_rows.shape[1] != classes:
                raise QuantuneError(
                    f"reference '{ref.path}' gives {ref_rows.shape[1]} class scores per input, the module {classes}"
                )
            ref_logits.append(ref_rows)

    scores = np.concatenate(logits, axis=0)
    fields: dict[str, Any] = {}
    if data.labels is not None:
        fields["top1_accuracy"] = topk_accuracy(scores, data.labels, 1)
        if classes >= 5:
            fields["top5_accuracy"] = topk_accuracy(scores, data.labels, 5)
    if ref is not None:
        ref_scores = np.concatenate(ref_logits, axis=0)
        fields.update(
            reference=ref.path,
            top1_agreement=agreement(scores, ref_scores, 1),
            top5_agreement=agreement(scores, ref_scores, 5) if classes >= 5 else None,
            mean_kl=mean_kl(scores, ref_scores),
            max_abs_diff=max_abs_diff(scores, ref_scores),
        )
    return EvaluationResult(
        model=str(vmfb), device=device, function=runner.function, samples=count, classes=classes, **fields
    )


def _check_labels(labels: np.ndarray | None, classes: int) -> None:
    if labels is None or not len(labels):
        return
    bad = np.flatnonzero((labels < 0) | (labels >= classes))
    if bad.size:
        i = int(bad[0])
        raise QuantuneError(
            f"label {int(labels[i])} of sample {i} is out of range: the model has {classes} output classes "
            f"(0..{classes - 1}); {bad.size} label(s) out of range"
        )


def module_latency(
    vmfb: str | os.PathLike[str],
    device: str = DEFAULT_DEVICE,
    function: str | None = None,
    threads: int = 1,
    repetitions: int = 10,
) -> tuple[str, Any]:
    """(function name, :class:`~quantune_mlir.benchmark.Latency`) of a module file.

    The module is loaded once on ``device`` (so a missing file, a wrong
    device or a bad ``function`` are reported as for ``run``), its input
    shapes are read from the function signature, and iree-benchmark-module
    runs it on zero-filled inputs of those shapes.
    """
    from quantune_mlir.benchmark import benchmark_module

    runner = _load_runner(vmfb, device, function)
    inputs = module_inputs(runner)
    name = runner.function
    del runner
    latency = benchmark_module(vmfb, name, inputs, device=device, threads=threads, repetitions=repetitions)
    return name, latency
