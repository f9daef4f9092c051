"""Calibration inputs: every source kind, image preprocessing, and every bad input."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from quantune_mlir.calib_data import CalibrationSet, ImageSpec, load_calibration
from quantune_mlir.errors import QuantuneError

SHAPE = (1, 3, 4, 4)


def stack(n: int, seed: int = 0, shape: tuple[int, ...] = SHAPE) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, *shape)).astype(np.float32)


def one_line_error(excinfo: pytest.ExceptionInfo[QuantuneError], *needles: str) -> str:
    message = str(excinfo.value)
    assert "\n" not in message, message
    for needle in needles:
        assert needle in message, (needle, message)
    return message


def as_list(calibration: CalibrationSet) -> list[np.ndarray]:
    items = list(calibration)
    for item in items:
        assert item.shape == calibration.input_shape
        assert item.dtype == calibration.dtype
        assert item.flags.c_contiguous
    return items


def save_png(path: Path, pixels: np.ndarray) -> Path:
    Image.fromarray(pixels).save(path)
    return path


# A 4 (high) x 6 (wide) RGB image with a distinct value in every channel of every pixel.
PIXELS = (np.arange(4 * 6 * 3).reshape(4, 6, 3) * 3 + 10).astype(np.uint8)


# --------------------------------------------------------------------------- array sources


def test_npy_stacked_on_a_new_leading_axis(tmp_path: Path) -> None:
    data = stack(5)
    np.save(tmp_path / "calib.npy", data)
    calibration = load_calibration(tmp_path / "calib.npy", SHAPE)
    items = as_list(calibration)
    assert len(calibration) == 5
    for i, item in enumerate(items):
        np.testing.assert_array_equal(item, data[i])
    assert calibration.label(3) == f"{tmp_path / 'calib.npy'}[3]"


def test_npy_stacked_on_the_batch_axis(tmp_path: Path) -> None:
    data = stack(1, shape=(6, 3, 4, 4))[0]
    np.save(tmp_path / "calib.npy", data)
    items = as_list(load_calibration(str(tmp_path / "calib.npy"), SHAPE))
    assert len(items) == 6
    for i, item in enumerate(items):
        np.testing.assert_array_equal(item, data[i : i + 1])


def test_npy_is_memory_mapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    np.save(tmp_path / "calib.npy", stack(3))
    real_load = np.load
    modes = []

    def spy(*args, **kwargs):
        modes.append(kwargs.get("mmap_mode"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    as_list(load_calibration(tmp_path / "calib.npy", SHAPE))
    assert modes and set(modes) == {"r"}


def test_integer_and_float64_arrays_are_cast_to_the_model_dtype(tmp_path: Path) -> None:
    ints = np.arange(2 * 48, dtype=np.int64).reshape(2, *SHAPE)
    np.save(tmp_path / "ints.npy", ints)
    items = as_list(load_calibration(tmp_path / "ints.npy", SHAPE))
    assert items[1].dtype == np.float32
    np.testing.assert_array_equal(items[1], ints[1].astype(np.float32))
    halves = as_list(load_calibration([stack(1)[0].astype(np.float64)], SHAPE, dtype=np.float16))
    assert halves[0].dtype == np.float16


def test_npz_with_one_array(tmp_path: Path) -> None:
    data = stack(4)
    np.savez(tmp_path / "calib.npz", images=data)
    calibration = load_calibration(tmp_path / "calib.npz", SHAPE, input_name="other")
    np.testing.assert_array_equal(as_list(calibration)[2], data[2])
    assert calibration.label(2) == f"{tmp_path / 'calib.npz'}:images[2]"


def test_npz_with_several_arrays_picks_the_model_input(tmp_path: Path) -> None:
    x, y = stack(3, seed=1), stack(2, seed=2)
    np.savez(tmp_path / "calib.npz", x=x, y=y)
    items = as_list(load_calibration(tmp_path / "calib.npz", SHAPE, input_name="y"))
    assert len(items) == 2
    np.testing.assert_array_equal(items[1], y[1])
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration(tmp_path / "calib.npz", SHAPE)
    one_line_error(excinfo, "calib.npz", "several arrays", "'x'", "'y'")
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration(tmp_path / "calib.npz", SHAPE, input_name="z")
    one_line_error(excinfo, "calib.npz", "no array named 'z'", "'x'", "'y'")


def test_directory_of_npy_files_in_name_order(tmp_path: Path) -> None:
    a, b, c = stack(1, seed=1)[0], stack(1, seed=2)[0], stack(2, seed=3)
    np.save(tmp_path / "b.npy", b)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "c.npy", c)  # a stack of two
    (tmp_path / "README.txt").write_text("not data\n")
    calibration = load_calibration(tmp_path, SHAPE)
    items = as_list(calibration)
    for item, expected in zip(items, [a, b, c[0], c[1]], strict=True):
        np.testing.assert_array_equal(item, expected)
    labels = [calibration.label(i) for i in range(len(calibration))]
    assert labels == [str(tmp_path / n) for n in ("a.npy", "b.npy", "c.npy[0]", "c.npy[1]")]


def test_in_memory_sources(tmp_path: Path) -> None:
    data = stack(3)
    from_list = load_calibration(list(data), SHAPE)
    from_generator = load_calibration((x for x in data), SHAPE)
    from_array = load_calibration(data, SHAPE)
    for calibration in (from_list, from_generator, from_array):
        assert len(calibration) == 3
        for item, expected in zip(as_list(calibration), data, strict=True):
            np.testing.assert_array_equal(item, expected)
    assert from_generator.label(1) == "<generator>[1]"


def test_iterating_twice_gives_the_same_fresh_data(tmp_path: Path) -> None:
    data = stack(3)
    expected_data = data.copy()
    calibration = load_calibration((x for x in data), SHAPE)
    first = as_list(calibration)
    first[0][...] = 99.0  # callers may scribble on what they get: neither the source nor the set changes
    np.testing.assert_array_equal(data, expected_data)
    second = as_list(calibration)
    for item, expected in zip(second, expected_data, strict=True):
        np.testing.assert_array_equal(item, expected)
    np.save(tmp_path / "calib.npy", data)
    calibration = load_calibration(tmp_path / "calib.npy", SHAPE)
    for x, y in zip(as_list(calibration), as_list(calibration), strict=True):
        np.testing.assert_array_equal(x, y)


def test_limit_keeps_the_first_samples(tmp_path: Path) -> None:
    data = stack(5)
    data[4, 0, 0, 0, 0] = np.nan  # beyond the limit: never read
    np.save(tmp_path / "calib.npy", data)
    calibration = load_calibration(tmp_path / "calib.npy", SHAPE, limit=2)
    assert len(calibration) == 2
    np.testing.assert_array_equal(as_list(calibration)[1], data[1])
    # An endless generator is only read up to the limit.
    endless = (np.full(SHAPE, float(i), np.float32) for i in itertools.count())
    items = as_list(load_calibration(endless, SHAPE, limit=3))
    assert [float(x[0, 0, 0, 0]) for x in items] == [0.0, 1.0, 2.0]
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration(data, SHAPE, limit=0)
    one_line_error(excinfo, "limit", "positive")


# --------------------------------------------------------------------------- images


def test_image_spec_parse() -> None:
    spec = ImageSpec.parse("size=256,crop=224,mean=0.485/0.456/0.406,std=0.229/0.224/0.225,layout=nhwc,channels=bgr")
    assert spec == ImageSpec(256, 224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "nhwc", "bgr")
    assert ImageSpec.parse("") == ImageSpec()
    assert ImageSpec.parse(" crop = 32 , channels=GRAY, mean=0.5 ") == ImageSpec(crop=32, mean=(0.5,), channels="gray")


@pytest.mark.parametrize(
    "text, needle",
    [
        ("size=256,colour=rgb", "unknown key 'colour'"),
        ("size=big", "size must be a positive integer"),
        ("crop=0", "crop must be a positive integer"),
        ("mean=0.5/x/0.5", "mean must be numbers"),
        ("mean=0.5/0.5", "mean has 2 values"),
        ("channels=gray,std=0.2/0.2/0.2", "std has 3 values"),
        ("std=0", "std must be positive"),
        ("layout=chw", "layout must be nchw or nhwc"),
        ("channels=rgba", "channels must be rgb, bgr or gray"),
        ("size=2,size=3", "'size' is given twice"),
        ("size", "expected key=value"),
    ],
)
def test_image_spec_parse_errors(text: str, needle: str) -> None:
    with pytest.raises(QuantuneError) as excinfo:
        ImageSpec.parse(text)
    one_line_error(excinfo, f"bad image spec '{text}'", needle)


def test_image_crop_normalise_and_layout(tmp_path: Path) -> None:
    save_png(tmp_path / "img.png", PIXELS)
    mean, std = (0.5, 0.25, 0.125), (0.5, 0.25, 2.0)
    # Center crop of 4 from a 6-wide image keeps columns 1..4; the height is already 4.
    crop = PIXELS[:, 1:5, :].astype(np.float64) / 255.0
    expected_rgb = (crop - np.array(mean)) / np.array(std)  # H, W, C
    spec = ImageSpec(crop=4, mean=mean, std=std)
    (nchw,) = as_list(load_calibration(tmp_path / "img.png", (1, 3, 4, 4), image_spec=spec))
    np.testing.assert_allclose(nchw[0], expected_rgb.transpose(2, 0, 1), rtol=1e-6, atol=1e-6)
    spec = ImageSpec(crop=4, mean=mean, std=std, layout="nhwc", channels="bgr")
    (nhwc,) = as_list(load_calibration(tmp_path, (1, 4, 4, 3), image_spec=spec))
    expected_bgr = (crop[:, :, ::-1] - np.array(mean)) / np.array(std)
    np.testing.assert_allclose(nhwc[0], expected_bgr, rtol=1e-6, atol=1e-6)


def test_image_gray_without_crop(tmp_path: Path) -> None:
    gray = PIXELS[:, :, 0]
    save_png(tmp_path / "g.png", np.repeat(gray[:, :, None], 3, axis=2))  # R = G = B, so L is exact
    spec = ImageSpec.parse("channels=gray,mean=0.5,std=0.5")
    (item,) = as_list(load_calibration(tmp_path / "g.png", (1, 1, 4, 6), image_spec=spec))
    np.testing.assert_allclose(item[0, 0], (gray / 255.0 - 0.5) / 0.5, rtol=1e-6, atol=1e-6)


def test_image_resize_shorter_side_bilinear(tmp_path: Path) -> None:
    # A horizontal ramp 0, 40, ..., 200; upscaling 4x6 -> 8x12 with bilinear
    # interpolation samples it at input x = (j + 0.5) / 2 - 0.5, clamped at the borders.
    ramp = np.arange(6) * 40
    pixels = np.repeat(np.tile(ramp, (4, 1))[:, :, None], 3, axis=2).astype(np.uint8)
    save_png(tmp_path / "ramp.png", pixels)
    (item,) = as_list(load_calibration(tmp_path / "ramp.png", (1, 3, 8, 12), image_spec=ImageSpec(size=8)))
    expected_row = np.interp((np.arange(12) + 0.5) / 2 - 0.5, np.arange(6), ramp) / 255.0
    np.testing.assert_allclose(item[0], np.broadcast_to(expected_row, (3, 8, 12)), atol=1.01 / 255)
    # Downscale to shorter side 2 (aspect 3:2 kept), then crop 2x2 from the center.
    spec = ImageSpec(size=2, crop=2)
    (small,) = as_list(load_calibration(tmp_path / "ramp.png", (1, 3, 2, 2), image_spec=spec))
    assert small.shape == (1, 3, 2, 2)
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration(tmp_path / "ramp.png", (1, 3, 2, 2), image_spec=ImageSpec(size=2))
    one_line_error(excinfo, "ramp.png", "has shape 1x3x2x3", "model input is 1x3x2x2")


def test_directory_of_images_in_name_order(tmp_path: Path) -> None:
    save_png(tmp_path / "b.png", np.full((4, 6, 3), 200, np.uint8))
    Image.fromarray(np.full((4, 6, 3), 100, np.uint8)).save(tmp_path / "a.bmp")
    Image.fromarray(np.full((4, 6, 3), 50, np.uint8)).save(tmp_path / "c.jpg", quality=100)
    calibration = load_calibration(tmp_path, (1, 3, 4, 4), image_spec=ImageSpec(crop=4))
    assert [calibration.label(i) for i in range(3)] == [str(tmp_path / n) for n in ("a.bmp", "b.png", "c.jpg")]
    means = [float(x.mean()) * 255 for x in as_list(calibration)]
    np.testing.assert_allclose(means, [100, 200, 50], atol=1.5)


# --------------------------------------------------------------------------- bad input


def test_empty_sources(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    np.save(tmp_path / "zero.npy", np.zeros((0, *SHAPE), np.float32))
    np.savez(tmp_path / "none.npz")
    for source in (tmp_path / "empty", tmp_path / "zero.npy", tmp_path / "none.npz"):
        with pytest.raises(QuantuneError) as excinfo:
            load_calibration(source, SHAPE)
        one_line_error(excinfo, f"calibration set '{source}' is empty")
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration([], SHAPE)
    one_line_error(excinfo, "calibration set '<list>' is empty")
    (tmp_path / "empty" / "cats").mkdir()
    save_png(tmp_path / "empty" / "cats" / "a.png", PIXELS)
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration(tmp_path / "empty", SHAPE, image_spec=ImageSpec())
    one_line_error(excinfo, "is empty", "subdirectories are not searched")


def test_shape_mismatch_names_the_sample(tmp_path: Path) -> None:
    np.save(tmp_path / "calib.npy", stack(3, shape=(1, 3, 5, 4)))
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration(tmp_path / "calib.npy", SHAPE)
    one_line_error(excinfo, "calib.npy[0]", "has shape 1x3x5x4", "the model input is 1x3x4x4")
    good = list(stack(3))
    good[2] = good[2][0]  # lost its batch dimension
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration(good, SHAPE)
    one_line_error(excinfo, "<list>[2]", "has shape 3x4x4")


@pytest.mark.parametrize(
    "bad, needle",
    [
        (np.zeros(SHAPE, np.complex64), "complex64"),
        (np.full(SHAPE, "a"), "<U1"),
        (np.full(SHAPE, None, dtype=object), "object"),
    ],
)
def test_dtype_that_cannot_be_cast(bad: np.ndarray, needle: str) -> None:
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration([stack(1)[0], bad], SHAPE)
    one_line_error(excinfo, "<list>[1]", needle, "cannot be cast to float32")


def test_nan_and_inf_are_reported_before_any_use(tmp_path: Path) -> None:
    data = stack(5)
    data[3, 0, 1, 2, 3] = np.nan
    np.save(tmp_path / "calib.npy", data)
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration(tmp_path / "calib.npy", SHAPE)
    one_line_error(excinfo, "calibration sample", "calib.npy[3]", "contains NaN")
    data = stack(2).astype(np.float64)
    data[1, 0, 0, 0, 0] = -np.inf
    np.savez(tmp_path / "calib.npz", x=data)
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration(tmp_path / "calib.npz", SHAPE)
    one_line_error(excinfo, "calib.npz:x[1]", "contains Inf")
    data[1, 0, 0, 0, 0] = 1e300  # finite in float64, not in float32
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration(data, SHAPE)
    one_line_error(excinfo, "<ndarray>[1]", "outside the float32 range")


def test_samples_are_checked_again_while_iterating(tmp_path: Path) -> None:
    items = list(stack(3))
    calibration = load_calibration(items, SHAPE)
    items[1][0, 0, 0, 0] = np.inf  # changed after validation
    with pytest.raises(QuantuneError) as excinfo:
        list(calibration)
    one_line_error(excinfo, "<list>[1]", "contains Inf")
    np.save(tmp_path / "a.npy", stack(1)[0])
    calibration = load_calibration(tmp_path, SHAPE)
    np.save(tmp_path / "a.npy", np.full(SHAPE, np.nan, np.float32))  # file replaced on disk
    with pytest.raises(QuantuneError) as excinfo:
        list(calibration)
    one_line_error(excinfo, str(tmp_path / "a.npy"), "contains NaN")


def test_unreadable_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration(tmp_path / "nope.npy", SHAPE)
    one_line_error(excinfo, "nope.npy", "does not exist")
    np.save(tmp_path / "cut.npy", stack(4))
    (tmp_path / "cut.npy").write_bytes((tmp_path / "cut.npy").read_bytes()[:-100])
    (tmp_path / "text.npy").write_text("hello\n")
    np.savez(tmp_path / "cut.npz", x=stack(4))
    (tmp_path / "cut.npz").write_bytes((tmp_path / "cut.npz").read_bytes()[:200])
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    for name in ("cut.npy", "text.npy", "cut.npz", "objects.npy"):
        with pytest.raises(QuantuneError) as excinfo:
            load_calibration(tmp_path / name, SHAPE)
        one_line_error(excinfo, f"cannot read calibration file '{tmp_path / name}'")
    (tmp_path / "data.csv").write_text("1,2,3\n")
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration(tmp_path / "data.csv", SHAPE)
    one_line_error(excinfo, "data.csv", "is not an .npy or .npz file")


def test_bad_images_are_named(tmp_path: Path) -> None:
    save_png(tmp_path / "a.png", PIXELS)
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration(tmp_path, (1, 3, 4, 4), image_spec=ImageSpec(crop=4))
    one_line_error(excinfo, f"cannot read calibration image '{tmp_path / 'b.png'}'")
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration(tmp_path / "a.png", (1, 3, 4, 4))
    one_line_error(excinfo, "a.png", "holds images; give an image spec")
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration(tmp_path / "a.png", (1, 3, 8, 8), image_spec=ImageSpec(crop=8))
    one_line_error(excinfo, "a.png", "is 6x4 (WxH) after resizing, smaller than crop 8")


def test_mixed_directory(tmp_path: Path) -> None:
    save_png(tmp_path / "cat.png", PIXELS)
    np.save(tmp_path / "x.npy", stack(1)[0])
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration(tmp_path, SHAPE, image_spec=ImageSpec(crop=4))
    one_line_error(excinfo, f"calibration directory '{tmp_path}'", "mixes .npy files", "x.npy", "cat.png")
