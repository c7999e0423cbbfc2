"""Fine-tuning and training pix2pix and CycleGAN models on local folders.

`train(config)` is a job (see `translator.jobs`): a generator that yields one `TrainProgress`
per step and returns a `TrainResult`; cancelling it (its token) saves a checkpoint first. The
same function drives `translator train`, the app and the tests.

A run folder holds everything about a run:

    config.json            the exact configuration
    log.jsonl              one line per step: every loss term, D accuracy on real and fake
                           patches, r_t, learning rate, seconds per step; validation lines
    samples/step_N.png     sample translations of fixed validation images
    checkpoints/step_N.safetensors   a model file (EMA generator weights when EMA is on)
    checkpoints/step_N.state.pt      everything else needed to resume exactly: raw weights,
                           optimisers, schedulers, EMA, pools, augmentation, RNG states
    model.safetensors      the final (or cancelled) model
    best-kid.safetensors   with KID validation: the model at the step of the lowest KID
    tensorboard/           the log's curves, when tensorboard is installed

The run folder is new, empty, or a run folder of this tool (its config.json); never the data
folder, a folder inside it or one holding it, so a run's files never land among the user's.
Settings are checked before any work, each named with what it takes (`TrainConfig`; a config
file's problems also name the file and line), and so is the crop against the networks' sizes.

KID validation (`kid_data`; the feature network of `translator.realism`): every `kid_every` steps, at the end, and at
step 0 when fine-tuning (the baseline; from scratch it would judge random weights), the (EMA)
generators translate up to `kid_images` images of a held-out folder, and their KID against that
folder's images of the target domain joins the validation scores (`kid`, `kid_std`; CycleGAN's
B→A as `kid_ba`, `kid_ba_std`) in the events, the log and TensorBoard (`val/kid`). The real
images' features are computed once per run. The lowest `kid` so far is kept as
best-kid.safetensors, its card saying at which step (`training["best_kid"]`); the training state
holds that file, so a resume puts it back if a later, abandoned step replaced it. Without the
feature network installed the run logs how to install it and trains without KID.

Resuming (`resume=True`) continues from the newest complete checkpoint; on the CPU with a fixed
seed the resumed run's losses equal an uninterrupted run's step for step: every random draw
comes from saved RNG states or is derived from (seed, epoch, index).

Several processes (`torchrun`): every rank runs the same step on its share of the data and the
gradients are averaged across ranks with `torch.distributed.all_reduce` before each optimiser
step (data-parallel training, as DistributedDataParallel does; done explicitly because a GAN
step runs each network several times and freezes D while G learns, which DDP's reducer does not
allow). BatchNorm buffers are broadcast from rank 0 after each step. Only rank 0 writes files.
"""
from __future__ import annotations

import dataclasses
import difflib
import io
import itertools
import json
import logging
import math
import os
import re
import time
import tomllib
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, cast, get_args, get_origin, get_type_hints

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from translator import imaging
from translator._fs import write_bytes_atomic
from translator.checkpoint import Model, ModelCard, build_model, load_model, read_card, resolve_model_path, save_model
from translator.choices import Direction, GanMode, Kind, Norm, Precision
from translator.datasets import (
    Augment,
    DatasetScan,
    EpochSampler,
    PairedDataset,
    UnpairedDataset,
    loader_batches,
    make_loader,
    scan_dataset,
    set_loader_epoch,
)
from translator.devices import autocast_dtype, effective_precision, resolve_device
from translator.errors import CheckpointError, ImageError, JobCancelled, TranslatorError
from translator.jobs import CancelToken, Progress, rate_eta
from translator.metrics import psnr_batch, ssim_batch
from translator.models import Losses, Nets, Pix2Pix, StepResult, StepTools, cyclegan_step, model_type, pix2pix_step
from translator.pairs import manifest_input_style, read_pairs_manifest
from translator.models import TrainingDiverged as TrainingDiverged  # raised by the steps; importable from here too
from translator.models.step import set_requires_grad
from translator.networks import DiscriminatorSpec, GeneratorSpec, build_discriminator
from translator.presets import preset_settings
from translator.realism import FeatureNet, MissingFeatureNet
from translator.training_parts import (
    AdaptiveAugment,
    BestKid,
    Ema,
    GanLoss,
    ImagePool,
    KidSide,
    KidValidator,
    RealnessTracker,
    linear_decay_lambda,
)
from translator.training_parts.kid import KID_EVERY, KID_IMAGES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run needs.

    The field defaults are the reference's (pix2pix / CycleGAN papers), plus two fine-tuning aids
    that act only when starting from a model (EMA of G, D warm-up). User-facing entry points
    build configs from a named recipe instead (`from_preset`, see `translator.presets`).
    """

    kind: Kind
    data: Path
    out: Path
    steps: int = 1000
    from_model: str | None = None  # a model file or name: fine-tune it; None: train from scratch
    name: str | None = None  # the model's name (default: the run folder's name)
    direction: Direction = "AtoB"  # which side of the data is the input (pix2pix)
    # architecture when training from scratch (a fine-tuned model keeps its own)
    generator: str | None = None  # default unet_256 (pix2pix) / resnet_9blocks (CycleGAN)
    base_filters: int = 64
    norm: Norm | None = None  # default batch / instance
    dropout: bool | None = None  # default on for pix2pix, off for CycleGAN
    input_skip: bool = False  # output = tanh(u + M·input), see networks.layers.InputSkip
    d_base_filters: int = 64
    d_layers: int = 3
    gan_mode: GanMode | None = None  # default vanilla (pix2pix) / lsgan (CycleGAN)
    # optimisation
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    decay_steps: int | None = None  # linear decay to 0 over the last N steps (default: half)
    batch_size: int = 1
    lambda_l1: float = 100.0
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5
    pool_size: int = 50
    d_steps_per_g: int = 1  # D updates per G update (on the same batch)
    d_warmup_steps: int = 100  # D-only steps when the starting model has no D
    # data
    load_size: int = 286
    crop_size: int = 256
    flip: bool = True
    val_fraction: float = 0.1
    max_val: int = 16
    workers: int = 2
    # small-data helpers
    ema: bool | None = None  # default: on when fine-tuning
    ema_decay: float = 0.999
    ada: bool = False  # adaptive augmentation before D (off by default)
    ada_target: float = 0.6
    # device and speed
    device: str = "auto"
    precision: Precision = "fp32"
    channels_last: bool = False
    compile: bool = False
    seed: int = 0
    preset: str | None = None  # the recipe the values came from (informational)
    # what to record
    log_every: int = 1
    val_every: int = 100
    sample_every: int = 100
    checkpoint_every: int = 200
    keep_last: int = 3
    # KID validation (needs the feature network, `translator.realism`): on when a held-out folder is given
    kid_data: Path | None = None  # held-out images the run does not train on, in a layout of `data`
    kid_every: int | None = None  # steps between KID validations (default KID_EVERY)
    kid_images: int = KID_IMAGES  # held-out images per side

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            problem = _setting_problem(f.name, getattr(self, f.name))
            if problem:
                raise ValueError(f"{f.name} {problem}")
        if self.decay_steps is not None and self.decay_steps > self.steps:
            raise ValueError(f"decay_steps must be between 0 and steps ({self.steps}), not {self.decay_steps}")
        if self.kid_every is not None and self.kid_data is None:
            raise ValueError(f"kid_every ({self.kid_every}) asks for KID validation, which needs a held-out folder: set "
                             "kid_data (--kid-data FOLDER) to a folder of images the run does not train on, laid out "
                             "as the data folder")
        if self.crop_size > self.load_size:
            raise ValueError(f"crop size {self.crop_size} is larger than the load size {self.load_size} (images are "
                             "resized to the load size, then cropped): raise --load-size or lower --crop-size")
        if self.from_model is None:  # a fine-tuned model's nets are checked once its card is read (`train`)
            problem = _crop_problem(self.crop_size, {"the generator": self.generator_spec()},
                                    {"the discriminator": self.discriminator_spec()}, scratch=True)
            if problem:
                raise ValueError(problem)

    # resolved defaults ---------------------------------------------------------------------
    @property
    def resolved_gan_mode(self) -> GanMode:
        return self.gan_mode or model_type(self.kind).paper.gan_mode

    @property
    def use_ema(self) -> bool:
        return self.ema if self.ema is not None else self.from_model is not None

    @property
    def resolved_kid_every(self) -> int:
        return self.kid_every if self.kid_every is not None else KID_EVERY

    @property
    def model_name(self) -> str:
        return self.name or Path(self.out).name

    def generator_spec(self) -> GeneratorSpec:
        paper = model_type(self.kind).paper
        return GeneratorSpec(
            self.generator or paper.generator,
            self.base_filters,
            self.norm or paper.norm,
            self.dropout if self.dropout is not None else paper.dropout,
            input_skip=self.input_skip,
        )

    def discriminator_spec(self) -> DiscriminatorSpec:
        """The discriminator a run starts with when its model has none (from scratch: always)."""
        paper = model_type(self.kind).paper
        return DiscriminatorSpec("patch", self.d_layers, self.d_base_filters, paper.d_norm, paper.d_in_channels,
                                 self.resolved_gan_mode)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["data"], d["out"] = str(self.data), str(self.out)
        if self.kid_data is not None:
            d["kid_data"] = str(self.kid_data)
        return d

    @classmethod
    def from_preset(cls, preset: str, kind: Kind, data: Path, out: Path, **settings: Any) -> TrainConfig:
        """A config with the values of recipe `preset` for `kind`; `settings` win over them."""
        try:
            values = preset_settings(preset, kind)
        except ValueError as exc:
            raise TranslatorError(str(exc)) from None
        return cls(kind=kind, data=Path(data), out=Path(out), **{**values, **settings, "preset": preset})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """A config from plain values; with a `preset` key, the preset fills what `d` leaves out.
        A key that is no setting, or a value of the wrong type, is a `TranslatorError` naming it."""
        _check_settings(d)
        d = dict(d)
        for key in ("kind", "data", "out"):
            if key not in d:
                raise TranslatorError(f"the setting {key!r} is missing")
        if d.get("kid_data") is not None:
            d["kid_data"] = Path(d["kid_data"])
        preset = d.pop("preset", None)
        if preset is not None:
            return cls.from_preset(preset, d.pop("kind"), d.pop("data"), d.pop("out"), **d)
        d["data"], d["out"] = Path(d["data"]), Path(d["out"])
        return cls(**d)

    @classmethod
    def from_file(cls, path: Path, **overrides: Any) -> TrainConfig:
        """Read a TOML (`.toml`) or JSON (any other name) config; `overrides` (non-None values) win.
        Without a `preset` key the `default` recipe fills what the file leaves out. Every problem
        with the file's contents is a `TranslatorError` naming the file, the line or the setting."""
        path = Path(path)
        d = _read_settings(path)
        _check_settings(d, f"{path}: ")
        given = {k: v for k, v in overrides.items() if v is not None}
        d.update(given)
        d.setdefault("preset", "default")
        try:
            return cls.from_dict(d)
        except (ValueError, TranslatorError) as exc:  # settings that do not go together, an unknown preset
            raise TranslatorError(f"{exc} (settings from {path}{' and the command line' if given else ''})") from None


# The annotated type of each setting (the dataclass's annotations are strings until resolved).
_HINTS: dict[str, Any] = get_type_hints(TrainConfig)

_AT_LEAST_1 = ("steps", "batch_size", "crop_size", "load_size", "base_filters", "d_base_filters", "d_layers",
               "d_steps_per_g", "checkpoint_every", "keep_last", "val_every", "sample_every", "log_every", "kid_every")
_AT_LEAST_0 = ("decay_steps", "d_warmup_steps", "pool_size", "max_val", "workers", "lambda_l1", "lambda_cycle",
               "lambda_identity")
# Each numeric setting's range: a test and the words for it.
_RANGES: dict[str, tuple[Callable[[float], bool], str]] = {
    **{name: (lambda v: v >= 1, "of at least 1") for name in _AT_LEAST_1},
    **{name: (lambda v: v >= 0, "of 0 or more") for name in _AT_LEAST_0},
    "lr": (lambda v: v > 0, "above 0"),
    "seed": (lambda v: 0 <= v < 2**32, "from 0 to 4294967295"),  # what every random generator it seeds takes
    **{name: (lambda v: 0 <= v < 1, "from 0 up to (not including) 1") for name in ("beta1", "beta2", "val_fraction")},
    "ema_decay": (lambda v: 0 < v < 1, "between 0 and 1 (not including them)"),
    "kid_images": (lambda v: v >= 2, "of at least 2"),  # KID compares subsets of two or more images
}


def _setting_problem(name: str, value: Any) -> str | None:
    """What is wrong with `value` for setting `name` ("must be …, not …"), or None if nothing."""
    hint = _HINTS[name]
    options = get_args(hint) if get_origin(hint) in (Union, UnionType) else (hint,)
    if value is None and type(None) in options:
        return None
    (want,) = [t for t in options if t is not type(None)]
    if get_origin(want) is Literal:
        choices = get_args(want)
        return None if value in choices else f"must be one of {', '.join(choices)}, not {_shown_value(value)}"
    words = {int: "a whole number", float: "a number", bool: "true or false", str: "text", Path: "a folder path"}[want]
    low, range_words = _RANGES.get(name, (lambda v: True, ""))
    expected = f"{words} {range_words}".rstrip() + (" (or leave it out)" if type(None) in options else "")
    if want is Path:
        fits = isinstance(value, (str, os.PathLike))
    elif want is float:
        fits = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    else:
        fits = isinstance(value, want) and (want is bool or not isinstance(value, bool))
    if not fits or not low(value):
        return f"must be {expected}, not {_shown_value(value)}{'' if fits else f' ({_kind_of(value)})'}"
    return None


def _shown_value(value: Any) -> str:
    """`value` as a config file writes it (TOML and JSON agree on numbers, text, true/false, lists)."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # inf, nan: TOML's spelling
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind_of(value: Any) -> str:
    """The kind of a config value in words."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, float) and not math.isfinite(value):
        return "not a number" if math.isnan(value) else "infinite"
    names = {int: "a whole number", float: "a decimal number", str: "text", list: "a list", dict: "a table"}
    return next((words for t, words in names.items() if isinstance(value, t)), type(value).__name__)


def _crop_problem(crop: int, generators: dict[str, GeneratorSpec], discriminators: dict[str, DiscriminatorSpec],
                  *, scratch: bool) -> str | None:
    """What is wrong with training crops of `crop`² for these nets (keyed by how to name them), or None.
    `scratch`: the nets are the config's own, so a smaller one is also a way out.

    A generator takes sides that are multiples of its `multiple` (each U-Net level halves the side; a
    ResNet halves it twice) and at least its `min_side`; a PatchGAN needs `min_side` to give a verdict.
    Anything else fails deep inside the network, so this is said before any work."""
    multiple = max((g.multiple for g in generators.values()), default=1)
    need = max([g.min_side for g in generators.values()] + [d.min_side for d in discriminators.values()])
    fits = [c for c in (crop - crop % multiple, crop - crop % multiple + multiple) if c >= need] or [-(-need // multiple) * multiple]
    choose = f"choose --crop-size {' or '.join(str(c) for c in dict.fromkeys(fits))}"
    app = " (in the app: Fine-tune → Advanced → Crop size)"
    for who, g in generators.items():
        if crop < g.min_side:
            return (f"crop size {crop} is too small for {who} ({g.arch}): it needs at least {g.min_side}×{g.min_side} "
                    f"(sides that are multiples of {g.multiple}); {choose}{' or a smaller --generator' * scratch}{app}")
        if crop % g.multiple:
            return (f"crop size {crop} does not fit {who} ({g.arch}), which takes sides that are multiples of "
                    f"{g.multiple}; {choose}{app}")
    for who, d in discriminators.items():
        if crop < d.min_side:
            return (f"crop size {crop} is too small for {who} (PatchGAN, {d.n_layers} layers): it needs at least "
                    f"{d.min_side}×{d.min_side}; {choose}{' or fewer --d-layers' * scratch}{app}")
    return None


def _check_settings(d: dict[str, Any], where: str = "") -> None:
    """Raise `TranslatorError` (prefixed with `where`) for the first key of `d` that is no setting
    (suggesting the closest one) or whose value has the wrong type or range."""
    for key, value in d.items():
        if key not in _HINTS:
            close = difflib.get_close_matches(str(key), _HINTS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TranslatorError(f"{where}unknown setting {key!r}{hint}; the settings are the options of "
                                  "`translator train` with _ for - (e.g. crop_size = 256)")
        problem = _setting_problem(key, value)
        if problem:
            raise TranslatorError(f"{where}the setting {key} {problem}; correct it")


def _read_settings(path: Path) -> dict[str, Any]:
    """The table of settings in a TOML or JSON file."""
    form = "TOML" if path.suffix == ".toml" else "JSON"
    try:
        text = path.read_bytes().decode()
    except FileNotFoundError:
        raise TranslatorError(f"{path}: no such config file") from None
    except OSError as exc:
        raise TranslatorError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        line = _line_of(exc.object, exc.start)
        raise TranslatorError(f"{path}, line {line}: not UTF-8 text; save the config file as UTF-8") from None
    try:
        d = tomllib.loads(text) if form == "TOML" else json.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(found.group(1)) if found else max(1, len(text.rstrip().splitlines()))  # else: at the end: its last line
        reason = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc))
        raise TranslatorError(f"{path}, line {line}: not a valid TOML file ({reason}); fix that line") from None
    except json.JSONDecodeError as exc:
        raise TranslatorError(f"{path}, line {exc.lineno}: not a valid JSON file ({exc.msg}); fix that line "
                              "(a config file is read as TOML when its name ends in .toml)") from None
    if not isinstance(d, dict):
        raise TranslatorError(f"{path}: holds {_kind_of(d)}, not a table of settings (e.g. {{\"steps\": 1000}})")
    return d


def _line_of(data: bytes, offset: int) -> int:
    """The 1-based line of byte `offset` in `data`."""
    return data.count(b"\n", 0, offset) + 1


@dataclass(frozen=True)
class TrainProgress(Progress):
    """One training step (or D warm-up step) done."""

    phase: Literal["warmup", "train"] = "train"
    losses: dict[str, float] = field(default_factory=dict)
    d_acc_real: float = math.nan
    d_acc_fake: float = math.nan
    r_t: float = math.nan
    lr: float = 0.0
    seconds: float = 0.0  # this step's wall time
    validation: dict[str, float] | None = None
    sample: Path | None = None
    checkpoint: Path | None = None


@dataclass(frozen=True)
class TrainResult:
    """Where a finished (or cancelled) run left its model."""

    model_path: Path
    steps_done: int
    run_dir: Path
    first_validation: dict[str, float] | None = None  # the starting model's, when validated
    last_validation: dict[str, float] | None = None
    best_kid: Path | None = None  # the model at the step of the lowest KID, when KID was measured
    best_kid_step: int | None = None
    best_kid_value: float | None = None


# --- distributed ------------------------------------------------------------------------------


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _init_distributed(device: torch.device) -> bool:
    """Join the torchrun process group when launched by torchrun; True if this call started it."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available() or dist.is_initialized():
        return False
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return True


def _average_gradients(params: list[nn.Parameter]) -> None:
    """All-reduce and average gradients over ranks (no-op in a single process)."""
    rank, world = _world()
    if world == 1:
        return
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad /= world


def _adam(params: list[nn.Parameter], lr: float, betas: tuple[float, float], device: torch.device) -> torch.optim.Adam:
    """Adam, with the fused kernel on the CPU and CUDA: the same update in one pass over the weights
    instead of a dozen. On a 2-core CPU it cuts unet_256's optimiser step from 180 to 29 ms
    (`python -m bench.optimizer`, BENCHMARKS.md); the results differ from the loop only in rounding."""
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=device.type in ("cpu", "cuda"))


def _sync_buffers(nets: list[nn.Module]) -> None:
    """Make BatchNorm running statistics rank 0's everywhere."""
    if _world()[1] == 1:
        return
    for net in nets:
        for b in net.buffers():
            dist.broadcast(b, src=0)


def _optimise(loss: torch.Tensor, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler, params: list[nn.Parameter]) -> None:
    """Backward, average gradients over ranks, step (with loss scaling when fp16 is on)."""
    scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
    scaler.unscale_(opt)
    _average_gradients(params)
    scaler.step(opt)
    scaler.update()


def _weights_digest(nets: list[nn.Module]) -> float:
    return float(sum(p.detach().double().sum().item() for net in nets for p in net.parameters()))


# --- the run ----------------------------------------------------------------------------------


# How many training samples the EMA generator's BatchNorm statistics are measured on
# (bench/notes/quality-round-08-ema-statistics.md): with 64, edges2photo's 5-minute snapshot recovers (SSIM 0.218 -> 0.343)
# and colorize's 20-minute one scores as with 128 or 256 (18.66, 18.60, 18.61 dB); a measurement
# costs about three training steps.
EMA_NORM_SAMPLES = 64


def _check_starting_model(config: TrainConfig) -> None:
    """The model to fine-tune must be of the run's kind and take the run's crops (a crop too small
    fails deep inside the network: a U-Net 256 halves a 128 crop to less than a pixel). Its card
    says, read before any work. A config's own (from-scratch) nets were checked when it was made."""
    if config.from_model is None:
        return
    card = read_card(resolve_model_path(config.from_model))
    if card.kind != config.kind:
        raise TranslatorError(f"{config.from_model} is a {card.kind} model; train it with `translator train {card.kind}`")

    def label(net: str, role: str, count: int) -> str:
        return f"its {net}" + (f" {role}" if count > 1 else "")

    gens = {label("generator", r, len(card.generators)): spec for r, spec in card.generators.items()}
    roles = model_type(config.kind).discriminator_roles
    discs = {label("discriminator", r, len(roles)) if r in card.discriminators else "the new discriminator":
             card.discriminators.get(r, config.discriminator_spec()) for r in roles}
    problem = _crop_problem(config.crop_size, gens, discs, scratch=False)
    if problem:
        raise TranslatorError(f"{config.from_model}: {problem}")


def _with_pairs_look(card: ModelCard, config: TrainConfig) -> ModelCard:
    """`card` with what a dataset made by `translator pairs` records: the manifest under
    `training["pairs"]` and, when the made side (A) is the input, its look as `input_style` (so a
    sketch canvas draws like the training inputs)."""
    manifest = read_pairs_manifest(config.data)
    if manifest is None:
        return card
    style = manifest_input_style(manifest)
    made_side_is_input = config.kind == "pix2pix" and config.direction == "AtoB"
    return dataclasses.replace(card, training={**card.training, "pairs": manifest},
                               input_style=style if style is not None and made_side_is_input else card.input_style)


class _Trainer:
    """The mutable state of one run: nets, optimisers, helpers. Used only inside `train`."""

    def __init__(self, config: TrainConfig, device: torch.device, scan: DatasetScan, dataset: Any) -> None:
        self.cfg = config
        self.device = device
        self.rank, self.world = _world()
        torch.manual_seed(config.seed)
        start, self.fresh_d = self._initial_model()
        self.card = start.card
        self.nets: Nets = model_type(config.kind).from_nets(start.nets)
        self.gan = GanLoss(config.resolved_gan_mode)
        for net in self.nets.to_nets().values():
            net.to(device)
            if config.channels_last:
                net.to(memory_format=torch.channels_last)
        self.g_params = [p for net in self.nets.generators().values() for p in net.parameters()]
        self.d_params = [p for net in self.nets.discriminators().values() for p in net.parameters()]
        betas = (config.beta1, config.beta2)
        self.opt_g = _adam(self.g_params, config.lr, betas, device)
        self.opt_d = _adam(self.d_params, config.lr, betas, device)
        decay = config.decay_steps if config.decay_steps is not None else config.steps // 2
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, linear_decay_lambda(config.steps, decay))
        self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, linear_decay_lambda(config.steps, decay))
        # keyed by the model file's role names, as the checkpoint's state holds them
        self.ema = {role: Ema(net, config.ema_decay) for role, net in self.nets.generators().items()} if config.use_ema else {}
        self.pool_a = ImagePool(config.pool_size, seed=config.seed)  # earlier fakes of domain A (CycleGAN)
        self.pool_b = ImagePool(config.pool_size, seed=config.seed + 1)
        self.tracker = RealnessTracker(mode=config.resolved_gan_mode)
        self.ada = AdaptiveAugment(target=config.ada_target) if config.ada else None
        self.ada_gen = torch.Generator().manual_seed(config.seed + 7)
        precision, fallback = effective_precision(device, config.precision, training=True)
        if fallback is not None:
            log.warning("%s", fallback)
        self.amp_dtype = autocast_dtype(precision)
        scaler_on = self.amp_dtype == torch.float16 and device.type == "cuda"
        self.scaler_g = torch.amp.GradScaler(device.type, enabled=scaler_on)
        self.scaler_d = torch.amp.GradScaler(device.type, enabled=scaler_on)
        self.step = 0
        self.warmup_total = config.d_warmup_steps if self.fresh_d else 0
        self.warmup_done = 0
        self.last_validation: dict[str, float] | None = None
        self.first_validation: dict[str, float] | None = None  # of the starting model
        self.best_kid = BestKid()
        # What the steps run: the same networks, wrapped by torch.compile (same interface) when on.
        self.live: Nets = self.nets.map(lambda net: cast(nn.Module, torch.compile(net))) if config.compile else self.nets
        self.tools = StepTools(self.gan, self._autocast, self._d_inputs, self._update_d, self._update_g, config.d_steps_per_g)
        self.scan = scan
        self.dataset = dataset
        self.norms_measured_at: dict[str, int] = {}  # role -> the step its EMA's BatchNorm statistics belong to

    # model -------------------------------------------------------------------------------
    def _initial_model(self) -> tuple[Model, bool]:
        """The model to start from, complete for its kind: (model, whether a discriminator is new)."""
        cfg = self.cfg
        kind = model_type(cfg.kind)
        d_spec = cfg.discriminator_spec()
        if cfg.from_model is None:
            g = cfg.generator_spec()
            card = ModelCard(cfg.model_name, cfg.kind, {r: g for r in kind.generator_roles},
                             {r: d_spec for r in kind.discriminator_roles}, direction=cfg.direction,
                             image_size=cfg.crop_size, source="trained from scratch by translator")
            return build_model(card, seed=cfg.seed), False
        start = load_model(resolve_model_path(cfg.from_model))  # its kind and sizes: `_check_starting_model`
        nets = dict(start.nets)
        gens = dict(start.card.generators)
        if cfg.kind == "cyclegan":
            for role in ("g_ab", "g_ba"):
                if role not in gens:  # a one-direction import: the other generator starts fresh
                    other = gens["g_ba" if role == "g_ab" else "g_ab"]
                    log.warning("%s has no %s generator; it starts from random weights", cfg.from_model, role)
                    gens[role] = other
                    nets[role] = build_model(ModelCard("x", "cyclegan", {role: other}), seed=cfg.seed).nets[role]
        discs = dict(start.card.discriminators)
        fresh = False
        for role in kind.discriminator_roles:
            if role not in nets:
                discs[role] = dataclasses.replace(d_spec, gan_mode=cfg.resolved_gan_mode)
                nets[role] = build_discriminator(discs[role], seed=cfg.seed)
                fresh = True
        card = dataclasses.replace(start.card, name=cfg.model_name, generators=gens, discriminators=discs,
                                   source=f"fine-tuned from {start.card.name} ({start.card.source})".strip())
        return Model(card, nets), fresh

    def ema_generator(self, role: str) -> nn.Module:
        """The weight average of generator `role`, its BatchNorm statistics measured for its own
        weights at this step (see `Ema.measure_norm_stats`). The starting model (no update yet)
        is returned as it is."""
        ema = self.ema[role]
        if ema.num_updates and ema.has_norm_stats and self.norms_measured_at.get(role) != self.step:
            ema.measure_norm_stats(self._norm_batches(role))
            self.norms_measured_at[role] = self.step
        return ema.module

    def _norm_batches(self, role: str) -> Iterator[torch.Tensor]:
        """The first `EMA_NORM_SAMPLES` training samples (rounded up to whole batches) in the
        shuffled order and batch size of training itself (epoch 0, then 1, … on a small folder):
        the batch statistics BatchNorm saw in training mix images the same way. The same samples
        at every step; read here, so the training stream is untouched."""
        side = "b" if role == "g_ba" or (role == "g" and self.cfg.direction == "BtoA") else "a"
        per = self.cfg.batch_size
        count = -(-EMA_NORM_SAMPLES // per) * per
        keys: list[tuple[int, int]] = []
        for epoch in itertools.count():
            keys += EpochSampler(self.dataset, shuffle=True, seed=self.cfg.seed, epoch=epoch)
            if len(keys) >= count:
                break
        for i in range(0, count, per):
            yield torch.stack([self.dataset[k][side] for k in keys[i : i + per]]).to(self.device)

    def export_model(self) -> Model:
        """The model to save: EMA generators (when on) and the discriminators, with the card's
        training section filled in."""
        nets = {role: self.ema_generator(role) if role in self.ema else net for role, net in self.nets.to_nets().items()}
        training = {
            "kind": self.cfg.kind,
            "steps": self.step,
            "data": str(self.cfg.data),
            "recipe": {k: v for k, v in self.cfg.to_dict().items() if k not in ("data", "out", "device", "workers", "kid_data")},
            "ema": self.cfg.use_ema,
        }
        if self.last_validation:
            training["validation"] = self.last_validation
        if self.best_kid.found:
            training["best_kid"] = self.best_kid.summary()
        card = dataclasses.replace(self.card, training=training, image_size=self.cfg.crop_size)
        return Model(_with_pairs_look(card, self.cfg), nets)

    # steps -------------------------------------------------------------------------------
    def _autocast(self) -> Any:
        if self.amp_dtype is None:
            return torch.autocast(self.device.type, enabled=False)
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _d_inputs(self, tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """What D sees: ADA's augmentation of `tensors` (one transform for all), when it is on."""
        if self.ada is None or self.ada.p == 0:
            return list(tensors)
        return self.ada.apply(list(tensors), self.ada_gen)

    def _update_d(self, loss: torch.Tensor) -> None:
        self.opt_d.zero_grad(set_to_none=True)
        _optimise(loss, self.opt_d, self.scaler_d, self.d_params)

    def _update_g(self, loss: torch.Tensor) -> None:
        self.opt_g.zero_grad(set_to_none=True)
        _optimise(loss, self.opt_g, self.scaler_g, self.g_params)

    def _batch(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        a = batch["a"].to(self.device, non_blocking=True)
        b = batch["b"].to(self.device, non_blocking=True)
        if self.cfg.channels_last:
            a, b = a.contiguous(memory_format=torch.channels_last), b.contiguous(memory_format=torch.channels_last)
        if self.cfg.kind == "pix2pix" and self.cfg.direction == "BtoA":
            a, b = b, a
        return a, b

    def run_step(self, batch: dict[str, torch.Tensor], train_g: bool) -> tuple[StepResult[Losses], float]:
        """One training step (`train_g`) or D warm-up step; returns what it measured and r_t."""
        for net in self.nets.to_nets().values():
            net.train()
        gens = list(self.nets.generators().values())
        if not train_g:  # D warm-up: G frozen (weights and BatchNorm statistics), producing fakes as in training
            set_requires_grad(gens, False)
            frozen = [{k: b.clone() for k, b in g.named_buffers()} for g in gens]
        real_a, real_b = self._batch(batch)
        cfg = self.cfg
        result: StepResult[Losses]
        if isinstance(self.live, Pix2Pix):
            result = pix2pix_step(self.live, real_a, real_b, self.tools, lambda_l1=cfg.lambda_l1, train_g=train_g)
        else:
            result = cyclegan_step(self.live, real_a, real_b, self.tools, pool_a=self.pool_a, pool_b=self.pool_b,
                                   lambda_cycle=cfg.lambda_cycle, lambda_identity=cfg.lambda_identity, train_g=train_g)
        r_t = self.tracker.update(result.real_logits)
        if not train_g:
            set_requires_grad(gens, True)
            for g, buffers in zip(gens, frozen):
                for k, b in g.named_buffers():
                    b.copy_(buffers[k])
        _sync_buffers(list(self.nets.to_nets().values()))
        if train_g:
            for role, e in self.ema.items():
                e.update(self.nets.generators()[role])
            self.sched_g.step()
            self.sched_d.step()
            self.step += 1
            if self.ada is not None:
                self.ada.adjust(r_t, self.cfg.batch_size * self.world)
        else:
            self.warmup_done += 1
        return result, r_t

    # state -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "warmup_done": self.warmup_done,
            "nets": {r: n.state_dict() for r, n in self.nets.to_nets().items()},
            "ema": {r: e.state_dict() for r, e in self.ema.items()},
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "sched_g": self.sched_g.state_dict(),
            "sched_d": self.sched_d.state_dict(),
            "scaler_g": self.scaler_g.state_dict(),
            "scaler_d": self.scaler_d.state_dict(),
            "pools": {"a": self.pool_a.state_dict(), "b": self.pool_b.state_dict()},
            "tracker": self.tracker.state_dict(),
            "ada": self.ada.state_dict() if self.ada else None,
            "ada_gen": self.ada_gen.get_state(),
            "rng_torch": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "last_validation": self.last_validation,
            "best_kid": self.best_kid.state_dict(),
        }

    def load_state_dict(self, s: dict[str, Any]) -> None:
        self.step, self.warmup_done = int(s["step"]), int(s["warmup_done"])
        nets = self.nets.to_nets()
        for r, sd in s["nets"].items():
            nets[r].load_state_dict(sd)
        for r, sd in s["ema"].items():
            self.ema[r].load_state_dict(sd)
        self.opt_g.load_state_dict(s["opt_g"])
        self.opt_d.load_state_dict(s["opt_d"])
        self.sched_g.load_state_dict(s["sched_g"])
        self.sched_d.load_state_dict(s["sched_d"])
        self.scaler_g.load_state_dict(s["scaler_g"])
        self.scaler_d.load_state_dict(s["scaler_d"])
        self.pool_a.load_state_dict(s["pools"]["a"])
        self.pool_b.load_state_dict(s["pools"]["b"])
        self.tracker.load_state_dict(s["tracker"])
        if self.ada is not None and s["ada"] is not None:
            self.ada.load_state_dict(s["ada"])
        self.ada_gen.set_state(s["ada_gen"])
        torch.set_rng_state(s["rng_torch"])
        if s["rng_cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(s["rng_cuda"])
        self.last_validation = s.get("last_validation")
        if "best_kid" in s:  # states written before KID validation have none
            self.best_kid.load_state_dict(s["best_kid"])


# --- files ------------------------------------------------------------------------------------


# Files an operating system leaves in a folder a user just made or opened: it still counts as empty.
_OS_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


def _few(names: list[str], count: int = 3) -> str:
    return ", ".join(names[:count]) + (f" and {len(names) - count} more" if len(names) > count else "")


class _RunFiles:
    """The run folder. Every write is atomic; an OSError becomes a clear TranslatorError."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.checkpoints = self.root / "checkpoints"
        self.samples = self.root / "samples"
        self.log_path = self.root / "log.jsonl"
        self.best_kid_path = self.root / "best-kid.safetensors"
        self.tensorboard: Any = None  # a SummaryWriter when tensorboard is installed

    def open_tensorboard(self) -> None:
        """Also write TensorBoard event files (`RUN/tensorboard/`) when tensorboard is installed."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            log.info("tensorboard is not installed; the run is recorded in log.jsonl only")
            return
        try:
            str(self.root).encode()  # tensorboard encodes its paths as UTF-8, strictly
        except UnicodeEncodeError:
            log.warning("%s: TensorBoard cannot write under a folder whose name is not UTF-8; the run is recorded "
                        "in log.jsonl only (rename the folder to have both)", self.root)
            return
        self.tensorboard = SummaryWriter(str(self.root / "tensorboard"))

    def close(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.close()

    def check(self, data: Path, resume: bool) -> None:
        """Refuse, before any work, a run folder that would put the run's files among the user's: the
        data folder, a folder inside it or holding it, or a non-empty folder that is not a run of
        this tool; and, unless resuming, a run that has checkpoints."""
        root, data = self.root.resolve(), Path(data).resolve()
        if root == data or root.is_relative_to(data):
            where = "is the data folder" if root == data else f"is inside the data folder {data}"
            raise TranslatorError(f"{self.root}: the run folder {where}; its checkpoints and samples would lie among "
                                  "the training images: choose an --out outside it")
        if data.is_relative_to(root):
            raise TranslatorError(f"{self.root}: the run folder holds the data folder {data}; choose a new or empty "
                                  "folder elsewhere for --out")
        if self.root.exists() and not self.root.is_dir():
            raise TranslatorError(f"{self.root}: the run folder path is a file; choose another --out")
        try:
            others = sorted(p.name for p in self.root.iterdir() if p.name not in _OS_FILES) if self.root.is_dir() else []
        except OSError as exc:
            raise TranslatorError(f"{self.root}: cannot read the run folder ({exc.strerror or exc})") from None
        if others and not self.is_run():
            raise TranslatorError(f"{self.root}: holds other files ({_few(others)}) and is not a run folder of this tool "
                                  "(it has no config.json written by it); choose an empty or new folder for --out")
        if not resume and self.latest_checkpoint() is not None:
            raise TranslatorError(f"{self.root} already holds a run; use --resume to continue it or choose another --out")

    def is_run(self) -> bool:
        """Whether the folder's config.json is one a run of this tool wrote: a JSON table of settings
        holding at least the kind, data and run folder."""
        try:
            d = json.loads((self.root / "config.json").read_bytes())
        except (OSError, ValueError):
            return False
        return isinstance(d, dict) and {"kind", "data", "out"} <= d.keys() <= _HINTS.keys()

    def prepare(self, config: TrainConfig, resume: bool) -> None:
        """Create the run folder's parts and write its config.json (`check` has accepted the folder)."""
        try:
            if not resume:  # a run killed before its first checkpoint: its log ends where nothing can resume
                self.log_path.unlink(missing_ok=True)
            self.checkpoints.mkdir(parents=True, exist_ok=True)
            self.samples.mkdir(exist_ok=True)
            write_bytes_atomic(self.root / "config.json", json.dumps(config.to_dict(), indent=1).encode())
        except OSError as exc:
            raise TranslatorError(f"{self.root}: cannot write the run folder ({exc.strerror or exc})") from None

    def latest_checkpoint(self) -> tuple[int, Path, Path] | None:
        found = []
        for state in self.checkpoints.glob("step_*.state.pt"):
            step = int(state.name.split("_")[1].split(".")[0])
            model = self.checkpoints / f"step_{step:07d}.safetensors"
            if model.exists():
                found.append((step, model, state))
        return max(found) if found else None

    def save_checkpoint(self, trainer: _Trainer) -> Path:
        bad = [r for r, net in trainer.nets.to_nets().items() if not all(bool(torch.isfinite(p).all()) for p in net.parameters())]
        if bad:
            raise TrainingDiverged(
                f"the weights of {', '.join(bad)} are no longer finite at step {trainer.step} — training diverged. "
                "The last good checkpoint is kept; lower the learning rate (--lr) and resume"
            )
        step = trainer.step
        model_path = self.checkpoints / f"step_{step:07d}.safetensors"
        state_path = self.checkpoints / f"step_{step:07d}.state.pt"
        try:
            model = trainer.export_model()  # first: it settles the EMA's statistics, which the state holds too
            buf = io.BytesIO()
            torch.save(trainer.state_dict(), buf)
            write_bytes_atomic(state_path, buf.getvalue())
            save_model(model, model_path)  # written last: its presence marks the pair complete
        except OSError as exc:
            state_path.unlink(missing_ok=True)
            raise TranslatorError(f"{self.checkpoints}: cannot write a checkpoint ({exc.strerror or exc}){self._kept()}") from None
        existing = sorted(self.checkpoints.glob("step_*.safetensors"))
        for old in existing[: -trainer.cfg.keep_last]:
            old.unlink(missing_ok=True)
            (old.parent / old.name.replace(".safetensors", ".state.pt")).unlink(missing_ok=True)
        return model_path

    def save_final(self, trainer: _Trainer) -> Path:
        """Write the run's model.safetensors (the trained generator, ready to translate with)."""
        path = self.root / "model.safetensors"
        try:
            save_model(trainer.export_model(), path)
        except OSError as exc:
            raise TranslatorError(f"{path}: cannot write the model ({exc.strerror or exc}){self._kept()}") from None
        return path

    def save_best_kid(self, trainer: _Trainer) -> Path:
        """Write best-kid.safetensors, the model at the step of the lowest KID (`trainer.best_kid`,
        whose card records that step and KID), and keep its bytes for the training state."""
        path = self.best_kid_path
        try:
            save_model(trainer.export_model(), path)
            trainer.best_kid.file = path.read_bytes()
        except OSError as exc:
            raise TranslatorError(f"{path}: cannot write the best-KID model ({exc.strerror or exc}){self._kept()}") from None
        return path

    def restore_best_kid(self, best: BestKid) -> None:
        """Make best-kid.safetensors the best of the steps the run's state has seen: after a resume,
        a step past its checkpoint (abandoned by the resume) may have replaced it; a run starting
        again from step 0 (killed before its first checkpoint) has none yet."""
        path = self.best_kid_path
        try:
            if not best.found:
                path.unlink(missing_ok=True)
            elif not path.is_file() or path.read_bytes() != best.file:
                write_bytes_atomic(path, best.file)
                log.info("%s: put back the model of step %d (KID %.5f)", path, best.step, best.kid)
        except OSError as exc:
            raise TranslatorError(f"{path}: cannot restore the best-KID model ({exc.strerror or exc})") from None

    def _kept(self) -> str:
        """After a failed write: which checkpoint is still intact, and how to go on from it."""
        previous = self.latest_checkpoint()
        return f"; the previous checkpoint {previous[1].name} is intact: make room, then continue with --resume" if previous else ""

    def append_log(self, record: dict[str, Any]) -> None:
        try:
            with self.log_path.open("a") as f:
                f.write(json.dumps(record) + "\n")
        except OSError as exc:
            raise TranslatorError(f"{self.log_path}: cannot write the training log ({exc.strerror or exc})") from None
        if self.tensorboard is not None and record.get("phase") in ("train", "warmup", "val"):
            step = int(record["step"])
            for key, value in record.items():
                if isinstance(value, float):
                    self.tensorboard.add_scalar(f"{record['phase']}/{key}", value, step)
            for key, value in (record.get("val") or {}).items():
                self.tensorboard.add_scalar(f"val/{key}", value, step)

    def add_sample(self, path: Path, step: int) -> None:
        if self.tensorboard is not None:
            self.tensorboard.add_image("samples", imaging.read_image(path).rgb, step, dataformats="HWC")

    def truncate_log(self, step: int) -> None:
        """Drop log lines past `step` (written after the checkpoint a resume starts from)."""
        if not self.log_path.exists():
            return
        keep = [line for line in self.log_path.read_text().splitlines() if _logged_step(line) <= step]
        write_bytes_atomic(self.log_path, ("\n".join(keep) + "\n" if keep else "").encode())


def _logged_step(line: str) -> float:
    """The step of a log line; a line cut short by a kill (or blank) sorts after every step."""
    try:
        return float(json.loads(line).get("step", 0))
    except (ValueError, AttributeError):
        return math.inf


def _resume(trainer: _Trainer, path: Path) -> None:
    """Restore `trainer` from the state file `path`; one that is damaged, not this tool's, or of
    other settings is a `CheckpointError` saying what to do (never torch's advice to unpickle it)."""
    way_out = (f"delete it and {path.name.replace('.state.pt', '.safetensors')} to resume from the checkpoint "
               "before it, or start the run again in a new folder")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch raises many types for a damaged file
        log.debug("%s: unreadable training state", path, exc_info=True)
        raise CheckpointError(f"{path}: cannot read the training state: the file is damaged or was not written by "
                              f"this tool; {way_out}") from None
    try:
        trainer.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as exc:
        log.debug("%s: training state does not fit", path, exc_info=True)
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        what = f"it has no {exc.args[0]!r}" if isinstance(exc, KeyError) else " ".join(lines[:2])[:300] or type(exc).__name__
        raise CheckpointError(f"{path}: the training state does not fit this run ({what}); resume with the "
                              f"settings the run was started with, or {way_out}") from None


# --- validation and samples -------------------------------------------------------------------


ValPairs = list[tuple[torch.Tensor, torch.Tensor]]  # (input, target), each (1, C, H, W), model direction


def _dataset(scan: DatasetScan, config: TrainConfig, *, train: bool) -> Any:
    """The training (augmented) or validation (deterministic) dataset of a scanned folder."""
    a, b = (scan.train_a, scan.train_b) if train else (scan.val_a, scan.val_b)
    aug = Augment(config.load_size, config.crop_size, config.flip if train else False)
    if not scan.paired:
        return UnpairedDataset(a, b, aug, train=train, seed=config.seed)
    aligned = scan.layout == "aligned"
    return PairedDataset(a, None if aligned else b, aug, aligned=aligned, train=train, seed=config.seed)


def _validation_pairs(scan: DatasetScan, config: TrainConfig) -> ValPairs:
    """The validation images, decoded once for the whole run (at most `max_val` of them)."""
    if not scan.val_a:
        return []
    ds = _dataset(scan, config, train=False)
    pairs = [(ds[i]["a"][None], ds[i]["b"][None]) for i in range(len(ds))]
    if config.kind == "pix2pix" and config.direction == "BtoA":
        pairs = [(b, a) for a, b in pairs]
    return pairs


def _validate(trainer: _Trainer, val: ValPairs) -> dict[str, float] | None:
    """Validation PSNR/SSIM of the (EMA) generator on the validation pairs (pix2pix)."""
    if not val or trainer.cfg.kind != "pix2pix" or not trainer.scan.paired:
        return None
    net = _eval_generator(trainer, "g")
    ps, ss = [], []
    with torch.inference_mode():
        for a, b in val:
            y = net(a.to(trainer.device)).float().cpu()
            ps.append(float(psnr_batch(y, b)[0]))
            ss.append(float(ssim_batch(y, b)[0]))
    finite = [p for p in ps if math.isfinite(p)]
    return {"psnr": float(np.mean(finite)) if finite else math.inf, "ssim": float(np.mean(ss))}


def _kid_validator(config: TrainConfig, device: torch.device) -> KidValidator | None:
    """What KID validation needs (`config.kid_data` set): the held-out images, checked and decoded
    once, and the feature network on the run's device (`FeatureNet.load` keeps it loaded for the
    next run). None, after one log line saying how to install it, where the feature network is
    not installed: the run goes on without KID."""
    if config.kid_data is None:
        return None
    scan = _kid_scan(config, Path(config.kid_data))
    try:
        net = FeatureNet.load(device, config.precision)
    except MissingFeatureNet as exc:
        log.warning("KID validation is off for this run (the run goes on): %s", exc)
        return None
    return KidValidator(_kid_sides(scan, config), net, seed=config.seed)


def _kid_scan(config: TrainConfig, folder: Path) -> DatasetScan:
    """The held-out folder's files, all of them (train and val lists alike); a folder that is
    missing, laid out wrongly or short of images is a `TranslatorError` naming it."""
    what = "the held-out folder for KID validation (--kid-data)"
    try:
        scan = scan_dataset(folder, paired=None if config.kind == "pix2pix" else False, val_fraction=0, max_val=0,
                            seed=config.seed)
    except TranslatorError as exc:
        raise TranslatorError(f"{exc} ({what})") from None
    scan = dataclasses.replace(scan, val_a=scan.train_a + scan.val_a, val_b=scan.train_b + scan.val_b)
    for side, files in (("A", scan.val_a), ("B", scan.val_b)):
        if len(files) < 2:
            raise TranslatorError(f"{folder}: {len(files)} usable image(s) on side {side} of {what}; KID needs at least "
                                  "2 per side (50 give a steadier curve): add images there")
    return scan


def _kid_sides(scan: DatasetScan, config: TrainConfig) -> list[KidSide]:
    """The directions KID validation measures: the model's (pix2pix; CycleGAN's A→B, as `kid`)
    and CycleGAN's B→A (`kid_ba`), each with at most `kid_images` held-out inputs and as many
    real images of its target domain, prepared as validation images are (`_dataset`)."""
    ds = _dataset(scan, config, train=False)
    n_a = min(config.kid_images, len(ds) if scan.paired else len(scan.val_a))
    n_b = min(config.kid_images, len(ds) if scan.paired else len(scan.val_b))
    items = [ds[i] for i in range(max(n_a, n_b))]
    a = torch.stack([it["a"] for it in items[:n_a]])
    b = torch.stack([it["b"] for it in items[:n_b]])

    def reals(t: torch.Tensor) -> tuple[np.ndarray, ...]:
        return tuple(imaging.to_uint8(x) for x in t)

    if config.kind == "pix2pix":
        inputs, targets = (b, a) if config.direction == "BtoA" else (a, b)
        return [KidSide("g", "kid", inputs, reals(targets))]
    return [KidSide("g_ab", "kid", a, reals(b)), KidSide("g_ba", "kid_ba", b, reals(a))]


def _validate_kid(trainer: _Trainer, kid: KidValidator, files: _RunFiles) -> dict[str, float]:
    """KID of the (EMA) generators at this step; a new lowest `kid` writes best-kid.safetensors."""
    scores = kid.measure(lambda role: _eval_generator(trainer, role), trainer.device)
    best = trainer.best_kid
    if best.beaten_by(scores["kid"]):
        best.step, best.kid, best.kid_std = trainer.step, scores["kid"], scores["kid_std"]
        path = files.save_best_kid(trainer)
        log.info("lowest KID so far: %.5f ± %.5f at step %d (%s)", best.kid, best.kid_std, best.step, path.name)
    return scores


def _eval_generator(trainer: _Trainer, role: str) -> nn.Module:
    net = trainer.ema_generator(role) if role in trainer.ema else trainer.nets.generators()[role]
    return net.eval()


def _sample_grid(trainer: _Trainer, val: ValPairs, path: Path, count: int = 4) -> Path | None:
    """Rows of input | output | target (pix2pix) or A | A→B | B | B→A (CycleGAN) for the first
    `count` validation images."""
    if not val:
        return None
    a = torch.cat([p[0] for p in val[:count]])
    b = torch.cat([p[1] for p in val[:count]])
    with torch.inference_mode():
        if trainer.cfg.kind == "pix2pix":
            cols = [a, _eval_generator(trainer, "g")(a.to(trainer.device)).float().cpu(), b]
        else:
            cols = [a, _eval_generator(trainer, "g_ab")(a.to(trainer.device)).float().cpu(),
                    b, _eval_generator(trainer, "g_ba")(b.to(trainer.device)).float().cpu()]
    for net in trainer.nets.to_nets().values():
        net.train()
    rows = [np.hstack([imaging.to_uint8(c[i : i + 1]) for c in cols]) for i in range(a.shape[0])]
    return imaging.write_image(path, np.vstack(rows))


# --- the job ----------------------------------------------------------------------------------


def _batches(trainer: _Trainer, dataset: Any, start_step: int) -> Iterator[dict[str, torch.Tensor]]:
    """An endless stream of batches, epoch after epoch, starting at the batch for `start_step`
    (so a resumed run sees exactly the batches an uninterrupted one would)."""
    cfg = trainer.cfg
    # One loader for the whole run: its worker processes persist from epoch to epoch (a new loader
    # per epoch would start new workers, which on a small folder means every few steps).
    loader = make_loader(dataset, batch_size=cfg.batch_size, shuffle=True, workers=cfg.workers, seed=cfg.seed,
                         drop_last=True, distributed=trainer.world > 1, pin_memory=trainer.device.type == "cuda")
    epoch, skip = divmod(start_step, len(loader))
    while True:
        set_loader_epoch(loader, epoch)
        try:
            for i, batch in enumerate(loader_batches(loader)):
                if i >= skip:
                    yield batch
        except ImageError as exc:  # pixel data broken past a valid header: seen only now
            raise ImageError(f"{exc}; remove or replace that file, then run again (--resume continues from the last "
                             "checkpoint)") from None
        skip = 0
        epoch += 1


def train(config: TrainConfig, *, resume: bool = False, token: CancelToken | None = None) -> Generator[TrainProgress, None, TrainResult]:
    """Train (or fine-tune) a model as `config` says: a job yielding one event per step.

    Cancelling saves a checkpoint and the model, then raises `JobCancelled`. A diverging loss
    raises `TrainingDiverged` without saving over the last good checkpoint.
    """
    token = token or CancelToken()
    files = _RunFiles(config.out)
    files.check(config.data, resume)
    _check_starting_model(config)
    device = resolve_device(config.device)
    started_group = _init_distributed(device)
    try:
        rank, world = _world()
        if device.type == "cuda" and world > 1 and device.index is None:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        scan = scan_dataset(config.data, paired=True if config.kind == "pix2pix" else False,
                            val_fraction=config.val_fraction, max_val=config.max_val, seed=config.seed)
        if scan.unmatched_a or scan.unmatched_b:
            log.warning("%s", scan.describe())
        dataset = _dataset(scan, config, train=True)  # depends on the crop and seed, not on the batch size
        kid = _kid_validator(config, device) if rank == 0 else None
        available = len(dataset)
        if world <= available < config.batch_size * world:
            log.warning("%s: %d training sample(s) for a batch of %d × %d process(es): using batches of %d",
                        config.data, available, config.batch_size, world, available // world)
            config = dataclasses.replace(config, batch_size=available // world)
        cores = os.cpu_count() or 1
        if config.workers > cores:  # each is a process: thousands would stall the machine
            log.warning("%d data-loading workers for %d CPU cores: using %d", config.workers, cores, cores)
            config = dataclasses.replace(config, workers=cores)
        trainer = _Trainer(config, device, scan, dataset)
        latest = files.latest_checkpoint() if resume else None
        if resume and latest is None:
            # Stopped before its first complete checkpoint: the only way on is from the start.
            log.warning("%s: no complete checkpoint yet; the run starts again from step 0", config.out)
            resume = False
        if latest is not None:  # before config.json is rewritten: a state that does not fit leaves the run as it was
            _resume(trainer, latest[2])
        if rank == 0:
            files.prepare(config, resume)
            files.open_tensorboard()
        if latest is not None:
            if rank == 0:
                files.truncate_log(trainer.step)
            log.info("resumed %s at step %d", config.out, trainer.step)
        if len(dataset) < config.batch_size * world:
            raise TranslatorError(f"{config.data}: {len(dataset)} training sample(s) is fewer than one batch ({config.batch_size} × {world} process(es))")
        val = _validation_pairs(scan, config)
        if rank == 0:  # a resumed state's best; none (a stale file removed) when starting from step 0
            files.restore_best_kid(trainer.best_kid)
        total = trainer.warmup_total + config.steps
        # Warm-up batches come from their own stream, so the training stream is the same with or
        # without a warm-up.
        warm_stream = _batches(trainer, dataset, trainer.warmup_done) if trainer.warmup_done < trainer.warmup_total else None
        stream = _batches(trainer, dataset, trainer.step)
        if not resume and rank == 0:
            first = _validate(trainer, val)
            if kid is not None and config.from_model is not None:  # the baseline; from scratch: random weights
                first = {**(first or {}), **_validate_kid(trainer, kid, files)}
            if first:
                trainer.first_validation = first
                files.append_log({"step": 0, "phase": "val", "val": first})
        t_start = time.perf_counter()
        done_at_start = trainer.warmup_done + trainer.step
        while trainer.step < config.steps:
            warming = trainer.warmup_done < trainer.warmup_total
            try:
                token.raise_if_cancelled()
            except JobCancelled:
                if rank == 0:
                    files.save_checkpoint(trainer)
                    files.save_final(trainer)
                raise
            t0 = time.perf_counter()
            lr = float(trainer.opt_g.param_groups[0]["lr"])
            batch = next(warm_stream if warming and warm_stream is not None else stream)
            out, r_t = trainer.run_step(batch, train_g=not warming)
            losses = out.losses.named()
            seconds = time.perf_counter() - t0
            done = trainer.warmup_done + trainer.step
            elapsed = time.perf_counter() - t_start
            rate, eta = rate_eta(done, total, elapsed, done - done_at_start)
            record: dict[str, Any] = {
                "step": trainer.step, "phase": "warmup" if warming else "train", **losses,
                "d_acc_real": out.d_acc_real, "d_acc_fake": out.d_acc_fake, "r_t": r_t,
                "lr": lr, "seconds": seconds,
            }
            if trainer.ada is not None:
                record["ada_p"] = trainer.ada.p
            validation = sample = checkpoint = None
            if not warming and rank == 0:
                if trainer.step % config.val_every == 0 or trainer.step == config.steps:
                    validation = _validate(trainer, val)
                if kid is not None and (trainer.step % config.resolved_kid_every == 0 or trainer.step == config.steps):
                    validation = {**(validation or {}), **_validate_kid(trainer, kid, files)}
                if validation:
                    # merged: a step that measures only KID keeps the last PSNR/SSIM (and the reverse)
                    trainer.last_validation = {**(trainer.last_validation or {}), **validation}
                    record["val"] = validation
                if trainer.step % config.sample_every == 0 or trainer.step == config.steps:
                    sample = _sample_grid(trainer, val, files.samples / f"step_{trainer.step:07d}.png")
                    if sample is not None:
                        files.add_sample(sample, trainer.step)
                if trainer.step % config.log_every == 0 or validation:
                    files.append_log(record)
                if trainer.step % config.checkpoint_every == 0 or trainer.step == config.steps:
                    checkpoint = files.save_checkpoint(trainer)
            elif rank == 0:
                files.append_log(record)
            yield TrainProgress(
                done=done, total=total, elapsed_s=elapsed, rate=rate, eta_s=eta,
                phase="warmup" if warming else "train", losses=losses, d_acc_real=out.d_acc_real,
                d_acc_fake=out.d_acc_fake, r_t=r_t, lr=lr, seconds=seconds,
                validation=validation, sample=sample, checkpoint=checkpoint,
            )
        in_sync = True
        if world > 1:
            digest = torch.tensor([_weights_digest(list(trainer.nets.to_nets().values()))], dtype=torch.float64)
            gathered = [torch.zeros_like(digest) for _ in range(world)]
            dist.all_gather(gathered, digest)
            in_sync = all(torch.equal(g, gathered[0]) for g in gathered)
            if not in_sync:
                raise TranslatorError("the ranks' weights differ after training; this is a bug, please report it")
        model_path = files.root / "model.safetensors"
        if rank == 0:
            files.save_final(trainer)
            files.append_log({"step": trainer.step, "phase": "done", "ranks": world, "ranks_in_sync": in_sync})
        best = trainer.best_kid
        return TrainResult(model_path, trainer.step, files.root, first_validation=trainer.first_validation,
                           last_validation=trainer.last_validation, best_kid=files.best_kid_path if best.found else None,
                           best_kid_step=best.step if best.found else None, best_kid_value=best.kid if best.found else None)
    finally:
        files.close()
        if started_group:
            dist.destroy_process_group()

