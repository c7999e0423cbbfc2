"""Tiled inference: geometry, memory estimate, exactness, whole-image statistics, seams.

Test nets are tiny (base_filters 4-8) with "photo-like" random weights (`_photo_like`): the
reference's N(0, 0.02) init gives near-constant outputs, and plain He init gives noise-like
outputs whose every pixel swings with any change of statistics. With low-pass convolutions the
outputs look like recoloured photos (their fine-detail energy is close to the input's), which
is what a trained generator produces.

Grey levels: outputs are mapped to uint8 as round((y + 1) / 2 · 255) and compared there.

Seams (`seam_energy`, in bench/seams.py): the mean step of the image across the lines
where tiles hand over (the middles of the overlaps), divided by the mean step across all other
lines; a step is the difference of the means over `width` pixels either side of the line, here
a quarter of the overlap (the feather ramp spans its middle half), averaged with its sign over
runs of 16 pixels along the line so that edges crossing it average out. The same lines are
measured on the untiled output of the same image, which is small enough to run whole: its ratio
tells how special those lines are by content alone, and tiling must not raise it.
"""
from __future__ import annotations

import logging
import math
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data, transform
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from bench.seams import seam_energy
from translator.errors import JobCancelled
from translator.jobs import CancelToken
from translator.networks import GeneratorSpec, build_generator
from translator.tiling import (
    TilePlan,
    choose_tile,
    default_overlap,
    estimate_bytes_per_pixel,
    feather_weights,
    min_tile,
    plan_tiles,
    private_net,
    run_tiled,
    tile_boundaries,
)

RESNET_IN = GeneratorSpec("resnet_2blocks", 8, "instance", False)
RESNET_BN = GeneratorSpec("resnet_2blocks", 8, "batch", False)
UNET_BN = GeneratorSpec("unet_32", 8, "batch", False)
UNET_BN_DROPOUT = GeneratorSpec("unet_32", 4, "batch", True)


@pytest.fixture(autouse=True, scope="module")
def _two_threads() -> Iterator[None]:
    # small convolutions on an oversubscribed CPU run far slower with many threads
    before = torch.get_num_threads()
    torch.set_num_threads(min(before, 2))
    yield
    torch.set_num_threads(before)


def _photo(name: str, height: int, width: int) -> torch.Tensor:
    """A scikit-image sample photo as (1, 3, height, width) in [-1, 1]."""
    rgb = transform.resize(getattr(data, name)(), (height, width), anti_aliasing=True)  # float64 in [0, 1]
    return torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)[None] * 2 - 1


def _photo_like(net: nn.Module, seed: int, detail: float = 0.3) -> nn.Module:
    """Re-initialise `net` so each convolution is a random channel mix of a Gaussian low-pass
    (σ = kernel/4) plus `detail` of random spatial structure; norm affines N(1, 0.2)/N(0, 0.2)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                transposed = isinstance(m, nn.ConvTranspose2d)
                k = m.weight.shape[-1]
                c_in, c_out = (m.weight.shape[0], m.weight.shape[1]) if transposed else (m.weight.shape[1], m.weight.shape[0])
                r = torch.arange(k, dtype=torch.float32) - (k - 1) / 2
                s = torch.exp(-(r**2) / (2 * (k / 4) ** 2))
                s = s[:, None] * s[None]
                s = s / s.sum() * (4 if transposed else 1)  # a stride-2 transposed conv spreads each input over 4 outputs
                mix = torch.randn(c_out, c_in, generator=g) / math.sqrt(c_in)
                w = mix[:, :, None, None] * s + detail * torch.randn(c_out, c_in, k, k, generator=g) / math.sqrt(c_in * k * k)
                m.weight.copy_(w.transpose(0, 1) if transposed else w)
                if m.bias is not None:
                    m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
            elif isinstance(m, nn.BatchNorm2d) or (isinstance(m, nn.InstanceNorm2d) and m.affine):
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
    return net


def _net(spec: GeneratorSpec, seed: int = 1, *, train: bool = False) -> nn.Module:
    return _photo_like(build_generator(spec), seed).train(train)


def _eval_batchnorm_net(spec: GeneratorSpec, seed: int = 1) -> nn.Module:
    """An eval-mode BatchNorm net whose running statistics come from another photo."""
    net = _net(spec, seed, train=True)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = 1.0  # running stats := the statistics of the next batch
    with torch.no_grad():
        net(_photo("coffee", 256, 384))
    return net.eval()


def _untiled(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return net(x)  # type: ignore[no-any-return]


def _u8(y: torch.Tensor) -> np.ndarray:
    # (1, 3, H, W) in [-1, 1] -> (H, W, 3) float grey levels 0..255
    return np.round((y[0].permute(1, 2, 0).clamp(-1, 1).numpy() + 1) / 2 * 255)


def _grey_diff(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    """(mean, 99th percentile) of the absolute difference in grey levels."""
    d = np.abs(_u8(a) - _u8(b))
    return float(d.mean()), float(np.percentile(d, 99))


def _seams(y: torch.Tensor, height: int, width: int, tile: int, overlap: int, align: int) -> float:
    bx, by = tile_boundaries(height, width, tile, overlap, align=align)
    return seam_energy(_u8(y), bx, by, width=overlap // 4, segment=16)


# --- geometry ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("height", "width", "tile", "overlap", "align"),
    [(480, 720, 128, 48, 4), (256, 256, 256, 32, 8), (100, 900, 128, 32, 4), (1024, 320, 256, 128, 8), (96, 96, 32, 8, 1)],
)
def test_plan_tiles_covers_image_within_bounds(height: int, width: int, tile: int, overlap: int, align: int) -> None:
    corners = plan_tiles(height, width, tile, overlap, align=align)
    th, tw = min(tile, height), min(tile, width)
    cover = np.zeros((height, width), dtype=int)
    for y, x in corners:
        assert 0 <= y and y + th <= height and 0 <= x and x + tw <= width
        assert y % align == 0 and x % align == 0
        cover[y : y + th, x : x + tw] += 1
    assert cover.min() >= 1
    ys, xs = sorted({y for y, _ in corners}), sorted({x for _, x in corners})
    assert ys[-1] == height - th and xs[-1] == width - tw  # flush with the far edges
    for pos, t in ((ys, th), (xs, tw)):
        assert all(b - a <= t - overlap for a, b in zip(pos, pos[1:]))  # actual overlap >= overlap
    assert TilePlan(tile, overlap).corners(height, width, align=align) == corners


def test_plan_tiles_single_tile_when_image_fits() -> None:
    assert plan_tiles(256, 192, 256, 64) == [(0, 0)]
    assert plan_tiles(128, 128, 128, 0) == [(0, 0)]
    with pytest.raises(ValueError):
        plan_tiles(512, 512, 128, 128)


def test_feather_weights_partition_unity() -> None:
    h, w, tile, overlap = 480, 720, 128, 48
    corners = plan_tiles(h, w, tile, overlap, align=4)
    total = torch.zeros(1, 1, h, w, dtype=torch.float64)
    for y, x in corners:
        wt = feather_weights(tile, tile, overlap, top=y > 0, bottom=y + tile < h, left=x > 0, right=x + tile < w)
        assert wt.shape == (1, 1, tile, tile) and wt.min() >= 0 and wt.max() <= 1
        total[..., y : y + tile, x : x + tile] += wt
    assert total.min() >= 1 - 1e-6  # every pixel has weight: the blend divides by this
    # two tiles overlapping by exactly `overlap`: weights sum to 1 across the overlap
    a = feather_weights(64, 128, overlap, top=False, bottom=False, left=False, right=True)[0, 0, 0]
    b = feather_weights(64, 128, overlap, top=False, bottom=False, left=True, right=False)[0, 0, 0]
    assert torch.allclose(a[-overlap:] + b[:overlap], torch.ones(overlap))
    # weight 1 on edges that lie on the image border, 0 in the margin of shared edges
    lone = feather_weights(64, 64, overlap, top=False, bottom=False, left=False, right=False)
    assert torch.equal(lone, torch.ones(1, 1, 64, 64))
    assert a[-overlap // 4 :].max() == 0 and a[: 128 - overlap + overlap // 4].min() == 1


def test_seam_energy_sees_a_patchwork_and_not_texture() -> None:
    rng = np.random.default_rng(0)
    texture = transform.resize(rng.normal(0, 40, (64, 64, 3)), (256, 256), order=3)  # smooth blobs
    lines = [64, 128, 192]
    assert 0.75 < seam_energy(texture, lines, lines, width=8, segment=16) < 1.33
    casts = np.kron(rng.normal(0, 20, (4, 4, 3)), np.ones((64, 64, 1)))  # a colour cast per 64-px tile
    assert seam_energy(texture + casts, lines, lines, width=8, segment=16) > 1.5  # measured 1.78
    assert seam_energy(texture + casts, [96, 160], [96, 160], width=8, segment=16) < 1.33  # not at other lines


# --- memory -----------------------------------------------------------------------------------


def test_estimate_bytes_per_pixel_grows_with_the_net() -> None:
    for arch in ("resnet_6blocks", "unet_128"):
        sizes = [estimate_bytes_per_pixel(GeneratorSpec(arch, ngf)) for ngf in (8, 16, 32, 64)]
        assert sizes == sorted(sizes) and sizes[-1] > 4 * sizes[0]
    assert estimate_bytes_per_pixel(GeneratorSpec("unet_256", 64)) >= estimate_bytes_per_pixel(GeneratorSpec("unet_128", 64))
    assert 500 < estimate_bytes_per_pixel(GeneratorSpec("resnet_9blocks", 64)) < 5000


_PEAK_SCRIPT = textwrap.dedent(
    """
    import sys, torch
    from translator.networks import GeneratorSpec, build_generator

    def status(field):  # kB
        return int(next(l for l in open("/proc/self/status") if l.startswith(field)).split()[1])

    torch.set_num_threads(1)
    arch, ngf, side = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    spec = GeneratorSpec(arch, ngf, "instance", False)
    net = build_generator(spec).eval()
    x = torch.randn(1, 3, side, side)
    with torch.inference_mode():
        net(torch.randn(1, 3, 64, 64))  # load kernels
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak RSS (VmHWM) to the current RSS
        before = status("VmRSS:")
        net(x)
        peak = status("VmHWM:")
    print((peak - before) * 1024 / side**2)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the peak RSS from /proc")
@pytest.mark.parametrize(("arch", "ngf"), [("resnet_2blocks", 16), ("unet_64", 16)])
def test_estimate_bytes_per_pixel_matches_measured_peak(arch: str, ngf: int) -> None:
    """Peak RSS growth of a fresh process over one forward pass (torch's CPU allocations are
    invisible to tracemalloc); loose: within 3× either way. Measured: 272 B/px against an
    estimate of 310 (ResNet), 130 against 145 (U-Net)."""
    out = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, arch, str(ngf), "768"], capture_output=True, text=True, check=True)
    measured = float(out.stdout.strip())
    estimate = estimate_bytes_per_pixel(GeneratorSpec(arch, ngf, "instance", False))
    assert measured / 3 < estimate < measured * 3, (measured, estimate)


def test_choose_tile(caplog: pytest.LogCaptureFixture) -> None:
    spec = GeneratorSpec("resnet_9blocks", 64, "instance", False)
    bpp = estimate_bytes_per_pixel(spec)
    assert choose_tile(spec, 1024, 1024, int(1024 * 1024 * bpp) + 1) is None
    budget = int(1500**2 * bpp)
    tile = choose_tile(spec, 4096, 4096, budget)
    assert tile is not None and tile % spec.multiple == 0 and tile**2 * bpp <= budget and (tile + 4) ** 2 * bpp > budget
    unet = GeneratorSpec("unet_256", 64)
    t = choose_tile(unet, 4096, 4096, int(2000**2 * estimate_bytes_per_pixel(unet)))
    assert t is not None and t % 256 == 0 and t >= min_tile(unet)
    with caplog.at_level(logging.WARNING, logger="translator.tiling"):
        assert choose_tile(spec, 4096, 4096, 1000) == min_tile(spec)
    assert "memory budget" in caplog.text


def test_default_overlap_and_min_tile() -> None:
    for arch in ("resnet_9blocks", "resnet_6blocks", "resnet_2blocks", "unet_256", "unet_128", "unet_32"):
        spec = GeneratorSpec(arch)
        ov = default_overlap(spec)
        assert ov % 8 == 0 and ov > 0
        assert min_tile(spec) % spec.multiple == 0 and min_tile(spec) >= 2 * ov + min(spec.multiple, 8)
    assert default_overlap(GeneratorSpec("resnet_9blocks")) >= 15 + 8 * 9  # at least the receptive-field radius


# --- exactness --------------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "train"), [(RESNET_IN, False), (UNET_BN, False), (UNET_BN_DROPOUT, True)])
def test_single_tile_is_exactly_the_untiled_output(spec: GeneratorSpec, train: bool) -> None:
    net = _net(spec, train=train)
    x = _photo("chelsea", 96, 128)
    torch.manual_seed(3)
    expected = _untiled(net, x)
    torch.manual_seed(3)  # reference mode: the same dropout masks
    assert torch.equal(run_tiled(net, x, tile=128, overlap=32), expected)


def test_eval_batchnorm_resnet_tiles_match_untiled() -> None:
    """Eval-mode BatchNorm uses running statistics, so tiles are independent and only context
    matters: with the default overlap (1.5× the receptive-field radius) the tiled output is the
    untiled one. Measured: mean 0.007, 99th percentile 0 grey levels, max 1. A U-Net sees its whole
    tile (receptive field > 2**num_downs), so no overlap makes it exact; hence a ResNet here."""
    net = _eval_batchnorm_net(RESNET_BN)
    x = _photo("astronaut", 384, 576)
    y = run_tiled(net, x, tile=128, overlap=default_overlap(RESNET_BN))
    mean, p99 = _grey_diff(y, _untiled(net, x))
    assert mean <= 0.1 and p99 <= 1


def test_instance_norm_resnet_uses_whole_image_statistics() -> None:
    """A CycleGAN-like ResNet (InstanceNorm) on a 384×576 photo in 128-px tiles (35 tiles).
    Measured, mean grey levels off the untiled output: per-tile statistics 37.3; thumbnail
    statistics only (refine_passes=0; the thumbnail is 3.4× smaller) 16.1; refined layer by layer
    (the default) 0.005 (99th percentile 0)."""
    net = _net(RESNET_IN)
    x = _photo("astronaut", 384, 576)
    ov = default_overlap(RESNET_IN)
    expected = _untiled(net, x)
    exact = _grey_diff(run_tiled(net, x, tile=128, overlap=ov), expected)
    thumbnail = _grey_diff(run_tiled(net, x, tile=128, overlap=ov, refine_passes=0), expected)
    per_tile = _grey_diff(run_tiled(net, x, tile=128, overlap=ov, statistics="per_tile"), expected)
    assert exact[0] <= 0.1 and exact[1] <= 1
    assert per_tile[0] >= 20
    assert thumbnail[0] < per_tile[0] / 2


def test_reference_mode_unet_uses_whole_image_statistics() -> None:
    """BatchNorm in training mode (reference mode), U-Net: statistics refined, the only
    difference left is context (a U-Net's inner layers see just the tile). Measured mean grey
    levels: refined 3.7, per tile 22.4."""
    net = _net(UNET_BN, train=True)
    x = _photo("rocket", 384, 576)
    expected = _untiled(net, x)
    refined = _grey_diff(run_tiled(net, x, tile=128, overlap=default_overlap(UNET_BN)), expected)
    per_tile = _grey_diff(run_tiled(net, x, tile=128, overlap=default_overlap(UNET_BN), statistics="per_tile"), expected)
    assert refined[0] <= 6 and per_tile[0] >= 3 * refined[0]


# --- seams ------------------------------------------------------------------------------------


def test_no_seams_with_whole_image_statistics() -> None:
    """Seam ratio (module docstring) on the rocket photo (large smooth sky, where seams show).
    Measured: ResNet (InstanceNorm): untiled 0.66, refined 0.66, thumbnail 0.72, per tile 0.99.
    U-Net in reference mode (dropout on): untiled 0.87, refined 0.96, thumbnail 1.34 (its
    statistics are off, and a U-Net's tiles then disagree at their edges), per tile 1.82."""
    x = _photo("rocket", 384, 576)
    net = _net(RESNET_IN)
    ov = default_overlap(RESNET_IN)
    untiled = _seams(_untiled(net, x), 384, 576, 128, ov, 4)
    refined = _seams(run_tiled(net, x, tile=128, overlap=ov), 384, 576, 128, ov, 4)
    thumbnail = _seams(run_tiled(net, x, tile=128, overlap=ov, refine_passes=0), 384, 576, 128, ov, 4)
    per_tile = _seams(run_tiled(net, x, tile=128, overlap=ov, statistics="per_tile"), 384, 576, 128, ov, 4)
    assert refined <= untiled * 1.05 and thumbnail <= untiled * 1.2
    assert per_tile >= untiled * 1.3

    net = _net(UNET_BN_DROPOUT, train=True)
    ov = default_overlap(UNET_BN_DROPOUT)
    torch.manual_seed(0)
    untiled = _seams(_untiled(net, x), 384, 576, 128, ov, 8)
    refined = _seams(run_tiled(net, x, tile=128, overlap=ov), 384, 576, 128, ov, 8)
    per_tile = _seams(run_tiled(net, x, tile=128, overlap=ov, statistics="per_tile"), 384, 576, 128, ov, 8)
    assert refined <= untiled * 1.25
    assert per_tile >= untiled * 1.6 and per_tile >= refined * 1.4


# --- the caller's net -------------------------------------------------------------------------


def _state(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in net.state_dict().items()}


def test_net_is_left_as_it_was() -> None:
    """Reference mode (BatchNorm in training mode, dropout): running statistics untouched, no
    forward left patched, and a plain call afterwards gives what it gave before."""
    net = _net(UNET_BN_DROPOUT, train=True)
    x = _photo("coffee", 192, 288)
    before = _state(net)
    torch.manual_seed(5)
    y_before = _untiled(net, x[..., :96, :96])
    net.load_state_dict(before)  # that call updated the running statistics; undo it

    run_tiled(net, x, tile=96, overlap=32)  # multi-tile
    run_tiled(net, x[..., :96, :96], tile=96, overlap=32)  # single tile
    after = _state(net)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not any("forward" in vars(m) for m in net.modules())
    torch.manual_seed(5)
    assert torch.equal(_untiled(net, x[..., :96, :96]), y_before)


def test_net_is_restored_when_interrupted() -> None:
    net = _net(RESNET_IN)
    x = _photo("coffee", 192, 288)
    y_before = _untiled(net, x)

    def cancel(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_tiled(net, x, tile=104, overlap=48, progress=cancel)
    assert not any("forward" in vars(m) for m in net.modules())
    assert torch.equal(_untiled(net, x), y_before)


def test_progress_counts_every_tile_pass() -> None:
    x = _photo("coffee", 192, 288)
    n_tiles = len(plan_tiles(192, 288, 104, 48, align=4))
    for net, expected_total in ((_eval_batchnorm_net(RESNET_BN), n_tiles), (_net(RESNET_IN), 1 + 3 * n_tiles + n_tiles)):
        calls: list[tuple[int, int]] = []
        run_tiled(net, x, tile=104, overlap=48, refine_passes=3, progress=lambda d, t: calls.append((d, t)))
        assert [d for d, _ in calls] == list(range(1, expected_total + 1))
        assert {t for _, t in calls} == {expected_total}


def test_rejects_what_it_cannot_tile() -> None:
    net = _net(RESNET_IN)
    with pytest.raises(ValueError, match="one image"):
        run_tiled(net, torch.zeros(2, 3, 64, 64), tile=32, overlap=8)
    with pytest.raises(ValueError, match="multiples of 4"):
        run_tiled(net, torch.zeros(1, 3, 64, 66), tile=32, overlap=8)
    with pytest.raises(ValueError, match="multiples of 4"):
        run_tiled(net, torch.zeros(1, 3, 64, 64), tile=30, overlap=8)


# --- exact statistics by segments -------------------------------------------------------------

RESNET_IN_SKIP = GeneratorSpec("resnet_2blocks", 8, "instance", False, input_skip=True)
RESNET_TINY = GeneratorSpec("resnet_1blocks", 4, "instance", False)
SEGMENT_CASES = [  # (spec, train): instance norm, reference mode (batch statistics, dropout), input skip
    (RESNET_IN, False), (UNET_BN, True), (UNET_BN_DROPOUT, True), (RESNET_IN_SKIP, False),
]


def _max_grey_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(np.abs(_u8(a) - _u8(b)).max())


@pytest.mark.parametrize(("spec", "train"), SEGMENT_CASES)
def test_segments_give_the_untiled_output(spec: GeneratorSpec, train: bool) -> None:
    """The segment path computes every layer over the whole image (tile by tile, with the halo
    each convolution needs), so it is the untiled net up to float rounding, U-Nets included, and
    in reference mode with the same seeded generator it draws the same dropout masks (on the CPU).
    Measured: max 0 grey levels, 1e-6 in [-1, 1]. The refinement path's U-Net was 3.7 off."""
    net = _net(spec, train=train)
    x = _photo("rocket", 384, 576)
    untiled = _untiled(private_net(net, torch.Generator().manual_seed(7)), x)
    y = run_tiled(net, x, tile=128, overlap=default_overlap(spec), generator=torch.Generator().manual_seed(7))
    assert _max_grey_diff(y, untiled) <= 1
    assert float((y - untiled).abs().max()) < 1e-4


def test_segments_run_a_generator_inside_a_wrapper() -> None:
    """The app runs `_FromUint8(generator)` on bytes; any wrapper around the generator works."""

    class FromBytes(nn.Module):
        def __init__(self, net: nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x.float() / 127.5 - 1)  # type: ignore[no-any-return]

    net = FromBytes(_net(RESNET_IN))
    x = torch.from_numpy(data.coffee()[:384, :576].copy()).permute(2, 0, 1)[None]  # uint8
    y = run_tiled(net, x, tile=128, overlap=default_overlap(RESNET_IN), multiple=4)
    assert _max_grey_diff(y, _untiled(net, x)) <= 1


class _ConvWork(TorchDispatchMode):
    """Counts the multiply-adds of every 2-D convolution torch runs while active."""

    def __init__(self) -> None:
        super().__init__()
        self.macs = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        out = func(*args, **(kwargs or {}))
        if func.overloadpacket in (torch.ops.aten.conv2d, torch.ops.aten.convolution):
            self.macs += out.numel() * args[1][0].numel()  # each output: one filter's weights
        elif func.overloadpacket is torch.ops.aten.conv_transpose2d:
            self.macs += args[0].numel() * args[1][0].numel()  # each input: one filter's weights
        return out


def _conv_macs(run: Callable[[], torch.Tensor]) -> int:
    with _ConvWork() as work:
        run()
    return work.macs


@pytest.mark.parametrize(("spec", "train", "refine"), [(RESNET_TINY, False, True), (UNET_BN, True, False)])
def test_segments_cost_about_one_pass(spec: GeneratorSpec, train: bool, refine: bool) -> None:
    """Convolution work (multiply-adds counted as torch runs them) against the untiled net's:
    the segments do one pass plus their halos (here small tiles, so halos count); refinement one
    truncated pass per norm layer, then the blended pass. Measured: ResNet 1.00 against 11.4 for
    refinement; U-Net 1.14 (refinement 8.5)."""
    net = _net(spec, train=train)
    x = _photo("astronaut", 192, 288)
    ov = default_overlap(spec)
    untiled = _conv_macs(lambda: _untiled(net, x))
    segments = _conv_macs(lambda: run_tiled(net, x, tile=96, overlap=ov, budget=2**19))
    assert untiled <= segments <= 1.25 * untiled
    if refine:
        assert _conv_macs(lambda: run_tiled(net, x, tile=96, overlap=ov, method="refine")) >= 5 * segments


def _scratch_folders(root: Path) -> list[Path]:
    return sorted(root.glob("translator-tiles-*"))


def _mapped_from(folder: Path) -> int:
    """How many of this process's memory mappings are files in `folder` (Linux)."""
    with open("/proc/self/maps") as maps:
        return sum(str(folder) in line for line in maps)


@pytest.fixture
def scratch_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system temporary folder, pointed at an empty folder of the test's own."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


LARGE = 2048
LARGE_BUDGET = 24 * 2**20  # far below the 2048² image's activations: tiles and a scratch file


@pytest.fixture(scope="module")
def large_photo() -> torch.Tensor:
    return _photo("astronaut", LARGE, LARGE)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process's mappings from /proc")
def test_large_image_matches_the_refine_path_through_a_scratch_file(
    large_photo: torch.Tensor, scratch_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A 2048² photo under a 24 MiB budget: the whole-image activations go through memory-mapped
    files (seen mapped while the call runs, gone after it), and the output is the untiled net's
    (which fits here: the net is tiny) as the refinement path's is. Measured: segments max 0
    grey levels off untiled; refinement mean 0.002, max 1."""
    net = _net(RESNET_TINY)
    ov = default_overlap(RESNET_TINY)
    seen: list[int] = []

    def look(done: int, total: int) -> None:
        for folder in _scratch_folders(scratch_root):
            seen.append(_mapped_from(folder))

    with caplog.at_level(logging.INFO, logger="translator.tiling"):
        y = run_tiled(net, large_photo, tile=512, overlap=ov, budget=LARGE_BUDGET, progress=look)
    assert seen and max(seen) >= 1  # values lived in mapped files...
    assert not _scratch_folders(scratch_root) and not list(scratch_root.iterdir())  # ...and nothing is left
    assert "scratch file" in caplog.text
    untiled = _untiled(net, large_photo)
    refined = run_tiled(net, large_photo, tile=LARGE // 2 + 16, overlap=ov, method="refine")  # 4 tiles
    assert _max_grey_diff(y, untiled) <= 1
    mean, p99 = _grey_diff(refined, untiled)
    assert mean <= 0.1 and p99 <= 1  # the old exact path, as before
    mean, p99 = _grey_diff(y, refined)
    assert mean <= 0.1 and p99 <= 1


def _raise_at(step: int, error: BaseException) -> Callable[[int, int], None]:
    def progress(done: int, total: int) -> None:
        if done == step:
            raise error

    return progress


@pytest.mark.parametrize("error", [RuntimeError("the caller's callback failed"), KeyboardInterrupt()])
def test_scratch_files_are_removed_when_the_call_fails(
    large_photo: torch.Tensor, scratch_root: Path, error: BaseException
) -> None:
    net = _net(RESNET_TINY)
    x = large_photo[..., :1024, :1024]
    before = _state(net)
    with pytest.raises(type(error)):
        run_tiled(net, x, tile=256, overlap=default_overlap(RESNET_TINY), budget=LARGE_BUDGET // 4, progress=_raise_at(5, error))
    assert not list(scratch_root.iterdir())
    after = _state(net)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_cancel_mid_image_stops_at_the_next_tile_and_leaves_no_scratch_file(large_photo: torch.Tensor, scratch_root: Path) -> None:
    """A token cancelled halfway (as the app's Stop button does): the call raises JobCancelled at
    the next check, made after every tile of every segment and every chunk of a statistics step.
    No step is long: the longest gap between two checks is a small share of the whole image's time
    (measured 2-4 %), so a cancel takes effect well within a second on a real image."""
    net = _net(RESNET_TINY)
    ov = default_overlap(RESNET_TINY)
    x = large_photo[..., : LARGE // 2, :]
    stamps: list[float] = []
    total_steps: list[int] = []

    def timed(done: int, total: int) -> None:
        stamps.append(time.perf_counter())
        total_steps.append(total)

    start = time.perf_counter()
    run_tiled(net, x, tile=512, overlap=ov, budget=LARGE_BUDGET // 2, progress=timed)
    whole = time.perf_counter() - start
    gaps = np.diff([start, *stamps])
    assert total_steps[-1] >= 50 and gaps.max() <= whole / 8

    token = CancelToken()
    checks: list[int] = []

    def cancel_halfway(done: int, total: int) -> None:
        checks.append(done)
        if done == total // 2:
            token.cancel()
        token.raise_if_cancelled()

    with pytest.raises(JobCancelled):
        run_tiled(net, x, tile=512, overlap=ov, budget=LARGE_BUDGET // 2, progress=cancel_halfway)
    assert checks[-1] == total_steps[-1] // 2  # stopped at once
    assert not list(scratch_root.iterdir())


def test_two_threads_tile_with_one_net() -> None:
    """Reference mode (batch statistics, dropout) in two threads at once, each with its own
    seeded generator: each gets what it gets alone."""
    net = _net(UNET_BN_DROPOUT, train=True)
    photos = [_photo("rocket", 256, 384), _photo("coffee", 256, 384)]

    def run(x: torch.Tensor) -> torch.Tensor:
        return run_tiled(net, x, tile=96, overlap=32, generator=torch.Generator().manual_seed(3))

    alone = [run(x) for x in photos]
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(run, photos))
    assert all(torch.equal(a, b) for a, b in zip(alone, together))


def test_other_structures_fall_back_to_refinement(caplog: pytest.LogCaptureFixture) -> None:
    """A norm layer outside the generator: the segment path does not know the net, says so and
    refines layer by layer, as `method="refine"` does."""
    net = nn.Sequential(_net(RESNET_TINY), nn.InstanceNorm2d(3))
    x = _photo("coffee", 128, 192)
    with caplog.at_level(logging.INFO, logger="translator.tiling"):
        y = run_tiled(net, x, tile=96, overlap=32, multiple=4)
    assert "layer by layer" in caplog.text
    assert torch.equal(y, run_tiled(net, x, tile=96, overlap=32, multiple=4, method="refine"))
