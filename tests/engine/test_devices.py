"""Which precision runs where: one rule for inference and training, with the reason for a fallback."""
from __future__ import annotations

import logging

import pytest
import torch

from translator import devices
from translator.devices import autocast, cpu_has_bf16, effective_precision
from translator.errors import TranslatorError

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def test_fp32_runs_everywhere_and_a_gpu_runs_what_it_is_asked() -> None:
    assert effective_precision(CPU, "fp32") == ("fp32", None)
    for precision in ("fp32", "bf16", "fp16"):
        assert effective_precision(CUDA, precision) == (precision, None)
        assert effective_precision(CUDA, precision, training=True) == (precision, None)


def test_fp16_on_the_cpu_falls_back_for_inference_and_is_refused_for_training() -> None:
    precision, reason = effective_precision(CPU, "fp16")
    assert precision == "fp32" and reason is not None and "fp16 is not supported on the CPU" in reason
    with pytest.raises(TranslatorError, match="fp16 training needs a GPU; use --precision bf16 or fp32"):
        effective_precision(CPU, "fp16", training=True)


def test_bf16_on_the_cpu_runs_only_where_the_cpu_has_it() -> None:
    for training in (False, True):
        precision, reason = effective_precision(CPU, "bf16", training=training)
        if cpu_has_bf16():
            assert (precision, reason) == ("bf16", None)
        else:
            assert precision == "fp32" and reason is not None and "no native bf16" in reason
            assert ("training in fp32" in reason) == training


def test_unknown_precision_lists_the_choices() -> None:
    with pytest.raises(TranslatorError, match="fp32, bf16, fp16"):
        effective_precision(CPU, "fp8")  # type: ignore[arg-type]


def test_autocast_runs_the_effective_precision_and_says_why(caplog: pytest.LogCaptureFixture) -> None:
    x = torch.randn(4, 8)
    w = torch.randn(8, 3)
    devices._warn_once.cache_clear()  # the reason is logged once per process
    with caplog.at_level(logging.WARNING, logger="translator.devices"), autocast(CPU, "fp16"):
        assert (x @ w).dtype == torch.float32
    assert "fp16 is not supported on the CPU; running in fp32" in caplog.text
    with autocast(CPU, "bf16"):
        assert (x @ w).dtype == (torch.bfloat16 if cpu_has_bf16() else torch.float32)
