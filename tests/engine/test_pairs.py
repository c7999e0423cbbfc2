"""Training pairs from photos (`translator pairs`): every kind on real photos, pixel-aligned pairs,
line art that looks like a sketch of the photo, bad files named and skipped, nothing partial,
resumable, and the input look carried into a trained model's card."""
from __future__ import annotations

import json
import shutil
from collections.abc import Generator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from sklearn.datasets import load_sample_images
from skimage import data

from translator import __version__, imaging
from translator.checkpoint import InputStyle, load_model, read_card
from translator.choices import PAIR_KINDS, PairKind
from translator.cli import main
from translator.errors import JobCancelled, TranslatorError
from translator.jobs import CancelToken, Progress, run_job
from translator.pairs import (
    MANIFEST_NAME,
    PairsSummary,
    input_style,
    make_input,
    make_pair,
    make_pairs,
    preview_pairs,
    read_pairs_manifest,
)
from translator.training import TrainConfig, train

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"


def _photo_set() -> dict[str, np.ndarray]:
    china, flower = load_sample_images().images
    return {"astronaut": data.astronaut(), "chelsea": data.chelsea(), "coffee": data.coffee(),
            "camera": np.repeat(data.camera()[..., None], 3, axis=2), "china": china, "flower": flower}


@pytest.fixture(scope="module")
def real_photos() -> dict[str, np.ndarray]:
    """Colour and grey photos from scikit-image and scikit-learn, (H, W, 3) uint8."""
    return _photo_set()


@pytest.fixture()
def photo_dir(tmp_path: Path, real_photos: dict[str, np.ndarray]) -> Path:
    """A folder of four real photos: PNG and JPEG files of different sizes and aspect ratios."""
    folder = tmp_path / "photos"
    for name in ("astronaut", "chelsea", "coffee"):
        imaging.write_image(folder / f"{name}.png", real_photos[name])
    imaging.write_image(folder / "china.jpg", real_photos["china"], quality=92)
    return folder


def _run(job: Generator[Progress, None, PairsSummary]) -> tuple[list[Progress], PairsSummary]:
    events: list[Progress] = []
    summary = run_job(job, events.append)
    return events, summary


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _read(path: Path) -> np.ndarray:
    return imaging.read_image(path).rgb


def _centre_crop(rgb: np.ndarray, size: int) -> np.ndarray:
    """Variant 0's B, computed here independently: the centre square, area-resized."""
    h, w = rgb.shape[:2]
    s = min(h, w)
    square = rgb[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    return cv2.resize(np.ascontiguousarray(square), (size, size), interpolation=cv2.INTER_AREA)


def _gray3(rgb: np.ndarray) -> np.ndarray:
    return np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)


# --- every kind -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", PAIR_KINDS)
def test_every_kind_writes_pixel_aligned_pairs(kind: PairKind, photo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    _events, summary = _run(make_pairs(photo_dir, out, kind=kind, size=96, variants=2, seed=3))
    assert not summary.failed and len(summary.written) == 8
    names = _names(out / "A")
    assert names == _names(out / "B") == sorted(f"{s}{v}.png" for s in ("astronaut", "chelsea", "coffee", "china")
                                                for v in ("", "_v1"))
    for name in names:
        a, b = _read(out / "A" / name), _read(out / "B" / name)
        assert a.shape == b.shape == (96, 96, 3)
        if kind == "gray":
            np.testing.assert_array_equal(a, _gray3(b))
        elif kind == "downscale":
            small = cv2.resize(b, (24, 24), interpolation=cv2.INTER_AREA)
            np.testing.assert_array_equal(a, cv2.resize(small, (96, 96), interpolation=cv2.INTER_CUBIC))
        elif kind == "blur":
            # a Gaussian blur of B with a sigma in the drawn range (1-3 px at 256², so 0.375-1.125 here)
            errors = {s: np.abs(a.astype(float) - cv2.GaussianBlur(b, (0, 0), s, borderType=cv2.BORDER_REFLECT)).mean()
                      for s in np.linspace(0.375, 1.125, 31)}
            assert min(errors.values()) < 0.6, errors
            assert np.abs(a.astype(float) - b).mean() > 2 * min(errors.values())  # it is blurred
        else:  # line kinds: grey lines on a white page, where B has edges
            assert (a == a[..., :1]).all() and (a[..., 0] >= 250).mean() > 0.6
    # variant 0 is the centre square of each photo, exactly
    for stem, suffix in (("astronaut", ".png"), ("chelsea", ".png"), ("coffee", ".png"), ("china", ".jpg")):
        np.testing.assert_array_equal(_read(out / "B" / f"{stem}.png"), _centre_crop(_read(photo_dir / f"{stem}{suffix}"), 96))
    # variant 1 is another crop of the same photo
    assert np.abs(_read(out / "B" / "astronaut_v1.png").astype(int) - _read(out / "B" / "astronaut.png")).mean() > 5


def test_edges_are_one_pixel_black_on_white(real_photos: dict[str, np.ndarray]) -> None:
    a, b = make_pair(real_photos["coffee"], "edges", size=256, variant=0, seed=0, name="coffee")
    assert set(np.unique(a)) == {0, 255}
    ink = a[..., 0] == 0
    assert 0.01 < ink.mean() < 0.12
    # 1 px wide: eroding the lines with a 2×2 square leaves almost nothing
    assert cv2.erode(ink.astype(np.uint8), np.ones((2, 2), np.uint8)).sum() < 0.05 * ink.sum()


# --- line art -------------------------------------------------------------------------------------


def _near_edges_share(mask: np.ndarray, photo: np.ndarray, radius: float = 3.0) -> float:
    """Share of `mask`'s pixels within `radius` px of a Canny edge of `photo` (standard thresholds)."""
    edges = cv2.Canny(cv2.GaussianBlur(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY), (0, 0), 1.0), 50, 150)
    distance = cv2.distanceTransform((edges == 0).astype(np.uint8), cv2.DIST_L2, 3)
    return float((distance[mask] <= radius).mean())


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee", "camera", "china", "flower"])
def test_lineart_is_dark_connected_lines_on_white_along_the_photos_edges(name: str, real_photos: dict[str, np.ndarray]) -> None:
    rng = np.random.default_rng(7)
    for variant in range(3):
        a, b = make_pair(real_photos[name], "lineart", size=256, variant=variant, seed=0, name=name)
        gray = a[..., 0]
        ink = gray < 128
        assert 0.02 < ink.mean() < 0.25, f"{name} v{variant}: ink {ink.mean():.3f}"
        assert (gray >= 250).mean() > 0.7  # a white page
        assert gray[ink].mean() < 80  # dark lines
        # connected strokes, not specks: tiny components hold almost none of the ink
        count, _labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
        areas = stats[1:, cv2.CC_STAT_AREA]
        assert areas[areas < 10].sum() < 0.03 * ink.sum() and np.median(areas) >= 20
        # the lines follow the photo's edges, far more than pixels drawn at random
        on_edges = _near_edges_share(ink, b)
        at_random = _near_edges_share(rng.random(ink.shape) < ink.mean(), b)
        assert on_edges > 0.6 and on_edges > 1.8 * at_random, (name, variant, on_edges, at_random)


def test_lineart_width_varies_from_image_to_image(real_photos: dict[str, np.ndarray]) -> None:
    b = _centre_crop(real_photos["astronaut"], 256)
    inks = [(make_input(b, "lineart", rng=np.random.default_rng(s))[..., 0] < 128).mean() for s in range(8)]
    assert max(inks) > 1.6 * min(inks)  # 1 to 3 px lines over the same edges
    # and the same draws give the same image (pure)
    again = make_input(b, "lineart", rng=np.random.default_rng(3))
    np.testing.assert_array_equal(again, make_input(b, "lineart", rng=np.random.default_rng(3)))


def test_variants_differ_and_seeds_repeat(real_photos: dict[str, np.ndarray]) -> None:
    photo = real_photos["chelsea"]
    pairs = [make_pair(photo, "lineart", size=128, variant=v, seed=0, name="chelsea") for v in range(4)]
    for i in range(4):
        for j in range(i + 1, 4):
            assert not np.array_equal(pairs[i][1], pairs[j][1]) and not np.array_equal(pairs[i][0], pairs[j][0])
    again = make_pair(photo, "lineart", size=128, variant=2, seed=0, name="chelsea")
    np.testing.assert_array_equal(again[0], pairs[2][0])
    other_seed = make_pair(photo, "lineart", size=128, variant=2, seed=1, name="chelsea")
    assert not np.array_equal(other_seed[1], pairs[2][1])


# --- the job --------------------------------------------------------------------------------------


def test_a_bad_file_is_named_and_the_rest_are_written(photo_dir: Path, tmp_path: Path) -> None:
    shutil.copy(BAD / "truncated_jpeg.jpg", photo_dir / "broken.jpg")
    (photo_dir / "notes.png").write_text("this is not an image")
    out = tmp_path / "dataset"
    events, summary = _run(make_pairs(photo_dir, out, kind="gray", size=64))
    assert sorted(f.item.name for f in summary.failed) == ["broken.jpg", "notes.png"]
    assert all(str(f.item) in str(f.error) for f in summary.failed)
    assert [e.result.status for e in events if e.result and e.result.item.name == "broken.jpg"] == ["failed"]
    assert _names(out / "A") == _names(out / "B") == ["astronaut.png", "chelsea.png", "china.png", "coffee.png"]
    assert events[-1].done == events[-1].total == 6


def test_a_rerun_skips_finished_pairs_and_overwrite_remakes_them(photo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    _run(make_pairs(photo_dir, out, kind="lineart", size=64, variants=2))
    (out / "B" / "coffee_v1.png").unlink()  # an interrupted pair: only its A is left
    stamps = {p: p.stat().st_mtime_ns for p in (out / "A").iterdir()}
    events, summary = _run(make_pairs(photo_dir, out, kind="lineart", size=64, variants=2))
    assert summary.written == [out / "A" / "coffee_v1.png"] and len(summary.skipped) == 7
    assert [e.result.status for e in events if e.result] == ["skipped", "skipped", "skipped", "written"]
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items() if p.name != "coffee_v1.png")
    # the remade pair is the one an uninterrupted run makes
    fresh = tmp_path / "fresh"
    _run(make_pairs(photo_dir, fresh, kind="lineart", size=64, variants=2))
    for side in ("A", "B"):
        np.testing.assert_array_equal(_read(out / side / "coffee_v1.png"), _read(fresh / side / "coffee_v1.png"))
    _events, summary = _run(make_pairs(photo_dir, out, kind="lineart", size=64, variants=2, overwrite=True))
    assert len(summary.written) == 8 and not summary.skipped


def test_cancel_leaves_only_complete_pairs_and_a_rerun_finishes(photo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    token = CancelToken()
    job = make_pairs(photo_dir, out, kind="blur", size=64, variants=3, token=token)
    next(job)
    token.cancel()
    with pytest.raises(JobCancelled):
        next(job)
    assert _names(out / "A") == _names(out / "B") == ["astronaut.png", "astronaut_v1.png", "astronaut_v2.png"]
    _events, summary = _run(make_pairs(photo_dir, out, kind="blur", size=64, variants=3))
    assert len(summary.skipped) == 3 and len(summary.written) == 9
    assert len(_names(out / "A")) == len(_names(out / "B")) == 12


def test_a_pair_whose_b_cannot_be_written_leaves_no_a(photo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    (out / "B" / "chelsea.png").mkdir(parents=True)  # B's name is taken by a folder: its write fails
    _events, summary = _run(make_pairs(photo_dir, out, kind="gray", size=64))
    assert [f.item.name for f in summary.failed] == ["chelsea.png"]
    assert "chelsea.png" not in _names(out / "A")
    assert _names(out / "A") == ["astronaut.png", "china.png", "coffee.png"]
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temporary file left


def test_a_dataset_folder_inside_the_photos_is_refused(photo_dir: Path) -> None:
    for out in (photo_dir, photo_dir / "pairs", photo_dir / "a" / "b"):
        with pytest.raises(TranslatorError, match="inside the photo folder"):
            next(make_pairs(photo_dir, out, kind="gray"))
    assert _names(photo_dir) == ["astronaut.png", "chelsea.png", "china.jpg", "coffee.png"]


def test_recursive_takes_sub_folders_and_keeps_names_apart(photo_dir: Path, tmp_path: Path, real_photos: dict[str, np.ndarray]) -> None:
    imaging.write_image(photo_dir / "more" / "astronaut.png", real_photos["flower"])
    out = tmp_path / "dataset"
    _run(make_pairs(photo_dir, out, kind="gray", size=32))
    assert "more__astronaut.png" not in _names(out / "A")
    _events, summary = _run(make_pairs(photo_dir, out, kind="gray", size=32, recursive=True))
    assert summary.written == [out / "A" / "more__astronaut.png"]
    # two photos that would make the same pair name: the second is a named failure, not a silent overwrite
    imaging.write_image(photo_dir / "coffee.jpg", real_photos["camera"])
    _events, summary = _run(make_pairs(photo_dir, tmp_path / "other", kind="gray", size=32))
    assert [f.item.name for f in summary.failed] == ["coffee.png"] and "rename one" in str(summary.failed[0].error)


def test_manifest_records_how_the_pairs_were_made(photo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    _run(make_pairs(photo_dir, out, kind="lineart", size=128, variants=2, seed=5))
    manifest = read_pairs_manifest(out)
    assert manifest is not None and json.loads((out / MANIFEST_NAME).read_text()) == manifest
    assert (manifest["kind"], manifest["size"], manifest["variants"], manifest["seed"]) == ("lineart", 128, 2, 5)
    assert __version__ in manifest["made_by"] and manifest["pairs"]["written"] == 8
    style = InputStyle.from_dict(manifest["input_style"])
    assert style == input_style("lineart", 128) and style.ink == "#000000" and style.paper == "#ffffff"
    assert style.line_width == 1.0  # 1-3 px at 256², halved at 128²
    _run(make_pairs(photo_dir, tmp_path / "gray", kind="gray", size=64))
    assert "input_style" not in (read_pairs_manifest(tmp_path / "gray") or {})
    assert read_pairs_manifest(photo_dir) is None
    (tmp_path / "gray" / MANIFEST_NAME).write_text("{not json")
    assert read_pairs_manifest(tmp_path / "gray") is None
    # pairs made another way are not mixed into the folder
    with pytest.raises(TranslatorError, match="made with kind lineart, size 128, seed 5, not kind gray, size 64, seed 0"):
        next(make_pairs(photo_dir, out, kind="gray", size=64))


def test_preview_makes_pairs_in_memory_as_the_job_writes_them(photo_dir: Path, tmp_path: Path) -> None:
    before = sorted(p.name for p in photo_dir.rglob("*"))
    pairs = preview_pairs(photo_dir, "lineart", size=64, count=2)
    assert len(pairs) == 2 and sorted(p.name for p in photo_dir.rglob("*")) == before
    out = tmp_path / "dataset"
    _run(make_pairs(photo_dir, out, kind="lineart", size=64))
    written = [(_read(out / "A" / n), _read(out / "B" / n)) for n in _names(out / "A")]
    for a, b in pairs:
        assert any(np.array_equal(a, wa) and np.array_equal(b, wb) for wa, wb in written)
    shutil.copy(BAD / "truncated_jpeg.jpg", photo_dir / "aaa.jpg")  # first in the folder: passed over
    assert len(preview_pairs(photo_dir, "gray", size=32, count=5)) == 4


# --- command line and training --------------------------------------------------------------------


def test_cli_pairs_end_to_end(photo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dataset"
    assert main(["pairs", str(photo_dir), "--out", str(out), "--kind", "edges", "--size", "64", "--variants", "2", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "pairs written 8, skipped 0" in printed and f"--data {out}" in printed
    assert len(_names(out / "A")) == 8 and read_pairs_manifest(out) is not None
    shutil.copy(BAD / "truncated_jpeg.jpg", photo_dir / "broken.jpg")
    assert main(["pairs", str(photo_dir), "--out", str(out), "--kind", "edges", "--size", "64", "--variants", "2", "-q"]) == 1
    printed = capsys.readouterr().out
    assert "pairs written 0, skipped 8" in printed and "photos failed 1" in printed and "broken.jpg" in printed
    assert main(["pairs", str(photo_dir), "--out", str(photo_dir / "x"), "--kind", "gray"]) == 2
    assert "inside the photo folder" in capsys.readouterr().err


def test_training_on_made_lineart_carries_the_input_look_into_the_card(
    photo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "dataset"
    _run(make_pairs(photo_dir, data_dir, kind="lineart", size=64, variants=3))
    common: dict[str, Any] = dict(generator="unet_64", base_filters=4, d_base_filters=4, load_size=64, crop_size=64,
                                  batch_size=2, workers=0, steps=2, ema=False)
    result = run_job(train(TrainConfig("pix2pix", data_dir, tmp_path / "run", **common)))
    card = load_model(result.model_path).card
    assert card.input_style == input_style("lineart", 64)
    assert card.training["pairs"]["kind"] == "lineart" and card.training["pairs"]["size"] == 64
    assert main(["inspect", str(result.model_path)]) == 0
    assert "input look:  dark pencil-like lines on white" in capsys.readouterr().out
    # trained the other way round, the photo is the input: no line look
    result = run_job(train(TrainConfig("pix2pix", data_dir, tmp_path / "back", direction="BtoA", **common)))
    assert load_model(result.model_path).card.input_style is None


def test_the_shipped_sketch_model_says_how_to_draw_and_what_it_learnt_from() -> None:
    path = Path(__file__).resolve().parents[2] / "weights" / "demo-sketch2photo.safetensors"
    assert path.stat().st_size <= 15 * 1024 * 1024
    card = read_card(path)
    assert card.kind == "pix2pix" and card.direction == "AtoB" and card.image_size == 256
    assert card.input_style == input_style("lineart", 256)
    assert card.training["pairs"]["kind"] == "lineart" and card.training["pairs"]["size"] == 256
    assert "QUICK CHECK" not in card.notes and "not from drawings" in card.notes and "minutes" in card.notes
    held_out = card.training["data"]["held_out"]
    assert held_out and not set(held_out) & set(card.training["data"]["photos"])


def test_a_folder_of_photos_is_offered_pairs_at_the_models_size(photo_dir: Path, tmp_path: Path,
                                                               tiny_pix2pix: Path) -> None:
    """What the Fine-tune tab asks: a dataset, or photos to make pairs from (at the starting
    model's training size), or the scan's own error for a folder with nothing to offer."""
    from translator.datasets import DatasetScan
    from translator.pairs import PhotoFolder, default_pairs_folder, scan_or_photos

    found = scan_or_photos(photo_dir, paired=True, start_model=tiny_pix2pix)
    assert isinstance(found, PhotoFolder) and found.count == len(imaging.list_images(photo_dir))
    assert found.size == read_card(tiny_pix2pix).image_size and f"{found.count} photos" in found.describe()
    assert scan_or_photos(photo_dir, paired=True, start_model=None).size == 256
    out = default_pairs_folder(photo_dir, "lineart")
    _run(make_pairs(photo_dir, out, kind="lineart", size=64))
    assert isinstance(scan_or_photos(out, paired=True, start_model=None), DatasetScan)
    (tmp_path / "empty").mkdir()
    with pytest.raises(TranslatorError):
        scan_or_photos(tmp_path / "empty", paired=True, start_model=None)
