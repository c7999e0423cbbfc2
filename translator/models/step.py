"""What every training step shares: the tools the loop lends it, the result it returns, and the
check that stops a diverging run before an optimiser step uses a NaN."""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from torch import Tensor, nn

from translator.choices import GanMode, Norm
from translator.errors import TranslatorError
from translator.training_parts import GanLoss


class TrainingDiverged(TranslatorError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass(frozen=True)
class PaperDefaults:
    """A kind's architecture and objective when training from scratch, as in its paper."""

    generator: str
    norm: Norm
    dropout: bool
    gan_mode: GanMode
    d_norm: Norm
    d_in_channels: int  # what D sees: pix2pix concat(input, image), CycleGAN one image


@dataclass(frozen=True)
class StepTools:
    """What the training loop lends a step.

    `augment` gives D's inputs the same random transform each (ADA), or returns them as they
    are; `update_d` / `update_g` zero that side's gradients, backpropagate the loss, average the
    gradients over ranks and step the optimiser (with loss scaling under fp16).
    """

    gan: GanLoss
    autocast: Callable[[], AbstractContextManager[object]]
    augment: Callable[[Sequence[Tensor]], list[Tensor]]
    update_d: Callable[[Tensor], None]
    update_g: Callable[[Tensor], None]
    d_steps: int = 1  # D updates per step, on the same batch

    def __post_init__(self) -> None:
        if self.d_steps < 1:
            raise ValueError(f"d_steps must be at least 1, not {self.d_steps}")


class Losses(Protocol):
    """A step's losses, each under the name the training log uses."""

    def named(self) -> dict[str, float]: ...


LossesT = TypeVar("LossesT", bound=Losses, covariant=True)


@dataclass(frozen=True)
class StepResult(Generic[LossesT]):
    """What one step measured. Losses are those of the last D update and of the G update (absent
    in a D-only warm-up step); the accuracies are D's on the last update's patches."""

    losses: LossesT
    d_acc_real: float  # fraction of real patches D judged real
    d_acc_fake: float  # fraction of fake patches D judged fake
    real_logits: Tensor  # D's logits on the real images (detached, float32): what r_t reads


def require_finite(**losses: Tensor) -> None:
    """Raise `TrainingDiverged` naming the losses that are NaN or infinite, so no optimiser step
    ever takes them."""
    values = {name: float(t.detach().float().item()) for name, t in losses.items()}
    bad = [name for name, v in values.items() if not math.isfinite(v)]
    if bad:
        raise TrainingDiverged(
            f"the loss {', '.join(bad)} became {values[bad[0]]} — training diverged. The last good checkpoint "
            "is kept; lower the learning rate (--lr) or use --precision fp32, and resume"
        )


def set_requires_grad(nets: Iterable[nn.Module], flag: bool) -> None:
    """Freeze (False) or unfreeze every parameter of `nets`: D is frozen while G learns from it."""
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


def as_float(loss: Tensor) -> float:
    """A loss as a plain number."""
    return float(loss.detach().float().item())
