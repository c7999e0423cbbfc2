"""Typed descriptions of networks: enough to build one, nothing guessed at load time."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

from translator.choices import GAN_MODES, GanMode, check_choice
from translator.choices import NORMS as NORMS, Norm as Norm  # re-exported: the networks import them from here

_UNET = re.compile(r"unet_(\d+)$")
_RESNET = re.compile(r"resnet_(\d+)blocks$")


@dataclass(frozen=True)
class GeneratorSpec:
    """A generator: `unet_<size>` (log2(size) downsamplings) or `resnet_<n>blocks`.

    `unet_256` has 8 downsamplings and needs sides divisible by 256; `resnet_*` needs sides
    divisible by 4.
    """

    arch: str = "unet_256"
    base_filters: int = 64  # "ngf" in the reference
    norm: Norm = "batch"
    dropout: bool = True
    in_channels: int = 3
    out_channels: int = 3
    # ResNet blocks from some re-implementations carry affine InstanceNorm weights.
    norm_affine: bool = False
    # The tool's own addition (not in the reference): output = tanh(u + M·input), see
    # `layers.InputSkip`. Off for every reference layout.
    input_skip: bool = False

    def __post_init__(self) -> None:
        check_choice("norm", self.norm, NORMS)
        if self.base_filters < 1 or self.in_channels < 1 or self.out_channels < 1:
            raise ValueError("base_filters and channel counts must be positive")
        if m := _UNET.match(self.arch):
            size = int(m.group(1))
            if size < 32 or size & (size - 1):
                raise ValueError(f"{self.arch}: a U-Net size must be a power of two >= 32 (e.g. unet_256)")
        elif m := _RESNET.match(self.arch):
            if int(m.group(1)) < 1:
                raise ValueError(f"{self.arch}: a ResNet needs at least one block")
        else:
            raise ValueError(f"unknown generator architecture {self.arch!r}: use unet_<N> (unet_256, unet_128) or resnet_<N>blocks (resnet_9blocks, resnet_6blocks)")

    @property
    def family(self) -> Literal["unet", "resnet"]:
        return "unet" if self.arch.startswith("unet") else "resnet"

    @property
    def num_downs(self) -> int:
        """U-Net downsamplings (8 for unet_256)."""
        m = _UNET.match(self.arch)
        assert m, self.arch
        return int(m.group(1)).bit_length() - 1

    @property
    def n_blocks(self) -> int:
        m = _RESNET.match(self.arch)
        assert m, self.arch
        return int(m.group(1))

    @property
    def multiple(self) -> int:
        """Image sides must be a multiple of this."""
        return 2**self.num_downs if self.family == "unet" else 4

    @property
    def min_side(self) -> int:
        """The smallest side (a multiple of `multiple`) the net takes. A ResNet's blocks reflect-pad
        its quarter-size feature maps by 1, which needs 2 pixels there: 8 in the image."""
        return self.multiple if self.family == "unet" else 2 * self.multiple

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GeneratorSpec:
        return cls(**d)


@dataclass(frozen=True)
class DiscriminatorSpec:
    """A discriminator: PatchGAN with `n_layers` strided convs (`basic` = 3) or PixelGAN (1×1)."""

    arch: Literal["patch", "pixel"] = "patch"
    n_layers: int = 3
    base_filters: int = 64  # "ndf"
    norm: Norm = "batch"
    in_channels: int = 6  # pix2pix: concat(condition, image)
    gan_mode: GanMode = "vanilla"

    def __post_init__(self) -> None:
        if self.arch not in ("patch", "pixel"):
            raise ValueError(f"unknown discriminator {self.arch!r}: use patch or pixel")
        check_choice("norm", self.norm, NORMS)
        if self.n_layers < 1 and self.arch == "patch":
            raise ValueError("a PatchGAN needs n_layers >= 1")
        check_choice("gan_mode", self.gan_mode, GAN_MODES)

    @property
    def min_side(self) -> int:
        """The smallest image side this net gives a verdict on: a PatchGAN halves the side
        `n_layers` times, then its two 4×4 stride-1 convolutions take 1 pixel each."""
        return 3 * 2**self.n_layers if self.arch == "patch" else 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DiscriminatorSpec:
        return cls(**d)
