"""Open the real main window in a given state, for the screenshots in README and docs/.

Run it under `../shared/tools/screenshot` (a virtual screen), e.g.

    ../shared/tools/screenshot docs/compare.png 20 -- .venv/bin/python docs/screenshots.py \
        --size 1400x900 --compare demo-photo2painting

It uses a throw-away settings file, the shipped demo models and `samples/`; it changes nothing
of the user's. States: the preview (optionally comparing with a second model, with a changed
precision), the Sketch tab (with `--strokes`, a small drawing made with QTest mouse strokes),
the Batch tab with a batch running, the Fine-tune tab.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QPoint, QSettings, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gui import i18n  # noqa: E402
from gui.main_window import TAB_BATCH, TAB_FINETUNE, TAB_HISTORY, TAB_SKETCH, MainWindow  # noqa: E402
from gui.widgets.sketch_canvas import SketchCanvas  # noqa: E402
from translator.checkpoint import resolve_model_path  # noqa: E402


def _night_pairs(root: Path, copies: int) -> Path:
    """`root/A`: the samples (PNG); `root/B`: their night gradings (the quality benchmark's); with
    `copies` > 1, that many shifted copies of each (for a batch that runs a while). Returns A."""
    import numpy as np

    from bench.quality.tasks import night
    from translator import imaging

    for side in ("A", "B"):
        (root / side).mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "samples").glob("*.jpg")):
        rgb = imaging.read_image(path).rgb
        for i in range(copies):
            shifted = np.roll(rgb, 7 * i, axis=1)
            name = f"{path.stem}.png" if i == 0 else f"{path.stem}_{i:03d}.png"
            imaging.write_image(root / "A" / name, shifted)
            imaging.write_image(root / "B" / name, night(shifted))
    return root / "A"


# A house on a hill under the sun, as polylines in fractions of the canvas (x, y).
_DRAWING: list[list[tuple[float, float]]] = [
    [(0.0, 0.78), (0.2, 0.72), (0.45, 0.7), (0.7, 0.73), (1.0, 0.8)],  # the hill
    [(0.3, 0.71), (0.3, 0.48), (0.6, 0.48), (0.6, 0.7)],  # walls
    [(0.26, 0.5), (0.45, 0.32), (0.64, 0.5)],  # roof
    [(0.4, 0.7), (0.4, 0.58), (0.47, 0.58), (0.47, 0.7)],  # door
    [(0.51, 0.53), (0.57, 0.53), (0.57, 0.59), (0.51, 0.59), (0.51, 0.53)],  # window
    [(0.8, 0.12), (0.87, 0.15), (0.9, 0.22), (0.87, 0.29), (0.8, 0.32), (0.73, 0.29), (0.7, 0.22), (0.73, 0.15),
     (0.8, 0.12)],  # the sun
    [(0.05, 0.3), (0.12, 0.25), (0.2, 0.27), (0.27, 0.24), (0.33, 0.3)],  # a cloud
]


def draw(canvas: SketchCanvas, drawing: list[list[tuple[float, float]]]) -> None:
    """Draw `drawing` with QTest mouse strokes, a few pointer moves per segment."""
    r = canvas.image_rect()

    def at(x: float, y: float) -> QPoint:
        return QPoint(round(r.left() + x * r.width()), round(r.top() + y * r.height()))

    for line in drawing:
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(*line[0]))
        for (x0, y0), (x1, y1) in zip(line, line[1:]):
            for k in range(1, 5):
                QTest.mouseMove(canvas, at(x0 + (x1 - x0) * k / 4, y0 + (y1 - y0) * k / 4))
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(*line[-1]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="1400x900", help="window size, WxH")
    p.add_argument("--model", default="demo-day2night")
    p.add_argument("--compare", help="a second model to compare with")
    p.add_argument("--compare-direction", default=None)
    p.add_argument("--image", default="chelsea.jpg", help="the sample shown")
    p.add_argument("--precision", help="change the precision after the first preview (the preview refreshes)")
    p.add_argument("--tab", choices=["preview", "sketch", "batch", "finetune", "history"], default="preview")
    p.add_argument("--strokes", action="store_true", help="on the Sketch tab, draw a small house with mouse strokes")
    p.add_argument("--advanced", action="store_true", help="unfold the Advanced settings")
    p.add_argument("--strength", type=int, default=100, help="the strength slider, in percent")
    p.add_argument("--targets", action="store_true",
                   help="open a copy of samples/ as A/ with night gradings of it as the targets in B/")
    p.add_argument("--heatmap", action="store_true", help="show the discriminator's heat-map")
    p.add_argument("--batch-copies", type=int, default=1, help="batch over this many copies of each sample (a longer run)")
    p.add_argument("--train-steps", type=int, default=0, help="start fine-tuning for this many steps on the night pairs")
    p.add_argument("--language", choices=i18n.LANGUAGES, default="en", help="the app's language (default English)")
    args = p.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    i18n.install(app, args.language)  # before the window is built, as the app does
    scratch = Path(tempfile.mkdtemp(prefix="translator-shots-"))
    os.environ["TRANSLATOR_DATA_DIR"] = str(scratch / "data-dir")  # a history of this session only
    window = MainWindow(QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat))
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    window.move(0, 0)
    window.picker.select(resolve_model_path(args.model))
    if args.compare:
        window.set_second_model(resolve_model_path(args.compare), args.compare_direction)
    folder = ROOT / "samples"
    if args.targets or args.train_steps or args.batch_copies > 1:
        folder = _night_pairs(scratch / "data", args.batch_copies)
    window.open_folder(folder, folder / Path(args.image).with_suffix(".png").name if folder != ROOT / "samples"
                       else folder / args.image)
    if args.heatmap:
        window.preview.readouts.heatmap.setChecked(True)
    window.library.options.advanced.set_expanded(args.advanced)
    window.library.options.strength.slider.setValue(args.strength)
    if args.precision:
        QTimer.singleShot(4000, lambda: window.library.options.precision.setCurrentText(args.precision))
    if args.tab in ("batch", "history"):
        window.session.set_output_folder(scratch / "out")
        QTimer.singleShot(500, window.run_batch)
        if args.tab == "history":  # a batch, then a second one at another strength, then the list
            def again() -> None:
                window.session.set_output_folder(scratch / "out-soft")
                window.session.set_strength(0.6)
                window.batch.finished.disconnect(again)
                window.batch.finished.connect(lambda _s: window.tabs.setCurrentIndex(TAB_HISTORY))
                QTimer.singleShot(200, window.run_batch)
            window.batch.finished.connect(again)
    elif args.tab == "finetune":
        window.tabs.setCurrentIndex(TAB_FINETUNE)
        if args.train_steps:
            panel = window.train_panel
            panel.steps.setValue(args.train_steps)
            panel.config_overrides(load_size=286, crop_size=256, val_every=5, sample_every=5, checkpoint_every=1000)
            panel.set_data_folder(folder.parent)
            QTimer.singleShot(3000, panel.start)
        else:
            window.train_panel.set_data_folder(ROOT / "samples")
    window.show()
    if args.tab == "batch":
        window.tabs.setCurrentIndex(TAB_BATCH)
    elif args.tab == "sketch":
        window.tabs.setCurrentIndex(TAB_SKETCH)  # opens with a model that takes sketches, when there is one
        if args.strokes:
            QTimer.singleShot(500, lambda: draw(window.sketch.canvas, _DRAWING))
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
