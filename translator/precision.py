"""`--precision auto`: bf16 where it is fast and keeps the model's pictures, else fp32.

bf16 halves the memory traffic of every convolution and runs 1.6–2× faster where the device
computes it natively (BENCHMARKS.md), but it keeps only 8 bits of mantissa: a model whose
activations grow large, or whose output depends on small differences, can come out visibly
different. So before a model first runs in bf16 on a device, a real photo (`data/probe.jpg`, 256²)
goes through it in both precisions; bf16 is used only if the two outputs agree to within
`MIN_PSNR_DB`. The verdict is remembered per model weights, role, device, mode and torch version,
in this process and in a small file in the user's cache folder, so the check costs its two passes
once, not at every start.
"""
from __future__ import annotations

import hashlib
import json
import logging
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from translator import imaging
from translator._fs import write_bytes_atomic
from translator.choices import Precision
from translator.devices import autocast, effective_precision
from translator.metrics import psnr
from translator.paths import user_cache_dir
from translator.tiling import private_net

if TYPE_CHECKING:
    from translator.inference import Translator

log = logging.getLogger(__name__)

MIN_PSNR_DB = 40.0
PROBE = Path(__file__).parent / "data" / "probe.jpg"  # a 256² crop of samples/coffee.jpg (CC0)
_VERDICTS: dict[str, float] = {}  # key -> PSNR of bf16 against fp32, this process
_FINGERPRINTS: weakref.WeakKeyDictionary[torch.nn.Module, str] = weakref.WeakKeyDictionary()  # a net's weights, summed once


def verdict_file() -> Path:
    return user_cache_dir() / "bf16-checks.json"


def run_precision(tr: Translator) -> Precision:
    """The precision `tr` runs in: its options' precision resolved (`effective_precision`), and
    for `auto`, bf16 only where this model's bf16 output stays within `MIN_PSNR_DB` of fp32."""
    chosen, _reason = effective_precision(tr.device, tr.options.precision)
    if tr.options.precision != "auto" or chosen != "bf16":
        return chosen
    key = _key(tr)
    db = _VERDICTS.get(key)
    if db is None:
        db = _read_verdicts().get(key)
    if db is None:
        db = _measure(tr)
        _remember(key, db)
    _VERDICTS[key] = db
    if db < MIN_PSNR_DB:
        log.warning("%s: bf16 changes this model's pictures (%.1f dB from fp32, below %.0f dB): running in fp32",
                    tr.name, db, MIN_PSNR_DB)
        return "fp32"
    log.info("%s: precision auto -> bf16 (%.1f dB from fp32 on the check photo)", tr.name, db)
    return "bf16"


def _key(tr: Translator) -> str:
    """What the verdict depends on: the generator's weights (their shapes and every 1009th value:
    cheap, and any retraining changes them; once per network object), the device, the mode and
    torch's version."""
    role = tr.model.generator_role(tr.direction)
    net = tr.model.nets[role]
    fingerprint = _FINGERPRINTS.get(net)
    if fingerprint is None:
        h = hashlib.sha256(tr.model.card.to_json().encode())
        with torch.no_grad():
            for name, t in net.state_dict().items():
                if t.is_floating_point():
                    h.update(f"{name}{tuple(t.shape)}".encode())
                    every = torch.arange(0, t.numel(), 1009, device=t.device)  # `take` picks them in the
                    h.update(torch.take(t.detach(), every).float().cpu().numpy().tobytes())  # NCHW order, copying no channels-last weight
        fingerprint = _FINGERPRINTS[net] = h.hexdigest()[:32]
    return f"{fingerprint}|{role}|{tr.device}|{tr.options.mode}|torch {torch.__version__}"


def _measure(tr: Translator) -> float:
    """PSNR (dB) of the generator's bf16 output against its fp32 output on the probe photo."""
    x = imaging.to_tensor(imaging.read_image(PROBE).rgb).to(tr.device)
    outs: list[np.ndarray] = []
    for precision in ("fp32", "bf16"):
        generator = torch.Generator(device=tr.device).manual_seed(0)  # reference mode: the same dropout masks
        with torch.inference_mode(), autocast(tr.device, precision):
            y = private_net(tr.net, generator if tr.options.mode == "reference" else None)(x)
        outs.append(imaging.to_uint8(y.float().cpu()))
    return min(psnr(outs[0], outs[1]), 99.0)


def _read_verdicts() -> dict[str, float]:
    try:
        data = json.loads(verdict_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: float(v) for k, v in data.items() if isinstance(k, str) and isinstance(v, (int, float))}


def _remember(key: str, db: float) -> None:
    """Add a verdict to the cache file (best effort: a read-only home only costs a re-check)."""
    verdicts = _read_verdicts()
    verdicts[key] = round(db, 2)
    try:
        write_bytes_atomic(verdict_file(), json.dumps(verdicts, indent=1, sort_keys=True).encode())
    except OSError as exc:
        log.debug("cannot record the bf16 check in %s: %s", verdict_file(), exc)
