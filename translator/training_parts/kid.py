"""KID validation during training: how far, as a distribution, a generator's translations of a
held-out folder lie from that folder's real images of the target domain, and which step's model
came closest.

Why KID: it needs no paired target (so it judges CycleGAN as well as pix2pix), does not reward
blur as PSNR does, and is unbiased on the small folders artists have (`translator.realism.kid`).

What it costs: each measurement translates the held-out inputs and computes the Inception
features of the translations. The real side's features do not change during a run: they are
computed at the first measurement and kept (in memory, so a resumed run computes them once more).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from translator import imaging
from translator.realism import FeatureNet, kid

# The default number of steps between KID validations, and of held-out images per side (issue
# 30's "validation step of 50 images"). bench/kid_validation.py, default-recipe CycleGAN, both
# directions, on the shared 2-core CPU (2026-12-07, other jobs running): a validation cost 12.9 s
# (the first 21.2 s, with the reals' features) beside 0.81 s steps, so validating every 250 steps
# adds about 7 % to a 1000-step run (3.0 % in a heavier-loaded run; the same validations beside
# the idle machine's 0.54 s steps would be about 11 %). Every 500 would halve it, at 2 points a curve.
KID_EVERY = 250
KID_IMAGES = 50


@dataclass(frozen=True)
class KidSide:
    """One direction measured: generator `role` translates `inputs` (float32 (N, 3, H, W) in
    [-1, 1]), whose KID against `reals` (the target domain's held-out images, uint8 (H, W, 3)) is
    reported as `key`, its spread over subsets as `key + "_std"`."""

    role: str
    key: str
    inputs: torch.Tensor
    reals: tuple[np.ndarray, ...]


class KidValidator:
    """Measures KID for each side on `net`'s features; the reals' features once per instance."""

    def __init__(self, sides: Sequence[KidSide], net: FeatureNet, *, seed: int, batch_size: int = 8) -> None:
        if not sides:
            raise ValueError("KID validation needs at least one side to measure")
        self.sides = tuple(sides)
        self.net = net
        self.seed = seed
        self.batch_size = batch_size
        self._real: dict[str, np.ndarray] = {}  # key -> (M, 2048) features of the reals

    def measure(self, generator: Callable[[str], nn.Module], device: torch.device) -> dict[str, float]:
        """KID (mean and std over subsets) of each side's translations by `generator(role)`, a
        network in the mode it should be judged in (the caller's choice: eval, EMA)."""
        scores: dict[str, float] = {}
        for side in self.sides:
            real = self._real.get(side.key)
            if real is None:
                real = self._real[side.key] = self.net.features(side.reals)
            fake = self.net.features(self._translations(generator(side.role), side.inputs, device))
            # Subsets of half the images: whole folders would give every subset the same score (no
            # spread to read a curve's noise by); the mean stays unbiased at any subset size.
            mean, std = kid(real, fake, subset_size=max(2, min(len(real), len(fake)) // 2), seed=self.seed)
            scores[side.key], scores[f"{side.key}_std"] = float(mean), float(std)
        return scores

    def _translations(self, net: nn.Module, inputs: torch.Tensor, device: torch.device) -> Iterator[np.ndarray]:
        """`net`'s outputs for `inputs` as uint8 (H, W, 3) images, a batch at a time."""
        for batch in torch.split(inputs, self.batch_size):
            with torch.inference_mode():
                out = net(batch.to(device)).float().cpu()
            yield from (imaging.to_uint8(y) for y in out)


class BestKid:
    """The lowest KID a run has reported: at which step, its value and spread, and the model file
    written for it. The file's bytes are kept (and saved in the training state) so that a resumed
    run can put back the file a later, abandoned step replaced."""

    def __init__(self) -> None:
        self.step = -1
        self.kid = math.inf
        self.kid_std = math.nan
        self.file = b""

    @property
    def found(self) -> bool:
        return self.step >= 0

    def beaten_by(self, value: float) -> bool:
        """Whether `value` is a new best (a non-finite KID never is)."""
        return math.isfinite(value) and value < self.kid

    def summary(self) -> dict[str, float | int]:
        """What a model card records about it."""
        return {"step": self.step, "kid": self.kid, "kid_std": self.kid_std}

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step, "kid": self.kid, "kid_std": self.kid_std,
                "file": torch.frombuffer(bytearray(self.file), dtype=torch.uint8) if self.file else torch.empty(0, dtype=torch.uint8)}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        self.step, self.kid, self.kid_std = int(s["step"]), float(s["kid"]), float(s["kid_std"])
        self.file = s["file"].numpy().tobytes()
