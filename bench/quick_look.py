"""How soon a large photo's preview shows something: request → quick look painted, and → full result.

The real main window, offscreen, with each shipped demo model; a 3000×2000 JPEG and a 4000×3000
JPEG (sample photos scaled up) are selected in turn, alternating so that nothing is reused
between requests; the clock runs from `session.set_current_image` to the quick look painted.
Two ways: "from idle" cancels the running full-resolution preview and waits for its worker to
stop before each request; "browsing" asks for the next image as soon as the quick look is
painted, so the stale full-resolution preview still runs until its current tile pass ends (the
full result at these sizes is issue 29's subject: minutes for InstanceNorm models). Goal
(issue 28): the quick look painted within 0.3 s on this 2-core CPU.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/quick_look.py [--rounds 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

MODELS = ("demo-day2night", "demo-photo2painting")
SIZES = ((3000, 2000), (4000, 3000))


def _wait(app: QApplication, done: object, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():  # type: ignore[operator]
        app.processEvents()
        if time.monotonic() > deadline:
            raise TimeoutError("the preview did not finish")
        time.sleep(0.001)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from gui.main_window import MainWindow
    from translator.checkpoint import resolve_model_path

    tmp = Path(tempfile.mkdtemp(prefix="quick-look-"))
    folder = tmp / "photos"
    folder.mkdir()
    names = []
    for i, (w, h) in enumerate(SIZES):
        for j, sample in enumerate(("chelsea.jpg", "coffee.jpg")):
            name = f"{i}{j}_{w}x{h}.jpg"
            Image.open(ROOT / "samples" / sample).convert("RGB").resize((w, h), Image.Resampling.BICUBIC).save(
                folder / name, quality=92)
            names.append(name)
    window = MainWindow(QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat))
    window.resize(1400, 900)
    window.show()
    view = window.preview.output_view
    print(f"{'model':22} {'image':>12} {'from idle p50 / max (s)':>24} {'browsing p50 / max (s)':>24}", flush=True)
    for model in MODELS:
        window.picker.select(resolve_model_path(model))
        window.open_folder(folder, folder / names[0])
        _wait(app, lambda: window.preview.quick_shown > 0)  # the model is loaded (its first quick look)
        for w, h in SIZES:
            images = [folder / n for n in names if n.endswith(f"{w}x{h}.jpg")]
            figures = []
            for idle in (True, False):
                quick_s = []
                for r in range(args.rounds):
                    image = images[r % 2] if window.session.current_image != images[r % 2] else images[(r + 1) % 2]
                    if idle:
                        window.preview_jobs.cancel()
                        _wait(app, lambda: not window.preview_jobs.is_busy())
                    seen = window.preview.quick_shown
                    t0 = time.perf_counter()
                    window.session.set_current_image(image)
                    _wait(app, lambda: window.preview.quick_shown > seen)
                    view.repaint()  # painted, not only set
                    quick_s.append(time.perf_counter() - t0)
                figures.append(f"{statistics.median(quick_s):.3f} / {max(quick_s):.3f}")
            print(f"{model:22} {w}x{h:>7} {figures[0]:>24} {figures[1]:>24}", flush=True)
    window.preview_jobs.cancel()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
