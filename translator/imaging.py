"""Every image read and write of the engine, and the conversion between files and tensors.

Reading turns whatever a user drops in (grey, RGB, RGBA, palette, CMYK, 16-bit PNG/TIFF, photos
with an EXIF orientation) into one shape the model understands: `(H, W, 3) uint8` RGB, upright.
What the model does not see is kept aside in `LoadedImage` — the alpha channel and the bit
depth — so `write_like` can put it back on the model's output. Writing is atomic (temporary file +
rename, see `translator._fs`), so a viewer or a folder job never sees half an image.

Shortcuts, and what they give up:
- ICC profiles and other metadata are neither applied nor carried to the output.
- 16-bit PNG/TIFF are decoded and encoded with OpenCV (Pillow has no 16-bit RGB mode). A 16-bit
  RGBA TIFF written this way lacks the ExtraSamples tag: Pillow and OpenCV read its 4th channel
  as alpha, some other programs may show it as an extra channel.
- The model works at 8 bits per channel; a 16-bit source is written back at 16 bits, but the
  extra precision of the colour (not of the alpha) is lost.
- An animation (GIF, APNG, animated WebP) or a multi-page TIFF is read as its first frame; a
  warning in the log says how many frames were left out. A GIF's output is written as PNG.
"""
from __future__ import annotations

import errno
import io
import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps, TiffImagePlugin, UnidentifiedImageError

from translator._fs import is_partial_file, write_bytes_atomic
from translator.choices import FORMAT_SUFFIXES
from translator.errors import ImageError, TranslatorError, UnsupportedImage

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif"})

# Output format name (aliases too) -> the suffix written; defined with the other choices.
FORMATS: dict[str, str] = dict(FORMAT_SUFFIXES)

# Output suffix -> Pillow format name.
_WRITERS: dict[str, str] = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}
_ALPHA_FORMATS = frozenset({"PNG", "WEBP", "TIFF"})
_16BIT_FORMATS = frozenset({"PNG", "TIFF"})

# Pillow's default (~89 MP warns, ~179 MP refuses) would trip on ordinary medium-format photos and
# panoramas. One gigapixel still refuses decompression bombs; it already needs 3 GB as RGB.
MAX_PIXELS = 1_000_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# Where a PNG can hold an orientation: the eXIf chunk, ImageMagick's text chunk, XMP.
_PNG_EXIF_KEYS = (b"eXIf", b"Raw profile type exif", b"XML:com.adobe.xmp")

# Pillow modes whose 16-bit PNG/TIFF variants OpenCV decodes at full precision.
_CV2_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "L", "LA", "RGB", "RGBA"})


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image: what the model sees (`rgb`) and what `write_like` puts back."""

    rgb: np.ndarray  # (H, W, 3) uint8, upright (EXIF orientation applied)
    alpha: np.ndarray | None  # (H, W) uint8 or uint16 (the source's depth); None without alpha
    bit_depth: int  # 8 or 16, per channel of the source
    source_mode: str  # informative: Pillow's mode ("RGB", "P", "CMYK", ...) or "RGB16"-style
    source_format: str  # Pillow's format name ("PNG", "JPEG", ...)
    path: Path | None
    rgb16: np.ndarray | None = None  # (H, W, 3) uint16 full-precision colour when bit_depth == 16

    def __post_init__(self) -> None:
        h, w = self.rgb.shape[:2]
        if self.rgb.dtype != np.uint8 or self.rgb.shape != (h, w, 3):
            raise ValueError(f"rgb must be (H, W, 3) uint8, got {self.rgb.shape} {self.rgb.dtype}")
        if self.bit_depth not in (8, 16):
            raise ValueError(f"bit_depth must be 8 or 16, got {self.bit_depth}")
        if self.alpha is not None and (self.alpha.shape != (h, w) or self.alpha.dtype not in (np.uint8, np.uint16)):
            raise ValueError(f"alpha must be ({h}, {w}) uint8/uint16, got {self.alpha.shape} {self.alpha.dtype}")
        if (self.rgb16 is not None) != (self.bit_depth == 16):
            raise ValueError("rgb16 is given exactly when bit_depth == 16")
        if self.rgb16 is not None and (self.rgb16.shape != (h, w, 3) or self.rgb16.dtype != np.uint16):
            raise ValueError(f"rgb16 must be ({h}, {w}, 3) uint16, got {self.rgb16.shape} {self.rgb16.dtype}")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as Pillow counts."""
        return self.rgb.shape[1], self.rgb.shape[0]


# ---------------------------------------------------------------------------------------- finding


def is_image_path(path: Path) -> bool:
    """True for a name with an image suffix that is neither hidden nor a partial write."""
    path = Path(path)
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".") and not is_partial_file(path)


def list_images(folder: Path, recursive: bool = False) -> list[Path]:
    """The images in `folder` (and its sub-folders if `recursive`), sorted by relative path.

    Every entry with an image name is listed, including those that will fail to read — a folder
    named like an image (without `recursive`; with it, the folder is searched instead), a broken
    symbolic link or a link loop — so a job reports them rather than losing them silently.
    Hidden files and folders (names starting with ".", which includes partial writes) are skipped;
    symbolic links to folders are not followed.
    """
    folder = Path(folder)
    if not folder.exists():
        raise TranslatorError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise TranslatorError(f"{folder}: is a file, not a folder")
    found: list[Path] = []
    if recursive:
        for root, dirs, files in os.walk(folder, onerror=lambda exc: log.warning("skipping %s", exc)):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            found += [Path(root, f) for f in files if is_image_path(Path(f))]
    else:
        found = [p for p in folder.iterdir() if is_image_path(p)]
    return sorted(found, key=lambda p: p.relative_to(folder).parts)


def output_path_for(src: Path, out_dir: Path, fmt: str | None = None) -> Path:
    """Where the translation of `src` goes: `out_dir / (src.stem + suffix)`.

    The suffix is the input's own (spelling kept) or, with `fmt`, the format's canonical one. An
    input whose suffix cannot be written (e.g. `.gif`) gets `.png`.
    """
    src = Path(src)
    if fmt is not None:
        key = fmt.strip().lower().lstrip(".")
        if key not in FORMATS:
            raise ValueError(f"unknown output format {fmt!r}: choose one of {', '.join(sorted(FORMATS))}")
        suffix = FORMATS[key]
    elif src.suffix.lower() in _WRITERS:
        suffix = src.suffix
    else:
        suffix = ".png"
    return Path(out_dir) / (src.stem + suffix)


# ---------------------------------------------------------------------------------------- reading


def read_image(path: Path) -> LoadedImage:
    """Read and fully decode an image file; never modifies it.

    Raises `ImageError` (missing, unreadable, empty, truncated or corrupt file) or its subclass
    `UnsupportedImage` (not an image, or a format or mode this tool cannot handle). Every message
    starts with the path.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _read_error(path, exc) from exc
    return _decode(data, str(path), path)


def probe_image(path: Path) -> tuple[int, int]:
    """Check an image file from its header alone and return its stored (width, height).

    Raises what `read_image` raises for a file that is missing, unreadable, empty, not an image or
    too large — without decoding the pixels, so it is fast on any file. Pixel data that is
    truncated or corrupt past the header passes: only decoding (`read_image`) finds that.
    """
    path = Path(path)
    name = str(path)
    try:
        with open(path, "rb") as f:
            head = f.read(64 * 1024)  # enough for any header _claimed_size needs
            f.seek(0)
            im = Image.open(f)  # reads the header only
    except UnidentifiedImageError as exc:
        raise (_unidentified(head, name) if head else ImageError(f"{name}: the file is empty (0 bytes)")) from exc
    except Image.DecompressionBombError as exc:  # Pillow refuses more than twice its limit on opening
        raise _too_many_pixels(name, _claimed_size(head)) from exc
    except (SyntaxError, ValueError, EOFError, IndexError, struct.error) as exc:
        raise ImageError(f"{name}: the image data is truncated or corrupt ({exc})") from exc
    except OSError as exc:
        if exc.errno is None:  # raised by Pillow, about the data: opening and reading the file worked
            raise ImageError(f"{name}: the image data is truncated or corrupt ({exc})") from exc
        raise _read_error(path, exc) from exc
    w, h = im.size
    im.close()
    if w * h > MAX_PIXELS:
        raise _too_many_pixels(name, (w, h))
    return w, h


def _read_error(path: Path, exc: OSError) -> ImageError:
    """The error for a file that could not be opened or read, naming the reason."""
    if isinstance(exc, FileNotFoundError):
        if path.is_symlink():
            return ImageError(f"{path}: is a symbolic link to {os.readlink(path)}, which does not exist; "
                              "fix or remove the link")
        return ImageError(f"{path}: no such file")
    if isinstance(exc, IsADirectoryError):
        return ImageError(f"{path}: is a folder, not an image file")
    if isinstance(exc, PermissionError):
        return ImageError(f"{path}: cannot read it: permission denied (check the file's permissions)")
    if exc.errno == errno.ELOOP:
        return ImageError(f"{path}: is a symbolic link loop (the link leads back to itself); fix or remove the link")
    return ImageError(f"{path}: could not be read ({exc.strerror or exc})")


def read_thumbnail(path: Path, max_side: int = 160) -> np.ndarray:
    """A small (H, W, 3) uint8 preview of an image, its longer side at most `max_side`.

    JPEGs are decoded at reduced size (fast for large photos); everything else goes through
    `read_image`, so orientation, modes and errors are the same.
    """
    path = Path(path)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        try:
            data = path.read_bytes()
            with Image.open(io.BytesIO(data)) as f:
                _check_enough_data(f, data, str(path))  # a forged header must not make libjpeg fill gigabytes
                f.draft("RGB", (max_side * 2, max_side * 2))
                f.load()
                small = ImageOps.exif_transpose(f).convert("RGB")
            small.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
            return np.asarray(small).copy()
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            pass  # fall through to the full reader and its specific error
    rgb = read_image(path).rgb
    im = Image.fromarray(rgb)
    im.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return np.asarray(im).copy()


def decode_image(data: bytes, name: str = "<bytes>") -> LoadedImage:
    """`read_image` for an image already in memory; `name` starts error messages."""
    return _decode(data, name, None)


def _decode(data: bytes, name: str, path: Path | None) -> LoadedImage:
    if not data:
        raise ImageError(f"{name}: the file is empty (0 bytes)")
    try:
        try:
            im = Image.open(io.BytesIO(data))
        except UnidentifiedImageError as exc:
            raise _unidentified(data, name) from exc
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as exc:
            raise ImageError(f"{name}: the image data is truncated or corrupt ({exc})") from exc
        with im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise _too_many_pixels(name, (w, h))
            _check_enough_data(im, data, name)
            if _is_16bit(im, data) and im.mode in _CV2_MODES:
                loaded = _decode_16bit(data, name, path, im)
                if loaded is not None:
                    return loaded
            return _decode_pillow(im, data, name, path)
    except Image.DecompressionBombError as exc:  # Pillow refuses more than twice its limit on opening
        raise _too_many_pixels(name, _claimed_size(data)) from exc
    except MemoryError as exc:
        raise ImageError(f"{name}: not enough memory to decode this image") from exc


# Deflate encodes at most 258 bytes in 2 bits: no PNG's pixel data is compressed more than 1032:1.
_DEFLATE_MAX_RATIO = 1032
# JPEG frame markers (SOF0-SOF3) whose scans are Huffman-coded: every 8x8 block of a component
# costs at least one bit (its DC coefficient's code). Arithmetic-coded frames have no such floor.
_JPEG_HUFFMAN_FRAMES = frozenset({0xC0, 0xC1, 0xC2, 0xC3})
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # IHDR colour type -> samples per pixel


def _check_enough_data(im: Image.Image, data: bytes, name: str) -> None:
    """Refuse a PNG or JPEG whose header claims more pixels than its data could possibly encode.

    A truncated or forged file (a few KB claiming 30000x30000 pixels, below `MAX_PIXELS`) would
    otherwise have the decoder allocate gigabytes, and libjpeg even "decodes" it, filling the
    missing part with grey. The floors are what the coding cannot go below (deflate's 1032:1 for
    PNG, one bit per 8x8 block for Huffman-coded JPEG), so no intact file is refused.
    """
    w, h = im.size
    need = 0
    if im.format == "PNG" and data[12:16] == b"IHDR" and len(data) >= 26:
        bits, channels = data[24], _PNG_CHANNELS.get(data[25], 4)
        need = h * (1 + (w * channels * bits + 7) // 8) // _DEFLATE_MAX_RATIO  # filter byte + row
    elif im.format == "JPEG" and _jpeg_frame_marker(data) in _JPEG_HUFFMAN_FRAMES:
        need = ((w + 7) // 8) * ((h + 7) // 8) // 8
    if need > len(data):
        raise ImageError(
            f"{name}: the image data is truncated or corrupt (the header claims {w}x{h} pixels, which need at "
            f"least {need:,} bytes of {im.format} data; the file has {len(data):,})"
        )


def _jpeg_frame_marker(data: bytes) -> int | None:
    """The SOFn marker (0xC0..0xCF) of a JPEG, found by walking its segments; None if not found."""
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # DHT, JPG, DAC are not frames
            return marker
        if marker == 0xDA:  # start of scan before any frame header
            return None
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return None


def _too_many_pixels(name: str, size: tuple[int, int] | None) -> UnsupportedImage:
    claim = f"claims {size[0]}x{size[1]} pixels" if size else "claims too many pixels"
    return UnsupportedImage(
        f"{name}: the file {claim}, more than the limit of {MAX_PIXELS:,} pixels (a guard against "
        "decompression bombs); refused without decoding it; downscale it first"
    )


def _claimed_size(data: bytes) -> tuple[int, int] | None:
    """The (width, height) an image's header claims, read by Pillow's format plugins directly
    (`Image.open` would refuse a huge one before telling its size); None when none can tell."""
    Image.init()
    for fmt in Image.ID:
        factory, accept = Image.OPEN[fmt]
        try:
            if accept is not None and not accept(data[:16]):
                continue
            with factory(io.BytesIO(data), "") as im:  # reads the header only
                return im.size
        except Image.DecompressionBombError:  # a GIF checks its first frame's size while opening
            return None
        except (OSError, SyntaxError, ValueError, EOFError):  # not this format (Pillow's ways of saying so)
            continue
    return None


def _decode_pillow(im: Image.Image, data: bytes, name: str, path: Path | None) -> LoadedImage:
    """The general path: Pillow decodes (first frame), then the mode is mapped to RGB + alpha."""
    try:
        im.load()  # Pillow is lazy: decode now, so truncation is reported here
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        raise ImageError(f"{name}: the image data is truncated or corrupt ({exc})") from exc
    src, mode = im, im.mode
    if mode == "F":
        raise UnsupportedImage(f"{name}: 32-bit floating-point images are not supported; convert to 8- or 16-bit")
    try:
        if mode in ("P", "PA", "L", "RGB", "1") and ("transparency" in im.info or mode == "PA"):
            im = im.convert("RGBA")
        elif mode in ("P", "CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
            im = im.convert("RGB")
        elif mode in ("1", "La"):
            im = im.convert("LA" if mode == "La" else "L")
        elif mode == "RGBa":
            im = im.convert("RGBA")
    except ValueError as exc:
        raise UnsupportedImage(f"{name}: images in mode {mode} are not supported ({exc}); convert to PNG or JPEG") from exc
    arr = np.asarray(im)
    alpha: np.ndarray | None = None
    orientation = _orientation(src, data)
    # Last: counting frames seeks through them, and a damaged one can leave `src` at another frame.
    _warn_if_animated(src, name)
    if im.mode.startswith("I"):  # 16-bit (or 32-bit integer) grey: values above 65535 are clipped
        grey16 = np.clip(arr, 0, 65535).astype(np.uint16)  # astype: also to native byte order
        rgb16 = _orient(np.repeat(grey16[..., None], 3, axis=2), orientation)
        return _loaded(_to_8bit(rgb16), None, 16, mode, src.format or "", path, rgb16)
    if im.mode == "L":
        arr = np.repeat(arr[..., None], 3, axis=2)
    elif im.mode == "LA":
        arr, alpha = np.repeat(arr[..., :1], 3, axis=2), arr[..., 1]
    elif im.mode == "RGBA":
        arr, alpha = arr[..., :3], arr[..., 3]
    elif im.mode != "RGB":
        raise UnsupportedImage(f"{name}: images in mode {im.mode} are not supported; convert to PNG or JPEG")
    alpha = None if alpha is None else _orient(alpha, orientation)
    return _loaded(_orient(arr, orientation), alpha, 8, mode, src.format or "", path, None)


def _warn_if_animated(im: Image.Image, name: str) -> None:
    """Log that only the first frame of an animation or multi-page file is used."""
    try:
        frames = int(getattr(im, "n_frames", 1))  # GIF: scans the file (cheap next to decoding)
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, TypeError, KeyError) as exc:
        # A damaged later frame or page (Pillow's TIFF reader raises TypeError for a page without a
        # size, KeyError for one of an unknown compression): the first one decoded, which is all
        # that is used.
        log.warning("%s: the frames or pages after the first are damaged (%s: %s); only the first is used",
                    name, type(exc).__name__, exc)
        return
    if frames > 1:
        log.warning("%s: %s of %d frames; only the first frame is used", name,
                    "a multi-page TIFF" if im.format == "TIFF" else "an animation", frames)


def _decode_16bit(data: bytes, name: str, path: Path | None, im: Image.Image) -> LoadedImage | None:
    """Decode a 16-bit PNG/TIFF at full precision with OpenCV; None if OpenCV doesn't give 16 bits."""
    orientation = _orientation(im, data)
    if im.format == "TIFF" and orientation != 1:
        data = _tiff_upright_tag(data)  # some OpenCV versions apply TIFF orientation, some don't
    try:
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise ImageError(f"{name}: the image data is truncated or corrupt ({exc})") from exc
    if arr is None:
        raise ImageError(f"{name}: the image data is truncated or corrupt (OpenCV could not decode it)")
    if arr.dtype != np.uint16:
        return None
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    alpha: np.ndarray | None = None
    if arr.ndim == 2:
        rgb16, mode = np.repeat(arr[..., None], 3, axis=2), "I;16"
    elif arr.shape[2] == 2:
        rgb16, alpha, mode = np.repeat(arr[..., :1], 3, axis=2), arr[..., 1], "LA16"
    elif arr.shape[2] == 3:
        rgb16, mode = arr[..., ::-1], "RGB16"  # OpenCV is BGR
    elif arr.shape[2] == 4:
        rgb16, alpha, mode = arr[..., 2::-1], arr[..., 3], "RGBA16"
    else:
        return None
    rgb16 = _orient(rgb16, orientation)
    alpha = None if alpha is None else _orient(alpha, orientation)
    return _loaded(_to_8bit(rgb16), alpha, 16, mode, im.format or "", path, rgb16)


def _loaded(rgb: np.ndarray, alpha: np.ndarray | None, bit_depth: int, mode: str, fmt: str,
            path: Path | None, rgb16: np.ndarray | None) -> LoadedImage:
    def own(a: np.ndarray) -> np.ndarray:  # contiguous, writable, not a view into a larger buffer
        c = np.ascontiguousarray(a)
        return c if c is not a or (c.flags.writeable and c.base is None) else c.copy()

    return LoadedImage(
        rgb=own(rgb),
        alpha=None if alpha is None else own(alpha),
        bit_depth=bit_depth,
        source_mode=mode,
        source_format=fmt,
        path=path,
        rgb16=None if rgb16 is None else own(rgb16),
    )


def _is_16bit(im: Image.Image, data: bytes) -> bool:
    """True for a PNG or TIFF with 16 bits per sample (Pillow would decode most at 8 bits)."""
    if im.format == "PNG":
        return data[12:16] == b"IHDR" and data[24] == 16
    if im.format == "TIFF" and isinstance(im, TiffImagePlugin.TiffImageFile):
        bits: Any = im.tag_v2.get(258, 1)
        bits = bits if isinstance(bits, tuple) else (bits,)
        return all(b == 16 for b in bits)
    return False


def _tiff_upright_tag(data: bytes) -> bytes:
    """A copy of a TIFF with the first image's Orientation tag set to 1 (pixels as stored)."""
    endian = "<" if data[:2] == b"II" else ">"
    try:
        if struct.unpack(endian + "H", data[2:4])[0] == 43:  # BigTIFF: 8-byte offsets and counts
            ifd, count_fmt, entry_size, head = struct.unpack(endian + "Q", data[8:16])[0], "Q", 20, 12
        else:
            ifd, count_fmt, entry_size, head = struct.unpack(endian + "I", data[4:8])[0], "H", 12, 8
        count_size = struct.calcsize(endian + count_fmt)
        (n,) = struct.unpack(endian + count_fmt, data[ifd : ifd + count_size])
        for i in range(n):
            entry = ifd + count_size + i * entry_size
            tag, kind = struct.unpack(endian + "HH", data[entry : entry + 4])
            if tag == 0x0112 and kind == 3:  # SHORT, stored in the entry itself
                patched = bytearray(data)
                patched[entry + head : entry + head + 2] = struct.pack(endian + "H", 1)
                return bytes(patched)
    except struct.error:
        pass
    return data


def _orientation(im: Image.Image, data: bytes) -> int:
    """The EXIF orientation (1..8) of an opened image; 1 when absent or unreadable."""
    if im.format == "PNG" and not any(key in data for key in _PNG_EXIF_KEYS):
        return 1  # Pillow's getexif would otherwise decode the whole PNG to look for the chunk
    try:
        value = im.getexif().get(0x0112, 1)
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError, struct.error) as exc:
        log.warning("ignoring unreadable EXIF data (%s)", exc)  # a bad tag must not lose a good image
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation to an (H, W) or (H, W, C) array, as `ImageOps.exif_transpose` does."""
    if orientation == 2:
        return a[:, ::-1]
    if orientation == 3:
        return a[::-1, ::-1]
    if orientation == 4:
        return a[::-1]
    if orientation == 5:
        return a.swapaxes(0, 1)
    if orientation == 6:
        return a[::-1].swapaxes(0, 1)  # 90 degrees clockwise
    if orientation == 7:
        return a[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return a[:, ::-1].swapaxes(0, 1)  # 90 degrees counter-clockwise
    return a


def _to_8bit(a: np.ndarray) -> np.ndarray:
    """uint16 -> uint8 as round(v / 257), in integers."""
    return ((a.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _unidentified(data: bytes, name: str) -> ImageError:
    """The error for data Pillow did not recognise, naming what it seems to be."""
    head = data[:1024]
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"):
            return UnsupportedImage(
                f"{name}: HEIC is not supported; convert to PNG or JPEG "
                "(on an iPhone: Settings > Camera > Formats > Most Compatible)"
            )
        if brand in (b"avif", b"avis"):
            return UnsupportedImage(f"{name}: AVIF is not supported by this installation; convert to PNG or JPEG")
        if brand == b"crx ":
            return UnsupportedImage(f"{name}: camera RAW (CR3) is not supported; export it to PNG, TIFF or JPEG")
        return UnsupportedImage(f"{name}: not a recognised image (it looks like a video); convert to PNG or JPEG")
    if head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")) or (
        head.startswith(b"RIFF") and head[8:12] == b"WEBP"
    ):
        return ImageError(f"{name}: the image data is truncated or corrupt (the header cannot be decoded)")
    if head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL ")):
        return UnsupportedImage(f"{name}: JPEG XL is not supported; convert to PNG or JPEG")
    text = head.lstrip().lower()
    if text.startswith(b"%pdf"):
        what = "a PDF document"
    elif text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        what = "an SVG vector drawing; export it as PNG"
    elif text.startswith((b"<!doctype html", b"<html", b"<head")) or b"<html" in text:
        what = "an HTML web page, perhaps saved from a browser under an image name"
    elif head.startswith(b"PK\x03\x04"):
        what = "a ZIP archive"
    elif _looks_like_text(head):
        what = "a text file"
    else:
        what = "data in an unknown format"
    return UnsupportedImage(f"{name}: not a recognised image (it looks like {what}); convert to PNG or JPEG")


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # a multi-byte character cut at the end of the sample
    return True


# ---------------------------------------------------------------------------------------- writing


def write_image(
    path: Path,
    rgb: np.ndarray,
    *,
    alpha: np.ndarray | None = None,
    bit_depth: int = 8,
    quality: int = 95,
    make_parents: bool = True,
) -> Path:
    """Write `rgb` atomically, in the format its suffix names; return the path written.

    `rgb` is (H, W, 3) uint8, or uint16 when `bit_depth` is 16 (uint8 is then scaled by 257).
    `alpha` (H, W) uint8/uint16 is kept by PNG, WebP and TIFF and dropped (with a warning) by JPEG
    and BMP. 16 bits are written by PNG and TIFF; other formats fall back to 8 (with a warning).
    `quality` (1..100) applies to JPEG and WebP. `make_parents=False`: a missing folder is an
    error, not created. Raises `ValueError` for bad arguments or an unknown suffix, `ImageError`
    (caused by the OSError) when the file cannot be written (the destination is then untouched).
    """
    path = Path(path)
    fmt = _WRITERS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: cannot write {path.suffix or 'files without a suffix'!r}: "
                         f"use one of {', '.join(sorted(_WRITERS))}")
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality}")
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or 0 in rgb.shape:
        raise ValueError(f"rgb must be an (H, W, 3) array, got {getattr(rgb, 'shape', type(rgb))}")
    if rgb.dtype not in (np.uint8, np.uint16) or (rgb.dtype == np.uint16 and bit_depth != 16):
        raise ValueError(f"rgb must be uint8 (or uint16 with bit_depth=16), got {rgb.dtype} with bit_depth={bit_depth}")
    if alpha is not None and (
        not isinstance(alpha, np.ndarray) or alpha.shape != rgb.shape[:2] or alpha.dtype not in (np.uint8, np.uint16)
    ):
        raise ValueError(f"alpha must be an {rgb.shape[:2]} uint8/uint16 array, got "
                         f"{getattr(alpha, 'shape', type(alpha))} {getattr(alpha, 'dtype', '')}")
    if alpha is not None and fmt not in _ALPHA_FORMATS:
        log.warning("%s: %s has no alpha channel; transparency dropped", path, fmt)
        alpha = None
    if bit_depth == 16 and fmt not in _16BIT_FORMATS:
        log.warning("%s: %s has no 16-bit mode; written at 8 bits", path, fmt)
        bit_depth = 8
    try:
        if bit_depth == 16:
            data = _encode_16bit(path.suffix.lower(), _to_16bit(rgb), None if alpha is None else _to_16bit(alpha))
        else:
            rgb8 = rgb if rgb.dtype == np.uint8 else _to_8bit(rgb)
            if alpha is not None:
                alpha8 = alpha if alpha.dtype == np.uint8 else _to_8bit(alpha)
                rgb8 = np.dstack([rgb8, alpha8])
            buf = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(rgb8)).save(buf, format=fmt, **_save_options(fmt, quality, alpha is not None))
            data = buf.getvalue()
        # Encoded in memory first: the temporary file exists only for the moment of the write.
        write_bytes_atomic(path, data, make_parents=make_parents)
    except (OSError, ValueError, cv2.error) as exc:
        raise ImageError(f"{path}: could not write the image ({exc})") from exc
    return path


def write_like(path: Path, rgb: np.ndarray, like: LoadedImage, quality: int = 95, *, make_parents: bool = True) -> Path:
    """Write the model's output `rgb` ((H, W, 3) uint8) with `like`'s alpha and bit depth.

    The output must have `like`'s size (alpha is never resized): `ValueError` otherwise.
    """
    if rgb.shape[:2] != like.rgb.shape[:2]:
        source = like.path if like.path is not None else "the source"
        raise ValueError(
            f"the output is {rgb.shape[1]}x{rgb.shape[0]} but {source} is {like.size[0]}x{like.size[1]}; "
            "resize the output to the source's size before writing it"
        )
    if rgb.dtype != np.uint8:
        raise ValueError(f"rgb must be uint8 (the model's output), got {rgb.dtype}")
    return write_image(path, rgb, alpha=like.alpha, bit_depth=like.bit_depth, quality=quality, make_parents=make_parents)


def _to_16bit(a: np.ndarray) -> np.ndarray:
    return a if a.dtype == np.uint16 else a.astype(np.uint16) * 257


def _encode_16bit(suffix: str, rgb16: np.ndarray, alpha16: np.ndarray | None) -> bytes:
    """Encode with OpenCV (BGR(A) channel order), which writes 16-bit colour PNG and TIFF."""
    bgr = rgb16[..., ::-1] if alpha16 is None else np.dstack([rgb16[..., ::-1], alpha16])
    ok, buf = cv2.imencode(suffix, np.ascontiguousarray(bgr))
    if not ok:
        raise ValueError(f"OpenCV could not encode a 16-bit {suffix} image")
    return bytes(buf.tobytes())


def _save_options(fmt: str, quality: int, has_alpha: bool) -> dict[str, Any]:
    if fmt == "JPEG":  # no chroma subsampling at high quality: translated images have fine colour detail
        return {"quality": quality, "subsampling": 0 if quality >= 90 else 2}
    if fmt == "WEBP":  # exact: keep the colour under fully transparent pixels, as the source had it
        return {"quality": quality, "exact": has_alpha}
    if fmt == "TIFF":
        return {"compression": "tiff_lzw"}
    return {}


# ---------------------------------------------------------------------------------------- tensors


_ROWS = 256  # rows converted at a time: temporaries stay small on gigapixel images


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> float32 (1, 3, H, W) in [-1, 1], as the reference normalises: x/255*2-1.

    Converted a band of rows at a time, so the only full-size allocation is the result."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 array, got {getattr(rgb, 'shape', type(rgb))} "
                         f"{getattr(rgb, 'dtype', '')}")
    h, w, _ = rgb.shape
    out = torch.empty((1, 3, h, w), dtype=torch.float32)
    for r in range(0, h, _ROWS):
        band = torch.from_numpy(np.require(rgb[r : r + _ROWS], requirements=["C", "W"])).permute(2, 0, 1)
        out[0, :, r : r + _ROWS] = band.float().div(255).mul(2).sub(1)
    return out


def to_uint8(t: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) or (3, H, W) float in [-1, 1] -> (H, W, 3) uint8, rounded and clipped.

    Converted a band of rows at a time, so the only full-size allocation is the result."""
    if t.ndim == 4 and t.shape[0] == 1:
        t = t[0]
    if t.ndim != 3 or t.shape[0] != 3:
        raise ValueError(f"expected a (1, 3, H, W) or (3, H, W) tensor, got {tuple(t.shape)}")
    h, w = int(t.shape[1]), int(t.shape[2])
    out = np.empty((h, w, 3), dtype=np.uint8)
    for r in range(0, h, _ROWS):
        y = t[:, r : r + _ROWS].detach().to("cpu", torch.float32)
        out[r : r + _ROWS] = ((y + 1) / 2 * 255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    return out
