"""The discriminator-overfitting gauge and adaptive augmentation of Karras et al. 2020 (ADA).

What: `RealnessTracker` computes r_t = E[sign(D(real))] over the last few steps: near 0 while D
is unsure about the real images, approaching 1 when it has memorised them (it overfits a small
training set). `AdaptiveAugment` augments everything D sees, real and fake alike, each sample with
probability p, and moves p up while r_t is above a target (0.6) and down while it is below.

Why: with a few hundred training pairs D overfits after a few thousand steps and its feedback to
G turns to noise. Augmenting both reals and fakes (the fakes differentiably, so G still learns)
keeps D from memorising; doing it with p < 1 keeps the augmentations from "leaking" into the
generated images, because the untransformed image stays the most likely one D sees.

The pipeline here is a reduced, pixel-exact version of ADA's "bgc": per sample and with
probability p each, an x-flip (flip chosen with prob 1/2), a rotation by a multiple of 90° (only
for square images; k uniform in 0..3), an integer translation of up to 1/8 of each side with
reflect padding; then brightness (+N(0, 0.2)), contrast (×2^N(0, 0.5), around 0, i.e. mid-grey
in [-1, 1]) and saturation (×2^N(0, 1) around each pixel's channel mean; only for 3-channel
tensors) — ADA's distributions. No scaling, arbitrary rotation or sub-pixel shift (they need
resampling) and no hue rotation; results are not clipped to [-1, 1] (nor are they in ADA).

Pairs: `apply` gives every tensor of the list the same transform for each sample, so
pix2pix's [condition, image] stay aligned. By default the colour transforms go to every tensor as
well (a photo-to-photo condition keeps its colour relation to the image); pass `colour=[False,
True]` to leave the condition's colours alone (e.g. label maps, whose colours are classes).
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from translator.training_parts.losses import GanMode, check_gan_mode, decision_threshold


class RealnessTracker:
    """r_t = mean over the last `window` steps of mean(sign(real logit − threshold)) over patches.

    The threshold is 0.5 for lsgan (whose D is trained towards 1 and 0), 0 for the others.
    `window=4` is ADA's adjustment interval; with PatchGAN each step already averages hundreds of
    patches per image, so a short window is steady enough and still reacts within a few steps.
    """

    def __init__(self, mode: GanMode, window: int = 4) -> None:
        if window < 1:
            raise ValueError(f"the realness window must be >= 1 step, not {window}")
        self.mode: GanMode = check_gan_mode(mode)
        self.window = window
        self._history: deque[float] = deque(maxlen=window)

    @property
    def value(self) -> float:
        """The current r_t (0.0 before the first update)."""
        return sum(self._history) / len(self._history) if self._history else 0.0

    @torch.no_grad()
    def update(self, real_logits: Tensor) -> float:
        """Add one step's logits on real images (any shape) and return the new r_t in [-1, 1]."""
        signs = torch.sign(real_logits.detach().float() - decision_threshold(self.mode))
        self._history.append(signs.mean().item())
        return self.value

    def state_dict(self) -> dict[str, Any]:
        return {"history": list(self._history)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._history = deque((float(v) for v in state["history"]), maxlen=self.window)


class AdaptiveAugment:
    """ADA's augmentation probability `p` and the augmentations it controls.

    `adjust(r_t, batch_size)` is called once per step and moves p by
    sign(r_t − target) · batch_size / speed_images, clamped to [0, p_max]: p can go from 0 to 1 in
    `speed_images` images. ADA uses 500,000 images for runs of tens of millions; fine-tuning runs
    see a few thousand, so the default is 2,000 (from 0 to the cap of 0.8 in 1,600 images).
    The cap keeps the identity the most likely outcome of every transform, so none leaks into G.
    """

    def __init__(self, target: float = 0.6, speed_images: int = 2_000, p_max: float = 0.8, p: float = 0.0) -> None:
        if speed_images < 1:
            raise ValueError(f"speed_images must be >= 1, not {speed_images}")
        if not 0.0 <= p_max <= 1.0:
            raise ValueError(f"p_max must be in [0, 1], not {p_max}")
        if not 0.0 <= p <= p_max:
            raise ValueError(f"p must be in [0, p_max={p_max}], not {p}")
        self.target = target
        self.speed_images = speed_images
        self.p_max = p_max
        self.p = p

    def adjust(self, r_t: float, batch_size: int) -> None:
        """Raise p if r_t > target, lower it if r_t < target (unchanged when equal)."""
        step = math.copysign(batch_size / self.speed_images, r_t - self.target) if r_t != self.target else 0.0
        self.p = min(max(self.p + step, 0.0), self.p_max)

    def apply(
        self,
        images: Sequence[Tensor],
        generator: torch.Generator,
        *,
        colour: Sequence[bool] | None = None,
    ) -> list[Tensor]:
        """Augment each sample of `images` (tensors (N, C_i, H, W), same N, H, W; channel counts
        may differ) with the same random transform across the list; differentiable w.r.t. them.

        All random numbers come from `generator` (on its own device) and their number depends only
        on N, so a seeded generator makes the result reproducible. With p == 0 nothing is drawn and
        the tensors themselves are returned. `colour[i]` says whether tensor i gets the colour
        transforms (default: all do).
        """
        tensors = list(images)
        if not tensors:
            return []
        n, h, w = _check_batch(tensors)
        flags = [True] * len(tensors) if colour is None else list(colour)
        if len(flags) != len(tensors):
            raise ValueError(f"colour has {len(flags)} flags for {len(tensors)} tensors")
        if self.p <= 0.0:
            return tensors

        g, p = generator, self.p

        def chosen() -> Tensor:  # (N,) bool: is this transform applied to each sample
            return torch.rand(n, generator=g, device=g.device) < p

        # Fixed draw order, independent of p's effect, so runs reproduce exactly.
        flip = chosen() & (torch.rand(n, generator=g, device=g.device) < 0.5)
        rot = torch.where(chosen(), torch.randint(4, (n,), generator=g, device=g.device), 0)
        if h != w:
            rot = torch.zeros_like(rot)
        my, mx = h // 8, w // 8
        shift_on = chosen()
        ty = torch.where(shift_on, torch.randint(-my, my + 1, (n,), generator=g, device=g.device), 0)
        tx = torch.where(shift_on, torch.randint(-mx, mx + 1, (n,), generator=g, device=g.device), 0)
        bright = torch.where(chosen(), torch.randn(n, generator=g, device=g.device) * 0.2, 0.0)
        contrast = torch.where(chosen(), torch.exp2(torch.randn(n, generator=g, device=g.device) * 0.5), 1.0)
        sat = torch.where(chosen(), torch.exp2(torch.randn(n, generator=g, device=g.device)), 1.0)

        geometry = list(zip(flip.tolist(), rot.tolist(), ty.tolist(), tx.tolist(), strict=True))
        out: list[Tensor] = []
        for x, use_colour in zip(tensors, flags, strict=True):
            x = torch.stack([_geometric(x[i], *geometry[i]) for i in range(n)])
            if use_colour:
                x = _colour(x, bright, contrast, sat)
            out.append(x)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"p": self.p}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.p = float(state["p"])


def _check_batch(tensors: list[Tensor]) -> tuple[int, int, int]:
    """(N, H, W) shared by all tensors, which must be 4-D."""
    for t in tensors:
        if t.dim() != 4:
            raise ValueError(f"augmentation takes (N, C, H, W) tensors, got shape {tuple(t.shape)}")
    n, _, h, w = tensors[0].shape
    for t in tensors[1:]:
        if (t.shape[0], t.shape[2], t.shape[3]) != (n, h, w):
            raise ValueError(
                f"tensors to augment together must share N, H and W: {tuple(tensors[0].shape)} vs {tuple(t.shape)}"
            )
    return n, h, w


def _geometric(x: Tensor, flip: bool, k: int, ty: int, tx: int) -> Tensor:
    """(C, H, W) -> (C, H, W): x-flip, then rotation by k·90°, then shift by (ty, tx) pixels
    (content moves down/right for positive values; the uncovered border is reflected)."""
    if flip:
        x = x.flip(-1)
    if k:
        x = torch.rot90(x, k, dims=(-2, -1))
    if ty or tx:
        h, w = x.shape[-2:]
        py, px = abs(ty), abs(tx)
        padded = F.pad(x.unsqueeze(0), (px, px, py, py), mode="reflect").squeeze(0)
        x = padded[:, py - ty : py - ty + h, px - tx : px - tx + w]
    return x


def _colour(x: Tensor, bright: Tensor, contrast: Tensor, sat: Tensor) -> Tensor:
    """(N, C, H, W) with per-sample (N,) brightness offsets and contrast/saturation factors."""
    def per_sample(v: Tensor) -> Tensor:
        return v.to(device=x.device, dtype=x.dtype).view(-1, 1, 1, 1)

    x = (x + per_sample(bright)) * per_sample(contrast)
    if x.shape[1] == 3:
        grey = x.mean(dim=1, keepdim=True)  # projection on the luma axis (1, 1, 1)/√3, as ADA
        x = grey + (x - grey) * per_sample(sat)
    return x
