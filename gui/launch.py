"""`make run`: open the app on `samples/` with a shipped demo model, or, without a display,
translate the samples on the command line.

    python -m gui.launch [--weights DIR] [--samples DIR] [--output DIR] [--headless]

The model is `demo-day2night` when `weights/` (or else the user models folder, where `translator zoo
get` puts downloads) has it, else the first readable model in `weights/`, else the first in the
user models folder, else none (the app then opens without one; the headless path says how to
make or get one and exits 1).

"No display" means Linux (or another X11/Wayland system) with neither `DISPLAY` nor
`WAYLAND_DISPLAY` set; macOS and Windows always have one. Qt is imported only when the app opens.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from translator.checkpoint import MODEL_SUFFIX, find_models, resolve_model_path
from translator.errors import TranslatorError
from translator.paths import shipped_weights_dir, user_models_dir

ROOT = Path(__file__).resolve().parents[1]
PREFERRED_MODEL = "demo-day2night"
NO_MODEL_HINT = (
    "no model in {weights}/ or your models folder yet: train the shipped ones with `make weights` (30–50 minutes on a 2-core CPU), "
    "or download a pretrained one with `.venv/bin/translator zoo get day2night` (or File → Get models… in the app)"
)


def has_display(environ: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """False on X11/Wayland systems (Linux, the BSDs) when neither display variable is set.
    `environ` and `platform` default to this process's."""
    env = os.environ if environ is None else environ
    if (platform or sys.platform) in ("win32", "cygwin", "darwin"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def choose_model(folders: Sequence[Path]) -> Path | None:
    """`demo-day2night` from the first of `folders` that has it, else the first readable model of the
    first folder that has any, else None."""
    found = [[path for path, _card in find_models([folder])] for folder in folders]
    for folder, models in zip(folders, found):
        if folder / f"{PREFERRED_MODEL}{MODEL_SUFFIX}" in models:
            return folder / f"{PREFERRED_MODEL}{MODEL_SUFFIX}"
    return next((models[0] for models in found if models), None)


def _shown(path: Path) -> str:
    """`path` relative to the current folder when it is below it (shorter messages)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def translate_headless(model: Path | None, samples: Path, output: Path, weights: Path) -> int:
    """The no-display path: translate `samples` into `output` with the `translator` command's code."""
    if model is None:
        print(NO_MODEL_HINT.format(weights=_shown(weights)))
        return 1
    from translator.cli import main as translator_main

    try:  # the model's name when that name finds this very file, else its path
        name = model.stem if resolve_model_path(model.stem).resolve() == model.resolve() else _shown(model)
    except TranslatorError:
        name = _shown(model)
    print(f"translating instead: translator translate {_shown(samples)} --model {name} --output {_shown(output)}")
    code = translator_main(["translate", str(samples), "--model", str(model), "--output", str(output)])
    if code == 0:
        print(f"results: {_shown(output)}/ (the inputs are in {_shown(samples)}/)")
    return code


def open_app(model: Path | None, samples: Path, weights: Path) -> int:
    """Open the desktop app on `samples` with `model` selected."""
    from gui.app import main as app_main

    if model is None:
        print(NO_MODEL_HINT.format(weights=_shown(weights)) + "; the app opens without one")
    return app_main([str(samples)] + (["--model", str(model)] if model is not None else []))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gui.launch", description="Open the app on the sample photos with a demo model (make run).")
    parser.add_argument("--weights", type=Path, default=shipped_weights_dir(), help="folder of the shipped models (default weights/)")
    parser.add_argument("--samples", type=Path, default=ROOT / "samples", help="folder of images to open (default samples/)")
    parser.add_argument("--output", type=Path, default=ROOT / "out" / "demo", help="where the no-display path writes (default out/demo)")
    parser.add_argument("--headless", action="store_true", help="take the no-display path even where there is a display")
    args = parser.parse_args(argv)
    model = choose_model([args.weights, user_models_dir()])
    if args.headless or not has_display():
        if not args.headless:
            print("No display (DISPLAY and WAYLAND_DISPLAY are unset), so the app cannot open; "
                  "run `make run` on a desktop to see it.")
        return translate_headless(model, args.samples, args.output, args.weights)
    return open_app(model, args.samples, args.weights)


if __name__ == "__main__":
    sys.exit(main())
