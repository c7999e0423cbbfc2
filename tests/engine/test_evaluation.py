"""compare_image: the one-image comparison behind `eval` and the app's preview."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from translator import imaging
from translator.checkpoint import ModelCard, build_model, save_model
from translator.errors import ImageError
from translator.evaluation import compare_image, pair_by_stem
from translator.inference import InferenceOptions, load_translator, translate_array
from translator.networks import GeneratorSpec


def test_compare_image_metrics_and_verdict(tmp_path: Path, tiny_pix2pix: Path, photos: dict[str, np.ndarray]) -> None:
    src, tgt = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(photos["chelsea"]).resize((90, 60)).save(src)
    Image.fromarray(photos["coffee"]).resize((90, 60)).save(tgt)
    tr = load_translator(tiny_pix2pix)
    c = compare_image(tr, src, tgt)
    assert np.array_equal(c.output, translate_array(tr, imaging.read_image(src).rgb))
    target = imaging.read_image(tgt).rgb
    assert c.psnr == pytest.approx(peak_signal_noise_ratio(target, c.output, data_range=255), abs=1e-4)
    ref_ssim = structural_similarity(target, c.output, data_range=255, channel_axis=-1, gaussian_weights=True,
                                     sigma=1.5, use_sample_covariance=False)
    assert c.ssim == pytest.approx(ref_ssim, abs=1e-4)
    assert c.verdict_output is not None and c.verdict_target is not None
    heat = c.heatmap()
    assert heat is not None and heat.shape == c.output.shape
    only = compare_image(tr, src)
    assert only.target is None and only.psnr is None and only.verdict_output is not None
    # --resize: input and target resized alike; without it, sizes must agree.
    assert compare_image(load_translator(tiny_pix2pix, InferenceOptions(resize=64)), src, tgt).output.shape == (64, 64, 3)
    Image.fromarray(photos["coffee"]).resize((80, 60)).save(tgt)
    with pytest.raises(ImageError, match="target is 80×60"):
        compare_image(tr, src, tgt)


def test_model_without_discriminator_gives_no_verdict(tmp_path: Path, photos: dict[str, np.ndarray]) -> None:
    model = save_model(build_model(ModelCard("g", "pix2pix", {"g": GeneratorSpec("unet_32", 4)})), tmp_path / "g.safetensors")
    Image.fromarray(photos["astronaut"]).resize((40, 40)).save(tmp_path / "x.png")
    c = compare_image(load_translator(model), tmp_path / "x.png")
    assert c.verdict_output is None and c.heatmap() is None


def test_pair_by_stem_lists_the_unmatched(tmp_path: Path, photos: dict[str, np.ndarray]) -> None:
    for side, names in (("A", ["1", "2", "3"]), ("B", ["2", "3", "4"])):
        (tmp_path / side).mkdir()
        for n in names:
            Image.fromarray(photos["coffee"][:20, :20]).save(tmp_path / side / f"{n}.png")
    p = pair_by_stem(tmp_path / "A", tmp_path / "B")
    assert [a.stem for a, _ in p.pairs] == ["2", "3"]
    assert [x.name for x in p.unmatched_inputs] == ["1.png"] and [x.name for x in p.unmatched_targets] == ["4.png"]
