"""Train the demo models that ship in `weights/` from their recipes (`make weights`).

    .venv/bin/python -m weights.recipes.make_weights [--only NAME] [--steps N] [--out-dir DIR]

For each recipe (`weights/recipes/<name>.toml`, a `translator train` config file): build its
dataset (`build_data.py`, held-out photos excluded), train from scratch with
`translator.training.train` (a progress bar on stderr), then write `<out-dir>/<name>.safetensors`
with fp16 weights and a model card that says what the model does, what it learnt from (which
photos, how the targets were rendered, which photos were held out), the resolved recipe, the
step count and, for the paired model, its validation PSNR/SSIM.

Scratch space: the datasets go to `<work-dir>/demo-data/`, the run folders (log, samples,
checkpoints) to `<work-dir>/demo-runs/<name>/`, which is emptied first: every run starts from
scratch, so the file written is the recipe's output. `--steps`, `--per-photo`, `--workers` and
`--threads` exist for quick checks (the tests use them); a model made with `--steps` or
`--per-photo` says so on its card.
"""
from __future__ import annotations

import argparse
import logging
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from bench.quality.tasks import TEST_PHOTOS
from translator.checkpoint import MODEL_SUFFIX, load_model, save_model, with_card
from translator.cli import TrainBar
from translator.devices import resolve_device
from translator.errors import TranslatorError
from translator.jobs import run_job
from translator.training import TrainConfig, TrainResult, train
from weights.recipes.build_data import DATASETS, build, photo_sides, training_photos

RECIPES_DIR = Path(__file__).resolve().parent
ROOT = RECIPES_DIR.parents[1]
MAX_FILE_BYTES = 15 * 1024 * 1024  # what a shipped model may weigh

# name -> (what the model does, the names of its two domains)
TASKS: dict[str, tuple[str, tuple[str, str]]] = {
    "demo-day2night": ("day photo to night: the same scene darker, bluer and less saturated, as after dusk",
                  ("day photo", "night")),
    "demo-sketch2photo": ("sketch to photo: dark line art on white (pencil-like lines) to a photo-like picture",
                          ("sketch", "photo")),
    "demo-photo2painting": ("photo to painting (A→B) and painting to photo (B→A): the flat colours and dark "
                       "outlines of OpenCV's stylization filter", ("photo", "painting")),
}

# What a demo model cannot do, beyond being small and briefly trained (appended to its card's notes).
LIMITS: dict[str, str] = {
    "demo-sketch2photo": (
        "It learnt from line art made by `translator pairs --kind lineart`, not from drawings: hand-drawn lines "
        "(wobblier, sketchier, with shading or gaps) are outside what it saw and give muddier results. It knows "
        "only the colours and textures of its {photos} training photos (a portrait, a rocket, a Chinese temple, "
        "microscopy, a motorcycle, textures, text): it fills a drawing with those, it does not know what a "
        "drawn cat or tree should look like. Low resolution: trained at 256×256; larger drawings work but "
        "their detail does not grow."
    ),
}

CREDITS = ("Training photos: scikit-image's sample images (public domain / CC0 / no known copyright "
           "restrictions) and scikit-learn's china.jpg (by danielbuechele on Flickr, CC BY 2.0, "
           "https://creativecommons.org/licenses/by/2.0/); details in weights/README.md.")


def recipe_path(name: str) -> Path:
    return RECIPES_DIR / f"{name}.toml"


def _relative(path: Path) -> str:
    """`path` relative to the repository when it is inside it (cards should not name a home folder)."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _count_images(folder: Path) -> dict[str, int]:
    return {d.name: len(list(d.glob("*.png"))) for d in sorted(Path(folder).iterdir()) if d.is_dir()}


def card_changes(name: str, config: TrainConfig, result: TrainResult, data: Path, *, per_photo: int | None,
                 seconds: float, trained: dict[str, Any]) -> dict[str, Any]:
    """The model card fields a demo model gets on top of what training recorded (`trained`)."""
    task, domains = TASKS[name]
    quick = []
    if per_photo is not None:
        quick.append(f"only {per_photo} crop(s) per photo")
    recipe_steps = TrainConfig.from_file(recipe_path(name), data=data, out=config.out).steps
    if config.steps != recipe_steps:
        quick.append(f"{config.steps} steps instead of the recipe's {recipe_steps}")
    sides = photo_sides(name)
    training = dict(trained)
    training["data"] = {
        "builder": "weights/recipes/build_data.py",
        "kind": "paired" if config.kind == "pix2pix" else "unpaired",
        "photos": sides if config.kind == "cyclegan" else sides["A"],
        "held_out": list(TEST_PHOTOS),
        "rendering": DATASETS[name].rendering,
        "images": _count_images(data),
        "per_photo": per_photo,
    }
    training["recipe_file"] = _relative(recipe_path(name))
    training["wall_time_s"] = round(seconds, 1)
    training["torch"] = torch.__version__
    training["device"] = str(resolve_device(config.device))
    training["threads"] = torch.get_num_threads()
    if result.last_validation:
        training["validation"] = {**result.last_validation, "on": (
            "a seeded holdout of the training crops (not trained on, but from the same photos)")}
    limits = LIMITS[name].format(photos=len(training_photos())) + " " if name in LIMITS else ""
    quick_note = f" QUICK CHECK ({'; '.join(quick)}): not the shipped model." if quick else ""
    held_out = ", ".join(TEST_PHOTOS)
    notes = (
        f"A demo model of modest quality, small enough to ship: it shows what the tool does, not what "
        f"{config.kind} can do with more data and time. Trained from scratch for {result.steps_done} steps on crops "
        f"of {len(training_photos())} photos that ship with "
        f"scikit-image and scikit-learn ({DATASETS[name].rendering}). The photos in samples/ ({held_out}) were "
        f"held out: no crop of them was trained on. Training took {seconds / 60:.0f} minutes on {training['device']} "
        f"({training['threads']} thread(s)). {limits}{CREDITS}{quick_note}"
    )
    return {
        "task": task,
        "domains": domains,
        "source": f"demo model trained from scratch by `make weights` ({_relative(recipe_path(name))})",
        "training": training,
        "notes": notes,
    }


def make(name: str, *, out_dir: Path, work_dir: Path, steps: int | None = None, per_photo: int | None = None,
         workers: int | None = None, progress: bool = True) -> Path:
    """Build the data, train recipe `name` from scratch and write `out_dir/<name>.safetensors` (fp16)."""
    data = build(name, work_dir / "demo-data", per_photo=per_photo)
    run_dir = work_dir / "demo-runs" / name
    if run_dir.exists():
        shutil.rmtree(run_dir)  # a demo model is always one uninterrupted run of its recipe
    config = TrainConfig.from_file(recipe_path(name), data=data, out=run_dir, steps=steps, workers=workers)
    print(f"{name}: training {config.kind} ({config.generator_spec().arch}, {config.base_filters} filters) for "
          f"{config.steps} steps on {data}", file=sys.stderr)
    t0 = time.perf_counter()
    result = run_job(train(config), TrainBar().update if progress else None)
    seconds = time.perf_counter() - t0
    model = load_model(result.model_path)
    model = with_card(model, **card_changes(name, config, result, data, per_photo=per_photo, seconds=seconds,
                                            trained=model.card.training))
    path = save_model(model, Path(out_dir) / f"{name}{MODEL_SUFFIX}", dtype=torch.float16)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise TranslatorError(f"{path} is {size / 2**20:.1f} MiB, more than a shipped model may weigh "
                              f"({MAX_FILE_BYTES / 2**20:.0f} MiB): make the recipe's networks smaller")
    validation = result.last_validation
    scores = f", validation PSNR {validation['psnr']:.2f} dB, SSIM {validation['ssim']:.4f}" if validation else ""
    print(f"{name}: {path} ({size / 2**20:.1f} MiB, {result.steps_done} steps in {seconds / 60:.1f} min{scores})")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make_weights", description="Train the shipped demo models from their recipes (weights/recipes/*.toml).")
    parser.add_argument("--only", choices=list(DATASETS), action="append", metavar="NAME",
                        help=f"train only this model (repeatable; default all: {', '.join(DATASETS)})")
    parser.add_argument("--steps", type=int, metavar="N", help="train N steps instead of the recipe's (quick checks)")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "weights", help="where the model files go (default weights/)")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "out",
                        help="scratch space for the datasets and run folders (default out/)")
    parser.add_argument("--per-photo", type=int, metavar="N", help="only the first N crops of each photo (quick checks)")
    parser.add_argument("--workers", type=int, metavar="N", help="data loading processes (default: the recipe's)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads for torch (default: torch's; 1 is faster when another job shares the cores)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    threads = torch.get_num_threads()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        for name in args.only or list(DATASETS):
            make(name, out_dir=args.out_dir, work_dir=args.work_dir, steps=args.steps, per_photo=args.per_photo,
                 workers=args.workers, progress=not args.quiet)
    except TranslatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        torch.set_num_threads(threads)  # main() also runs inside tests: leave the process as it was
    return 0


if __name__ == "__main__":
    sys.exit(main())
