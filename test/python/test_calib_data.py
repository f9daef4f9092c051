"""Calibration inputs: every source kind, image preprocessing, and every bad input."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from quantune_mlir.calib_data import (
    CalibrationInputs,
    CalibrationSet,
    ImageSpec,
    ModelInput,
    load_calibration,
    load_calibration_inputs,
)
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


def test_integer_and_float64_arrays_are_cast_to_the_model_dtype(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ints = np.arange(2 * 48, dtype=np.int64).reshape(2, *SHAPE)
    np.save(tmp_path / "ints.npy", ints)
    items = as_list(load_calibration(tmp_path / "ints.npy", SHAPE, input_name="x"))
    assert items[1].dtype == np.float32
    np.testing.assert_array_equal(items[1], ints[1].astype(np.float32))
    assert capsys.readouterr().err == "note: calibration input 'x' is int64; converted to float32 by value (not rescaled)\n"
    halves = as_list(load_calibration([stack(1)[0].astype(np.float64)], SHAPE, dtype=np.float16))
    assert halves[0].dtype == np.float16
    assert capsys.readouterr().err == "note: calibration input is float64; converted to float16\n"


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


# --------------------------------------------------------------------------- dtype conversions


def test_conversion_is_reported_once_per_input_per_load(capsys: pytest.CaptureFixture[str]) -> None:
    data = stack(3).astype(np.float64)
    calibration = load_calibration(data, SHAPE, input_name="x")
    for _ in range(2):  # more passes over the set: nothing more is said
        for item, expected in zip(as_list(calibration), data, strict=True):
            np.testing.assert_array_equal(item, expected.astype(np.float32))
    assert capsys.readouterr().err == "note: calibration input 'x' is float64; converted to float32\n"
    load_calibration(data, SHAPE, input_name="x")  # a new load says it again
    assert capsys.readouterr().err.count("note:") == 1
    load_calibration(stack(3), SHAPE, input_name="x")  # float32 data: silent
    assert capsys.readouterr().err == ""


def test_each_source_dtype_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    items = [stack(1)[0].astype(np.float64), np.ones(SHAPE, np.int16), stack(1)[0], np.ones(SHAPE, np.int16)]
    as_list(load_calibration(items, SHAPE, input_name="x"))
    assert capsys.readouterr().err.splitlines() == [
        "note: calibration input 'x' is float64; converted to float32",
        "note: calibration input 'x' is int16; converted to float32 by value (not rescaled)",
    ]


def test_uint8_data_for_a_float_model_is_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (2, *SHAPE)).astype(np.uint8)
    items = as_list(load_calibration(pixels, SHAPE, input_name="image"))
    np.testing.assert_array_equal(items[1], pixels[1].astype(np.float32))  # by value: 255 stays 255
    assert capsys.readouterr().err == (
        "warning: calibration input 'image' is uint8 (values 0..255) and the model takes float32: converted by "
        "value, not scaled to [0, 1]; normalise the data (or use an image folder with --image-spec) if the model "
        "expects normalised input\n"
    )


def test_integer_model_inputs_take_integer_data(capsys: pytest.CaptureFixture[str]) -> None:
    tokens = np.arange(12, dtype=np.int32).reshape(3, 1, 4)
    items = as_list(load_calibration(tokens, (1, 4), dtype=np.int64, input_name="ids"))
    assert items[2].dtype == np.int64 and items[2].tolist() == [[8, 9, 10, 11]]
    assert capsys.readouterr().err == "note: calibration input 'ids' is int32; converted to int64\n"
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration(tokens.astype(np.float32), (1, 4), dtype=np.int64)
    one_line_error(excinfo, "<ndarray>[0]", "dtype float32", "cannot be cast to int64")


def test_notes_go_to_the_given_callback(capsys: pytest.CaptureFixture[str]) -> None:
    said: list[str] = []
    load_calibration(stack(2).astype(np.float64), SHAPE, input_name="x", notify=said.append)
    assert said == ["note: calibration input 'x' is float64; converted to float32"]
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- several inputs

IMG = ModelInput("image", (1, 3, 4, 4))
MASK = ModelInput("mask", (2, 5), np.dtype(np.int64))  # batch 2: stacks only on a new axis
TWO = [IMG, MASK]


def masks(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 9, (n, 2, 5)).astype(np.int64)


def check_two(calibration: CalibrationInputs, images: np.ndarray, mask_data: np.ndarray) -> None:
    """Every sample is [image, mask] in the order of TWO, equal to the stacks given."""
    samples = list(calibration)
    assert len(samples) == len(calibration) == len(images) == len(mask_data)
    for sample, image, mask in zip(samples, images, mask_data, strict=True):
        assert isinstance(sample, list) and len(sample) == 2
        assert sample[0].dtype == np.float32 and sample[0].shape == IMG.shape and sample[0].flags.c_contiguous
        assert sample[1].dtype == np.int64 and sample[1].shape == MASK.shape
        np.testing.assert_array_equal(sample[0], image.reshape(IMG.shape))
        np.testing.assert_array_equal(sample[1], mask)


def test_npz_with_one_stack_per_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    images, mask_data = stack(4), masks(4)
    np.savez(tmp_path / "c.npz", mask=mask_data, image=images)  # archive order differs from TWO
    calibration = load_calibration_inputs(tmp_path / "c.npz", TWO)
    check_two(calibration, images, mask_data)
    assert calibration.names == ["image", "mask"]
    assert calibration.label(3) == f"{tmp_path / 'c.npz'}[3]"
    assert capsys.readouterr().err == ""


def test_npz_batch_axis_stack_and_one_sample(tmp_path: Path) -> None:
    images = stack(1, shape=(3, 3, 4, 4))[0]  # three batch-1 images stacked on the batch axis
    np.savez(tmp_path / "batch.npz", image=images, mask=masks(3))
    check_two(load_calibration_inputs(tmp_path / "batch.npz", TWO), images[:, None], masks(3))
    np.savez(tmp_path / "one.npz", image=images[:1], mask=masks(1)[0])  # the batch-1 form of one sample
    calibration = load_calibration_inputs(tmp_path / "one.npz", TWO)
    check_two(calibration, images[:1], masks(1))
    assert calibration.label(0) == str(tmp_path / "one.npz")


def test_directory_of_npz_files_in_name_order(tmp_path: Path) -> None:
    np.savez(tmp_path / "b.npz", image=stack(2, seed=2), mask=masks(2, seed=2))
    np.savez(tmp_path / "a.npz", image=stack(1, seed=1)[0], mask=masks(1, seed=1)[0])
    (tmp_path / "notes.txt").write_text("not data\n")
    calibration = load_calibration_inputs(tmp_path, TWO)
    check_two(
        calibration,
        np.concatenate([stack(1, seed=1), stack(2, seed=2)]),
        np.concatenate([masks(1, seed=1), masks(2, seed=2)]),
    )
    labels = [calibration.label(i) for i in range(3)]
    assert labels == [str(tmp_path / "a.npz"), f"{tmp_path / 'b.npz'}[0]", f"{tmp_path / 'b.npz'}[1]"]


def test_directory_of_npz_files_decompresses_each_file_once_per_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(3):
        np.savez(tmp_path / f"{i}.npz", image=stack(4, seed=i), mask=masks(4, seed=i))
    calibration = load_calibration_inputs(tmp_path, TWO)
    real_load = np.load
    opened = []

    def spy(path, *args, **kwargs):
        opened.append(Path(path).name)
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    assert len(list(calibration)) == 12
    assert opened == ["0.npz", "1.npz", "2.npz"]


def test_dict_of_stacks_and_iterable_of_dicts(capsys: pytest.CaptureFixture[str]) -> None:
    images, mask_data = stack(3), masks(3)
    from_dict = load_calibration_inputs({"image": images, "mask": mask_data}, TWO)
    check_two(from_dict, images, mask_data)
    assert from_dict.label(1) == "<dict>[1]"
    samples = ({"mask": m, "image": x, "label": 7} for x, m in zip(images, mask_data))
    from_generator = load_calibration_inputs(samples, TWO, limit=2)
    check_two(from_generator, images[:2], mask_data[:2])
    assert from_generator.label(1) == "<generator>[1]"
    assert capsys.readouterr().err == (
        "note: calibration set '<generator>' holds arrays that are not model inputs, ignored: ['label']\n"
    )


def test_extra_npz_arrays_are_ignored_with_a_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.savez(tmp_path / "c.npz", image=stack(2), mask=masks(2), y=np.arange(2), z=np.arange(2))
    check_two(load_calibration_inputs(tmp_path / "c.npz", TWO), stack(2), masks(2))
    source = tmp_path / "c.npz"
    assert capsys.readouterr().err == (
        f"note: calibration set '{source}' holds arrays that are not model inputs, ignored: ['y', 'z']\n"
    )


def test_conversions_are_reported_per_input(capsys: pytest.CaptureFixture[str]) -> None:
    data = {"image": stack(2).astype(np.float64), "mask": masks(2).astype(np.int32)}
    calibration = load_calibration_inputs(data, TWO)
    check_two(calibration, stack(2), masks(2))
    assert capsys.readouterr().err.splitlines() == [
        "note: calibration input 'image' is float64; converted to float32",
        "note: calibration input 'mask' is int32; converted to int64",
    ]


def test_one_input_takes_every_source_load_calibration_takes(tmp_path: Path) -> None:
    data = stack(3)
    np.save(tmp_path / "c.npy", data)
    np.savez(tmp_path / "c.npz", x=data)
    (tmp_path / "dir").mkdir()
    np.save(tmp_path / "dir" / "a.npy", data[0])
    np.savez(tmp_path / "dir" / "b.npz", x=data[1:])  # .npz files in a folder: new, for one input as well
    save_png(tmp_path / "img.png", PIXELS)
    spec = ImageSpec(crop=4)
    sources = [tmp_path / "c.npy", tmp_path / "c.npz", tmp_path / "dir", data, list(data)]
    for source in sources:
        old = load_calibration(source, SHAPE, input_name="x")
        new = load_calibration_inputs(source, [ModelInput("x", SHAPE)])
        assert len(new) == len(old) == 3
        for i, (sample, item) in enumerate(zip(new, old, strict=True)):
            assert len(sample) == 1
            np.testing.assert_array_equal(sample[0], item)
            np.testing.assert_array_equal(sample[0], data[i])
            assert new.label(i) == old.label(i)
    (image,) = load_calibration_inputs(tmp_path / "img.png", [ModelInput("x", SHAPE)], image_spec=spec)
    np.testing.assert_array_equal(image[0], load_calibration(tmp_path / "img.png", SHAPE, image_spec=spec)[0])


def test_one_input_from_dicts() -> None:
    data = stack(2)
    calibration = load_calibration_inputs({"x": data, "y": np.arange(2)}, [ModelInput("x", SHAPE)])
    assert [s[0].tolist() for s in calibration] == [d.tolist() for d in data]
    assert calibration.label(1) == "<dict>:x[1]"
    calibration = load_calibration_inputs([{"pixels": d} for d in data], [ModelInput("x", SHAPE)])
    assert [s[0].tolist() for s in calibration] == [d.tolist() for d in data]  # the only array, whatever its name
    assert calibration.label(0) == "<list>[0]:pixels"


# --------------------------------------------------------------------------- several inputs: bad input


def test_missing_input_array_is_named(tmp_path: Path) -> None:
    inputs = [ModelInput("input_ids", (1, 8), np.int64), ModelInput("attention_mask", (1, 8), np.int64)]
    np.savez(tmp_path / "c.npz", input_ids=np.zeros((4, 1, 8), np.int64))
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration_inputs(tmp_path / "c.npz", inputs)
    assert str(excinfo.value) == (
        f"calibration file '{tmp_path / 'c.npz'}' has no array for model input 'attention_mask'; it holds ['input_ids']"
    )
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration_inputs({"other": np.zeros((4, 1, 8))}, inputs)
    one_line_error(excinfo, "calibration data '<dict>'", "model inputs 'input_ids', 'attention_mask'", "['other']")
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration_inputs([{"input_ids": np.zeros((1, 8))}], inputs)
    one_line_error(excinfo, "calibration sample <list>[0]", "no array for model input 'attention_mask'")


def test_inputs_must_agree_in_sample_count(tmp_path: Path) -> None:
    a, b = ModelInput("a", (1, 2)), ModelInput("b", (1, 3))
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration_inputs({"a": np.zeros((16, 1, 2)), "b": np.zeros((12, 1, 3))}, [a, b])
    assert str(excinfo.value) == "calibration inputs in '<dict>' disagree in sample count: 'a' has 16, 'b' has 12"
    np.savez(tmp_path / "c.npz", a=np.zeros((16, 2)), b=np.zeros((1, 3)))  # 16 on the batch axis, 1 sample
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration_inputs(tmp_path / "c.npz", [a, b])
    one_line_error(excinfo, f"in '{tmp_path / 'c.npz'}'", "'a' has 16, 'b' has 1")


def test_input_array_of_the_wrong_shape(tmp_path: Path) -> None:
    np.savez(tmp_path / "c.npz", image=np.zeros((4, 3, 5)), mask=masks(4))
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration_inputs(tmp_path / "c.npz", TWO)
    one_line_error(
        excinfo, f"calibration file '{tmp_path / 'c.npz'}'", "array 'image' of shape 4x3x5",
        "model input 'image' (1x3x4x4)", "Nx1x3x4x4",
    )
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration_inputs({"image": stack(2, shape=(1, 3, 4, 5)), "mask": masks(2)}, TWO)
    one_line_error(excinfo, "calibration sample <dict>:image[0] has shape 1x3x4x5", "model input 'image' is 1x3x4x4")


def test_bad_values_name_the_input_and_sample(tmp_path: Path) -> None:
    images = stack(3)
    images[2, 0, 0, 0, 0] = np.nan
    np.savez(tmp_path / "c.npz", image=images, mask=masks(3))
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration_inputs(tmp_path / "c.npz", TWO)
    one_line_error(excinfo, f"{tmp_path / 'c.npz'}:image[2]", "contains NaN")
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration_inputs({"image": stack(3), "mask": masks(3).astype(np.float32)}, TWO)
    one_line_error(excinfo, "<dict>:mask[0]", "float32", "cannot be cast to int64")
    big = masks(3).astype(np.uint64)
    big[1, 0, 0] = 2**63
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration_inputs({"image": stack(3), "mask": big}, TWO)
    one_line_error(excinfo, "<dict>:mask[1]", "outside the int64 range")


def test_single_array_sources_for_several_inputs(tmp_path: Path) -> None:
    np.save(tmp_path / "c.npy", stack(2))
    save_png(tmp_path / "img.png", PIXELS)
    (tmp_path / "dir").mkdir()
    np.save(tmp_path / "dir" / "a.npy", stack(1)[0])
    cases = [
        (tmp_path / "c.npy", "is a single .npy array", "use an .npz file"),
        (tmp_path / "img.png", "holds images", "single-input model"),
        (tmp_path / "dir", "holds .npy files (a.npy, ...)", "use .npz files"),
        (stack(2), "calibration data '<ndarray>' is one array", "dict {input name: stacked samples}"),
        ([stack(1)[0]], "calibration sample <list>[0] is a ndarray, not a dict", "input name"),
    ]
    for source, *needles in cases:
        with pytest.raises(QuantuneError) as excinfo:
            load_calibration_inputs(source, TWO, image_spec=ImageSpec(crop=4))
        one_line_error(excinfo, *needles, "the model has 2 inputs ['image', 'mask']")


def test_bad_model_inputs() -> None:
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration_inputs({"a": np.zeros(3)}, [ModelInput("a", (1,)), ModelInput("a", (1,))])
    one_line_error(excinfo, "model input 'a' is listed twice")
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration_inputs({"a": np.zeros(3)}, [])
    one_line_error(excinfo, "no inputs")
    with pytest.raises(QuantuneError) as excinfo:
        ModelInput("a", (1, 0))
    one_line_error(excinfo, "bad model input shape 1x0 for 'a'", "positive")
    with pytest.raises(QuantuneError) as excinfo:
        ModelInput("a", (1, 2), "not-a-dtype")
    one_line_error(excinfo, "bad model input dtype", "for 'a'")


def test_limit_stops_reading_npz_files(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", image=stack(2), mask=masks(2))
    (tmp_path / "b.npz").write_bytes(b"PK broken")  # beyond the limit: never opened
    calibration = load_calibration_inputs(tmp_path, TWO, limit=2)
    check_two(calibration, stack(2), masks(2))
    with pytest.raises(QuantuneError) as excinfo:
        load_calibration_inputs(tmp_path, TWO, limit=3)
    one_line_error(excinfo, f"cannot read calibration file '{tmp_path / 'b.npz'}'")
