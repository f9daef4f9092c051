"""Fashion-MNIST from Debian's dataset-fashion-mnist package."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

ROOT = Path("/usr/share/datasets/fashion-mnist")


def _read(name: str, offset: int) -> np.ndarray:
    path = ROOT / name
    if not path.is_file():
        raise SystemExit(f"{path} is missing: install the Debian package dataset-fashion-mnist (make bench does)")
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def load(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images as float32 N x 1 x 28 x 28 in [0, 1] and int64 labels."""
    prefix = "train" if split == "train" else "t10k"
    images = _read(f"{prefix}-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).astype(np.float32) / 255.0
    labels = _read(f"{prefix}-labels-idx1-ubyte.gz", 8).astype(np.int64)
    return images, labels
