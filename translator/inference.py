"""Translating images: one array, a batch, or whole folders (resumable, sharded under torchrun).

Any image size works, down to 1×1: the input is padded (reflect) to the network's multiple (a
ResNet's to at least 8 pixels a side), translated, and cropped back. Images larger than the memory budget go through `translator.tiling` (overlapping
tiles, feathered blending, whole-image normalisation statistics).

Two modes, named for what they do:
- `eval`: running BatchNorm statistics, no dropout. Deterministic. The default.
- `reference`: what the reference implementation's `test.py` does by default (it never calls
  `.eval()`): BatchNorm normalises with the statistics of the image itself and dropout stays on,
  so outputs vary; `seed` makes them repeatable. Every image gets its own `torch.Generator`
  seeded with the same seed, so an image's output does not depend on which other images are in
  the job, nor on another job running at the same time; torch's global RNG is never touched.
  On the CPU the masks are those `torch.manual_seed(seed)` would give `nn.Dropout`.

A `Translator` may be used by several threads at once (a preview and a batch job): inference
never changes its network (`translator.tiling.private_net`). Long images can be stopped: the
translate functions take a cancel token, checked after every pass over a tile.
"""
from __future__ import annotations

import copy
import errno
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from translator import imaging
from translator._fs import check_writable, is_stale_partial
from translator.blend import blend, check_strength
from translator.checkpoint import Direction, Model, load_model, resolve_model_path
from translator.choices import MODES as MODES  # MODES, Mode, TileSetting: the app and the CLI import them from here too
from translator.choices import TILE_STATS, TileStats, check_choice
from translator.choices import Mode as Mode
from translator.choices import TileSetting as TileSetting
from translator.cuda_graphs import GraphedForward
from translator.devices import Precision, autocast, autocast_dtype, resolve_device
from translator.errors import ImageError, JobCancelled, OutputError, TranslatorError
from translator.heap import SMALL_WORK, size_heap_for
from translator.jobs import CancelToken, ItemResult, JobSummary, Progress, ProgressClock
from translator.networks import GeneratorSpec
from translator.networks.fold import fold_batchnorm, shallow_copy_tree
from translator.precision import run_precision
from translator.provenance import Provenance
from translator.tiling import choose_tile, default_overlap, estimate_bytes_per_pixel, private_net, run_tiled

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InferenceOptions:
    """How to run a generator. Built once by the CLI or GUI, never mutated."""

    device: str = "auto"
    precision: Precision = "fp32"
    mode: Mode = "eval"
    seed: int = 0
    tile: TileSetting = "auto"
    overlap: int | None = None  # None: the architecture's default
    # Tiled InstanceNorm / batch-statistics models: "exact" measures every norm layer's
    # whole-image statistics at full resolution (U-Nets and ResNets: about one pass, segment by
    # segment, `translator.tiling`); "fast" uses statistics of a downscaled copy (one extra small
    # pass: a slightly different look).
    tile_stats: TileStats = "exact"
    memory_budget_mb: int | None = None  # None: a share of the device's memory
    resize: int | None = None  # reproduce the reference: resize to N×N first, output N×N
    batch_size: int | None = None  # same-sized images per forward pass in eval mode; None: `batch_size_for`
    workers: int = 2  # decode/encode threads

    def __post_init__(self) -> None:
        check_choice("mode", self.mode, MODES)
        if isinstance(self.tile, int) and self.tile <= 0:
            raise ValueError("tile must be a positive size, 'auto' or 'off'")
        if (self.batch_size is not None and self.batch_size < 1) or self.workers < 0:
            raise ValueError("batch_size must be >= 1 and workers >= 0")
        if self.resize is not None and self.resize < 1:
            raise ValueError("resize must be a positive size")
        check_choice("tile_stats", self.tile_stats, TILE_STATS)


@dataclass
class Translator:
    """A generator ready to translate: on its device, in its mode. Build with `load_translator`
    (or `translator.model_cache.ModelCache`). Safe to use from several threads at once."""

    net: nn.Module
    spec: GeneratorSpec
    device: torch.device
    options: InferenceOptions
    model: Model
    direction: Direction
    precision: Precision = "fp32"  # what runs: `options.precision` resolved (`auto` picked, fallbacks taken)

    @property
    def name(self) -> str:
        return self.model.card.name

    @property
    def budget(self) -> int:
        """Bytes one forward pass may use before tiling, from the memory available now."""
        return memory_budget(self.device, self.options.memory_budget_mb)


# The share of the memory available when an image starts that one forward pass may use before the
# image is tiled: the rest is for the image itself, its output, the model and the rest of the
# machine. `--memory-budget MB` caps it instead (640 keeps a 4096×4096 pix2pix translation under
# 1.5 GiB of peak RSS: BENCHMARKS.md "Large images").
BUDGET_SHARE = 0.5
FALLBACK_AVAILABLE = 2 * 2**30  # what is assumed where the system does not say


def available_memory(device: torch.device) -> int:
    """Bytes free for this process on `device` now: free GPU memory on CUDA; on the CPU the
    system's available memory (Linux `MemAvailable`: free plus reclaimable cache), within the
    container's limit (cgroup v2 `memory.max` less `memory.current`) where there is one."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    avail: int | None = None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = FALLBACK_AVAILABLE
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            avail = min(avail, max(0, int(limit) - used))
    except (OSError, ValueError):
        pass
    return avail


def memory_budget(device: torch.device, override_mb: int | None = None) -> int:
    """Bytes a single forward pass may use before the image is tiled: `override_mb` when given,
    else `BUDGET_SHARE` of the memory available now (read at every image, so a job adapts)."""
    if override_mb is not None:
        return override_mb * 2**20
    return int(available_memory(device) * BUDGET_SHARE)


def prepare_net(net: nn.Module, mode: Mode) -> nn.Module:
    """Put a generator (or discriminator) into the requested mode without touching the caller's copy.

    `reference` mode works on a copy whose BatchNorm layers normalise with batch statistics but
    never update their running averages (momentum 0), so translating never changes the model.
    """
    if mode == "eval":
        return net.eval()
    net = copy.deepcopy(net).train()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = 0.0
    return net


def make_translator(
    model: Model, options: InferenceOptions = InferenceOptions(), direction: Direction | None = None, *, private: bool = False
) -> Translator:
    """A translator for one direction of a loaded model.

    In eval mode BatchNorm is folded into the convolutions, and U-Nets run in channels-last
    (`fast_layout`); in bf16 (fp16) the convolutions' weights are stored in that dtype
    (`_conv_weights_in`): on copies of the changed layers, unless `private` says the model is this
    translator's alone (then in place, so a large model is not held twice). On CUDA, recurring
    small shapes run as captured graphs (`translator.cuda_graphs`).
    """
    net, spec = model.generator(direction)
    device = resolve_device(options.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # the fastest kernels per input size, found once
    net = prepare_net(net, options.mode).to(device)
    size_heap_for(0)  # the weights are prepared in small pieces: reuse the heap's blocks (translator.heap)
    layout = fast_layout(spec, device)
    if options.mode == "eval":  # same pixels up to rounding, one pass less per norm; written in the layout it runs in
        net, _ = fold_batchnorm(net, inplace=private, memory_format=layout)
    if layout == torch.channels_last:
        net = net.to(memory_format=torch.channels_last) if private else _channels_last_copy(net)
    role_direction: Direction = direction or model.card.directions()[0]
    tr = Translator(net, spec, device, options, model, role_direction)
    tr = replace(tr, precision=run_precision(tr))  # `auto` compares fp32 and bf16: before the weights are cast
    dtype = autocast_dtype(tr.precision)  # resolved: a precision the device runs
    if dtype is not None:
        tr = replace(tr, net=_conv_weights_in(tr.net, dtype, private=private))
    if device.type == "cuda" and options.mode == "eval":  # reference mode draws dropout masks: stays eager
        tr = replace(tr, net=_SharedGraphs(tr.net))
    return tr


def _conv_weights_in(net: nn.Module, dtype: torch.dtype, *, private: bool) -> nn.Module:
    """`net` with its convolutions' weights and biases stored in `dtype`, the dtype autocast casts
    them to: the same pixels, without a cast of every weight at every call (those casts were a
    fifth of unet_256's bf16 time at 256², batch 4, on this CPU). Other layers keep their dtype
    (autocast runs norms in fp32). In place when `private`, else on copies of the convolutions."""

    def cast(m: nn.Module) -> nn.Module | None:
        if not isinstance(m, nn.modules.conv._ConvNd):
            return None
        out = m if private else copy.copy(m)
        out._parameters = {name: None if p is None else nn.Parameter(p.detach().to(dtype), requires_grad=False)
                           for name, p in m._parameters.items()}
        return out

    if private:
        for m in net.modules():
            cast(m)
        return net
    return shallow_copy_tree(net, cast)


class _SharedGraphs(GraphedForward):
    """`GraphedForward` that several threads may call: a captured graph reads and writes fixed
    buffers, so two calls take turns (on one GPU their kernels queue one after the other anyway).
    Not run here: this project's machines have no GPU."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__(net)
        self._turn = threading.Lock()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with self._turn:
            return super().forward(x)


def fast_layout(spec: GeneratorSpec, device: torch.device) -> torch.memory_format:
    """The faster memory layout for a generator on a device (BENCHMARKS.md, "What was changed").

    On the CPU, oneDNN's transposed convolutions are ~2.5× faster in channels-last than in NCHW,
    which makes a U-Net (half its work in transposed convolutions) faster end to end; a ResNet,
    whose work is 3×3 convolutions, is slower in channels-last there. On CUDA, channels-last is
    the layout cuDNN's tensor-core kernels want.
    """
    if device.type == "cuda" or spec.family == "unet":
        return torch.channels_last
    return torch.contiguous_format


def _channels_last_copy(net: nn.Module) -> nn.Module:
    """`net` with 4-D weights in channels-last, without changing the caller's network (which may
    be a model shared with the app)."""
    out = shallow_copy_tree(net)
    for m in out.modules():
        for name, p in m._parameters.items():
            if p is not None and p.dim() == 4 and not p.is_contiguous(memory_format=torch.channels_last):
                m._parameters[name] = nn.Parameter(p.detach().contiguous(memory_format=torch.channels_last), requires_grad=False)
    return out


def load_translator(model: str | Path, options: InferenceOptions = InferenceOptions(), direction: Direction | None = None) -> Translator:
    """Load a model file (path or name in the model folders) and make a translator from it."""
    path = resolve_model_path(model)
    return make_translator(load_model(path), options, direction, private=True)


def _pad_to_multiple(x: torch.Tensor, multiple: int, min_side: int = 1) -> tuple[torch.Tensor, int, int]:
    """Pad (N, C, H, W) on the bottom/right to multiples of `multiple`, and to at least `min_side`
    (a multiple of `multiple`): reflect where the image is large enough, replicate beyond that
    (reflect cannot pad more than the side)."""
    h, w = x.shape[-2:]
    ph, pw = max((-h) % multiple, min_side - h), max((-w) % multiple, min_side - w)
    while ph or pw:  # reflect in steps no larger than the current side
        sh, sw = min(ph, x.shape[-2] - 1), min(pw, x.shape[-1] - 1)
        if sh <= 0 and ph or sw <= 0 and pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
            break
        x = F.pad(x, (0, sw, 0, sh), mode="reflect")
        ph, pw = ph - sh, pw - sw
    return x, h, w


def _to_model_channels(rgb: np.ndarray, in_channels: int) -> np.ndarray:
    if in_channels == 3:
        return rgb
    if in_channels == 1:
        return np.asarray(Image.fromarray(rgb).convert("L"))[..., None]
    raise TranslatorError(f"models with {in_channels} input channels are not supported for images")


def _tensor_of(rgb: np.ndarray) -> torch.Tensor:
    # (H, W, C) uint8 -> (1, C, H, W) uint8, a view: `_FromUint8` normalises each tile as it runs
    return torch.from_numpy(np.require(rgb, requirements=["C", "W"])).permute(2, 0, 1)[None]


class _FromUint8(nn.Module):
    """Runs a generator on pixel values in [0, 255] (uint8, or float after resampling), normalised
    as the reference does (x/255*2-1) only when they reach the net: a tiled gigapixel image then
    stays in memory as bytes, not as a float copy four times its size."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.float().div(255).mul(2).sub(1))  # type: ignore[no-any-return]


def _uint8_of(y: torch.Tensor) -> np.ndarray:
    # (1, C, H, W) in [-1, 1] -> (H, W, 3) uint8; single-channel outputs are shown as grey RGB
    if y.shape[1] == 1:
        y = y.expand(-1, 3, -1, -1)
    return imaging.to_uint8(y)


def translate_tensor(
    tr: Translator,
    x: torch.Tensor,
    *,
    token: CancelToken | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] (float) or in [0, 255] (uint8), any H, W -> the generator's output,
    same size, in [-1, 1], float32 on the CPU.

    token: checked before the image runs and after every pass over a tile, raising
    `JobCancelled`; an untiled image is one forward pass, which cannot be interrupted, so it is
    checked before and after that pass only. progress: called as progress(done, total) after
    every pass, counting the tile passes of all N images together (1 of 1 for an untiled call;
    `total` grows once a tiled image's statistics passes are known). The network is never
    changed, whether the call finishes, fails or is cancelled.
    """
    opts = tr.options
    if token is not None:
        token.raise_if_cancelled()
    net = _FromUint8(tr.net) if x.dtype == torch.uint8 else tr.net
    if tr.device.type == "cuda":  # page-locked staging: the copy overlaps the host's work
        x = x.pin_memory().to(tr.device, non_blocking=True)
    xp, h, w = _pad_to_multiple(x.to(tr.device), tr.spec.multiple, tr.spec.min_side)
    tile: int | None
    budget = tr.budget
    if opts.tile == "off":
        tile = None
    elif opts.tile == "auto":
        tile = choose_tile(tr.spec, xp.shape[-2], xp.shape[-1], budget // max(1, xp.shape[0]))
        _log_path(tr, xp, tile, budget)
    else:
        tile = max(tr.spec.multiple, opts.tile // tr.spec.multiple * tr.spec.multiple)
    overlap = opts.overlap if opts.overlap is not None else default_overlap(tr.spec)
    passes = _Passes(progress, token, images=xp.shape[0] if tile is not None else 1)
    if tr.device.type == "cpu":  # a small pass reuses the heap's blocks (translator.heap)
        one_pass = tile is None or (xp.shape[-2] <= tile and xp.shape[-1] <= tile)
        size_heap_for(int(xp.shape[0] * xp.shape[-2] * xp.shape[-1] * estimate_bytes_per_pixel(tr.spec)) if one_pass else budget)
    with torch.inference_mode(), autocast(tr.device, tr.precision):
        if tile is None or (xp.shape[-2] <= tile and xp.shape[-1] <= tile):
            whole = private_net(net, _dropout_generator(tr))
            if xp.shape[0] * xp.shape[-2] * xp.shape[-1] >= LAYER_PROGRESS_PIXELS and tr.device.type != "cuda":
                whole = _layer_by_layer(whole, passes)  # a long pass: progress and cancel inside it
                y: torch.Tensor = whole(xp)
            else:
                y = whole(xp)
                passes.step(1, 1)
        else:
            parts = []
            for i in range(xp.shape[0]):
                parts.append(
                    run_tiled(
                        net,
                        xp[i : i + 1],
                        tile=tile,
                        overlap=overlap,
                        multiple=tr.spec.multiple,
                        refine_passes=None if opts.tile_stats == "exact" else 0,
                        budget=budget,  # exact statistics keep whole-image activations within it (else on disk)
                        progress=passes.step,
                        generator=_dropout_generator(tr),  # each image its own, seeded alike
                    )
                )
                passes.next_image()
            y = torch.cat(parts)
    return y[..., :h, :w].float().cpu()


def _log_path(tr: Translator, xp: torch.Tensor, tile: int | None, budget: int) -> None:
    """Say which way an image goes (whole or in tiles) and why, in figures."""
    n, _, h, w = xp.shape
    need = n * h * w * estimate_bytes_per_pixel(tr.spec)
    if tile is None:
        log.info("%d×%d (×%d): whole, in one pass: needs ~%d MiB, within the budget of %d MiB%s", w, h, n,
                 need // 2**20, budget // 2**20, "" if tr.options.memory_budget_mb else " (half the memory available)")
    else:
        stats = "" if not needs_input_statistics(tr) else f", {tr.options.tile_stats} whole-image statistics"
        log.info("%d×%d (×%d): in tiles of %d px%s: one pass would need ~%d MiB, over the budget of %d MiB%s", w, h, n,
                 tile, stats, need // 2**20, budget // 2**20,
                 " (--memory-budget)" if tr.options.memory_budget_mb else " (half the memory available)")


def needs_input_statistics(tr: Translator) -> bool:
    """Whether `tr`'s norm layers normalise with each image's own statistics (InstanceNorm, or
    BatchNorm in reference mode): tiling such a model costs extra passes for the statistics."""
    return any(isinstance(m, nn.InstanceNorm2d) or (isinstance(m, nn.BatchNorm2d) and tr.options.mode == "reference")
               for m in tr.net.modules())


# An untiled pass over at least this many pixels (all images of the batch together) reports
# progress, and checks the cancel token, after every convolution: on the CPU a megapixel pass takes
# a second or more, and a cancel must land within one.
LAYER_PROGRESS_PIXELS = 2**20


class _Counted(nn.Module):
    """A layer that reports each time it has run (`tick`); the layer itself is shared, not copied."""

    def __init__(self, layer: nn.Module, tick: Callable[[], None]) -> None:
        super().__init__()
        self.layer = layer
        self._tick = tick

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.layer(x)
        self._tick()
        return y


def _layer_by_layer(net: nn.Module, passes: _Passes) -> nn.Module:
    """A copy of `net`'s module tree (`shallow_copy_tree`: nothing shared changes) whose
    convolutions report to `passes` as they finish: step k of n, the cancel token checked at each."""
    convs = sum(isinstance(m, nn.modules.conv._ConvNd) for m in net.modules())
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        passes.step(done, convs)

    return shallow_copy_tree(net, lambda m: _Counted(m, tick) if isinstance(m, nn.modules.conv._ConvNd) else None)


def _dropout_generator(tr: Translator) -> torch.Generator | None:
    """Reference mode: a generator seeded with the options' seed, for one image's dropout masks."""
    if tr.options.mode != "reference":
        return None
    return torch.Generator(device=tr.device).manual_seed(tr.options.seed)


@dataclass
class _Passes:
    """Counts the forward passes of one `translate_tensor` call for its `progress` callback, over
    all its images (the ones still to come estimated as costing what the current one does), and
    checks the cancel token after each pass."""

    callback: Callable[[int, int], None] | None
    token: CancelToken | None
    images: int
    finished: int = 0  # images done
    done_before: int = 0  # passes of the finished images
    current: int = 0  # passes the current image will take, as last reported

    def step(self, done: int, total: int) -> None:
        self.current = total
        if self.callback is not None:
            self.callback(self.done_before + done, self.done_before + total * (self.images - self.finished))
        if self.token is not None:
            self.token.raise_if_cancelled()

    def next_image(self) -> None:
        self.finished += 1
        self.done_before += self.current


def translate_array(
    tr: Translator,
    rgb: np.ndarray,
    *,
    token: CancelToken | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W, 3) uint8 at the same size (or N×N with `resize`); `token` and
    `progress` as in `translate_tensor`."""
    if tr.options.resize:
        n = tr.options.resize
        rgb = np.asarray(Image.fromarray(rgb).resize((n, n), Image.Resampling.BICUBIC))
    x = _tensor_of(_to_model_channels(rgb, tr.spec.in_channels))
    return _uint8_of(translate_tensor(tr, x, token=token, progress=progress))


QUICK_ABOVE = 512
"""Images with more pixels than QUICK_ABOVE² get a quick look first (issue 28: within 0.3 s)."""
QUICK_SIDE = 256
"""The quick look's longer side: about the size a preview view shows an image at fit, and a
quarter of a 512-pixel look's work (which took 0.8 s with demo-day2night and 1.4 s with
demo-photo2painting on this 2-core CPU while another process ran). At 256 the look is painted
within 0.05–0.15 s (BENCHMARKS.md, "The app's responsiveness")."""


def quick_look(tr: Translator, image: Path, token: CancelToken | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """A downscaled (input, output) of a large image, for a preview to show at once while the full
    resolution runs; None when the image is small enough to show at full resolution at once (or
    the options `resize` it, or it cannot be probed: the full run then says why). The output is
    the model on the downscaled image: a fair likeness of the full result, not the same pixels."""
    if tr.options.resize:
        return None
    try:
        width, height = imaging.probe_image(image)
    except ImageError:
        return None
    if width * height <= QUICK_ABOVE * QUICK_ABOVE:
        return None
    small = imaging.read_thumbnail(image, QUICK_SIDE)  # JPEGs decode at reduced size: fast
    return small, translate_array(tr, small, token=token)


def translate_batch(
    tr: Translator,
    images: Sequence[np.ndarray],
    *,
    token: CancelToken | None = None,
    progress: Callable[[float], None] | None = None,
) -> list[np.ndarray]:
    """Translate several images; same-sized ones share a forward pass in `eval` mode (in
    `reference` mode each image runs alone, since batch statistics would mix images). `token` is
    checked as in `translate_tensor`, so a cancel lands within one pass (within one layer on a
    large image). `progress(fraction)`: the share of the whole batch done, as `translate_tensor`
    reports it (each forward call counted as an equal share)."""
    calls: list[list[int]] = []
    if tr.options.mode == "reference" or tr.options.resize or len(images) == 1:
        calls = [[i] for i in range(len(images))]
    else:
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, im in enumerate(images):
            groups.setdefault(im.shape, []).append(i)
        for same in groups.values():
            h, w = images[same[0]].shape[:2]
            fits = _images_per_pass(tr, h, w)
            calls += [same[start : start + fits] for start in range(0, len(same), fits)]
    out: list[np.ndarray | None] = [None] * len(images)
    for k, idx in enumerate(calls):
        inner = None if progress is None else _share(progress, k, len(calls))
        if len(idx) == 1:
            out[idx[0]] = translate_array(tr, images[idx[0]], token=token, progress=inner)
            continue
        x = torch.cat([_tensor_of(_to_model_channels(images[i], tr.spec.in_channels)) for i in idx])
        y = translate_tensor(tr, x, token=token, progress=inner)
        for j, i in enumerate(idx):
            out[i] = _uint8_of(y[j : j + 1])
    return [o for o in out if o is not None]


def _share(progress: Callable[[float], None], k: int, n: int) -> Callable[[int, int], None]:
    """The (done, total) callback of call `k` of `n`, reporting to `progress` as a share of all n."""
    return lambda done, total: progress((k + done / max(1, total)) / n)


def batch_size_for(tr: Translator) -> int:
    """The batch the folder job assembles: the option when given, else 4 for U-Nets (8 when they
    run in bf16 on the CPU) and on GPUs, 1 for ResNets on the CPU. Measured (BENCHMARKS.md, folder
    jobs): a U-Net 256 on the CPU runs ~1.5× the images per second at batch 4 (its deepest layers
    work on a few pixels), and in bf16 batch 8 took 10 % less time again (48 images at 256²,
    1.11 against 1.24 s; on the shared machine 4.4-4.9 against 7.3-7.8 CPU-s), while fp32 gained
    nothing at 8; a ResNet's 3×3 convolutions are already efficient at batch 1 and get slower at
    batch 4. Each batch is still split to fit the memory budget (`_images_per_pass`)."""
    if tr.options.batch_size is not None:
        return tr.options.batch_size
    if tr.spec.family == "unet" and tr.device.type == "cpu" and tr.precision == "bf16":
        return 8
    return 4 if tr.spec.family == "unet" or tr.device.type == "cuda" else 1


def _images_per_pass(tr: Translator, height: int, width: int) -> int:
    """How many images of this size share one forward pass: those that fit the memory budget
    together, so batching never makes an image tile that would not tile alone (at least 1); unless
    the options set the batch, more than 4 only while the pass stays small work
    (`translator.heap.SMALL_WORK`: where the larger bf16 batch pays, `batch_size_for`; a folder
    of large photos keeps its memory)."""
    m = tr.spec.multiple
    padded = max(-(-height // m) * m, tr.spec.min_side) * max(-(-width // m) * m, tr.spec.min_side)
    per_image = padded * estimate_bytes_per_pixel(tr.spec)
    fits = max(1, int(tr.budget // per_image))
    if fits <= 4 or tr.options.batch_size is not None:  # a batch the user chose: as many as the budget takes
        return fits
    return max(4, min(fits, int(SMALL_WORK // per_image)))


# --- folder jobs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkItem:
    """One input file and the output it becomes."""

    src: Path
    dst: Path


def plan_outputs(
    inputs: Sequence[Path], output_dir: Path, *, recursive: bool = False, fmt: str | None = None
) -> list[WorkItem]:
    """Map files and folders to output paths, keeping each folder's relative tree.

    Refuses (TranslatorError) any plan in which an output would overwrite an input, and never
    lists files inside `output_dir` as inputs.
    """
    output_dir = Path(output_dir)
    out_resolved = _resolved(output_dir)
    items: list[WorkItem] = []
    for inp in inputs:
        inp = Path(inp)
        if inp.is_dir():
            if _resolved(inp) == out_resolved:
                raise TranslatorError(f"{output_dir}: the output folder is the input folder; outputs would overwrite the input files or mix with them. Choose another --output folder")
            for f in imaging.list_images(inp, recursive=recursive):
                if out_resolved in _resolved(f).parents:
                    continue  # an earlier run's outputs inside the input tree
                rel = f.relative_to(inp)
                items.append(WorkItem(f, imaging.output_path_for(f, output_dir / rel.parent, fmt)))
        elif inp.is_file() or inp.is_symlink():  # a broken link or a loop fails as an item, with its reason
            if _resolved(inp.absolute().parent) == out_resolved:
                raise TranslatorError(f"{output_dir}: the output folder is the folder of the input {inp}; outputs may not be written among the inputs. Choose another --output folder")
            items.append(WorkItem(inp, imaging.output_path_for(inp, output_dir, fmt)))
        else:
            raise TranslatorError(f"{inp}: no such file or folder")
    sources = {_resolved(it.src) for it in items}
    seen: dict[Path, Path] = {}
    for it in items:
        d = _resolved(it.dst)
        if d in sources:
            raise TranslatorError(
                f"{it.dst}: the output would overwrite the input file {it.src}; choose another --output folder"
            )
        if d in seen:
            raise TranslatorError(f"{it.src} and {seen[d]} would both be written to {it.dst}; use --format or separate runs")
        seen[d] = it.src
    return items


def _resolved(path: Path) -> Path:
    """`path` made absolute with its links resolved, as far as they resolve: a symbolic link loop
    (which `Path.resolve` refuses with RuntimeError) stays as it is."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def shard(items: Sequence[WorkItem], rank: int | None = None, world: int | None = None) -> list[WorkItem]:
    """This process's share of the items under torchrun (RANK/WORLD_SIZE), else all of them."""
    rank = int(os.environ.get("RANK", "0")) if rank is None else rank
    world = int(os.environ.get("WORLD_SIZE", "1")) if world is None else world
    if not 0 <= rank < world:
        raise TranslatorError(f"RANK {rank} is outside WORLD_SIZE {world}")
    return list(items[rank::world])


def _remove_stale_partials(items: Sequence[WorkItem]) -> None:
    """Delete temporary files a killed run left in the output folders (not those another live
    process, e.g. another torchrun rank, is writing)."""
    for d in {it.dst.parent for it in items}:
        if d.is_dir():
            for f in d.iterdir():
                if is_stale_partial(f):
                    log.info("removing %s left by an interrupted run", f)
                    f.unlink(missing_ok=True)


def _is_complete(path: Path) -> bool:
    # Outputs are written atomically, so an existing, non-empty file is a finished one.
    return path.is_file() and path.stat().st_size > 0


def translate_files(
    tr: Translator,
    items: Sequence[WorkItem],
    *,
    overwrite: bool = False,
    quality: int = 95,
    strength: float = 1.0,
    token: CancelToken | None = None,
    settings: Provenance | None = None,
) -> Generator[Progress, None, JobSummary]:
    """Translate each item's source into its destination: a job (see `translator.jobs`).

    `strength` below 1 blends each output with its input in linear light (`translator.blend`).
    `settings` (`translator.provenance`) are written into every output whose format can hold them.

    Existing outputs are skipped unless `overwrite`; a bad file (or an image the model fails on,
    e.g. out of memory) is reported in its event and the summary, with the reason, and the job
    goes on. Decoding runs ahead on worker threads and encoding behind, overlapping the model; at most
    a window of a few images waits on either side, so memory stays flat on long folders.
    Returns a `JobSummary`. The token is also checked inside each image (after every pass over
    a tile), so a cancel never waits for a large image to finish. Cancelling waits for in-flight
    writes (each atomic) and raises `JobCancelled`. An output folder that cannot take files (not writable, disk full, deleted
    during the job) stops the job with `OutputError`, before the first image or at the first file
    that failed; every output finished before it is complete and kept.
    """
    token = token or CancelToken()
    strength = check_strength(strength)
    summary: JobSummary = JobSummary()
    _remove_stale_partials(items)
    clock = ProgressClock(len(items))
    todo: set[int] = set()
    for n, it in enumerate(items):
        if not overwrite and _is_complete(it.dst):
            summary.skipped.append(it.src)
            yield clock.tick(it.src, ItemResult(it.src, "skipped", it.dst), processed=False)
        else:
            todo.add(n)
    for folder in dict.fromkeys(items[n].dst.parent for n in sorted(todo)):
        try:
            check_writable(folder)
        except OSError as exc:
            raise OutputError(f"{folder}: cannot write the outputs here ({exc.strerror or exc}); "
                              "choose another output folder or make this one writable") from exc
    workers = max(1, tr.options.workers)
    batch_size = batch_size_for(tr)
    # Batches come from fixed windows of the whole plan, grouped by image size: a rerun after an
    # interruption computes exactly the batches an uninterrupted run would (the numerics of a
    # batched convolution depend on the batch), re-reading the done members of a window it resumes in.
    windows = [range(k, min(k + batch_size, len(items))) for k in range(0, len(items), batch_size)]
    reading = [n for w in windows if todo.intersection(w) for n in w]
    lookahead = max(2 * workers, batch_size * 2)
    inside: queue.SimpleQueue[float] = queue.SimpleQueue()  # the model's progress within the current batch
    with ThreadPoolExecutor(workers, thread_name_prefix="decode") as readers, ThreadPoolExecutor(
        workers, thread_name_prefix="encode"
    ) as writers, ThreadPoolExecutor(1, thread_name_prefix="model") as model_thread:
        reads: dict[int, Future[imaging.LoadedImage]] = {}
        writes: list[tuple[WorkItem, Future[Path]]] = []
        next_read = 0

        held: dict[int, int] = {}  # bytes each read ahead will hold (from its header), until the model takes it
        read_budget = int(available_memory(torch.device("cpu")) * READ_AHEAD_SHARE)

        def submit_reads(upto: int, *, needed: bool = False) -> None:
            """Read up to item `upto`: all of them when `needed` (the model's next window), else
            only while the images read ahead fit `read_budget` (a folder of huge panoramas is read
            one window at a time)."""
            nonlocal next_read
            while next_read < min(upto, len(reading)):
                n = reading[next_read]
                need = _read_bytes(items[n].src)
                if not needed and held and sum(held.values()) + need > read_budget:
                    return
                held[n] = need
                reads[n] = readers.submit(imaging.read_image, items[n].src)
                next_read += 1

        def drain(block: bool, keep: int = 0) -> Iterator[Progress]:
            """Report finished writes in order; `block`: wait until at most `keep` are in flight."""
            while len(writes) > keep and (block or writes[0][1].done()):
                it, fut = writes.pop(0)
                try:
                    fut.result()
                except (ImageError, OSError, ValueError) as exc:
                    reason = _destination_failure(it.dst, exc)
                    if reason is not None:
                        for _it, rest in writes:
                            rest.exception()  # the ones already encoding finish (or fail) atomically
                        raise OutputError(
                            f"{it.dst}: cannot be written: {reason}. The job stopped; the {len(summary.written)} "
                            f"output(s) written before it are complete. {_DESTINATION_ADVICE}") from exc
                    summary.failed.append(ItemResult(it.src, "failed", it.dst, _message(it.dst, exc)))
                    yield clock.tick(it.src, summary.failed[-1])
                else:
                    summary.written.append(it.dst)
                    yield clock.tick(it.src, ItemResult(it.src, "written", it.dst))

        pos = 0
        try:
            while pos < len(reading):
                token.raise_if_cancelled()
                window = windows[reading[pos] // batch_size]
                pos += len(window)
                submit_reads(pos, needed=True)
                submit_reads(pos + lookahead)
                groups: dict[tuple[int, ...], list[tuple[int, imaging.LoadedImage]]] = {}
                for n in window:
                    held.pop(n, None)
                    try:
                        loaded = reads.pop(n).result()
                    except (ImageError, OSError) as exc:
                        if n in todo:
                            summary.failed.append(ItemResult(items[n].src, "failed", None, _message(items[n].src, exc)))
                            yield clock.tick(items[n].src, summary.failed[-1])
                        continue
                    groups.setdefault(loaded.rgb.shape, []).append((n, loaded))
                for group in groups.values():
                    if not todo.intersection(n for n, _ in group):
                        continue
                    try:
                        first = items[group[0][0]].src
                        model_run = model_thread.submit(translate_batch, tr, [loaded.rgb for _, loaded in group],
                                                        token=token, progress=inside.put)
                        yield from _while_running(model_run, inside, partial(clock.within, first))
                        outputs = model_run.result()
                    except JobCancelled:
                        raise
                    except (RuntimeError, ValueError, TranslatorError) as exc:  # e.g. out of memory on one huge image
                        log.debug("translating %s failed", ", ".join(str(items[n].src) for n, _ in group), exc_info=True)
                        for n, loaded in group:
                            if n in todo:
                                w, h = loaded.size
                                summary.failed.append(ItemResult(items[n].src, "failed", None, f"{items[n].src}: the "
                                                                 f"model could not translate this {w}×{h} image ({exc})"))
                                yield clock.tick(items[n].src, summary.failed[-1])
                        continue
                    for (n, loaded), rgb in zip(group, outputs):
                        if n in todo:
                            like = loaded if not tr.options.resize else None
                            writes.append((items[n], writers.submit(_write_output, items[n].dst, rgb, like, quality,
                                                                    loaded.rgb, strength, settings)))
                    yield from drain(block=False)
                # Back-pressure: when encoding is slower than the model, outputs must not pile up in memory.
                yield from drain(block=True, keep=lookahead)
            yield from drain(block=True)
        except (JobCancelled, GeneratorExit, KeyboardInterrupt):
            token.cancel()  # a model pass still running stops at its next layer or tile
            for f in reads.values():
                f.cancel()
            for _it, fut in writes:
                fut.exception()  # let in-flight atomic writes finish
            raise
    return summary


READ_AHEAD_SHARE = 0.25  # of the memory available at the start of a folder job, for images read ahead


def _read_bytes(path: Path) -> int:
    """What reading `path` will hold, from its header (0 for a file that cannot be probed: its read fails)."""
    try:
        width, height = imaging.probe_image(path)
        return imaging.memory_needed(width, height, 16, path.stat().st_size)
    except (TranslatorError, OSError, ValueError):
        return 0


INSIDE_AFTER_S = 1.0  # an image (batch) running longer than this reports progress inside it
INSIDE_EVERY_S = 0.25  # at most this often


def _while_running(run: Future[list[np.ndarray]], inside: queue.SimpleQueue[float],
                   event: Callable[[float], Progress]) -> Iterator[Progress]:
    """Wait for the model's `run`, yielding `event(fraction)` from the fractions it reports once it
    has taken `INSIDE_AFTER_S`, at most every `INSIDE_EVERY_S`; the queue is left empty."""
    started = last = time.monotonic()
    fraction: float | None = None
    while not run.done():
        try:
            fraction = inside.get(timeout=0.05)
        except queue.Empty:
            continue
        now = time.monotonic()
        if now - started >= INSIDE_AFTER_S and now - last >= INSIDE_EVERY_S:
            last = now
            yield event(fraction)
    while not inside.empty():
        inside.get_nowait()


def _write_output(dst: Path, rgb: np.ndarray, like: imaging.LoadedImage | None, quality: int,
                  source: np.ndarray, strength: float, settings: Provenance | None = None) -> Path:
    """Blend (on the encoding thread, beside the model) and write one output, with its settings."""
    rgb = blend(source, rgb, strength)
    # The folders were made before the job; one that disappears is reported, not silently remade.
    if like is None:
        return imaging.write_image(dst, rgb, quality=quality, make_parents=False, settings=settings)
    return imaging.write_like(dst, rgb, like, quality=quality, make_parents=False, settings=settings)


_FOLDER_ERRNOS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "the output folder is not writable",
    errno.EPERM: "the output folder is not writable",
}
_DESTINATION_ADVICE = "Make room (or choose another output folder), then rerun the same command: finished outputs are skipped."


def _destination_failure(dst: Path, exc: BaseException) -> str | None:
    """Why no more outputs can go into `dst`'s folder, or None when the failure is this file's own."""
    if not dst.parent.is_dir():
        return f"the output folder {dst.parent} no longer exists (deleted, moved or unmounted during the job)"
    os_error = exc if isinstance(exc, OSError) else exc.__cause__
    if isinstance(os_error, OSError) and os_error.errno in _FOLDER_ERRNOS:
        return f"{_FOLDER_ERRNOS[os_error.errno]} ({os_error.strerror})"
    return None


def _message(path: Path, exc: BaseException) -> str:
    text = str(exc)
    return text if text.startswith(str(path)) else f"{path}: {text}"
