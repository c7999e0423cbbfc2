"""Every enumeration a user picks from, defined once.

The CLI's `choices=`, the app's combo boxes and the config checks (`__post_init__`) all read these
tuples; the `Literal` types are the same names for mypy. This module imports nothing heavy, so
any module (and the GUI) can use it without pulling in torch.
"""
from __future__ import annotations

from typing import Literal, get_args

Kind = Literal["pix2pix", "cyclegan"]
KINDS: tuple[Kind, ...] = get_args(Kind)

Direction = Literal["AtoB", "BtoA"]
DIRECTIONS: tuple[Direction, ...] = get_args(Direction)

GanMode = Literal["vanilla", "lsgan", "wgangp", "hinge"]
GAN_MODES: tuple[GanMode, ...] = get_args(GanMode)

Norm = Literal["batch", "instance", "none"]
NORMS: tuple[Norm, ...] = get_args(Norm)

Precision = Literal["auto", "fp32", "bf16", "fp16"]
PRECISIONS: tuple[Precision, ...] = get_args(Precision)
PRECISION_HELP: dict[Precision, str] = {
    "auto": "bf16 where the device computes it natively and it keeps this model's pictures (checked once), else fp32",
    "fp32": "exact: the reference implementation's pixels",
    "bf16": "faster where the device computes it natively (recent GPUs, CPUs with AVX512-BF16 or AMX); a little less exact",
    "fp16": "faster on GPUs; a little less exact (the CPU runs fp32 instead)",
}

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")
"""The device names offered in menus; `cuda:N` is accepted too (`translator.devices.resolve_device`)."""

Mode = Literal["eval", "reference"]
MODES: tuple[Mode, ...] = get_args(Mode)
MODE_HELP: dict[Mode, str] = {
    "eval": "running statistics, no dropout: deterministic (default)",
    "reference": "batch statistics and dropout, as the reference's test.py; repeatable with a seed",
}

TileSetting = int | Literal["auto", "off"]
TILE_CHOICES: tuple[str, ...] = ("auto", "off", "512", "1024", "2048")
"""What menus offer for tiling; any positive integer is a valid tile side too."""

TileStats = Literal["exact", "fast"]
TILE_STATS: tuple[TileStats, ...] = get_args(TileStats)

OUTPUT_FORMATS: tuple[str, ...] = ("png", "jpg", "webp", "tif", "bmp")
"""Output formats offered in menus, one name each; `FORMAT_SUFFIXES` also takes the aliases."""
FORMAT_SUFFIXES: dict[str, str] = {
    "png": ".png",
    "jpg": ".jpg",
    "jpeg": ".jpg",
    "webp": ".webp",
    "tif": ".tif",
    "tiff": ".tif",
    "bmp": ".bmp",
}

PEN_WIDTHS: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
"""The Sketch tab's pen widths, in pixels at the model's training size."""
SKETCH_SIZE_FACTORS: tuple[int, ...] = (1, 2, 4)
"""The Sketch tab's canvas sizes: the model's training size times these."""

Preset = Literal["default", "classic"]
PRESETS: tuple[Preset, ...] = get_args(Preset)

PairKind = Literal["lineart", "edges", "gray", "blur", "downscale"]
PAIR_KINDS: tuple[PairKind, ...] = get_args(PairKind)
"""What `translator pairs` makes from a photo: line art, Canny edges, gray (for colourising),
blur or downscale (for restoring)."""
PAIR_KIND_HELP: dict[PairKind, str] = {
    "lineart": "clean dark lines on white, like a pencil sketch",
    "edges": "plain Canny edges, black on white (as the reference's edges2shoes)",
    "gray": "the photo in gray, for colourising",
    "blur": "the photo blurred, for sharpening",
    "downscale": "the photo at a quarter of its resolution, for upscaling",
}


def parse_tile(value: str | int) -> TileSetting:
    """`auto`, `off` or a positive tile side in pixels (as typed in a menu or on the command line)."""
    if isinstance(value, int):
        side = value
    else:
        text = value.strip().lower()
        if text in ("auto", "off"):
            return text  # type: ignore[return-value]
        try:
            side = int(text)
        except ValueError:
            raise ValueError(f"tile must be auto, off or a size in pixels, not {value!r}") from None
    if side <= 0:
        raise ValueError(f"tile must be a positive size in pixels, not {side}")
    return side


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    """Raise ValueError naming the option and its choices when `value` is not one of them."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
