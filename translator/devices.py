"""Device and precision choice: explicit, with `auto` = CUDA, then MPS, then CPU."""
from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Iterator

import torch

from translator.choices import PRECISIONS as PRECISIONS
from translator.choices import Precision as Precision
from translator.errors import TranslatorError

log = logging.getLogger(__name__)


def _local_cuda() -> torch.device:
    """`cuda` without an index: the process's own GPU under torchrun (LOCAL_RANK), else GPU 0."""
    local_rank = os.environ.get("LOCAL_RANK")
    if local_rank is not None and torch.cuda.device_count() > 1:
        return torch.device("cuda", int(local_rank) % torch.cuda.device_count())
    return torch.device("cuda")


def resolve_device(name: str = "auto") -> torch.device:
    """Map a user's device name (`auto`, `cpu`, `cuda`, `cuda:1`, `mps`) to an available device."""
    name = name.strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return _local_cuda()
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise TranslatorError(f"unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise TranslatorError(f"device {name!r} requested but CUDA is not available here; use --device cpu or auto")
        if device.index is None:
            return _local_cuda()
        if device.index >= torch.cuda.device_count():
            raise TranslatorError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) present")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise TranslatorError(f"device {name!r} requested but MPS is not available here; use --device cpu or auto")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise TranslatorError(f"unsupported device {name!r}: use auto, cpu, cuda, cuda:N or mps")
    return device


def autocast_dtype(precision: Precision) -> torch.dtype | None:
    """The autocast dtype for a precision name; None for fp32. `auto` must be resolved first
    (`effective_precision`)."""
    if precision not in PRECISIONS:
        raise TranslatorError(f"unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        raise ValueError("resolve precision 'auto' with effective_precision before asking for its dtype")
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


@functools.lru_cache(maxsize=None)
def _warn_once(message: str) -> None:
    log.warning("%s", message)


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), as oneDNN reports it.

    Without it, bf16 convolutions are emulated and run ~20× slower than fp32 (measured: unet_256
    at 256², 16.1 s against 0.68 s, AVX2-only AMD EPYC, 1 thread)."""
    mkldnn = getattr(torch.ops, "mkldnn", None)
    try:
        return bool(torch.backends.mkldnn.is_available() and mkldnn is not None and mkldnn._is_mkldnn_bf16_supported())  # type: ignore[no-untyped-call]
    except (AttributeError, RuntimeError):
        return False


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bf16 natively: a CUDA GPU that supports it, or a CPU with
    AVX512-BF16 or AMX (`cpu_has_bf16`). MPS counts as not (its bf16 support varies by macOS)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    return device.type == "cpu" and cpu_has_bf16()


def effective_precision(device: torch.device, precision: Precision, *, training: bool = False) -> tuple[Precision, str | None]:
    """The precision that will run on `device` when `precision` is asked for, and why it differs
    (None when it does not, or when `auto` picked the device's fast one).

    `auto` is bf16 where the device computes it natively (`native_bf16`), else fp32; whether
    bf16 keeps a given model's pictures is checked by the caller (`translator.inference`).

    On the CPU, fp16 is slow and poorly supported, and bf16 is emulated (~20× slower) where the CPU
    lacks AVX512-BF16/AMX: both run in fp32 there, the same or better pixels, faster. Training
    refuses fp16 on the CPU instead of falling back (`TranslatorError` naming the choices that work).
    """
    if precision == "auto":
        return ("bf16", None) if native_bf16(device) else ("fp32", None)
    dtype = autocast_dtype(precision)  # checks the name
    if device.type != "cpu" or dtype is None:
        return precision, None
    if dtype == torch.float16:
        if training:
            raise TranslatorError("fp16 training needs a GPU; use --precision bf16 or fp32 on the CPU")
        return "fp32", "fp16 is not supported on the CPU; running in fp32 (bf16 is, where the CPU has it)"
    if not cpu_has_bf16():
        if training:
            return "fp32", "this CPU has no native bf16 (AVX512-BF16 or AMX): training in fp32, which is faster here"
        return "fp32", ("this CPU has no native bf16 (AVX512-BF16 or AMX): bf16 would be emulated and ~20× slower, "
                        "so running in fp32")
    return precision, None


@contextlib.contextmanager
def autocast(device: torch.device, precision: Precision) -> Iterator[None]:
    """Autocast to the precision `effective_precision` gives (none for fp32); a fallback is logged
    once per reason."""
    precision, reason = effective_precision(device, precision)
    if reason is not None:
        _warn_once(reason)
    dtype = autocast_dtype(precision)
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield
