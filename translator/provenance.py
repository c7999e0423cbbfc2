"""The settings an output was made with, carried inside the image file and read back.

A `Provenance` records what made an output — the tool's version, the model (its name, file name
and sha256), the direction, the strength, every inference option, the precision that ran, the
output format and quality, and when — so that dropping the image on the app restores them, and
a folder of outputs says how it was made years later.

In the file it is JSON (with `format_version`) under the key `image-translator`:
- PNG (8 and 16 bits): an uncompressed iTXt chunk right after IHDR;
- JPEG and WebP, and 8-bit TIFF: an XMP packet whose `imgtr:settings` element holds the JSON;
- 16-bit TIFF (encoded by OpenCV, which writes no extra tags) and BMP cannot carry it: they are
  written without, and `read_settings` gives None for them.

Reading never trusts the file: it walks the container's chunks or markers itself (no pixel is
decoded, no XML parser runs), reads at most `MAX_SETTINGS_BYTES`, accepts plain JSON only
(no NaN, no nesting beyond what the format has) and checks every known field's type and range;
unknown keys are ignored (a newer version's additions). Anything else gives None with a log line.

The model file's name is recorded without its folder: a shared image should not tell where its
maker keeps files.
"""
from __future__ import annotations

import dataclasses
import io
import json
import logging
import math
import os
import re
import struct
import threading
import warnings
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar
from xml.sax.saxutils import escape, unescape

from PIL import Image

from translator import __version__
from translator._fs import open_regular, sha256_of
from translator.choices import DEVICES, DIRECTIONS, FORMAT_SUFFIXES, MODES, PRECISIONS, TILE_STATS, Direction, parse_tile
from translator.errors import TranslatorError
from translator.paths import model_search_dirs

if TYPE_CHECKING:  # inference writes through imaging, which writes these records: types only, no import cycle
    from translator.inference import InferenceOptions

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
KEY = "image-translator"  # the PNG text key, and the `tool` field's value
MAX_SETTINGS_BYTES = 64 * 1024  # far more than a record takes (~1 KB); a larger block is refused unread
_MAX_CHUNKS = 100_000  # chunks or markers walked in one file before giving up
_MAX_TEXT = 512  # characters in one text field
_MAX_OPTIONS = 64

OptionValue = str | int | float | bool | None
OptionsT = TypeVar("OptionsT")

_XMP_NS = "https://github.com/image-translator/ns/settings/1.0/"
_XMP_ELEMENT = re.compile(rb"<imgtr:settings>(.*?)</imgtr:settings>", re.DOTALL)
_XMP_PREFIX = b"http://ns.adobe.com/xap/1.0/\x00"  # a JPEG APP1 segment holding XMP starts so
_SHA256 = re.compile(r"[0-9a-f]{64}")


class SettingsError(ValueError):
    """A settings block that is not what this tool writes (wrong type, range or shape)."""


# ---------------------------------------------------------------------------------------- the record


def _check_option(name: str, value: object) -> OptionValue:
    """`value` if it is a valid value of the inference option `name`; unknown names take any
    JSON scalar (a newer version's option: kept, never applied). Raises SettingsError."""
    def fail(what: str) -> SettingsError:
        return SettingsError(f"option {name}: {what}, not {value!r:.80}")

    def integer(lo: int, optional: bool) -> int | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value < 2**31:
            raise fail(f"expected a whole number >= {lo}")
        return value

    if name == "device":
        if not isinstance(value, str) or not (value in DEVICES or re.fullmatch(r"cuda:[0-9]{1,2}", value)):
            raise fail(f"expected one of {', '.join(DEVICES)} or cuda:N")
        return value
    choices = {"precision": PRECISIONS, "mode": MODES, "tile_stats": TILE_STATS}.get(name)
    if choices is not None:
        if value not in choices:
            raise fail(f"expected one of {', '.join(choices)}")
        return value
    if name == "tile":
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise fail("expected auto, off or a size in pixels")
        try:
            return parse_tile(value)
        except ValueError as exc:
            raise fail(str(exc)) from None
    bounds = {"seed": (0, False), "workers": (0, False), "overlap": (0, True), "memory_budget_mb": (1, True),
              "resize": (1, True), "batch_size": (1, True)}
    if name in bounds:
        return integer(*bounds[name])
    return _scalar(name, value)


def _scalar(name: str, value: object) -> OptionValue:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, str) and len(value) <= _MAX_TEXT:
        return value
    raise SettingsError(f"{name}: expected a number, a short text or null, not {type(value).__name__}")


def _text(d: Mapping[str, object], key: str, *, optional: bool = False) -> str | None:
    value = d.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise SettingsError(f"{key}: expected a text of at most {_MAX_TEXT} characters, not {value!r:.80}")
    return value


@dataclass(frozen=True)
class Provenance:
    """What made an output: see the module docstring. Build with `from_options`."""

    model: str  # the model's name (its card's, or the file's stem)
    model_file: str  # the model file's name, without its folder
    model_sha256: str | None  # of the whole model file; None when it could not be read
    direction: Direction | None  # None: the model's own
    strength: float = 1.0
    options: dict[str, OptionValue] = field(default_factory=dict)  # the InferenceOptions fields, by name
    precision_used: str | None = None  # what ran (`auto` resolved, fallbacks taken)
    output_format: str | None = None  # None: each input's own
    quality: int | None = None  # JPEG/WebP quality
    created: str = ""  # ISO 8601, UTC
    tool_version: str = __version__
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.direction is not None and self.direction not in DIRECTIONS:
            raise SettingsError(f"direction: expected one of {', '.join(DIRECTIONS)}, not {self.direction!r:.80}")
        if isinstance(self.strength, bool) or not isinstance(self.strength, int | float) or \
                not math.isfinite(self.strength) or not 0 <= self.strength <= 1:
            raise SettingsError(f"strength: expected a number from 0 to 1, not {self.strength!r:.80}")
        if self.model_sha256 is not None and not _SHA256.fullmatch(self.model_sha256):
            raise SettingsError(f"model sha256: expected 64 hexadecimal digits, not {self.model_sha256!r:.80}")
        if self.output_format is not None and self.output_format not in FORMAT_SUFFIXES:
            raise SettingsError(f"output format: expected one of {', '.join(FORMAT_SUFFIXES)}, not {self.output_format!r:.80}")
        if self.quality is not None and (isinstance(self.quality, bool) or not isinstance(self.quality, int)
                                         or not 1 <= self.quality <= 100):
            raise SettingsError(f"quality: expected a whole number from 1 to 100, not {self.quality!r:.80}")
        if not isinstance(self.options, dict) or len(self.options) > _MAX_OPTIONS:
            raise SettingsError(f"options: expected at most {_MAX_OPTIONS} named values")
        for name, value in self.options.items():
            if not isinstance(name, str) or not re.fullmatch(r"[a-z_][a-z0-9_]{0,63}", name):
                raise SettingsError(f"options: {name!r:.80} is not an option name")
            _check_option(name, value)

    @classmethod
    def from_options(cls, options: InferenceOptions, *, model_path: Path, direction: Direction | None, strength: float,
                     model_name: str | None = None, output_format: str | None = None, quality: int | None = None,
                     precision_used: str | None = None, created: datetime | None = None,
                     hash_model: bool = True) -> Provenance:
        """The record of a run with `options` (an `InferenceOptions`: every field is recorded) of
        the model file `model_path` (hashed once per file version, `model_sha256`; with
        `hash_model=False` only a hash already known is used, so the UI thread never reads a large file)."""
        recorded = {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}
        when = (created or datetime.now(timezone.utc)).astimezone(timezone.utc)
        return cls(
            model=model_name or Path(model_path).stem,
            model_file=Path(model_path).name,
            model_sha256=model_sha256(Path(model_path)) if hash_model else known_model_sha256(Path(model_path)),
            direction=direction,
            strength=float(strength),
            options={k: _check_option(k, v) for k, v in recorded.items()},
            precision_used=precision_used,
            output_format=None if output_format is None else output_format.lower().lstrip("."),
            quality=quality,
            created=when.isoformat(timespec="seconds"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written into files (and kept in the history)."""
        return {"tool": KEY, "format_version": self.format_version, "tool_version": self.tool_version,
                "created": self.created, "model": self.model, "model_file": self.model_file,
                "model_sha256": self.model_sha256, "direction": self.direction, "strength": self.strength,
                "options": dict(self.options), "precision_used": self.precision_used,
                "output_format": self.output_format, "quality": self.quality}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=True, allow_nan=False)

    @classmethod
    def from_dict(cls, d: object) -> Provenance:
        """The record in `d` (as `to_dict` wrote it); unknown keys are ignored, a known one of the
        wrong type or range raises `SettingsError`."""
        if not isinstance(d, dict):
            raise SettingsError(f"expected a JSON object, not {type(d).__name__}")
        if d.get("tool") != KEY:
            raise SettingsError(f"not written by {KEY} (tool: {d.get('tool')!r:.80})")
        version = d.get("format_version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise SettingsError(f"format_version: expected a whole number >= 1, not {version!r:.80}")
        if version > FORMAT_VERSION:
            log.info("settings of format %d (this version reads %d): reading the fields it knows", version, FORMAT_VERSION)
        options = d.get("options", {})
        if not isinstance(options, dict):
            raise SettingsError(f"options: expected a JSON object, not {type(options).__name__}")
        strength = d.get("strength", 1.0)
        return cls(
            model=_text(d, "model") or "",
            model_file=_text(d, "model_file") or "",
            model_sha256=_text(d, "model_sha256", optional=True),
            direction=_text(d, "direction", optional=True),  # type: ignore[arg-type]  # checked in __post_init__
            strength=strength,  # checked in __post_init__
            options=options,
            precision_used=_text(d, "precision_used", optional=True),
            output_format=_text(d, "output_format", optional=True),
            quality=d.get("quality"),  # checked in __post_init__
            created=_text(d, "created", optional=True) or "",
            tool_version=_text(d, "tool_version", optional=True) or "",
            format_version=version,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Provenance:
        """Parse what `to_json` wrote; SettingsError for anything else (too long, not JSON, wrong shape)."""
        if len(text) > MAX_SETTINGS_BYTES:
            raise SettingsError(f"the settings block is {len(text)} bytes, more than the {MAX_SETTINGS_BYTES} allowed")
        try:
            data = json.loads(text, parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise SettingsError(f"the settings block is not JSON ({str(exc):.120})") from None
        return cls.from_dict(data)

    def options_applied(self, base: OptionsT, keep: tuple[str, ...] = ("device", "workers")) -> OptionsT:
        """`base` (a frozen options dataclass) with the recorded options put in, except those in
        `keep` (the machine's own: a file from a GPU machine must not ask this one for CUDA).
        Options `base` does not have, or values it refuses, are skipped with a log line."""
        names = {f.name for f in dataclasses.fields(base)}  # type: ignore[arg-type]  # a dataclass, by contract
        out = base
        for name, value in self.options.items():
            if name in keep:
                continue
            if name not in names:
                log.info("settings: the option %s=%r is not known to this version; ignored", name, value)
                continue
            try:
                out = dataclasses.replace(out, **{name: value})  # type: ignore[type-var]
            except (TypeError, ValueError) as exc:
                log.warning("settings: ignoring %s=%r (%s)", name, value, exc)
        return out


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


# ------------------------------------------------------------------------------------- model files

_HASHES: dict[tuple[str, int, int], str] = {}
_HASHES_LOCK = threading.Lock()


def model_sha256(path: Path) -> str | None:
    """The sha256 of the file at `path` (None, logged, if it cannot be read). Remembered per
    (path, size, modification time), so a job or a drop hashes a large model once."""
    try:
        st = Path(path).stat()
        key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
        with _HASHES_LOCK:
            if key in _HASHES:
                return _HASHES[key]
        with os.fdopen(open_regular(Path(path), "a model file", TranslatorError), "rb") as f:
            digest = sha256_of(f)
    except (OSError, TranslatorError) as exc:
        log.warning("%s: cannot hash the model file (%s)", path, exc)
        return None
    with _HASHES_LOCK:
        _HASHES[key] = digest
    return digest


def known_model_sha256(path: Path) -> str | None:
    """The sha256 `model_sha256` already computed for the file as it is now, else None (reads nothing)."""
    try:
        st = Path(path).stat()
        key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    except OSError:
        return None
    with _HASHES_LOCK:
        return _HASHES.get(key)


def find_model(record: Provenance, dirs: list[Path] | None = None) -> tuple[Path, bool] | None:
    """The model file `record` names, in `dirs` (default: the shipped and user model folders):
    (path, True) for a file with its sha256, else (path, False) for one with its file name (the
    same model retrained, or changed since), else None. Files of the same name are hashed first."""
    files = [p for d in (dirs if dirs is not None else model_search_dirs()) if d.is_dir()
             for p in sorted(d.glob("*.safetensors"))]
    files.sort(key=lambda p: p.name != record.model_file)
    if record.model_sha256 is not None:
        for p in files:
            if model_sha256(p) == record.model_sha256:
                return p, True
    by_name = [p for p in files if p.name == record.model_file]
    return (by_name[0], False) if by_name else None


# ------------------------------------------------------------------------------ writing into files


def xmp_packet(settings: Provenance) -> bytes:
    """An XMP packet holding the settings' JSON (for JPEG, WebP and TIFF)."""
    body = escape(settings.to_json())
    return (f'<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            f'<rdf:Description rdf:about="" xmlns:imgtr="{_XMP_NS}"><imgtr:settings>{body}</imgtr:settings>'
            f'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>').encode("utf-8")


def png_with_settings(png: bytes, settings: Provenance) -> bytes:
    """The PNG `png` with an iTXt chunk holding the settings inserted right after its IHDR chunk."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("not a PNG stream")
    end = 8 + 12 + struct.unpack(">I", png[8:12])[0]
    # keyword, NUL, compression flag 0, method 0, no language, NUL, no translated keyword, NUL, text
    data = KEY.encode("latin-1") + b"\x00\x00\x00\x00\x00" + settings.to_json().encode("utf-8")
    chunk = struct.pack(">I", len(data)) + b"iTXt" + data + struct.pack(">I", zlib.crc32(b"iTXt" + data))
    return png[:end] + chunk + png[end:]


# ----------------------------------------------------------------------------- reading from files


def read_settings(path: Path) -> Provenance | None:
    """The settings an image file carries (PNG, JPEG, WebP, TIFF), or None: none there, a format
    that cannot carry them, or a block that is not what this tool writes (logged). Never raises
    for a file's contents; reads only the container's metadata, not the pixels."""
    path = Path(path)
    try:
        with os.fdopen(open_regular(path, "an image file", TranslatorError), "rb") as f:
            head = f.read(16)
            f.seek(0)
            if head.startswith(b"\x89PNG\r\n\x1a\n"):
                block = _png_block(f)
            elif head.startswith(b"\xff\xd8"):
                block = _xmp_settings(_jpeg_xmp(f))
            elif head.startswith(b"RIFF") and head[8:12] == b"WEBP":
                block = _xmp_settings(_webp_xmp(f))
            elif head.startswith((b"II*\x00", b"MM\x00*")):
                block = _xmp_settings(_tiff_xmp(f))
            else:
                return None
        if block is None:
            return None
        return Provenance.from_json(block)
    except SettingsError as exc:
        log.warning("%s: ignoring the settings it carries: %s", path, exc)
    except (OSError, TranslatorError, ValueError, SyntaxError, EOFError, struct.error, zlib.error, MemoryError,
            RecursionError, Image.DecompressionBombError) as exc:
        log.warning("%s: cannot read its settings (%s)", path, exc)
    return None


def _read_exactly(f: IO[bytes], n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise EOFError("the file ends inside a chunk")
    return data


def _png_block(f: IO[bytes]) -> bytes | None:
    """Our iTXt (or tEXt) chunk's text, walking the chunks by their lengths; None when absent."""
    f.seek(8)
    for _ in range(_MAX_CHUNKS):
        header = f.read(8)
        if len(header) < 8:
            return None
        length, kind = struct.unpack(">I4s", header)
        if kind == b"IEND":
            return None
        if kind in (b"iTXt", b"tEXt", b"zTXt") and length > MAX_SETTINGS_BYTES + 80:
            if f.read(len(KEY) + 1) == KEY.encode() + b"\x00":
                raise SettingsError(f"a settings chunk of {length} bytes, more than the {MAX_SETTINGS_BYTES} allowed")
            f.seek(length - len(KEY) - 1 + 4, io.SEEK_CUR)
            continue
        if kind in (b"iTXt", b"tEXt"):
            data = _read_exactly(f, length)
            f.seek(4, io.SEEK_CUR)  # CRC
            keyword, sep, rest = data.partition(b"\x00")
            if keyword != KEY.encode() or not sep:
                continue
            if kind == b"tEXt":
                return rest
            if len(rest) < 2:
                raise SettingsError("a truncated iTXt chunk")
            compressed, text = rest[0], rest[2:].split(b"\x00", 2)
            if len(text) < 3:
                raise SettingsError("a truncated iTXt chunk")
            body = text[2]
            if compressed:  # not what we write, but valid PNG: inflate, bounded
                inflater = zlib.decompressobj()
                body = inflater.decompress(body, MAX_SETTINGS_BYTES + 1)
                if len(body) > MAX_SETTINGS_BYTES:
                    raise SettingsError("the compressed settings block inflates past the size allowed")
            return body
        f.seek(length + 4, io.SEEK_CUR)
    return None


def _jpeg_xmp(f: IO[bytes]) -> bytes | None:
    """The XMP packet of a JPEG's APP1 segment, walking the markers up to the image data."""
    f.seek(2)
    for _ in range(_MAX_CHUNKS):
        byte = f.read(1)
        if byte != b"\xff":
            return None  # not at a marker: a damaged file; no settings
        marker = f.read(1)
        while marker == b"\xff":  # fill bytes
            marker = f.read(1)
        if not marker or marker in (b"\xd9", b"\xda"):  # end of image, start of scan: no more metadata
            return None
        if marker == b"\x01" or b"\xd0" <= marker <= b"\xd7":
            continue  # markers without a length
        (length,) = struct.unpack(">H", _read_exactly(f, 2))
        if length < 2:
            return None
        if marker == b"\xe1":
            data = _read_exactly(f, length - 2)
            if data.startswith(_XMP_PREFIX):
                return data[len(_XMP_PREFIX):]
        else:
            f.seek(length - 2, io.SEEK_CUR)
    return None


def _webp_xmp(f: IO[bytes]) -> bytes | None:
    """The payload of a WebP's `XMP ` chunk, walking the RIFF chunks by their sizes."""
    f.seek(12)
    for _ in range(_MAX_CHUNKS):
        header = f.read(8)
        if len(header) < 8:
            return None
        kind, size = struct.unpack("<4sI", header)
        if kind == b"XMP ":
            if size > MAX_SETTINGS_BYTES * 2:
                raise SettingsError(f"an XMP chunk of {size} bytes, more than the size allowed")
            return _read_exactly(f, size)
        f.seek(size + (size & 1), io.SEEK_CUR)
    return None


def _tiff_xmp(f: IO[bytes]) -> bytes | None:
    """The XMP tag (700) of a TIFF's first image; Pillow reads the directory, not the pixels."""
    with warnings.catch_warnings():  # Pillow warns of a damaged directory: we give None or what it found
        warnings.simplefilter("ignore")
        with Image.open(f) as im:
            tags: Any = getattr(im, "tag_v2", {})
            # Pillow reads each tag's data as the file holds it: a claim past the file's end fails there.
            value = tags.get(700)
    if isinstance(value, str):
        value = value.encode("utf-8", "replace")
    return value if isinstance(value, bytes) else None


def _xmp_settings(packet: bytes | None) -> bytes | None:
    """The JSON inside our element of an XMP packet (no XML parser: only the five entities
    `xmp_packet` escapes are undone), or None."""
    if packet is None:
        return None
    if len(packet) > MAX_SETTINGS_BYTES * 2:
        raise SettingsError(f"an XMP packet of {len(packet)} bytes, more than the size allowed")
    match = _XMP_ELEMENT.search(packet)
    if match is None:
        return None
    text = unescape(match.group(1).decode("utf-8"), {"&quot;": '"', "&apos;": "'"})
    return text.encode("utf-8")
