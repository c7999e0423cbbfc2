"""The fast inference paths against the plain fp32 path, on real photos: folded BatchNorm and bf16
autocast must stay within 40 dB PSNR of what the unmodified network computes in fp32."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from translator.checkpoint import Model, ModelCard, build_model
from translator.devices import cpu_has_bf16
from translator.inference import InferenceOptions, make_translator, translate_array
from translator.metrics import psnr
from translator.networks import DiscriminatorSpec, GeneratorSpec
from translator.networks.fold import fold_batchnorm

def _as_input(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 127.5 - 1


def _pix2pix(photos: dict[str, np.ndarray], ngf: int = 64) -> Model:
    """The reference pix2pix generator (unet_256, ngf 64 unless said, BatchNorm) with running
    statistics of real photos, as a trained model has them."""
    model = build_model(ModelCard("p", "pix2pix", {"g": GeneratorSpec("unet_256", ngf, "batch", True)},
                                  {"d": DiscriminatorSpec("patch", 3, 64, "batch", 6)}), seed=3)
    g = model.nets["g"].train()
    with torch.no_grad():
        for rgb in photos.values():
            g(_as_input(rgb[:256, :256]))
    g.eval()
    # An untrained U-Net's last layer (N(0, 0.02) weights) gives a nearly flat grey: widen it so the
    # output has a trained model's contrast and PSNR measures something.
    last = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)][-1]
    with torch.no_grad():
        last.weight.mul_(20)
    return model


def _cyclegan() -> Model:
    return build_model(ModelCard("c", "cyclegan", {"g_ab": GeneratorSpec("resnet_9blocks", 64, "instance", False)}), seed=4)


def _plain_fp32(model: Model, rgb: np.ndarray) -> np.ndarray:
    net, _ = model.generator()
    with torch.inference_mode():
        y = net.eval()(_as_input(rgb))
    return ((y[0].permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()


def _crops(photos: dict[str, np.ndarray]) -> list[np.ndarray]:
    return [photos["chelsea"][:256, 100:356], photos["coffee"][100:356, 150:406], photos["astronaut"][:256, :256]]


def test_folding_replaces_every_batchnorm_and_leaves_the_model_alone(photos: dict[str, np.ndarray]) -> None:
    model = _pix2pix(photos)
    tr = make_translator(model, InferenceOptions(device="cpu"))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in tr.net.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.nets["g"].modules()) == 13  # the caller's net untouched
    assert all(p.is_contiguous() for p in model.nets["g"].parameters())  # still NCHW: the copy is channels-last
    assert any(p.dim() == 4 and not p.is_contiguous() for p in tr.net.parameters())
    _, folded = fold_batchnorm(model.nets["g"])
    assert folded == 13
    # reference mode normalises with each image's statistics: nothing may be folded there
    ref = make_translator(model, InferenceOptions(device="cpu", mode="reference"))
    assert sum(isinstance(m, nn.BatchNorm2d) for m in ref.net.modules()) == 13


def test_folded_batchnorm_gives_the_fp32_pixels(photos: dict[str, np.ndarray]) -> None:
    model = _pix2pix(photos)
    tr = make_translator(model, InferenceOptions(device="cpu", tile="off"))
    for rgb in _crops(photos):
        plain = _plain_fp32(model, rgb)
        assert plain.std() > 20  # a structured picture, not a flat one that any path would match
        assert psnr(translate_array(tr, rgb), plain) >= 40


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_folding_scales_in_float64_and_rounds_once_in_any_layout(layout: torch.memory_format) -> None:
    """The fold is done a slice of channels at a time (no float64 copy of the weights): every folded
    weight must be the float64 product rounded once, bit for bit, in the layout asked for."""
    model = build_model(ModelCard("p", "pix2pix", {"g": GeneratorSpec("unet_256", 32, "batch", True)}), seed=5)
    g = model.nets["g"].eval()
    gen = torch.Generator().manual_seed(0)
    pairs = []  # (name of the conv, conv, its norm)
    with torch.no_grad():
        for seq_name, seq in [(n, m) for n, m in g.named_modules() if isinstance(m, nn.Sequential)]:
            for (conv_name, conv), (_, norm) in zip(seq.named_children(), list(seq.named_children())[1:]):
                if isinstance(norm, nn.BatchNorm2d):
                    assert norm.running_mean is not None and norm.running_var is not None
                    norm.running_mean.normal_(0, 0.5, generator=gen)
                    norm.running_var.uniform_(0.1, 4.0, generator=gen)
                    norm.weight.normal_(1, 0.3, generator=gen)
                    norm.bias.normal_(0, 0.3, generator=gen)
                    pairs.append((f"{seq_name}.{conv_name}", conv, norm))
    folded, count = fold_batchnorm(g, memory_format=layout)
    assert count == len(pairs) == 13
    modules = dict(folded.named_modules())
    for name, conv, norm in pairs:
        out = modules[name]
        scale = (norm.running_var.double() + norm.eps).rsqrt() * norm.weight.double()
        shape = (-1, 1, 1, 1) if isinstance(conv, nn.Conv2d) else (1, -1, 1, 1)
        expected = (conv.weight.double() * scale.view(shape)).float()
        assert out.weight.is_contiguous(memory_format=layout), name
        assert torch.equal(out.weight, expected), name
        assert torch.equal(out.bias, ((-norm.running_mean.double() * scale) + norm.bias.double()).float()), name
    assert all(p.is_contiguous() for p in g.parameters())  # the caller's net as it was


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no native bf16: the engine runs fp32")
def test_bf16_weights_stored_once_give_the_autocast_pixels(photos: dict[str, np.ndarray]) -> None:
    """In bf16 the convolutions keep bf16 copies of their weights instead of autocast casting them at
    every call: the pixels must be exactly those of fp32 weights under bf16 autocast, for a U-Net
    (folded, channels-last) and a ResNet (biases, InstanceNorm), shared or private, and a shared
    model keeps its fp32 weights."""
    models = {"unet": _pix2pix(photos, ngf=16),
              "resnet": build_model(ModelCard("c", "cyclegan", {"g_ab": GeneratorSpec("resnet_6blocks", 16, "instance", False)}), seed=4)}
    crops = _crops(photos)[:2]
    for name, model in models.items():
        autocast_only = replace(make_translator(model, InferenceOptions(device="cpu", tile="off")), precision="bf16")
        expected = [translate_array(autocast_only, rgb) for rgb in crops]
        for private in (False, True):
            tr = make_translator(model, InferenceOptions(device="cpu", precision="bf16", tile="off"), private=private)
            convs = [m for m in tr.net.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
            assert convs and all(p.dtype == torch.bfloat16 for m in convs for p in m.parameters()), name
            assert all(p.dtype == torch.float32 for m in tr.net.modules() if not isinstance(m, nn.Conv2d | nn.ConvTranspose2d)
                       for p in m.parameters(recurse=False)), name  # norms and the rest: as autocast runs them
            for rgb, want in zip(crops, expected):
                assert want.std() > 5 and np.array_equal(translate_array(tr, rgb), want), (name, private)
            if not private:
                assert all(p.dtype == torch.float32 for p in model.nets[next(iter(model.nets))].parameters()), name


@pytest.mark.parametrize("kind", ["pix2pix", "cyclegan"])
def test_bf16_is_within_40_db_of_fp32(kind: str, photos: dict[str, np.ndarray]) -> None:
    model = _pix2pix(photos) if kind == "pix2pix" else _cyclegan()
    if cpu_has_bf16():  # the engine's own bf16 path, on every crop
        tr = make_translator(model, InferenceOptions(device="cpu", precision="bf16", tile="off"))
        pairs = [(_plain_fp32(model, rgb), translate_array(tr, rgb)) for rgb in _crops(photos)]
    else:  # the engine runs fp32 here (emulated bf16 is ~20× slower): check the network's bf16 numerics
        # directly, on one crop (a ResNet's 64² suffices: its layers do not depend on the size)
        rgb = _crops(photos)[0] if kind == "pix2pix" else _crops(photos)[0][:64, :64]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            fast = _plain_fp32(model, rgb)
        pairs = [(_plain_fp32(model, rgb), fast)]
    for plain, fast in pairs:
        assert plain.std() > 20 and not np.array_equal(fast, plain)  # bf16 did run, on a structured picture
        assert psnr(fast, plain) >= 40, kind


@pytest.mark.skipif(cpu_has_bf16(), reason="this CPU runs bf16 natively")
def test_bf16_falls_back_to_fp32_where_the_cpu_would_emulate_it(photos: dict[str, np.ndarray]) -> None:
    model = _cyclegan()
    rgb = _crops(photos)[1][:64, :64]
    fp32 = translate_array(make_translator(model, InferenceOptions(device="cpu")), rgb)
    assert np.array_equal(translate_array(make_translator(model, InferenceOptions(device="cpu", precision="bf16")), rgb), fp32)


def test_cuda_graphs_are_kept_for_small_shapes_that_recur() -> None:
    from translator.cuda_graphs import worth_a_graph

    tiles = torch.Size((4, 3, 256, 256))
    assert not worth_a_graph(tiles, seen=1)  # a one-off size is not worth a capture
    assert worth_a_graph(tiles, seen=2)
    assert not worth_a_graph(torch.Size((1, 3, 1024, 1024)), seen=5)  # long kernels hide the launch cost


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none on this project's machines)")
def test_cuda_graphs_give_the_eager_pixels(photos: dict[str, np.ndarray]) -> None:
    model = _pix2pix(photos)
    graphed = make_translator(model, InferenceOptions(device="cuda"))
    eager = make_translator(model, InferenceOptions(device="cuda"))
    eager.net = eager.net.net  # the network inside the graph wrapper
    for _ in range(3):  # the second call of a shape captures it, the third replays it
        for rgb in photos.values():
            crop = rgb[:256, :256]
            assert psnr(translate_array(graphed, crop), translate_array(eager, crop)) >= 40.0
    assert graphed.net._graphs  # type: ignore[union-attr]
