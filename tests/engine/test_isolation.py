"""Jobs that share a model cannot disturb each other.

The app runs a preview and a batch job on two threads with one cached model. Tiled inference used
to swap the `forward` of the shared network's norm layers and reference mode reseeded torch's
global RNG, so two such jobs changed each other's pixels (or failed with `_StopForward`). Here two
threads translate with the same network at once, many times over with their passes interleaved,
and each must get exactly the pixels it gets alone.
"""
from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from translator.inference import InferenceOptions, translate_array, translate_tensor
from translator.model_cache import ModelCache
from translator.networks import GeneratorSpec, build_generator
from translator.tiling import run_tiled

ROUNDS = 3


def _resized(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.BICUBIC))


def _together(jobs: list[Callable[[], np.ndarray]]) -> list[list[np.ndarray]]:
    """Run each job on its own thread, `ROUNDS` times, every round starting at a barrier; the
    outputs per job and round. A job's error is raised here (the other threads are released)."""
    barrier = threading.Barrier(len(jobs))
    outputs: list[list[np.ndarray]] = [[] for _ in jobs]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(ROUNDS):
                barrier.wait(timeout=120)
                outputs[i].append(jobs[i]())
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a translation thread hung"
    if errors:
        raise errors[0]
    return outputs


@pytest.mark.parametrize(
    ("model", "first", "second"),
    [
        # CycleGAN-like ResNet (InstanceNorm): whole-image statistics over 12 and 24 tiles
        ("tiny_cyclegan", InferenceOptions(device="cpu", tile=96, overlap=32), InferenceOptions(device="cpu", tile=64, overlap=16)),
        # pix2pix U-Net in reference mode (batch statistics, dropout), two seeds
        (
            "tiny_pix2pix",
            InferenceOptions(device="cpu", mode="reference", seed=1, tile=128),
            InferenceOptions(device="cpu", mode="reference", seed=2, tile=128, tile_stats="fast"),
        ),
    ],
)
def test_two_threads_on_one_model_get_the_pixels_each_gets_alone(
    model: str, first: InferenceOptions, second: InferenceOptions, photos: dict[str, np.ndarray], request: pytest.FixtureRequest
) -> None:
    path: Path = request.getfixturevalue(model)
    cache = ModelCache()
    a, b = cache.get(path, None, first), cache.get(path, None, second)
    assert a.net is b.net and cache.loads == 1  # one network, shared
    images = [_resized(photos["astronaut"], 256, 192), _resized(photos["coffee"], 256, 192)]
    alone = [translate_array(a, images[0]), translate_array(b, images[1])]
    outputs = _together([lambda: translate_array(a, images[0]), lambda: translate_array(b, images[1])])
    for i, runs in enumerate(outputs):
        for r, out in enumerate(runs):
            assert np.array_equal(out, alone[i]), f"thread {i}, round {r}: up to {np.abs(out.astype(int) - alone[i]).max()} grey levels off"


def test_reference_mode_never_touches_the_global_rng(tiny_pix2pix: Path, photos: dict[str, np.ndarray]) -> None:
    """Same seed, same pixels; another seed, other pixels; tiled or not; torch's global RNG state
    is the same before and after."""
    cache = ModelCache()
    rgb = _resized(photos["chelsea"], 192, 128)
    for tile in ("off", 128):  # 128: two tiles
        seeded = [cache.get(tiny_pix2pix, None, InferenceOptions(device="cpu", mode="reference", seed=s, tile=tile)) for s in (5, 5, 6)]
        torch.manual_seed(123)
        state = torch.get_rng_state()
        a, again, other = (translate_array(tr, rgb) for tr in seeded)
        assert torch.equal(torch.get_rng_state(), state), f"tile={tile}: the global RNG was used"
        assert np.array_equal(a, again)
        assert not np.array_equal(a, other)


def test_reference_mode_draws_the_masks_a_global_seed_would_draw(tiny_pix2pix: Path, photos: dict[str, np.ndarray]) -> None:
    """On the CPU a generator seeded with s gives the dropout masks `torch.manual_seed(s)` gives:
    reference-mode pixels are what they were when the engine reseeded the global RNG (and what
    the reference's seeded test.py computes with the same network)."""
    tr = ModelCache().get(tiny_pix2pix, None, InferenceOptions(device="cpu", mode="reference", seed=7, tile="off"))
    x = torch.from_numpy(_resized(photos["coffee"], 128, 128).copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    net = copy.deepcopy(tr.net)  # the translator's network (reference mode: batch statistics, dropout on)
    torch.manual_seed(7)
    with torch.inference_mode():
        expected = net(x)
    assert torch.equal(translate_tensor(tr, x), expected)


def _photo_like(spec: GeneratorSpec, train: bool) -> nn.Module:
    g = torch.Generator().manual_seed(0)
    net = build_generator(spec)
    with torch.no_grad():
        for p in net.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.15, generator=g)
    return net.train(train)


@pytest.mark.parametrize(
    ("spec", "train"), [(GeneratorSpec("resnet_2blocks", 8, "instance", False), False), (GeneratorSpec("unet_32", 4, "batch", True), True)]
)
def test_run_tiled_never_modifies_the_net_even_while_it_runs(spec: GeneratorSpec, train: bool, photos: dict[str, np.ndarray]) -> None:
    """Checked after every pass, from inside the call: no instance `forward` on any module, the
    same modules, the same state (running statistics and batch counters included)."""
    net = _photo_like(spec, train)
    modules = list(net.modules())
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.from_numpy(_resized(photos["astronaut"], 192, 128).copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    checks: list[bool] = []

    def unchanged(done: int, total: int) -> None:
        state = net.state_dict()
        checks.append(
            not any("forward" in vars(m) for m in net.modules())
            and list(net.modules()) == modules
            and all(torch.equal(before[k], state[k]) for k in before)
        )

    run_tiled(net, x, tile=64, overlap=16, progress=unchanged, generator=torch.Generator().manual_seed(0))
    assert len(checks) > 10 and all(checks)
    run_tiled(net, x[..., :64, :64], tile=64, overlap=16)  # one tile: the plain call
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
