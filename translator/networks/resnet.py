"""ResNet generator (CycleGAN): 7×7 stem, two stride-2 downsamplings, residual blocks, two
transposed-conv upsamplings, 7×7 head; reflection padding throughout, as the reference."""
from __future__ import annotations

import torch
from torch import nn

from translator.networks.layers import InputSkip, conv_bias, norm_factory
from translator.networks.specs import GeneratorSpec


class ResnetBlock(nn.Module):
    """x + [pad, conv3, norm, relu, (dropout), pad, conv3, norm](x)."""

    def __init__(self, dim: int, spec: GeneratorSpec) -> None:
        super().__init__()
        norm = norm_factory(spec.norm, affine_instance=spec.norm_affine)
        bias = conv_bias(spec.norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, bias=bias), norm(dim), nn.ReLU(True),
        ]
        if spec.dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, bias=bias), norm(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)  # type: ignore[no-any-return]


class ResnetGenerator(nn.Module):
    """(N, in, H, W) in [-1, 1] -> (N, out, H, W) in [-1, 1]; H, W multiples of 4."""

    def __init__(self, spec: GeneratorSpec) -> None:
        super().__init__()
        ngf = spec.base_filters
        norm = norm_factory(spec.norm, affine_instance=spec.norm_affine)
        bias = conv_bias(spec.norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3), nn.Conv2d(spec.in_channels, ngf, kernel_size=7, bias=bias), norm(ngf), nn.ReLU(True),
        ]
        for i in range(2):  # downsampling
            c = ngf * 2**i
            layers += [nn.Conv2d(c, c * 2, kernel_size=3, stride=2, padding=1, bias=bias), norm(c * 2), nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 4, spec) for _ in range(spec.n_blocks)]
        for i in range(2):  # upsampling
            c = ngf * 2 ** (2 - i)
            layers += [
                nn.ConvTranspose2d(c, c // 2, kernel_size=3, stride=2, padding=1, output_padding=1, bias=bias),
                norm(c // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, spec.out_channels, kernel_size=7)]
        if not spec.input_skip:  # with an input skip the tanh comes after adding the input
            layers.append(nn.Tanh())
        self.model = nn.Sequential(*layers)
        self.skip = InputSkip(spec.in_channels, spec.out_channels) if spec.input_skip else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = self.model(x)
        return u if self.skip is None else self.skip(u, x)  # type: ignore[no-any-return]
