"""Named training recipes: `classic` (the reference implementation's defaults) and `default`
(the tool's own, tuned for small folders on ordinary machines).

A preset is a set of `TrainConfig` values per model kind; anything set explicitly (a command-line
flag, a key in a config file, a field in the app) wins over the preset. `TrainConfig(...)` built
directly holds the classic values; the command line, config files and the app start from
`default` unless told otherwise.

`classic`, option by option, as the reference's `train.py` sets them
(junyanz/pytorch-CycleGAN-and-pix2pix, `options/base_options.py`, `train_options.py` and each
model's `modify_commandline_options`):

| option | pix2pix | CycleGAN |
|---|---|---|
| generator (`--netG`) | unet_256 | resnet_9blocks |
| filters (`--ngf`, `--ndf`) | 64, 64 | 64, 64 |
| discriminator (`--netD basic`, `--n_layers_D`) | PatchGAN, 3 layers | PatchGAN, 3 layers |
| normalisation (`--norm`) | batch | instance |
| dropout in G (`--no_dropout`) | on | off |
| GAN loss (`--gan_mode`) | vanilla | lsgan |
| Adam (`--lr`, `--beta1`) | 2e-4, β 0.5 / 0.999 | 2e-4, β 0.5 / 0.999 |
| schedule (`--n_epochs 100 --n_epochs_decay 100`, linear) | constant, then linear decay to 0 over the last half | the same |
| batch (`--batch_size`) | 1 | 1 |
| λ (`--lambda_L1`; `--lambda_A/B`, `--lambda_identity`) | 100 | 10, 0.5 |
| image pool (`--pool_size`) | none | 50 |
| data (`--load_size`, `--crop_size`, flip) | 286 → random 256 crop, flip | the same |
| weight average, D warm-up, adaptive augmentation, input skip (the tool's own) | none | none |

`default` keeps the reference's architecture families, losses and data pipeline and changes what
the quality benchmark (`bench/quality/`, results in BENCHMARKS.md) showed to pay on a CPU budget;
each choice below names the benchmark row that justifies it.
"""
from __future__ import annotations

from typing import Any

from translator.choices import KINDS, check_choice
from translator.choices import PRESETS as PRESET_NAMES

CLASSIC: dict[str, dict[str, Any]] = {
    "pix2pix": {
        "generator": "unet_256", "base_filters": 64, "norm": "batch", "dropout": True, "input_skip": False,
        "d_base_filters": 64, "d_layers": 3, "gan_mode": "vanilla",
        "lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "decay_steps": None, "batch_size": 1,
        "lambda_l1": 100.0, "pool_size": 0, "load_size": 286, "crop_size": 256, "flip": True,
        "ema": False, "d_warmup_steps": 0, "ada": False, "d_steps_per_g": 1,
    },
    "cyclegan": {
        "generator": "resnet_9blocks", "base_filters": 64, "norm": "instance", "dropout": False, "input_skip": False,
        "d_base_filters": 64, "d_layers": 3, "gan_mode": "lsgan",
        "lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "decay_steps": None, "batch_size": 1,
        "lambda_cycle": 10.0, "lambda_identity": 0.5, "pool_size": 50, "load_size": 286, "crop_size": 256,
        "flip": True, "ema": False, "d_warmup_steps": 0, "ada": False, "d_steps_per_g": 1,
    },
}

# The tool's recipe. Rows of the 5-minute screening on edges2photo (bench/notes/
# quality-rounds-01-02-screening.md) behind each change, held-out PSNR dB / SSIM in the tool's default (eval) mode:
# - InstanceNorm, no dropout, EMA of G (row 2 vs 1): 9.45 / 0.162 -> 11.51 / 0.309. BatchNorm with
#   batch size 1 trains on per-image statistics but runs on running averages in eval mode, and the
#   two differ badly this early; InstanceNorm is the same at training and test time. EMA smooths
#   the adversarial game's step-to-step jitter. (No dropout and the EMA stay; the norm went back
#   to BatchNorm, below.)
# - BatchNorm again, once batches of 4 and the input skip were in (round 6, bench/notes/quality-round-06-colorize-colours.md, seed 0,
#   5 / 10 minutes, against the same recipe with InstanceNorm): edges2photo 10.59 -> 11.42 dB and
#   10.32 -> 11.11; colorize SSIM 0.783 -> 0.808 and 0.790 -> 0.810 (above the grey input's 0.803;
#   PSNR level); night level. With batches of four the running averages serve eval mode well
#   (it beats per-image statistics on edges2photo and night), and InstanceNorm normalises away
#   each image's own brightness and contrast, which the output has to reproduce (colorize's
#   luminance at 10 minutes: 33.08 -> 38.37 dB from the target's). In eval mode the layer is a
#   fixed scale and shift, so large images tile with no whole-image statistics pass. It holds at
#   20 minutes with its own, 5 % lower step counts and the EMA's statistics measured for its
#   weights (round 8, bench/notes/quality-round-08-ema-statistics.md, seed 0: colorize 18.03 -> 18.66 dB, SSIM 0.799 -> 0.819; edges2photo
#   9.86 -> 10.17 dB, 0.298 -> 0.331).
# - least-squares GAN (row 7 vs 6): 10.94 / 0.318 -> 11.57 / 0.351. Its generator loss stays
#   bounded when D wins early, so it does not drown the L1 term.
# - 32 filters in G and D, batch 4: for speed — a quarter of the arithmetic per image and a model
#   a quarter the size to store and run; on quality the screening could not tell it from 64
#   filters at batch 1 (rows 2, 3, 5, 6 are within its noise).
# - input skip, pix2pix only (round 5, bench/notes/quality-round-05-input-skip.md, seed 0, 5 / 10 minutes, against `default`
#   without it): night 34.80 -> 41.23 dB at 5 minutes, 35.98 -> 44.09 at 10; colorize SSIM
#   0.714 -> 0.784 and 0.740 -> 0.790 (PSNR level); edges2photo 10.78 -> 10.55 dB and
#   10.55 -> 10.31 (a small loss, on a task where no recipe reaches the mean-colour guess). Fine detail that input and output
#   share no longer has to pass the U-Net's eight downsamplings. Not for CycleGAN: there the
#   cycle and identity terms keep both generators at the identity the skip starts from
#   (night_unpaired A→B 22.05 -> 12.55 dB at 5 minutes).
# CycleGAN: the same EMA and filter count, and 128×128 training crops (a quarter of the pixels
# per step; the generators are fully convolutional and run on any size). Screened on
# night_unpaired (round 10, bench/notes/quality-round-10-matrix-complete.md, seed 0, 5 minutes, against `default` seed 0's 22.05 / 0.588):
# - 256×256 crops cost 3.56× a step (156 steps instead of 557): 22.44 / 0.541, an SSIM below both
#   trivial predictors' (0.568, 0.586), which 128×128 crops beat. PSNR +0.40 dB, SSIM -0.047.
# - without the EMA: 22.12 / 0.586, level. It stays, as in pix2pix: the saved model is an average
#   over the last steps rather than wherever the adversarial game stood at the last one.
# The 32 filters are for speed, as in pix2pix (classic's 64-filter ResNet on 256² crops trains 50
# steps in 5 minutes); not screened alone.
# Both: when fine-tuning a model that has no discriminator (official checkpoints), 100 D-only steps
# first, so G's first updates get a meaningful signal (from scratch there is no warm-up).
DEFAULT: dict[str, dict[str, Any]] = {
    "pix2pix": {**CLASSIC["pix2pix"], "dropout": False, "ema": True, "gan_mode": "lsgan",
                "base_filters": 32, "d_base_filters": 32, "batch_size": 4, "d_warmup_steps": 100, "input_skip": True},
    "cyclegan": {**CLASSIC["cyclegan"], "ema": True, "base_filters": 32, "d_base_filters": 32,
                 "load_size": 143, "crop_size": 128, "d_warmup_steps": 100},
}

# Keyed by the names in `translator.choices.PRESETS` (tests/engine/test_choices.py holds them equal).
PRESETS: dict[str, dict[str, dict[str, Any]]] = {"default": DEFAULT, "classic": CLASSIC}


def preset_settings(name: str, kind: str) -> dict[str, Any]:
    """The `TrainConfig` values of preset `name` for a model `kind` (a fresh dict)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}: choose one of {', '.join(PRESET_NAMES)}")
    check_choice("kind", kind, KINDS)
    return dict(PRESETS[name][kind])
