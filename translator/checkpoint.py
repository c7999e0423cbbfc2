"""Our model file: safetensors tensors + a JSON model card in the metadata.

A card says everything needed to rebuild the networks (architecture, norm, filters, channels),
what the model does (task, kind, direction) and how it was made. Tensors are stored as
`<role>.<state-dict key>`, roles being `g`/`d` for pix2pix and `g_ab`/`g_ba`/`d_a`/`d_b` for
CycleGAN (`d_a` judges domain A). Loading builds the nets from the card and loads with
`strict=True`; nothing in the file is executed.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_save
from torch import nn

from translator._fs import write_bytes_atomic
from translator.errors import ArchitectureMismatch, CheckpointError
from translator.networks import DiscriminatorSpec, GeneratorSpec, build_discriminator, build_generator
from translator.paths import model_search_dirs

log = logging.getLogger(__name__)

CARD_KEY = "translator.card"
FORMAT_VERSION = 1
MODEL_SUFFIX = ".safetensors"

Kind = Literal["pix2pix", "cyclegan"]
Direction = Literal["AtoB", "BtoA"]
GENERATOR_ROLES: dict[str, tuple[str, ...]] = {"pix2pix": ("g",), "cyclegan": ("g_ab", "g_ba")}
DISCRIMINATOR_ROLES: dict[str, tuple[str, ...]] = {"pix2pix": ("d",), "cyclegan": ("d_a", "d_b")}


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
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.kind not in GENERATOR_ROLES:
            raise ValueError(f"unknown model kind {self.kind!r}: use pix2pix or cyclegan")
        if self.direction not in ("AtoB", "BtoA"):
            raise ValueError(f"direction must be AtoB or BtoA, not {self.direction!r}")
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
        return json.dumps(d, indent=1, sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        d = json.loads(text)
        version = int(d.get("format_version", 1))
        if version > FORMAT_VERSION:
            raise CheckpointError(f"model card version {version} is newer than this tool understands ({FORMAT_VERSION}); update the tool")
        return cls(
            name=d["name"],
            kind=d["kind"],
            generators={r: GeneratorSpec.from_dict(s) for r, s in d["generators"].items()},
            discriminators={r: DiscriminatorSpec.from_dict(s) for r, s in d.get("discriminators", {}).items()},
            direction=d.get("direction", "AtoB"),
            task=d.get("task", ""),
            domains=tuple(d.get("domains", ("A", "B"))),
            image_size=int(d.get("image_size", 256)),
            source=d.get("source", ""),
            training=d.get("training", {}),
            notes=d.get("notes", ""),
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


def read_card(path: Path) -> ModelCard:
    """The card of a model file, without loading its tensors."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
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
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: the model card is malformed ({exc})") from None


def load_model(path: Path, *, roles: tuple[str, ...] | None = None) -> Model:
    """Load a model file: the nets its card describes, with `strict=True` state dicts.

    `roles` limits which nets are built (e.g. only `("g",)` for inference without a verdict).
    """
    path = Path(path)
    card = read_card(path)
    specs: dict[str, GeneratorSpec | DiscriminatorSpec] = {**card.generators, **card.discriminators}
    wanted = [r for r in specs if roles is None or r in roles]
    nets: dict[str, nn.Module] = {}
    with safe_open(str(path), framework="pt") as f:
        keys = list(f.keys())
        for role in wanted:
            prefix = role + "."
            state = {k[len(prefix):]: f.get_tensor(k) for k in keys if k.startswith(prefix)}
            spec = specs[role]
            net = build_generator(spec) if isinstance(spec, GeneratorSpec) else build_discriminator(spec)
            load_state_dict_checked(net, state, spec, source=f"{path} [{role}]")
            nets[role] = net
    return Model(card, nets)


def load_state_dict_checked(
    net: nn.Module, state: dict[str, torch.Tensor], spec: GeneratorSpec | DiscriminatorSpec, *, source: str
) -> None:
    """`load_state_dict(strict=True)` with float tensors cast to the net's dtype and an error that
    says which part of the spec probably differs."""
    own = net.state_dict()
    cast = {k: (v.to(own[k].dtype) if k in own and v.is_floating_point() else v) for k, v in state.items()}
    try:
        net.load_state_dict(cast, strict=True)
    except RuntimeError as exc:
        raise ArchitectureMismatch(f"{source}: weights do not fit {describe_spec(spec)}: {mismatch_hint(own, state)}") from exc


def describe_spec(spec: GeneratorSpec | DiscriminatorSpec) -> str:
    if isinstance(spec, GeneratorSpec):
        return f"{spec.arch} (base_filters {spec.base_filters}, norm {spec.norm}, dropout {spec.dropout})"
    return f"{spec.arch} discriminator (n_layers {spec.n_layers}, base_filters {spec.base_filters}, norm {spec.norm}, in {spec.in_channels})"


def mismatch_hint(expected: dict[str, torch.Tensor], got: dict[str, torch.Tensor]) -> str:
    """A short account of how two state dicts differ and which card field that points to."""
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    shape = [k for k in expected if k in got and tuple(expected[k].shape) != tuple(got[k].shape)]
    parts: list[str] = []
    if shape:
        k = shape[0]
        parts.append(f"{len(shape)} shape(s) differ, first {k}: file {tuple(got[k].shape)} vs expected {tuple(expected[k].shape)} -> check base_filters / channels")
    if any("running_" in k for k in missing + extra):
        parts.append("norm layers differ -> check norm (batch vs instance)")
    if missing or extra:
        parts.append(f"{len(missing)} key(s) missing (e.g. {missing[:2]}), {len(extra)} unexpected (e.g. {extra[:2]}) -> check arch (depth / block count) and dropout")
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
