"""Calibration images: the preprocessing spec and how an image file becomes a model input."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from quantune_mlir.errors import QuantuneError, first_line

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
_LAYOUTS = ("nchw", "nhwc")
_CHANNELS = ("rgb", "bgr", "gray")


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


def pillow() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise QuantuneError("reading calibration images needs Pillow (pip install pillow)") from None
    return Image


def preprocess_image(image: Any, spec: ImageSpec, label: str = "image") -> np.ndarray:
    """A PIL image as a float32 batch-1 array, following ``spec``."""
    Image = pillow()
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


def read_image(path: Path, label: str, spec: ImageSpec) -> np.ndarray:
    Image = pillow()
    try:
        with Image.open(path) as image:
            image.load()
            return preprocess_image(image, spec, label)
    except QuantuneError:
        raise
    except Exception as exc:
        reason = first_line(str(exc)) or type(exc).__name__
        raise QuantuneError(f"cannot read calibration image '{label}': {reason}") from None
