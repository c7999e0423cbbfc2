"""Decoding never inflates: every reader checks the size an image's header declares against the
memory one image may take (`imaging.MAX_IMAGE_BYTES`) before it decodes a pixel.

The bombs are made here, not committed: valid files of 30 bytes to a few hundred KB that expand to
hundreds of megapixels (a 1-bit PNG, a lossless WebP, a 16-bit PNG), and small images whose headers
are forged to claim 30000x30000 pixels (TIFF, GIF, BMP, JPEG, PNG). Each is refused by every
reader, naming the file, its size, the memory it needs and the limit; faster than an honest
megapixel decodes, and with the process's peak memory growing by less than 100 MB. A folder job
holding bombs still translates its other image. Honest images stay within the documented need.

Memory is read from /proc (Linux): the peak RSS of the process (VmHWM), reset before each read.
"""
from __future__ import annotations

import io
import json
import os
import re
import struct
import subprocess
import sys
import warnings
import zlib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from translator import imaging
from translator.errors import UnsupportedImage

ROOT = Path(__file__).resolve().parents[2]
MB = 2**20
SIDE = 30_000  # 900 megapixels: under Pillow's and the old 1-gigapixel limit, 14-22 GB to decode

pytestmark = pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="measures memory through /proc")


# ---------------------------------------------------------------------------------------- bombs


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_black(side: int, bits: int) -> bytes:
    """A valid black grey PNG of `side`x`side` pixels at 1 or 16 bits, deflated a row at a time (the
    file is about a thousandth of the raw pixels: deflate's best ratio)."""
    z = zlib.compressobj(9)
    row = bytes(1 + (side * bits + 7) // 8)  # the filter byte, then the row
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, bits, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def webp_black(width: int, height: int) -> bytes:
    """A valid lossless WebP of one colour: with every prefix code of one symbol a pixel takes no
    bits, so 30 bytes hold 16383x16383 pixels (WebP's largest, 268 megapixels)."""
    fields = [(0x2F, 8), (width - 1, 14), (height - 1, 14), (0, 1), (0, 3),  # signature, size, no alpha, version
              (0, 1), (0, 1), (0, 1)]  # no transform, no colour cache, no meta prefix codes
    for symbol in (0, 0, 0, 255, 0):  # green, red, blue, alpha, distance: a simple code of one symbol each
        fields += [(1, 1), (0, 1)] + ([(1, 1), (symbol, 8)] if symbol > 1 else [(0, 1), (symbol, 1)])
    bits = length = 0
    for value, width_bits in fields:  # least significant bit first
        bits |= value << length
        length += width_bits
    payload = bits.to_bytes((length + 7) // 8, "little")
    chunk = b"VP8L" + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) % 2)
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def _small(fmt: str) -> bytes:
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(data.astronaut()).resize((40, 32)).save(buf, format=fmt)
    return buf.getvalue()


def forged(fmt: str, width: int, height: int) -> bytes:
    """A small valid image of `fmt` ("PNG", "JPEG", "TIFF", "GIF", "BMP") whose header claims
    `width` x `height` pixels."""
    d = bytearray(_small(fmt))
    if fmt == "PNG":
        d[16:24] = struct.pack(">II", width, height)
        d[29:33] = struct.pack(">I", zlib.crc32(bytes(d[12:29])))
    elif fmt == "JPEG":
        sof = d.find(b"\xff\xc0")
        d[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    elif fmt == "TIFF":
        ifd = struct.unpack("<I", d[4:8])[0]
        for k in range(struct.unpack("<H", d[ifd : ifd + 2])[0]):
            entry = ifd + 2 + 12 * k
            tag, kind = struct.unpack("<HH", d[entry : entry + 4])
            if tag in (256, 257):  # ImageWidth, ImageLength: SHORT or LONG, in the entry
                d[entry + 8 : entry + 12] = struct.pack("<HH" if kind == 3 else "<I", *(
                    ((width if tag == 256 else height), 0) if kind == 3 else ((width if tag == 256 else height),)))
    elif fmt == "GIF":
        d[6:10] = struct.pack("<HH", width, height)  # the screen
        i = 13 + (3 * 2 ** ((d[10] & 7) + 1) if d[10] & 0x80 else 0)  # after the global colour table
        while d[i] == 0x21:  # extension blocks
            i += 2
            while d[i]:
                i += d[i] + 1
            i += 1
        d[i + 5 : i + 9] = struct.pack("<HH", width, height)  # the first frame
    elif fmt == "BMP":
        d[18:26] = struct.pack("<ii", width, height)
    return bytes(d)


# name -> (file name, bytes, the size it claims, what the message says of its depth)
BOMBS: dict[str, tuple[str, Callable[[], bytes], tuple[int, int], str]] = {
    "1-bit PNG": ("one_bit.png", lambda: png_black(SIDE, 1), (SIDE, SIDE), ""),
    "lossless WebP": ("lossless.webp", lambda: webp_black(16_383, 16_383), (16_383, 16_383), ""),
    "16-bit PNG": ("deep.png", lambda: png_black(14_000, 16), (14_000, 14_000), " at 16 bits per channel"),
    "forged TIFF": ("forged.tif", lambda: forged("TIFF", SIDE, SIDE), (SIDE, SIDE), ""),
    "forged GIF": ("forged.gif", lambda: forged("GIF", SIDE, SIDE), (SIDE, SIDE), ""),
    "forged BMP": ("forged.bmp", lambda: forged("BMP", SIDE, SIDE), (SIDE, SIDE), ""),
    "forged JPEG": ("forged.jpg", lambda: forged("JPEG", SIDE, SIDE), (SIDE, SIDE), ""),
    "forged PNG": ("forged.png", lambda: forged("PNG", SIDE, SIDE), (SIDE, SIDE), ""),
}


@cache
def bomb_bytes(name: str) -> bytes:
    return BOMBS[name][1]()


def test_the_bombs_are_what_they_claim(monkeypatch: pytest.MonkeyPatch) -> None:
    """The valid bombs decode when small (the hand-made WebP and PNG streams are honest images) and
    every forged header says what it claims, as Pillow reads it when no limit stops it."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    for data, mode in ((webp_black(300, 200), "RGB"), (png_black(300, 1), "1"), (png_black(300, 16), "I;16")):
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            assert im.mode == mode and im.size in ((300, 200), (300, 300)) and not np.asarray(im).any()
    for fmt in ("PNG", "JPEG", "TIFF", "GIF", "BMP"):
        with Image.open(io.BytesIO(forged(fmt, SIDE, SIDE))) as im:
            assert im.size == (SIDE, SIDE), fmt
    sizes = {name: len(bomb_bytes(name)) for name in BOMBS}
    assert max(sizes.values()) < 400_000, sizes  # a few hundred KB at most; the WebP is 30 bytes


# ------------------------------------------------------------------------------ refused, at once

# Reads each file with every reader in a fresh-looking process: before each, the peak RSS is reset
# (clear_refs 5). An address-space limit of 1 GiB more than the process has stops a decoder that
# would inflate a bomb before it takes the machine's memory (it then fails on its own terms).
_READ_ALL = """
import json, resource, sys, time
from translator import imaging
from translator.errors import ImageError

def status(key):
    return int(open("/proc/self/status").read().split(key + ":")[1].split()[0]) * 1024

resource.setrlimit(resource.RLIMIT_AS, (status("VmSize") + 2**30, resource.RLIM_INFINITY))
honest, *bombs = sys.argv[1:]
imaging.read_image(honest)  # every format's reader loaded, as in a folder job
honest_s = float("inf")
for _ in range(3):
    start = time.perf_counter()
    imaging.read_image(honest)
    honest_s = min(honest_s, time.perf_counter() - start)
for path in bombs:
    for reader in ("read_image", "probe_image", "read_thumbnail"):
        open("/proc/self/clear_refs", "w").write("5")
        rss, start = status("VmRSS"), time.perf_counter()
        try:
            getattr(imaging, reader)(path)
            outcome = "read"
        except (ImageError, MemoryError) as exc:
            outcome = f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - start
        print(json.dumps({"path": path, "reader": reader, "outcome": outcome, "seconds": seconds,
                          "honest_s": honest_s, "growth": status("VmHWM") - rss}))
"""


@pytest.fixture(scope="module")
def refusals(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict[str, Any]]:
    """Every bomb read by every reader: (bomb, reader) -> outcome, seconds, peak RSS growth."""
    folder = tmp_path_factory.mktemp("bombs")
    honest = folder / "honest.png"  # one megapixel
    from skimage import data

    Image.fromarray(data.astronaut()).resize((1000, 1000)).save(honest)
    paths = {}
    for name, (file_name, _, _, _) in BOMBS.items():
        paths[str(folder / file_name)] = name
        (folder / file_name).write_bytes(bomb_bytes(name))
    run = subprocess.run([sys.executable, "-c", _READ_ALL, str(honest), *paths], capture_output=True, text=True,
                         timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    results = [json.loads(line) for line in run.stdout.splitlines()]
    return {(paths[r["path"]], r["reader"]): r for r in results}


@pytest.mark.parametrize("reader", ["read_image", "probe_image", "read_thumbnail"])
@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_a_bomb_is_refused_from_its_header_naming_its_size_and_memory(
    refusals: dict[tuple[str, str], dict[str, Any]], bomb: str, reader: str
) -> None:
    """Every format's declared size (and depth) is checked before decoding: the bomb is refused by
    the tool's own message, without the process's memory growing by its pixels, and quicker than
    an honest megapixel decodes."""
    r = refusals[bomb, reader]
    (w, h), depth = BOMBS[bomb][2], BOMBS[bomb][3]
    limit = rf"{'18' if depth else '24'}\d megapixels{depth}"
    assert re.fullmatch(
        rf"UnsupportedImage: {re.escape(r['path'])}: the file claims {w}x{h} pixels{depth}, more than the limit "
        rf"allows: decoding it would need about [\d.,]+ GB of memory, and one image may use 6 GB \(a guard against "
        rf"decompression bombs\); refused without decoding it; downscale it first \(to at most {limit}\)",
        r["outcome"]), r["outcome"]
    assert r["growth"] < 100 * MB, f"the peak RSS grew by {r['growth'] / MB:.0f} MB"
    assert r["seconds"] < 2 * r["honest_s"], r  # decoding the bomb would take tens of seconds


def test_pillow_never_warns_about_a_size_the_tool_refuses(tmp_path: Path) -> None:
    """Pillow's DecompressionBombWarning (over its limit) and error (over twice its limit) come
    from `Image.open`: the tool refuses such a size from the header before, in its own words."""
    cases = {
        "over_the_limit.png": (forged("PNG", 20_000, 15_000), "claims 20000x15000 pixels, more than the limit allows"),
        "over_twice.png": (forged("PNG", 40_000, 30_000), "claims 40000x30000 pixels, more than the limit allows"),
        # a small screen holding a frame over twice Pillow's limit: only Pillow can tell its size
        "frame.gif": (_gif_with_frame(40_000, 30_000), "claims too many pixels"),
    }
    for name, (data, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        for read in (imaging.read_image, imaging.probe_image, imaging.read_thumbnail):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                with pytest.raises(UnsupportedImage) as exc:
                    read(path)
            assert str(exc.value).startswith(f"{path}: the file {expected}"), str(exc.value)
            assert "downscale it first" in str(exc.value)
            assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)], name


def _gif_with_frame(width: int, height: int) -> bytes:
    """A 40x32 GIF whose first frame claims `width` x `height` pixels (the screen is left small)."""
    whole = forged("GIF", width, height)
    return whole[:6] + _small("GIF")[6:10] + whole[10:]


# ------------------------------------------------------------------------------ in a folder job

_JOB = """
import resource, sys
import torch  # noqa: F401  (mapped before the limit below)
from translator import cli, inference  # noqa: F401

def status(key):
    return int(open("/proc/self/status").read().split(key + ":")[1].split()[0]) * 1024

resource.setrlimit(resource.RLIMIT_AS, (status("VmSize") + 2 * 2**30, resource.RLIM_INFINITY))
open("/proc/self/clear_refs", "w").write("5")
rss = status("VmRSS")
code = cli.main(sys.argv[1:])
print(f"peak growth {status('VmHWM') - rss}", file=sys.stderr)
sys.exit(code)
"""


def test_a_folder_job_translates_the_good_image_and_names_each_bomb(tmp_path: Path, tiny_pix2pix: Path) -> None:
    """`translator translate` on a folder of one honest photo and two valid bombs (900 and 268
    megapixels in 110 KB and 30 bytes) writes the photo, lists each bomb with its reason and exits
    1, without its memory growing by what the bombs claim."""
    from skimage import data

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    Image.fromarray(data.astronaut()).resize((64, 64)).save(src / "photo.png")
    (src / "one_bit.png").write_bytes(bomb_bytes("1-bit PNG"))
    (src / "lossless.webp").write_bytes(bomb_bytes("lossless WebP"))
    run = subprocess.run(
        [sys.executable, "-c", _JOB, "translate", str(src), "-o", str(out), "--model", str(tiny_pix2pix),
         "--device", "cpu", "-q"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "written 1, skipped 0 (already done), failed 2" in run.stdout, run.stdout
    for name, claim in (("one_bit.png", f"{SIDE}x{SIDE}"), ("lossless.webp", "16383x16383")):
        line = [x for x in run.stdout.splitlines() if f"{src / name}: " in x]
        assert len(line) == 1 and f"the file claims {claim} pixels, more than the limit allows" in line[0], run.stdout
    assert "Traceback" not in run.stderr
    assert imaging.read_image(out / "photo.png").size == (64, 64) and sorted(p.name for p in out.iterdir()) == ["photo.png"]
    growth = int(run.stderr.rsplit("peak growth ", 1)[1].split()[0])
    assert growth < 500 * MB, f"the job's peak RSS grew by {growth / MB:.0f} MB"  # the bombs: 14-22 GB


# ------------------------------------------------------------------------ honest images, as documented

# Each image is read in a child forked from a process that has read a small one of each format and
# made a tensor (its readers and torch warm, as in a folder job), so no image inherits another's heap.
_DECODE = """
import os, sys
from translator import imaging

def status(key):
    return int(open("/proc/self/status").read().split(key + ":")[1].split()[0]) * 1024

warm, *paths = sys.argv[1:]
for name in os.listdir(warm):
    imaging.to_tensor(imaging.read_image(os.path.join(warm, name)).rgb)
for path in paths:
    sys.stdout.flush()
    if os.fork() == 0:
        open("/proc/self/clear_refs", "w").write("5")
        rss = status("VmRSS")
        image = imaging.read_image(path)
        tensor = imaging.to_tensor(image.rgb)
        print(path, status("VmHWM") - rss, image.bit_depth, *image.size, flush=True)
        os._exit(0)
    assert os.wait()[1] == 0
"""


def test_reading_an_image_takes_no_more_memory_than_documented(tmp_path: Path) -> None:
    """`memory_needed` (what the budget counts: 64 MB, the file, 24 bytes a pixel at 8 bits, 32 at 16)
    bounds the peak RSS of `read_image` + `to_tensor` on real 8-megapixel photos: an EXIF-rotated
    JPEG, an RGBA PNG, a palette GIF with transparency, and a 16-bit RGBA PNG."""
    from skimage import data

    def write_all(folder: Path, size: tuple[int, int]) -> list[Path]:
        photo = np.asarray(Image.fromarray(data.astronaut()).resize(size, Image.Resampling.BILINEAR))
        exif = Image.Exif()
        exif[0x0112] = 6
        folder.mkdir()
        Image.fromarray(photo).save(folder / "rotated.jpg", quality=90, exif=exif)
        Image.fromarray(photo).convert("RGBA").save(folder / "rgba.png", compress_level=1)
        Image.fromarray(photo).convert("P", palette=Image.Palette.WEB, dither=Image.Dither.NONE).save(
            folder / "palette.gif", transparency=0)
        rgba16 = np.dstack([photo[..., ::-1], photo[..., 0]]).astype(np.uint16) * 257  # OpenCV is BGRA
        cv2.imwrite(str(folder / "rgba16.png"), rgba16, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        return sorted(folder.iterdir())

    write_all(tmp_path / "warm", (16, 12))
    paths = write_all(tmp_path / "photos", (3264, 2448))
    run = subprocess.run([sys.executable, "-c", _DECODE, str(tmp_path / "warm"), *map(str, paths)],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 0 and len(run.stdout.splitlines()) == len(paths), run.stdout + run.stderr[-3000:]
    for line in run.stdout.splitlines():
        name, growth, depth, w, h = line.rsplit(" ", 4)
        need = imaging.memory_needed(int(w), int(h), int(depth), Path(name).stat().st_size)
        assert int(growth) <= need, f"{name}: {int(growth) / MB:.0f} MB, documented {need / MB:.0f} MB"
        assert int(growth) > 0.5 * (need - imaging.memory_needed(0, 0)), f"{name}: {int(growth) / MB:.0f} MB: far below"
