"""U-Net generator (pix2pix), module for module as the reference so its state dicts load.

The net is built from the innermost block outwards; each block is
`[down] + [inner block] + [up]` and concatenates its input to its output (the skip), except the
outermost one.
"""
from __future__ import annotations

import torch
from torch import nn

from translator.networks.layers import InputSkip, conv_bias, norm_factory
from translator.networks.specs import GeneratorSpec


class UnetSkipBlock(nn.Module):
    """One U-Net level: down conv, the inner levels, up conv; output = cat(input, result)."""

    def __init__(
        self,
        outer: int,
        inner: int,
        *,
        in_channels: int | None = None,
        submodule: nn.Module | None = None,
        outermost: bool = False,
        innermost: bool = False,
        spec: GeneratorSpec,
        dropout: bool = False,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        norm = norm_factory(spec.norm)
        bias = conv_bias(spec.norm)
        in_channels = outer if in_channels is None else in_channels
        downconv = nn.Conv2d(in_channels, inner, kernel_size=4, stride=2, padding=1, bias=bias)
        layers: list[nn.Module]
        if outermost:
            assert submodule is not None
            upconv = nn.ConvTranspose2d(inner * 2, outer, kernel_size=4, stride=2, padding=1)
            # with an input skip the generator applies the tanh itself, after adding the input
            layers = [downconv, submodule, nn.ReLU(True), upconv] + ([] if spec.input_skip else [nn.Tanh()])
        elif innermost:
            upconv = nn.ConvTranspose2d(inner, outer, kernel_size=4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), downconv, nn.ReLU(True), upconv, norm(outer)]
        else:
            assert submodule is not None
            upconv = nn.ConvTranspose2d(inner * 2, outer, kernel_size=4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), downconv, norm(inner), submodule, nn.ReLU(True), upconv, norm(outer)]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)  # type: ignore[no-any-return]
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """(N, in, H, W) in [-1, 1] -> (N, out, H, W) in [-1, 1]; H, W multiples of 2**num_downs."""

    def __init__(self, spec: GeneratorSpec) -> None:
        super().__init__()
        if spec.num_downs < 5:
            raise ValueError(f"{spec.arch}: the reference U-Net needs at least 5 downsamplings (unet_32)")
        ngf = spec.base_filters
        block = UnetSkipBlock(ngf * 8, ngf * 8, innermost=True, spec=spec)
        for _ in range(spec.num_downs - 5):
            block = UnetSkipBlock(ngf * 8, ngf * 8, submodule=block, spec=spec, dropout=spec.dropout)
        block = UnetSkipBlock(ngf * 4, ngf * 8, submodule=block, spec=spec)
        block = UnetSkipBlock(ngf * 2, ngf * 4, submodule=block, spec=spec)
        block = UnetSkipBlock(ngf, ngf * 2, submodule=block, spec=spec)
        self.model = UnetSkipBlock(
            spec.out_channels, ngf, in_channels=spec.in_channels, submodule=block, outermost=True, spec=spec
        )
        self.skip = InputSkip(spec.in_channels, spec.out_channels) if spec.input_skip else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = self.model(x)
        return u if self.skip is None else self.skip(u, x)  # type: ignore[no-any-return]
