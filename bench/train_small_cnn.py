"""Trains a small CNN on Fashion-MNIST (seeded) and exports it to ONNX.

Five 3x3 convolutions and two fully connected layers; five epochs of Adam on
two CPU cores take a few minutes. Usage:
    python bench/train_small_cnn.py --out bench/zoo/cache/small_cnn.onnx
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
import fmnist  # noqa: E402


def small_cnn() -> nn.Module:
    def block(cin: int, cout: int, stride: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, stride, 1), nn.ReLU()]

    return nn.Sequential(
        *block(1, 16, 1), *block(16, 32, 2), *block(32, 32, 1), *block(32, 64, 2), *block(64, 64, 1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    x_train, y_train = fmnist.load("train")
    x_test, y_test = fmnist.load("test")
    model = small_cnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xs, ys = torch.from_numpy(x_train - 0.5), torch.from_numpy(y_train)
    gen = torch.Generator().manual_seed(args.seed)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(xs), generator=gen)
        for i in range(0, len(xs), 128):
            idx = order[i : i + 128]
            loss = nn.functional.cross_entropy(model(xs[idx]), ys[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            pred = torch.cat([model(torch.from_numpy(x_test[i : i + 1000] - 0.5)).argmax(1) for i in range(0, 10000, 1000)])
        acc = float((pred.numpy() == y_test).mean())
        print(f"epoch {epoch + 1}: test accuracy {acc:.4f} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), str(args.out), input_names=["x"], output_names=["logits"],
                      opset_version=17, dynamo=False)
    (args.out.with_suffix(".accuracy")).write_text(f"{acc:.4f}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
