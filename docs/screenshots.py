"""Open the real main window in a given state, for the screenshots in README and docs/.

Run it under `../shared/tools/screenshot` (a virtual screen), e.g.

    ../shared/tools/screenshot docs/compare.png 20 -- .venv/bin/python docs/screenshots.py \
        --size 1400x900 --compare demo-photo2painting

It uses a throw-away settings file, the shipped demo models and `samples/`; it changes nothing
of the user's. States: the preview (optionally comparing with a second model, with a changed
precision), the Batch tab with a batch running, the Fine-tune tab.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gui.main_window import TAB_BATCH, TAB_FINETUNE, MainWindow  # noqa: E402
from translator.checkpoint import resolve_model_path  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="1400x900", help="window size, WxH")
    p.add_argument("--model", default="demo-day2night")
    p.add_argument("--compare", help="a second model to compare with")
    p.add_argument("--compare-direction", default=None)
    p.add_argument("--image", default="chelsea.jpg", help="the sample shown")
    p.add_argument("--precision", help="change the precision after the first preview (the preview refreshes)")
    p.add_argument("--tab", choices=["preview", "batch", "finetune"], default="preview")
    p.add_argument("--advanced", action="store_true", help="unfold the Advanced settings")
    args = p.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    scratch = Path(tempfile.mkdtemp(prefix="translator-shots-"))
    window = MainWindow(QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat))
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    window.move(0, 0)
    window.picker.select(resolve_model_path(args.model))
    if args.compare:
        window.set_second_model(resolve_model_path(args.compare), args.compare_direction)
    window.open_folder(ROOT / "samples", ROOT / "samples" / args.image)
    window.library.options.advanced.set_expanded(args.advanced)
    if args.precision:
        QTimer.singleShot(4000, lambda: window.library.options.precision.setCurrentText(args.precision))
    if args.tab == "batch":
        window.session.set_output_folder(scratch / "out")
        QTimer.singleShot(500, window.run_batch)
    elif args.tab == "finetune":
        window.tabs.setCurrentIndex(TAB_FINETUNE)
        window.train_panel.set_data_folder(ROOT / "samples")
    window.show()
    if args.tab == "batch":
        window.tabs.setCurrentIndex(TAB_BATCH)
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
