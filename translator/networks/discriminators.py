"""PatchGAN (70×70 for n_layers=3) and PixelGAN discriminators. They output raw logits: the
loss (or the verdict) applies the sigmoid."""
from __future__ import annotations

import torch
from torch import nn

from translator.networks.layers import conv_bias, norm_factory
from translator.networks.specs import DiscriminatorSpec


class PatchDiscriminator(nn.Module):
    """(N, in, H, W) -> (N, 1, h, w) logits, one per overlapping patch."""

    def __init__(self, spec: DiscriminatorSpec) -> None:
        super().__init__()
        ndf = spec.base_filters
        norm = norm_factory(spec.norm)
        bias = conv_bias(spec.norm)
        layers: list[nn.Module] = [
            nn.Conv2d(spec.in_channels, ndf, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2, True),
        ]
        mult = 1
        for n in range(1, spec.n_layers):
            prev, mult = mult, min(2**n, 8)
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, kernel_size=4, stride=2, padding=1, bias=bias),
                norm(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        prev, mult = mult, min(2**spec.n_layers, 8)
        layers += [
            nn.Conv2d(ndf * prev, ndf * mult, kernel_size=4, stride=1, padding=1, bias=bias),
            norm(ndf * mult),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * mult, 1, kernel_size=4, stride=1, padding=1),
        ]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)  # type: ignore[no-any-return]


class PixelDiscriminator(nn.Module):
    """(N, in, H, W) -> (N, 1, H, W) logits: 1×1 convs, one verdict per pixel."""

    def __init__(self, spec: DiscriminatorSpec) -> None:
        super().__init__()
        ndf = spec.base_filters
        norm = norm_factory(spec.norm)
        bias = conv_bias(spec.norm)
        self.net = nn.Sequential(
            nn.Conv2d(spec.in_channels, ndf, kernel_size=1),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, kernel_size=1, bias=bias),
            norm(ndf * 2),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, kernel_size=1, bias=bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # type: ignore[no-any-return]
