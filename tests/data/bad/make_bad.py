"""Writes the bad-input corpus: files a user may drop on the tool that are broken, odd or hostile.

Run `python tests/data/bad/make_bad.py` to (re)write the committed files next to this script; the
output is deterministic (the same bytes on every run with the same Pillow). The good files are
real photos from scikit-image, resized to 64–96 px so the corpus stays small (about 100 kB).

Some cases cannot live in git — a symbolic link loop, a file without read permission, a folder
named like an image — so the tests make them at run time (`make_corpus`, `add_runtime_cases`).
`REASONS` holds what the tool must say about each bad file; tests/engine/test_bad_input.py and
tests/gui/test_bad_input_gui.py check it.

| file | what it is | the right behaviour |
|---|---|---|
| astronaut.png | a plain RGB photo | translated |
| chelsea photo é 🐱.jpg | a name with spaces, an accent and an emoji | translated |
| grey16.png | 16-bit greyscale PNG | translated, written back at 16 bits |
| cmyk.jpg | CMYK JPEG | translated (converted to RGB) |
| palette_alpha.png | palette PNG with a transparent colour | translated, transparency kept |
| animated.gif | a 3-frame animated GIF | its first frame translated (a warning says so), written as .png |
| rotated_exif6.jpg | stored 80×60 with EXIF orientation 6 | translated upright: 60×80 |
| tiny_1x1.png | a 1×1 image | translated, 1×1 |
| strip_3x5000.png | a 3×5000 image | translated, 3×5000 |
| empty.png | zero bytes | refused: empty |
| truncated_jpeg.jpg | the first half of a JPEG | refused: truncated |
| truncated_png.png | the first half of a PNG | refused: truncated |
| webpage.jpg | an HTML page under an image name | refused: an HTML page |
| notes.png | a text file under an image name | refused: a text file |
| bomb.png | a 69-byte PNG whose header claims 100000×100000 pixels | refused from its header, at once |
| loop.png (run time) | a symbolic link pointing to itself | refused: a symbolic link loop |
| locked.png (run time) | a photo without read permission | refused: permission denied (not as root) |
| folder.png/ (run time) | a folder named like an image | refused: a folder |
"""
from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent

# name -> (width, height) of the translated output: the image as shown (upright), first frame.
GOOD: dict[str, tuple[int, int]] = {
    "astronaut.png": (96, 96),
    "chelsea photo é 🐱.jpg": (96, 64),
    "grey16.png": (64, 64),
    "cmyk.jpg": (80, 60),
    "palette_alpha.png": (72, 72),
    "animated.gif": (64, 48),
    "rotated_exif6.jpg": (60, 80),
    "tiny_1x1.png": (1, 1),
    "strip_3x5000.png": (3, 5000),
}
BAD_COMMITTED = ("empty.png", "truncated_jpeg.jpg", "truncated_png.png", "webpage.jpg", "notes.png", "bomb.png")
BOMB_SIDE = 100_000

# What the tool says about each bad file: a pattern for its message after "<path>: " (the tests
# check every bad file gets exactly this reason).
REASONS: dict[str, str] = {
    "empty.png": r"the file is empty \(0 bytes\)",
    "truncated_jpeg.jpg": r"the image data is truncated or corrupt \(image file is truncated",
    "truncated_png.png": r"the image data is truncated or corrupt \(image file is truncated",
    "webpage.jpg": r"not a recognised image \(it looks like an HTML web page",
    "notes.png": r"not a recognised image \(it looks like a text file\)",
    "bomb.png": r"the file claims 100000x100000 pixels, more than the limit allows: decoding it would need about "
                r"[\d,.]+ GB of memory, and one image may use 6 GB \(a guard against decompression bombs\); refused "
                r"without decoding it; downscale it first",
    "loop.png": r"is a symbolic link loop",
    "folder.png": r"is a folder, not an image file",
    "locked.png": r"cannot read it: permission denied",
}


def _photo(name: str, size: tuple[int, int]) -> Image.Image:
    from skimage import data

    rgb: np.ndarray = getattr(data, name)()
    return Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS)


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _jpeg(im: Image.Image, **options: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=90, **options)
    return buf.getvalue()


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def bomb_png(side: int = BOMB_SIDE) -> bytes:
    """A valid-looking PNG whose header claims side×side RGB pixels (30 GB for 100000), with one
    compressed row of data: a decoder that trusts the header allocates the whole image first."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    row = zlib.compress(b"\x00" * (1 + 3 * min(side, 64)), 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", row) + _chunk(b"IEND", b"")


def committed_files() -> dict[str, bytes]:
    """Every committed file of the corpus, by name."""
    files: dict[str, bytes] = {}
    files["astronaut.png"] = _png(_photo("astronaut", (96, 96)))
    files["chelsea photo é 🐱.jpg"] = _jpeg(_photo("chelsea", (96, 64)))
    grey = np.asarray(_photo("camera", (64, 64)).convert("L"), np.uint16) * 257  # full 16-bit range
    grey[::2, ::2] += 100  # values an 8-bit image cannot hold
    files["grey16.png"] = _png(Image.fromarray(grey))  # mode I;16: a 16-bit greyscale PNG
    files["cmyk.jpg"] = _jpeg(_photo("coffee", (80, 60)).convert("CMYK"))
    palette = _photo("chelsea", (72, 72)).quantize(32, dither=Image.Dither.NONE)
    buf = io.BytesIO()
    palette.save(buf, format="PNG", transparency=0)  # colour 0 transparent: a tRNS chunk
    files["palette_alpha.png"] = buf.getvalue()
    base = _photo("astronaut", (64, 48))
    frames = [Image.fromarray(np.roll(np.asarray(base), 16 * i, axis=1)).quantize(64) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    files["animated.gif"] = buf.getvalue()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90° clockwise
    files["rotated_exif6.jpg"] = _jpeg(_photo("coffee", (80, 60)), exif=exif.tobytes())
    files["tiny_1x1.png"] = _png(_photo("chelsea", (1, 1)))
    files["strip_3x5000.png"] = _png(_photo("astronaut", (3, 5000)))
    files["empty.png"] = b""
    whole_jpeg = _jpeg(_photo("chelsea", (96, 64)))
    files["truncated_jpeg.jpg"] = whole_jpeg[: len(whole_jpeg) // 2]
    whole_png = _png(_photo("coffee", (96, 64)))
    files["truncated_png.png"] = whole_png[: len(whole_png) // 2]
    files["webpage.jpg"] = (
        b"<!DOCTYPE html>\n<html><head><title>cat.jpg (96\xc3\x9764)</title></head>\n"
        b"<body><img src=\"https://example.org/cat.jpg\"></body></html>\n"
    )
    files["notes.png"] = "Shot list\n- the cat, in the morning light\n- coffee, close up\n".encode()
    files["bomb.png"] = bomb_png()
    assert set(files) == set(GOOD) | set(BAD_COMMITTED)
    return files


def write_committed(folder: Path = HERE) -> list[Path]:
    """Write the committed files into `folder`; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in sorted(committed_files().items()):
        (folder / name).write_bytes(data)
        written.append(folder / name)
    return written


def make_symlink_loop(folder: Path, name: str = "loop.png") -> Path:
    """`name` as a symbolic link to itself: opening it fails with ELOOP."""
    link = folder / name
    os.symlink(name, link)
    return link


def make_unreadable(folder: Path, name: str = "locked.png") -> Path:
    """A good photo with no permissions at all (only unreadable when not running as root)."""
    path = folder / name
    path.write_bytes(_png(_photo("coffee", (64, 64))))
    path.chmod(0)
    return path


def make_folder_named_like_an_image(folder: Path, name: str = "folder.png") -> Path:
    """A folder whose name ends in an image suffix (empty: git could not keep it)."""
    path = folder / name
    path.mkdir()
    return path


def add_runtime_cases(folder: Path, *, unreadable: bool = True) -> dict[str, Path]:
    """The cases git cannot hold, made in `folder`, by name. `unreadable=False` leaves out the
    file without read permission (pass `os.geteuid() != 0`: root reads it all the same)."""
    made = {"loop.png": make_symlink_loop(folder), "folder.png": make_folder_named_like_an_image(folder)}
    if unreadable:
        made["locked.png"] = make_unreadable(folder)
    return made


def make_corpus(folder: Path, *, unreadable: bool = True) -> Path:
    """The whole corpus in `folder`: the committed files (copied from this script's folder;
    written afresh if some are missing there) plus the run-time cases."""
    folder.mkdir(parents=True, exist_ok=True)
    names = sorted(set(GOOD) | set(BAD_COMMITTED))
    if all((HERE / name).is_file() for name in names):
        for name in names:
            (folder / name).write_bytes((HERE / name).read_bytes())
    else:
        write_committed(folder)
    add_runtime_cases(folder, unreadable=unreadable)
    return folder


if __name__ == "__main__":
    for path in write_committed():
        print(f"{path.stat().st_size:>7}  {path.name}")
