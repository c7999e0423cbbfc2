"""GAN objectives, the WGAN-GP gradient penalty and the discriminator's hit rate.

What: `GanLoss(mode)` gives the discriminator's and the generator's adversarial loss for the four
objectives the issue names; `gradient_penalty` is the reference's `cal_gradient_penalty` (type
"mixed", constant 1.0); `d_accuracy` says how many patches the discriminator judged right.

Why one class with two methods instead of the reference's `GANLoss(prediction, target_is_real)`:
the two sides of the game have different formulas (hinge's D loss is not its G loss with flipped
targets), and naming them `d_loss` / `g_loss` keeps the step functions readable.

Scales, on purpose:
- vanilla and lsgan halve D's loss, as the reference's `backward_D` does
  (`(loss_D_fake + loss_D_real) * 0.5`), so learning rates tuned for the reference carry over.
- wgangp and hinge are *not* halved: they follow their papers (Gulrajani et al. 2017, with the
  penalty weight 10 chosen for the unhalved critic loss; Lim & Ye 2017 / SAGAN). The reference
  halves its `wgangp` D loss too but never adds the gradient penalty in its models.
All discriminator outputs are raw logits (the networks have no final sigmoid).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from translator.choices import GAN_MODES as GAN_MODES
from translator.choices import GanMode as GanMode


def check_gan_mode(mode: str) -> GanMode:
    """`mode` itself if it names a GAN objective; otherwise a ValueError listing the choices."""
    if mode not in GAN_MODES:
        raise ValueError(f"unknown GAN mode {mode!r}: choose one of {', '.join(GAN_MODES)}")
    return mode


def decision_threshold(mode: GanMode) -> float:
    """The logit above which a discriminator says "real": 0.5 for lsgan (trained towards 1/0),
    0 for the others (vanilla's sigmoid(0) = 0.5; hinge's and wgangp's sign)."""
    return 0.5 if mode == "lsgan" else 0.0


class GanLoss:
    """The adversarial loss of one objective; every result is a mean over all patches."""

    def __init__(self, mode: GanMode) -> None:
        self.mode: GanMode = check_gan_mode(mode)

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """The discriminator's loss: low when reals score high and fakes low.

        vanilla: 0.5·(BCE(real, 1) + BCE(fake, 0)); lsgan: 0.5·(MSE(real, 1) + MSE(fake, 0));
        wgangp: mean(fake) − mean(real) (add `gradient_penalty` yourself);
        hinge: mean(relu(1 − real)) + mean(relu(1 + fake)).
        """
        if self.mode == "vanilla":
            real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
            return 0.5 * (real + fake)
        if self.mode == "lsgan":
            real = F.mse_loss(real_logits, torch.ones_like(real_logits))
            fake = F.mse_loss(fake_logits, torch.zeros_like(fake_logits))
            return 0.5 * (real + fake)
        if self.mode == "wgangp":
            return fake_logits.mean() - real_logits.mean()
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()

    def g_loss(self, fake_logits: Tensor) -> Tensor:
        """The generator's adversarial loss: low when its fakes score as real.

        vanilla: BCE(fake, 1) (the non-saturating loss); lsgan: MSE(fake, 1);
        wgangp and hinge: −mean(fake).
        """
        if self.mode == "vanilla":
            return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
        if self.mode == "lsgan":
            return F.mse_loss(fake_logits, torch.ones_like(fake_logits))
        return -fake_logits.mean()


def gradient_penalty(
    d: nn.Module,
    real: Tensor,
    fake: Tensor,
    *,
    weight: float = 10.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP: weight · mean over samples of (‖∇ₓ D(x)‖₂ − 1)² at x = α·real + (1 − α)·fake.

    α ~ U(0, 1), one per sample, drawn from `generator` (on its own device, then moved to the
    images'), so the penalty is reproducible. `real` and `fake` are (N, ...) inputs of `d` as it
    sees them (for pix2pix: concat(condition, image)); both are detached here: the penalty trains
    D only. The gradient is that of the sum of all of D's outputs (every patch logit), and the
    result keeps its graph (`create_graph=True`) so it backpropagates into D's parameters.
    As in the reference, 1e-16 is added to the gradient before the norm so it is never taken at 0.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    n = real.shape[0]
    alpha_shape = (n,) + (1,) * (real.dim() - 1)  # one α per sample, broadcast over (C, H, W)
    gen_device = generator.device if generator is not None else real.device
    alpha = torch.rand(alpha_shape, generator=generator, device=gen_device, dtype=real.dtype).to(real.device)
    mixed = (alpha * real.detach() + (1.0 - alpha) * fake.detach()).requires_grad_(True)
    out: Tensor = d(mixed)
    (grad,) = torch.autograd.grad(
        outputs=out, inputs=mixed, grad_outputs=torch.ones_like(out), create_graph=True, retain_graph=True
    )
    norms: Tensor = (grad.reshape(n, -1) + 1e-16).norm(2, dim=1)
    penalty: Tensor = (norms - 1.0).square().mean()
    return weight * penalty


@torch.no_grad()
def d_accuracy(real_logits: Tensor, fake_logits: Tensor, mode: GanMode) -> tuple[float, float]:
    """(fraction of real patches judged real, fraction of fake patches judged fake).

    A patch is judged real when its logit is above `decision_threshold(mode)` (0.5 for lsgan,
    0 otherwise), fake otherwise. For wgangp the critic's scores have no fixed origin, so the
    numbers are only a rough gauge there.
    """
    t = decision_threshold(check_gan_mode(mode))
    real_right = (real_logits > t).float().mean().item()
    fake_right = (fake_logits <= t).float().mean().item()
    return real_right, fake_right
