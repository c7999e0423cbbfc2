"""The engine-to-Qt bridge: real engine jobs run through JobWorker, off the UI thread, with their
signals delivered on the UI thread in order; cancellation, failures, stale previews, shutdown."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shiboken6
from PIL import Image
from PySide6.QtCore import QObject, QThread, QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from gui.jobs import JobWorker, LatestOnly, cancel_all_and_wait, live_workers
from translator import inference
from translator.checkpoint import ModelCard, build_model, resolve_model_path, save_model
from translator.errors import CheckpointError, TranslatorError
from translator.inference import InferenceOptions, WorkItem, load_translator, plan_outputs, translate_files
from translator.jobs import CancelToken, JobSummary, Progress
from translator.networks import GeneratorSpec

TIMEOUT_MS = 10000


# --- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny one-direction CycleGAN generator (resnet, 1 block, 4 filters)."""
    card = ModelCard(name="t", kind="cyclegan", generators={"g_ab": GeneratorSpec("resnet_1blocks", 4, "instance", False)})
    return save_model(build_model(card, seed=0), tmp_path_factory.mktemp("model") / "t.safetensors")


@pytest.fixture()
def photo_folder(tmp_path: Path, photos: dict[str, np.ndarray]) -> Path:
    """Eight small real photos (crops of scikit-image's samples, 64×48)."""
    folder = tmp_path / "in"
    folder.mkdir()
    k = 0
    for name, rgb in photos.items():
        for y, x in ((0, 0), (100, 120), (200, 40)):
            if k < 8:
                Image.fromarray(rgb[y : y + 240, x : x + 320]).resize((64, 48)).save(folder / f"{k:02d}-{name}.png")
                k += 1
    return folder


def translate_job(model: Path, items: list[WorkItem]) -> Callable[[CancelToken], Generator[Progress, None, JobSummary]]:
    """make_job for a folder translation; the model is loaded on the worker thread."""

    def make(token: CancelToken) -> Generator[Progress, None, JobSummary]:
        tr = load_translator(model, InferenceOptions(device="cpu", workers=1))
        return translate_files(tr, items, token=token)

    return make


def paced(job: Generator[Progress, None, Any], step: threading.Semaphore) -> Generator[Progress, None, Any]:
    """Pass `job` through, waiting after each event until the test releases `step` (determinism)."""
    while True:
        try:
            event = next(job)
        except StopIteration as stop:
            return stop.value
        yield event
        assert step.acquire(timeout=5), "the test never released the job"


class Recorder:
    """Every signal of a worker, in arrival order, with whether it arrived on the UI thread."""

    def __init__(self, worker: JobWorker) -> None:
        self.worker = worker
        self.calls: list[tuple[str, Any]] = []
        self.on_ui_thread: list[bool] = []
        self.live_at_finish: bool | None = None
        worker.progress.connect(lambda e: self._add("progress", e))
        worker.result.connect(lambda v: self._add("result", v))
        worker.failed.connect(lambda m: self._add("failed", m))
        worker.cancelled.connect(lambda: self._add("cancelled", None))
        worker.finished.connect(self._finished)

    def _add(self, name: str, payload: Any) -> None:
        self.on_ui_thread.append(QThread.currentThread() == QApplication.instance().thread())  # type: ignore[union-attr]
        self.calls.append((name, payload))

    def _finished(self) -> None:
        self.live_at_finish = self.worker in live_workers()
        self._add("finished", None)

    @property
    def names(self) -> list[str]:
        return [n for n, _ in self.calls]

    def payloads(self, name: str) -> list[Any]:
        return [p for n, p in self.calls if n == name]

    @property
    def outcome(self) -> list[str]:
        """The calls after the progress events: exactly one outcome, then finished."""
        return [n for n in self.names if n != "progress"]


def run_to_end(qtbot: QtBot, worker: JobWorker) -> Recorder:
    rec = Recorder(worker)
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS):
        worker.start()
    return rec


# --- a real engine job ---------------------------------------------------------------------------


def test_real_job_events_arrive_in_order_on_the_ui_thread(qtbot: QtBot, model_file: Path, photo_folder: Path, tmp_path: Path) -> None:
    items = plan_outputs([photo_folder], tmp_path / "out")
    ui_ident = threading.get_ident()
    made_on: list[int] = []

    def make(token: CancelToken) -> Generator[Progress, None, JobSummary]:
        made_on.append(threading.get_ident())
        return translate_job(model_file, items)(token)

    worker = JobWorker(make, name="translate")
    rec = run_to_end(qtbot, worker)

    assert made_on and made_on[0] != ui_ident  # the model was loaded off the UI thread
    assert all(rec.on_ui_thread)
    events = rec.payloads("progress")
    assert [e.done for e in events] == list(range(1, len(items) + 1))
    assert all(e.total == len(items) and e.result.status == "written" for e in events)
    assert rec.outcome == ["result", "finished"]
    summary = rec.payloads("result")[0]
    assert isinstance(summary, JobSummary)
    assert sorted(summary.written) == sorted(it.dst for it in items)
    assert all(it.dst.is_file() for it in items)
    assert rec.live_at_finish is False and not worker.is_running() and not live_workers()


def test_cancel_mid_way_keeps_finished_outputs_complete(
    qtbot: QtBot, model_file: Path, photo_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A slower model, so the engine's writer threads keep up and the job cannot finish every
    # item before the cancel arrives (its events trail its work by about one item).
    real_translate_batch = inference.translate_batch

    def slow_translate_batch(tr: Any, images: Any, **kwargs: Any) -> Any:
        time.sleep(0.05)
        return real_translate_batch(tr, images, **kwargs)

    monkeypatch.setattr(inference, "translate_batch", slow_translate_batch)
    out = tmp_path / "out"
    items = plan_outputs([photo_folder], out)
    step = threading.Semaphore(0)
    make = translate_job(model_file, items)
    worker = JobWorker(lambda token: paced(make(token), step), name="translate")
    rec = Recorder(worker)

    def on_progress(event: Progress) -> None:
        if event.done == 2:
            worker.cancel()
        step.release()

    worker.progress.connect(on_progress)
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS):
        worker.start()

    assert rec.outcome == ["cancelled", "finished"]  # not failed, no result
    files = sorted(out.iterdir())
    assert 2 <= len(files) < len(items)  # stopped mid-way
    assert not [f for f in files if f.name.startswith(".")]  # no partial file left behind
    for f in files:
        with Image.open(f) as im:
            im.load()  # every finished output is a complete image
            assert im.size == (64, 48)

    # Rerunning continues where it stopped.
    again = run_to_end(qtbot, JobWorker(translate_job(model_file, items), name="resume"))
    summary = again.payloads("result")[0]
    assert len(summary.skipped) == len(files) and len(summary.written) == len(items) - len(files)


def test_engine_error_is_reported_with_its_message_only(qtbot: QtBot, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    missing = tmp_path / "missing.safetensors"
    with pytest.raises(CheckpointError) as expected:
        resolve_model_path(missing)

    rec = run_to_end(qtbot, JobWorker(lambda token: load_translator(missing), name="load"))

    assert rec.outcome == ["failed", "finished"]
    assert rec.payloads("failed") == [str(expected.value)]
    assert "Traceback" not in rec.payloads("failed")[0]


def test_unexpected_error_says_so_and_logs_the_traceback(qtbot: QtBot, caplog: pytest.LogCaptureFixture) -> None:
    def job(token: CancelToken) -> Generator[Progress, None, None]:
        yield Progress(1, 3)
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="gui.jobs"):
        rec = run_to_end(qtbot, JobWorker(job, name="buggy"))

    assert rec.outcome == ["failed", "finished"]
    message = rec.payloads("failed")[0]
    assert message == "unexpected error: RuntimeError: boom (details in the log)"
    assert "Traceback" not in message
    logged = [r for r in caplog.records if r.name == "gui.jobs" and r.levelno >= logging.ERROR]
    assert logged and logged[0].exc_info is not None
    assert "Traceback" in caplog.text and 'raise RuntimeError("boom")' in caplog.text


def test_one_shot_callables_return_their_value(qtbot: QtBot) -> None:
    with_token = run_to_end(qtbot, JobWorker(lambda token: ("took", type(token).__name__)))
    without = run_to_end(qtbot, JobWorker(lambda: 42))
    assert with_token.payloads("result") == [("took", "CancelToken")] and with_token.outcome == ["result", "finished"]
    assert without.payloads("result") == [42]


def test_bad_make_job_and_double_start_are_refused(qtbot: QtBot) -> None:
    with pytest.raises(TypeError, match="CancelToken or no argument"):
        JobWorker(lambda a, b: None)  # type: ignore[arg-type]
    worker = JobWorker(lambda: None)
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS):
        worker.start()
    with pytest.raises(RuntimeError, match="runs once"):
        worker.start()


def test_progress_can_be_throttled_but_the_last_event_arrives(qtbot: QtBot) -> None:
    def job(token: CancelToken) -> Generator[Progress, None, str]:
        for i in range(1, 51):
            yield Progress(i, 50)
        return "done"

    rec = run_to_end(qtbot, JobWorker(job, min_interval_s=60.0))
    assert [e.done for e in rec.payloads("progress")] == [1, 50]
    assert rec.outcome == ["result", "finished"]


def test_events_marked_keep_are_never_coalesced_away(qtbot: QtBot) -> None:
    def job(token: CancelToken) -> Generator[Progress, None, str]:
        for i in range(1, 51):
            yield Progress(i, 50)
        return "done"

    rec = run_to_end(qtbot, JobWorker(job, min_interval_s=60.0, keep=lambda e: e.done % 10 == 0))
    assert [e.done for e in rec.payloads("progress")] == [1, 10, 20, 30, 40, 50]


def test_ui_stays_responsive_while_a_slow_job_runs(qtbot: QtBot) -> None:
    ticks = 0

    def tick() -> None:
        nonlocal ticks
        ticks += 1

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)

    def slow(token: CancelToken) -> Generator[Progress, None, int]:
        for i in range(1, 6):
            token.raise_if_cancelled()
            time.sleep(0.06)  # stands in for a long forward pass
            yield Progress(i, 5)
        return ticks

    timer.start()
    try:
        rec = run_to_end(qtbot, JobWorker(slow, name="slow"))
    finally:
        timer.stop()
    assert rec.outcome == ["result", "finished"]
    assert ticks >= 5  # the timer kept firing during the ~0.3 s job


# --- stale previews ------------------------------------------------------------------------------


def test_latest_only_drops_a_superseded_result(qtbot: QtBot) -> None:
    latest = LatestOnly()
    got: list[str] = []
    gate = threading.Event()

    def slow_first() -> str:
        assert gate.wait(5)
        return "first"

    first = latest.submit(slow_first, got.append)
    first_rec = Recorder(first)
    second = latest.submit(lambda: "second", got.append)
    qtbot.waitUntil(lambda: got == ["second"], timeout=TIMEOUT_MS)

    with qtbot.waitSignal(first.finished, timeout=TIMEOUT_MS):
        gate.set()  # the superseded job finishes after the new one
    assert got == ["second"]
    assert first_rec.outcome == ["cancelled", "finished"]
    qtbot.waitUntil(lambda: not second.is_running(), timeout=TIMEOUT_MS)
    assert not latest.is_busy()


def test_latest_only_outcome_after_its_owner_was_deleted_is_dropped(qtbot: QtBot) -> None:
    """A panel deleted while its background scan runs: the scan's failure (or result) arrives
    later and must be dropped quietly, not emitted on a deleted object (pytest-qt fails the test
    on any exception raised in the event loop)."""
    owner = QObject()
    latest = LatestOnly(owner)
    got: list[str] = []
    gate = threading.Event()

    def fails_later() -> str:
        assert gate.wait(5)
        raise TranslatorError("no images here")

    worker = latest.submit(fails_later, got.append)
    latest.failed.connect(got.append)
    shiboken6.delete(owner)  # deletes the LatestOnly with it
    assert not shiboken6.isValid(latest)
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS):
        gate.set()
    QApplication.processEvents()
    assert got == []


def test_latest_only_drops_a_result_already_on_its_way(qtbot: QtBot) -> None:
    latest = LatestOnly()
    got: list[str] = []
    first = latest.submit(lambda: "first", got.append)
    # Let the first job finish on its thread without running the event loop: its result is queued.
    assert first._run.thread is not None and first._run.thread.wait(TIMEOUT_MS)
    latest.submit(lambda: "second", got.append)
    qtbot.waitUntil(lambda: got == ["second"], timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not live_workers(), timeout=TIMEOUT_MS)
    assert got == ["second"]


def test_latest_only_reports_only_the_latest_failure(qtbot: QtBot) -> None:
    latest = LatestOnly()
    failures: list[str] = []
    latest.failed.connect(failures.append)

    def old() -> None:
        raise TranslatorError("old failure")

    def bad() -> None:
        raise TranslatorError("cat.heic: HEIC is not supported; convert to PNG or JPEG")

    first = latest.submit(old, print)
    assert first._run.thread is not None and first._run.thread.wait(TIMEOUT_MS)  # its failure is queued
    latest.submit(bad, print)
    qtbot.waitUntil(lambda: bool(failures), timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not live_workers(), timeout=TIMEOUT_MS)
    assert failures == ["cat.heic: HEIC is not supported; convert to PNG or JPEG"]


# --- shutdown ------------------------------------------------------------------------------------


def endless(token: CancelToken) -> Iterator[Progress]:
    for i in range(1, 10**6):
        token.raise_if_cancelled()
        time.sleep(0.005)
        yield Progress(i, 10**6)


def test_cancel_all_and_wait_stops_a_running_job_in_time(qtbot: QtBot) -> None:
    worker = JobWorker(endless, name="endless")
    rec = Recorder(worker)
    worker.start()
    qtbot.waitUntil(lambda: len(rec.payloads("progress")) >= 2, timeout=TIMEOUT_MS)
    assert live_workers() == [worker] and worker.is_running()

    t0 = time.monotonic()
    assert cancel_all_and_wait(2000)
    assert time.monotonic() - t0 < 2.0
    # wait() delivered the pending signals: the worker is finished and gone.
    assert rec.outcome == ["cancelled", "finished"]
    assert not live_workers() and not worker.is_running()


def test_deleting_a_running_workers_parent_cancels_and_joins_it(qtbot: QtBot) -> None:
    parent = QObject()
    started = threading.Event()

    def make(token: CancelToken) -> Iterator[Progress]:
        started.set()
        return endless(token)

    worker = JobWorker(make, name="orphan", parent=parent)
    worker.start()
    assert started.wait(5)
    del worker
    shiboken6.delete(parent)  # deletes its children: the running worker among them
    assert not live_workers()


def test_quitting_the_application_cancels_and_joins_live_jobs(qtbot: QtBot, qapp: QApplication) -> None:
    worker = JobWorker(endless, name="at-quit")
    rec = Recorder(worker)
    worker.start()
    qtbot.waitUntil(lambda: bool(rec.payloads("progress")), timeout=TIMEOUT_MS)
    qapp.aboutToQuit.emit()  # what QApplication.quit() emits before the event loop ends
    assert rec.outcome == ["cancelled", "finished"] and not live_workers()
