"""Image-quality metrics (PSNR, SSIM) and the discriminator's verdict on an image.

PSNR and SSIM follow one convention everywhere, so that the numbers the tool reports can be
compared with published ones and with each other: uint8 levels, data range 255, SSIM with an
11×11 Gaussian window of σ 1.5 and K = (0.01, 0.03) (Wang et al. 2004), averaged over the
valid (unpadded) part of the map and over channels, per image. This is what scikit-image's
`structural_similarity(a, b, data_range=255, channel_axis=-1, gaussian_weights=True, sigma=1.5,
use_sample_covariance=False)` computes; SSIM itself comes from the maintained pytorch-msssim
(it agrees with scikit-image to ~3e-6), not from a hand-written filter.

The file forms (`psnr`, `ssim`) take uint8 arrays; the batch forms (`psnr_batch`, `ssim_batch`)
take the engine's float tensors in [-1, 1] and first quantise them to the uint8 levels the files
would hold, so a validation number equals the number measured later on the written images.

The verdict (`discriminator_verdict`) runs a PatchGAN/PixelGAN on one image and returns its map
of raw logits plus a "realness" map whose meaning depends on the GAN loss the net was trained
with. The heat-map is drawn from a second run (`discriminator_patch_map`) that mirrors the
image's borders outwards, so that edge patches judge the picture rather than D's zero padding,
and that places each cell on the pixel its patch is centred on (`patch_grid`);
`verdict_heatmap` colours it with `heat_colours` (which the app's legend uses too) and
`overlay_heatmap` lays it over the image.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
import torch
from pytorch_msssim import ssim as _msssim_ssim

from translator.choices import GAN_MODES, GanMode
from translator.networks.specs import DiscriminatorSpec

log = logging.getLogger(__name__)

__all__ = [
    "DATA_RANGE",
    "GAN_MODES",
    "SSIM_SIGMA",
    "SSIM_WINDOW",
    "GanMode",
    "PatchGrid",
    "PatchMap",
    "Verdict",
    "discriminator_patch_map",
    "discriminator_verdict",
    "heat_colours",
    "overlay_heatmap",
    "patch_grid",
    "psnr",
    "psnr_batch",
    "ssim",
    "ssim_batch",
    "realness_is_probability",
    "verdict_heatmap",
]

DATA_RANGE = 255.0  # metrics are measured on uint8 levels
SSIM_WINDOW = 11  # Gaussian window side (Wang et al. 2004)
SSIM_SIGMA = 1.5
_SSIM_K = (0.01, 0.03)



# --- PSNR / SSIM on uint8 images -------------------------------------------------------------


def _check_images(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}; compare images of the same size")
    if a.ndim not in (2, 3):
        raise ValueError(f"expected an (H, W) or (H, W, C) image, got shape {a.shape}")
    for name, img in (("first", a), ("second", b)):
        if img.dtype != np.uint8:
            raise ValueError(f"the {name} image is {img.dtype}; metrics expect uint8 levels (data range 255)")


def _check_window(height: int, width: int) -> None:
    if height < SSIM_WINDOW or width < SSIM_WINDOW:
        raise ValueError(
            f"SSIM needs images of at least {SSIM_WINDOW}×{SSIM_WINDOW} pixels (its Gaussian window); got {width}×{height}"
        )


def _as_nchw(img: npt.NDArray[np.uint8]) -> torch.Tensor:
    """(H, W) or (H, W, C) uint8 -> (1, C, H, W) float32 levels 0..255."""
    t = torch.from_numpy(np.array(img, dtype=np.float32))  # a copy: read-only inputs (PIL) are fine
    t = t[None] if t.ndim == 2 else t.permute(2, 0, 1)
    return t[None]


def _ssim_levels(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) float levels 0..255 -> (N,) SSIM, mean over the valid map and channels."""
    _check_window(x.shape[-2], x.shape[-1])
    # size_average=False keeps one value per image (mean over channels); True would pool the batch.
    per_image: torch.Tensor = _msssim_ssim(
        x, y, data_range=DATA_RANGE, size_average=False, win_size=SSIM_WINDOW, win_sigma=SSIM_SIGMA, K=_SSIM_K
    )
    return per_image


def psnr(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 images, (H, W) gray or (H, W, C) colour.

    Data range 255; the MSE is over all pixels and channels. Identical images give `math.inf`.
    Raises ValueError on different shapes or a non-uint8 image.
    """
    _check_images(a, b)
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(DATA_RANGE**2 / mse)


def ssim(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> float:
    """Structural similarity of two uint8 images, (H, W) gray or (H, W, C) colour.

    Gaussian window 11, σ 1.5, data range 255, mean over the valid map and the channels
    (scikit-image's reference settings, see the module docstring). 1.0 for identical images.
    Raises ValueError on different shapes, a non-uint8 image or a side shorter than 11 pixels.
    """
    _check_images(a, b)
    return float(_ssim_levels(_as_nchw(a), _as_nchw(b))[0].item())


# --- batch forms on engine tensors -----------------------------------------------------------


def _levels(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> float32 uint8 levels, round((x + 1) / 2 * 255) clipped to 0..255:
    what writing the image to a file would store (rounding half to even, as numpy does)."""
    return ((x.detach().to(torch.float32) + 1) / 2 * 255).round().clamp(0, 255)


def _check_batch(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape != y.shape:
        raise ValueError(f"batches differ in shape: {tuple(x.shape)} vs {tuple(y.shape)}")
    if x.ndim != 4:
        raise ValueError(f"expected an (N, C, H, W) batch, got shape {tuple(x.shape)}")
    if not (x.is_floating_point() and y.is_floating_point()):
        raise ValueError(f"expected float images in [-1, 1], got {x.dtype} and {y.dtype}")


def psnr_batch(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR (N,) float32 of two (N, C, H, W) float batches in [-1, 1].

    Both are quantised to uint8 levels first, so each value equals `psnr` on the saved files;
    identical images give inf. Not differentiable (it is a measurement, not a loss). Result on
    the inputs' device.
    """
    _check_batch(x, y)
    with torch.no_grad():
        mse = (_levels(x) - _levels(y)).pow(2).flatten(1).mean(1)
        return 10 * torch.log10(DATA_RANGE**2 / mse)  # mse 0 -> inf


def ssim_batch(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM (N,) float32 of two (N, C, H, W) float batches in [-1, 1].

    Both are quantised to uint8 levels first, so each value equals `ssim` on the saved files.
    Not differentiable. Raises ValueError for sides shorter than 11 pixels.
    """
    _check_batch(x, y)
    with torch.no_grad():
        return _ssim_levels(_levels(x), _levels(y))


# --- the discriminator's verdict -------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What a discriminator thinks of one image, patch by patch (arrays are read-only).

    `realness` is sigmoid(logits), a probability of "real", for `vanilla` (BCE-trained) nets.
    For `lsgan`, `wgangp` and `hinge` the raw score has no probability reading (lsgan aims at
    1 for real and 0 for fake; wgangp/hinge scores are unbounded, higher = more real), so
    `realness` is the raw logits there.
    """

    logits: npt.NDArray[np.float32]  # (h, w) raw PatchGAN map
    realness: npt.NDArray[np.float32]  # (h, w)
    mean_realness: float
    gan_mode: str


def _check_gan_mode(gan_mode: str) -> None:
    if gan_mode not in GAN_MODES:
        raise ValueError(f"unknown gan_mode {gan_mode!r}: choose one of {', '.join(GAN_MODES)}")


def realness_is_probability(gan_mode: str) -> bool:
    """Whether realness reads as a probability of "real" in [0, 1] (a `vanilla`, BCE-trained D)
    rather than a raw score with no fixed range (higher = more real)."""
    _check_gan_mode(gan_mode)
    return gan_mode == "vanilla"


def discriminator_verdict(
    d: torch.nn.Module, condition: torch.Tensor | None, image: torch.Tensor, gan_mode: str = "vanilla"
) -> Verdict:
    """Run discriminator `d` on one image and return its patch map.

    `condition`, `image`: (1, 3, H, W) float in [-1, 1], on `d`'s device. A pix2pix D
    (in_channels 6) sees cat(condition, image) on the channel axis; with `condition=None` D sees
    the image alone (a CycleGAN D, in_channels 3).

    Runs under `torch.inference_mode()` and calls `d` as it is: the caller chooses `d.eval()`
    (running BatchNorm statistics, the usual choice) or `d.train()` (batch statistics, and then
    BatchNorm also updates its running statistics, as any forward pass in train mode does).
    The mode is never changed here.
    """
    _check_gan_mode(gan_mode)
    if image.ndim != 4 or image.shape[0] != 1:
        raise ValueError(f"expected one image as a (1, C, H, W) tensor, got shape {tuple(image.shape)}")
    if condition is not None and (condition.shape[0], *condition.shape[2:]) != (1, *image.shape[2:]):
        raise ValueError(
            f"condition {tuple(condition.shape)} and image {tuple(image.shape)} must both be (1, C, H, W) of the same size"
        )
    with torch.inference_mode():
        x = image if condition is None else torch.cat([condition, image], dim=1)
        out = d(x)  # (1, 1, h, w) raw logits
        if out.ndim != 4 or out.shape[:2] != (1, 1):
            raise ValueError(f"discriminator returned shape {tuple(out.shape)}, expected a (1, 1, h, w) map")
        out = out.float()
        real = torch.sigmoid(out) if realness_is_probability(gan_mode) else out
        logits = out[0, 0].cpu().numpy().astype(np.float32)
        realness = real[0, 0].cpu().numpy().astype(np.float32)
    logits.setflags(write=False)
    realness.setflags(write=False)
    mean = float(realness.mean())
    log.debug("verdict (%s): %dx%d map, mean realness %.4f", gan_mode, *realness.shape, mean)
    return Verdict(logits=logits, realness=realness, mean_realness=mean, gan_mode=gan_mode)


@dataclass(frozen=True)
class PatchGrid:
    """Where a discriminator's map cells sit on its input, along either axis: cell k judges the
    `field`-pixel patch centred on pixel `offset + stride * k` (pixel centres are integers)."""

    stride: int
    offset: float
    field: int


def patch_grid(spec: DiscriminatorSpec) -> PatchGrid:
    """The grid of a discriminator built from `spec`.

    A PatchGAN has `n` 4×4 stride-2 convolutions, then two 4×4 stride-1 ones, all padded by 1:
    stride 2ⁿ, receptive field 9·2ⁿ − 2 pixels (70 for n = 3), cell 0 centred on pixel
    2ⁿ + (2ⁿ − 1)/2 (11.5 for n = 3). A PixelGAN judges each pixel alone.
    """
    if spec.arch == "pixel":
        return PatchGrid(stride=1, offset=0.0, field=1)
    s = 2**spec.n_layers
    return PatchGrid(stride=s, offset=s + (s - 1) / 2, field=9 * s - 2)


@dataclass(frozen=True)
class PatchMap:
    """A realness map placed on the image it judges (the array is read-only).

    Cell (i, j) is centred on pixel (row, col) = (origin[0] + step[0]·i, origin[1] + step[1]·j);
    `gan_mode` says how to read the values (see `Verdict`).
    """

    realness: npt.NDArray[np.float32]  # (h, w)
    origin: tuple[float, float]  # (row, col) of cell (0, 0)'s centre, in pixels
    step: tuple[float, float]  # pixels from one cell's centre to the next, (rows, cols)
    gan_mode: str

    @classmethod
    def spread(cls, realness: npt.NDArray[np.floating], size: tuple[int, int], gan_mode: str = "vanilla") -> PatchMap:
        """A map whose cells evenly tile an image of `size` = (width, height), each centred on
        its own block: for maps with no known geometry (a plain stretch)."""
        if realness.ndim != 2 or realness.size == 0:
            raise ValueError(f"expected an (h, w) realness map, got shape {realness.shape}")
        (h, w), (width, height) = realness.shape, size
        if width < 1 or height < 1:
            raise ValueError(f"image size must be positive (width, height), got {size}")
        step = (height / h, width / w)
        r = np.array(realness, dtype=np.float32)
        r.setflags(write=False)
        return cls(r, ((step[0] - 1) / 2, (step[1] - 1) / 2), step, gan_mode)


def discriminator_patch_map(
    d: torch.nn.Module, condition: torch.Tensor | None, image: torch.Tensor, grid: PatchGrid, gan_mode: str = "vanilla"
) -> PatchMap:
    """D's realness map for the heat-map: every cell judges picture content, none the padding.

    A PatchGAN zero-pads its input, so the cells along the image's edges judge partly a grey
    frame that is not in the picture and come out systematically unlike their neighbours (on the
    demo day→night model the left column reads 0.30 where the next reads 0.47; on `flower` the
    right column 0.54 next to 0.01): a stripe along the edge that says nothing about the image.
    Here D sees `image` (and `condition`) mirrored outwards by enough pixels that no cell centred
    within one stride of the image reaches the padding; those cells are kept, placed by `grid`.
    The plain verdict (`discriminator_verdict`) stays what D computes on the image as trained.

    Arguments as for `discriminator_verdict` (same mode rules); `grid` must describe `d`.
    """
    _check_gan_mode(gan_mode)
    height, width = image.shape[-2:]
    margin = 0 if grid.field == 1 else grid.stride * math.ceil((grid.field / 2 + grid.stride) / grid.stride)
    if margin and min(height, width) < 2:
        raise ValueError(f"a {width}×{height} image has no border to mirror; the patch map needs 2 pixels a side")

    def mirrored(x: torch.Tensor) -> torch.Tensor:  # (1, C, H, W) -> (1, C, H + 2m, W + 2m)
        rows = torch.from_numpy(np.pad(np.arange(height), margin, mode="reflect")).to(x.device)
        cols = torch.from_numpy(np.pad(np.arange(width), margin, mode="reflect")).to(x.device)
        return x.index_select(2, rows).index_select(3, cols)

    v = discriminator_verdict(d, None if condition is None else mirrored(condition), mirrored(image), gan_mode)
    first = grid.offset - margin  # centre of the padded map's cell 0, in image pixels

    def kept(side: int, cells: int) -> slice:  # cells centred in [-stride, side - 1 + stride]
        lo = math.ceil((-grid.stride - first) / grid.stride)
        hi = math.floor((side - 1 + grid.stride - first) / grid.stride)
        if lo < 0 or hi >= cells:
            raise ValueError(f"the discriminator's map ({cells} cells for {side + 2 * margin} px) does not fit "
                             f"its grid {grid}; is the grid that of this discriminator?")
        return slice(lo, hi + 1)

    rs, cs = kept(height, v.realness.shape[0]), kept(width, v.realness.shape[1])
    realness = np.ascontiguousarray(v.realness[rs, cs])
    realness.setflags(write=False)
    origin = (first + grid.stride * rs.start, first + grid.stride * cs.start)
    return PatchMap(realness, origin, (float(grid.stride), float(grid.stride)), gan_mode)


def heat_colours(values: npt.NDArray[np.floating]) -> npt.NDArray[np.uint8]:
    """RGB uint8 colours (shape + (3,)) of `values` in [0, 1] (clipped): viridis, dark purple for
    0 ("looks fake"), yellow for 1 ("looks real"). The one colour scale of the heat-map and its
    legend, so the two cannot disagree."""
    levels = np.rint(np.clip(np.asarray(values, dtype=np.float32), 0.0, 1.0) * 255).astype(np.uint8)
    bgr = cv2.applyColorMap(levels.reshape(-1, 1), cv2.COLORMAP_VIRIDIS)  # (n, 1, 3)
    return np.ascontiguousarray(bgr[:, 0, ::-1].reshape(*levels.shape, 3))


def _along(values: npt.NDArray[np.float32], axis: int, pixels: int, origin: float, step: float) -> npt.NDArray[np.float32]:
    """Linear interpolation of `values` along `axis` onto `pixels` pixel centres, cell k sitting
    on pixel origin + step·k; beyond the first and last cells the end values hold."""
    cells = values.shape[axis]
    u = np.clip((np.arange(pixels, dtype=np.float64) - origin) / step, 0.0, cells - 1)
    lo = np.floor(u).astype(np.intp)
    hi = np.minimum(lo + 1, cells - 1)
    frac = (u - lo).astype(np.float32)
    shape = [1, 1]
    shape[axis] = pixels
    frac = frac.reshape(shape)
    a = np.take(values, lo, axis=axis)
    out: npt.NDArray[np.float32] = a + (np.take(values, hi, axis=axis) - a) * frac  # exact where a == b
    return out


def verdict_heatmap(m: PatchMap, size: tuple[int, int]) -> npt.NDArray[np.uint8]:
    """Colour picture (height, width, 3) uint8 RGB of a patch map over an image of `size` =
    (width, height).

    Each cell's value sits on the pixel its patch is centred on, interpolated linearly in
    between and held beyond the outermost cells (approximate: each cell judges an overlapping
    patch, 70×70 for the basic PatchGAN). Coloured by `heat_colours`. When realness is a
    probability (`vanilla`) the scale is fixed to [0, 1], so 0.5 looks the same in every
    picture. Other modes' scores have no fixed range, so the map is normalised by its own
    min/max: colours compare patches within one picture, not across pictures (a constant map is
    drawn mid-scale).
    """
    width, height = size
    if width < 1 or height < 1:
        raise ValueError(f"heat map size must be positive (width, height), got {size}")
    if m.realness.ndim != 2 or m.realness.size == 0:
        raise ValueError(f"expected an (h, w) realness map, got shape {m.realness.shape}")
    r = m.realness.astype(np.float32)
    if realness_is_probability(m.gan_mode):
        norm = r
    else:
        lo, hi = float(r.min()), float(r.max())
        norm = (r - lo) / (hi - lo) if hi > lo else np.full_like(r, 0.5)
    rows = _along(norm, 0, height, m.origin[0], m.step[0])  # (height, w)
    return heat_colours(_along(rows, 1, width, m.origin[1], m.step[1]))


def overlay_heatmap(
    rgb: npt.NDArray[np.uint8], heat: npt.NDArray[np.uint8], opacity: float = 0.5
) -> npt.NDArray[np.uint8]:
    """Blend `heat` over `rgb` (both (H, W, 3) uint8): (1 - opacity) * rgb + opacity * heat,
    rounded. opacity 0 gives `rgb`, 1 gives `heat`."""
    if rgb.shape != heat.shape or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected two (H, W, 3) images of one size, got {rgb.shape} and {heat.shape}")
    if rgb.dtype != np.uint8 or heat.dtype != np.uint8:
        raise ValueError(f"expected uint8 images, got {rgb.dtype} and {heat.dtype}")
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be between 0 and 1, got {opacity}")
    out = (1.0 - opacity) * rgb.astype(np.float32) + opacity * heat.astype(np.float32)
    return np.rint(out).astype(np.uint8)
