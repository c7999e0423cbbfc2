"""Norm layers and weight initialisation as the reference implementation has them."""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from translator.networks.specs import Norm

NormFactory = Callable[[int], nn.Module]


def norm_factory(norm: Norm, *, affine_instance: bool = False) -> NormFactory:
    """A constructor for the norm layer of one channel count.

    batch: BatchNorm2d(affine, running stats); instance: InstanceNorm2d without affine and
    without running stats (the reference's default); none: Identity (keeps its index in
    Sequential containers, so state-dict keys match the reference).
    """
    if norm == "batch":
        return lambda c: nn.BatchNorm2d(c, affine=True, track_running_stats=True)
    if norm == "instance":
        return lambda c: nn.InstanceNorm2d(c, affine=affine_instance, track_running_stats=False)
    if norm == "none":
        return lambda c: nn.Identity()
    raise ValueError(f"unknown norm {norm!r}: use batch, instance or none")


def conv_bias(norm: Norm) -> bool:
    """The reference puts a bias on convs followed by a norm only for InstanceNorm (and, quirk
    included, not for `none`)."""
    return norm == "instance"


def init_weights(net: nn.Module, gain: float = 0.02, generator: torch.Generator | None = None) -> nn.Module:
    """The reference's `normal` init: conv/linear weights ~ N(0, gain), biases 0,
    BatchNorm weights ~ N(1, gain), biases 0."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                m.weight.normal_(0.0, gain, generator=generator)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.normal_(1.0, gain, generator=generator)
                m.bias.zero_()
    return net
