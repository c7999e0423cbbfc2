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


class InputSkip(nn.Module):
    """The generator's last step when `GeneratorSpec.input_skip` is on: tanh(u + M x).

    `u` is what the reference network computes before its final tanh, `x` the input image and `M`
    an (out, in) channel mix that starts as the identity (a grey input feeds every output channel,
    a grey output averages the input's; other counts pair channels by index). The output
    therefore starts as the input itself, passed through the same tanh, and the network learns a
    correction to it: where output and input share their structure (colouring, grading,
    retouching), fine detail no longer has to survive eight downsamplings and back. `M` is a
    plain parameter, so `init_weights` leaves it alone.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        # On the CPU even inside a `torch.device("meta")` block (`build_generator(empty=True)`): a
        # meta `eye` runs torch's Python reference, which imports its compiler stack (over a second).
        if in_channels == 1 or out_channels == 1:
            start = torch.full((out_channels, in_channels), 1.0 / in_channels, device="cpu")
        else:
            start = torch.eye(out_channels, in_channels, device="cpu")
        self.weight = nn.Parameter(start)

    def forward(self, u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        mix = torch.nn.functional.conv2d(x, self.weight.to(x.dtype)[:, :, None, None])
        return torch.tanh(u + mix)


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
