"""Strength: how much of the translation to keep, blended with the input in linear light.

At strength 1 the output is the network's, bit for bit; at 0 it is the input; in between each
pixel is `s·T + (1−s)·I` computed on linear-light values (sRGB decoded), then encoded back to
sRGB, so a half-strength blend of black and white is the grey a camera would see (sRGB 188),
not the darker 128 that mixing the encoded values gives. The network never runs again for a
new strength: callers keep its output and blend (`blend`, `reblend`).
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import cv2
import numpy as np

from translator.metrics import psnr, ssim

if TYPE_CHECKING:  # evaluation imports inference, which blends: types only, no import cycle
    from translator.evaluation import Comparison, Judge


def check_strength(value: float) -> float:
    """`value` as a strength, or ValueError saying what a strength is."""
    value = float(value)
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"strength must be between 0 and 1 (0 %–100 %), not {value:g}")
    return value


def _to_linear(encoded: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] to linear light (IEC 61966-2-1)."""
    return np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4)


def _to_srgb(linear: np.ndarray) -> np.ndarray:
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * np.power(linear, 1 / 2.4) - 0.055)


_LINEAR_8 = _to_linear(np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)  # one lookup per 8-bit value


def blend(source: np.ndarray, translated: np.ndarray, strength: float) -> np.ndarray:
    """`translated` blended with `source` at `strength` in linear light; the same shape and dtype
    as `translated` (uint8 or uint16, (H, W, 3)). A source of another size (the `resize` option)
    is resized to the translation's first."""
    strength = check_strength(strength)
    if strength == 1.0:
        return translated
    if source.shape[:2] != translated.shape[:2]:
        h, w = translated.shape[:2]
        source = cv2.resize(source, (w, h), interpolation=cv2.INTER_AREA)
    if source.dtype != translated.dtype:
        raise ValueError(f"cannot blend a {source.dtype} input with a {translated.dtype} output")
    if translated.dtype == np.uint8:
        lin_t, lin_s = _LINEAR_8[translated], _LINEAR_8[source]
        top = 255.0
    else:
        top = float(np.iinfo(translated.dtype).max)
        lin_t = _to_linear(translated.astype(np.float32) / top)
        lin_s = _to_linear(source.astype(np.float32) / top)
    mixed = lin_s + np.float32(strength) * (lin_t - lin_s)
    return np.clip(np.rint(_to_srgb(mixed) * top), 0, top).astype(translated.dtype)


def reblend(raw: Comparison, strength: float, judge: Judge | None = None) -> Comparison:
    """`raw` (a comparison at full strength) as it is at `strength`: the output blended, and its
    scores (PSNR/SSIM against the target, and with a `judge` the discriminator's verdict and patch
    map) measured again on what is now shown. The generator does not run."""
    if check_strength(strength) == 1.0:
        return raw
    out = blend(raw.input, raw.output, strength)
    changed = replace(raw, output=out)
    if raw.target is not None:
        changed = replace(changed, psnr=psnr(out, raw.target), ssim=ssim(out, raw.target))
    if judge is not None:
        changed = replace(changed, verdict_output=judge(raw.input, out), verdict_note=judge.why_not(out),
                          patch_map=judge.patch_map(raw.input, out) if raw.patch_map is not None else None)
    return changed
