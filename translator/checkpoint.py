"""Our model file: safetensors tensors + a JSON model card in the metadata.

A card says everything needed to rebuild the networks (architecture, norm, filters, channels),
what the model does (task, kind, direction) and how it was made. Tensors are stored as
`<role>.<state-dict key>`, roles being `g`/`d` for pix2pix and `g_ab`/`g_ba`/`d_a`/`d_b` for
CycleGAN (`d_a` judges domain A). Loading builds the nets from the card and loads with
`strict=True`; nothing in the file is executed.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_origin, get_type_hints

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_save
from torch import nn

from translator._fs import open_regular, write_bytes_atomic
from translator.choices import DIRECTIONS, KINDS, check_choice
from translator.choices import Direction as Direction, Kind as Kind  # re-exported: other modules import them from here
from translator.errors import ArchitectureMismatch, CheckpointError
from translator.networks import DiscriminatorSpec, GeneratorSpec, build_discriminator, build_generator
from translator.paths import model_search_dirs

log = logging.getLogger(__name__)

CARD_KEY = "translator.card"
FORMAT_VERSION = 1
MODEL_SUFFIX = ".safetensors"

GENERATOR_ROLES: dict[str, tuple[str, ...]] = {"pix2pix": ("g",), "cyclegan": ("g_ab", "g_ba")}
DISCRIMINATOR_ROLES: dict[str, tuple[str, ...]] = {"pix2pix": ("d",), "cyclegan": ("d_a", "d_b")}


_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


@dataclass(frozen=True)
class InputStyle:
    """How a model's input looks, so a drawing canvas can draw like its training inputs.

    `ink` and `paper` are `#rrggbb` colours; `line_width` is a typical stroke width in pixels at
    the card's `image_size` (line art made by `translator pairs` varies it around this).
    """

    description: str  # e.g. "black pencil lines on white"
    ink: str = "#000000"
    paper: str = "#ffffff"
    line_width: float = 2.0

    def __post_init__(self) -> None:
        for name in ("ink", "paper"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _HEX_COLOUR.fullmatch(value):
                raise ValueError(f"input_style.{name} must be a colour like #000000, not {value!r}")
        if not isinstance(self.line_width, (int, float)) or isinstance(self.line_width, bool) or not 0 < self.line_width <= 1000:
            raise ValueError(f"input_style.line_width must be a positive number of pixels, not {self.line_width!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"description": self.description, "ink": self.ink, "paper": self.paper, "line_width": self.line_width}

    @classmethod
    def from_dict(cls, d: Any, where: str = "input_style") -> InputStyle:
        """An input style from JSON, every field type-checked (a card is untrusted input)."""
        _typed(where, d, dict)
        unknown = sorted(k for k in d if k not in ("description", "ink", "paper", "line_width"))
        if unknown:
            raise ValueError(f"{where} has unknown field(s) {', '.join(unknown)} (a newer tool's card?)")
        if "description" not in d:
            raise ValueError(f"{where} lacks its description")
        width = d.get("line_width", 2.0)
        if not isinstance(width, (int, float)) or isinstance(width, bool):
            raise ValueError(f"{where}.line_width must be a number, not {_shown(width)}")
        return cls(
            description=_typed(f"{where}.description", d["description"], str),
            ink=_typed(f"{where}.ink", d.get("ink", "#000000"), str),
            paper=_typed(f"{where}.paper", d.get("paper", "#ffffff"), str),
            line_width=float(width),
        )


@dataclass(frozen=True)
class ModelCard:
    """What a model file is. `generators`/`discriminators` map role -> spec for the nets present.

    pix2pix: `g` translates `direction` (A→B or B→A of its training data), `d` (optional) judges
    cat(input, image). CycleGAN: `g_ab` maps A→B, `g_ba` B→A (either may be absent for a
    one-direction import); `d_a`/`d_b` judge domain A/B.
    """

    name: str
    kind: Kind
    generators: dict[str, GeneratorSpec]
    discriminators: dict[str, DiscriminatorSpec] = field(default_factory=dict)
    direction: Direction = "AtoB"
    task: str = ""
    domains: tuple[str, str] = ("A", "B")
    image_size: int = 256  # the training crop size
    source: str = ""
    training: dict[str, Any] = field(default_factory=dict)  # recipe, steps, validation figures
    notes: str = ""
    input_style: InputStyle | None = None  # how inputs look (line art); None: not known
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, KINDS)
        check_choice("direction", self.direction, DIRECTIONS)
        if not self.generators:
            raise ValueError("a model needs at least one generator")
        for role in self.generators:
            if role not in GENERATOR_ROLES[self.kind]:
                raise ValueError(f"{self.kind} generators are {GENERATOR_ROLES[self.kind]}, not {role!r}")
        for role in self.discriminators:
            if role not in DISCRIMINATOR_ROLES[self.kind]:
                raise ValueError(f"{self.kind} discriminators are {DISCRIMINATOR_ROLES[self.kind]}, not {role!r}")

    def to_json(self) -> str:
        d = {
            "format_version": self.format_version,
            "name": self.name,
            "kind": self.kind,
            "task": self.task,
            "direction": self.direction,
            "domains": list(self.domains),
            "image_size": self.image_size,
            "generators": {r: s.to_dict() for r, s in self.generators.items()},
            "discriminators": {r: s.to_dict() for r, s in self.discriminators.items()},
            "source": self.source,
            "training": self.training,
            "notes": self.notes,
        }
        if self.input_style is not None:
            d["input_style"] = self.input_style.to_dict()
        return json.dumps(d, indent=1, sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        """The card in `text`, every field type-checked: a file's card is untrusted input.

        Raises `ValueError` naming the field at fault (malformed JSON, a field of the wrong type,
        an unknown spec field, values the specs refuse), `CheckpointError` for a newer format.
        """
        try:
            d = json.loads(text)
        except RecursionError:  # json recurses once per nesting level
            raise ValueError("the JSON is nested too deeply to be a model card") from None
        if not isinstance(d, dict):
            raise ValueError(f"the card must be a JSON object, not {_json_type(d)}")
        version = _typed("format_version", d.get("format_version", 1), int)
        if version > FORMAT_VERSION:
            raise CheckpointError(f"model card version {version} is newer than this tool understands ({FORMAT_VERSION}); update the tool")
        if "name" not in d or "kind" not in d or "generators" not in d:
            raise ValueError("the card lacks one of its required fields name, kind, generators")
        generators = _typed("generators", d["generators"], dict)
        discriminators = _typed("discriminators", d.get("discriminators", {}), dict)
        domains = _typed("domains", d.get("domains", ["A", "B"]), list)
        if len(domains) != 2 or not all(isinstance(x, str) for x in domains):
            raise ValueError(f"domains must be a list of two names, not {_shown(domains)}")
        return cls(
            name=_typed("name", d["name"], str),
            kind=_typed("kind", d["kind"], str),  # checked in __post_init__
            generators={r: _spec_from_json(GeneratorSpec, f"generators.{r}", s) for r, s in generators.items()},
            discriminators={r: _spec_from_json(DiscriminatorSpec, f"discriminators.{r}", s) for r, s in discriminators.items()},
            direction=_typed("direction", d.get("direction", "AtoB"), str),  # checked in __post_init__
            task=_typed("task", d.get("task", ""), str),
            domains=(domains[0], domains[1]),
            image_size=_typed("image_size", d.get("image_size", 256), int),
            source=_typed("source", d.get("source", ""), str),
            training=_typed("training", d.get("training", {}), dict),
            notes=_typed("notes", d.get("notes", ""), str),
            input_style=None if d.get("input_style") is None else InputStyle.from_dict(d["input_style"]),
            format_version=version,
        )

    def directions(self) -> list[Direction]:
        """The translations this model can do, in card terms."""
        if self.kind == "pix2pix":
            return [self.direction]
        out: list[Direction] = []
        if "g_ab" in self.generators:
            out.append("AtoB")
        if "g_ba" in self.generators:
            out.append("BtoA")
        return out


# Integers in a card are layer counts and channel numbers; none of a real network comes near this.
# The bound keeps absurd values (1e30 filters) out of arithmetic that would overflow torch's int64.
_CARD_INT_MAX = 2**31 - 1
_JSON_NAMES: dict[type, str] = {int: "an integer", str: "a string", bool: "true or false", dict: "an object", list: "a list"}


def _json_type(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def _shown(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _typed(where: str, value: Any, want: type) -> Any:
    """`value` if it is a JSON value of type `want` (an int: not a boolean, within ±2**31), else a
    `ValueError` naming the card field `where`."""
    ok = isinstance(value, want) and not (want is int and isinstance(value, bool))
    if ok and want is int and not -_CARD_INT_MAX <= value <= _CARD_INT_MAX:
        raise ValueError(f"{where} is out of range ({_shown(value)})")
    if not ok:
        raise ValueError(f"{where} must be {_JSON_NAMES[want]}, not {_shown(value)}")
    return value


def _json_fields(cls: type) -> dict[str, type]:
    """A spec dataclass's fields and the JSON type each takes (a `Literal` of names: str)."""
    return {k: str if get_origin(t) is Literal else t for k, t in get_type_hints(cls).items()}


_SPEC_FIELDS: dict[type, dict[str, type]] = {cls: _json_fields(cls) for cls in (GeneratorSpec, DiscriminatorSpec)}


def _spec_from_json(cls: type[GeneratorSpec] | type[DiscriminatorSpec], where: str, d: Any) -> Any:
    """A spec from a card's JSON object: fields known and of their type, then the spec's own checks."""
    fields = _SPEC_FIELDS[cls]
    _typed(where, d, dict)
    unknown = sorted(k for k in d if k not in fields)
    if unknown:
        raise ValueError(f"{where} has unknown field(s) {', '.join(unknown)} (a newer tool's card?)")
    for k, v in d.items():
        _typed(f"{where}.{k}", v, fields[k])
        if fields[k] is int and v < 0:
            raise ValueError(f"{where}.{k} must not be negative ({v})")
    return cls.from_dict(d)


@dataclass
class Model:
    """A card and its networks (on the CPU, in float32, until the caller moves them)."""

    card: ModelCard
    nets: dict[str, nn.Module]

    def generator(self, direction: Direction | None = None) -> tuple[nn.Module, GeneratorSpec]:
        """The generator for a direction (None: the model's first/default one)."""
        role = self.generator_role(direction)
        return self.nets[role], self.card.generators[role]

    def generator_role(self, direction: Direction | None = None) -> str:
        if self.card.kind == "pix2pix":
            if direction not in (None, self.card.direction):
                raise CheckpointError(f"{self.card.name}: this pix2pix model translates {self.card.direction} only")
            return "g"
        available = self.card.directions()
        direction = direction or available[0]
        if direction not in available:
            raise CheckpointError(f"{self.card.name}: this CycleGAN model has no {direction} generator (it has {', '.join(available)})")
        return "g_ab" if direction == "AtoB" else "g_ba"

    def discriminator_for_output(self, direction: Direction | None = None) -> tuple[nn.Module, DiscriminatorSpec] | None:
        """The discriminator that judges this direction's outputs, if the model carries it."""
        if self.card.kind == "pix2pix":
            role = "d"
        else:
            role = "d_b" if self.generator_role(direction) == "g_ab" else "d_a"
        if role not in self.nets:
            return None
        return self.nets[role], self.card.discriminators[role]


def build_model(card: ModelCard, *, seed: int | None = None) -> Model:
    """Fresh, initialised networks for a card."""
    nets: dict[str, nn.Module] = {}
    for i, (role, gspec) in enumerate(card.generators.items()):
        nets[role] = build_generator(gspec, seed=None if seed is None else seed + i)
    for i, (role, dspec) in enumerate(card.discriminators.items()):
        nets[role] = build_discriminator(dspec, seed=None if seed is None else seed + 100 + i)
    return Model(card, nets)


def save_model(model: Model, path: Path, *, dtype: torch.dtype = torch.float32) -> Path:
    """Write `model` atomically; floating tensors stored as `dtype` (fp16 halves the file)."""
    tensors: dict[str, torch.Tensor] = {}
    for role, net in model.nets.items():
        for key, t in net.state_dict().items():
            t = t.detach().cpu()
            if t.is_floating_point():
                t = t.to(dtype)
            tensors[f"{role}.{key}"] = t.contiguous()
    data = safetensors_save(tensors, metadata={CARD_KEY: model.card.to_json(), "format": "pt"})
    path = Path(path)
    write_bytes_atomic(path, data)
    log.info("saved %s (%d tensors)", path, len(tensors))
    return path


@contextlib.contextmanager
def open_model_file(path: Path) -> Iterator[Any]:
    """`safe_open` of a model file, for regular files only (a named pipe named like a model would
    block safetensors' reader in native code, for good): anything else is a `CheckpointError`. A
    name that is not UTF-8, which safetensors refuses, is opened through its file descriptor."""
    fd = open_regular(path, "a model file", CheckpointError)
    try:
        name = str(path)
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            name = f"/dev/fd/{fd}"  # Linux and macOS; Windows names are always Unicode
        with safe_open(name, framework="pt") as f:
            yield f
    finally:
        os.close(fd)


def read_card(path: Path) -> ModelCard:
    """The card of a model file, without loading its tensors. Raises `CheckpointError` naming the
    file (and the card field at fault) for anything but a model file with a well-formed card."""
    path = Path(path)
    try:
        with open_model_file(path) as f:
            meta = f.metadata() or {}
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such model file") from None
    except (SafetensorError, OSError, ValueError) as exc:
        hint = " (a reference .pth checkpoint? bring it in with `translator import`)" if path.suffix in (".pth", ".pt") else ""
        raise CheckpointError(f"{path}: not a readable model file{hint}: {exc}") from None
    if CARD_KEY not in meta:
        raise CheckpointError(f"{path}: a safetensors file without a model card; it was not written by this tool")
    try:
        return ModelCard.from_json(meta[CARD_KEY])
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:  # from_json names the field; ValueError covers bad JSON
        raise CheckpointError(f"{path}: the model card is malformed ({exc})") from None


def load_model(path: Path, *, roles: tuple[str, ...] | None = None) -> Model:
    """Load a model file: the nets its card describes, with `strict=True` state dicts.

    `roles` limits which nets are built (e.g. only `("g",)` for inference without a verdict).
    A file is untrusted: before a network is built, the tensors' names, shapes and kinds (read
    from the header, nothing allocated) are checked against the layout the card describes (built
    on the meta device). A card that disagrees with its tensors — another architecture, other
    filter or channel counts, tensors missing, extra or of no network, a network far larger than
    the file — raises `ArchitectureMismatch` naming the tensors, expected vs found, and the card
    field that probably differs; so memory is only ever allocated for tensors the file holds.
    A network beyond `check_spec_bounds`, or a tensor holding NaN or Inf, is refused too.
    Every failure is a `CheckpointError` naming the file.
    """
    path = Path(path)
    card = read_card(path)
    specs: dict[str, GeneratorSpec | DiscriminatorSpec] = {**card.generators, **card.discriminators}
    wanted = [r for r in specs if roles is None or r in roles]
    nets: dict[str, nn.Module] = {}
    try:
        with open_model_file(path) as f:
            by_role = _tensors_by_role(path, specs, {k: _header_entry(f, k) for k in f.keys()})
            for role in wanted:
                spec, source = specs[role], f"{path} [{role}]"
                check_layout(spec, by_role[role], source=source)
                check_spec_bounds(spec, source=source)
                # Copied out of the file's memory map: a tensor left in it would keep the whole
                # mapping (every page read) resident for as long as the model lives.
                state = {k: f.get_tensor(f"{role}.{k}").clone() for k in by_role[role]}
                check_finite(state, source=source)
                net = empty_net(spec)
                load_state_dict_checked(net, state, spec, source=source)
                nets[role] = net
    except (SafetensorError, OSError) as exc:  # damaged tensor data, or a file changed since read_card
        raise CheckpointError(f"{path}: the tensor data cannot be read ({exc}); the file is damaged") from None
    return Model(card, nets)


# A tensor as a file's header describes it: (shape, holds floating-point numbers).
Layout = Mapping[str, tuple[tuple[int, ...], bool]]

# The deepest reference network has 9 residual blocks or 8 U-Net levels; a card claiming more than
# this is refused before anything is built (a hostile header can list very many tiny tensors).
_MAX_DEPTH = 256
_SHOW = 4  # how many offending tensors a message lists per category


def _header_entry(f: Any, key: str) -> tuple[tuple[int, ...], bool]:
    """A tensor's shape and kind from a safetensors header, without reading its data."""
    info = f.get_slice(key)
    dtype: str = info.get_dtype()
    return tuple(int(n) for n in info.get_shape()), dtype.startswith(("F", "BF"))


def _few(keys: list[str]) -> str:
    return ", ".join(keys[:_SHOW]) + (f", … ({len(keys) - _SHOW} more)" if len(keys) > _SHOW else "")


def _tensors_by_role(
    path: Path, specs: Mapping[str, GeneratorSpec | DiscriminatorSpec], layout: Layout
) -> dict[str, dict[str, tuple[tuple[int, ...], bool]]]:
    """The file's tensors per card role (keys without the `<role>.` prefix). Tensors of no role,
    or a role without tensors, mean the card and the tensors disagree: `ArchitectureMismatch`."""
    by_role: dict[str, dict[str, tuple[tuple[int, ...], bool]]] = {r: {} for r in specs}
    stray: list[str] = []
    for key, entry in layout.items():
        role, _, rest = key.partition(".")
        if role in by_role and rest:
            by_role[role][rest] = entry
        else:
            stray.append(key)
    if stray:
        raise ArchitectureMismatch(
            f"{path}: {len(stray)} tensor(s) belong to no network the card lists ({', '.join(specs)}): "
            f"{_few(stray)}; the card and the tensors disagree"
        )
    empty = [r for r, tensors in by_role.items() if not tensors]
    if empty:
        raise ArchitectureMismatch(
            f"{path}: the card lists {', '.join(empty)} but the file holds no tensors for "
            f"{'it' if len(empty) == 1 else 'them'} ({', '.join(r + '.*' for r in empty)})"
        )
    return by_role


def _depth(spec: GeneratorSpec | DiscriminatorSpec) -> int:
    """Levels, blocks or layers: each holds at least one tensor of the state dict."""
    if isinstance(spec, GeneratorSpec):
        return spec.num_downs if spec.family == "unet" else spec.n_blocks
    return spec.n_layers if spec.arch == "patch" else 0


def empty_net(spec: GeneratorSpec | DiscriminatorSpec) -> nn.Module:
    """The network of `spec` on the meta device, for weights that follow (`load_state_dict_checked`)
    or for its layout: shapes and dtypes without allocating or initialising anything."""
    return build_generator(spec, empty=True) if isinstance(spec, GeneratorSpec) else build_discriminator(spec, empty=True)


def _meta_layout(spec: GeneratorSpec | DiscriminatorSpec) -> dict[str, tuple[tuple[int, ...], bool]]:
    return {k: (tuple(t.shape), t.dtype.is_floating_point) for k, t in empty_net(spec).state_dict().items()}


def check_layout(spec: GeneratorSpec | DiscriminatorSpec, got: Layout, *, source: str) -> None:
    """Raise `ArchitectureMismatch` unless the tensors `got` (key -> (shape, is float), as in a
    file's header) are exactly the state dict `spec` builds; nothing of `spec`'s size is allocated."""
    depth = _depth(spec)
    if depth > min(len(got), _MAX_DEPTH):
        why = f"the file holds {len(got)} tensor(s) for it" if depth > len(got) else f"this tool builds at most {_MAX_DEPTH}"
        raise ArchitectureMismatch(
            f"{source}: the card describes {describe_spec(spec)}, {depth} levels or blocks deep, but "
            f"{why} -> check arch{_looks_like(spec, got)}"
        )
    try:
        expected = _meta_layout(spec)
    except (ValueError, RuntimeError, TypeError, OverflowError) as exc:  # torch's layers refusing the numbers
        raise ArchitectureMismatch(f"{source}: the card describes a network that cannot be built ({describe_spec(spec)}: {exc})") from None
    shapes = {k: shape for k, (shape, _f) in got.items()}
    not_float = [k for k, (_s, is_float) in expected.items() if is_float and k in got and not got[k][1]]
    parts: list[str] = []
    if set(expected) != set(got) or any(expected[k][0] != shapes[k] for k in expected if k in got):
        parts.append(mismatch_hint({k: shape for k, (shape, _f) in expected.items()}, shapes))
    if not_float:
        parts.append(f"{len(not_float)} tensor(s) hold integers or booleans where weights belong: {_few(not_float)}")
    if parts:
        raise ArchitectureMismatch(f"{source}: weights do not fit {describe_spec(spec)}: {'; '.join(parts)}{_looks_like(spec, got)}")


# What a file may declare, whatever it holds: far above any real pix2pix/CycleGAN network (unet_256
# with 64 filters has 54 M parameters, resnet_9blocks 11 M), far below what exhausts a machine.
MAX_FILTERS = 1024
MAX_UNET_LEVELS = 10  # unet_1024
MAX_RESNET_BLOCKS = 64
MAX_PATCH_LAYERS = 10
MAX_CHANNELS = 4  # of an image: RGBA at most; a pix2pix discriminator takes twice that
MAX_PARAMETERS = 500_000_000  # 2 GB in float32


def check_spec_bounds(spec: GeneratorSpec | DiscriminatorSpec, *, source: str) -> None:
    """Raise `CheckpointError` unless `spec` lies within the sane range above: filters, depth,
    channels, then its parameter count (counted on the meta device, nothing allocated). Checked
    before a network is built, so a file cannot make the tool allocate more than this range."""
    if isinstance(spec, GeneratorSpec):
        depth, most, what = (
            (spec.num_downs, MAX_UNET_LEVELS, "U-Net levels") if spec.family == "unet"
            else (spec.n_blocks, MAX_RESNET_BLOCKS, "residual blocks")
        )
        checks = [(spec.base_filters, MAX_FILTERS, "filters"), (depth, most, what),
                  (spec.in_channels, MAX_CHANNELS, "input channels"), (spec.out_channels, MAX_CHANNELS, "output channels")]
    else:
        checks = [(spec.base_filters, MAX_FILTERS, "filters"), (spec.in_channels, 2 * MAX_CHANNELS, "input channels")]
        if spec.arch == "patch":
            checks.append((spec.n_layers, MAX_PATCH_LAYERS, "layers"))
    for value, most, what in checks:
        if value > most:
            raise CheckpointError(
                f"{source}: {describe_spec(spec)} has {value:,} {what}; this tool loads at most {most:,}, "
                "so the file is not a pix2pix or CycleGAN network it can use"
            )
    count = sum(math.prod(shape) for shape, is_float in _meta_layout(spec).values() if is_float)
    if count > MAX_PARAMETERS:
        raise CheckpointError(
            f"{source}: {describe_spec(spec)} has {count:,} parameters; this tool loads at most {MAX_PARAMETERS:,} "
            f"({MAX_PARAMETERS * 4 // 10**9} GB in float32), so the file is not a network it can use"
        )


def check_finite(tensors: Mapping[str, torch.Tensor], *, source: str) -> None:
    """Raise `CheckpointError` naming the first floating tensor that holds NaN or Inf: such weights
    turn every output black (or NaN), so a model with them is refused rather than run."""
    for key, t in tensors.items():
        # A sum is NaN or Inf when an element is, and costs a tenth of a per-element mask; it can
        # also overflow, so the exact check decides when the sum is not finite.
        if (t.is_floating_point() and not bool(torch.isfinite(t.sum(dtype=torch.promote_types(t.dtype, torch.float32))))
                and not bool(torch.isfinite(t).all())):
            raise CheckpointError(
                f"{source}: contains NaN / Inf values in {key}: the file is damaged (or was saved from a "
                "training run that diverged); use another copy or an earlier checkpoint"
            )


def _looks_like(spec: GeneratorSpec | DiscriminatorSpec, got: Layout) -> str:
    """"; the tensors look like <spec>: the card's <fields> probably differ" when the tensors are
    of a reference layout, else ""."""
    # Imported here: translator.reference builds on this module.
    from translator.reference import infer_discriminator_spec, infer_generator_spec

    try:
        meta = {k: torch.empty(shape, device="meta") for k, (shape, _f) in got.items()}
        found: GeneratorSpec | DiscriminatorSpec = (
            infer_generator_spec(meta, unet_dropout=spec.dropout) if isinstance(spec, GeneratorSpec)
            else replace(infer_discriminator_spec(meta), gan_mode=spec.gan_mode)
        )
    except (CheckpointError, RuntimeError, TypeError, ValueError, OverflowError):  # no layout we know
        return ""
    differ = [k for k in _SPEC_FIELDS[type(spec)] if getattr(spec, k) != getattr(found, k)]
    if not differ:
        return ""
    fields = ", ".join(f"{k} ({getattr(spec, k)} in the card, {getattr(found, k)} in the tensors)" for k in differ)
    return f"; the tensors look like {describe_spec(found)}: the card's {fields} probably {'differs' if len(differ) == 1 else 'differ'}"


def load_state_dict_checked(
    net: nn.Module, state: dict[str, torch.Tensor], spec: GeneratorSpec | DiscriminatorSpec, *, source: str
) -> None:
    """`load_state_dict(strict=True)` with float tensors cast to the net's dtype and an error that
    says which part of the spec probably differs. A net built `empty` (on the meta device) takes
    the tensors themselves (`assign=True`): nothing is allocated twice."""
    own = net.state_dict()
    cast = {k: (v.to(own[k].dtype) if k in own and v.is_floating_point() else v) for k, v in state.items()}
    empty = any(t.is_meta for t in own.values())
    try:
        net.load_state_dict(cast, strict=True, assign=empty)
    except RuntimeError as exc:
        hint = mismatch_hint({k: tuple(t.shape) for k, t in own.items()}, {k: tuple(t.shape) for k, t in state.items()})
        raise ArchitectureMismatch(f"{source}: weights do not fit {describe_spec(spec)}: {hint}") from exc


def describe_spec(spec: GeneratorSpec | DiscriminatorSpec) -> str:
    if isinstance(spec, GeneratorSpec):
        skip = ", input skip" if spec.input_skip else ""
        return f"{spec.arch} (base_filters {spec.base_filters}, norm {spec.norm}, dropout {spec.dropout}{skip})"
    return f"{spec.arch} discriminator (n_layers {spec.n_layers}, base_filters {spec.base_filters}, norm {spec.norm}, in {spec.in_channels})"


def mismatch_hint(expected: Mapping[str, tuple[int, ...]], got: Mapping[str, tuple[int, ...]]) -> str:
    """A short account of how two state dicts (key -> shape) differ and which card field that
    points to."""
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    shape = [k for k in expected if k in got and tuple(expected[k]) != tuple(got[k])]
    parts: list[str] = []
    if shape:
        k = shape[0]
        parts.append(f"{len(shape)} shape(s) differ, first {k}: file {tuple(got[k])} vs expected {tuple(expected[k])} -> check base_filters / channels")
    if any("running_" in k for k in missing + extra):
        parts.append("norm layers differ -> check norm (batch vs instance)")
    keys = ([f"{len(missing)} tensor(s) missing from the file: {_few(missing)}"] if missing else []) + (
        [f"{len(extra)} unexpected tensor(s) in the file: {_few(extra)}"] if extra else []
    )
    if keys:
        parts.append("; ".join(keys) + " -> check arch (depth / block count) and dropout")
    return "; ".join(parts) or "unknown difference"


def resolve_model_path(name_or_path: str | Path) -> Path:
    """A model given as a path, or as a name found in `weights/` or the user models folder."""
    p = Path(name_or_path).expanduser()
    if p.exists():
        return p
    candidates = [d / (p.name if p.suffix == MODEL_SUFFIX else p.name + MODEL_SUFFIX) for d in model_search_dirs()]
    for c in candidates:
        if c.exists():
            return c
    searched = ", ".join(str(d) for d in model_search_dirs())
    raise CheckpointError(f"{name_or_path}: no such model file, and no model of that name in {searched}; see `translator zoo`/`translator import`")


def find_models(dirs: list[Path] | None = None) -> list[tuple[Path, ModelCard]]:
    """Every readable model file in the given folders (default: shipped + user), with its card.
    Unreadable files are logged and skipped."""
    out: list[tuple[Path, ModelCard]] = []
    for d in dirs if dirs is not None else model_search_dirs():
        if not d.is_dir():
            continue
        for p in sorted(d.glob("*" + MODEL_SUFFIX)):
            try:
                out.append((p, read_card(p)))
            except CheckpointError as exc:
                log.warning("%s", exc)
    return out


def with_card(model: Model, **changes: Any) -> Model:
    """The same nets under a card with `changes` applied."""
    return Model(replace(model.card, **changes), model.nets)
