"""Strength: the translation blended with its input in linear light, without re-running the network."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from translator import imaging
from translator.blend import blend, check_strength, reblend
from translator.cli import main
from translator.evaluation import Judge, compare_image
from translator.inference import load_translator, plan_outputs, translate_files
from translator.jobs import run_job
from translator.metrics import psnr


def test_half_strength_mixes_light_not_encoded_values() -> None:
    black = np.zeros((4, 4, 3), np.uint8)
    white = np.full((4, 4, 3), 255, np.uint8)
    assert int(blend(black, white, 0.5)[0, 0, 0]) == 188  # half the light; mixing sRGB codes would give 128
    deep_black, deep_white = black.astype(np.uint16), white.astype(np.uint16) * 257
    assert abs(int(blend(deep_black, deep_white, 0.5)[0, 0, 0]) / 65535 - 0.7354) < 0.0005  # 16-bit: the same light


def test_the_ends_are_exact_and_the_middle_moves_monotonically(photos: dict[str, np.ndarray]) -> None:
    src = photos["astronaut"][::4, ::4]
    out = photos["coffee"][: src.shape[0], : src.shape[1]]
    assert np.array_equal(blend(src, out, 1.0), out)
    assert np.array_equal(blend(src, out, 0.0), src)
    dist = [float(np.abs(blend(src, out, s).astype(int) - out).mean()) for s in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert all(a > b for a, b in zip(dist, dist[1:])), dist


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan"), float("inf")])
def test_a_strength_outside_0_to_1_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        check_strength(bad)


def test_a_folder_job_at_strength_writes_the_blend_of_the_full_translation(tmp_path: Path, tiny_cyclegan: Path,
                                                                          photos: dict[str, np.ndarray]) -> None:
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photos["astronaut"][::4, ::4]).save(src / "astronaut.png")
    tr = load_translator(tiny_cyclegan)
    outs = {}
    for s in (1.0, 0.6, 0.0):
        run_job(translate_files(tr, plan_outputs([src], tmp_path / f"out{s}"), strength=s))
        outs[s] = imaging.read_image(tmp_path / f"out{s}" / "astronaut.png").rgb
    rgb = imaging.read_image(src / "astronaut.png").rgb
    assert np.array_equal(outs[0.0], rgb)
    assert np.array_equal(outs[0.6], blend(rgb, outs[1.0], 0.6))
    assert not np.array_equal(outs[0.6], outs[1.0])


def test_the_cli_takes_strength_and_refuses_nonsense(tmp_path: Path, tiny_cyclegan: Path, photos: dict[str, np.ndarray],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    one = tmp_path / "one.png"
    Image.fromarray(photos["coffee"][::4, ::4]).save(one)
    args = ["translate", str(one), "-m", str(tiny_cyclegan), "-q"]
    assert main([*args, "-o", str(tmp_path / "full")]) == 0
    assert main([*args, "-o", str(tmp_path / "faint"), "--strength", "0.3"]) == 0
    full, faint = (imaging.read_image(tmp_path / d / "one.png").rgb for d in ("full", "faint"))
    assert np.array_equal(faint, blend(imaging.read_image(one).rgb, full, 0.3))
    with pytest.raises(SystemExit):
        main([*args, "-o", str(tmp_path / "x"), "--strength", "1.7"])
    assert "between 0 and 1" in capsys.readouterr().err


def test_reblend_scores_what_is_shown_without_running_the_generator(tmp_path: Path, tiny_pix2pix: Path,
                                                                     photos: dict[str, np.ndarray]) -> None:
    src, tgt = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(photos["astronaut"][:128, :128]).save(src)
    Image.fromarray(photos["astronaut"][:128, :128]).save(tgt)  # the target is the input: strength 0 scores perfectly
    tr = load_translator(tiny_pix2pix)
    judge = Judge(tr)
    raw = compare_image(tr, src, tgt, judge=judge)
    calls = 0
    forward = tr.net.forward

    def counting(*a: object, **k: object) -> object:
        nonlocal calls
        calls += 1
        return forward(*a, **k)

    tr.net.forward = counting  # type: ignore[method-assign]
    half, none = reblend(raw, 0.5, judge), reblend(raw, 0.0, judge)
    assert calls == 0
    assert reblend(raw, 1.0, judge) is raw
    assert np.array_equal(none.output, raw.input)
    assert half.psnr == pytest.approx(psnr(half.output, raw.target))
    assert raw.psnr is not None and half.psnr is not None and none.psnr is not None and raw.psnr < half.psnr < none.psnr
    assert half.verdict_output is not None and raw.verdict_output is not None
    assert half.verdict_output.mean_realness != raw.verdict_output.mean_realness
