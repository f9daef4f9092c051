"""Calibration inputs: .npy/.npz files, directories of arrays or images, or data in memory.

``load_calibration_inputs`` turns a source into a ``CalibrationInputs`` set
for a model with one or several inputs: a finite, validated sequence of
samples, each a list with one array per model input (in the order the inputs
are given), of exactly that input's shape (batch dimension included) and
dtype. ``load_calibration`` is the single-input form: its ``CalibrationSet``
yields the arrays themselves.

Data is read lazily, one sample at a time (``.npy`` files are memory-mapped,
images decoded on demand, ``.npz`` files read one file at a time), and every
sample is checked (shape, dtype, NaN/Inf; :mod:`quantune_mlir.calib_check`)
whenever it is read; the set is also scanned once when it is loaded, so bad
data is reported before the model runs. Errors are one line and name the
file and sample index. Data of another dtype that casts within its kind is
converted, and each conversion is reported once per input on stderr.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from quantune_mlir import progress
from quantune_mlir.calib_check import ModelInput, Shape, check_sample, conversion_message, format_shape
from quantune_mlir.calib_images import IMAGE_SUFFIXES, ImageSpec, pillow, preprocess_image, read_image
from quantune_mlir.errors import QuantuneError, first_line

__all__ = [
    "IMAGE_SUFFIXES",
    "CalibrationInputs",
    "CalibrationSet",
    "ImageSpec",
    "ModelInput",
    "format_shape",
    "load_calibration",
    "load_calibration_inputs",
    "preprocess_image",
]

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK"  # local file header, or end of directory for an empty archive
_ARRAY_SUFFIXES = (".npy", ".npz")

Notify = Callable[[str], None]
"""Where notes and warnings go (default: :func:`quantune_mlir.progress.report`, stderr)."""


# --------------------------------------------------------------------------- samples


@dataclass(frozen=True)
class _Sample:
    """One input of one sample: its label and how to read it (unchecked)."""

    label: str
    read: Callable[[], Any]


@dataclass(frozen=True)
class _Row:
    """One sample: its label and one ``_Sample`` per model input, in order."""

    label: str
    parts: tuple[_Sample, ...]


@dataclass
class _Context:
    """What one load needs while it turns a source into rows."""

    inputs: tuple[ModelInput, ...]
    image_spec: ImageSpec | None
    reader: "_NpzReader"
    ignored: set[str] = field(default_factory=set)
    """Arrays of the source that are not model inputs (several inputs only)."""

    @property
    def multi(self) -> bool:
        return len(self.inputs) > 1

    def several_inputs(self) -> str:
        return f"the model has {len(self.inputs)} inputs {[spec.name for spec in self.inputs]}"


def _identity(value: Any) -> Any:
    return value


def _lookup(mapping: Mapping[Any, Any], key: Any) -> Any:
    return mapping[key]


def _take(take: Callable[[np.ndarray, int], np.ndarray], get: Callable[[], np.ndarray], index: int) -> np.ndarray:
    return take(get(), index)


def _stack(shape: Shape, input_shape: Shape) -> tuple[int, Callable[[np.ndarray, int], np.ndarray]] | None:
    """How an array of ``shape`` stacks samples of ``input_shape``; None if it is one sample.

    ``(N, *input_shape)`` stacks N samples on a new leading axis; when the
    model batch is 1, ``(N, *input_shape[1:])`` stacks them on the batch axis.
    """
    rank = len(input_shape)
    if len(shape) == rank + 1:
        return shape[0], lambda a, i: a[i]
    if len(shape) == rank and rank > 0 and input_shape[0] == 1:
        return shape[0], lambda a, i: a[i : i + 1]
    return None


def _array_rows(
    name: str, keys: list[str], shapes: list[Shape], getters: list[Callable[[], np.ndarray]], ctx: _Context, where: str
) -> Iterator[_Row]:
    """The samples of one array per input (``keys[i]`` feeds input i), read through ``getters``.

    Samples of a stack are labelled ``name:key[i]`` (``name[i]`` for an
    unnamed array) unless there is only one. With one input, an array that
    is not a stack is one sample, checked against the model shape later;
    with several, the inputs must hold as many samples each.
    """
    labels = [f"{name}:{key}" if key else name for key in keys]
    if not ctx.multi:
        (label,), (get,), stack = labels, getters, _stack(shapes[0], ctx.inputs[0].shape)
        if stack is None:
            yield _Row(label, (_Sample(label, get),))
            return
        count, take = stack
        for i in range(count):
            sample_label = label if count == 1 else f"{label}[{i}]"
            yield _Row(sample_label, (_Sample(sample_label, partial(_take, take, get, i)),))
        return

    counts: list[int] = []
    takes: list[Callable[[np.ndarray, int], np.ndarray] | None] = []
    for key, shape, spec in zip(keys, shapes, ctx.inputs):
        stack = _stack(shape, spec.shape)
        if stack is None and shape != spec.shape:
            raise QuantuneError(
                f"{where} has array '{key}' of shape {format_shape(shape)}, which is neither {spec.describe()} "
                f"({format_shape(spec.shape)}) nor a stack of such inputs (Nx{format_shape(spec.shape)})"
            )
        counts.append(1 if stack is None else stack[0])
        takes.append(None if stack is None else stack[1])
    if len(set(counts)) > 1:
        detail = ", ".join(f"'{spec.name}' has {n}" for spec, n in zip(ctx.inputs, counts))
        raise QuantuneError(f"calibration inputs in '{name}' disagree in sample count: {detail}")
    count = counts[0]
    for i in range(count):
        suffix = "" if count == 1 else f"[{i}]"
        parts = tuple(
            _Sample(label + suffix, get if take is None else partial(_take, take, get, i))
            for label, get, take in zip(labels, getters, takes)
        )
        yield _Row(name + suffix, parts)


def _choose(keys: list[Any], ctx: _Context, where: str) -> list[Any] | None:
    """The key of ``keys`` that holds each model input's data; None if there are no keys (one input).

    With one input: the only array, whatever its name, else the one named
    as the input. With several: each input's name; the other keys are
    remembered in ``ctx.ignored``.
    """
    if not ctx.multi:
        name = ctx.inputs[0].name
        if not keys:
            return None
        if len(keys) == 1:
            return [keys[0]]
        if name and name in keys:
            return [name]
        if name:
            raise QuantuneError(f"{where} has no array named '{name}'; it holds {keys}")
        raise QuantuneError(f"{where} holds several arrays {keys}; name the model input to choose one")
    missing = [spec.name for spec in ctx.inputs if spec.name not in keys]
    if missing:
        what = f"model input '{missing[0]}'" if len(missing) == 1 else "model inputs " + ", ".join(f"'{m}'" for m in missing)
        raise QuantuneError(f"{where} has no array for {what}; it holds {keys}")
    names = {spec.name for spec in ctx.inputs}
    ctx.ignored.update(str(key) for key in keys if key not in names)
    return [spec.name for spec in ctx.inputs]


# --------------------------------------------------------------------------- files


def _open_array_file(path: Path, label: str) -> Any:
    """An ``.npy`` file as a read-only memmap, or an ``.npz`` file as an NpzFile."""
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
        if not (magic.startswith(_NPY_MAGIC) or magic.startswith(_ZIP_MAGIC)):
            raise QuantuneError(f"cannot read calibration file '{label}': not a NumPy .npy or .npz file")
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except QuantuneError:
        raise
    except Exception as exc:
        reason = first_line(str(exc)) or type(exc).__name__
        raise QuantuneError(f"cannot read calibration file '{label}': {reason}") from None


def _npy_array(path: Path, label: str) -> np.ndarray:
    opened = _open_array_file(path, label)
    if not isinstance(opened, np.ndarray):
        opened.close()
        raise QuantuneError(f"cannot read calibration file '{label}': it is an .npz archive, not an .npy array")
    return opened


class _NpzReader:
    """Reads the arrays of ``.npz`` files, keeping those of the last file read.

    Samples are read in order, so each file is decompressed once per pass
    and only one file's arrays are held at a time.
    """

    def __init__(self) -> None:
        self._path: Path | None = None
        self._arrays: dict[str, np.ndarray] = {}

    def keys(self, path: Path, label: str) -> list[str] | None:
        """The array names of the archive; None if ``path`` is an .npy file (named .npz)."""
        opened = _open_array_file(path, label)
        if isinstance(opened, np.ndarray):
            return None
        with opened:
            return list(opened.files)

    def arrays(self, path: Path, label: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The arrays ``keys`` of the archive (``""``: the array of an .npy file)."""
        if self._path == path and all(key in self._arrays for key in keys):
            return self._arrays
        self._path, self._arrays = None, {}
        opened = _open_array_file(path, label)
        if isinstance(opened, np.ndarray):
            arrays = {"": opened}
        else:
            arrays = {}
            with opened:
                for key in keys:
                    try:
                        arrays[key] = opened[key]
                    except Exception as exc:
                        reason = first_line(str(exc)) or type(exc).__name__
                        raise QuantuneError(
                            f"cannot read array '{key}' of calibration file '{label}': {reason}"
                        ) from None
        self._path, self._arrays = path, arrays
        return arrays

    def array(self, path: Path, label: str, keys: Sequence[str], key: str) -> np.ndarray:
        return self.arrays(path, label, keys)[key]


def _npy_rows(path: Path, ctx: _Context) -> Iterator[_Row]:
    label = str(path)
    if ctx.multi:
        raise QuantuneError(
            f"calibration file '{label}' is a single .npy array, but {ctx.several_inputs()}; "
            "use an .npz file with one array per input"
        )
    shape = _npy_array(path, label).shape  # header only: the memmap is dropped here
    return _array_rows(label, [""], [shape], [partial(_npy_array, path, label)], ctx, f"calibration file '{label}'")


def _npz_rows(path: Path, ctx: _Context) -> Iterator[_Row]:
    label = str(path)
    where = f"calibration file '{label}'"
    keys = ctx.reader.keys(path, label)
    chosen: list[str] | None
    if keys is None:  # an .npy file named .npz: accept it as one
        if ctx.multi:
            raise QuantuneError(
                f"{where} is a single .npy array, but {ctx.several_inputs()}; use an .npz file with one array per input"
            )
        chosen = [""]
    else:
        chosen = _choose(keys, ctx, where)
        if chosen is None:
            return iter(())
    arrays = ctx.reader.arrays(path, label, chosen)
    shapes = [arrays[key].shape for key in chosen]
    getters = [partial(ctx.reader.array, path, label, chosen, key) for key in chosen]
    return _array_rows(label, chosen, shapes, getters, ctx, where)


def _file_rows(path: Path, ctx: _Context) -> Iterator[_Row]:
    return _npy_rows(path, ctx) if path.suffix.lower() == ".npy" else _npz_rows(path, ctx)


def _image_rows(images: list[Path], src: str, ctx: _Context) -> Iterator[_Row]:
    if ctx.multi:
        raise QuantuneError(
            f"calibration set '{src}' holds images, but {ctx.several_inputs()}; images can only feed a single-input "
            "model (use .npz files with one array per input)"
        )
    spec = ctx.image_spec
    if spec is None:
        raise QuantuneError(
            f"calibration set '{src}' holds images; give an image spec "
            "(e.g. size=256,crop=224,mean=0.485/0.456/0.406,std=0.229/0.224/0.225)"
        )
    pillow()
    return (_Row(str(p), (_Sample(str(p), partial(read_image, p, str(p), spec)),)) for p in images)


def _directory_rows(path: Path, ctx: _Context) -> Iterator[_Row]:
    src = str(path)
    try:
        entries = [p for p in path.iterdir() if not p.name.startswith(".")]
    except OSError as exc:
        raise QuantuneError(f"cannot read calibration directory '{src}': {exc.strerror or exc}") from None
    files = sorted((p for p in entries if p.is_file()), key=lambda p: p.name)
    arrays = [p for p in files if p.suffix.lower() in _ARRAY_SUFFIXES]
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    if arrays and images:
        raise QuantuneError(
            f"calibration directory '{src}' mixes {arrays[0].suffix.lower()} files ({arrays[0].name}, ...) and images "
            f"({images[0].name}, ...); use one kind"
        )
    if images:
        return _image_rows(images, src, ctx)
    if not arrays and any(p.is_dir() for p in entries):
        raise QuantuneError(
            f"calibration set '{src}' is empty: no .npy/.npz files or images directly inside "
            "(subdirectories are not searched)"
        )
    npy = [p for p in arrays if p.suffix.lower() == ".npy"]
    if ctx.multi and npy:
        raise QuantuneError(
            f"calibration directory '{src}' holds .npy files ({npy[0].name}, ...), but {ctx.several_inputs()}; "
            "use .npz files with one array per input"
        )
    return itertools.chain.from_iterable(_file_rows(p, ctx) for p in arrays)


def _path_rows(path: Path, ctx: _Context) -> Iterator[_Row]:
    src = str(path)
    if not path.exists():
        raise QuantuneError(f"calibration set '{src}' does not exist")
    if path.is_dir():
        return _directory_rows(path, ctx)
    suffix = path.suffix.lower()
    if suffix in _ARRAY_SUFFIXES:
        return _file_rows(path, ctx)
    if suffix in IMAGE_SUFFIXES:
        return _image_rows([path], src, ctx)
    raise QuantuneError(
        f"calibration set '{src}' is not an .npy or .npz file, an image, or a directory of them"
    )


# --------------------------------------------------------------------------- data in memory


def _mapping_rows(mapping: Mapping[Any, Any], src: str, ctx: _Context) -> Iterator[_Row]:
    """``{input name: stacked samples}`` (or, with one input, ``{any name: samples}``)."""
    where = f"calibration data '{src}'"
    chosen = _choose(list(mapping.keys()), ctx, where)
    if chosen is None:
        return iter(())
    arrays = []
    for key in chosen:
        try:
            arrays.append(np.asarray(mapping[key]))
        except Exception as exc:
            reason = first_line(str(exc)) or type(exc).__name__
            raise QuantuneError(f"{where} entry '{key}' is not an array: {reason}") from None
    getters = [partial(_identity, array) for array in arrays]
    return _array_rows(src, chosen, [a.shape for a in arrays], getters, ctx, where)


def _iterable_rows(items: Iterator[Any], src: str, ctx: _Context, limit: int | None) -> Iterator[_Row]:
    """One sample per item: an array (one input), or a dict ``{input name: array}``."""
    for i, item in enumerate(list(itertools.islice(items, limit))):
        label = f"{src}[{i}]"
        if isinstance(item, Mapping):
            chosen = _choose(list(item.keys()), ctx, f"calibration sample {label}")
            if chosen is None:
                raise QuantuneError(f"calibration sample {label} is an empty dict")
            parts = tuple(_Sample(f"{label}:{key}", partial(_lookup, item, key)) for key in chosen)
            yield _Row(label if ctx.multi else parts[0].label, parts)
        elif ctx.multi:
            raise QuantuneError(
                f"calibration sample {label} is a {type(item).__name__}, not a dict {{input name: array}}; "
                f"{ctx.several_inputs()}"
            )
        else:
            yield _Row(label, (_Sample(label, partial(_identity, item)),))


def _source_name(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return f"<{type(source).__name__}>"


def _rows(source: Any, src: str, ctx: _Context, limit: int | None) -> Iterator[_Row]:
    if isinstance(source, (str, os.PathLike)):
        return _path_rows(Path(source), ctx)
    if isinstance(source, np.ndarray):
        if ctx.multi:
            raise QuantuneError(
                f"calibration data '{src}' is one array, but {ctx.several_inputs()}; "
                "give a dict {input name: stacked samples}"
            )
        return _array_rows(src, [""], [source.shape], [partial(_identity, source)], ctx, f"calibration data '{src}'")
    if isinstance(source, Mapping):
        return _mapping_rows(source, src, ctx)
    try:
        items = iter(source)
    except TypeError:
        raise QuantuneError(f"unsupported calibration source of type {type(source).__name__}") from None
    return _iterable_rows(items, src, ctx, limit)


# --------------------------------------------------------------------------- the sets


class CalibrationInputs:
    """A validated, finite collection of samples for a model's inputs.

    Indexing or iterating yields, per sample, a list of fresh contiguous
    arrays, one per input in the order of ``inputs``, each of exactly that
    input's shape and dtype; each is checked as it is read, so a file
    changed on disk is still caught.
    """

    def __init__(
        self, source: str, inputs: tuple[ModelInput, ...], rows: list[_Row], notify: Notify | None = None
    ) -> None:
        self.source = source
        self.inputs = inputs
        self._rows = rows
        self._notify = notify
        self._noted: set[tuple[int, np.dtype]] = set()

    @property
    def names(self) -> list[str]:
        return [spec.name for spec in self.inputs]

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[list[np.ndarray]]:
        for index in range(len(self._rows)):
            yield self[index]

    def __getitem__(self, index: int) -> list[np.ndarray]:
        row = self._rows[index]
        return [self._read(position, part) for position, part in enumerate(row.parts)]

    def label(self, index: int) -> str:
        """A readable name for sample ``index``, e.g. ``calib.npz:x[17]``, ``imgs/cat.png`` or ``c.npz[3]``."""
        return self._rows[index].label

    def validate(self) -> None:
        """Reads and checks every sample once; raises QuantuneError on the first bad one."""
        for _ in self:
            pass

    def _read(self, position: int, part: _Sample) -> np.ndarray:
        spec = self.inputs[position]
        try:
            raw = part.read()
        except QuantuneError:
            raise
        except Exception as exc:
            reason = first_line(str(exc)) or type(exc).__name__
            raise QuantuneError(f"cannot read calibration sample {part.label}: {reason}") from None
        target = spec.describe() if len(self.inputs) > 1 else "the model input"
        array, dtype = check_sample(raw, part.label, spec, target)
        self._note_conversion(position, dtype)
        return array

    def _note_conversion(self, position: int, dtype: np.dtype) -> None:
        """Says once per input and source dtype that data was converted."""
        spec = self.inputs[position]
        if dtype == spec.dtype or (position, dtype) in self._noted:
            return
        self._noted.add((position, dtype))
        what = f"calibration input '{spec.name}'" if spec.name else "calibration input"
        message = conversion_message(what, dtype, spec.dtype)
        if message:
            (self._notify or progress.report)(message)


class CalibrationSet:
    """The single-input view of a :class:`CalibrationInputs`: iterating yields the arrays themselves."""

    def __init__(self, inputs: CalibrationInputs) -> None:
        if len(inputs.inputs) != 1:
            raise ValueError("a CalibrationSet has exactly one input")
        self.inputs = inputs
        self.source = inputs.source
        self.input_shape = inputs.inputs[0].shape
        self.dtype = inputs.inputs[0].dtype

    def __len__(self) -> int:
        return len(self.inputs)

    def __iter__(self) -> Iterator[np.ndarray]:
        for index in range(len(self.inputs)):
            yield self[index]

    def __getitem__(self, index: int) -> np.ndarray:
        return self.inputs[index][0]

    def label(self, index: int) -> str:
        """A readable name for sample ``index``, e.g. ``calib.npz:x[17]`` or ``imgs/cat.png``."""
        return self.inputs.label(index)

    def validate(self) -> None:
        """Reads and checks every sample once; raises QuantuneError on the first bad one."""
        self.inputs.validate()


# --------------------------------------------------------------------------- loading


def _load(
    source: Any,
    inputs: tuple[ModelInput, ...],
    image_spec: ImageSpec | None,
    limit: int | None,
    notify: Notify | None,
) -> CalibrationInputs:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
        raise QuantuneError(f"calibration limit must be a positive integer, got {limit!r}")
    src = _source_name(source)
    ctx = _Context(inputs, image_spec, _NpzReader())
    selected = list(itertools.islice(_rows(source, src, ctx, limit), limit))
    if not selected:
        raise QuantuneError(f"calibration set '{src}' is empty")
    calibration = CalibrationInputs(src, inputs, selected, notify)
    calibration.validate()
    if ctx.ignored:
        (notify or progress.report)(
            f"note: calibration set '{src}' holds arrays that are not model inputs, ignored: {sorted(ctx.ignored)}"
        )
    return calibration


def load_calibration_inputs(
    source: str | os.PathLike[str] | np.ndarray | Mapping[str, Any] | Iterable[Any],
    inputs: Sequence[ModelInput],
    image_spec: ImageSpec | None = None,
    limit: int | None = None,
    *,
    notify: Notify | None = None,
) -> CalibrationInputs:
    """Loads and validates calibration samples for a model with ``inputs``.

    For a single input, ``source`` is anything :func:`load_calibration`
    takes (and a dict or iterable of dicts as below). For several inputs:

    - an ``.npz`` file with one array per input name, each a stack of N
      samples on a new leading axis, or (batch-1 inputs) on the batch axis,
      or one sample;
    - a directory of such ``.npz`` files (sorted by name);
    - a dict ``{input name: stacked samples}``;
    - any iterable of dicts ``{input name: one sample}`` (read once).

    Every input must have as many samples as the others. Arrays that are not
    model inputs are ignored, with a note. ``limit`` keeps the first
    ``limit`` samples. Every sample is read and checked once before this
    returns; ``notify`` receives the notes (default: stderr).
    """
    inputs = tuple(inputs)
    if not inputs:
        raise QuantuneError("the model has no inputs to calibrate")
    for spec in inputs:
        if not isinstance(spec, ModelInput):
            raise QuantuneError(f"model inputs must be ModelInput values, got a {type(spec).__name__}")
    if len(inputs) > 1:
        seen: set[str] = set()
        for spec in inputs:
            if not spec.name:
                raise QuantuneError("every model input needs a name when the model has several inputs")
            if spec.name in seen:
                raise QuantuneError(f"model input '{spec.name}' is listed twice")
            seen.add(spec.name)
    return _load(source, inputs, image_spec, limit, notify)


def load_calibration(
    source: str | os.PathLike[str] | np.ndarray | Iterable[Any],
    input_shape: tuple[int, ...],
    dtype: Any = np.float32,
    image_spec: ImageSpec | None = None,
    limit: int | None = None,
    input_name: str | None = None,
    *,
    notify: Notify | None = None,
) -> CalibrationSet:
    """Loads and validates calibration inputs for a single model input of ``input_shape``.

    ``source`` is an ``.npy`` file, an ``.npz`` file (its only array, or the
    one named ``input_name``), an image file, a directory of ``.npy``/``.npz``
    files or of images (sorted by name; images need ``image_spec``), an
    in-memory array stacking samples, a dict holding one such array (or the
    one named ``input_name``), or any iterable of arrays (read once). An
    array of shape ``(N, *input_shape)`` holds N samples; with batch 1, so
    does one of shape ``(N, *input_shape[1:])``. ``limit`` keeps the first
    ``limit`` samples. Every sample is read and checked once before this
    returns; conversions of the data's dtype are reported through ``notify``
    (default: stderr).
    """
    spec = ModelInput(input_name or "", input_shape, dtype)
    return CalibrationSet(_load(source, (spec,), image_spec, limit, notify))
