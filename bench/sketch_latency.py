"""How fast does the Sketch tab show what was drawn, and does drawing ever stall the UI thread?

Opens the real main window (offscreen) on the Sketch tab and draws with QTest mouse events the
way a hand does: each stroke is a wavy line of 4 to `--moves` pointer moves (drawn at random, so
a stroke ends at any point of a translation running while it is drawn), one every 16 ms (a 60 Hz
mouse); then the button is released. Latency is
the time from the release to the first paint of the result view after it received the result of
the final drawing (an event filter on the view's viewport). A 10 ms QTimer's lateness
(`bench/ui_stall.py`'s Ticker) measures how long the UI thread was blocked while drawing.

Configurations: the shipped `demo-sketch2photo` (when it is in `weights/`) and a full-size
`unet_256` (ngf 64, random weights) at 256² and 512² canvases. A profile line per configuration
splits one translation's cost: the network alone (`translate_array` outside the app), copying
the drawing (`SketchCanvas.sketch`), handing the result to the view (`ImageView.set_image`) and
painting the view.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/sketch_latency.py [--strokes 40]
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PySide6.QtCore import QEvent, QEventLoop, QObject, QPoint, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bench.common import timed  # noqa: E402
from bench.ui_stall import Ticker  # noqa: E402

MOVE_MS = 16  # a 60 Hz mouse
POLL_MS = 2  # how often a wait checks its condition (the latency itself is timed by events, not by polls)


def percentile(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


class PaintClock(QObject):
    """Records when the watched widget is painted (perf_counter seconds)."""

    def __init__(self) -> None:
        super().__init__()
        self.painted: list[float] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.painted.append(time.perf_counter())
        return False


def run_config(app: QApplication, window: object, model: Path, side: int, strokes: int, moves: int) -> dict[str, float]:
    from gui.main_window import MainWindow
    from gui.widgets.sketch_panel import SketchPanel

    assert isinstance(window, MainWindow)
    panel: SketchPanel = window.sketch
    window.session.set_model(model)
    canvas = panel.canvas
    canvas.set_side(side)
    clock = PaintClock()
    panel.result_view.viewport().installEventFilter(clock)

    def spin(until: Callable[[], bool], timeout_s: float = 120) -> None:
        """Run the event loop (blocking between events, as the app does) until `until()` holds.
        A busy loop here would take CPU from the translation's threads and slow it down."""
        if until():
            return
        loop = QEventLoop()
        check = QTimer(interval=POLL_MS, timerType=Qt.TimerType.PreciseTimer)
        check.timeout.connect(lambda: loop.quit() if until() else None)
        deadline = QTimer(singleShot=True, interval=int(timeout_s * 1000))
        deadline.timeout.connect(loop.quit)
        check.start()
        deadline.start()
        loop.exec()
        check.stop()
        if not until():
            raise SystemExit(f"timed out: {model.name} at {side}²")

    def pause(ms: int) -> None:
        loop = QEventLoop()
        timer = QTimer(singleShot=True, interval=ms, timerType=Qt.TimerType.PreciseTimer)
        timer.timeout.connect(loop.quit)
        timer.start()
        loop.exec()

    def at(x: float, y: float) -> QPoint:
        r = canvas.image_rect()
        return QPoint(round(r.left() + x * r.width()), round(r.top() + y * r.height()))

    shown_at: list[float] = []
    panel.resultShown.connect(lambda: shown_at.append(time.perf_counter()))
    latencies: list[float] = []
    phases: list[tuple[float, float, float]] = []  # (waiting for a running translation, the final one, painting)
    ticker = Ticker()
    rng = np.random.default_rng(0)
    spin(lambda: panel.result() is not None and not panel.jobs.is_busy())
    for i in range(strokes + 3):  # 3 warm-up strokes
        if i == 3:
            ticker.start()
        y0, phase, n = rng.uniform(0.15, 0.85), rng.uniform(0, 6.3), int(rng.integers(4, moves + 1))
        points = [at(0.1 + 0.8 * k / (n - 1), y0 + 0.08 * math.sin(phase + k / 3)) for k in range(n)]
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[0])
        for p in points[1:]:
            pause(MOVE_MS)
            QTest.mouseMove(canvas, p)
        del shown_at[:]
        before = panel.translations_started
        released = time.perf_counter()
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[-1])
        # the final translation starts at once, or when the one running (a stroke's live update) stops
        spin(lambda: panel.translations_started > before)  # noqa: B023
        final_started = time.perf_counter()
        spin(lambda: panel.result() is not None and bool(shown_at))
        final_shown = shown_at[-1]
        spin(lambda: bool(clock.painted) and clock.painted[-1] >= final_shown)
        if i >= 3:
            latencies.append(clock.painted[-1] - released)
            phases.append((final_started - released, final_shown - final_started, clock.painted[-1] - final_shown))
        pause(150)  # the hand moves to the next stroke
    ticker.timer.stop()
    panel.result_view.viewport().removeEventFilter(clock)
    stalls = sorted(ticker.late)
    return {
        "p50": statistics.median(latencies) * 1000,
        "p95": percentile(latencies, 0.95) * 1000,
        "max": max(latencies) * 1000,
        "stall_p99": percentile(stalls, 0.99),
        "stall_max": stalls[-1],
        "translations": float(panel.translations_started),
        "wait": statistics.median(ph[0] for ph in phases) * 1000,
        "final": statistics.median(ph[1] for ph in phases) * 1000,
        "paint": statistics.median(ph[2] for ph in phases) * 1000,
    }


def profile(app: QApplication, window: object, model: Path, side: int, repeats: int = 10) -> dict[str, float]:
    """Median ms of each part of one translation shown: network, sketch copy, set_image, paint."""
    from gui.main_window import MainWindow
    from translator.inference import translate_array

    assert isinstance(window, MainWindow)
    panel = window.sketch
    tr = window.models.get(model, None, window.session.options)
    sketch = panel.canvas.sketch()
    result = translate_array(tr, sketch)

    def median_ms(fn: Callable[[], object]) -> float:
        return timed(fn, repeats=repeats).median * 1000

    return {
        "network": median_ms(lambda: translate_array(tr, sketch)),
        "sketch()": median_ms(panel.canvas.sketch),
        "set_image": median_ms(lambda: panel.result_view.set_image(result)),
        "paint view": median_ms(panel.result_view.viewport().repaint),
        "paint canvas": median_ms(panel.canvas.repaint),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--strokes", type=int, default=40)
    p.add_argument("--moves", type=int, default=40, help="at most this many pointer moves per stroke, one every 16 ms")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sketch-latency-"))
    os.environ["TRANSLATOR_MODELS_DIR"] = str(tmp / "models")
    from translator.checkpoint import ModelCard, build_model, save_model
    from translator.networks import GeneratorSpec
    from translator.paths import shipped_weights_dir

    unet = save_model(build_model(ModelCard("unet256-ngf64", "pix2pix", {"g": GeneratorSpec("unet_256", 64)}), seed=0),
                      tmp / "models" / "unet256-ngf64.safetensors")
    demo = shipped_weights_dir() / "demo-sketch2photo.safetensors"
    configs: list[tuple[str, Path, int]] = []
    if demo.exists():
        configs += [("demo-sketch2photo", demo, 256), ("demo-sketch2photo", demo, 512)]
    else:  # its recipe's architecture (weights/recipes/demo-sketch2photo.toml), random weights: the same cost
        print(f"demo-sketch2photo: not in {demo.parent}; a stand-in of its architecture is measured instead")
        stand_in = save_model(build_model(ModelCard("unet256-ngf16", "pix2pix", {"g": GeneratorSpec("unet_256", 16)}),
                                          seed=0), tmp / "models" / "unet256-ngf16.safetensors")
        configs += [("stand-in: unet_256 ngf 16 (random)", stand_in, 256)]
    configs += [("unet_256 ngf 64 (random)", unet, 256), ("unet_256 ngf 64 (random)", unet, 512)]

    app = QApplication(sys.argv[:1])
    from gui.main_window import TAB_SKETCH, MainWindow

    window = MainWindow(QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat))
    window.resize(1400, 900)
    window.show()
    window.tabs.setCurrentIndex(TAB_SKETCH)
    rows = []
    load = os.getloadavg()
    for name, path, side in configs:
        window.sketch.canvas.clear()
        figures = run_config(app, window, path, side, args.strokes, args.moves)
        parts = profile(app, window, path, side)
        rows.append((name, side, figures, parts))
    window.close()
    print(f"load average before / after: {load[0]:.2f} / {os.getloadavg()[0]:.2f}")
    print(f"{args.strokes} strokes of 4-{args.moves} moves every {MOVE_MS} ms; release → result painted; UI stall = 10 ms timer lateness while drawing")
    print("| model | canvas | p50 ms | p95 ms | max ms | UI stall p99 ms | max ms |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, side, f, _q in rows:
        print(f"| {name} | {side}² | {f['p50']:.0f} | {f['p95']:.0f} | {f['max']:.0f} | {f['stall_p99']:.1f} | {f['stall_max']:.1f} |")
    print()
    print("Where the time goes (medians, ms): after the release, waiting for the translation then running to stop, the final")
    print("translation (start to result on the UI thread), painting; then one translation's parts measured alone.")
    print("| model | canvas | wait | final | paint | network alone | sketch() | set_image | paint view | paint canvas |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, side, f, q in rows:
        print(f"| {name} | {side}² | {f['wait']:.0f} | {f['final']:.0f} | {f['paint']:.1f} | {q['network']:.1f} | {q['sketch()']:.2f} "
              f"| {q['set_image']:.2f} | {q['paint view']:.2f} | {q['paint canvas']:.2f} |")


if __name__ == "__main__":
    main()
