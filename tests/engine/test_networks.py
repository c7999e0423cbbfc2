"""Networks match the reference implementation key for key, shape for shape, number for number."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from translator.networks import DiscriminatorSpec, GeneratorSpec, build_discriminator, build_generator

DATA = Path(__file__).parent.parent / "data"
REF = DATA / "reference"
LAYOUTS = json.loads((DATA / "reference_state_dicts.json").read_text())


def _spec_for(entry: dict) -> torch.nn.Module:
    args, kwargs = entry["define_args"]
    if len(args) == 4:  # define_G(input_nc, output_nc, ngf, netG)
        in_c, out_c, ngf, arch = args
        spec = GeneratorSpec(arch, ngf, kwargs["norm"], kwargs["use_dropout"], in_c, out_c)
        return build_generator(spec)
    in_c, ndf, arch = args  # define_D(input_nc, ndf, netD)
    dspec = DiscriminatorSpec("patch" if arch == "basic" else arch, 3, ndf, kwargs["norm"], in_c)
    return build_discriminator(dspec)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_state_dict_matches_reference_layout(name: str) -> None:
    entry = LAYOUTS[name]
    net = _spec_for(entry)
    ours = [(k, list(v.shape)) for k, v in net.state_dict().items()]
    assert ours == [(k, list(s)) for k, s in entry["keys"]]
    assert sum(p.numel() for p in net.parameters()) == entry["n_params"]


@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
@pytest.mark.parametrize("arch", ["unet_128", "unet_64", "resnet_6blocks", "resnet_2blocks"])
def test_generators_build_for_every_norm_and_keep_shape(arch: str, norm: str) -> None:
    spec = GeneratorSpec(arch, base_filters=4, norm=norm, dropout=True)  # type: ignore[arg-type]
    net = build_generator(spec).eval()
    x = torch.rand(1, 3, 128, 128) * 2 - 1
    y = net(x)
    assert y.shape == x.shape and y.abs().max() <= 1
    # InstanceNorm without affine and Identity add no parameters; only BatchNorm adds running stats.
    has_running = any("running_mean" in k for k in net.state_dict())
    assert has_running == (norm == "batch")


def test_dropout_moves_resnet_second_conv() -> None:
    keys = build_generator(GeneratorSpec("resnet_2blocks", 4, "instance", dropout=True)).state_dict()
    assert "model.10.conv_block.6.weight" in keys and "model.10.conv_block.5.weight" not in keys


def test_patchgan_n_layers_sets_patch_grid() -> None:
    # n strided convs halve the side n times; the two stride-1 4x4 convs take 1 pixel each.
    for n, side in [(1, 126), (3, 30), (5, 6)]:
        d = build_discriminator(DiscriminatorSpec("patch", n, 4, "batch", 6)).eval()
        assert d(torch.zeros(1, 6, 256, 256)).shape == (1, 1, side, side)


def test_unknown_arch_lists_choices() -> None:
    with pytest.raises(ValueError, match="unet_<N>"):
        GeneratorSpec("densenet")
    with pytest.raises(ValueError, match="patch or pixel"):
        DiscriminatorSpec("global")  # type: ignore[arg-type]


def test_init_is_normal_002() -> None:
    net = build_generator(GeneratorSpec("unet_256"), seed=0)
    w = net.state_dict()["model.model.1.model.1.weight"]
    assert abs(w.mean().item()) < 1e-3 and abs(w.std().item() - 0.02) < 1e-3
    bn = net.state_dict()["model.model.1.model.2.weight"]
    assert abs(bn.mean().item() - 1.0) < 0.01


def _load_png(name: str) -> torch.Tensor:
    a = np.asarray(Image.open(REF / name).convert("RGB"), dtype=np.float32)
    return torch.from_numpy(a).permute(2, 0, 1)[None] / 255 * 2 - 1


def _ref_net(fname: str, spec: GeneratorSpec | DiscriminatorSpec) -> torch.nn.Module:
    net = build_generator(spec) if isinstance(spec, GeneratorSpec) else build_discriminator(spec)
    net.load_state_dict(torch.load(REF / fname, weights_only=True), strict=True)
    return net


UNET = GeneratorSpec("unet_128", 8, "batch", True)


def test_unet_eval_matches_reference() -> None:
    net = _ref_net("unet_128_ngf8_batch_dropout_net_G.pth", UNET).eval()
    with torch.no_grad():
        y = net(_load_png("input_128x128.png"))[0].numpy()
    np.testing.assert_allclose(y, np.load(REF / "unet_128_eval_output_float.npy"), atol=1e-5)


def test_unet_batch_statistics_matches_reference() -> None:
    net = _ref_net("unet_128_ngf8_batch_dropout_net_G.pth", UNET).train()
    for m in net.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    with torch.no_grad():
        y = net(_load_png("input_128x128.png"))[0].numpy()
    np.testing.assert_allclose(y, np.load(REF / "unet_128_batchstats_nodropout_output_float.npy"), atol=1e-5)


def test_resnet_matches_reference() -> None:
    net = _ref_net("resnet_6blocks_ngf8_instance_net_G.pth", GeneratorSpec("resnet_6blocks", 8, "instance", False)).eval()
    with torch.no_grad():
        y = net(_load_png("input_96x128.png"))[0].numpy()
    np.testing.assert_allclose(y, np.load(REF / "resnet_6blocks_output_float.npy"), atol=1e-5)


def test_patchgan_matches_reference() -> None:
    g = _ref_net("unet_128_ngf8_batch_dropout_net_G.pth", UNET).eval()
    d = _ref_net("basic_ndf8_batch_in6_net_D.pth", DiscriminatorSpec("patch", 3, 8, "batch", 6)).eval()
    x = _load_png("input_128x128.png")
    with torch.no_grad():
        logits = d(torch.cat([x, g(x)], 1))[0, 0].numpy()
    expected = np.load(REF / "patchgan_eval_logits.npy")
    assert logits.shape == expected.shape == (14, 14)
    np.testing.assert_allclose(logits, expected.reshape(logits.shape), atol=1e-5)


@pytest.mark.parametrize("arch", ["unet_64", "resnet_2blocks"])
def test_input_skip_adds_the_input_before_the_tanh_and_nothing_else(arch: str) -> None:
    plain = build_generator(GeneratorSpec(arch, 4, "instance", False), seed=3).eval()
    skip = build_generator(GeneratorSpec(arch, 4, "instance", False, input_skip=True), seed=3).eval()
    ps, ss = plain.state_dict(), skip.state_dict()
    # The reference layout plus one (out, in) mix, which starts as the identity; the same seed
    # draws the same weights for everything else.
    assert set(ss) - set(ps) == {"skip.weight"} and set(ps) <= set(ss)
    assert all(torch.equal(ps[k], ss[k]) for k in ps)
    torch.testing.assert_close(ss["skip.weight"], torch.eye(3), atol=0, rtol=0)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        u = skip.model(x)  # the reference network up to, not including, its tanh
        torch.testing.assert_close(plain(x), torch.tanh(u), atol=1e-6, rtol=0)
        torch.testing.assert_close(skip(x), torch.tanh(u + x), atol=1e-6, rtol=0)
        # the mix is learnt: changing it changes the output channel by channel
        skip.skip.weight.copy_(torch.tensor([[0.0, 1, 0], [1, 0, 0], [0, 0, 2]]))
        swapped = torch.stack([x[:, 1], x[:, 0], 2 * x[:, 2]], 1)
        torch.testing.assert_close(skip(x), torch.tanh(u + swapped), atol=1e-6, rtol=0)
    assert skip.skip.weight.requires_grad


def test_input_skip_between_grey_and_colour_starts_by_replicating_or_averaging() -> None:
    grey_in = build_generator(GeneratorSpec("unet_32", 4, "instance", False, 1, 3, input_skip=True), seed=0)
    grey_out = build_generator(GeneratorSpec("unet_32", 4, "instance", False, 3, 1, input_skip=True), seed=0)
    torch.testing.assert_close(grey_in.skip.weight.detach(), torch.ones(3, 1))
    torch.testing.assert_close(grey_out.skip.weight.detach(), torch.full((1, 3), 1 / 3))
    assert grey_in(torch.zeros(1, 1, 32, 32)).shape == (1, 3, 32, 32)
