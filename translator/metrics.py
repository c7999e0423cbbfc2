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
with; `verdict_heatmap` and `overlay_heatmap` turn it into a picture.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Literal, get_args

import cv2
import numpy as np
import numpy.typing as npt
import torch
from pytorch_msssim import ssim as _msssim_ssim

log = logging.getLogger(__name__)

__all__ = [
    "DATA_RANGE",
    "GAN_MODES",
    "SSIM_SIGMA",
    "SSIM_WINDOW",
    "GanMode",
    "Verdict",
    "discriminator_verdict",
    "overlay_heatmap",
    "psnr",
    "psnr_batch",
    "ssim",
    "ssim_batch",
    "verdict_heatmap",
]

DATA_RANGE = 255.0  # metrics are measured on uint8 levels
SSIM_WINDOW = 11  # Gaussian window side (Wang et al. 2004)
SSIM_SIGMA = 1.5
_SSIM_K = (0.01, 0.03)

GanMode = Literal["vanilla", "lsgan", "wgangp", "hinge"]
GAN_MODES: tuple[str, ...] = get_args(GanMode)


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
        real = torch.sigmoid(out) if gan_mode == "vanilla" else out
        logits = out[0, 0].cpu().numpy().astype(np.float32)
        realness = real[0, 0].cpu().numpy().astype(np.float32)
    logits.setflags(write=False)
    realness.setflags(write=False)
    mean = float(realness.mean())
    log.debug("verdict (%s): %dx%d map, mean realness %.4f", gan_mode, *realness.shape, mean)
    return Verdict(logits=logits, realness=realness, mean_realness=mean, gan_mode=gan_mode)


def verdict_heatmap(
    realness: npt.NDArray[np.floating], size: tuple[int, int], gan_mode: str = "vanilla"
) -> npt.NDArray[np.uint8]:
    """Colour picture (height, width, 3) uint8 RGB of a realness map, `size` = (width, height).

    The map is stretched bilinearly over the image (approximate: each cell actually judges an
    overlapping patch, 70×70 for the basic PatchGAN) and coloured with viridis (dark purple =
    low, yellow = high). For `vanilla` the scale is fixed to [0, 1] probabilities, so 0.5 looks
    the same in every picture. For the other modes the score has no fixed range, so the map is
    normalised by its own min/max: colours compare patches within one picture, not across
    pictures (a constant map is drawn mid-scale).
    """
    _check_gan_mode(gan_mode)
    if realness.ndim != 2 or realness.size == 0:
        raise ValueError(f"expected an (h, w) realness map, got shape {realness.shape}")
    width, height = size
    if width < 1 or height < 1:
        raise ValueError(f"heat map size must be positive (width, height), got {size}")
    r = realness.astype(np.float32)
    if gan_mode == "vanilla":
        norm = r
    else:
        lo, hi = float(r.min()), float(r.max())
        norm = (r - lo) / (hi - lo) if hi > lo else np.full_like(r, 0.5)
    big = cv2.resize(norm, (width, height), interpolation=cv2.INTER_LINEAR)
    levels = np.rint(np.clip(big, 0.0, 1.0) * 255).astype(np.uint8)
    bgr = cv2.applyColorMap(levels, cv2.COLORMAP_VIRIDIS)
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)


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
