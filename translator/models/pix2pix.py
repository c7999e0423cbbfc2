"""pix2pix (Isola et al. 2017): a generator G trained against a conditional PatchGAN D.

G translates the input side of a pair to the target side; D judges concat(input, image) pairs,
so it learns whether an image fits *its* input. G's loss is the adversarial loss plus λ·L1 to
the target (λ = 100 in the paper).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from translator.choices import Kind
from translator.models.step import PaperDefaults, StepResult, StepTools, as_float, require_finite, set_requires_grad
from translator.training_parts import d_accuracy, gradient_penalty


@dataclass(frozen=True)
class Pix2Pix:
    """pix2pix's networks."""

    g: nn.Module  # (N, C, H, W) input -> (N, C, H, W) output, both in [-1, 1]
    d: nn.Module  # (N, 2C, H, W) concat(input, image) -> (N, 1, h, w) patch logits

    kind: ClassVar[Kind] = "pix2pix"
    generator_roles: ClassVar[tuple[str, ...]] = ("g",)  # the model file's names for them
    discriminator_roles: ClassVar[tuple[str, ...]] = ("d",)
    paper: ClassVar[PaperDefaults] = PaperDefaults(generator="unet_256", norm="batch", dropout=True, gan_mode="vanilla",
                                                   d_norm="batch", d_in_channels=6)

    @classmethod
    def from_nets(cls, nets: Mapping[str, nn.Module]) -> Pix2Pix:
        """From a model file's role-keyed networks (`Model.nets`)."""
        return cls(g=nets["g"], d=nets["d"])

    def to_nets(self) -> dict[str, nn.Module]:
        """The model file's role-keyed networks."""
        return {"g": self.g, "d": self.d}

    def generators(self) -> dict[str, nn.Module]:
        return {"g": self.g}

    def discriminators(self) -> dict[str, nn.Module]:
        return {"d": self.d}

    def map(self, fn: Callable[[nn.Module], nn.Module]) -> Pix2Pix:
        """The same networks passed through `fn` (e.g. `torch.compile`)."""
        return Pix2Pix(g=fn(self.g), d=fn(self.d))


@dataclass(frozen=True)
class Pix2PixLosses:
    """One pix2pix step's losses; the G terms are None in a D-only (warm-up) step."""

    d: float  # D's adversarial loss (+ gradient penalty under wgangp)
    g_gan: float | None = None  # G's adversarial loss
    g_l1: float | None = None  # λ·L1(G(input), target)

    def named(self) -> dict[str, float]:
        """The losses under the training log's names."""
        named = {"D": self.d, "G_GAN": self.g_gan, "G_L1": self.g_l1}
        return {k: v for k, v in named.items() if v is not None}


def pix2pix_step(
    nets: Pix2Pix, real_a: Tensor, real_b: Tensor, tools: StepTools, *, lambda_l1: float, train_g: bool = True
) -> StepResult[Pix2PixLosses]:
    """One step on a batch of pairs, input `real_a` and target `real_b` (N, C, H, W), already in
    the model's direction: `tools.d_steps` updates of D, then (when `train_g`) one of G.

    D and G see the same fakes, computed once; D learns to tell (input, target) from
    (input, G(input)), then G learns, with D frozen, to fool it and to match the target.
    """
    g, d = nets.g, nets.d
    with tools.autocast():
        with torch.set_grad_enabled(train_g):
            fake_b = g(real_a)
    set_requires_grad([d], True)
    for _ in range(tools.d_steps):
        with tools.autocast():
            cond_r, img_r = tools.augment([real_a, real_b])
            cond_f, img_f = tools.augment([real_a, fake_b.detach()])
            pred_real = d(torch.cat([cond_r, img_r], 1))
            pred_fake = d(torch.cat([cond_f, img_f], 1))
            loss_d = tools.gan.d_loss(pred_real.float(), pred_fake.float())
            if tools.gan.mode == "wgangp":
                loss_d = loss_d + gradient_penalty(d, torch.cat([cond_r, img_r], 1), torch.cat([cond_f, img_f], 1).detach())
        require_finite(D=loss_d)
        tools.update_d(loss_d)
    acc_real, acc_fake = d_accuracy(pred_real.detach().float(), pred_fake.detach().float(), tools.gan.mode)
    losses = Pix2PixLosses(d=as_float(loss_d))
    if train_g:
        set_requires_grad([d], False)
        with tools.autocast():
            cond_f, img_f = tools.augment([real_a, fake_b])
            g_gan = tools.gan.g_loss(d(torch.cat([cond_f, img_f], 1)).float())
            g_l1 = F.l1_loss(fake_b.float(), real_b) * lambda_l1
            loss_g = g_gan + g_l1
        require_finite(G_GAN=g_gan, G_L1=g_l1)
        tools.update_g(loss_g)
        set_requires_grad([d], True)
        losses = Pix2PixLosses(d=losses.d, g_gan=as_float(g_gan), g_l1=as_float(g_l1))
    return StepResult(losses, acc_real, acc_fake, pred_real.detach().float())
