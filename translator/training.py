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
import io
import itertools
import json
import logging
import math
import os
import time
import tomllib
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from translator import imaging
from translator._fs import write_bytes_atomic
from translator.checkpoint import Model, ModelCard, build_model, load_model, resolve_model_path, save_model
from translator.choices import DIRECTIONS, GAN_MODES, KINDS, NORMS, PRECISIONS, Direction, GanMode, Kind, Norm, Precision, check_choice
from translator.datasets import Augment, DatasetScan, EpochSampler, PairedDataset, UnpairedDataset, make_loader, scan_dataset, set_loader_epoch
from translator.devices import autocast_dtype, effective_precision, resolve_device
from translator.errors import CheckpointError, JobCancelled, TranslatorError
from translator.jobs import CancelToken, Progress, rate_eta
from translator.metrics import psnr_batch, ssim_batch
from translator.models import Losses, Nets, Pix2Pix, StepResult, StepTools, cyclegan_step, model_type, pix2pix_step
from translator.pairs import manifest_input_style, read_pairs_manifest
from translator.models import TrainingDiverged as TrainingDiverged  # raised by the steps; importable from here too
from translator.models.step import set_requires_grad
from translator.networks import DiscriminatorSpec, GeneratorSpec, build_discriminator
from translator.presets import preset_settings
from translator.training_parts import AdaptiveAugment, Ema, GanLoss, ImagePool, RealnessTracker, linear_decay_lambda

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

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, KINDS)
        check_choice("direction", self.direction, DIRECTIONS)
        check_choice("precision", self.precision, PRECISIONS)
        if self.norm is not None:
            check_choice("norm", self.norm, NORMS)
        if self.gan_mode is not None:
            check_choice("gan_mode", self.gan_mode, GAN_MODES)
        for name in ("steps", "batch_size", "crop_size", "load_size", "d_steps_per_g", "checkpoint_every", "keep_last",
                     "val_every", "sample_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.d_warmup_steps < 0 or self.workers < 0:
            raise ValueError("d_warmup_steps and workers must be >= 0")
        if self.lr <= 0:
            raise ValueError("lr must be positive")
        if self.decay_steps is not None and not 0 <= self.decay_steps <= self.steps:
            raise ValueError(f"decay_steps must be between 0 and steps ({self.steps})")
        if not 0 < self.ema_decay < 1:
            raise ValueError("ema_decay must be between 0 and 1")

    # resolved defaults ---------------------------------------------------------------------
    @property
    def resolved_gan_mode(self) -> GanMode:
        return self.gan_mode or model_type(self.kind).paper.gan_mode

    @property
    def use_ema(self) -> bool:
        return self.ema if self.ema is not None else self.from_model is not None

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

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["data"], d["out"] = str(self.data), str(self.out)
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
        """A config from plain values; with a `preset` key, the preset fills what `d` leaves out."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise TranslatorError(f"unknown training setting(s): {', '.join(unknown)}")
        d = dict(d)
        for key in ("kind", "data", "out"):
            if key not in d:
                raise TranslatorError(f"the training setting {key!r} is missing")
        preset = d.pop("preset", None)
        if preset is not None:
            return cls.from_preset(preset, d.pop("kind"), d.pop("data"), d.pop("out"), **d)
        d["data"], d["out"] = Path(d["data"]), Path(d["out"])
        return cls(**d)

    @classmethod
    def from_file(cls, path: Path, **overrides: Any) -> TrainConfig:
        """Read a TOML or JSON config; `overrides` (non-None values) win. Without a `preset`
        key the `default` recipe fills what the file leaves out."""
        path = Path(path)
        try:
            text = path.read_text()
            d = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except FileNotFoundError:
            raise TranslatorError(f"{path}: no such config file") from None
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            raise TranslatorError(f"{path}: not a valid {path.suffix[1:].upper()} file ({exc})") from None
        d.update({k: v for k, v in overrides.items() if v is not None})
        d.setdefault("preset", "default")
        return cls.from_dict(d)


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


def _check_crop_fits(card: ModelCard, crop_size: int) -> None:
    """A crop smaller than a generator's smallest input would fail deep inside the network (a
    U-Net 256 halves a 128 crop to less than a pixel): say so, and what to choose, before training."""
    for role, spec in card.generators.items():
        if crop_size < spec.min_side:
            raise TranslatorError(
                f"crop size {crop_size} is too small for {card.name}'s {role} ({spec.arch}): it needs at least "
                f"{spec.min_side}×{spec.min_side}; choose --crop-size {spec.min_side} or more "
                "(in the app: Fine-tune → Advanced → Crop size)")


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
        _check_crop_fits(start.card, config.crop_size)
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
        d_spec = DiscriminatorSpec("patch", cfg.d_layers, cfg.d_base_filters, kind.paper.d_norm, kind.paper.d_in_channels,
                                   cfg.resolved_gan_mode)
        if cfg.from_model is None:
            g = cfg.generator_spec()
            card = ModelCard(cfg.model_name, cfg.kind, {r: g for r in kind.generator_roles},
                             {r: d_spec for r in kind.discriminator_roles}, direction=cfg.direction,
                             image_size=cfg.crop_size, source="trained from scratch by translator")
            return build_model(card, seed=cfg.seed), False
        start = load_model(resolve_model_path(cfg.from_model))
        if start.card.kind != cfg.kind:
            raise TranslatorError(f"{cfg.from_model} is a {start.card.kind} model; train it with `translator train {start.card.kind}`")
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
            "recipe": {k: v for k, v in self.cfg.to_dict().items() if k not in ("data", "out", "device", "workers")},
            "ema": self.cfg.use_ema,
        }
        if self.last_validation:
            training["validation"] = self.last_validation
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


# --- files ------------------------------------------------------------------------------------


class _RunFiles:
    """The run folder. Every write is atomic; an OSError becomes a clear TranslatorError."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.checkpoints = self.root / "checkpoints"
        self.samples = self.root / "samples"
        self.log_path = self.root / "log.jsonl"
        self.tensorboard: Any = None  # a SummaryWriter when tensorboard is installed

    def open_tensorboard(self) -> None:
        """Also write TensorBoard event files (`RUN/tensorboard/`) when tensorboard is installed."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            log.info("tensorboard is not installed; the run is recorded in log.jsonl only")
            return
        self.tensorboard = SummaryWriter(str(self.root / "tensorboard"))

    def close(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.close()

    def prepare(self, config: TrainConfig, resume: bool) -> None:
        try:
            if self.root.exists() and not self.root.is_dir():
                raise TranslatorError(f"{self.root}: the run folder path is a file; choose another --out")
            if not resume and self.checkpoints.is_dir() and self.latest_checkpoint() is not None:
                raise TranslatorError(f"{self.root} already holds a run; use --resume to continue it or choose another --out")
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


def _load_state(path: Path) -> dict[str, Any]:
    try:
        state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise CheckpointError(f"{path}: cannot read the training state ({exc})") from None
    return state


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
        for i, batch in enumerate(loader):
            if i >= skip:
                yield batch
        skip = 0
        epoch += 1


def train(config: TrainConfig, *, resume: bool = False, token: CancelToken | None = None) -> Generator[TrainProgress, None, TrainResult]:
    """Train (or fine-tune) a model as `config` says: a job yielding one event per step.

    Cancelling saves a checkpoint and the model, then raises `JobCancelled`. A diverging loss
    raises `TrainingDiverged` without saving over the last good checkpoint.
    """
    token = token or CancelToken()
    device = resolve_device(config.device)
    started_group = _init_distributed(device)
    files = _RunFiles(config.out)
    try:
        rank, world = _world()
        if device.type == "cuda" and world > 1 and device.index is None:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        scan = scan_dataset(config.data, paired=True if config.kind == "pix2pix" else False,
                            val_fraction=config.val_fraction, max_val=config.max_val, seed=config.seed)
        if scan.unmatched_a or scan.unmatched_b:
            log.warning("%s", scan.describe())
        dataset = _dataset(scan, config, train=True)  # depends on the crop and seed, not on the batch size
        available = len(dataset)
        if world <= available < config.batch_size * world:
            log.warning("%s: %d training sample(s) for a batch of %d × %d process(es): using batches of %d",
                        config.data, available, config.batch_size, world, available // world)
            config = dataclasses.replace(config, batch_size=available // world)
        trainer = _Trainer(config, device, scan, dataset)
        latest = files.latest_checkpoint() if resume else None
        if resume and latest is None:
            # Stopped before its first complete checkpoint: the only way on is from the start.
            log.warning("%s: no complete checkpoint yet; the run starts again from step 0", config.out)
            resume = False
        if rank == 0:
            files.prepare(config, resume)
            files.open_tensorboard()
        if latest is not None:
            trainer.load_state_dict(_load_state(latest[2]))
            if rank == 0:
                files.truncate_log(trainer.step)
            log.info("resumed %s at step %d", config.out, trainer.step)
        if len(dataset) < config.batch_size * world:
            raise TranslatorError(f"{config.data}: {len(dataset)} training sample(s) is fewer than one batch ({config.batch_size} × {world} process(es))")
        val = _validation_pairs(scan, config)
        total = trainer.warmup_total + config.steps
        # Warm-up batches come from their own stream, so the training stream is the same with or
        # without a warm-up.
        warm_stream = _batches(trainer, dataset, trainer.warmup_done) if trainer.warmup_done < trainer.warmup_total else None
        stream = _batches(trainer, dataset, trainer.step)
        if not resume and rank == 0:
            first = _validate(trainer, val)
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
                    if validation:
                        trainer.last_validation = validation
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
        return TrainResult(model_path, trainer.step, files.root, first_validation=trainer.first_validation,
                           last_validation=trainer.last_validation)
    finally:
        files.close()
        if started_group:
            dist.destroy_process_group()

