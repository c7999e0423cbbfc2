"""Fuzzing the readers of untrusted bytes: images, model files, reference checkpoints.

Each target gets valid files (small real photos in every readable format; a tiny model file; a
tiny reference `.pth` in both of torch.save's formats), mutated by byte flips, overwrites,
truncations, insertions, deletions and edits of header fields (image sizes and layout tags, the
safetensors header length and the numbers in its JSON, zip sizes and offsets, a legacy `.pth`'s
storage sizes; a PNG's IHDR checksum is recomputed so the edit reaches the decoder), and model
cards whose fields are replaced by values of another type or an absurd size. Whatever comes in, only a valid result or the project's own error type may come out —
no other exception, no hang, no allocation of what a forged header claims.

Seeded (`derandomize`) and bounded (`max_examples`), so every run tries the same inputs.
"""
from __future__ import annotations

import copy
import io
import json
import pickletools
import re
import signal
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file

from translator.checkpoint import CARD_KEY, ModelCard, build_model, load_model, read_card, save_model
from translator.errors import CheckpointError, ImageError
from translator.imaging import MAX_PIXELS, decode_image, read_image
from translator.networks import DiscriminatorSpec, GeneratorSpec, build_generator
from translator.reference import import_reference, read_state_dict

ROOT = Path(__file__).resolve().parents[2]
FUZZ = settings(
    derandomize=True,  # the same examples on every run
    database=None,
    max_examples=150,
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
HANG_S = 20  # an example taking longer than this is a hang

# The libraries' own notes about the damaged input they are fed (Pillow's TIFF tag warnings, its
# bomb warning between 1x and 2x its limit, torch initialising a forged card's empty layers).
pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning:PIL"),
    pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning"),
    pytest.mark.filterwarnings("ignore:Initializing zero-element tensors is a no-op:UserWarning"),
]


@contextmanager
def _no_hang(seconds: float = HANG_S) -> Iterator[None]:
    """Fail with TimeoutError if the body runs longer than `seconds` (main thread, Unix)."""
    def expire(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"no answer after {seconds} s: a hang")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# --------------------------------------------------------------------------------------------
# mutation


@dataclass(frozen=True)
class Field:
    """A header field worth forging: its offset and struct format."""

    offset: int
    fmt: str  # e.g. ">I"


@dataclass(frozen=True)
class Seed:
    data: bytes
    fields: tuple[Field, ...] = ()
    fix: Callable[[bytearray], None] | None = None  # recompute a checksum after a field edit
    hot: int = 0  # mutate positions below this more often (the header)


# Values that trip size arithmetic: zero, one, powers of two and their neighbours, all ones.
EDGE_VALUES = (0, 1, 2, 7, 8, 255, 256, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 30000, 60000, 0x7FFFFFFF, 0x80000000,
               0xFFFFFFFF, 2**63 - 1, 2**63, 2**64 - 1)

position = st.integers(0, 2**24)
mutation = st.one_of(
    st.tuples(st.just("flip"), position, st.integers(0, 7)),
    st.tuples(st.just("set"), position, st.integers(0, 255)),
    st.tuples(st.just("cut"), position),
    st.tuples(st.just("insert"), position, st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("delete"), position, st.integers(1, 64)),
    st.tuples(st.just("field"), st.integers(0, 63), st.one_of(st.sampled_from(EDGE_VALUES), st.integers(0, 2**64 - 1))),
    st.tuples(st.just("hot"), position, st.integers(0, 255)),
)


def mutate(seed: Seed, ops: list[tuple[Any, ...]]) -> bytes:
    """`seed`'s bytes with `ops` applied in turn (positions taken modulo the current length)."""
    d = bytearray(seed.data)
    for op, *args in ops:
        n = len(d)
        if op == "flip" and n:
            d[args[0] % n] ^= 1 << args[1]
        elif op == "set" and n:
            d[args[0] % n] = args[1]
        elif op == "hot" and n:
            d[args[0] % max(1, min(seed.hot, n))] = args[1]
        elif op == "cut":
            del d[args[0] % (n + 1):]
        elif op == "insert":
            i = args[0] % (n + 1)
            d[i:i] = args[1]
        elif op == "delete" and n:
            i = args[0] % n
            del d[i : i + args[1]]
        elif op == "field" and seed.fields:
            f = seed.fields[args[0] % len(seed.fields)]
            size = struct.calcsize(f.fmt)
            if f.offset + size <= len(d):
                d[f.offset : f.offset + size] = struct.pack(f.fmt, args[1] % (1 << (8 * size)))
                if seed.fix:
                    seed.fix(d)
    return bytes(d)


mutations = st.lists(mutation, min_size=1, max_size=4)


# --------------------------------------------------------------------------------------------
# (a) images


def _photo() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((40, 32))  # a real photo, small: fast to decode


def _encode(im: Image.Image, fmt: str, **options: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **options)
    return buf.getvalue()


def _fix_png_ihdr(d: bytearray) -> None:
    if d[12:16] == b"IHDR" and len(d) >= 33:
        d[29:33] = struct.pack(">I", zlib.crc32(bytes(d[12:29])))


def _png(data: bytes) -> Seed:
    # IHDR: width, height, bit depth, colour type, interlace
    return Seed(data, (Field(16, ">I"), Field(20, ">I"), Field(24, "B"), Field(25, "B"), Field(28, "B")), _fix_png_ihdr, 64)


def _jpeg(data: bytes) -> Seed:
    sof = data.find(b"\xff\xc0")
    return Seed(data, (Field(sof + 5, ">H"), Field(sof + 7, ">H"), Field(sof + 9, "B")), hot=sof + 20)


def _gif(data: bytes) -> Seed:
    flags = data[10]
    i = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)  # after the global colour table
    while data[i] == 0x21:  # extension blocks before the image descriptor
        i += 2
        while data[i]:
            i += data[i] + 1
        i += 1
    assert data[i] == 0x2C
    return Seed(data, (Field(6, "<H"), Field(8, "<H"), Field(i + 5, "<H"), Field(i + 7, "<H"), Field(10, "B")), hot=i + 12)


def _webp(data: bytes) -> Seed:
    assert data[12:16] == b"VP8 "
    return Seed(data, (Field(4, "<I"), Field(16, "<I"), Field(26, "<H"), Field(28, "<H")), hot=40)


def _webp_lossless(data: bytes) -> Seed:
    assert data[12:16] == b"VP8L"
    return Seed(data, (Field(4, "<I"), Field(16, "<I"), Field(21, "<I")), hot=40)  # 21: both 14-bit sides


def _bmp(data: bytes) -> Seed:
    # width, height (signed: a negative height is top-down), pixel data offset, bits per pixel, compression,
    # image size, colours used
    return Seed(data, (Field(18, "<I"), Field(22, "<I"), Field(10, "<I"), Field(28, "<H"), Field(30, "<I"),
                       Field(34, "<I"), Field(46, "<I")), hot=54)


def _tiff(data: bytes) -> Seed:
    """Fields: the first IFD's offset and every value of its size, layout and strip tags."""
    ifd = struct.unpack("<I", data[4:8])[0]
    fields = [Field(4, "<I")]
    for k in range(struct.unpack("<H", data[ifd : ifd + 2])[0]):
        e = ifd + 2 + 12 * k
        tag, kind = struct.unpack("<HH", data[e : e + 4])
        if tag in (256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317):
            fields.append(Field(e + 8, "<H" if kind == 3 else "<I"))
    return Seed(data, tuple(fields), hot=ifd + 200)


@cache
def image_seeds() -> dict[str, Seed]:
    im = _photo()
    rgb16 = (np.asarray(im).astype(np.uint16) * 257)[..., ::-1]  # OpenCV is BGR
    return {
        "png": _png(_encode(im, "PNG")),
        "png16": _png(cv2.imencode(".png", np.ascontiguousarray(rgb16))[1].tobytes()),
        "png_rgba": _png(_encode(im.convert("RGBA"), "PNG")),
        "jpeg": _jpeg(_encode(im, "JPEG", quality=85)),
        "gif": _gif(_encode(im, "GIF")),
        "webp": _webp(_encode(im, "WEBP", quality=80)),
        "webp_lossless": _webp_lossless(_encode(im, "WEBP", lossless=True)),
        "bmp": _bmp(_encode(im, "BMP")),
        "bmp_palette": _bmp(_encode(im.convert("P"), "BMP")),
        "png_1bit": _png(_encode(im.convert("1"), "PNG")),
        "tiff": _tiff(_encode(im, "TIFF")),
        "tiff_lzw": _tiff(_encode(im, "TIFF", compression="tiff_lzw")),
        "tiff_pages": _tiff(_encode(im, "TIFF", save_all=True, append_images=[im.resize((20, 16))])),  # + a preview
    }


def _decodes_or_refuses(result: Callable[[], Any], name: str) -> None:
    """`result()` gives a valid image or raises an `ImageError` whose message starts with `name`;
    anything else (another exception, a hang) fails the test."""
    try:
        with _no_hang():
            img = result()
    except ImageError as exc:
        assert str(exc).startswith(f"{name}: "), str(exc)
        return
    h, w = img.rgb.shape[:2]
    assert img.rgb.dtype == np.uint8 and img.rgb.shape == (h, w, 3) and 0 < h * w <= MAX_PIXELS


@pytest.mark.parametrize("fmt", sorted(image_seeds()))
@FUZZ
@given(ops=mutations)
def test_mutated_images_decode_or_raise_an_image_error(fmt: str, ops: list[tuple[Any, ...]]) -> None:
    data = mutate(image_seeds()[fmt], ops)
    _decodes_or_refuses(lambda: decode_image(data, "mutated"), "mutated")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"mutated.{fmt}"
        path.write_bytes(data)
        _decodes_or_refuses(lambda: read_image(path), str(path))


def test_the_image_seeds_are_valid_and_every_field_edit_lands() -> None:
    """The fuzzing starts from files that decode, and its header edits change what they claim."""
    for fmt, seed in image_seeds().items():
        assert decode_image(seed.data).size == (40, 32), fmt
    png = image_seeds()["png"]
    forged = mutate(png, [("field", 0, 30000), ("field", 1, 30000)])
    with pytest.raises(ImageError, match="claims 30000x30000 pixels"):  # the IHDR checksum was fixed
        decode_image(forged)


@pytest.mark.parametrize("damage", ["no size", "unknown compression", "unknown mode"])
def test_a_tiff_whose_second_page_is_damaged_gives_its_first_page(damage: str, caplog: pytest.LogCaptureFixture) -> None:
    """Found by fuzzing: counting the pages of such a file raised TypeError ("Missing dimensions")
    or KeyError (the compression's number) instead of reading the first page; or, failing on a
    page of unknown mode, left Pillow at that page, so the first page came out cut to the second's
    size (or raised SystemError when the second was larger)."""
    data = bytearray(image_seeds()["tiff_pages"].data)
    ifd = struct.unpack("<I", data[4:8])[0]
    n = struct.unpack("<H", data[ifd : ifd + 2])[0]
    second = struct.unpack("<I", data[ifd + 2 + 12 * n : ifd + 6 + 12 * n])[0]
    for k in range(struct.unpack("<H", data[second : second + 2])[0]):
        entry = second + 2 + 12 * k
        tag = struct.unpack("<H", data[entry : entry + 2])[0]
        if damage == "no size" and tag in (256, 257):  # ImageWidth, ImageLength
            data[entry : entry + 2] = struct.pack("<H", 0x7FFF)  # an unknown tag now: the page has no size
        if damage == "unknown compression" and tag == 259:
            data[entry + 8 : entry + 10] = struct.pack("<H", 37)
        if damage == "unknown mode" and tag == 262:  # PhotometricInterpretation
            data[entry + 8 : entry + 10] = struct.pack("<H", 99)
    img = decode_image(bytes(data), "pages.tif")
    assert img.size == (40, 32) and np.array_equal(img.rgb, decode_image(image_seeds()["tiff"].data).rgb)
    assert "pages.tif: the frames or pages after the first are damaged" in caplog.text


# A header claiming a huge size must be refused before the pixels are allocated: decoded under an
# address-space limit of 512 MiB more than the process has, where allocating them would fail.
_CLAIM_CHECK = """
import resource, sys, time
from translator.imaging import decode_image
from translator.errors import ImageError
status = open("/proc/self/status").read()
vm = int(status.split("VmSize:")[1].split()[0]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (vm + 2**29, resource.RLIM_INFINITY))
for path in sys.argv[1:]:
    start = time.perf_counter()
    try:
        decode_image(open(path, "rb").read(), path)
        print(f"{time.perf_counter() - start:.3f} decoded")
    except ImageError as exc:
        print(f"{time.perf_counter() - start:.3f} {type(exc).__name__} {exc}")
"""


def _claim(fmt: str, width: int, height: int) -> bytes:
    """A small valid image of `fmt` whose header fields claim `width` x `height`."""
    seed = image_seeds()[fmt]
    if fmt == "gif":  # the screen and the frame
        return mutate(seed, [("field", 0, width), ("field", 1, height), ("field", 2, width), ("field", 3, height)])
    if fmt == "tiff":  # fields[1:] are IFD values; their entry (tag first) starts 8 bytes earlier
        tags = [struct.unpack("<H", seed.data[f.offset - 8 : f.offset - 6])[0] for f in seed.fields[1:]]
        return mutate(seed, [("field", 1 + tags.index(256), width), ("field", 1 + tags.index(257), height)])
    if fmt == "jpeg":
        return mutate(seed, [("field", 1, width), ("field", 0, height)])
    if fmt == "webp":  # the key frame's 14-bit sides (its 2-bit scales left at 0)
        return mutate(seed, [("field", 2, width), ("field", 3, height)])
    return mutate(seed, [("field", 0, width), ("field", 1, height)])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the address space size from /proc")
def test_a_header_claiming_a_huge_size_is_refused_without_allocating_it(tmp_path: Path) -> None:
    cases: dict[Path, str] = {}
    for fmt in ("png", "png16", "png_1bit", "jpeg", "gif", "tiff", "bmp", "webp"):
        # over MAX_PIXELS, the last by 1 %; WebP's 14-bit sides claim at most 16383x16383 (8 % over)
        sizes = ((16_383, 16_383),) if fmt == "webp" else ((60_000, 60_000), (0xFFFF, 0xFFFF), (15_800, 15_800))
        for w, h in sizes:
            p = tmp_path / f"{fmt}_{w}x{h}"
            p.write_bytes(_claim(fmt, w, h))
            cases[p] = rf"UnsupportedImage .*claims {w}x{h} pixels( at 16 bits per channel)?, more than the limit allows"
    p = tmp_path / "gif_frame_60000x60000"  # a small screen, a huge first frame: Pillow refuses it on opening
    p.write_bytes(mutate(image_seeds()["gif"], [("field", 2, 60_000), ("field", 3, 60_000)]))
    cases[p] = r"UnsupportedImage .*claims too many pixels, more than the limit"
    for fmt in ("png", "png16", "jpeg"):  # within the memory budget (3.5 GB at 8 bits), in a file of a few KB
        p = tmp_path / f"{fmt}_12000x12000_small"
        p.write_bytes(_claim(fmt, 12_000, 12_000))
        cases[p] = r"ImageError .*truncated or corrupt \(the header claims 12000x12000 pixels, which need at least"
    run = subprocess.run([sys.executable, "-c", _CLAIM_CHECK, *map(str, cases)], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    lines = run.stdout.splitlines()
    assert run.returncode == 0 and len(lines) == len(cases), run.stdout + run.stderr
    for (path, expected), line in zip(cases.items(), lines):
        seconds, message = line.split(" ", 1)
        assert float(seconds) < 0.5 and re.match(expected, message), (path.name, line)


def test_a_thumbnail_of_a_forged_jpeg_is_refused_too(tmp_path: Path) -> None:
    """The file browser's fast JPEG path decodes at reduced size; a forged header must not slip by it
    (libjpeg would "decode" 12000x12000 of grey from a few KB)."""
    from translator.imaging import read_thumbnail

    p = tmp_path / "forged.jpg"
    p.write_bytes(_claim("jpeg", 12_000, 12_000))
    with pytest.raises(ImageError, match=r"forged.jpg: the image data is truncated or corrupt \(the header claims 12000x12000"):
        read_thumbnail(p)


# --------------------------------------------------------------------------------------------
# (b) our model files


@cache
def model_seed() -> Seed:
    """A tiny CycleGAN model file (one generator, one discriminator) like tests' tiny_cyclegan."""
    g = GeneratorSpec("resnet_1blocks", 4, "instance", False)
    d = DiscriminatorSpec("patch", 1, 4, "instance", 3, "lsgan")
    card = ModelCard(name="tiny", kind="cyclegan", generators={"g_ab": g}, discriminators={"d_b": d})
    with tempfile.TemporaryDirectory() as folder:
        data = save_model(build_model(card, seed=0), Path(folder) / "tiny.safetensors").read_bytes()
    header = struct.unpack("<Q", data[:8])[0]
    # fields: the header length, and every digit run of the JSON header (offsets, shapes, card numbers)
    digits = [Field(8 + m.start(), "B") for m in re.finditer(rb"\d", data[8 : 8 + header])]
    return Seed(data, (Field(0, "<Q"), Field(0, "<I"), Field(4, "<I"), *digits), hot=8 + header)


def _loads_or_refuses(path: Path) -> None:
    """`read_card` and `load_model` give a result or a `CheckpointError` naming `path`; what loads
    is what the file holds (no net larger than its bytes)."""
    try:
        with _no_hang():
            read_card(path)
    except CheckpointError as exc:
        assert str(exc).startswith(str(path)), str(exc)
    try:
        with _no_hang():
            model = load_model(path)
    except CheckpointError as exc:
        assert str(exc).startswith(str(path)), str(exc)
        return
    held = sum(t.numel() for net in model.nets.values() for t in net.state_dict().values())
    assert held <= path.stat().st_size


@FUZZ
@given(ops=mutations)
def test_mutated_model_files_load_or_raise_a_checkpoint_error(ops: list[tuple[Any, ...]]) -> None:
    data = mutate(model_seed(), ops)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mutated.safetensors"
        path.write_bytes(data)
        _loads_or_refuses(path)


# Card values that are wrong in type or size: what an edit of the card's JSON may leave.
ODD_JSON: list[Any] = [None, True, 0, -1, 2**31, 10**30, 0.5, float("inf"), "", "x", "unet_256", "unet_" + "9" * 50,
                       "resnet_100000000blocks", "patch", "batch", [], [1, 2], {}, {"arch": "unet_256"}]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        yield from _paths(v, (*prefix, k))


@cache
def _card_and_tensors() -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "seed.safetensors"
        path.write_bytes(model_seed().data)
        with safe_open(str(path), framework="pt") as f:
            return json.loads(f.metadata()[CARD_KEY]), {k: f.get_tensor(k) for k in f.keys()}


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(ODD_JSON)), min_size=1, max_size=3),
       nesting=st.sampled_from([0] * 9 + [50_000]))
def test_model_files_with_forged_cards_load_or_raise_a_checkpoint_error(edits: list[tuple[int, Any]], nesting: int) -> None:
    """The card's fields replaced with values of another type or an absurd size (in a valid
    safetensors file): refused naming the field, or loaded as the tensors allow."""
    card, tensors = _card_and_tensors()
    card = copy.deepcopy(card)
    for where, value in edits:
        paths = list(_paths(card))
        path = paths[where % len(paths)]
        value = copy.deepcopy(value)  # ODD_JSON's lists and objects are shared between examples
        if not path:
            card = value
            continue
        parent = card
        for k in path[:-1]:
            parent = parent[k]
        parent[path[-1]] = value
    text = "[" * nesting + "]" * nesting if nesting else json.dumps(card)
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "forged.safetensors"
        save_file(tensors, str(file), metadata={CARD_KEY: text})
        _loads_or_refuses(file)


# --------------------------------------------------------------------------------------------
# (c) reference checkpoints


def _zip_fields(data: bytes) -> tuple[Field, ...]:
    """Sizes, counts and offsets of a zip archive's local headers, central directory and its end."""
    fields: list[Field] = []
    for m in re.finditer(rb"PK\x03\x04", data):  # local file header: compressed/uncompressed size, name length
        fields += [Field(m.start() + 18, "<I"), Field(m.start() + 22, "<I"), Field(m.start() + 26, "<H")]
    for m in re.finditer(rb"PK\x01\x02", data):  # central directory: sizes, name length, local offset
        fields += [Field(m.start() + 20, "<I"), Field(m.start() + 24, "<I"), Field(m.start() + 28, "<H"), Field(m.start() + 42, "<I")]
    for m in re.finditer(rb"PK\x05\x06", data):  # end of central directory: entries, size, offset
        fields += [Field(m.start() + 10, "<H"), Field(m.start() + 12, "<I"), Field(m.start() + 16, "<I")]
    return tuple(fields)


def _legacy_fields(data: bytes) -> tuple[Field, ...]:
    """The element count (int64) before each storage of a legacy torch.save file, which follow its
    five pickles (magic number, protocol, system info, the object, the storage keys)."""
    f = io.BytesIO(data)
    for _ in range(5):
        for _op in pickletools.genops(f):
            pass
    fields, pos = [], f.tell()
    while pos + 8 <= len(data):
        fields.append(Field(pos, "<Q"))
        pos += 8 + struct.unpack("<q", data[pos : pos + 8])[0] * 4  # the seed's storages are all float32
    assert pos == len(data), "not a legacy file of float32 storages"
    return tuple(fields)


@cache
def reference_seeds() -> dict[str, Seed]:
    state = build_generator(GeneratorSpec("resnet_1blocks", 4, "instance", False), seed=0).state_dict()
    seeds: dict[str, Seed] = {}
    for fmt, zip_format in (("zip", True), ("legacy", False)):
        buf = io.BytesIO()
        torch.save(state, buf, _use_new_zipfile_serialization=zip_format)
        data = buf.getvalue()
        seeds[fmt] = Seed(data, _zip_fields(data) if zip_format else _legacy_fields(data), hot=2048)  # hot: the pickles
    return seeds


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note about a mutated protocol byte
@FUZZ
@given(ops=mutations)
def test_mutated_reference_checkpoints_import_or_raise_a_checkpoint_error(fmt: str, ops: list[tuple[Any, ...]]) -> None:
    data = mutate(reference_seeds()[fmt], ops)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mutated_net_G.pth"
        path.write_bytes(data)
        for load in (read_state_dict, lambda p: import_reference(p, kind="cyclegan", name="x")):
            try:
                with _no_hang():
                    load(path)
            except CheckpointError as exc:
                assert str(exc).startswith(str(path)), str(exc)


def test_the_model_and_reference_seeds_load() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.safetensors"
        path.write_bytes(model_seed().data)
        assert set(load_model(path).nets) == {"g_ab", "d_b"}
        for fmt, seed in reference_seeds().items():
            ref = Path(folder) / f"{fmt}_net_G.pth"
            ref.write_bytes(seed.data)
            assert import_reference(ref, kind="cyclegan", name="x").card.generators["g_ab"].arch == "resnet_1blocks"
        assert len(reference_seeds()["zip"].fields) >= 9 and len(reference_seeds()["legacy"].fields) == 16  # fields found

