"""CycleGAN (Zhu et al. 2017): two generators between unpaired domains A and B, each judged by
a discriminator of its output domain.

`g_ab` maps A to B and `d_b` judges domain B (real B against `g_ab`'s fakes); `g_ba` maps B to
A and `d_a` judges domain A. The generators learn to fool their judge, to undo each other
(cycle loss, λ_cycle = 10) and, with λ_identity > 0, to leave an image of their output domain
unchanged (identity loss, weighted λ_cycle·λ_identity). D learns from a pool of earlier fakes.
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
from translator.training_parts import ImagePool, d_accuracy, gradient_penalty


@dataclass(frozen=True)
class CycleGan:
    """CycleGAN's networks, named by direction. Images are (N, C, H, W) in [-1, 1]."""

    g_ab: nn.Module  # A -> B
    g_ba: nn.Module  # B -> A
    d_a: nn.Module  # judges domain A: real A against g_ba's fakes; (N, C, H, W) -> patch logits
    d_b: nn.Module  # judges domain B: real B against g_ab's fakes

    kind: ClassVar[Kind] = "cyclegan"
    generator_roles: ClassVar[tuple[str, ...]] = ("g_ab", "g_ba")  # the model file's names for them
    discriminator_roles: ClassVar[tuple[str, ...]] = ("d_a", "d_b")
    paper: ClassVar[PaperDefaults] = PaperDefaults(generator="resnet_9blocks", norm="instance", dropout=False,
                                                   gan_mode="lsgan", d_norm="instance", d_in_channels=3)

    @classmethod
    def from_nets(cls, nets: Mapping[str, nn.Module]) -> CycleGan:
        """From a model file's role-keyed networks (`Model.nets`)."""
        return cls(g_ab=nets["g_ab"], g_ba=nets["g_ba"], d_a=nets["d_a"], d_b=nets["d_b"])

    def to_nets(self) -> dict[str, nn.Module]:
        """The model file's role-keyed networks."""
        return {**self.generators(), **self.discriminators()}

    def generators(self) -> dict[str, nn.Module]:
        return {"g_ab": self.g_ab, "g_ba": self.g_ba}

    def discriminators(self) -> dict[str, nn.Module]:
        return {"d_a": self.d_a, "d_b": self.d_b}

    def map(self, fn: Callable[[nn.Module], nn.Module]) -> CycleGan:
        """The same networks passed through `fn` (e.g. `torch.compile`)."""
        return CycleGan(g_ab=fn(self.g_ab), g_ba=fn(self.g_ba), d_a=fn(self.d_a), d_b=fn(self.d_b))


@dataclass(frozen=True)
class GeneratorLosses:
    """The generators' losses of one CycleGAN step."""

    gan_ab: float  # g_ab's adversarial loss, judged by d_b
    gan_ba: float  # g_ba's, judged by d_a
    cycle_a: float  # λ_cycle·L1(g_ba(g_ab(A)), A)
    cycle_b: float  # λ_cycle·L1(g_ab(g_ba(B)), B)
    identity_a: float | None = None  # λ_cycle·λ_identity·L1(g_ba(A), A); None when λ_identity is 0
    identity_b: float | None = None  # λ_cycle·λ_identity·L1(g_ab(B), B)


@dataclass(frozen=True)
class CycleGanLosses:
    """One CycleGAN step's losses; `g` is None in a D-only (warm-up) step."""

    d_a: float  # d_a's adversarial loss (+ gradient penalty under wgangp)
    d_b: float
    g: GeneratorLosses | None = None

    def named(self) -> dict[str, float]:
        """The losses under the training log's names (the reference's, A/B as here)."""
        g = self.g
        named = {} if g is None else {"idt_A": g.identity_a, "idt_B": g.identity_b, "G_AB": g.gan_ab, "G_BA": g.gan_ba,
                                      "cycle_A": g.cycle_a, "cycle_B": g.cycle_b}
        return {k: v for k, v in {**named, "D_B": self.d_b, "D_A": self.d_a}.items() if v is not None}


def cyclegan_step(
    nets: CycleGan,
    real_a: Tensor,
    real_b: Tensor,
    tools: StepTools,
    *,
    pool_a: ImagePool,
    pool_b: ImagePool,
    lambda_cycle: float,
    lambda_identity: float,
    train_g: bool = True,
) -> StepResult[CycleGanLosses]:
    """One step on a batch of A images and a batch of B images: (when `train_g`) one update of
    both generators with both discriminators frozen, then `tools.d_steps` updates of both
    discriminators on real images against pooled fakes (`pool_a` holds g_ba's, `pool_b` g_ab's).
    """
    g_ab, g_ba, d_a, d_b = nets.g_ab, nets.g_ba, nets.d_a, nets.d_b
    with torch.set_grad_enabled(train_g), tools.autocast():
        fake_b = g_ab(real_a)
        fake_a = g_ba(real_b)
    g_losses = None
    if train_g:
        g_losses = _update_generators(nets, real_a, real_b, fake_a, fake_b, tools, lambda_cycle, lambda_identity)
    pooled_b = pool_b.query(fake_b.detach().float())
    pooled_a = pool_a.query(fake_a.detach().float())
    for _ in range(tools.d_steps):
        with tools.autocast():
            pred_real_b, pred_fake_b = d_b(tools.augment([real_b])[0]), d_b(tools.augment([pooled_b])[0])
            pred_real_a, pred_fake_a = d_a(tools.augment([real_a])[0]), d_a(tools.augment([pooled_a])[0])
            loss_d_b = tools.gan.d_loss(pred_real_b.float(), pred_fake_b.float())
            loss_d_a = tools.gan.d_loss(pred_real_a.float(), pred_fake_a.float())
            if tools.gan.mode == "wgangp":
                loss_d_b = loss_d_b + gradient_penalty(d_b, real_b, pooled_b)
                loss_d_a = loss_d_a + gradient_penalty(d_a, real_a, pooled_a)
        require_finite(D_B=loss_d_b, D_A=loss_d_a)
        tools.update_d(loss_d_a + loss_d_b)
    real_logits = torch.cat([pred_real_a.detach().flatten(), pred_real_b.detach().flatten()]).float()
    fake_logits = torch.cat([pred_fake_a.detach().flatten(), pred_fake_b.detach().flatten()]).float()
    acc_real, acc_fake = d_accuracy(real_logits, fake_logits, tools.gan.mode)
    return StepResult(CycleGanLosses(as_float(loss_d_a), as_float(loss_d_b), g_losses), acc_real, acc_fake, real_logits)


def _update_generators(
    nets: CycleGan, real_a: Tensor, real_b: Tensor, fake_a: Tensor, fake_b: Tensor, tools: StepTools,
    lambda_cycle: float, lambda_identity: float,
) -> GeneratorLosses:
    """One update of both generators (discriminators frozen) from this step's fakes."""
    g_ab, g_ba, d_a, d_b = nets.g_ab, nets.g_ba, nets.d_a, nets.d_b
    set_requires_grad([d_a, d_b], False)
    identity: tuple[Tensor, Tensor] | None = None
    with tools.autocast():
        rec_a, rec_b = g_ba(fake_b), g_ab(fake_a)
        if lambda_identity > 0:
            identity = (F.l1_loss(g_ba(real_a).float(), real_a) * lambda_cycle * lambda_identity,
                        F.l1_loss(g_ab(real_b).float(), real_b) * lambda_cycle * lambda_identity)
        gan_ab = tools.gan.g_loss(d_b(tools.augment([fake_b])[0]).float())
        gan_ba = tools.gan.g_loss(d_a(tools.augment([fake_a])[0]).float())
        cycle_a = F.l1_loss(rec_a.float(), real_a) * lambda_cycle
        cycle_b = F.l1_loss(rec_b.float(), real_b) * lambda_cycle
        loss = sum([*(identity or ()), gan_ab, gan_ba, cycle_a, cycle_b], torch.zeros((), device=real_a.device))
    require_finite(**({"idt_A": identity[0], "idt_B": identity[1]} if identity else {}),
                   G_AB=gan_ab, G_BA=gan_ba, cycle_A=cycle_a, cycle_B=cycle_b)
    tools.update_g(loss)
    set_requires_grad([d_a, d_b], True)
    return GeneratorLosses(
        as_float(gan_ab), as_float(gan_ba), as_float(cycle_a), as_float(cycle_b),
        identity_a=as_float(identity[0]) if identity else None, identity_b=as_float(identity[1]) if identity else None,
    )
