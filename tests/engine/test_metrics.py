"""PSNR/SSIM agree with scikit-image's reference settings on real photos; the batch forms agree
with the file forms; the discriminator's verdict, its heat map and overlay behave as documented."""
from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from translator.metrics import (
    PatchMap,
    Verdict,
    discriminator_patch_map,
    discriminator_verdict,
    heat_colours,
    overlay_heatmap,
    patch_grid,
    psnr,
    psnr_batch,
    ssim,
    ssim_batch,
    verdict_heatmap,
)
from translator.networks import DiscriminatorSpec, build_discriminator

REF = Path(__file__).parent.parent / "data" / "reference"
PHOTOS = ["astronaut", "chelsea", "coffee", "immunohistochemistry"]
Image8 = np.ndarray


def _jpeg(img: Image8) -> Image8:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 30])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


def _blur(img: Image8) -> Image8:
    return cv2.GaussianBlur(img, (7, 7), 2.0)


def _noise(img: Image8) -> Image8:
    rng = np.random.default_rng(0)
    return np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)


DISTORTIONS: dict[str, Callable[[Image8], Image8]] = {"jpeg30": _jpeg, "blur": _blur, "noise": _noise}


def _pairs(name: str) -> list[tuple[str, Image8, Image8]]:
    img = getattr(skdata, name)()[:256, :320]  # a real photo's crop, non-square; keeps the suite quick
    pairs = [(k, img, f(img)) for k, f in DISTORTIONS.items()]
    pairs.append(("shift", img[8:-8, 8:-8], img[5:-11, 6:-10]))  # the same scene, moved 3 px and 2 px
    return pairs


def _ref_ssim(a: Image8, b: Image8) -> float:
    return float(
        structural_similarity(
            a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255,
            channel_axis=-1 if a.ndim == 3 else None,
        )
    )


def _to_tensor(img: Image8) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) in [-1, 1], as the files are read."""
    return torch.from_numpy(img.astype(np.float32)).permute(2, 0, 1)[None] / 255 * 2 - 1


@pytest.mark.parametrize("name", PHOTOS + ["camera"])
def test_psnr_and_ssim_match_skimage_on_distorted_photos(name: str) -> None:
    for kind, a, b in _pairs(name):
        assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-4), kind
        assert ssim(a, b) == pytest.approx(_ref_ssim(a, b), abs=1e-4), kind
        assert 0.0 < ssim(a, b) < 0.999, kind  # a real distortion, not a degenerate pair


def test_identical_images_are_perfect() -> None:
    img = skdata.chelsea()
    assert psnr(img, img.copy()) == math.inf
    assert ssim(img, img.copy()) == pytest.approx(1.0, abs=1e-6)
    x = _to_tensor(img)
    assert torch.isinf(psnr_batch(x, x.clone())).all()
    assert ssim_batch(x, x.clone()).item() == pytest.approx(1.0, abs=1e-6)


def test_ssim_averages_channels_not_a_gray_conversion() -> None:
    # Distort one channel only: per-channel SSIM means the other two still score 1.
    a = skdata.astronaut()
    b = a.copy()
    b[..., 0] = _blur(a[..., 0])
    one = _ref_ssim(a[..., 0], b[..., 0])
    assert ssim(a, b) == pytest.approx((one + 2.0) / 3.0, abs=1e-4)


def test_shape_mismatch_and_small_images_are_refused() -> None:
    a = skdata.astronaut()
    with pytest.raises(ValueError, match=r"\(512, 512, 3\) vs \(511, 512, 3\)"):
        psnr(a, a[1:])
    with pytest.raises(ValueError, match=r"\(512, 512, 3\) vs \(512, 512\)"):
        ssim(a, a[..., 0])
    with pytest.raises(ValueError, match="uint8"):
        psnr(a.astype(np.float32), a.astype(np.float32))
    tiny = a[:10, :40]
    with pytest.raises(ValueError, match="at least 11"):
        ssim(tiny, tiny)
    with pytest.raises(ValueError, match="at least 11"):
        ssim_batch(_to_tensor(tiny), _to_tensor(tiny))
    with pytest.raises(ValueError, match="differ in shape"):
        psnr_batch(torch.zeros(2, 3, 16, 16), torch.zeros(1, 3, 16, 16))


def test_batch_forms_agree_with_file_forms_per_image() -> None:
    # Same-size crops of three photos, each against its JPEG version, in one batch.
    imgs = [getattr(skdata, n)()[:256, :320] for n in ("astronaut", "coffee", "immunohistochemistry")]
    jpgs = [_jpeg(i) for i in imgs]
    x = torch.cat([_to_tensor(i) for i in imgs])
    y = torch.cat([_to_tensor(j) for j in jpgs])
    p, s = psnr_batch(x, y), ssim_batch(x, y)
    assert p.shape == s.shape == (3,)
    np.testing.assert_allclose(p.numpy(), [psnr(i, j) for i, j in zip(imgs, jpgs)], atol=1e-4)
    np.testing.assert_allclose(s.numpy(), [ssim(i, j) for i, j in zip(imgs, jpgs)], atol=1e-4)
    assert len(set(np.round(p.numpy(), 3))) == 3  # per image, not pooled over the batch


def test_batch_forms_measure_what_the_saved_files_hold() -> None:
    # A generator's float output against its input: the reference PNG is that output as saved.
    out = torch.from_numpy(np.load(REF / "unet_128_eval_output_float.npy"))[None]
    inp_png = np.asarray(Image.open(REF / "input_128x128.png").convert("RGB"))
    out_png = np.asarray(Image.open(REF / "unet_128_eval_output.png").convert("RGB"))
    inp = _to_tensor(inp_png)
    assert psnr_batch(out, inp).item() == pytest.approx(psnr(out_png, inp_png), abs=1e-4)
    assert ssim_batch(out, inp).item() == pytest.approx(ssim(out_png, inp_png), abs=1e-4)
    # Unquantised floats (and values past the range, clipped as a file would) measure the same.
    g = torch.Generator().manual_seed(0)
    noisy = inp + torch.randn(inp.shape, generator=g) * 0.1
    saved = np.clip(np.round((noisy[0].permute(1, 2, 0).numpy() + 1) / 2 * 255), 0, 255).astype(np.uint8)
    assert psnr_batch(noisy, inp).item() == pytest.approx(psnr(saved, inp_png), abs=1e-4)
    assert ssim_batch(noisy, inp).item() == pytest.approx(ssim(saved, inp_png), abs=1e-4)


# --- verdict ---------------------------------------------------------------------------------


def _png(name: str) -> torch.Tensor:
    return _to_tensor(np.asarray(Image.open(REF / name).convert("RGB")))


def _tiny_d(in_channels: int) -> torch.nn.Module:
    return build_discriminator(DiscriminatorSpec("patch", 3, 8, "batch", in_channels), seed=0).eval()


def test_verdict_vanilla_is_sigmoid_of_logits() -> None:
    d = _tiny_d(6)
    g = torch.Generator().manual_seed(1)
    cond, img = (torch.rand(1, 3, 128, 128, generator=g) * 2 - 1 for _ in range(2))
    v = discriminator_verdict(d, cond, img)
    assert isinstance(v, Verdict) and v.gan_mode == "vanilla"
    assert v.logits.shape == v.realness.shape == (14, 14)
    assert v.logits.dtype == v.realness.dtype == np.float32
    expected = 1 / (1 + np.exp(-v.logits.astype(np.float64)))
    np.testing.assert_allclose(v.realness, expected, atol=1e-6)
    assert v.mean_realness == pytest.approx(expected.mean(), abs=1e-6)
    assert not d.training  # the caller's mode is kept


def test_verdict_lsgan_keeps_raw_logits_and_train_mode() -> None:
    d = _tiny_d(6).train()
    cond, img = _png("input_128x128.png"), _png("unet_128_eval_output.png")
    v = discriminator_verdict(d, cond, img, gan_mode="lsgan")
    np.testing.assert_array_equal(v.realness, v.logits)
    assert v.mean_realness == pytest.approx(float(v.logits.mean()), abs=1e-6)
    assert d.training
    with pytest.raises(ValueError, match="vanilla, lsgan, wgangp"):
        discriminator_verdict(d, cond, img, gan_mode="bce")


def test_verdict_without_condition_for_cyclegan_d() -> None:
    d = _tiny_d(3)
    img = _png("input_128x128.png")
    v = discriminator_verdict(d, None, img)
    with torch.no_grad():
        direct = d(img)[0, 0].numpy()
    np.testing.assert_allclose(v.logits, direct, atol=1e-6)
    assert v.logits.shape == (14, 14)


def test_verdict_matches_reference_patchgan() -> None:
    d = build_discriminator(DiscriminatorSpec("patch", 3, 8, "batch", 6))
    d.load_state_dict(torch.load(REF / "basic_ndf8_batch_in6_net_D.pth", weights_only=True), strict=True)
    d.eval()
    cond = _png("input_128x128.png")
    out = torch.from_numpy(np.load(REF / "unet_128_eval_output_float.npy"))[None]
    expected = np.load(REF / "patchgan_eval_logits.npy").reshape(14, 14)
    v = discriminator_verdict(d, cond, out)
    np.testing.assert_allclose(v.logits, expected, atol=1e-5)
    np.testing.assert_allclose(v.realness, 1 / (1 + np.exp(-expected)), atol=1e-5)
    # The saved PNG of that output is within a grey level of it: a looser agreement.
    np.testing.assert_allclose(discriminator_verdict(d, cond, _png("unet_128_eval_output.png")).logits, expected, atol=0.05)


# --- heat map and overlay --------------------------------------------------------------------


def test_heatmap_shape_and_colours() -> None:
    realness = np.array([[0.0, 0.0, 1.0, 1.0]] * 3, dtype=np.float32)
    heat = verdict_heatmap(PatchMap.spread(realness, (64, 48)), (64, 48))
    assert heat.shape == (48, 64, 3) and heat.dtype == np.uint8
    low, high = heat[24, 0], heat[24, -1]
    assert not np.array_equal(low, high)
    # RGB order, viridis: dark purple (68, 1, 84) for 0, yellow (253, 231, 37) for 1.
    np.testing.assert_allclose(low, [68, 1, 84], atol=3)
    np.testing.assert_allclose(high, [253, 231, 37], atol=3)


def _spread(realness: np.ndarray, size: tuple[int, int], gan_mode: str = "vanilla") -> np.ndarray:
    return verdict_heatmap(PatchMap.spread(realness, size, gan_mode), size)


def test_heatmap_scale_fixed_for_vanilla_relative_otherwise() -> None:
    half = np.full((4, 4), 0.5, dtype=np.float32)
    spread = np.linspace(0.5, 0.9, 16, dtype=np.float32).reshape(4, 4)
    # vanilla: 0.5 is the same colour whatever else is in the map.
    assert np.array_equal(_spread(half, (4, 4))[0, 0], _spread(spread, (4, 4))[0, 0])
    # lsgan etc.: min/max-normalised, so scaling and shifting the scores changes nothing...
    logits = np.linspace(-3, 2, 16, dtype=np.float32).reshape(4, 4)
    np.testing.assert_array_equal(_spread(logits, (32, 32), "lsgan"), _spread(logits * 10 + 5, (32, 32), "lsgan"))
    # ...and the lowest score is drawn at the bottom of the scale even though it is not 0.
    np.testing.assert_allclose(_spread(spread, (4, 4), "wgangp")[0, 0], [68, 1, 84], atol=3)


def test_spread_map_stretches_like_a_bilinear_resize() -> None:
    """A map of unknown geometry is drawn as before: each cell centred on its own block."""
    realness = np.random.default_rng(0).random((7, 11), dtype=np.float32)
    stretched = cv2.resize(realness, (97, 60), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(_spread(realness, (97, 60)), heat_colours(stretched), atol=3)


def test_heat_colours_run_from_fake_purple_to_real_yellow() -> None:
    ends = heat_colours(np.array([0.0, 1.0]))
    assert ends.dtype == np.uint8 and ends.shape == (2, 3)
    np.testing.assert_allclose(ends, [[68, 1, 84], [253, 231, 37]], atol=3)
    ramp = heat_colours(np.linspace(0, 1, 256))
    assert len({tuple(c) for c in ramp}) > 250  # one colour per level, near enough
    assert heat_colours(np.full((2, 3), 0.25)).shape == (2, 3, 3)


@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_patch_grid_is_where_each_cell_looks(n_layers: int) -> None:
    """Each cell's receptive field, found from the gradient, is `field` pixels centred on
    offset + stride·k (clipped to the image)."""
    spec = DiscriminatorSpec("patch", n_layers, 4, "batch", 3)
    grid = patch_grid(spec)
    d = build_discriminator(spec, seed=0).eval()
    size = 96
    img = torch.zeros(1, 3, size, size, requires_grad=True)
    out = d(img)
    half = (grid.field - 1) / 2
    for i, j in [(0, 0), (out.shape[2] // 2, 1), (out.shape[2] - 1, out.shape[3] - 1)]:
        (grad,) = torch.autograd.grad(out[0, 0, i, j], img, retain_graph=True)
        rows, cols = np.nonzero(grad[0].abs().sum(0).numpy())
        cy, cx = grid.offset + grid.stride * i, grid.offset + grid.stride * j
        assert (rows.min(), rows.max()) == (max(0, cy - half), min(size - 1, cy + half))
        assert (cols.min(), cols.max()) == (max(0, cx - half), min(size - 1, cx + half))
    assert patch_grid(DiscriminatorSpec("pixel")) == type(grid)(stride=1, offset=0.0, field=1)
    assert patch_grid(DiscriminatorSpec("patch", 3)).field == 70  # the "70×70 PatchGAN"


def test_patch_map_keeps_inner_cells_and_mirrors_the_borders() -> None:
    """Cells whose patch lies inside the image are D's own verdict; the map covers the whole
    image; its edge cells judge mirrored picture, not zero padding."""
    spec = DiscriminatorSpec("patch", 3, 8, "batch", 6)
    d, grid = build_discriminator(spec, seed=0).eval(), patch_grid(spec)
    photo = torch.from_numpy(skdata.chelsea()[:150, :200].copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    cond = photo.flip(1)
    plain = discriminator_verdict(d, cond, photo)
    m = discriminator_patch_map(d, cond, photo, grid)
    assert m.step == (grid.stride, grid.stride)
    for axis, side in ((0, 150), (1, 200)):
        centres = m.origin[axis] + grid.stride * np.arange(m.realness.shape[axis])
        assert -grid.stride <= centres[0] < 0 and side - 1 < centres[-1] <= side - 1 + grid.stride
    # plain cell k is centred on offset + 8k; the map's cell on origin + 8k'
    shift = [round((grid.offset - o) / grid.stride) for o in m.origin]
    inside = [(i, j) for i in range(plain.realness.shape[0]) for j in range(plain.realness.shape[1])
              if all(grid.field / 2 <= grid.offset + grid.stride * k <= side - grid.field / 2 for k, side in ((i, 150), (j, 200)))]
    assert len(inside) > 20
    for i, j in inside:
        assert m.realness[i + shift[0], j + shift[1]] == pytest.approx(plain.realness[i, j], abs=1e-5)
    assert not m.realness.flags.writeable
    with pytest.raises(ValueError, match="grid"):
        discriminator_patch_map(d, cond, photo, patch_grid(DiscriminatorSpec("patch", 1)))


def test_constant_map_gives_a_uniform_heatmap_and_overlay() -> None:
    """No edge stripe from drawing: a uniform verdict is one colour up to every border."""
    grid = patch_grid(DiscriminatorSpec("patch", 3))
    grey = np.full((61, 90, 3), 128, np.uint8)
    for m in (PatchMap(np.full((10, 14), 0.3, np.float32), (-4.5, -4.5), (8.0, 8.0), "vanilla"),
              PatchMap(np.full((1, 1), 0.3, np.float32), (grid.offset, grid.offset), (8.0, 8.0), "vanilla"),
              PatchMap.spread(np.full((5, 7), 0.3, np.float32), (90, 61))):
        heat = verdict_heatmap(m, (90, 61))
        assert np.array_equal(heat, np.broadcast_to(heat_colours(np.float32(0.3)), heat.shape))
        over = overlay_heatmap(grey, heat, 0.6).astype(int)
        assert np.abs(over - over[30, 45]).max() <= 1


def test_heatmap_puts_each_cell_on_its_patch_centre() -> None:
    realness = np.zeros((6, 9), np.float32)
    realness[2, 5] = 1.0
    heat = verdict_heatmap(PatchMap(realness, (3.5, -4.5), (8.0, 8.0), "vanilla"), (60, 40))
    brightest = np.unravel_index(np.argmax(heat[..., 1].astype(int)), heat.shape[:2])
    assert brightest in {(3 + 8 * 2 + dy, -4 + 8 * 5 + dx) for dy in (0, 1) for dx in (-1, 0)}  # centre 19.5, 35.5


def test_overlay_blends() -> None:
    rgb = skdata.astronaut()[:64, :64]
    heat = _spread(np.eye(4, dtype=np.float32), (64, 64))
    np.testing.assert_array_equal(overlay_heatmap(rgb, heat, 0.0), rgb)
    np.testing.assert_array_equal(overlay_heatmap(rgb, heat, 1.0), heat)
    mid = overlay_heatmap(rgb, heat, 0.5)
    assert mid.dtype == np.uint8
    np.testing.assert_allclose(mid, (rgb.astype(float) + heat) / 2, atol=0.5 + 1e-9)
    with pytest.raises(ValueError, match="opacity"):
        overlay_heatmap(rgb, heat, 1.5)
    with pytest.raises(ValueError, match="one size"):
        overlay_heatmap(rgb, heat[:32], 0.5)
