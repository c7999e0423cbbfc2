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
    Verdict,
    discriminator_verdict,
    overlay_heatmap,
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
    heat = verdict_heatmap(realness, (64, 48))
    assert heat.shape == (48, 64, 3) and heat.dtype == np.uint8
    low, high = heat[24, 0], heat[24, -1]
    assert not np.array_equal(low, high)
    # RGB order, viridis: dark purple (68, 1, 84) for 0, yellow (253, 231, 37) for 1.
    np.testing.assert_allclose(low, [68, 1, 84], atol=3)
    np.testing.assert_allclose(high, [253, 231, 37], atol=3)


def test_heatmap_scale_fixed_for_vanilla_relative_otherwise() -> None:
    half = np.full((4, 4), 0.5, dtype=np.float32)
    spread = np.linspace(0.5, 0.9, 16, dtype=np.float32).reshape(4, 4)
    # vanilla: 0.5 is the same colour whatever else is in the map.
    assert np.array_equal(verdict_heatmap(half, (4, 4))[0, 0], verdict_heatmap(spread, (4, 4))[0, 0])
    # lsgan etc.: min/max-normalised, so scaling and shifting the scores changes nothing...
    logits = np.linspace(-3, 2, 16, dtype=np.float32).reshape(4, 4)
    a = verdict_heatmap(logits, (32, 32), gan_mode="lsgan")
    b = verdict_heatmap(logits * 10 + 5, (32, 32), gan_mode="lsgan")
    np.testing.assert_array_equal(a, b)
    # ...and the lowest score is drawn at the bottom of the scale even though it is not 0.
    np.testing.assert_allclose(verdict_heatmap(spread, (4, 4), gan_mode="wgangp")[0, 0], [68, 1, 84], atol=3)


def test_overlay_blends() -> None:
    rgb = skdata.astronaut()[:64, :64]
    heat = verdict_heatmap(np.eye(4, dtype=np.float32), (64, 64))
    np.testing.assert_array_equal(overlay_heatmap(rgb, heat, 0.0), rgb)
    np.testing.assert_array_equal(overlay_heatmap(rgb, heat, 1.0), heat)
    mid = overlay_heatmap(rgb, heat, 0.5)
    assert mid.dtype == np.uint8
    np.testing.assert_allclose(mid, (rgb.astype(float) + heat) / 2, atol=0.5 + 1e-9)
    with pytest.raises(ValueError, match="opacity"):
        overlay_heatmap(rgb, heat, 1.5)
    with pytest.raises(ValueError, match="one size"):
        overlay_heatmap(rgb, heat[:32], 0.5)
