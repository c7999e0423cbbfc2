"""Shared fixtures: real photos from scikit-image, tiny models written to disk."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _isolated_user_models(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the real user models or cache folders, and see no shipped models unless a test
    puts some there (each test starts with these folders empty)."""
    monkeypatch.setenv("TRANSLATOR_MODELS_DIR", str(tmp_path_factory.mktemp("user-models")))
    monkeypatch.setenv("TRANSLATOR_CACHE_DIR", str(tmp_path_factory.mktemp("user-cache")))
    monkeypatch.setenv("TRANSLATOR_DATA_DIR", str(tmp_path_factory.mktemp("user-data")))
    monkeypatch.setenv("TRANSLATOR_WEIGHTS_DIR", str(tmp_path_factory.mktemp("shipped-weights")))


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """Real colour photos (uint8 RGB) that ship inside scikit-image."""
    from skimage import data

    return {"astronaut": data.astronaut(), "chelsea": data.chelsea(), "coffee": data.coffee()}


def structured_(net: torch.nn.Module, seed: int = 0, std: float = 0.15) -> torch.nn.Module:
    """Re-initialise weights with a larger spread so tiny random nets give structured outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.dim() > 1:
                p.normal_(0.0, std, generator=g)
    return net


@pytest.fixture(scope="session")
def tiny_pix2pix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small pix2pix model file (unet_64, base_filters 8, with a PatchGAN D)."""
    from translator.checkpoint import ModelCard, build_model, save_model
    from translator.networks import DiscriminatorSpec, GeneratorSpec

    card = ModelCard(
        name="tiny-p2p",
        kind="pix2pix",
        generators={"g": GeneratorSpec("unet_64", 8, "batch", True)},
        discriminators={"d": DiscriminatorSpec("patch", 3, 8, "batch", 6)},
        task="test model",
        image_size=64,
    )
    model = build_model(card, seed=1)
    structured_(model.nets["g"], 1)
    return save_model(model, tmp_path_factory.mktemp("models") / "tiny-p2p.safetensors")


@pytest.fixture(scope="session")
def tiny_cyclegan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small two-direction CycleGAN model file (resnet_2blocks, base_filters 8, InstanceNorm)."""
    from translator.checkpoint import ModelCard, build_model, save_model
    from translator.networks import DiscriminatorSpec, GeneratorSpec

    g = GeneratorSpec("resnet_2blocks", 8, "instance", False)
    d = DiscriminatorSpec("patch", 3, 8, "instance", 3, "lsgan")
    card = ModelCard(name="tiny-cycle", kind="cyclegan", generators={"g_ab": g, "g_ba": g}, discriminators={"d_a": d, "d_b": d})
    model = build_model(card, seed=2)
    structured_(model.nets["g_ab"], 2)
    structured_(model.nets["g_ba"], 3)
    return save_model(model, tmp_path_factory.mktemp("models") / "tiny-cycle.safetensors")
