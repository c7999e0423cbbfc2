"""What a pix2pix or CycleGAN model is: its networks, by name, and its training step.

`Pix2Pix` and `CycleGan` hold a kind's networks as typed fields (CycleGAN's `d_a` judges domain
A, `d_b` domain B) and convert to and from the model file's role-keyed `Model.nets` at the
boundary. `pix2pix_step` and `cyclegan_step` run one training step with what the loop lends
them (`StepTools`: objective, precision, D's augmentation, the optimisers) and return a typed
`StepResult`. The loop itself (optimisers, schedules, EMA, checkpoints, events) is
`translator.training`.
"""
from __future__ import annotations

from translator.choices import Kind
from translator.models.cyclegan import CycleGan, CycleGanLosses, GeneratorLosses, cyclegan_step
from translator.models.pix2pix import Pix2Pix, Pix2PixLosses, pix2pix_step
from translator.models.step import Losses, PaperDefaults, StepResult, StepTools, TrainingDiverged, require_finite

Nets = Pix2Pix | CycleGan
"""The networks of either kind."""


def model_type(kind: Kind) -> type[Pix2Pix] | type[CycleGan]:
    """The networks class of a model kind."""
    if kind == "pix2pix":
        return Pix2Pix
    if kind == "cyclegan":
        return CycleGan
    raise ValueError(f"unknown model kind {kind!r}: choose pix2pix or cyclegan")


__all__ = [
    "CycleGan",
    "CycleGanLosses",
    "GeneratorLosses",
    "Losses",
    "Nets",
    "PaperDefaults",
    "Pix2Pix",
    "Pix2PixLosses",
    "StepResult",
    "StepTools",
    "TrainingDiverged",
    "cyclegan_step",
    "model_type",
    "pix2pix_step",
    "require_finite",
]
