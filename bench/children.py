"""Work the speed benchmarks run in a fresh process, so its peak memory and start-up are its own.

    python -m bench.children big ours|reference MODEL IMAGE OUT   # one large image
    python -m bench.children folder MODEL FOLDER OUT               # a folder job through the CLI code
    python -m bench.children gui                                   # the app until its first paint

Each prints `seconds=…` (the timed part, imports and model loading excluded unless said) and
`peak_rss_bytes=…` (VmHWM of the process).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path


def report_peak_rss() -> None:
    """Print this process's peak resident memory (VmHWM) for the parent (`bench.common.run_child`).
    Defined here, not imported, so that the `gui` child imports nothing heavy before the app does."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            print(f"peak_rss_bytes={int(line.split()[1]) * 1024}", flush=True)
            return


def big(which: str, model: Path, image: Path, out: Path) -> None:
    """Translate one large image: our engine (tiling under a 640 MiB budget), or the reference's
    way (`--preprocess none`: the whole image in one forward pass, real and fake saved)."""
    import torch

    from translator.checkpoint import load_model

    if which == "ours":
        from translator.inference import InferenceOptions, WorkItem, load_translator, translate_files

        from translator.heap import keep_heap_compact

        keep_heap_compact()  # as `translator translate` does at start
        tr = load_translator(model, InferenceOptions(device="cpu", memory_budget_mb=640))  # `--memory-budget 640`
        t0 = time.perf_counter()
        job = translate_files(tr, [WorkItem(image, out / image.name)], overwrite=True)
        for _ in job:
            pass
    else:
        from bench.reference_loops import test_loop

        net = load_model(model).nets["g"]
        t0 = time.perf_counter()
        with torch.no_grad():
            test_loop(net, [image], out, aligned=False, size=None)
    print(f"seconds={time.perf_counter() - t0:.3f}")
    report_peak_rss()


def folder(model: Path, src: Path, out: Path) -> None:
    """A folder job as `translator translate` runs it (model load included in the process, not
    in the timed part)."""
    from translator.cli import main

    t0 = time.perf_counter()
    rc = main(["translate", str(src), "-m", str(model), "-o", str(out), "-q", "--device", "cpu"])
    if rc != 0:
        raise SystemExit(rc)
    print(f"seconds={time.perf_counter() - t0:.3f}")
    report_peak_rss()


def gui() -> None:
    """Open the app as `translator-gui` does; print the seconds from the parent's launch of this
    process (`BENCH_T0`, a time.time() stamp) to the first paint of any window (`first_paint=`)
    and of the main window (`main_window=`), then quit."""
    import os

    t0 = float(os.environ.get("BENCH_T0", time.time()))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QWidget

    app = QApplication(sys.argv[:1])

    class Paints(QObject):
        first = True

        def eventFilter(self, obj: QObject, ev: QEvent) -> bool:  # noqa: N802 (Qt's name)
            if ev.type() == QEvent.Type.Paint and isinstance(obj, QWidget):
                top = type(obj.window()).__name__
                if self.first:
                    print(f"first_paint={time.time() - t0:.3f}", flush=True)
                    self.first = False
                if top == "MainWindow":
                    print(f"main_window={time.time() - t0:.3f}", flush=True)
                    app.removeEventFilter(self)
                    QTimer.singleShot(0, app.quit)
            return False

    watcher = Paints()
    app.installEventFilter(watcher)
    from gui.app import main

    main([])
    report_peak_rss()


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    if cmd == "big":
        big(args[0], Path(args[1]), Path(args[2]), Path(args[3]))
    elif cmd == "folder":
        folder(Path(args[0]), Path(args[1]), Path(args[2]))
    elif cmd == "gui":
        gui()
    else:
        raise SystemExit(f"unknown child {cmd!r}")
