"""How long does the app's UI thread stall while a batch job or a training run works?

Opens the real main window (offscreen), starts a 10 ms QTimer whose lateness measures how long
the event loop was blocked, then runs a batch translation of a folder of photos and a short
fine-tuning run from the window's own panels. Prints p50 / p99 / max of the event-loop lateness
for each phase (idle, batch, training).

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/ui_stall.py
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6.QtCore import QElapsedTimer, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from skimage import data  # noqa: E402


class Ticker:
    """Records how late each 10 ms tick fires (ms)."""

    def __init__(self, interval_ms: int = 10) -> None:
        self.interval = interval_ms
        self.late: list[float] = []
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.late.clear()
        self.clock.start()
        self.timer.start()

    def _tick(self) -> None:
        self.late.append(max(0.0, self.clock.restart() - self.interval))

    def summary(self) -> str:
        v = sorted(self.late)
        p99 = v[min(len(v) - 1, int(0.99 * len(v)))]
        return f"{statistics.median(v):.1f} | {p99:.1f} | {v[-1]:.1f} | {len(v)}"


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    os.environ["TRANSLATOR_MODELS_DIR"] = str(tmp / "models")
    from translator.checkpoint import ModelCard, build_model, save_model
    from translator.networks import DiscriminatorSpec, GeneratorSpec

    card = ModelCard("bench", "pix2pix", {"g": GeneratorSpec("unet_256", 32)}, {"d": DiscriminatorSpec("patch", 3, 32, "batch", 6)})
    save_model(build_model(card, seed=0), tmp / "models" / "bench.safetensors")
    photos = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
    for side in ("A", "B"):
        (tmp / "data" / side).mkdir(parents=True)
    for i in range(24):
        img = Image.fromarray(np.roll(photos[i % 4], 31 * i, axis=1)).resize((256, 256))
        img.save(tmp / "data" / "A" / f"{i:02d}.png")
        img.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(tmp / "data" / "B" / f"{i:02d}.png")

    app = QApplication(sys.argv[:1])
    from gui.main_window import MainWindow

    window = MainWindow(QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat))
    window.resize(1400, 900)
    window.show()
    ticker = Ticker()

    def wait(cond: object, timeout_s: float) -> None:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and not cond():  # type: ignore[operator]
            app.processEvents()
            time.sleep(0.001)

    rows = []
    ticker.start()
    wait(lambda: False, 3.0)
    rows.append(("idle", ticker.summary()))

    window.open_folder(tmp / "data" / "A")
    window.batch.output.setText(str(tmp / "out"))
    wait(lambda: not window.preview_jobs.is_busy(), 60)
    ticker.start()
    window.run_batch()
    wait(lambda: window.batch.is_running(), 10)
    wait(lambda: not window.batch.is_running(), 600)
    if len(list((tmp / "out").iterdir())) != 24:
        raise SystemExit("the batch did not write its 24 outputs")
    rows.append(("batch: 24 images 256², unet_256 ngf 32", ticker.summary()))

    panel = window.train_panel
    panel.steps.setValue(20)
    panel.config_overrides(load_size=286, crop_size=256, workers=2, val_every=5, sample_every=5, checkpoint_every=10,
                           d_warmup_steps=0)
    panel.set_data_folder(tmp / "data")
    wait(lambda: "pair" in panel.data_info.text(), 30)
    ticker.start()
    panel.start()
    wait(lambda: not panel.running(), 900)
    if panel.error.text() or panel.progress.value() != 20:
        raise SystemExit(f"the fine-tuning run did not complete: {panel.error.text()}")
    rows.append(("fine-tune: 20 steps at 256², from the selected model", ticker.summary()))
    window.close()
    print("| phase | p50 ms | p99 ms | max ms | ticks |")
    print("|---|---|---|---|---|")
    for name, s in rows:
        print(f"| {name} | {s} |")


if __name__ == "__main__":
    main()
