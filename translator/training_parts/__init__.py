"""Building blocks of the fine-tuning loop: GAN losses, CycleGAN's image pool, the EMA of the
generator's weights, ADA's overfitting gauge and adaptive augmentation, the learning-rate policy,
KID validation on a held-out folder and the best-KID record.

Each stateful part has `state_dict()` / `load_state_dict()` holding tensors and plain numbers
only, so a resumed run repeats an uninterrupted one step for step (CPU, fixed seeds) and the
checkpoint loads with `torch.load(weights_only=True)`.
"""
from __future__ import annotations

from translator.training_parts.ada import AdaptiveAugment, RealnessTracker
from translator.training_parts.ema import Ema
from translator.training_parts.kid import BestKid, KidSide, KidValidator
from translator.training_parts.losses import GAN_MODES, GanLoss, GanMode, d_accuracy, gradient_penalty
from translator.training_parts.pool import ImagePool
from translator.training_parts.schedule import linear_decay_lambda

__all__ = [
    "GAN_MODES",
    "AdaptiveAugment",
    "BestKid",
    "Ema",
    "GanLoss",
    "GanMode",
    "ImagePool",
    "KidSide",
    "KidValidator",
    "RealnessTracker",
    "d_accuracy",
    "gradient_penalty",
    "linear_decay_lambda",
]
