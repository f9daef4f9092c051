"""Calibration inputs: .npy/.npz files, directories of arrays or images, or arrays in memory.

``load_calibration`` turns a source into a ``CalibrationSet``: a finite,
validated sequence of samples, each with exactly the model's input shape
(batch dimension included) and dtype. Data is read lazily, one sample at a
time (``.npy`` files are memory-mapped, images decoded on demand), and every
sample is checked (shape, dtype, NaN/Inf) whenever it is read; the set is
also scanned once when it is loaded, so bad data is reported before the
model runs. Errors are one line and name the file and sample index.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from quantune_mlir.errors import QuantuneError, first_line

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK"  # local file header, or end of directory for an empty archive
_LAYOUTS = ("nchw", "nhwc")
_CHANNELS = ("rgb", "bgr", "gray")

Shape = tuple[int, ...]


def format_shape(shape: Iterable[int]) -> str:
    """``(1, 3, 32, 32)`` -> ``1x3x32x32`` (``scalar`` for a 0-d shape)."""
    dims = [str(d) for d in shape]
    return "x".join(dims) if dims else "scalar"


# --------------------------------------------------------------------------- images


@dataclass(frozen=True)
class ImageSpec:
    """How images become model inputs.

    Images are converted to RGB (or gray), resized so the shorter side is
    ``size`` (bilinear, aspect kept, the longer side truncated as in
    torchvision), center-cropped to ``crop`` x ``crop``, scaled to [0, 1],
    reordered to ``channels`` and normalised as ``(x - mean) / std`` per
    channel. ``mean`` and ``std`` have one value, or one per channel in the
    order of ``channels`` (so BGR models give BGR means). The result has
    batch 1 and ``layout`` NCHW or NHWC.
    """

    size: int | None = None
    crop: int | None = None
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    layout: str = "nchw"
    channels: str = "rgb"

    def __post_init__(self) -> None:
        object.__setattr__(self, "layout", str(self.layout).lower())
        object.__setattr__(self, "channels", str(self.channels).lower())
        try:
            object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
            object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        except (TypeError, ValueError):
            raise QuantuneError("bad image spec: mean and std must be sequences of numbers") from None
        reason = self._problem()
        if reason:
            raise QuantuneError(f"bad image spec: {reason}")

    def _problem(self) -> str | None:
        for name in ("size", "crop"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                return f"{name} must be a positive integer, got {value!r}"
        if self.layout not in _LAYOUTS:
            return f"layout must be nchw or nhwc, got '{self.layout}'"
        if self.channels not in _CHANNELS:
            return f"channels must be rgb, bgr or gray, got '{self.channels}'"
        for name in ("mean", "std"):
            values = getattr(self, name)
            if len(values) not in (1, self.num_channels):
                return (
                    f"{name} has {len(values)} values; expected 1 or {self.num_channels} "
                    f"for channels={self.channels}"
                )
            if not all(np.isfinite(values)):
                return f"{name} must be finite, got {'/'.join(map(str, values))}"
        if any(v <= 0 for v in self.std):
            return f"std must be positive, got {'/'.join(map(str, self.std))}"
        return None

    @property
    def num_channels(self) -> int:
        return 1 if self.channels == "gray" else 3

    @classmethod
    def parse(cls, text: str) -> "ImageSpec":
        """Parses ``key=value,...``, e.g. ``size=256,crop=224,mean=0.485/0.456/0.406``.

        Keys: size, crop (positive integers), mean, std (one number or one per
        channel, separated by ``/``), layout (nchw, nhwc), channels (rgb, bgr,
        gray). Missing keys keep their defaults.
        """
        keys = [f.name for f in fields(cls)]
        values: dict[str, Any] = {}

        def bad(reason: str) -> QuantuneError:
            return QuantuneError(f"bad image spec '{text}': {reason}")

        for item in text.split(","):
            if not item.strip() and not text.strip():
                continue
            key, sep, value = (part.strip() for part in item.partition("="))
            key = key.lower()
            if not sep or not key:
                raise bad(f"expected key=value, got '{item.strip()}'")
            if key not in keys:
                raise bad(f"unknown key '{key}' (keys: {', '.join(keys)})")
            if key in values:
                raise bad(f"'{key}' is given twice")
            if key in ("size", "crop"):
                try:
                    values[key] = int(value)
                except ValueError:
                    raise bad(f"{key} must be a positive integer, got '{value}'") from None
            elif key in ("mean", "std"):
                try:
                    values[key] = tuple(float(v) for v in value.split("/"))
                except ValueError:
                    raise bad(f"{key} must be numbers separated by '/', got '{value}'") from None
            else:
                values[key] = value
        try:
            return cls(**values)
        except QuantuneError as exc:
            raise bad(str(exc).removeprefix("bad image spec: ")) from None


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise QuantuneError("reading calibration images needs Pillow (pip install pillow)") from None
    return Image


def preprocess_image(image: Any, spec: ImageSpec, label: str = "image") -> np.ndarray:
    """A PIL image as a float32 batch-1 array, following ``spec``."""
    Image = _pillow()
    image = image.convert("L" if spec.channels == "gray" else "RGB")
    if spec.size is not None:
        width, height = image.size
        if width <= height:
            new_size = (spec.size, int(spec.size * height / width))
        else:
            new_size = (int(spec.size * width / height), spec.size)
        if new_size != image.size:
            image = image.resize(new_size, Image.BILINEAR)
    if spec.crop is not None:
        width, height = image.size
        if spec.crop > width or spec.crop > height:
            raise QuantuneError(
                f"calibration image '{label}' is {width}x{height} (WxH) after resizing, smaller than crop {spec.crop}"
            )
        left = int(round((width - spec.crop) / 2.0))
        top = int(round((height - spec.crop) / 2.0))
        image = image.crop((left, top, left + spec.crop, top + spec.crop))
    pixels = np.asarray(image, dtype=np.float32) / np.float32(255.0)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if spec.channels == "bgr":
        pixels = pixels[:, :, ::-1]
    mean = np.asarray(spec.mean, dtype=np.float32)
    std = np.asarray(spec.std, dtype=np.float32)
    pixels = (pixels - mean) / std
    if spec.layout == "nchw":
        pixels = pixels.transpose(2, 0, 1)
    return np.ascontiguousarray(pixels[None], dtype=np.float32)


def _read_image(path: Path, label: str, spec: ImageSpec) -> np.ndarray:
    Image = _pillow()
    try:
        with Image.open(path) as image:
            image.load()
            return preprocess_image(image, spec, label)
    except QuantuneError:
        raise
    except Exception as exc:
        reason = first_line(str(exc)) or type(exc).__name__
        raise QuantuneError(f"cannot read calibration image '{label}': {reason}") from None


# --------------------------------------------------------------------------- arrays


@dataclass(frozen=True)
class _Sample:
    """One sample: its label and how to read it (unchecked)."""

    label: str
    read: Callable[[], Any]


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


def _npz_array(path: Path, label: str, input_name: str | None) -> tuple[str, np.ndarray] | None:
    """The chosen array of an .npz file (read into memory); None if it has none."""
    opened = _open_array_file(path, label)
    if isinstance(opened, np.ndarray):  # an .npy file named .npz: accept it
        return "", opened
    with opened:
        keys = list(opened.files)
        if not keys:
            return None
        if len(keys) == 1:
            key = keys[0]
        elif input_name is not None and input_name in keys:
            key = input_name
        elif input_name is not None:
            raise QuantuneError(f"calibration file '{label}' has no array named '{input_name}'; it holds {keys}")
        else:
            raise QuantuneError(
                f"calibration file '{label}' holds several arrays {keys}; name the model input to choose one"
            )
        try:
            return key, opened[key]
        except Exception as exc:
            reason = first_line(str(exc)) or type(exc).__name__
            raise QuantuneError(f"cannot read array '{key}' of calibration file '{label}': {reason}") from None


def _split(
    shape: Shape, input_shape: Shape, name: str, get: Callable[[], np.ndarray]
) -> Iterator[_Sample]:
    """The samples of an array of ``shape``, read through ``get``.

    ``(N, *input_shape)`` stacks N samples on a new leading axis; when the
    model batch is 1, ``(N, *input_shape[1:])`` stacks them on the batch axis.
    Any other array is one sample (checked against the model shape later).
    Samples of a stack are labelled ``name[i]`` unless there is only one.
    """
    rank = len(input_shape)
    if len(shape) == rank + 1:
        count, take = shape[0], lambda a, i: a[i]
    elif len(shape) == rank and rank > 0 and input_shape[0] == 1:
        count, take = shape[0], lambda a, i: a[i : i + 1]
    else:
        yield _Sample(name, get)
        return
    for i in range(count):
        label = name if count == 1 else f"{name}[{i}]"
        yield _Sample(label, partial(lambda i: take(get(), i), i))


def _npy_samples(path: Path, label: str, input_shape: Shape) -> Iterator[_Sample]:
    shape = _npy_array(path, label).shape  # header only: the memmap is dropped here
    return _split(shape, input_shape, label, partial(_npy_array, path, label))


def _array_samples(array: np.ndarray, name: str, input_shape: Shape) -> Iterator[_Sample]:
    return _split(array.shape, input_shape, name, lambda: array)


def _path_samples(
    path: Path, input_shape: Shape, image_spec: ImageSpec | None, input_name: str | None
) -> Iterator[_Sample]:
    src = str(path)
    if not path.exists():
        raise QuantuneError(f"calibration set '{src}' does not exist")
    if path.is_dir():
        try:
            entries = [p for p in path.iterdir() if not p.name.startswith(".")]
        except OSError as exc:
            raise QuantuneError(f"cannot read calibration directory '{src}': {exc.strerror or exc}") from None
        files = sorted((p for p in entries if p.is_file()), key=lambda p: p.name)
        arrays = [p for p in files if p.suffix.lower() == ".npy"]
        images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        if arrays and images:
            raise QuantuneError(
                f"calibration directory '{src}' mixes .npy files ({arrays[0].name}, ...) and images "
                f"({images[0].name}, ...); use one kind"
            )
        if images:
            return _image_samples(images, src, image_spec)
        if not arrays and any(p.is_dir() for p in entries):
            raise QuantuneError(
                f"calibration set '{src}' is empty: no .npy files or images directly inside "
                "(subdirectories are not searched)"
            )
        return itertools.chain.from_iterable(_npy_samples(p, str(p), input_shape) for p in arrays)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _npy_samples(path, src, input_shape)
    if suffix == ".npz":
        chosen = _npz_array(path, src, input_name)
        if chosen is None:
            return iter(())
        key, array = chosen
        return _array_samples(array, f"{src}:{key}" if key else src, input_shape)
    if suffix in IMAGE_SUFFIXES:
        return _image_samples([path], src, image_spec)
    raise QuantuneError(
        f"calibration set '{src}' is not an .npy or .npz file, an image, or a directory of them"
    )


def _image_samples(images: list[Path], src: str, image_spec: ImageSpec | None) -> Iterator[_Sample]:
    if image_spec is None:
        raise QuantuneError(
            f"calibration set '{src}' holds images; give an image spec "
            "(e.g. size=256,crop=224,mean=0.485/0.456/0.406,std=0.229/0.224/0.225)"
        )
    _pillow()
    return (_Sample(str(p), partial(_read_image, p, str(p), image_spec)) for p in images)


# --------------------------------------------------------------------------- the set


class CalibrationSet:
    """A validated, finite collection of model inputs.

    Iterating yields fresh contiguous arrays of exactly ``input_shape`` and
    ``dtype``; each is checked as it is read, so a file changed on disk is
    still caught.
    """

    def __init__(self, source: str, samples: list[_Sample], input_shape: Shape, dtype: np.dtype) -> None:
        self.source = source
        self.input_shape = input_shape
        self.dtype = dtype
        self._samples = samples

    def __len__(self) -> int:
        return len(self._samples)

    def __iter__(self) -> Iterator[np.ndarray]:
        for index in range(len(self._samples)):
            yield self[index]

    def __getitem__(self, index: int) -> np.ndarray:
        sample = self._samples[index]
        raw = sample.read()
        return _checked(raw, sample.label, self.input_shape, self.dtype)

    def label(self, index: int) -> str:
        """A readable name for sample ``index``, e.g. ``calib.npz:x[17]`` or ``imgs/cat.png``."""
        return self._samples[index].label

    def validate(self) -> None:
        """Reads and checks every sample once; raises QuantuneError on the first bad one."""
        for _ in self:
            pass


def _checked(raw: Any, label: str, input_shape: Shape, dtype: np.dtype) -> np.ndarray:
    """``raw`` as a fresh array of ``input_shape`` and ``dtype``, or a one-line error."""
    try:
        array = np.asarray(raw)
    except Exception as exc:
        raise QuantuneError(f"calibration sample {label} is not an array: {first_line(str(exc))}") from None
    if array.dtype != dtype and not (array.dtype.kind in "biuf" and np.can_cast(array.dtype, dtype, "same_kind")):
        raise QuantuneError(f"calibration sample {label} has dtype {array.dtype}, which cannot be cast to {dtype}")
    if array.shape != input_shape:
        raise QuantuneError(
            f"calibration sample {label} has shape {format_shape(array.shape)} "
            f"but the model input is {format_shape(input_shape)}"
        )
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
        out = np.array(array, dtype=dtype, copy=True, order="C")
    if dtype.kind == "f" and not np.isfinite(out).all():
        nans = int(np.isnan(out).sum())
        if nans:
            raise QuantuneError(f"calibration sample {label} contains NaN ({nans} of {out.size} values)")
        infs = int(np.isinf(array).sum()) if array.dtype.kind == "f" else 0
        if infs:
            raise QuantuneError(f"calibration sample {label} contains Inf ({infs} of {out.size} values)")
        raise QuantuneError(f"calibration sample {label} has values outside the {dtype} range")
    if dtype.kind in "iu" and array.dtype.kind in "iu" and array.size:
        info = np.iinfo(dtype)
        if array.min() < info.min or array.max() > info.max:
            raise QuantuneError(f"calibration sample {label} has values outside the {dtype} range")
    return out


def _source_name(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return f"<{type(source).__name__}>"


def load_calibration(
    source: str | os.PathLike[str] | np.ndarray | Iterable[Any],
    input_shape: tuple[int, ...],
    dtype: Any = np.float32,
    image_spec: ImageSpec | None = None,
    limit: int | None = None,
    input_name: str | None = None,
) -> CalibrationSet:
    """Loads and validates calibration inputs for a model input of ``input_shape``.

    ``source`` is an ``.npy`` file, an ``.npz`` file (its only array, or the
    one named ``input_name``), an image file, a directory of ``.npy`` files or
    of images (sorted by name; images need ``image_spec``), an in-memory
    array stacking samples, or any iterable of arrays (read once). An array
    of shape ``(N, *input_shape)`` holds N samples; with batch 1, so does one
    of shape ``(N, *input_shape[1:])``. ``limit`` keeps the first ``limit``
    samples. Every sample is read and checked once before this returns.
    """
    try:
        input_shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise QuantuneError(f"bad model input shape {input_shape!r}") from None
    if any(d <= 0 for d in input_shape):
        raise QuantuneError(f"bad model input shape {format_shape(input_shape)}: dimensions must be positive")
    try:
        model_dtype = np.dtype(dtype)
    except TypeError:
        raise QuantuneError(f"bad model input dtype {dtype!r}") from None
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
        raise QuantuneError(f"calibration limit must be a positive integer, got {limit!r}")
    src = _source_name(source)

    samples: Iterator[_Sample]
    if isinstance(source, (str, os.PathLike)):
        samples = _path_samples(Path(source), input_shape, image_spec, input_name)
    elif isinstance(source, np.ndarray):
        samples = _array_samples(source, src, input_shape)
    else:
        try:
            items = iter(source)
        except TypeError:
            raise QuantuneError(f"unsupported calibration source of type {type(source).__name__}") from None
        materialized = list(itertools.islice(items, limit))
        samples = (_Sample(f"{src}[{i}]", partial(lambda a: a, item)) for i, item in enumerate(materialized))

    selected = list(itertools.islice(samples, limit))
    if not selected:
        raise QuantuneError(f"calibration set '{src}' is empty")
    calibration = CalibrationSet(src, selected, input_shape, model_dtype)
    calibration.validate()
    return calibration
