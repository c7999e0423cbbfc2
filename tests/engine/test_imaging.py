"""Image files in and out: every mode and format, orientation, bit depth, alpha, errors, atomicity."""
from __future__ import annotations

import logging
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image, ImageOps
from skimage import data

from translator import imaging
from translator.errors import ImageError, TranslatorError, UnsupportedImage


@pytest.fixture(scope="module")
def astro() -> np.ndarray:
    """A real colour photo, cropped to a non-square size (rows != columns catches transposes)."""
    return np.ascontiguousarray(data.astronaut()[40:160, 150:310])  # (120, 160, 3) uint8


@pytest.fixture(scope="module")
def grey() -> np.ndarray:
    return np.ascontiguousarray(data.camera()[100:220, 200:360])  # (120, 160) uint8


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _gradient_alpha(h: int, w: int) -> np.ndarray:
    """An alpha with every kind of value: transparent, opaque and in between."""
    alpha = np.tile(np.linspace(0, 255, w).round().astype(np.uint8), (h, 1))
    alpha[: h // 4] = 255
    return alpha


def _rgb16(rgb8: np.ndarray, seed: int = 0) -> np.ndarray:
    """A 16-bit version of an 8-bit photo with low bits that 8 bits cannot hold."""
    noise = np.random.default_rng(seed).integers(-120, 121, rgb8.shape)
    return np.clip(rgb8.astype(np.int64) * 257 + noise, 0, 65535).astype(np.uint16)


def _round257(a: np.ndarray) -> np.ndarray:
    return np.rint(a.astype(np.float64) / 257).astype(np.uint8)


def _no_partials(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".partial-")]


# ------------------------------------------------------------------------------------ round trips


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif", ".tiff", ".PNG"])
def test_lossless_formats_round_trip_exactly(tmp_path: Path, astro: np.ndarray, suffix: str) -> None:
    path = imaging.write_image(tmp_path / f"out{suffix}", astro)
    loaded = imaging.read_image(path)
    assert loaded.rgb.dtype == np.uint8 and loaded.bit_depth == 8 and loaded.alpha is None
    np.testing.assert_array_equal(loaded.rgb, astro)
    assert loaded.source_format == {".png": "PNG", ".bmp": "BMP"}.get(suffix.lower(), "TIFF")
    assert loaded.size == (160, 120) and loaded.path == path
    assert _no_partials(tmp_path)


@pytest.mark.parametrize(("suffix", "fmt"), [(".jpg", "JPEG"), (".jpeg", "JPEG"), (".webp", "WEBP")])
def test_lossy_formats_round_trip_closely(tmp_path: Path, astro: np.ndarray, suffix: str, fmt: str) -> None:
    loaded = imaging.read_image(imaging.write_image(tmp_path / f"out{suffix}", astro, quality=95))
    assert loaded.source_format == fmt and loaded.rgb.shape == astro.shape
    assert _psnr(loaded.rgb, astro) > 35


@pytest.mark.parametrize("suffix", [".jpg", ".webp"])
def test_quality_is_passed_to_the_encoder(tmp_path: Path, astro: np.ndarray, suffix: str) -> None:
    low = imaging.write_image(tmp_path / f"low{suffix}", astro, quality=30)
    high = imaging.write_image(tmp_path / f"high{suffix}", astro, quality=95)
    assert low.stat().st_size < high.stat().st_size * 0.6
    assert _psnr(imaging.read_image(low).rgb, astro) < _psnr(imaging.read_image(high).rgb, astro)


def test_reading_never_modifies_the_input(tmp_path: Path, astro: np.ndarray) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    src = tmp_path / "in.jpg"
    Image.fromarray(astro).save(src, exif=exif)
    before, mtime = src.read_bytes(), src.stat().st_mtime_ns
    imaging.read_image(src)
    assert src.read_bytes() == before and src.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jpg"]


# ------------------------------------------------------------------------------------ orientation


def test_exif_orientation_6_rotates_a_jpeg_clockwise(tmp_path: Path, astro: np.ndarray) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    src = tmp_path / "phone.jpg"
    Image.fromarray(astro).save(src, exif=exif, quality=95)
    loaded = imaging.read_image(src)
    assert loaded.rgb.shape == (160, 120, 3) and loaded.size == (120, 160)
    assert _psnr(loaded.rgb, np.rot90(astro, k=-1)) > 35
    assert _psnr(loaded.rgb, np.rot90(astro, k=1)) < 20  # the other way round is clearly wrong


# What a viewer shows for each EXIF orientation of stored pixels `a` (the EXIF 2.3 table).
UPRIGHT = {
    1: lambda a: a,
    2: np.fliplr,
    3: lambda a: np.rot90(a, 2),
    4: np.flipud,
    5: lambda a: np.rot90(np.fliplr(a), 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(np.fliplr(a), -1),
    8: lambda a: np.rot90(a, 1),
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillow(tmp_path: Path, astro: np.ndarray, orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    rgba = np.dstack([astro, _gradient_alpha(*astro.shape[:2])])
    src = tmp_path / "o.png"
    Image.fromarray(rgba).save(src, exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(src)))
    np.testing.assert_array_equal(expected, UPRIGHT[orientation](rgba))  # the table agrees with Pillow
    loaded = imaging.read_image(src)
    np.testing.assert_array_equal(loaded.rgb, expected[..., :3])
    assert loaded.alpha is not None
    np.testing.assert_array_equal(loaded.alpha, expected[..., 3])


@pytest.mark.parametrize(("suffix", "bits"), [(".tif", 8), (".tif", 16), (".png", 16)])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_in_tiff_and_16bit(
    tmp_path: Path, grey: np.ndarray, suffix: str, bits: int, orientation: int
) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored = _rgb16(grey) if bits == 16 else grey
    src = tmp_path / f"g{suffix}"
    Image.fromarray(stored).save(src, exif=exif, **({"compression": "tiff_lzw"} if bits == 8 else {}))
    loaded = imaging.read_image(src)
    assert loaded.bit_depth == bits
    got = loaded.rgb16 if loaded.rgb16 is not None else loaded.rgb
    np.testing.assert_array_equal(got[..., 0], UPRIGHT[orientation](stored))


# ------------------------------------------------------------------------------------------ modes


def test_greyscale_becomes_three_equal_channels(tmp_path: Path, grey: np.ndarray) -> None:
    Image.fromarray(grey).save(tmp_path / "g.png")
    loaded = imaging.read_image(tmp_path / "g.png")
    assert loaded.source_mode == "L" and loaded.rgb.shape == (*grey.shape, 3) and loaded.alpha is None
    for c in range(3):
        np.testing.assert_array_equal(loaded.rgb[..., c], grey)


def test_one_bit_image_reads_as_black_and_white(tmp_path: Path, grey: np.ndarray) -> None:
    Image.fromarray(grey > 128).save(tmp_path / "bw.png")
    loaded = imaging.read_image(tmp_path / "bw.png")
    assert loaded.source_mode == "1"
    np.testing.assert_array_equal(loaded.rgb[..., 1], np.where(grey > 128, 255, 0))


def test_greyscale_with_alpha_keeps_alpha(tmp_path: Path, grey: np.ndarray) -> None:
    alpha = _gradient_alpha(*grey.shape)
    Image.fromarray(np.dstack([grey, alpha])).save(tmp_path / "la.png")
    loaded = imaging.read_image(tmp_path / "la.png")
    assert loaded.source_mode == "LA" and loaded.alpha is not None
    np.testing.assert_array_equal(loaded.alpha, alpha)
    np.testing.assert_array_equal(loaded.rgb[..., 2], grey)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".webp"])
def test_rgba_alpha_is_kept_aside_and_reattached(tmp_path: Path, astro: np.ndarray, suffix: str) -> None:
    alpha = _gradient_alpha(*astro.shape[:2])
    src = tmp_path / f"in{suffix}"
    options = {"lossless": True, "exact": True} if suffix == ".webp" else {}  # exact: keep RGB under alpha 0
    Image.fromarray(np.dstack([astro, alpha])).save(src, **options)
    loaded = imaging.read_image(src)
    assert loaded.source_mode == "RGBA" and loaded.alpha is not None
    np.testing.assert_array_equal(loaded.alpha, alpha)
    np.testing.assert_array_equal(loaded.rgb, astro)

    translated = 255 - loaded.rgb  # stands in for the model's output
    out = imaging.write_like(tmp_path / f"out{suffix}", translated, loaded)
    with Image.open(out) as im:
        assert im.mode == "RGBA"
        written = np.asarray(im)
    np.testing.assert_array_equal(written[..., 3], alpha)  # WebP keeps alpha losslessly
    if suffix == ".webp":
        assert _psnr(written[..., :3], translated) > 35
    else:
        np.testing.assert_array_equal(written[..., :3], translated)


def test_webp_keeps_the_colour_under_transparent_pixels(tmp_path: Path, astro: np.ndarray) -> None:
    alpha = np.full(astro.shape[:2], 255, np.uint8)
    alpha[:, 40:120] = 0  # a hole: the colour there is invisible but must survive, as in the source
    loaded = imaging.read_image(imaging.write_image(tmp_path / "hole.webp", astro, alpha=alpha))
    assert loaded.alpha is not None
    np.testing.assert_array_equal(loaded.alpha, alpha)
    assert _psnr(loaded.rgb[:, 40:120], astro[:, 40:120]) > 30


@pytest.mark.parametrize("suffix", [".jpg", ".bmp"])
def test_alpha_is_dropped_with_a_warning_where_the_format_has_none(
    tmp_path: Path, astro: np.ndarray, suffix: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="translator.imaging"):
        out = imaging.write_image(tmp_path / f"out{suffix}", astro, alpha=_gradient_alpha(*astro.shape[:2]))
    assert "transparency dropped" in caplog.text
    with Image.open(out) as im:
        assert im.mode == "RGB"


def test_palette_with_transparency_gives_alpha(tmp_path: Path, astro: np.ndarray) -> None:
    pal = Image.fromarray(astro).quantize(16)
    indices = np.asarray(pal)
    pal.save(tmp_path / "p.png", transparency=0)
    loaded = imaging.read_image(tmp_path / "p.png")
    assert loaded.source_mode == "P" and loaded.alpha is not None
    np.testing.assert_array_equal(loaded.alpha, np.where(indices == 0, 0, 255))
    palette = np.array(pal.getpalette()[:48], np.uint8).reshape(16, 3)
    np.testing.assert_array_equal(loaded.rgb, palette[indices])


def test_palette_without_transparency_has_no_alpha(tmp_path: Path, astro: np.ndarray) -> None:
    Image.fromarray(astro).quantize(64).save(tmp_path / "p.png")
    loaded = imaging.read_image(tmp_path / "p.png")
    assert loaded.source_mode == "P" and loaded.alpha is None
    assert _psnr(loaded.rgb, astro) > 22  # 64 colours of the photo, not noise


def test_cmyk_jpeg_reads_as_rgb(tmp_path: Path) -> None:
    coffee = data.coffee()[::4, ::4]
    Image.fromarray(coffee).convert("CMYK").save(tmp_path / "print.jpg", quality=95)
    loaded = imaging.read_image(tmp_path / "print.jpg")
    assert loaded.source_mode == "CMYK" and loaded.rgb.shape == coffee.shape
    assert _psnr(loaded.rgb, coffee) > 25


def test_animated_gif_reads_first_frame(tmp_path: Path, astro: np.ndarray) -> None:
    frames = [Image.fromarray(astro).convert("P"), Image.fromarray(255 - astro).convert("P")]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    loaded = imaging.read_image(tmp_path / "anim.gif")
    assert loaded.source_format == "GIF"
    assert _psnr(loaded.rgb, astro) > 20 > _psnr(loaded.rgb, 255 - astro)


# ------------------------------------------------------------------------------------------ 16-bit


def test_16bit_grey_png(tmp_path: Path, grey: np.ndarray) -> None:
    g16 = _rgb16(grey)
    Image.fromarray(g16).save(tmp_path / "g16.png")  # Pillow writes I;16 as a 16-bit PNG
    loaded = imaging.read_image(tmp_path / "g16.png")
    assert loaded.bit_depth == 16 and loaded.rgb16 is not None and loaded.alpha is None
    for c in range(3):
        np.testing.assert_array_equal(loaded.rgb16[..., c], g16)
    np.testing.assert_array_equal(loaded.rgb, _round257(loaded.rgb16))

    out = imaging.write_like(tmp_path / "out.png", loaded.rgb, loaded)
    back = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert back is not None and back.dtype == np.uint16
    np.testing.assert_array_equal(back[..., ::-1], loaded.rgb.astype(np.uint16) * 257)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_rgb(tmp_path: Path, astro: np.ndarray, suffix: str) -> None:
    rgb16 = _rgb16(astro)
    assert cv2.imwrite(str(tmp_path / f"c16{suffix}"), rgb16[..., ::-1])  # OpenCV writes BGR
    loaded = imaging.read_image(tmp_path / f"c16{suffix}")
    assert loaded.bit_depth == 16 and loaded.source_mode == "RGB16" and loaded.rgb16 is not None
    np.testing.assert_array_equal(loaded.rgb16, rgb16)  # full precision, channels in RGB order
    np.testing.assert_array_equal(loaded.rgb, _round257(rgb16))

    translated = 255 - loaded.rgb
    out = imaging.write_like(tmp_path / f"out{suffix}", translated, loaded)
    back = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert back is not None and back.dtype == np.uint16 and back.shape == astro.shape
    np.testing.assert_array_equal(back[..., ::-1], translated.astype(np.uint16) * 257)
    assert imaging.read_image(out).bit_depth == 16


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_rgba_keeps_16bit_alpha(tmp_path: Path, astro: np.ndarray, suffix: str) -> None:
    rgb16 = _rgb16(astro)
    alpha16 = (_gradient_alpha(*astro.shape[:2]).astype(np.uint16) * 257) ^ 0x5A  # not a multiple of 257
    cv2.imwrite(str(tmp_path / f"a16{suffix}"), np.dstack([rgb16[..., ::-1], alpha16]))
    loaded = imaging.read_image(tmp_path / f"a16{suffix}")
    assert loaded.bit_depth == 16 and loaded.alpha is not None and loaded.alpha.dtype == np.uint16
    np.testing.assert_array_equal(loaded.alpha, alpha16)
    np.testing.assert_array_equal(loaded.rgb16, rgb16)

    out = imaging.write_like(tmp_path / f"out{suffix}", loaded.rgb, loaded)
    again = imaging.read_image(out)
    assert again.bit_depth == 16 and again.alpha is not None
    np.testing.assert_array_equal(again.alpha, alpha16)
    np.testing.assert_array_equal(again.rgb, loaded.rgb)


def test_16bit_source_written_as_jpeg_falls_back_to_8bit(
    tmp_path: Path, astro: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    cv2.imwrite(str(tmp_path / "c16.png"), _rgb16(astro)[..., ::-1])
    loaded = imaging.read_image(tmp_path / "c16.png")
    with caplog.at_level(logging.WARNING, logger="translator.imaging"):
        out = imaging.write_like(tmp_path / "out.jpg", loaded.rgb, loaded)
    assert "8 bits" in caplog.text
    again = imaging.read_image(out)
    assert again.bit_depth == 8 and _psnr(again.rgb, loaded.rgb) > 35


def test_uint8_written_at_16bit_is_scaled_by_257(tmp_path: Path, astro: np.ndarray) -> None:
    out = imaging.write_image(tmp_path / "o.tif", astro, bit_depth=16)
    back = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert back is not None and back.dtype == np.uint16
    np.testing.assert_array_equal(back[..., ::-1], astro.astype(np.uint16) * 257)


def test_write_like_refuses_a_different_size(tmp_path: Path, astro: np.ndarray) -> None:
    loaded = imaging.read_image(imaging.write_image(tmp_path / "in.png", astro))
    with pytest.raises(ValueError, match="160x120"):
        imaging.write_like(tmp_path / "out.png", astro[:64], loaded)
    assert not (tmp_path / "out.png").exists()


# ------------------------------------------------------------------------------------------ errors


def _assert_error(exc: pytest.ExceptionInfo[ImageError], path: Path, *words: str) -> None:
    message = str(exc.value)
    assert message.startswith(str(path)), message
    for word in words:
        assert word in message, message


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "x.png").write_bytes(b"")
    with pytest.raises(ImageError) as exc:
        imaging.read_image(tmp_path / "x.png")
    assert not isinstance(exc.value, UnsupportedImage)
    _assert_error(exc, tmp_path / "x.png", "empty", "0 bytes")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError) as exc:
        imaging.read_image(tmp_path / "gone.jpg")
    _assert_error(exc, tmp_path / "gone.jpg", "no such file")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(ImageError) as exc:
        imaging.read_image(tmp_path / "dir.png")
    _assert_error(exc, tmp_path / "dir.png", "folder")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path: Path, astro: np.ndarray) -> None:
    path = imaging.write_image(tmp_path / "locked.png", astro)
    path.chmod(0)
    try:
        with pytest.raises(ImageError) as exc:
            imaging.read_image(path)
        _assert_error(exc, path, "permission denied")
    finally:
        path.chmod(0o644)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")  # Pillow, on the cut TIFF
@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tif"])
def test_truncated_file(tmp_path: Path, astro: np.ndarray, suffix: str) -> None:
    whole = imaging.write_image(tmp_path / f"whole{suffix}", astro).read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ImageError) as exc:
        imaging.read_image(cut)
    assert not isinstance(exc.value, UnsupportedImage)
    _assert_error(exc, cut, "truncated or corrupt")


def test_truncated_16bit_png(tmp_path: Path, astro: np.ndarray) -> None:
    whole = imaging.write_image(tmp_path / "whole.png", astro, bit_depth=16).read_bytes()
    (tmp_path / "cut.png").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ImageError) as exc:
        imaging.read_image(tmp_path / "cut.png")
    _assert_error(exc, tmp_path / "cut.png", "truncated or corrupt")


def test_file_cut_inside_its_header(tmp_path: Path, astro: np.ndarray) -> None:
    whole = imaging.write_image(tmp_path / "whole.png", astro).read_bytes()
    (tmp_path / "stub.png").write_bytes(whole[:20])
    with pytest.raises(ImageError) as exc:
        imaging.read_image(tmp_path / "stub.png")
    assert not isinstance(exc.value, UnsupportedImage)
    _assert_error(exc, tmp_path / "stub.png", "truncated or corrupt")


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("page.jpg", b"<!DOCTYPE html>\n<html><head><title>Photo</title></head><body></body></html>", ("HTML",)),
        ("notes.png", "just some notes, not a picture — café\n".encode() * 10, ("text",)),
        ("doc.tif", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", ("PDF",)),
        ("iphone.jpg", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64), ("HEIC is not supported", "PNG or JPEG")),
        ("noise.bmp", bytes(np.random.default_rng(1).integers(0, 256, 512, dtype=np.uint8)) + b"\x00", ("unknown",)),
    ],
)
def test_not_an_image(tmp_path: Path, name: str, content: bytes, words: tuple[str, ...]) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(UnsupportedImage) as exc:
        imaging.read_image(tmp_path / name)
    _assert_error(exc, tmp_path / name, *words)


def test_decode_image_names_the_source() -> None:
    with pytest.raises(UnsupportedImage, match=r"^upload\.png: not a recognised image"):
        imaging.decode_image(b"hello, world", "upload.png")


def _png_claiming_size(width: int, height: int) -> bytes:
    """A valid PNG header announcing a huge image (Pillow reads only the header when opening)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat = zlib.compress(b"")
    chunk += struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    return b"\x89PNG\r\n\x1a\n" + chunk


def test_decompression_bomb_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bomb.png").write_bytes(_png_claiming_size(50_000, 50_000))
    with pytest.raises(UnsupportedImage) as exc:
        imaging.read_image(tmp_path / "bomb.png")
    _assert_error(exc, tmp_path / "bomb.png", "decompression bomb")


def test_more_than_a_gigapixel_is_refused(tmp_path: Path) -> None:
    (tmp_path / "big.png").write_bytes(_png_claiming_size(40_000, 30_000))
    with pytest.raises(UnsupportedImage) as exc:
        imaging.read_image(tmp_path / "big.png")
    _assert_error(exc, tmp_path / "big.png", "40000x30000", "decompression bombs")


def test_large_photos_are_not_mistaken_for_bombs() -> None:
    assert Image.MAX_IMAGE_PIXELS == imaging.MAX_PIXELS >= 200_000_000  # a 200 MP panorama reads


# ---------------------------------------------------------------------------------------- writing


def test_write_is_atomic_when_the_encoder_fails(tmp_path: Path, astro: np.ndarray) -> None:
    dst = imaging.write_image(tmp_path / "out.webp", astro)
    before = dst.read_bytes()
    too_wide = np.zeros((2, 20_000, 3), np.uint8)  # WebP's limit is 16383 pixels a side
    with pytest.raises(ImageError) as exc:
        imaging.write_image(dst, too_wide)
    _assert_error(exc, dst, "could not write")
    assert dst.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.webp"]


@pytest.mark.parametrize(
    "bad",
    [np.zeros((8, 8, 3), np.float32), np.zeros((8, 8), np.uint8), np.zeros((8, 8, 4), np.uint8), np.zeros((8, 8, 3), np.uint16)],
)
def test_bad_arrays_leave_the_destination_alone(tmp_path: Path, astro: np.ndarray, bad: np.ndarray) -> None:
    dst = imaging.write_image(tmp_path / "out.png", astro)
    before = dst.read_bytes()
    with pytest.raises(ValueError):
        imaging.write_image(dst, bad)
    assert dst.read_bytes() == before and _no_partials(tmp_path)


def test_write_replaces_an_existing_file_and_creates_folders(tmp_path: Path, astro: np.ndarray) -> None:
    dst = imaging.write_image(tmp_path / "a" / "b" / "out.png", astro)
    imaging.write_image(dst, 255 - astro)
    np.testing.assert_array_equal(imaging.read_image(dst).rgb, 255 - astro)
    assert _no_partials(dst.parent)


@pytest.mark.parametrize("name", ["out.gif", "out.heic", "out"])
def test_unknown_output_suffix(tmp_path: Path, astro: np.ndarray, name: str) -> None:
    with pytest.raises(ValueError, match=r"\.png"):
        imaging.write_image(tmp_path / name, astro)
    assert list(tmp_path.iterdir()) == []


def test_bad_write_arguments(tmp_path: Path, astro: np.ndarray) -> None:
    with pytest.raises(ValueError, match="bit_depth"):
        imaging.write_image(tmp_path / "o.png", astro, bit_depth=12)
    with pytest.raises(ValueError, match="quality"):
        imaging.write_image(tmp_path / "o.jpg", astro, quality=0)
    with pytest.raises(ValueError, match="alpha"):
        imaging.write_image(tmp_path / "o.png", astro, alpha=np.zeros((3, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------- finding


def test_list_images(tmp_path: Path) -> None:
    for name in ["b.png", "a.jpg", "C.JPEG", "d.tiff", "e.Webp", "f.bmp", "notes.txt", "raw.cr2", ".hidden.png",
                 ".partial-b-x1y2.png", "sub/z.png", "sub/deeper/y.tif", "sub/.partial-z-q.png", ".git/objects.png"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "loop.png").symlink_to("loop.png")

    # Listed so that a job reports them rather than losing them: a symbolic link loop, and a folder
    # named like an image (searched instead with `recursive`).
    top = ["C.JPEG", "a.jpg", "b.png", "d.tiff", "e.Webp", "f.bmp", "loop.png"]
    assert imaging.list_images(tmp_path) == [tmp_path / n for n in sorted([*top, "folder.png"])]
    assert imaging.list_images(tmp_path, recursive=True) == [tmp_path / n for n in top + ["sub/deeper/y.tif", "sub/z.png"]]


def test_list_images_of_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(TranslatorError, match="no such folder"):
        imaging.list_images(tmp_path / "nope")


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.png", True), ("A.JPG", True), ("x.tif", True), ("x.gif", True), ("x.png.txt", False),
     (".x.png", False), (".partial-x-abc.png", False), ("png", False)],
)
def test_is_image_path(name: str, expected: bool) -> None:
    assert imaging.is_image_path(Path("some/dir") / name) is expected


@pytest.mark.parametrize(
    ("src", "fmt", "expected"),
    [
        ("in/photo.jpeg", None, "photo.jpeg"),
        ("in/IMG_1.JPG", None, "IMG_1.JPG"),
        ("in/scan.tiff", None, "scan.tiff"),
        ("in/anim.gif", None, "anim.png"),
        ("in/photo.jpeg", "png", "photo.png"),
        ("in/photo.png", "JPEG", "photo.jpg"),
        ("in/photo.png", "tiff", "photo.tif"),
        ("in/photo.png", ".webp", "photo.webp"),
        ("in/my.photo.png", "bmp", "my.photo.bmp"),
    ],
)
def test_output_path_for(src: str, fmt: str | None, expected: str) -> None:
    assert imaging.output_path_for(Path(src), Path("out"), fmt) == Path("out") / expected


def test_output_path_for_unknown_format_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="gif.*choose one of bmp, jpeg, jpg, png, tif, tiff, webp"):
        imaging.output_path_for(Path("a.png"), Path("out"), "gif")


def test_every_listed_extension_can_be_written_and_read(tmp_path: Path, astro: np.ndarray) -> None:
    # GIF is only read (its first frame); its output is written as PNG (see test_output_path_for).
    for suffix in sorted((imaging.IMAGE_EXTENSIONS - {".gif"}) | set(imaging.FORMATS.values())):
        loaded = imaging.read_image(imaging.write_image(tmp_path / f"x{suffix}", astro))
        assert _psnr(loaded.rgb, astro) > 35, suffix


# ---------------------------------------------------------------------------------------- tensors


def test_to_tensor_normalises_like_the_reference() -> None:
    from torchvision import transforms

    x = np.arange(256, dtype=np.uint8).reshape(16, 16)
    rgb = np.dstack([x, 255 - x, x[::-1]])  # distinct channels catch a swapped order
    t = imaging.to_tensor(rgb)
    assert t.dtype == torch.float32 and t.shape == (1, 3, 16, 16)
    reference = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.5,) * 3)])
    torch.testing.assert_close(t[0], reference(rgb), rtol=0, atol=0)
    assert t[0, 0, 0, 0] == -1 and t[0, 0, 15, 15] == 1 and t[0, 1, 0, 0] == 1
    assert t[0, 0, 8, 0].item() == pytest.approx(128 / 255 * 2 - 1, abs=1e-7)


def test_to_uint8_inverts_to_tensor_for_every_value() -> None:
    x = np.arange(256, dtype=np.uint8).reshape(16, 16)
    rgb = np.dstack([x, 255 - x, x.T])
    np.testing.assert_array_equal(imaging.to_uint8(imaging.to_tensor(rgb)), rgb)
    np.testing.assert_array_equal(imaging.to_uint8(imaging.to_tensor(rgb)[0]), rgb)


def test_to_uint8_rounds_and_clips() -> None:
    values = [-3.0, -1.0, 2 * 127.4 / 255 - 1, 2 * 127.6 / 255 - 1, 1.0, 5.0]
    y = torch.tensor(values).reshape(1, 1, 6).expand(3, 1, 6)
    assert imaging.to_uint8(y)[0, :, 0].tolist() == [0, 0, 127, 128, 255, 255]
    assert imaging.to_uint8(y.to(torch.bfloat16)).dtype == np.uint8


def test_tensor_conversions_refuse_wrong_shapes() -> None:
    with pytest.raises(ValueError):
        imaging.to_tensor(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError):
        imaging.to_tensor(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError):
        imaging.to_uint8(torch.zeros(2, 3, 4, 4))


def test_loaded_arrays_are_writable_and_independent(tmp_path: Path, astro: np.ndarray) -> None:
    rgba = np.dstack([astro, _gradient_alpha(*astro.shape[:2])])
    Image.fromarray(rgba).save(tmp_path / "in.png")
    loaded = imaging.read_image(tmp_path / "in.png")
    assert loaded.alpha is not None
    for a in (loaded.rgb, loaded.alpha):
        assert a.flags.c_contiguous and a.flags.writeable
    loaded.rgb[:] = 0  # the caller may edit in place without touching the alpha
    np.testing.assert_array_equal(loaded.alpha, rgba[..., 3])


def test_read_thumbnail_is_small_oriented_and_reports_errors(tmp_path: Path) -> None:
    from skimage import data

    from translator.imaging import read_thumbnail

    photo = data.astronaut()  # 512x512
    rot = Image.fromarray(photo[:, :300])  # 300 wide, 512 high
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise for display
    rot.save(tmp_path / "r.jpg", exif=exif.tobytes(), quality=95)
    thumb = read_thumbnail(tmp_path / "r.jpg", 128)
    assert thumb.shape == (75, 128, 3)  # displayed landscape: 512 wide, 300 high
    Image.fromarray(photo).save(tmp_path / "p.png")
    assert read_thumbnail(tmp_path / "p.png", 100).shape == (100, 100, 3)
    (tmp_path / "bad.jpg").write_text("<html></html>")
    with pytest.raises(ImageError, match="bad.jpg"):
        read_thumbnail(tmp_path / "bad.jpg")


def test_written_files_get_the_usual_permissions_not_mkstemps_0600(tmp_path: Path, astro: np.ndarray) -> None:
    """Atomic writes go through a private temporary file (mkstemp: 0600); the result must get the
    mode any file the user saves gets (0666 minus the umask: 0644 under the usual 022)."""
    from translator._fs import _UMASK, write_bytes_atomic

    out = imaging.write_image(tmp_path / "out.png", astro)
    write_bytes_atomic(tmp_path / "note.json", b"{}")
    for path in (out, tmp_path / "note.json"):
        assert (path.stat().st_mode & 0o777) == 0o666 & ~_UMASK
