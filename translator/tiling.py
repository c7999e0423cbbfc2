"""Tiled inference for images larger than the memory budget.

An image that does not fit runs through the generator in overlapping square tiles whose outputs
are blended with feathered (raised-cosine) weights, so no tile edge shows as a line.

Feathering alone is not enough for models whose norm layers normalise with the statistics of
their own input: InstanceNorm without running statistics (CycleGAN) and BatchNorm in training
mode (the `reference` inference mode). Run per tile, each tile gets its own mean and variance, so
a tile of sky and a tile of towers come out in different colours and contrast and the tiling
shows as a patchwork. `run_tiled` gives every such layer the statistics of the *whole image*.

Exact statistics by segments (the default for U-Net and ResNet generators): the generator runs
layer group by layer group over the whole image, a segment ending at each norm layer that needs
statistics. A segment is computed tile by tile, each tile cropped from the stored inputs with the
halo its convolutions need (padding applied only where the crop meets the activation's border),
so its output is exactly the untiled net's; the output is stored whole and the layer's
per-channel mean and variance are merged over its tiles (float64) as they are written. The norm,
the pointwise layers after it (ReLU, dropout) and a residual or input skip are then applied to
the stored value in place, chunk by chunk, and the next segment reads it. Values a later layer
still needs (U-Net skips, ResNet block inputs) are kept until then. The result is the untiled
output up to float rounding, U-Nets included, and there is nothing to blend: every layer sees the
whole image. Cost: one pass plus the halos (a pixel or three per tile edge) plus a pass over
each stored value per norm layer (memory-bound, no convolution). Memory: the stored values (a
ResNet's largest moment holds its first two activations: 64 + 32 channels per pixel at ngf 64,
against ~220 for an untiled pass) live in memory while they fit in the caller's budget, else in
memory-mapped files in a private folder in the system's temporary folder, unlinked as soon as
they are mapped (POSIX) and removed however the call ends. Dropout (reference mode) draws one
mask per stored value, chunk by chunk along its outermost dimension in memory, from the call's
generator (or torch's RNG): on the CPU that is the very mask the untiled net draws with the
same generator. A tile does at most a few GMAC of work and the progress callback runs after
each tile and each chunk, so a cancel raised there takes effect within a fraction of a second.

Other nets (and `method="refine"`) take the older path, which estimates statistics and then
refines them over blended tiles:

1. thumbnail: one pass over the whole image, downscaled (area interpolation) to one tile's area
   (and to `stats_max_side`), records each layer's per-channel mean and biased variance. This is
   "thumbnail instance normalisation" (Chen et al., AAAI 2022). Every tile then normalises
   alike, so ResNets show no seams, but a thumbnail has less fine detail than the image: its
   statistics differ from the full-resolution ones (on the test nets, 4-10 grey levels mean
   difference to the untiled output at 1.5× downscaling, 14-29 at 3×), and U-Nets, whose deep
   features depend on the whole tile, then show seams.
2. refine, layer by layer (`refine_passes`, default all): with the layers before it already
   final, a layer's statistics are re-measured over the tiles at full resolution: each tile runs
   up to that layer (the pass stops there) and adds the mean and variance of the layer's input
   over the region the tile *owns* (tiles partition the image at the middle of their overlaps),
   mapped to the layer's resolution. After all layers these are the untiled net's statistics,
   except that deeper layers see only their tile's context (exact for a ResNet's layers whose
   receptive field fits in the overlap; approximate for a U-Net's inner layers). Measured:
   within 0.1 grey level of the untiled output for ResNets, 2-8 for U-Nets (per tile: 20-40).
   Why not all layers in one pass: a layer's statistics depend on the normalisation of the
   layers before it, so statistics measured in a pass where earlier layers still used their
   thumbnail estimates are wrong once those change; updating every layer after each pass makes
   the output worse before it gets better, and converges only after as many passes as layers.
3. final: all tiles with every such layer frozen to the final statistics; outputs blended.

Cost, in passes over the tiles: 1 for models without batch-statistics layers (BatchNorm in
`eval` mode); 1 plus the thumbnail (about one tile) with `refine_passes=0`; with full
refinement, one truncated pass per batch-statistics layer on top, about half a pass each on
average (resnet_9blocks has 23 such layers: ~12 passes; unet_256 has 14). On this path dropout
(reference mode) draws its masks per tile and per pass, so an overlap zone averages two draws.

The network given is never modified, not even during the call, so two threads can tile with one
network at once: each call works on its own copy of the module tree (parameters and buffers
shared, not copied) in which the generator is a stand-in running the segments (which only read
its layers' weights) or, on the refinement path, every batch-statistics norm layer is a stand-in
that reads the layer's weight and bias and normalises as the current step says, and in which,
when the caller passes a `torch.Generator`, dropout draws its masks from that generator rather
than from the global RNG. Running statistics are never updated.

Tile geometry: tile sides are multiples of the net's `multiple` (2**num_downs for U-Nets, 4 for
ResNets); a tile is clamped to the image along an axis where the image is shorter. Tile origins
are multiples of `min(multiple, 8)`: a ResNet's tiles then sit on the untiled net's pixel grid at
every resolution (so in eval mode a tile's centre equals the untiled output exactly), a U-Net's
at its first three levels (keeping the phase of the transposed convolutions' checkerboard, so
blended tiles do not mix two phases).
"""
from __future__ import annotations

import errno
import logging
import math
import os
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, TypeGuard

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from translator.cuda_graphs import GraphedForward
from translator.errors import TranslatorError
from translator.networks.fold import shallow_copy_tree
from translator.networks.layers import InputSkip
from translator.networks.resnet import ResnetBlock, ResnetGenerator
from translator.networks.unet import UnetGenerator, UnetSkipBlock
from translator.networks.specs import GeneratorSpec

log = logging.getLogger(__name__)

Statistics = Literal["global", "per_tile"]
MAX_ALIGN = 8  # tile origins are multiples of min(multiple, MAX_ALIGN)
_FP32 = 4  # bytes
_MIN_STATS_SIDE = 64


@dataclass(frozen=True)
class TilePlan:
    """A tiling: square tiles of `tile` pixels (a multiple of the net's multiple) overlapping by at
    least `overlap` pixels."""

    tile: int
    overlap: int

    def __post_init__(self) -> None:
        if self.tile < 1:
            raise ValueError(f"tile must be positive, not {self.tile}")
        if not 0 <= self.overlap < self.tile:
            raise ValueError(f"overlap must be in [0, tile), not {self.overlap} for tile {self.tile}")

    def corners(self, height: int, width: int, *, align: int = 1) -> list[tuple[int, int]]:
        """Top-left corners of the tiles covering a `height`×`width` image (see `plan_tiles`)."""
        return plan_tiles(height, width, self.tile, self.overlap, align=align)


# --- geometry ---------------------------------------------------------------------------------


def _axis_positions(n: int, t: int, overlap: int, align: int) -> list[int]:
    """Tile starts along one axis of length n for tiles of length t (t <= n)."""
    if n <= t:
        return [0]
    stride = (t - overlap) // align * align
    if stride <= 0:
        raise ValueError(f"overlap {overlap} leaves no stride for tile {t} (origins on multiples of {align})")
    positions = list(range(0, n - t, stride))
    positions.append(n - t)  # the last tile is flush with the far edge
    return positions


def plan_tiles(height: int, width: int, tile: int, overlap: int, *, align: int = 1) -> list[tuple[int, int]]:
    """Top-left corners `(y, x)` of tiles covering a `height`×`width` image, row by row.

    Tiles are `min(tile, height)`×`min(tile, width)`: a tile never extends beyond the image, and
    it is clamped along an axis where the image is shorter than `tile` (the caller pads images to
    the net's multiple, so the clamped side stays a multiple). Along each axis, tiles start every
    `tile - overlap` pixels, rounded down to a multiple of `align` (so the actual overlap is at
    least `overlap`); the last tile is flush with the far edge. An image that fits in one tile
    gives `[(0, 0)]`. Origins are multiples of `align` when the sides and the tile are.
    """
    if height < 1 or width < 1:
        raise ValueError(f"image must not be empty, got {height}×{width}")
    if tile < 1 or not 0 <= overlap < tile or align < 1:
        raise ValueError(f"need tile >= 1, 0 <= overlap < tile and align >= 1; got tile={tile}, overlap={overlap}, align={align}")
    ys = _axis_positions(height, min(tile, height), overlap, align)
    xs = _axis_positions(width, min(tile, width), overlap, align)
    return [(y, x) for y in ys for x in xs]


def _owned_bounds(positions: Sequence[int], t: int, n: int, align: int) -> list[int]:
    """Boundaries partitioning [0, n) among tiles at `positions`: the middle of each overlap,
    rounded to a multiple of `align`. Tile i owns [b[i], b[i+1])."""
    bounds = [0]
    for prev, nxt in zip(positions, positions[1:]):
        lo, hi = nxt, prev + t  # the overlap of the two tiles
        mid = (lo + hi) // 2
        bounds.append(min(max((mid + align // 2) // align * align, lo), hi))
    bounds.append(n)
    return bounds


def _ramp(n: int, overlap: int, margin: int, lead: bool, trail: bool) -> torch.Tensor:
    """1-D weights: 0 over `margin` pixels at a shared edge, then a raised cosine up to 1 at
    `overlap - margin` pixels from it."""
    w = torch.ones(n, dtype=torch.float64)
    k = min(overlap, n)
    if k > 0:
        m = min(margin, (k - 1) // 2)
        width = k - 2 * m
        rise = 0.5 - 0.5 * torch.cos(math.pi * (torch.arange(width, dtype=torch.float64) + 0.5) / width)  # (0, 1)
        ramp = torch.cat([torch.zeros(m, dtype=torch.float64), rise, torch.ones(m, dtype=torch.float64)])
        if lead:
            w[:k] = ramp
        if trail:
            w[n - k :] = torch.minimum(w[n - k :], ramp.flip(0))
    return w


def feather_weights(
    tile_h: int, tile_w: int, overlap: int, *, top: bool, bottom: bool, left: bool, right: bool, margin: int | None = None
) -> torch.Tensor:
    """(1, 1, tile_h, tile_w) float32 blending weights of one tile.

    A flag is True where that edge is shared with a neighbouring tile. Across the `overlap`
    pixels at such an edge the weight is 0 for the outer `margin` pixels (default overlap // 4),
    then rises along a raised cosine (0.5 - 0.5·cos: flat at both ends, so the blend has no kink)
    to 1 at `margin` pixels before the overlap's inner end; edges on the image border keep weight 1.
    The margin keeps the pixels nearest a tile edge, which lack context beyond it, out of the
    result. Two tiles overlapping by exactly `overlap` have weights summing to 1; where they
    overlap more (the last tile of a row), `run_tiled` divides by the sum, which is >= 1
    everywhere on a tiling from `plan_tiles` (overlap > 2·margin).
    """
    if tile_h < 1 or tile_w < 1 or overlap < 0:
        raise ValueError(f"need positive tile sides and overlap >= 0; got {tile_h}×{tile_w}, overlap {overlap}")
    m = overlap // 4 if margin is None else margin
    if m < 0 or (overlap and 2 * m >= overlap):
        raise ValueError(f"margin must be in [0, overlap / 2), not {m} for overlap {overlap}")
    wy = _ramp(tile_h, overlap, m, top, bottom)
    wx = _ramp(tile_w, overlap, m, left, right)
    return (wy[:, None] * wx[None, :]).float()[None, None]


@dataclass(frozen=True)
class _Tile:
    """A tile (y, x, h, w) in image pixels, the region it owns and which edges it shares."""

    y: int
    x: int
    h: int
    w: int
    own_y: tuple[int, int]
    own_x: tuple[int, int]
    top: bool
    bottom: bool
    left: bool
    right: bool


def _tiles(height: int, width: int, tile: int, overlap: int, align: int) -> list[_Tile]:
    th, tw = min(tile, height), min(tile, width)
    ys = _axis_positions(height, th, overlap, align)
    xs = _axis_positions(width, tw, overlap, align)
    yb, xb = _owned_bounds(ys, th, height, align), _owned_bounds(xs, tw, width, align)
    return [
        _Tile(y, x, th, tw, (yb[i], yb[i + 1]), (xb[j], xb[j + 1]), i > 0, i < len(ys) - 1, j > 0, j < len(xs) - 1)
        for i, y in enumerate(ys)
        for j, x in enumerate(xs)
    ]


def tile_boundaries(height: int, width: int, tile: int, overlap: int, *, align: int = 1) -> tuple[list[int], list[int]]:
    """(columns, rows) where `run_tiled` hands over from one tile to the next: the middles of the
    overlaps (the boundaries of the regions the tiles own)."""
    th, tw = min(tile, height), min(tile, width)
    ys = _axis_positions(height, th, overlap, align)
    xs = _axis_positions(width, tw, overlap, align)
    return _owned_bounds(xs, tw, width, align)[1:-1], _owned_bounds(ys, th, height, align)[1:-1]


# --- memory -----------------------------------------------------------------------------------


def _feature_channels_per_pixel(spec: GeneratorSpec) -> float:
    """Σ over the net's resolutions of (feature channels there) / (area reduction there)."""
    ngf = spec.base_filters
    if spec.family == "resnet":
        # full resolution: ngf; 1/2: 2·ngf; 1/4: 4·ngf (stem, downsamplings, blocks, upsamplings)
        return ngf * (1 + 2 / 4 + 4 / 16)
    # U-Net level k (1..num_downs) at 1/2**k holds the encoder's c_k channels (kept for the skip)
    # and the decoder's concatenation of 2·c_k; c_k = ngf·min(2**(k-1), 8)
    return sum(3 * ngf * min(1 << (k - 1), 8) / (1 << 2 * k) for k in range(1, spec.num_downs + 1))


# How many times the channel sum is alive at the peak of a forward pass under inference_mode,
# measured on the CPU (peak RSS; tests/engine/test_tiling.py checks it): a ResNet holds a conv's
# output and its norm's output at full resolution together (2×); a U-Net holds its skips and one
# concatenation (1×).
_LIVE = {"resnet": 2.0, "unet": 1.0}
_HEADROOM = 1.25  # workspaces (cuDNN, oneDNN), allocator rounding and fragmentation


def estimate_bytes_per_pixel(spec: GeneratorSpec) -> float:
    """Rough peak activation memory per input pixel of one fp32 forward pass under inference_mode.

    bytes/pixel = 4 · 1.25 · (live · Σ_levels channels/area_reduction + in_channels + out_channels):
    the sum runs over the feature maps at each resolution (`_feature_channels_per_pixel`); `live`
    (2 for ResNets, 1 for U-Nets) is how many times that sum is alive at the peak, measured; 1.25
    is headroom for workspaces and the allocator. resnet_9blocks/ngf 64: about 1150 B/px (892
    measured on a CPU); unet_256/ngf 64: about 490 B/px (383 measured). Weights, the blend buffers
    of the whole image and the caller's input are not included.
    """
    live = _LIVE[spec.family] * _feature_channels_per_pixel(spec)
    return _FP32 * _HEADROOM * (live + spec.in_channels + spec.out_channels)


def _align(multiple: int) -> int:
    return min(multiple, MAX_ALIGN)


def min_tile(spec: GeneratorSpec, overlap: int | None = None) -> int:
    """The smallest usable tile: a multiple of `spec.multiple` at least `2·overlap + align`, so the
    feather ramps of opposite edges never meet and every tile owns a non-empty centre."""
    ov = default_overlap(spec) if overlap is None else overlap
    need = 2 * ov + _align(spec.multiple)
    return max(spec.multiple, -(-need // spec.multiple) * spec.multiple)


def choose_tile(spec: GeneratorSpec, height: int, width: int, budget_bytes: int, *, overlap: int | None = None) -> int | None:
    """The tile side for an image of `height`×`width` (already padded to the multiple) under a
    memory budget: None when the whole image fits, else the largest multiple of `spec.multiple`
    whose square tile fits, but never less than `min_tile(spec, overlap)` (then the budget is
    exceeded, which is logged: a smaller tile could not be blended)."""
    bpp = estimate_bytes_per_pixel(spec)
    if height * width * bpp <= budget_bytes:
        return None
    side = int(math.sqrt(max(budget_bytes, 0) / bpp)) // spec.multiple * spec.multiple
    smallest = min_tile(spec, overlap)
    if side < smallest:
        log.warning(
            "memory budget of %.0f MiB is below one %d px tile of %s (~%.0f MiB); using that tile anyway",
            budget_bytes / 2**20, smallest, spec.arch, smallest**2 * bpp / 2**20,
        )
        return smallest
    return side


def default_overlap(spec: GeneratorSpec) -> int:
    """Default tile overlap in pixels.

    ResNets: 1.5 × the receptive-field radius R = 15 + 8·n_blocks pixels (7×7 stem and head: 3
    each; the two downsamplings: 1 + 2; each block's two 3×3 convs at 1/4 resolution: 8; the
    upsamplings: 4 + 2), rounded up to a multiple of 8: 136 for resnet_9blocks, 96 for
    resnet_6blocks. With the feather margin of overlap/4, every blended pixel then has at least
    0.375·R of context beyond its tile's edge; influence decays fast with distance (the effective
    receptive field is much smaller than R), and on test nets this keeps eval-mode tiling within
    1 grey level of the untiled output (tests/engine/test_tiling.py).
    U-Nets see the whole tile (their receptive field exceeds 2**num_downs), so no overlap makes
    them exact; half the multiple, between 32 and 128, gives a smooth hand-over: 128 for unet_256.
    """
    if spec.family == "resnet":
        radius = 15 + 8 * spec.n_blocks
        return -(-3 * radius // 16) * 8
    return min(128, max(32, spec.multiple // 2))


# --- statistics -------------------------------------------------------------------------------

_Key = tuple[int, int]  # (layer index, call number within one forward)


class _StopForward(Exception):
    """Raised by a stand-in norm layer to end a forward pass once it has recorded what it needs."""


def _uses_input_statistics(m: nn.Module) -> TypeGuard[nn.BatchNorm2d | nn.InstanceNorm2d]:
    """True for norm layers that normalise with the statistics of their input in their current
    mode: InstanceNorm2d/BatchNorm2d in training mode, or without running statistics."""
    return isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and (m.training or m.running_mean is None)


def _infer_multiple(net: nn.Module) -> int:
    """2**(number of stride-2 convolutions): 4 for the ResNets, 2**num_downs for the U-Nets."""
    n = sum(1 for m in net.modules() if isinstance(m, nn.Conv2d) and tuple(m.stride) == (2, 2))
    return 1 << n


def _round_half_up(v: float) -> int:
    return math.floor(v + 0.5)


@dataclass
class _Statistics:
    """What the stand-in norm layers (`_StandInNorm`) of one call's private copy do in the current pass.

    Inactive, a layer computes what the layer it stands for computes in training mode, without
    updating running statistics. Active, each layer call normalises with `estimates[key]` when
    `frozen` (and known), else with its input's own statistics. It records its input's statistics
    (over the current tile's owned region, mapped to the layer's resolution) when its key is in
    `record` (None: every key), and ends the pass with `_StopForward` after `stop_after`. `order`
    lists keys in first-call order.
    """

    active: bool = True
    frozen: bool = False
    record: set[_Key] | None = field(default_factory=set)
    stop_after: _Key | None = None
    estimates: dict[_Key, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    order: list[_Key] = field(default_factory=list)
    tile: _Tile | None = None  # None: record over the whole input
    calls: defaultdict[int, int] = field(default_factory=lambda: defaultdict(int))
    parts: defaultdict[_Key, list[tuple[int, torch.Tensor, torch.Tensor]]] = field(default_factory=lambda: defaultdict(list))

    def start_forward(self, tile: _Tile | None) -> None:
        self.tile = tile
        self.calls.clear()

    def normalise(self, layer: _StandInNorm, x: torch.Tensor) -> torch.Tensor:
        """What `layer` computes on `x`, (N, C, h, w) at its resolution, in the current pass."""
        weight, bias, eps = layer.weight, layer.bias, layer.eps  # weight and bias None unless affine
        if not self.active:  # training-mode arithmetic (the input's statistics), no running statistics
            norm = F.instance_norm if layer.instance else F.batch_norm
            return norm(x, None, None, weight, bias, True, 0.0, eps)
        key = (layer.index, self.calls[layer.index])
        self.calls[layer.index] += 1
        if key not in self.order:
            self.order.append(key)
        if self.record is None or key in self.record:
            self._record(key, x)
        if key == self.stop_after:
            raise _StopForward
        if self.frozen and key in self.estimates:
            mean, var = self.estimates[key]
        else:
            var, mean = torch.var_mean(x.float(), dim=(0, 2, 3), correction=0)
        # (x - mean) / sqrt(var + eps) * weight + bias, as one multiply-add in x's dtype
        scale = torch.rsqrt(var + eps)
        if weight is not None:
            scale = scale * weight.float()
        shift = -mean * scale
        if bias is not None:
            shift = shift + bias.float()
        c = x.shape[1]
        return torch.addcmul(shift.to(x.dtype).view(1, c, 1, 1), x, scale.to(x.dtype).view(1, c, 1, 1))

    def _record(self, key: _Key, x: torch.Tensor) -> None:
        t = self.tile
        if t is not None:  # the owned region, mapped to this layer's resolution
            fy, fx = t.h / x.shape[-2], t.w / x.shape[-1]
            r0, r1 = (min(max(_round_half_up((v - t.y) / fy), 0), x.shape[-2]) for v in t.own_y)
            c0, c1 = (min(max(_round_half_up((v - t.x) / fx), 0), x.shape[-1]) for v in t.own_x)
            x = x[..., r0:r1, c0:c1]
        if x.numel() == 0:
            return
        var, mean = torch.var_mean(x.float(), dim=(0, 2, 3), correction=0)
        self.parts[key].append((x.shape[0] * x.shape[-2] * x.shape[-1], mean.double(), var.double()))

    def take_recorded(self) -> dict[_Key, tuple[torch.Tensor, torch.Tensor]]:
        """Combine what was recorded since the last call into (mean, biased var) per layer call
        (Chan et al.'s pairwise formula over the parts, in float64)."""
        out = {}
        for key, parts in self.parts.items():
            n = torch.tensor([p[0] for p in parts], dtype=torch.float64, device=parts[0][1].device)[:, None]
            means = torch.stack([p[1] for p in parts])
            variances = torch.stack([p[2] for p in parts])
            total = n.sum()
            mean = (n * means).sum(0) / total
            var = (n * (variances + (means - mean) ** 2)).sum(0) / total
            out[key] = (mean.float(), var.float())
        self.parts.clear()
        return out


class _StandInNorm(nn.Module):
    """Takes the place of a norm layer in a call's private copy of the net: the layer's own weight
    and bias (shared, not copied), normalised as `stats` says (`_Statistics.normalise`)."""

    def __init__(self, index: int, layer: nn.BatchNorm2d | nn.InstanceNorm2d, stats: _Statistics) -> None:
        super().__init__()
        self.index = index
        self.instance = isinstance(layer, nn.InstanceNorm2d)
        self.eps = float(layer.eps)
        self.weight: nn.Parameter | None = layer.weight
        self.bias: nn.Parameter | None = layer.bias
        self.stats = stats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stats.normalise(self, x)


class _SeededDropout(nn.Module):
    """`nn.Dropout` in training mode, drawing its masks from `generator` instead of the global RNG.

    The same operations as torch's dropout on the CPU (a Bernoulli mask scaled by 1/(1-p)), so
    there a generator seeded with s gives the masks `nn.Dropout` draws after `torch.manual_seed(s)`.
    """

    def __init__(self, p: float, generator: torch.Generator) -> None:
        super().__init__()
        self.p = p
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0 or x.numel() == 0:
            return x
        if self.p == 1:
            return x * torch.zeros((), dtype=x.dtype, device=x.device)
        keep = torch.empty_like(x).bernoulli_(1 - self.p, generator=self.generator).div_(1 - self.p)
        return x * keep


def _updates_running_statistics(m: nn.Module) -> TypeGuard[nn.BatchNorm2d | nn.InstanceNorm2d]:
    """True for norm layers that would update their running statistics when called."""
    return isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.training and m.track_running_stats


def _is_training_dropout(m: nn.Module) -> TypeGuard[nn.Dropout]:
    return type(m) is nn.Dropout and m.training


def _private_copy(
    net: nn.Module, norms: Sequence[nn.BatchNorm2d | nn.InstanceNorm2d], stats: _Statistics, generator: torch.Generator | None
) -> nn.Module:
    """A copy of `net`'s module tree for one call (`shallow_copy_tree`: parameters and buffers
    shared) in which each of `norms` is a `_StandInNorm` reading `stats`, and, given a
    `generator`, each dropout layer in training mode a `_SeededDropout` drawing from it.

    A CUDA graph wrapper is left out of the copy: its captured graphs would replay the shared
    layers, not the stand-ins. `net` itself when there is nothing to replace.
    """
    stand_ins: dict[int, nn.Module] = {id(m): _StandInNorm(i, m, stats) for i, m in enumerate(norms)}

    def replace(m: nn.Module) -> nn.Module | None:
        if isinstance(m, GraphedForward):
            return shallow_copy_tree(m.net, replace)
        if generator is not None and _is_training_dropout(m):
            return _SeededDropout(float(m.p), generator)
        return stand_ins.get(id(m))

    if not stand_ins and (generator is None or not any(_is_training_dropout(m) for m in net.modules())):
        return net
    return shallow_copy_tree(net, replace)


def private_net(net: nn.Module, generator: torch.Generator | None = None) -> nn.Module:
    """`net` as one call may run it without changing anything another call sees.

    Norm layers in training mode keep normalising with their input's statistics but no longer
    update the running statistics they share; given a `generator`, dropout layers in training
    mode draw their masks from it instead of from torch's global RNG. Parameters and buffers are
    shared, never copied; `net` itself is returned when nothing needs replacing (e.g. eval mode).
    """
    return _private_copy(net, [m for m in net.modules() if _updates_running_statistics(m)], _Statistics(active=False), generator)


def _stats_size(height: int, width: int, max_side: int | None, max_pixels: int, multiple: int) -> tuple[int, int]:
    """The size of the statistics pass: the image scaled (keeping its aspect, up to rounding down
    to the multiple) to an area <= max_pixels and a longer side <= max_side, never enlarged, and
    no side below 64 px (rounded up to the multiple) unless the image's is."""
    scale = min(1.0, math.sqrt(max_pixels / (height * width)))
    if max_side is not None:
        scale = min(scale, max_side / max(height, width))
    smallest = -(-_MIN_STATS_SIDE // multiple) * multiple  # a ResNet fails on 4-px inputs
    h = min(height, max(smallest, int(height * scale) // multiple * multiple))
    w = min(width, max(smallest, int(width * scale) // multiple * multiple))
    return h, w


# --- running ----------------------------------------------------------------------------------


def run_tiled(
    net: nn.Module,
    x: torch.Tensor,
    *,
    tile: int,
    overlap: int,
    refine_passes: int | None = None,
    stats_max_side: int | None = None,
    multiple: int | None = None,
    statistics: Statistics = "global",
    progress: Callable[[int, int], None] | None = None,
    generator: torch.Generator | None = None,
    budget: int | None = None,
    method: Literal["segments", "refine"] = "segments",
) -> torch.Tensor:
    """Run `net` on `x` tile by tile and blend; see the module docstring.

    x: (1, C, H, W) on the net's device, H and W multiples of the net's `multiple` (inferred from
    its stride-2 convolutions when not given); `tile` a multiple of it. Returns (1, C_out, H, W)
    in the dtype of the net's output. The net runs in the mode the caller set (train/eval) and is
    never modified, not even during the call: the statistics work runs on a private copy of its
    module tree (`private_net`), so two threads may tile with the same net at once. An image that
    fits in one tile gives exactly `net(x)` (minus any update of running statistics).

    refine_passes: how many batch-statistics layers, in the order the net calls them, get their
    statistics re-measured at full resolution over the tiles (one pass over the tiles each,
    stopped right after that layer). None (default): all of them, which makes the statistics
    those of the untiled net up to tile context. 0: the thumbnail statistics only (fast; no
    seams on ResNets, but a different look than the untiled output, and seams on U-Nets).
    stats_max_side: a cap on the longer side of the statistics pass (None: one tile's area).
    statistics: "per_tile" skips the whole-image statistics (each tile normalises with its own):
    the naive tiling, for comparison only.
    progress: called as progress(done, total) after each forward pass over a tile (the passes
    of all steps counted together) or, on the segment path, after each tile of each segment and
    each chunk of each normalisation (`total` is known from the first call); an exception raised
    there (e.g. a cancellation) ends the call, scratch files removed.
    generator: where dropout layers in training mode draw their masks (None: torch's global RNG,
    as `nn.Dropout` does).
    budget: bytes of memory the call may use (the caller's memory budget). The segment path
    keeps whole-image activations in memory while they fit in three quarters of it (a quarter
    goes to the tile being computed), else in memory-mapped scratch files that are always
    removed. None: what those activations would take for a `tile`×`tile` image, about what one
    tile's forward pass takes on the refinement path.
    method: how exact statistics (`refine_passes=None`) are computed: "segments" (the default;
    about one pass; U-Net and ResNet generators, any other net falls back to "refine") or
    "refine" (one truncated pass over the tiles per norm layer, blended tiles).
    An overlap too large for the tile is reduced (logged).
    """
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"run_tiled takes one image (1, C, H, W), got shape {tuple(x.shape)}")
    if (refine_passes is not None and refine_passes < 0) or (stats_max_side is not None and stats_max_side < 1):
        raise ValueError("refine_passes must be None or >= 0, and stats_max_side None or >= 1")
    if statistics not in ("global", "per_tile"):
        raise ValueError(f"statistics must be 'global' or 'per_tile', not {statistics!r}")
    height, width = int(x.shape[-2]), int(x.shape[-1])
    mult = multiple if multiple is not None else _infer_multiple(net)
    if tile < mult or tile % mult or height % mult or width % mult:
        raise ValueError(f"tile ({tile}) and image sides ({height}×{width}) must be multiples of {mult}")
    if overlap < 0:
        raise ValueError(f"overlap must be >= 0, not {overlap}")
    align = _align(mult)
    with torch.inference_mode():
        if height <= tile and width <= tile:
            return private_net(net, generator)(x)  # type: ignore[no-any-return]
        largest = max(0, (tile - align) // 2)
        if overlap > largest:
            log.warning("overlap %d px is too large for %d px tiles; using %d px", overlap, tile, largest)
            overlap = largest
        tiles = _tiles(height, width, tile, overlap, align)
        if statistics == "global":
            layers = [m for m in net.modules() if _uses_input_statistics(m)]
            stats = _Statistics()
            private = _private_copy(net, layers, stats, generator)
        else:
            layers, stats = [], _Statistics(active=False)
            private = private_net(net, generator)
        log.debug(
            "tiled inference: %d×%d image, %d tiles of %d×%d, overlap %d px, %d batch-statistics norm layers",
            height, width, len(tiles), tiles[0].h, tiles[0].w, overlap, len(layers),
        )
        if layers and refine_passes is None and method == "segments":
            segmented = _segmented_copy(net, x, tile, budget, progress, generator)
            if segmented is not None:
                return segmented(x)  # type: ignore[no-any-return]
        counter = _Progress(progress, len(tiles))
        if layers:
            _whole_image_statistics(private, x, tiles, stats, refine_passes, stats_max_side, mult, counter)
        return _blend(private, x, tiles, overlap, stats, counter)


@dataclass
class _Progress:
    """Counts tile passes for the caller's progress callback; `total` grows once the number of
    refinement stages is known (after the statistics pass)."""

    callback: Callable[[int, int], None] | None
    total: int
    done: int = 0

    def step(self) -> None:
        self.done += 1
        if self.callback is not None:
            self.callback(self.done, self.total)


def _whole_image_statistics(
    net: nn.Module,
    x: torch.Tensor,
    tiles: Sequence[_Tile],
    stats: _Statistics,
    refine_passes: int | None,
    max_side: int | None,
    multiple: int,
    counter: _Progress,
) -> None:
    """Steps 1 and 2 of the module docstring: leave `stats` frozen to whole-image statistics."""
    height, width = x.shape[-2:]
    h, w = _stats_size(height, width, max_side, tiles[0].h * tiles[0].w, multiple)
    exact = (h, w) == (height, width)
    small = x if exact else F.interpolate(x if x.is_floating_point() else x.float(), size=(h, w), mode="area")
    stats.frozen, stats.record = False, None
    stats.start_forward(None)
    net(small)
    stats.estimates = stats.take_recorded()
    stages = [] if exact else stats.order[: refine_passes if refine_passes is not None else len(stats.order)]
    counter.total += 1 + len(stages) * len(tiles)
    counter.step()
    log.debug("statistics estimated at %d×%d%s; refining %d of %d layers", h, w, " (exact)" if exact else "", len(stages), len(stats.order))
    stats.frozen = True
    for key in stages:  # each layer once every layer before it has its final statistics
        stats.record, stats.stop_after = {key}, key
        for t in tiles:
            stats.start_forward(t)
            try:
                net(x[..., t.y : t.y + t.h, t.x : t.x + t.w])
            except _StopForward:
                pass
            counter.step()
        stats.estimates.update(stats.take_recorded())
    stats.record, stats.stop_after = set(), None


def _blend(
    net: nn.Module, x: torch.Tensor, tiles: Sequence[_Tile], overlap: int, stats: _Statistics, counter: _Progress
) -> torch.Tensor:
    """Step 3: run every tile and blend with feather weights (accumulated in fp32)."""
    acc: torch.Tensor | None = None
    weight_sum = torch.zeros((1, 1, *x.shape[-2:]), dtype=torch.float32, device=x.device)
    out_dtype = x.dtype
    for t in tiles:
        stats.start_forward(t)
        y = net(x[..., t.y : t.y + t.h, t.x : t.x + t.w])  # (1, C_out, h, w)
        if acc is None:
            acc = torch.zeros((1, y.shape[1], *x.shape[-2:]), dtype=torch.float32, device=x.device)
            out_dtype = y.dtype
        wt = feather_weights(t.h, t.w, overlap, top=t.top, bottom=t.bottom, left=t.left, right=t.right).to(x.device)
        acc[..., t.y : t.y + t.h, t.x : t.x + t.w].addcmul_(y.float(), wt)
        weight_sum[..., t.y : t.y + t.h, t.x : t.x + t.w] += wt
        counter.step()
    assert acc is not None
    return acc.div_(weight_sum).to(out_dtype)  # in place: no second image-sized buffer


# --- exact statistics by segments -------------------------------------------------------------
#
# The net as a short program over whole-image values: a segment computes one value from others
# tile by tile (each tile cropped with the halo its convolutions need, so the value is exactly
# what the untiled net computes), a finish step normalises a value in place with its statistics
# (gathered while the segment wrote it), then applies what follows the norm pointwise (ReLU,
# dropout) and a residual or input skip.

_Axis = tuple[int, int]  # a range [lo, hi) of rows or columns
# One tile's work is capped at this many multiply-adds: about 0.1-0.2 s on a 2-core CPU, so a
# cancel takes effect quickly; on a GPU, where launches cost more than small tiles save, far more.
_TILE_MACS = {"cpu": 4e9}
_TILE_MACS_OTHER = 64e9
_CHUNK_ELEMENTS = 4 * 2**20  # a finish step works through its value in chunks of about this size
_MIN_SIDE = 16


class _Unsupported(Exception):
    """The net is not a structure the segment path knows; run_tiled falls back to refinement."""


class ScratchSpaceError(TranslatorError):
    """The temporary folder has no room for the activations a tiled image keeps between steps."""


@dataclass(frozen=True)
class _Conv:
    """A Conv2d (zero padding, or reflection padding from the ReflectionPad2d before it) run on a
    crop: padding is applied only where the crop meets the border of the whole activation."""

    module: nn.Conv2d
    pad: tuple[int, int]  # rows, columns (each side)
    reflect: bool

    def channels(self, c_in: int) -> int:
        return int(self.module.out_channels)

    def size(self, n: int, axis: int) -> int:
        k, s, d = self.module.kernel_size[axis], self.module.stride[axis], self.module.dilation[axis]
        return (n + 2 * self.pad[axis] - d * (k - 1) - 1) // s + 1

    def need(self, out: _Axis, axis: int) -> _Axis:
        k, s, d = self.module.kernel_size[axis], self.module.stride[axis], self.module.dilation[axis]
        return s * out[0] - self.pad[axis], s * (out[1] - 1) - self.pad[axis] + d * (k - 1) + 1

    def macs(self, c_in: int) -> float:
        """Multiply-adds per output pixel."""
        m = self.module
        return float(c_in // m.groups * m.out_channels * m.kernel_size[0] * m.kernel_size[1])

    def run(self, x: torch.Tensor, have: tuple[_Axis, _Axis], need: tuple[_Axis, _Axis], out: tuple[_Axis, _Axis]) -> torch.Tensor:
        (hy, hx), (ny, nx) = have, need
        pads = (hx[0] - nx[0], nx[1] - hx[1], hy[0] - ny[0], ny[1] - hy[1])
        m = self.module
        if not self.reflect and pads[0] == pads[1] and pads[2] == pads[3]:  # the conv pads alike, without a copy
            return F.conv2d(x, m.weight, m.bias, m.stride, (pads[2], pads[0]), m.dilation, m.groups)
        x = F.pad(x, pads, mode="reflect" if self.reflect else "constant")
        return F.conv2d(x, m.weight, m.bias, m.stride, 0, m.dilation, m.groups)


@dataclass(frozen=True)
class _ConvTranspose:
    """A ConvTranspose2d run on a crop: computed without padding (with the output padding, so a
    crop reaching the activation's end covers its last rows), then the requested window cut out
    (positions no input reaches get the bias alone, as untiled)."""

    module: nn.ConvTranspose2d

    def channels(self, c_in: int) -> int:
        return int(self.module.out_channels)

    def _geometry(self, axis: int) -> tuple[int, int, int, int]:
        m = self.module
        p = m.padding[axis]
        assert isinstance(p, int)  # string paddings are refused when the program is built
        return m.kernel_size[axis], m.stride[axis], p, m.dilation[axis]

    def size(self, n: int, axis: int) -> int:
        k, s, p, d = self._geometry(axis)
        return (n - 1) * s - 2 * p + d * (k - 1) + self.module.output_padding[axis] + 1

    def need(self, out: _Axis, axis: int) -> _Axis:
        k, s, p, d = self._geometry(axis)  # output o receives input i where o = s·i - p + d·j
        return -(-(out[0] + p - d * (k - 1)) // s), (out[1] - 1 + p) // s + 1

    def macs(self, c_in: int) -> float:
        """Multiply-adds per output pixel (each input pixel feeds k² outputs at stride s)."""
        m = self.module
        k, s = m.kernel_size, m.stride
        return float(c_in * m.out_channels // m.groups * k[0] * k[1]) / (s[0] * s[1])

    def run(self, x: torch.Tensor, have: tuple[_Axis, _Axis], need: tuple[_Axis, _Axis], out: tuple[_Axis, _Axis]) -> torch.Tensor:
        m = self.module
        y = F.conv_transpose2d(x, m.weight, m.bias, m.stride, 0, m.output_padding, m.groups, m.dilation)
        for axis, dim in ((0, -2), (1, -1)):
            _k, s, p, _d = self._geometry(axis)
            start = out[axis][0] - (s * have[axis][0] - p)  # where the window begins in y
            if start < 0 or start + out[axis][1] - out[axis][0] > y.shape[dim]:
                raise _Unsupported(f"transposed convolution window {out[axis]} beyond its crop")  # not for these nets
            y = y.narrow(dim, start, out[axis][1] - out[axis][0])
        return y


@dataclass(frozen=True)
class _Pointwise:
    """An activation, an eval-mode norm (running statistics) or dropout: nothing spatial."""

    module: nn.Module

    def channels(self, c_in: int) -> int:
        return c_in

    def size(self, n: int, axis: int) -> int:
        return n

    def need(self, out: _Axis, axis: int) -> _Axis:
        return out

    def macs(self, c_in: int) -> float:
        return 0.0

    def run(self, x: torch.Tensor, have: tuple[_Axis, _Axis], need: tuple[_Axis, _Axis], out: tuple[_Axis, _Axis]) -> torch.Tensor:
        return self.apply(x, None, in_place=False)  # a tile's input may be a view of a kept value

    def apply(self, x: torch.Tensor, generator: torch.Generator | None, *, in_place: bool) -> torch.Tensor:
        """The layer on `x`, written over it when `in_place`. Dropout draws its mask as
        `nn.Dropout` does (a Bernoulli tensor like `x`, scaled), from `generator` or torch's RNG."""
        m = self.module
        if isinstance(m, nn.ReLU):
            return F.relu(x, inplace=in_place)
        if isinstance(m, nn.LeakyReLU):
            return F.leaky_relu(x, m.negative_slope, inplace=in_place)
        if isinstance(m, nn.Tanh):
            return x.tanh_() if in_place else x.tanh()
        if isinstance(m, nn.Dropout):
            if not m.training or m.p == 0:
                return x
            # drawn where the generator lives (a value kept in a scratch file is on the CPU)
            device = generator.device if generator is not None else x.device
            keep = torch.empty_like(x, device=device).bernoulli_(1 - m.p, generator=generator).div_(1 - m.p).to(x.device)
            return x.mul_(keep) if in_place else x * keep
        if isinstance(m, nn.Identity):
            return x
        y: torch.Tensor = m(x)  # an eval-mode norm: pure
        return x.copy_(y) if in_place else y


_Op = _Conv | _ConvTranspose | _Pointwise
_POINTWISE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Dropout, nn.Identity, nn.BatchNorm2d, nn.InstanceNorm2d)


@dataclass(frozen=True)
class _Segment:
    """Value `out` = `ops` applied to the concatenation (along channels) of the `inputs` values."""

    inputs: tuple[int, ...]
    ops: tuple[_Op, ...]
    out: int


@dataclass(frozen=True)
class _Finish:
    """In place over value `value`: normalise with its whole-image statistics (when `norm`), apply
    `after` (pointwise), then combine it with value `other`: add it (a residual) or, given `skip`,
    `skip(value, other)` (the input skip, which mixes channels: chunks must hold them all)."""

    value: int
    norm: nn.BatchNorm2d | nn.InstanceNorm2d | None
    after: tuple[_Pointwise, ...] = ()
    other: int | None = None
    skip: InputSkip | None = None


_Step = _Segment | _Finish


@dataclass
class _Builder:
    """Turns a generator's modules, in forward order, into segments and finish steps. Value 0 is
    the generator's input; `inputs` + `ops` is the value being built (not yet a segment), and a
    finish step stays open while pointwise layers after its norm can join it."""

    shapes: list[tuple[int, int, int]]  # (C, H, W) per value
    steps: list[_Step] = field(default_factory=list)
    inputs: list[int] = field(default_factory=lambda: [0])
    ops: list[_Op] = field(default_factory=list)
    open: _Finish | None = None

    def _shape(self) -> tuple[int, int, int]:
        c, h, w = sum(self.shapes[v][0] for v in self.inputs), self.shapes[self.inputs[0]][1], self.shapes[self.inputs[0]][2]
        for op in self.ops:
            c, h, w = op.channels(c), op.size(h, 0), op.size(w, 1)
        return c, h, w

    def _close(self) -> None:
        if self.open is not None:
            self.steps.append(self.open)
            self.open = None

    def pointwise(self, m: nn.Module) -> None:
        if not self.ops and self.open is not None:  # right after a norm: part of its finish step
            self.open = replace(self.open, after=(*self.open.after, _Pointwise(m)))
        elif isinstance(m, nn.Dropout) and m.training:
            raise _Unsupported("dropout inside a segment")  # its mask must be drawn once per value
        else:
            self.ops.append(_Pointwise(m))

    def spatial(self, op: _Conv | _ConvTranspose) -> None:
        self._close()
        self.ops.append(op)

    def value(self) -> int:
        """The value built so far, made a segment if it has pending ops."""
        self._close()
        if self.ops:
            self.shapes.append(self._shape())
            out = len(self.shapes) - 1
            self.steps.append(_Segment(tuple(self.inputs), tuple(self.ops), out))
            self.inputs, self.ops = [out], []
        if len(self.inputs) != 1:
            raise _Unsupported("a concatenation used without a layer after it")
        return self.inputs[0]

    def norm(self, m: nn.BatchNorm2d | nn.InstanceNorm2d) -> None:
        if not self.ops:
            raise _Unsupported("a norm layer on a value that is not a layer's fresh output")
        self.open = _Finish(self.value(), m)

    def combine(self, other: int, skip: InputSkip | None = None) -> None:
        if self.ops or self.open is None:
            self.open = _Finish(self.value(), None)
        if self.open.other is not None:
            raise _Unsupported("two combinations in one step")
        self.open = replace(self.open, other=other, skip=skip)

    def cat(self, a: int, b: int) -> None:
        self._close()
        self.inputs, self.ops = [a, b], []


def _build_layers(b: _Builder, layers: Sequence[nn.Module]) -> None:
    """Add a Sequential's layers (the generators' building blocks) to `b`."""
    reflect: tuple[int, int] | None = None
    for m in layers:
        if reflect is not None and not isinstance(m, nn.Conv2d):
            raise _Unsupported("reflection padding not followed by a convolution")
        if isinstance(m, nn.ReflectionPad2d):
            left, right, top, bottom = m.padding
            if left != right or top != bottom:
                raise _Unsupported("asymmetric padding")
            reflect = (top, left)
        elif isinstance(m, nn.Conv2d):
            if isinstance(m.padding, str) or m.padding_mode != "zeros" or (reflect is not None and any(m.padding)):
                raise _Unsupported(f"convolution padding {m.padding!r} ({m.padding_mode})")
            b.spatial(_Conv(m, reflect or (m.padding[0], m.padding[1]), reflect is not None))
            reflect = None
        elif isinstance(m, nn.ConvTranspose2d):
            if isinstance(m.padding, str):
                raise _Unsupported("transposed convolution with string padding")
            b.spatial(_ConvTranspose(m))
        elif _uses_input_statistics(m):
            b.norm(m)
        elif isinstance(m, ResnetBlock):
            x = b.value()
            _build_layers(b, list(m.conv_block))
            b.combine(x)  # x + block(x)
        elif isinstance(m, UnetSkipBlock):
            _build_unet_block(b, m)
        elif isinstance(m, _POINTWISE):
            b.pointwise(m)
        else:
            raise _Unsupported(f"layer {type(m).__name__}")
    if reflect is not None:
        raise _Unsupported("reflection padding at the end of a block")


def _build_unet_block(b: _Builder, block: UnetSkipBlock) -> None:
    """A U-Net level: cat(x, model(x)), except the outermost (model(x)). Its first layer, an
    in-place LeakyReLU, changes x itself, so (as in the reference) the skip carries LeakyReLU(x)."""
    layers = list(block.model)
    if block.outermost:
        _build_layers(b, layers)
        return
    first = layers[0]
    in_place = isinstance(first, (nn.ReLU, nn.LeakyReLU)) and first.inplace
    if in_place:
        b.pointwise(first)
    skip = b.value()
    _build_layers(b, layers[1:] if in_place else layers)
    b.cat(skip, b.value())


def _program(generator: nn.Module, shape: tuple[int, int, int]) -> tuple[list[_Step], list[tuple[int, int, int]], int]:
    """(steps, value shapes, output value) for a U-Net or ResNet generator on an input of `shape`
    (C, H, W); `_Unsupported` for any other structure."""
    b = _Builder([shape])
    if isinstance(generator, ResnetGenerator):
        _build_layers(b, list(generator.model))
    elif isinstance(generator, UnetGenerator):
        _build_unet_block(b, generator.model)
    else:
        raise _Unsupported(f"generator {type(generator).__name__}")
    skip = generator.skip
    if skip is not None:  # tanh(u + M·x): mixes the channels of the input image
        b.combine(0, skip)
    out = b.value()
    return b.steps, b.shapes, out


def _find_generator(net: nn.Module) -> nn.Module:
    """The one U-Net or ResNet generator in `net` (the net itself or a wrapper around it), which
    must hold every norm layer that uses its input's statistics."""
    generators = [m for m in net.modules() if isinstance(m, (ResnetGenerator, UnetGenerator))]
    if len(generators) != 1:
        raise _Unsupported(f"{len(generators)} U-Net/ResNet generators in {type(net).__name__}")
    inside = {id(m) for m in generators[0].modules()}
    if any(_uses_input_statistics(m) and id(m) not in inside for m in net.modules()):
        raise _Unsupported("norm layers outside the generator")
    return generators[0]


@dataclass
class _Moments:
    """Per-channel count, mean and sum of squared deviations, merged tile by tile in float64
    (Chan et al.'s pairwise update): the whole value's statistics, exactly."""

    n: int = 0
    mean: torch.Tensor | None = None
    m2: torch.Tensor | None = None

    def add(self, y: torch.Tensor) -> None:
        var, mean = torch.var_mean(y.float(), dim=(0, 2, 3), correction=0)
        k = y.shape[0] * y.shape[2] * y.shape[3]
        mean, m2 = mean.double(), var.double() * k
        if self.mean is None or self.m2 is None:
            self.n, self.mean, self.m2 = k, mean, m2
            return
        total = self.n + k
        delta = mean - self.mean
        self.mean = self.mean + delta * (k / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.n * k / total)
        self.n = total

    def mean_var(self) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.mean is not None and self.m2 is not None
        return self.mean.float(), (self.m2 / self.n).float()


class _Store:
    """The whole-image values of one call: in memory (on the device) while they fit in `limit`
    bytes, else in memory-mapped files in a private folder in the system's temporary folder.

    Each file is unlinked as soon as it is mapped where the system allows it (POSIX), so nothing
    is left behind even if the process is killed; `close` removes the folder and whatever is in
    it, whatever ended the call. Space is reserved up front (`posix_fallocate`), so a full disk
    is an error here and not a crash on a page written later.
    """

    def __init__(self, limit: int | None, device: torch.device) -> None:
        self.limit = limit
        self.device = device
        self.used = 0  # bytes in memory
        self.mapped = 0  # bytes in files
        self.folder: str | None = None
        self.values: dict[int, torch.Tensor] = {}
        self._in_memory: dict[int, int] = {}  # value -> bytes

    def allocate(self, value: int, shape: tuple[int, ...], dtype: torch.dtype, channels_last: bool, *, memory: bool = False) -> torch.Tensor:
        numel = math.prod(shape)
        nbytes = numel * dtype.itemsize
        layout = torch.channels_last if channels_last else torch.contiguous_format
        if memory or self.limit is None or self.used + nbytes <= self.limit:
            t = torch.empty(shape, dtype=dtype, device=self.device, memory_format=layout)
            self.used += nbytes
            self._in_memory[value] = nbytes
        else:
            flat = self._mapped(value, numel, nbytes, dtype)
            n, c, h, w = shape
            t = flat.view(n, h, w, c).permute(0, 3, 1, 2) if channels_last else flat.view(shape)
            self.mapped += nbytes
        self.values[value] = t
        return t

    def adopt(self, value: int, t: torch.Tensor, inputs: Sequence[torch.Tensor]) -> bool:
        """Keep `t` itself as `value` when it fits in memory and shares no memory with `inputs`
        (finish steps write over values in place)."""
        nbytes = t.untyped_storage().nbytes()
        if (self.limit is not None and self.used + nbytes > self.limit) or any(
            t.untyped_storage().data_ptr() == i.untyped_storage().data_ptr() for i in inputs
        ):
            return False
        self.values[value] = t
        self.used += nbytes
        self._in_memory[value] = nbytes
        return True

    def _mapped(self, value: int, numel: int, nbytes: int, dtype: torch.dtype) -> torch.Tensor:
        if self.folder is None:
            self.folder = tempfile.mkdtemp(prefix="translator-tiles-")
        path = os.path.join(self.folder, f"value{value}.bin")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                os.posix_fallocate(fd, 0, nbytes)
            except (AttributeError, OSError) as e:  # no such call here, or a file system without it
                if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
                    raise
                os.ftruncate(fd, nbytes)
        except OSError as e:
            free = shutil.disk_usage(self.folder).free
            raise ScratchSpaceError(
                f"no room in {tempfile.gettempdir()} for a tiled image's intermediate results "
                f"({nbytes / 2**30:.1f} GiB more needed, {free / 2**30:.1f} GiB free): free some space, "
                f"set TMPDIR to a larger disk, or give a larger memory budget so they stay in memory ({e.strerror})"
            ) from e
        finally:
            os.close(fd)
        flat = torch.from_file(path, shared=True, size=numel, dtype=dtype)
        if os.name == "posix":
            os.unlink(path)  # the mapping stays; the name goes now
        return flat

    def release(self, value: int) -> None:
        self.values.pop(value, None)
        self.used -= self._in_memory.pop(value, 0)

    def close(self) -> None:
        self.values.clear()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            if os.path.exists(self.folder):
                log.warning("could not remove the scratch folder %s; delete it by hand", self.folder)


def _axis_tiles(n: int, side: int) -> list[_Axis]:
    return [(lo, min(lo + side, n)) for lo in range(0, n, side)]


def _segment_cost(seg: _Segment, shapes: Sequence[tuple[int, int, int]], dtype_bytes: int) -> tuple[float, float]:
    """(working bytes, multiply-adds) per output pixel of a segment's tile: every op's input and
    output alive at once (an upper bound) and the convolutions' work."""
    c, h, w = sum(shapes[v][0] for v in seg.inputs), shapes[seg.inputs[0]][1], shapes[seg.inputs[0]][2]
    _, ho, wo = shapes[seg.out]
    area = ho * wo
    nbytes, macs = c * h * w / area, 0.0
    for op in seg.ops:
        c_out, h, w = op.channels(c), op.size(h, 0), op.size(w, 1)
        nbytes += c_out * h * w / area
        macs += op.macs(c) * h * w / area
        c = c_out
    return nbytes * dtype_bytes, macs


def _chunks(shape: tuple[int, int, int], channels_last: bool, mixes_channels: bool) -> list[tuple[int, int, int]]:
    """(dim, start, stop) slices of a (C, H, W) value along its outermost dimension in memory
    (channels in NCHW, rows in channels-last; rows when the step mixes channels), about
    `_CHUNK_ELEMENTS` each: each is contiguous, so a dropout mask drawn chunk by chunk on the CPU
    is the one drawn for the whole value at once."""
    dim = 2 if mixes_channels or channels_last else 1
    n = shape[dim - 1]
    per = max(1, _CHUNK_ELEMENTS * n // max(1, math.prod(shape)))
    return [(dim, lo, min(lo + per, n)) for lo in range(0, n, per)]


def _is_channels_last(t: torch.Tensor) -> bool:
    return t.shape[1] > 1 and t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous()


class _Segmented(nn.Module):
    """Stands in for the generator in a call's private copy of the net: runs it by segments over
    the whole image it is given (see `_run_segments`)."""

    def __init__(self, generator: nn.Module, run: Callable[[nn.Module, torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.generator = generator
        self.run = run

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(self.generator, x)


def _segmented_copy(
    net: nn.Module,
    x: torch.Tensor,
    tile: int,
    budget: int | None,
    progress: Callable[[int, int], None] | None,
    dropout_generator: torch.Generator | None,
) -> nn.Module | None:
    """A private copy of `net` whose generator runs by segments, or None (logged) when the net
    is not a structure the segment path knows."""
    try:
        generator = _find_generator(net)
        first = next(m for m in generator.modules() if isinstance(m, nn.Conv2d))
        _program(generator, (int(first.in_channels), int(x.shape[-2]), int(x.shape[-1])))
    except (_Unsupported, StopIteration) as e:
        log.info("exact whole-image statistics layer by layer (slower): the segment path does not know this net (%s)", e)
        return None
    counter = _Progress(progress, 0)

    def run(g: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[0] != 1:
            raise ValueError(f"the generator was called with shape {tuple(x.shape)}, not one image")
        return _run_segments(g, x, tile=tile, budget=budget, counter=counter, dropout_generator=dropout_generator)

    def swap(m: nn.Module) -> nn.Module | None:
        if isinstance(m, GraphedForward):
            return shallow_copy_tree(m.net, swap)
        return _Segmented(m, run) if m is generator else None

    return shallow_copy_tree(net, swap)


def _run_segments(
    generator: nn.Module,
    x: torch.Tensor,
    *,
    tile: int,
    budget: int | None,
    counter: _Progress,
    dropout_generator: torch.Generator | None,
) -> torch.Tensor:
    """The generator on the whole image `x` (1, C, H, W), segment by segment, with exact
    whole-image statistics; see `run_tiled`."""
    steps, shapes, output = _program(generator, (int(x.shape[1]), int(x.shape[2]), int(x.shape[3])))
    channels_last = any(p.dim() == 4 and _is_channels_last(p) for p in generator.parameters())
    last_use: dict[int, int] = {}
    for i, step in enumerate(steps):
        for v in step.inputs if isinstance(step, _Segment) else (step.value, *([step.other] if step.other is not None else [])):
            last_use[v] = i
    dtype_bytes = 2 if torch.is_autocast_enabled(x.device.type) else 4
    if budget is None:  # what the kept values of a tile-sized image take: about a tile's forward pass
        budget = int(tile * tile * _peak_kept(steps, shapes, last_use, output) * dtype_bytes)
    work = budget // 4
    max_macs = _TILE_MACS.get(x.device.type, _TILE_MACS_OTHER)
    plans: dict[int, tuple[list[_Axis], list[_Axis]]] = {}
    widest = 0.0
    for step in steps:
        if isinstance(step, _Segment):
            nbytes, macs = _segment_cost(step, shapes, dtype_bytes)
            side = int(math.sqrt(min(work / nbytes, max_macs / macs if macs else math.inf)))
            _, ho, wo = shapes[step.out]
            side = min(max(side, _MIN_SIDE), max(ho, wo))
            plans[step.out] = (_axis_tiles(ho, side), _axis_tiles(wo, side))
            widest = max(widest, nbytes * side * side)
    store = _Store(max(0, budget - int(widest)), x.device)
    store.values[0] = x
    counter.total += sum(len(ys) * len(xs) for ys, xs in plans.values())
    chunks = {s.value: _chunks(shapes[s.value], channels_last, s.skip is not None) for s in steps if isinstance(s, _Finish)}
    counter.total += sum(len(c) for c in chunks.values())
    normed = {s.value for s in steps if isinstance(s, _Finish) and s.norm is not None}
    moments: dict[int, _Moments] = {}
    try:
        for i, step in enumerate(steps):
            if isinstance(step, _Segment):
                stats = moments.setdefault(step.out, _Moments()) if step.out in normed else None
                _run_segment(step, shapes, plans[step.out], store, channels_last, step.out == output, stats, counter)
            else:
                _run_finish(step, chunks[step.value], store, moments.pop(step.value, None), dropout_generator, counter)
            for v, last in list(last_use.items()):
                if last == i and v not in (0, output):
                    store.release(v)
                    del last_use[v]
        if store.mapped:
            log.info("tiled image: %.1f GiB of intermediate results went through a scratch file (over the memory budget)", store.mapped / 2**30)
        return store.values[output]
    finally:
        store.close()


def _peak_kept(steps: Sequence[_Step], shapes: Sequence[tuple[int, int, int]], last_use: dict[int, int], output: int) -> float:
    """The most elements per input pixel the program keeps at once (its input excluded)."""
    area = shapes[0][1] * shapes[0][2]
    live, peak = 0, 0
    for i, step in enumerate(steps):
        if isinstance(step, _Segment):
            live += math.prod(shapes[step.out])
            peak = max(peak, live)
        live -= sum(math.prod(shapes[v]) for v, last in last_use.items() if last == i and v not in (0, output))
    return peak / area


def _run_segment(
    seg: _Segment,
    shapes: Sequence[tuple[int, int, int]],
    plan: tuple[list[_Axis], list[_Axis]],
    store: _Store,
    channels_last: bool,
    is_output: bool,
    moments: _Moments | None,
    counter: _Progress,
) -> None:
    """Compute a segment's value tile by tile into the store (and its statistics, when a norm
    layer follows): each tile's inputs are cropped with the halo its convolutions need."""
    out: torch.Tensor | None = None
    c, ho, wo = shapes[seg.out]
    sizes = [shapes[seg.inputs[0]][1:]]  # (h, w) of each op's input, then of the segment's output
    for op in seg.ops:
        sizes.append((op.size(sizes[-1][0], 0), op.size(sizes[-1][1], 1)))
    for ry in plan[0]:
        for rx in plan[1]:
            # back from the tile to the inputs: the window each op must produce, the window of its
            # input it needs (may reach past the border: padding) and the part of it that exists
            outs: list[tuple[_Axis, _Axis]] = []
            needs: list[tuple[_Axis, _Axis]] = []
            haves: list[tuple[_Axis, _Axis]] = []
            r: tuple[_Axis, _Axis] = (ry, rx)
            for op, (h, w) in zip(reversed(seg.ops), reversed(sizes[:-1])):
                need = (op.need(r[0], 0), op.need(r[1], 1))
                outs.insert(0, r)
                needs.insert(0, need)
                r = ((max(need[0][0], 0), min(need[0][1], h)), (max(need[1][0], 0), min(need[1][1], w)))
                haves.insert(0, r)
            (y0, y1), (x0, x1) = haves[0]
            crops = [store.values[v][..., y0:y1, x0:x1].to(store.device) for v in seg.inputs]
            y = crops[0] if len(crops) == 1 else torch.cat(crops, 1)
            for op, have, need, window in zip(seg.ops, haves, needs, outs):
                y = op.run(y, have, need, window)
            if len(plan[0]) == len(plan[1]) == 1 and store.adopt(seg.out, y, [store.values[v] for v in seg.inputs]):
                out = y  # one tile: its result is the value, no copy
            if out is None:
                out = store.allocate(seg.out, (1, c, ho, wo), y.dtype, channels_last, memory=is_output)
            if out is not y:
                out[..., ry[0] : ry[1], rx[0] : rx[1]].copy_(y)
            if moments is not None:
                moments.add(y)
            counter.step()


def _run_finish(
    f: _Finish,
    chunks: Sequence[tuple[int, int, int]],
    store: _Store,
    moments: _Moments | None,
    generator: torch.Generator | None,
    counter: _Progress,
) -> None:
    """Normalise a value in place with its statistics, then the pointwise layers after the norm
    and the combination, chunk by chunk."""
    t = store.values[f.value]
    scale = shift = None
    if f.norm is not None:
        assert moments is not None
        mean, var = moments.mean_var()
        scale = torch.rsqrt(var + f.norm.eps)
        if f.norm.weight is not None:
            scale = scale * f.norm.weight.float()
        shift = -mean * scale
        if f.norm.bias is not None:
            shift = shift + f.norm.bias.float()
        scale, shift = scale.to(t.device, t.dtype).view(1, -1, 1, 1), shift.to(t.device, t.dtype).view(1, -1, 1, 1)
    other = store.values[f.other] if f.other is not None else None
    for dim, lo, hi in chunks:
        part = t.narrow(dim, lo, hi - lo)
        if scale is not None and shift is not None:
            sc, sh = (scale.narrow(1, lo, hi - lo), shift.narrow(1, lo, hi - lo)) if dim == 1 else (scale, shift)
            torch.addcmul(sh, part, sc, out=part)
        for op in f.after:
            op.apply(part, generator, in_place=True)
        if other is not None:
            theirs = other.narrow(dim, lo, hi - lo).to(part.device)
            if f.skip is None:
                part.add_(theirs)
            else:
                part.copy_(f.skip(part, theirs))
        counter.step()
