"""Every image read and write of the engine, and the conversion between files and tensors.

Reading turns whatever a user drops in (grey, RGB, RGBA, palette, CMYK, 16-bit PNG/TIFF, photos
with an EXIF orientation) into one shape the model understands: `(H, W, 3) uint8` RGB, upright.
What the model does not see is kept aside in `LoadedImage` — the alpha channel and the bit
depth — so `write_like` can put it back on the model's output. Writing is atomic (temporary file +
rename, see `translator._fs`), so a viewer or a folder job never sees half an image.

Shortcuts, and what they give up:
- ICC profiles and other metadata are neither applied nor carried to the output. What the tool
  writes instead is its own record of the settings (`settings=`, `translator.provenance`): in
  PNG, JPEG, WebP and 8-bit TIFF; 16-bit TIFF and BMP are written without it.
- 16-bit PNG/TIFF are decoded and encoded with OpenCV (Pillow has no 16-bit RGB mode). A 16-bit
  RGBA TIFF written this way lacks the ExtraSamples tag: Pillow and OpenCV read its 4th channel
  as alpha, some other programs may show it as an extra channel.
- The model works at 8 bits per channel; a 16-bit source is written back at 16 bits, but the
  extra precision of the colour (not of the alpha) is lost.
- An animation (GIF, APNG, animated WebP) or a multi-page TIFF is read as its first frame; a
  warning in the log says how many frames were left out. A GIF's output is written as PNG.

Memory: one image may take at most `MAX_IMAGE_BYTES` (6 GB) while it is decoded and made the
model's float32 tensor (`memory_needed`): 64 MB, the file's bytes, and 24 bytes a pixel (24 MB a
megapixel) at 8 bits per channel, 32 at 16. A pixel holds the decoder's buffer (up to 4 bytes;
OpenCV's 16-bit PNG reader two of 8), RGB (3), alpha (1), the tensor (12), a 16-bit image's colour
(6) and alpha (2) besides, and what the allocator keeps after decoding. Measured peaks: 16-17
bytes a pixel at 8 bits and 24-26 at 16 on 64-megapixel images, up to 23 and 31 on 16-megapixel
ones, 20-50 MB for one megapixel (tests/engine/test_decode_bombs.py checks 8-megapixel ones).
Every reader checks the header against it before a pixel is decoded and refuses what exceeds it
(`UnsupportedImage`, "downscale it first"): at most 247 megapixels at 8 bits, 185 at 16. That is
also all a decompression bomb (a small file claiming a huge size) can take. Pixels are converted
and oriented a band of rows at a time into the arrays that are kept: no full-size temporary.
"""
from __future__ import annotations

import errno
import io
import logging
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps, TiffImagePlugin, UnidentifiedImageError

from translator._fs import is_partial_file, open_regular, write_bytes_atomic
from translator.choices import FORMAT_SUFFIXES
from translator.errors import ImageError, TranslatorError, UnsupportedImage
from translator.provenance import Provenance, png_with_settings, xmp_packet

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

# The memory one image may take while it is decoded and made the model's tensor, and what that
# takes (see the module docstring): a pixel at 8 and 16 bits per channel, and the allocator's
# rounding and caches, which weigh on images of a few megapixels.
MAX_IMAGE_BYTES = 6_000_000_000
_BYTES_PER_PIXEL = {8: 24, 16: 32}
_OVERHEAD_BYTES = 64 * 2**20
# No image of more pixels fits: 247 MP, so a 200 MP panorama or medium-format photo reads. Pillow's
# own default (~89 MP warns, ~179 MP refuses) would trip on those; at this limit its check never
# fires before ours (`_open` refuses a larger claim before Pillow sees it): it guards other callers.
MAX_PIXELS = (MAX_IMAGE_BYTES - _OVERHEAD_BYTES) // _BYTES_PER_PIXEL[8]
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


def _open_regular(path: Path) -> IO[bytes]:
    """`path` opened for reading if it is a regular file (`translator._fs.open_regular`)."""
    return os.fdopen(open_regular(path, "an image file", ImageError), "rb")


def _read_all(path: Path) -> bytes:
    with _open_regular(path) as f:
        return f.read()


def read_image(path: Path) -> LoadedImage:
    """Read and fully decode an image file; never modifies it.

    Raises `ImageError` (missing, unreadable, empty, truncated or corrupt file) or its subclass
    `UnsupportedImage` (not an image, or a format or mode this tool cannot handle). Every message
    starts with the path.
    """
    path = Path(path)
    try:
        data = _read_all(path)
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
    try:
        with _open_regular(path) as f:
            head = f.read(64 * 1024)  # enough to tell what the file is
            with _open(f, head, os.fstat(f.fileno()).st_size, str(path), path) as im:
                return im.size
    except OSError as exc:
        raise _read_error(path, exc) from exc


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
    `read_image`, so orientation, modes and errors are the same. What `read_image` refuses from the
    header (too large for memory, forged) is refused here too, before anything is decoded.
    """
    path = Path(path)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        try:
            data = _read_all(path)
            with _open(io.BytesIO(data), data, len(data), str(path), path) as f:
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
    try:
        with _open(io.BytesIO(data), data, len(data), name, None) as im:
            _check_enough_data(im, data, name)
            if _is_16bit(im, data) and im.mode in _CV2_MODES:
                loaded = _decode_16bit(data, name, path, im)
                if loaded is not None:
                    return loaded
            return _decode_pillow(im, data, name, path)
    except Image.DecompressionBombError as exc:  # Pillow's check of a GIF's disposal area or a TIFF tile
        raise _too_large(name, None, 8, len(data)) from exc
    except MemoryError as exc:
        raise ImageError(f"{name}: not enough memory to decode this image; close other programs or "
                         "downscale it first") from exc


def _open(fp: IO[bytes], head: bytes, file_bytes: int, name: str, path: Path | None) -> Image.Image:
    """Open an image from its header (Pillow decodes nothing yet), refusing one too large to decode.

    `head` is the file's start (to name what an unrecognised file is), `file_bytes` its size. The
    size the header claims is checked before `Image.open`, which would warn about (or refuse) a huge
    one in its own words; then the memory its mode needs (`_check_memory`). Raises `ImageError`.
    """
    if not head:
        raise ImageError(f"{name}: the file is empty (0 bytes)")
    claimed = _claimed_size(fp)
    if claimed is not None:
        _check_memory(name, claimed, 8, file_bytes)  # the least any image needs a pixel
    fp.seek(0)
    try:
        im = Image.open(fp)  # reads the header only
    except UnidentifiedImageError as exc:
        raise _unidentified(head, name) from exc
    except Image.DecompressionBombError as exc:  # a GIF frame larger than its screen: no size to tell
        raise _too_large(name, None, 8, file_bytes) from exc
    except (SyntaxError, ValueError, EOFError, IndexError, struct.error) as exc:
        raise ImageError(f"{name}: the image data is truncated or corrupt ({exc})") from exc
    except OSError as exc:
        if exc.errno is None or path is None:  # raised by Pillow, about the data
            raise ImageError(f"{name}: the image data is truncated or corrupt ({exc})") from exc
        raise _read_error(path, exc) from exc
    try:
        _check_memory(name, im.size, 16 if _is_16bit(im, head) or im.mode.startswith("I") else 8, file_bytes)
    except ImageError:
        im.close()
        raise
    return im


def memory_needed(width: int, height: int, bit_depth: int = 8, file_bytes: int = 0) -> int:
    """Bytes that reading an image of this size and depth and making its tensor takes at most
    (`read_image` + `to_tensor`, the file's bytes included); what `MAX_IMAGE_BYTES` bounds."""
    if bit_depth not in _BYTES_PER_PIXEL:
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    return _OVERHEAD_BYTES + file_bytes + width * height * _BYTES_PER_PIXEL[bit_depth]


def _check_memory(name: str, size: tuple[int, int], bit_depth: int, file_bytes: int) -> None:
    """Refuse an image whose decoding would need more than `MAX_IMAGE_BYTES`."""
    if memory_needed(*size, bit_depth, file_bytes) > MAX_IMAGE_BYTES:
        raise _too_large(name, size, bit_depth, file_bytes)


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


def _too_large(name: str, size: tuple[int, int] | None, bit_depth: int, file_bytes: int) -> UnsupportedImage:
    """The error for an image too large to decode: its size, the memory it needs and the limit."""
    depth = " at 16 bits per channel" if bit_depth == 16 else ""
    claim = "too many pixels" if size is None else f"{size[0]}x{size[1]} pixels{depth}"
    need = "" if size is None else (
        f": decoding it would need about {memory_needed(*size, bit_depth, file_bytes) / 1e9:,.1f} GB of memory, "
        f"and one image may use {MAX_IMAGE_BYTES / 1e9:g} GB")
    most = f"{(MAX_IMAGE_BYTES - _OVERHEAD_BYTES - file_bytes) // _BYTES_PER_PIXEL[bit_depth] // 10**6:,} megapixels{depth}"
    return UnsupportedImage(f"{name}: the file claims {claim}, more than the limit allows{need} (a guard against "
                            f"decompression bombs); refused without decoding it; downscale it first (to at most {most})")


def _claimed_size(fp: IO[bytes]) -> tuple[int, int] | None:
    """The (width, height) an image's header claims, read by Pillow's format plugins directly
    (`Image.open` would warn about or refuse a huge one before telling its size); None when none can tell."""
    Image.init()
    fp.seek(0)
    prefix = fp.read(30)
    if prefix[:4] == b"RIFF" and prefix[8:12] == b"WEBP":
        return _webp_size(prefix)
    for fmt in Image.ID:
        factory, accept = Image.OPEN[fmt]
        try:
            if accept is not None and not accept(prefix[:16]):
                continue
            fp.seek(0)
            with factory(fp, "") as im:  # reads the header only
                return im.size
        except Image.DecompressionBombError:  # a GIF checks its first frame's size while opening
            return None
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError, struct.error):
            continue  # not this format (Pillow's ways of saying so, as `Image.open` catches them)
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    """The canvas size a WebP's first chunk declares; None if it declares none. Read here, as
    Pillow's WebP reader allocates the whole canvas (8 bytes a pixel) when it opens a file."""
    chunk = head[12:16]
    if chunk == b"VP8X" and len(head) >= 30:  # extended: the canvas, 24 bits a side
        return 1 + int.from_bytes(head[24:27], "little"), 1 + int.from_bytes(head[27:30], "little")
    if chunk == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:  # lossless: 14 bits a side
        bits = int.from_bytes(head[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + (bits >> 14 & 0x3FFF)
    if chunk == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":  # lossy: the key frame's
        return int.from_bytes(head[26:28], "little") & 0x3FFF, int.from_bytes(head[28:30], "little") & 0x3FFF
    return None


def _decode_pillow(im: Image.Image, data: bytes, name: str, path: Path | None) -> LoadedImage:
    """The general path: Pillow decodes (first frame), then the mode is mapped to RGB + alpha."""
    try:
        im.load()  # Pillow is lazy: decode now, so truncation is reported here
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        raise ImageError(f"{name}: the image data is truncated or corrupt ({exc})") from exc
    mode = im.mode
    if mode == "F":
        raise UnsupportedImage(f"{name}: 32-bit floating-point images are not supported; convert to 8- or 16-bit")
    if mode in ("P", "PA", "L", "RGB", "1") and ("transparency" in im.info or mode == "PA"):
        target = "RGBA"
    elif mode in ("P", "CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        target = "RGB"
    elif mode in ("1", "La"):
        target = "LA" if mode == "La" else "L"
    elif mode == "RGBa":
        target = "RGBA"
    else:
        target = mode
    grey16 = target.startswith("I")  # 16-bit (or 32-bit integer) grey: values above 65535 are clipped
    if not grey16 and target not in ("L", "LA", "RGB", "RGBA"):
        raise UnsupportedImage(f"{name}: images in mode {target} are not supported; convert to PNG or JPEG")
    orientation = _orientation(im, data)
    w, h = im.size
    rgb, rgb_src = _upright(h, w, 3, np.uint8, orientation)
    rgb16, rgb16_src = _upright(h, w, 3, np.uint16, orientation) if grey16 else (None, None)
    alpha, alpha_src = _upright(h, w, 0, np.uint8, orientation) if target in ("LA", "RGBA") else (None, None)
    for rows in _bands(h, w):
        band = im.crop((0, rows.start, w, rows.stop))
        if target != mode:
            try:
                band = band.convert(target)
            except ValueError as exc:
                raise UnsupportedImage(f"{name}: images in mode {mode} are not supported ({exc}); "
                                       "convert to PNG or JPEG") from exc
        a = np.asarray(band)
        if rgb16_src is not None:
            g = np.clip(a, 0, 65535).astype(np.uint16)[..., None]  # astype: also to native byte order
            rgb16_src[rows], rgb_src[rows] = g, _to_8bit(g)
        elif a.ndim == 2:  # L
            rgb_src[rows] = a[..., None]
        else:  # LA, RGB, RGBA: the colour, then the alpha last
            rgb_src[rows] = a[..., :-1] if alpha_src is not None else a
        if alpha_src is not None:
            alpha_src[rows] = a[..., -1]
    # Last: counting frames seeks through them, and a damaged one can leave `im` at another frame.
    _warn_if_animated(im, name)
    return _loaded(rgb, alpha, 16 if grey16 else 8, mode, im.format or "", path, rgb16)


_BAND_PIXELS = 1 << 20  # pixels converted at a time: a conversion's temporaries stay a few MB


def _bands(h: int, w: int) -> Iterator[slice]:
    """Slices of whole rows of about `_BAND_PIXELS` pixels each, covering `h` rows of width `w`."""
    step = max(1, _BAND_PIXELS // max(1, w))
    return (slice(r, min(h, r + step)) for r in range(0, h, step))


def _upright(h: int, w: int, channels: int, dtype: type, orientation: int) -> tuple[np.ndarray, np.ndarray]:
    """An empty array for a stored (`h`, `w`) image made upright, and the same memory seen in the
    stored layout: writing the stored pixels into the second fills the first with them upright, with
    no second full-size copy. `channels` 0 makes (H, W) arrays."""
    size = (w, h) if orientation in (5, 6, 7, 8) else (h, w)
    out: np.ndarray = np.empty(size + ((channels,) if channels else ()), dtype)
    return out, _orient(out, {6: 8, 8: 6}.get(orientation, orientation))  # the others undo themselves


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
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    if channels not in (1, 2, 3, 4):
        return None
    h, w = arr.shape[:2]
    rgb16, rgb16_src = _upright(h, w, 3, np.uint16, orientation)
    rgb, rgb_src = _upright(h, w, 3, np.uint8, orientation)
    alpha, alpha_src = _upright(h, w, 0, np.uint16, orientation) if channels in (2, 4) else (None, None)
    for rows in _bands(h, w):
        band = arr[rows].reshape(rows.stop - rows.start, w, channels)
        colour = band[..., 2::-1] if channels >= 3 else band[..., :1]  # OpenCV is BGR(A)
        rgb16_src[rows], rgb_src[rows] = colour, _to_8bit(colour)
        if alpha_src is not None:
            alpha_src[rows] = band[..., -1]
    mode = {1: "I;16", 2: "LA16", 3: "RGB16", 4: "RGBA16"}[channels]
    return _loaded(rgb, alpha, 16, mode, im.format or "", path, rgb16)


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
    settings: Provenance | None = None,
) -> Path:
    """Write `rgb` atomically, in the format its suffix names; return the path written.

    `rgb` is (H, W, 3) uint8, or uint16 when `bit_depth` is 16 (uint8 is then scaled by 257).
    `alpha` (H, W) uint8/uint16 is kept by PNG, WebP and TIFF and dropped (with a warning) by JPEG
    and BMP. 16 bits are written by PNG and TIFF; other formats fall back to 8 (with a warning).
    `quality` (1..100) applies to JPEG and WebP. `make_parents=False`: a missing folder is an
    error, not created. `settings` are written into the file where the format can hold them (see
    `translator.provenance`; not 16-bit TIFF nor BMP). Raises `ValueError` for bad arguments or an unknown suffix, `ImageError`
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
            if settings is not None and fmt == "TIFF":
                log.debug("%s: a 16-bit TIFF cannot carry the settings; written without", path)
        else:
            rgb8 = rgb if rgb.dtype == np.uint8 else _to_8bit(rgb)
            if alpha is not None:
                alpha8 = alpha if alpha.dtype == np.uint8 else _to_8bit(alpha)
                rgb8 = np.dstack([rgb8, alpha8])
            buf = io.BytesIO()
            options = _save_options(fmt, quality, alpha is not None)
            if settings is not None and fmt in ("JPEG", "WEBP"):
                options["xmp"] = xmp_packet(settings)
            elif settings is not None and fmt == "TIFF":
                options["tiffinfo"] = {700: xmp_packet(settings)}  # the XMP tag
            Image.fromarray(np.ascontiguousarray(rgb8)).save(buf, format=fmt, **options)
            data = buf.getvalue()
        if settings is not None and fmt == "PNG":
            data = png_with_settings(data, settings)
        # Encoded in memory first: the temporary file exists only for the moment of the write.
        write_bytes_atomic(path, data, make_parents=make_parents)
    except (OSError, ValueError, cv2.error) as exc:
        raise ImageError(f"{path}: could not write the image ({exc})") from exc
    return path


def write_like(path: Path, rgb: np.ndarray, like: LoadedImage, quality: int = 95, *, make_parents: bool = True,
               settings: Provenance | None = None) -> Path:
    """Write the model's output `rgb` ((H, W, 3) uint8) with `like`'s alpha and bit depth (and
    `settings`, as `write_image` does).

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
    return write_image(path, rgb, alpha=like.alpha, bit_depth=like.bit_depth, quality=quality, make_parents=make_parents,
                       settings=settings)


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
