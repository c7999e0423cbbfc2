"""What does a repaint of the training curves cost: the app's pyqtgraph `CurvePlot` against the
QPainter widget it replaced (or any widget with the same API)?

Both widgets get the same data, the way a live run feeds them: `--curves` series (loss-like:
a decay, noise and rare spikes) of `--points` points each, appended in chunks of `--chunk`
points per series. Two costs are timed, in rounds that alternate the widgets so that a noisy
machine slows both alike:

- live: append one chunk to every series, let the event loop run, grab the widget (a full
  paint into a pixmap); repeated until every point is in; ms per chunk.
- static: grab the full plot `--repaints` times (a resize, an expose, another tab); ms per grab.

Prints the median over the rounds of each figure, for each widget, and their ratio.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/curves_repaint.py

The baseline is the hand-drawn QPainter `CurvePlot` as of commit 169673b (its last version before
the port), read from the repository's git history; `--against module:Class` names another widget
with the `CurvePlot` API (a title, `add_point(series, x, y)`).
"""
from __future__ import annotations

import argparse
import importlib
import os
import platform
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(ROOT))  # `gui` without installing

import numpy as np  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

APP = "gui.widgets.curves:CurvePlot"
BASELINE_COMMIT = "169673b04d7a53b8a49adff55bcc28caaca1f077"
BASELINE = f"QPainter CurvePlot @ {BASELINE_COMMIT[:7]}"


def loss_curves(curves: int, points: int, seed: int = 0) -> np.ndarray:
    """(curves, points) loss-like values: exponential decay to a floor, noise, rare spikes."""
    rng = np.random.default_rng(seed)
    t = np.arange(points)
    out = np.empty((curves, points))
    for i in range(curves):
        base = 0.2 + (2.0 + i) * np.exp(-t / (points / 5))
        noise = rng.normal(0, 0.08, points) * base
        spikes = (rng.random(points) < 0.002) * rng.uniform(1, 3, points)
        out[i] = base + noise + spikes
    return out


def widget_class(spec: str) -> type[QWidget]:
    """The class `module:Class` names, or the QPainter baseline (BASELINE) from git history."""
    if spec == BASELINE:
        try:
            source = subprocess.run(["git", "show", f"{BASELINE_COMMIT}:gui/widgets/curves.py"], cwd=ROOT,
                                    check=True, capture_output=True, text=True).stdout
        except (OSError, subprocess.CalledProcessError) as exc:
            raise SystemExit(f"the baseline needs this repository's git history ({exc}); "
                             "or name another widget with --against module:Class") from exc
        module = types.ModuleType("painter_curves")
        exec(compile(source, f"{BASELINE_COMMIT[:7]}:gui/widgets/curves.py", "exec"), module.__dict__)  # noqa: S102
        cls = module.CurvePlot
    else:
        module_name, _, name = spec.partition(":")
        cls = getattr(importlib.import_module(module_name), name or "CurvePlot")
    assert isinstance(cls, type) and issubclass(cls, QWidget), spec
    return cls


def live(cls: type[QWidget], data: np.ndarray, chunk: int, size: tuple[int, int]) -> tuple[float, QWidget]:
    """ms per (append a chunk to every series, grab); returns the full widget too."""
    app = QApplication.instance()
    assert app is not None
    w = cls("losses")
    w.resize(*size)
    w.show()
    app.processEvents()
    names = [f"loss_{i}" for i in range(len(data))]
    n = data.shape[1]
    t0 = time.perf_counter()
    grabs = 0
    for start in range(0, n, chunk):
        for name, ys in zip(names, data, strict=True):
            for x in range(start, min(n, start + chunk)):
                w.add_point(name, float(x), float(ys[x]))  # type: ignore[attr-defined]
        app.processEvents()
        w.grab()
        grabs += 1
    return (time.perf_counter() - t0) * 1000 / grabs, w


def static(w: QWidget, repaints: int) -> float:
    """ms per grab of an unchanged plot."""
    t0 = time.perf_counter()
    for _ in range(repaints):
        w.grab()
    return (time.perf_counter() - t0) * 1000 / repaints


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--against", default=BASELINE, help="the other widget, module:Class (default: the QPainter baseline)")
    ap.add_argument("--curves", type=int, default=3)
    ap.add_argument("--points", type=int, default=5000)
    ap.add_argument("--chunk", type=int, default=50, help="points per series appended between repaints")
    ap.add_argument("--repaints", type=int, default=30, help="grabs of the full plot per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--size", default="420x200", help="widget size, WxH")
    args = ap.parse_args(argv)
    size = tuple(int(v) for v in args.size.split("x"))
    assert len(size) == 2
    app = QApplication.instance() or QApplication([])
    contenders = {"app": widget_class(APP), "other": widget_class(args.against)}
    data = loss_curves(args.curves, args.points)
    results: dict[str, dict[str, list[float]]] = {k: {"live": [], "static": []} for k in contenders}
    for r in range(args.rounds):
        order = list(contenders) if r % 2 == 0 else list(reversed(contenders))
        for key in order:
            ms, w = live(contenders[key], data, args.chunk, (size[0], size[1]))
            results[key]["live"].append(ms)
            results[key]["static"].append(static(w, args.repaints))
            w.close()
            w.deleteLater()
            app.processEvents()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, QT_QPA_PLATFORM={os.environ['QT_QPA_PLATFORM']}, "
          f"{args.curves} curves x {args.points} points, chunks of {args.chunk}, {size[0]}x{size[1]} px, {args.rounds} rounds (median)")
    med = {k: {m: statistics.median(v) for m, v in res.items()} for k, res in results.items()}
    names = {"app": f"{APP} (the app's)", "other": args.against}
    for key in contenders:
        print(f"{names[key]:<44} live {med[key]['live']:7.2f} ms/chunk   static {med[key]['static']:7.2f} ms/grab")
    print(f"{'ratio app / other':<44} live {med['app']['live'] / med['other']['live']:7.2f}           "
          f"static {med['app']['static'] / med['other']['static']:7.2f}")


if __name__ == "__main__":
    main()
