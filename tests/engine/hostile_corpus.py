"""The hostile-file corpus of tests/engine/test_hostile_corpus.py: model files and images a user
may be handed by an attacker or a broken disk, generated (seeded, nothing downloaded, nothing
committed) into a folder the test chooses.

Each case is a writer `write(folder, marker) -> Path`: it puts one hostile entry (a file, a
folder, a link, a FIFO) into the empty `folder` and returns its path; a payload that manages to
run creates `marker`. Writers are keyed by a plain ASCII id (the pytest id), so the names of the
cases are known when the tests are collected and the files exist only once a test asks for them.

Model files: pickles that would run code, `.pth` files of a few KB declaring gigabyte networks
(stride-0 and shared-storage views), NaN/Inf weights, truncated and garbled safetensors headers,
cards of the wrong types or absurd sizes or carrying HTML and terminal escape sequences, hostile
file names, empty files, folders and links named like model files.

Images: for PNG, JPEG, TIFF, WebP, GIF and BMP a valid file, truncated and bit-flipped copies and
headers forged to claim huge sizes; decompression bombs (small valid files of hundreds of
megapixels); text, HTML, JSON, PDF and pickles under image names; the committed corpus of
tests/data/bad; names near NAME_MAX, with control characters, escape sequences, bidi overrides,
shell syntax or bytes that are not UTF-8; empty files, folders and link loops named like images.

Apart (`SPECIAL_CASES`): FIFOs and links to /dev/zero named like images and model files, which a
careless reader waits on forever. `HONEST` lists the cases whose file is valid and hostile only in
its name or its card's text.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Callable
from functools import cache, partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file

from translator.checkpoint import CARD_KEY, ModelCard, build_model, save_model
from translator.networks import DiscriminatorSpec, GeneratorSpec, build_generator

Writer = Callable[[Path, Path], Path]

REFERENCE_G = Path(__file__).parent.parent / "data" / "reference" / "resnet_6blocks_ngf8_instance_net_G.pth"
BAD_FILES = Path(__file__).parent.parent / "data" / "bad"
SHELL_MARKER = "hostile-marker"  # what a file name's shell syntax would create in the working folder

# Names a file system allows and a terminal, a shell, a format string or a web view may act on
# (`{}` is the suffix).
HOSTILE_NAMES: dict[str, str] = {
    "newline": "line\nbreak{}",
    "escape": "\x1b[31mred\x1b[0m{}",
    "osc-title": "\x1b]0;owned\x07title{}",
    "carriage-return": "fake\r{}",
    "tab-del-bell": "a\tb\x7fc\ad{}",
    "c1-csi": "\x9b31mred{}",
    "bidi": "photo\u202egnp.exe{}",
    "line-separator": "a\u2028b{}",
    "non-utf8": os.fsdecode(b"caf\xe9-\xff\xfe") + "{}",
    "utf8-surrogate": os.fsdecode(b"half-\xed\xa0\x80") + "{}",
    "shell": f"$(touch {SHELL_MARKER});`touch {SHELL_MARKER}`{{}}",
    "format": "%s%n%x{{0}}{}",
    "html": "<img src=x onerror=alert(1)>{}",
    "dash": "--help{}",
    "dots": ".{}",  # "..png": a stem of one dot
    "spaces": "  two  spaces  {}",
}


def hostile_name(key: str, suffix: str) -> str:
    return HOSTILE_NAMES[key].format(suffix)


def name_max(suffix: str, char: str = "x") -> str:
    """A name of exactly 255 bytes (NAME_MAX) ending in `suffix`, made of `char` (UTF-8 may leave
    a byte or two short)."""
    room = 255 - len(suffix.encode())
    return char * (room // len(char.encode())) + suffix


# --------------------------------------------------------------------------------------- models

TINY_G = GeneratorSpec("resnet_1blocks", 4, "instance", False)
TINY_D = DiscriminatorSpec("patch", 1, 4, "instance", 6)
BIG_G = GeneratorSpec("resnet_9blocks", 384, "instance", False)  # 409 M parameters: 1.6 GB in float32


@cache
def tiny_model() -> bytes:
    """A pix2pix model file (seeded) with a tiny generator and discriminator: cheap to translate and train."""
    card = ModelCard(name="tiny", kind="pix2pix", generators={"g": TINY_G}, discriminators={"d": TINY_D},
                     task="hostile corpus", image_size=32)
    with tempfile.TemporaryDirectory() as folder:
        return save_model(build_model(card, seed=0), Path(folder) / "m.safetensors").read_bytes()


@cache
def tiny_parts() -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The tiny model's card (as JSON data) and tensors, to forge files from."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.safetensors"
        path.write_bytes(tiny_model())
        with safe_open(str(path), framework="pt") as f:
            return json.loads(f.metadata()[CARD_KEY]), {k: f.get_tensor(k) for k in f.keys()}


def _model_prefix(cut: int) -> bytes:
    return tiny_model()[:cut]


def _flipped_model(seed: int, start: int, end: int | None) -> bytes:
    return flipped(tiny_model(), seed, start=start, end=end)


def _flipped_pth(seed: int, legacy: bool) -> bytes:
    """A reference checkpoint with bit errors in its first 2 KB: the zip's headers and the pickle."""
    buf = io.BytesIO()
    torch.save(_reference_state(), buf, _use_new_zipfile_serialization=not legacy)
    return flipped(buf.getvalue(), seed, flips=3, start=0, end=2048)


def _forged(path: Path, card: Any, tensors: dict[str, torch.Tensor] | None = None, text: str | None = None) -> Path:
    """A safetensors file of `tensors` (the tiny model's by default) whose card is `card` (any
    JSON value) or the raw `text`."""
    save_file(tensors if tensors is not None else tiny_parts()[1], str(path),
              metadata={CARD_KEY: text if text is not None else json.dumps(card)})
    return path


def _card_with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    card: dict[str, Any] = json.loads(json.dumps(tiny_parts()[0]))  # a deep copy
    change(card)
    return card


def _header_parts(data: bytes) -> tuple[dict[str, Any], bytes]:
    """A safetensors file's JSON header and the tensor bytes after it."""
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def _with_header(header: Any, body: bytes, raw: bytes | None = None) -> bytes:
    text = raw if raw is not None else json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + body


def _edit_header(edit: Callable[[dict[str, Any]], None]) -> bytes:
    header, body = _header_parts(tiny_model())
    edit(header)
    return _with_header(header, body)


def _first_tensor(header: dict[str, Any]) -> dict[str, Any]:
    tensor: dict[str, Any] = header[sorted(k for k in header if k != "__metadata__")[0]]
    return tensor


class _RunsCode:
    """Unpickling this calls `func(*args)`: what a malicious checkpoint does."""

    def __init__(self, func: Callable[..., Any], *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.func, self.args


def _payloads(marker: Path) -> dict[str, Any]:
    touch = f"open({str(marker)!r}, 'w').close()"
    return {
        "system": _RunsCode(os.system, f"touch '{marker}'"),
        "exec": _RunsCode(exec, touch),
        "eval": _RunsCode(eval, touch),
        "subprocess": _RunsCode(subprocess.call, ["touch", str(marker)]),
        "path-touch": _RunsCode(Path.touch, marker),
    }


def _torch_save(obj: Any, path: Path, legacy: bool = False) -> Path:
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path


def _evil(payload: str, legacy: bool, suffix: str = ".pth", wrapped: bool = False) -> Writer:
    def write(folder: Path, marker: Path) -> Path:
        state: dict[str, Any] = {"model.1.weight": torch.zeros(4, 3, 7, 7), "model.1.bias": _payloads(marker)[payload]}
        return _torch_save({"state_dict": state, "epoch": 3} if wrapped else state,
                           folder / f"evil_{payload}_net_G{suffix}", legacy)
    return write


def _overlapping_offsets(header: dict[str, Any]) -> None:
    """Every tensor's bytes start at 0: they overlap one another."""
    for key, tensor in header.items():
        if key != "__metadata__":
            start, end = tensor["data_offsets"]
            tensor["data_offsets"] = [0, end - start]


def _no_card(folder: Path, marker: Path) -> Path:
    """A valid safetensors file without a model card (someone else's tensors)."""
    path = folder / "no_card.safetensors"
    save_file(tiny_parts()[1], str(path))
    return path


def _raw_pickle(folder: Path, marker: Path) -> Path:
    """Not torch.save at all: a bare pickle named like a checkpoint."""
    path = folder / "bare_pickle_net_G.pth"
    path.write_bytes(pickle.dumps({"model.1.weight": _payloads(marker)["system"]}))
    return path


@cache
def _big_layout() -> dict[str, torch.Size]:
    with torch.device("meta"):
        return {k: t.shape for k, t in build_generator(BIG_G).state_dict().items()}


def _inflating(kind: str, legacy: bool = False) -> Writer:
    """A few KB of `.pth` whose tensors repeat a few stored numbers into BIG_G's 1.6 GB."""
    def write(folder: Path, marker: Path) -> Path:
        layout = _big_layout()
        shared = torch.zeros(1)
        span = torch.zeros(max(sum(s) - len(s) + 1 for s in layout.values()))
        state: dict[str, torch.Tensor] = {}
        for key, shape in layout.items():
            if kind == "expand":  # stride 0: one number each
                state[key] = torch.zeros(1).expand(shape)
            elif kind == "one-storage":  # every tensor a view of the same number
                state[key] = shared.expand(shape)
            else:  # elements overlapping one another
                state[key] = span.as_strided(shape, (1,) * len(shape))
        return _torch_save(state, folder / f"inflating_{kind}_net_G.pth", legacy)
    return write


def _reference_state() -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = torch.load(REFERENCE_G, map_location="cpu", weights_only=True)
    return state


def _poisoned_pth(value: float) -> Writer:
    def write(folder: Path, marker: Path) -> Path:
        state = _reference_state()
        state["model.4.weight"] = state["model.4.weight"].clone()
        state["model.4.weight"][0, 0, 0, 0] = value
        return _torch_save(state, folder / f"poisoned_{value}_net_G.pth")
    return write


def _poisoned_model(value: float) -> Writer:
    def write(folder: Path, marker: Path) -> Path:
        tensors = dict(tiny_parts()[1])
        key = sorted(k for k in tensors if k.startswith("g.") and k.endswith("weight"))[0]
        tensors[key] = tensors[key].clone()
        tensors[key].view(-1)[1] = value
        return _forged(folder / f"poisoned_{value}.safetensors", tiny_parts()[0], tensors)
    return write


def _bytes_file(name: str, data: bytes | Callable[[], bytes]) -> Writer:
    def write(folder: Path, marker: Path) -> Path:
        path = folder / name
        path.write_bytes(data() if callable(data) else data)
        return path
    return write


def _card_case(change: Callable[[dict[str, Any]], None], name: str = "card.safetensors") -> Writer:
    return lambda folder, marker: _forged(folder / name, _card_with(change))


def _set(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda card: card.update(values)


def _set_g(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda card: card["generators"]["g"].update(values)


ESCAPES = "\x1b]0;owned\x07\x1b[2J\x1b[31mred\r\x9b1m\u202eevil\ud800"  # title, clear, colour, CR, C1, bidi, lone surrogate
HTML = '<img src="file:///etc/passwd"><script>alert(1)</script><a href="https://evil.example">trusted</a>'


# Valid cards whose text is hostile: they load; the text must show as text.
TEXT_CARDS: dict[str, Callable[[dict[str, Any]], None]] = {
    "html": _set(name=HTML, task=HTML, notes=HTML, source=HTML),
    "escapes": _set(name=ESCAPES, task=ESCAPES, notes=ESCAPES, source=ESCAPES, domains=[ESCAPES, "B\nC"]),
    "training-escapes": _set(training={ESCAPES: ESCAPES, "steps": "\x1b[2J", "nested": {"\x1b[31m": [ESCAPES]}}),
    "text-huge": _set(notes="n" * 2_000_000),
    "domains-huge": _set(domains=["A" * 1_000_000, "B"]),
}


def _special(kind: str, name: str) -> Writer:
    """An entry that is not a regular file: a folder, a link loop, a dangling link, a link to
    /dev/zero (endless bytes) or a FIFO (no writer: opening it for reading waits forever)."""
    def write(folder: Path, marker: Path) -> Path:
        path = folder / name
        if kind == "folder":
            path.mkdir()
            (path / "inside.png").write_bytes(b"not an image")
        elif kind == "loop":
            path.symlink_to(path.name)
        elif kind == "dangling":
            path.symlink_to("no-such-file" + path.suffix)
        elif kind == "dev-zero":
            path.symlink_to("/dev/zero")
        elif kind == "fifo":
            os.mkfifo(path)
        else:
            raise AssertionError(kind)
        return path
    return write


def _named_model(name: str) -> Writer:
    return _bytes_file(name, tiny_model)


def _named_pth(name: str) -> Writer:
    return _bytes_file(name, REFERENCE_G.read_bytes)


def _truncated_zip_pth(folder: Path, marker: Path) -> Path:
    data = REFERENCE_G.read_bytes()
    path = folder / "truncated_zip_net_G.pth"
    path.write_bytes(data[: len(data) // 2])
    return path


def _legacy_pth(cut: bool) -> Writer:
    def write(folder: Path, marker: Path) -> Path:
        buf = io.BytesIO()
        torch.save(_reference_state(), buf, _use_new_zipfile_serialization=False)
        data = buf.getvalue()
        path = folder / f"legacy{'_truncated' if cut else ''}_net_G.pth"
        path.write_bytes(data[: len(data) // 2] if cut else data)
        return path
    return write


def _odd_state(kind: str) -> Writer:
    def write(folder: Path, marker: Path) -> Path:
        obj: Any
        if kind == "list":
            obj = [torch.zeros(3), torch.zeros(4)]
        elif kind == "integers":
            obj = {k: v.to(torch.int32) if v.is_floating_point() else v for k, v in _reference_state().items()}
        elif kind == "unknown-keys":
            obj = {"encoder.weight": torch.zeros(8, 3, 3, 3), "decoder.weight": torch.zeros(3, 8, 3, 3)}
        elif kind == "empty-dict":
            obj = {}
        elif kind == "huge-epoch":  # a wrapper with odd non-tensor neighbours
            obj = {"state_dict": _reference_state(), "epoch": 2**200, "note": "x" * 100_000}
        else:
            raise AssertionError(kind)
        return _torch_save(obj, folder / f"odd_{kind}_net_G.pth")
    return write


def _model_cases() -> dict[str, Writer]:
    cases: dict[str, Writer] = {
        "valid-model": _bytes_file("tiny.safetensors", tiny_model),
        "valid-pth": _named_pth("resnet_net_G.pth"),
        "valid-legacy-pth": _legacy_pth(cut=False),
        "pickle-bare": _raw_pickle,
    }
    for payload in ("system", "exec", "eval", "subprocess", "path-touch"):
        for fmt, legacy in (("zip", False), ("legacy", True)):
            cases[f"pickle-{payload}-{fmt}"] = _evil(payload, legacy)
    cases["pickle-wrapped-zip"] = _evil("system", False, wrapped=True)
    cases["pickle-wrapped-legacy"] = _evil("exec", True, wrapped=True)
    cases["pickle-as-safetensors"] = _evil("system", False, suffix=".safetensors")
    cases["pickle-as-pt"] = _evil("subprocess", True, suffix=".pt")
    for kind in ("expand", "one-storage", "overlapping"):
        cases[f"inflating-{kind}"] = _inflating(kind)
    cases["inflating-expand-legacy"] = _inflating("expand", legacy=True)
    cases["inflating-card"] = _card_case(_set_g(base_filters=BIG_G.base_filters), "inflating_card.safetensors")
    for label, value in (("nan", float("nan")), ("inf", float("inf")), ("-inf", float("-inf"))):
        cases[f"non-finite-pth-{label}"] = _poisoned_pth(value)
    for label, value in (("nan", float("nan")), ("inf", float("inf"))):
        cases[f"non-finite-model-{label}"] = _poisoned_model(value)

    # safetensors headers, truncated and garbled
    size = len(tiny_model())
    header_len = struct.unpack("<Q", tiny_model()[:8])[0]
    for label, cut in (("0", 0), ("4", 4), ("8", 8), ("mid-header", 8 + header_len // 2),
                       ("mid-data", 8 + header_len + (size - 8 - header_len) // 2), ("minus-1", size - 1)):
        cases[f"st-cut-{label}"] = _bytes_file(f"cut_{label}.safetensors", partial(_model_prefix, cut))
    body = _header_parts(tiny_model())[1]
    header_text = tiny_model()[8 : 8 + header_len]
    for label, data in (
        ("length-huge", lambda: struct.pack("<Q", 2**63 - 1) + tiny_model()[8:]),
        ("length-past-end", lambda: struct.pack("<Q", size) + tiny_model()[8:]),
        ("length-zero", lambda: struct.pack("<Q", 0) + tiny_model()[8:]),
        ("not-json", lambda: _with_header(None, body, raw=bytes(np.random.default_rng(1).integers(0, 256, header_len, np.uint8)))),
        ("json-array", lambda: _with_header([], body)),
        ("nested-deep", lambda: _with_header(None, body, raw=b"[" * 100_000 + b"]" * 100_000)),
        ("utf8-broken", lambda: _with_header(None, body, raw=header_text.replace(b'"', b'"\xff', 1))),
        ("offsets-past-end", lambda: _edit_header(lambda h: _first_tensor(h).update(data_offsets=[0, 2**40]))),
        ("offsets-overlap", lambda: _edit_header(_overlapping_offsets)),
        ("offsets-negative", lambda: _edit_header(lambda h: _first_tensor(h).update(data_offsets=[-8, 8]))),
        ("dtype-unknown", lambda: _edit_header(lambda h: _first_tensor(h).update(dtype="F128"))),
        ("shape-negative", lambda: _edit_header(lambda h: _first_tensor(h).update(shape=[-1, 4]))),
        ("shape-huge", lambda: _edit_header(lambda h: _first_tensor(h).update(shape=[2**31, 2**31, 2**31]))),
        ("metadata-not-strings", lambda: _edit_header(lambda h: h.update(__metadata__={CARD_KEY: {"name": 1}}))),
    ):
        cases[f"st-{label}"] = _bytes_file(f"{label}.safetensors", data)
    for seed in range(3):  # bit errors in the header, anywhere, and in a reference checkpoint of either format
        cases[f"st-flipped-header-{seed}"] = _bytes_file(f"flipped_header_{seed}.safetensors",
                                                         partial(_flipped_model, seed, 8, 8 + header_len))
        cases[f"st-flipped-{seed}"] = _bytes_file(f"flipped_{seed}.safetensors", partial(_flipped_model, seed, 0, None))
        cases[f"pth-flipped-zip-{seed}"] = _bytes_file(f"flipped_zip_{seed}_net_G.pth", partial(_flipped_pth, seed, False))
        cases[f"pth-flipped-legacy-{seed}"] = _bytes_file(f"flipped_legacy_{seed}_net_G.pth", partial(_flipped_pth, seed, True))
    cases["st-no-card"] = _no_card
    cases["st-card-not-json"] = lambda folder, marker: _forged(folder / "card_not_json.safetensors", None, text="{name: tiny")

    # cards: wrong types, absurd sizes, hostile text
    for label, change in (
        ("generators-list", _set(generators=[])),
        ("filters-string", _set_g(base_filters="8")),
        ("filters-absurd", _set_g(base_filters=10**30)),
        ("blocks-absurd", _set_g(arch="resnet_100000000blocks")),
        ("channels-negative", _set_g(in_channels=-3)),
        ("kind-unknown", _set(kind="stylegan")),
        ("version-future", _set(format_version=99)),
        ("version-infinite", lambda c: c.update(format_version=float("inf"))),
        ("image-size-absurd", _set(image_size=10**12)),
        ("training-not-object", _set(training=[1, 2, 3])),
        ("card-null", lambda c: c.clear()),
    ):
        cases[f"card-{label}"] = _card_case(change, f"card_{label}.safetensors")
    for label, change in TEXT_CARDS.items():
        cases[f"card-{label}"] = _card_case(change, f"card_{label}.safetensors")

    # names
    for key in HOSTILE_NAMES:
        cases[f"model-name-{key}"] = _named_model(hostile_name(key, ".safetensors"))
    cases["model-name-max"] = _named_model(name_max(".safetensors"))
    cases["model-name-max-utf8"] = _named_model(name_max(".safetensors", "한"))
    for key in ("newline", "escape", "non-utf8", "bidi"):
        cases[f"pth-name-{key}"] = _named_pth(hostile_name(key, "_net_G.pth"))
    cases["pth-name-max"] = _named_pth(name_max("_net_G.pth"))

    # empty, truncated, misnamed and special entries
    cases["pth-empty"] = _bytes_file("empty_net_G.pth", b"")
    cases["pth-truncated-zip"] = _truncated_zip_pth
    cases["pth-truncated-legacy"] = _legacy_pth(cut=True)
    for kind in ("list", "integers", "unknown-keys", "empty-dict", "huge-epoch"):
        cases[f"pth-{kind}"] = _odd_state(kind)
    cases["png-as-pth"] = _bytes_file("photo_net_G.pth", lambda: encode("png"))
    cases["png-as-safetensors"] = _bytes_file("photo.safetensors", lambda: encode("png"))
    cases["html-as-safetensors"] = _bytes_file("page.safetensors", b"<!DOCTYPE html><html><body>hi</body></html>")
    cases["model-as-pth"] = _bytes_file("ours_net_G.pth", tiny_model)
    for kind, suffix in (("folder", ".pth"), ("folder", ".safetensors"), ("loop", ".safetensors"), ("loop", ".pth"),
                         ("dangling", ".safetensors")):
        cases[f"{kind}{suffix.replace('.', '-')}"] = _special(kind, f"{kind}_net_G{suffix}")
    return cases


# --------------------------------------------------------------------------------------- images

FORMATS = {"png": "PNG", "jpg": "JPEG", "tif": "TIFF", "webp": "WEBP", "gif": "GIF", "bmp": "BMP"}


@cache
def photo() -> Image.Image:
    """A real photo (scikit-image's astronaut), small: cheap to decode and translate."""
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((40, 32))  # type: ignore[no-untyped-call]


@cache
def encode(ext: str) -> bytes:
    buf = io.BytesIO()
    photo().save(buf, format=FORMATS[ext], **({"quality": 85} if ext in ("jpg", "webp") else {}))
    return buf.getvalue()


def _png_size(data: bytes, w: int, h: int) -> bytes:
    d = bytearray(data)
    d[16:24] = struct.pack(">II", w, h)
    d[29:33] = struct.pack(">I", zlib.crc32(bytes(d[12:29])))  # IHDR's checksum, so the claim is read
    return bytes(d)


def _jpeg_size(data: bytes, w: int, h: int) -> bytes:
    d = bytearray(data)
    sof = data.find(b"\xff\xc0")
    d[sof + 5 : sof + 9] = struct.pack(">HH", h, w)
    return bytes(d)


def _gif_size(data: bytes, w: int, h: int) -> bytes:
    d = bytearray(data)
    d[6:10] = struct.pack("<HH", w, h)  # the logical screen
    flags = data[10]
    i = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)  # past the global colour table
    while data[i] == 0x21:  # extension blocks before the image descriptor
        i += 2
        while data[i]:
            i += data[i] + 1
        i += 1
    d[i + 5 : i + 9] = struct.pack("<HH", w, h)  # the first frame
    return bytes(d)


def _bmp_size(data: bytes, w: int, h: int) -> bytes:
    d = bytearray(data)
    d[18:26] = struct.pack("<ii", w, h)
    return bytes(d)


def _tiff_size(data: bytes, w: int, h: int) -> bytes:
    d = bytearray(data)
    ifd = struct.unpack("<I", data[4:8])[0]
    for k in range(struct.unpack("<H", data[ifd : ifd + 2])[0]):
        e = ifd + 2 + 12 * k
        tag, kind = struct.unpack("<HH", data[e : e + 4])
        if tag in (256, 257):  # ImageWidth, ImageLength
            value = w if tag == 256 else h
            d[e + 8 : e + 12] = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)  # SHORT or LONG
    return bytes(d)


def _webp_size(data: bytes, w: int, h: int) -> bytes:
    d = bytearray(data)
    assert data[12:16] == b"VP8 " and data[23:26] == b"\x9d\x01\x2a"
    d[26:30] = struct.pack("<HH", w & 0x3FFF, h & 0x3FFF)  # 14-bit sides, scale bits 0
    return bytes(d)


CLAIM = {"png": _png_size, "jpg": _jpeg_size, "gif": _gif_size, "bmp": _bmp_size, "tif": _tiff_size, "webp": _webp_size}


def flipped(data: bytes, seed: int, flips: int = 6, start: int = 16, end: int | None = None) -> bytes:
    """`data` with `flips` seeded single-bit errors in `data[start:end]` (a damaged disk or transfer)."""
    rng = np.random.default_rng(seed)
    d = bytearray(data)
    end = len(d) if end is None else end
    for pos, bit in zip(rng.integers(min(start, end - 1), end, flips), rng.integers(0, 8, flips)):
        d[int(pos)] ^= 1 << int(bit)
    return bytes(d)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(side: int) -> bytes:
    """A valid black 1-bit PNG of `side`² pixels: deflate's best ratio, about a thousandth of the
    raw rows (16000² pixels, 256 megapixels, in 31 KB)."""
    z = zlib.compressobj(9)
    row = bytes(1 + (side + 7) // 8)  # the filter byte, then the row
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def webp_bomb(side: int) -> bytes:
    """A valid lossless WebP of one colour, `side`² pixels (at most 16383): each of its five prefix
    codes has a single symbol, so a pixel takes no bits and the file is about 30 bytes."""
    bits: list[tuple[int, int]] = [(0x2F, 8), (side - 1, 14), (side - 1, 14), (0, 1), (0, 3),  # signature, size, alpha, version
                                   (0, 1), (0, 1), (0, 1)]  # no transform, colour cache or meta prefix codes
    for symbol in (0, 0, 0, 255, 0):  # green, red, blue, alpha, distance
        bits += [(1, 1), (0, 1)] + ([(1, 1), (symbol, 8)] if symbol > 1 else [(0, 1), (symbol, 1)])
    value = length = 0
    for v, n in bits:  # least significant bit first
        value |= v << length
        length += n
    payload = value.to_bytes((length + 7) // 8, "little")
    chunk = b"VP8L" + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) % 2)
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def tiff_bomb(side: int) -> bytes:
    """A valid deflated 1-bit TIFF of `side`² black pixels."""
    buf = io.BytesIO()
    Image.new("1", (side, side)).save(buf, format="TIFF", compression="tiff_adobe_deflate")
    return buf.getvalue()


BOMB_SIDE = 16_000  # 256 megapixels: over the tool's limit (imaging.MAX_PIXELS), far under Pillow's
CLAIMS = {"huge": 60_000, "over-limit": 15_800}  # sides a forged header claims (over imaging.MAX_PIXELS)


def _named_photo(name: str, ext: str = "png") -> Writer:
    return _bytes_file(name, lambda: encode(ext))


def _flipped(ext: str, seed: int) -> bytes:
    return flipped(encode(ext), seed)


def _claiming(ext: str, side: int) -> bytes:
    """`ext`'s valid file whose header claims `side`x`side` pixels."""
    return CLAIM[ext](encode(ext), side, side)


def _cut(ext: str, cut: float | int) -> Callable[[], bytes]:
    """`ext`'s valid file cut to a fraction (float) or a number of bytes (int, negative from the end)."""
    def data() -> bytes:
        d = encode(ext)
        return d[: int(len(d) * cut)] if isinstance(cut, float) else d[:cut]
    return data


def _image_cases() -> dict[str, Writer]:
    """Image cases; except where the name is the point, a file is named by its case id, so every
    stem differs and the cases can share one folder (tests/engine/test_hostile_corpus.py's `all/`)."""
    data: dict[str, tuple[str, bytes | Callable[[], bytes]]] = {}  # id -> (suffix, bytes)
    for ext in FORMATS:
        data[f"{ext}-valid"] = (ext, partial(encode, ext))
        for label, cut in (("half", 0.5), ("header", 24), ("minus-1", -1)):
            data[f"{ext}-truncated-{label}"] = (ext, _cut(ext, cut))
        for seed in range(3):
            data[f"{ext}-flipped-{seed}"] = (ext, partial(_flipped, ext, seed))
        for label, side in CLAIMS.items() if ext != "webp" else (("max", 16_383),):  # WebP's sides have 14 bits
            data[f"{ext}-claims-{label}"] = (ext, partial(_claiming, ext, side))
    for ext in ("png", "jpg"):  # in the limit, but the few KB cannot hold its pixels
        data[f"{ext}-claims-12000"] = (ext, partial(_claiming, ext, 12_000))
    data["png-claims-zero"] = ("png", lambda: _png_size(encode("png"), 0, 0))
    data["png-claims-1xmax"] = ("png", lambda: _png_size(encode("png"), 1, 2**31 - 1))
    data["bmp-claims-negative"] = ("bmp", lambda: _bmp_size(encode("bmp"), -40, -2**31))
    data["png-bomb"] = ("png", lambda: png_bomb(BOMB_SIDE))
    data["webp-bomb"] = ("webp", lambda: webp_bomb(16_383))
    data["tif-bomb"] = ("tif", lambda: tiff_bomb(BOMB_SIDE))
    noise = bytes(np.random.default_rng(7).integers(0, 256, 4096, np.uint8))
    data |= {
        "html-as-png": ("png", b"<!DOCTYPE html>\n<html><head><title>x</title></head><body><img src=x></body></html>\n"),
        "text-as-jpg": ("jpg", b"just some notes\nnot an image at all\n"),
        "json-as-webp": ("webp", b'{"width": 60000, "height": 60000}'),
        "pdf-as-tif": ("tif", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"),
        "svg-as-png": ("png", b'<svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/passwd"/></svg>'),
        "noise-as-png": ("png", noise),
        "noise-as-bmp": ("bmp", b"BM" + noise),
        "signature-only-png": ("png", b"\x89PNG\r\n\x1a\n"),
        "empty-png": ("png", b""),
        "one-byte-jpg": ("jpg", b"\xff"),
        "pth-as-png": ("png", REFERENCE_G.read_bytes),
        "png-as-jpg": ("jpg", lambda: encode("png")),
    }
    cases = {case: _bytes_file(f"{case}.{ext}", content) for case, (ext, content) in data.items()}
    for path in sorted(BAD_FILES.iterdir()):  # the committed corpus of broken and odd files
        if path.suffix not in (".md", ".py"):
            cases["bad-" + "".join(c if c.isascii() and c.isalnum() else "_" for c in path.stem)] = (
                _bytes_file(path.name, path.read_bytes))
    for key in HOSTILE_NAMES:
        cases[f"image-name-{key}"] = _named_photo(hostile_name(key, ".png"))
    cases["image-name-max"] = _named_photo(name_max(".png"))
    cases["image-name-max-utf8"] = _named_photo(name_max(".png", "한"))
    cases["image-name-max-jpeg"] = _named_photo(name_max(".jpeg", "j"), "jpg")
    cases["image-name-max-gif"] = _named_photo(name_max(".gif", "g"), "gif")  # written back as .png: the same length
    cases["image-name-upper"] = _named_photo("PHOTO.PNG")
    for kind in ("folder", "loop", "dangling"):
        cases[f"{kind}-png"] = _special(kind, f"{kind}.png")
    return cases


def _special_cases() -> dict[str, Writer]:
    """Entries that are not files and never end: a FIFO (opening it for reading waits for a
    writer) and a link to /dev/zero (endless bytes), named like an image or a model file. Kept
    apart from the other cases: a reader that waits on one would stall every folder job."""
    return {f"{kind}{suffix.replace('.', '-')}": _special(kind, f"{kind}{suffix}")
            for kind in ("fifo", "dev-zero") for suffix in (".png", ".pth", ".safetensors")}


MODEL_CASES: dict[str, Writer] = _model_cases()
IMAGE_CASES: dict[str, Writer] = _image_cases()
SPECIAL_CASES: dict[str, Writer] = _special_cases()
# The cases whose file is honest (a valid model file, checkpoint or photo) and hostile only in its
# name or its card's text: what takes such a file must succeed with it.
HONEST: frozenset[str] = frozenset(
    [c for c in MODEL_CASES if c.startswith(("valid-", "model-name-", "pth-name-"))]
    + [f"card-{label}" for label in TEXT_CARDS]
    + [c for c in IMAGE_CASES if c.endswith("-valid") or c.startswith("image-name-")])
