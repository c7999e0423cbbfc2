"""Tiled inference for images larger than the memory budget.

An image that does not fit runs through the generator in overlapping square tiles whose outputs
are blended with feathered (raised-cosine) weights, so no tile edge shows as a line.

Feathering alone is not enough for models whose norm layers normalise with the statistics of
their own input: InstanceNorm without running statistics (CycleGAN) and BatchNorm in training
mode (the `reference` inference mode). Run per tile, each tile gets its own mean and variance, so
a tile of sky and a tile of towers come out in different colours and contrast and the tiling
shows as a patchwork. `run_tiled` gives every such layer the statistics of the *whole image*:

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
average (resnet_9blocks has 23 such layers: ~12 passes; unet_256 has 14). Dropout (reference
mode) draws its masks per tile and per pass, so an overlap zone averages two draws.

The network given is never modified, not even during the call, so two threads can tile with one
network at once: each call works on its own copy of the module tree (parameters and buffers
shared, not copied) in which every batch-statistics norm layer is a stand-in that reads the
layer's weight and bias and normalises as the current step says, and in which, when the caller
passes a `torch.Generator`, dropout draws its masks from that generator rather than from the
global RNG. Running statistics are never updated.

Tile geometry: tile sides are multiples of the net's `multiple` (2**num_downs for U-Nets, 4 for
ResNets); a tile is clamped to the image along an axis where the image is shorter. Tile origins
are multiples of `min(multiple, 8)`: a ResNet's tiles then sit on the untiled net's pixel grid at
every resolution (so in eval mode a tile's centre equals the untiled output exactly), a U-Net's
at its first three levels (keeping the phase of the transposed convolutions' checkerboard, so
blended tiles do not mix two phases).
"""
from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeGuard

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from translator.cuda_graphs import GraphedForward
from translator.networks.fold import shallow_copy_tree
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
    of all steps counted together); an exception raised there (e.g. a cancellation) ends the
    call.
    generator: where dropout layers in training mode draw their masks (None: torch's global RNG,
    as `nn.Dropout` does).
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
