"""Generators and discriminators with the reference implementation's exact layouts.

`build_generator(spec)` / `build_discriminator(spec)` are the one way to make a network.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from translator.networks.discriminators import PatchDiscriminator, PixelDiscriminator
from translator.networks.layers import init_weights
from translator.networks.resnet import ResnetGenerator
from translator.networks.specs import DiscriminatorSpec, GeneratorSpec
from translator.networks.unet import UnetGenerator

__all__ = [
    "DiscriminatorSpec",
    "GeneratorSpec",
    "PatchDiscriminator",
    "PixelDiscriminator",
    "ResnetGenerator",
    "UnetGenerator",
    "build_discriminator",
    "build_generator",
    "init_weights",
]

_GENERATORS: dict[str, Callable[[GeneratorSpec], nn.Module]] = {"unet": UnetGenerator, "resnet": ResnetGenerator}
_DISCRIMINATORS: dict[str, Callable[[DiscriminatorSpec], nn.Module]] = {
    "patch": PatchDiscriminator,
    "pixel": PixelDiscriminator,
}


def build_generator(spec: GeneratorSpec, *, seed: int | None = None, empty: bool = False) -> nn.Module:
    """A freshly initialised generator (N(0, 0.02) weights, as the reference); `empty`: its
    layers only, on the meta device, for weights that follow (`load_state_dict(assign=True)`):
    no memory, no random numbers (initialising unet_256 alone took seconds)."""
    if empty:
        with torch.device("meta"):
            return _GENERATORS[spec.family](spec)
    net = _GENERATORS[spec.family](spec)
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    return init_weights(net, generator=gen)


def build_discriminator(spec: DiscriminatorSpec, *, seed: int | None = None, empty: bool = False) -> nn.Module:
    """A freshly initialised discriminator; `empty` as for `build_generator`."""
    try:
        cls = _DISCRIMINATORS[spec.arch]
    except KeyError:
        raise ValueError(f"unknown discriminator {spec.arch!r}: choose one of {sorted(_DISCRIMINATORS)}") from None
    if empty:
        with torch.device("meta"):
            return cls(spec)
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    return init_weights(cls(spec), generator=gen)
