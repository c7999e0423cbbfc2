"""The one bridge between the engine's jobs and Qt: run a job off the UI thread, re-emit its events.

An engine job (`translator.jobs`) is a generator that yields progress events, checks a
`CancelToken` between items and returns its result. `JobWorker` drives one on its own `QThread`
and re-emits what happens as typed signals that are always delivered on the UI thread, so slots
connected to them only ever update widgets:

    worker = JobWorker(lambda token: translate_files(load_translator(path), items, token=token))
    worker.progress.connect(bar.show_event)      # each Progress, in order
    worker.result.connect(show_summary)          # the generator's return value
    worker.failed.connect(status.show_error)     # a message a user can act on; traceback in the log
    worker.cancelled.connect(status.show_cancelled)
    worker.finished.connect(enable_buttons)      # always last, exactly once
    worker.start()

Contract, per started worker: zero or more `progress`, then exactly one of `result`, `failed`,
`cancelled`, then `finished`. After `cancel()` a worker never emits `result` (the job stops at
its next item boundary with `JobCancelled`, or, if it cannot be interrupted, its result is
dropped); a real error raised while stopping is still reported by `failed`.

`make_job` is called on the worker thread, so even loading a model stays off the UI thread; it
receives the worker's fresh `CancelToken` (or nothing, if it takes no argument). If it returns
something that is not a generator, that value is the result (one-shot work such as a preview).

Lifetime: a running worker is kept alive by a module registry (`live_workers()`) until its thread
has finished and been joined, so no `QThread` is ever destroyed while running, and dropping every
reference to a running worker is safe. If a worker's Qt parent deletes it while it runs, the job
is cancelled and the deletion waits for the thread. When the application quits
(`aboutToQuit`), every live worker is cancelled and joined (`cancel_all_and_wait`).

`LatestOnly` runs previews: each submission cancels the previous one and only the latest one's
result is delivered.
"""
from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Generator
from functools import partial
from typing import Any, cast

from PySide6.QtCore import QCoreApplication, QDeadlineTimer, QEvent, QObject, Qt, QThread, Signal, Slot
from shiboken6 import isValid

from gui.i18n import fill
from translator.errors import JobCancelled, TranslatorError
from translator.jobs import CancelToken

log = logging.getLogger(__name__)

MakeJob = Callable[[CancelToken], Any] | Callable[[], Any]
"""Builds the job on the worker thread: returns a generator (a job) or a plain value (the result)."""

EXPECTED_ERRORS: tuple[type[BaseException], ...] = (TranslatorError, OSError, ValueError)
"""Errors whose message is shown to the user as it is (`ImageError` is a `TranslatorError`)."""

_QUEUED = Qt.ConnectionType.QueuedConnection


def user_message(exc: BaseException) -> str:
    """What the UI shows for an exception: the message of an expected error, else a pointer to the log."""
    if isinstance(exc, EXPECTED_ERRORS):
        return str(exc) or type(exc).__name__
    return fill(QCoreApplication.translate("Jobs", "unexpected error: %1: %2 (details in the log)"), type(exc).__name__, exc)


def _takes_token(make_job: Callable[..., Any]) -> bool:
    """Whether `make_job` accepts a CancelToken (True) or no argument (False)."""
    try:
        sig = inspect.signature(make_job)
    except (TypeError, ValueError):  # some builtins have no signature: assume the protocol
        return True
    try:
        sig.bind(None)
        return True
    except TypeError:
        pass
    try:
        sig.bind()
    except TypeError:
        raise TypeError(f"make_job must take a CancelToken or no argument, not {sig}") from None
    return False


class _JobThread(QThread):
    """Drives one job in `run()`. Its signals are emitted from the worker thread; the JobWorker
    (on the UI thread) receives them through queued connections, in emission order."""

    yielded = Signal(object)  # not `event`: that would hide QObject.event()
    succeeded = Signal(object)
    errored = Signal(str)
    stopped = Signal()

    def __init__(self, make_job: MakeJob, pass_token: bool, token: CancelToken, min_interval_s: float, name: str,
                 keep: Callable[[Any], bool] | None) -> None:
        super().__init__()
        self.setObjectName(f"job:{name}")
        self._make_job = make_job
        self._pass_token = pass_token
        self._token = token
        self._min_interval_s = min_interval_s
        self._keep = keep
        self._name = name
        self._last_emit = float("-inf")
        self._pending: Any = None
        self._has_pending = False

    def run(self) -> None:  # worker thread
        try:
            value = self._drive()
        except JobCancelled as exc:
            log.info("%s: %s", self._name, exc)
            self._flush()
            self.stopped.emit()
        except EXPECTED_ERRORS as exc:
            log.warning("%s failed: %s", self._name, exc, exc_info=True)
            self._flush()
            self.errored.emit(user_message(exc))
        except BaseException as exc:  # reported to the user, traceback logged: never swallowed
            log.exception("%s failed unexpectedly", self._name)
            self._flush()
            self.errored.emit(user_message(exc))
        else:
            self._flush()
            if self._token.cancelled:  # finished anyway (not interruptible): the caller no longer wants it
                log.info("%s: cancelled; its result is dropped", self._name)
                self.stopped.emit()
            else:
                self.succeeded.emit(value)

    def _drive(self) -> Any:
        if self._pass_token:
            job = cast(Callable[[CancelToken], Any], self._make_job)(self._token)
        else:
            job = cast(Callable[[], Any], self._make_job)()
        if not isinstance(job, Generator):
            return job
        try:
            while True:
                try:
                    event = next(job)
                except StopIteration as stop:
                    return stop.value
                self._progress(event)
        finally:
            job.close()  # a no-op unless we are leaving early

    def _progress(self, event: Any) -> None:
        # Coalesce: at most one event per min_interval_s; the latest one waits in _pending. An
        # event `keep` marks is never coalesced away (it supersedes any pending one).
        now = time.monotonic()
        kept = self._keep is not None and self._keep(event)
        if kept or self._min_interval_s <= 0 or now - self._last_emit >= self._min_interval_s:
            self._has_pending, self._pending = False, None
            self._last_emit = now
            self.yielded.emit(event)
        else:
            self._has_pending, self._pending = True, event

    def _flush(self) -> None:
        # The last event always arrives, before the outcome.
        if self._has_pending:
            event, self._has_pending, self._pending = self._pending, False, None
            self.yielded.emit(event)


class _Run:
    """What must outlive a JobWorker's C++ object: its thread, its token, whether it is done."""

    __slots__ = ("token", "thread", "done")

    def __init__(self) -> None:
        self.token = CancelToken()
        self.thread: _JobThread | None = None
        self.done = False


# Every started, not yet finished worker, by its run. Holds the strong references that keep a
# running QThread (and the worker receiving its signals) alive.
_LIVE: dict[_Run, JobWorker] = {}


def live_workers() -> list[JobWorker]:
    """Workers started and not yet finished (their `finished` not yet emitted), oldest first."""
    return list(_LIVE.values())


def _reap_orphan(run: _Run, *_args: object) -> None:
    """A worker's C++ object is being destroyed (e.g. by its Qt parent): stop and join its thread."""
    if run.done or run.thread is None:
        return
    log.warning("a running job's owner was deleted; cancelling it and waiting for its thread")
    run.token.cancel()
    run.thread.wait()
    run.done = True
    run.thread = None  # joined: safe to delete
    _LIVE.pop(run, None)


class JobWorker(QObject):
    """Runs one job on its own QThread; see the module docstring for the signal contract.

    `min_interval_s` > 0 coalesces progress events so that at most one is delivered per interval;
    the last one is always delivered, and so is every event for which `keep(event)` is true (e.g.
    one reporting a failed file). A worker runs once.
    """

    progress = Signal(object)  # each event the job yields (translator.jobs.Progress or a subclass)
    result = Signal(object)  # the job's return value
    failed = Signal(str)  # a user-facing message; the traceback is in the log
    cancelled = Signal()
    finished = Signal()  # always last, exactly once

    def __init__(self, make_job: MakeJob, *, name: str = "job", min_interval_s: float = 0.0,
                 keep: Callable[[Any], bool] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        if min_interval_s < 0:
            raise ValueError("min_interval_s must be >= 0")
        self.name = name
        self._make_job = make_job
        self._pass_token = _takes_token(make_job)
        self._min_interval_s = min_interval_s
        self._keep = keep
        self._run = _Run()
        self._thread: _JobThread | None = None  # kept until deleteLater has run
        self._started = False

    def on(self, *, progress: Callable[..., Any] | None = None, result: Callable[..., Any] | None = None,
           failed: Callable[..., Any] | None = None, cancelled: Callable[..., Any] | None = None,
           finished: Callable[..., Any] | None = None) -> JobWorker:
        """Connect the given slots to the signals of the same names; returns the worker (for chaining)."""
        for signal, slot in ((self.progress, progress), (self.result, result), (self.failed, failed),
                             (self.cancelled, cancelled), (self.finished, finished)):
            if slot is not None:
                signal.connect(slot)
        return self

    def start(self) -> None:
        """Start the job on a new thread. Must be called on the thread the worker lives in (the UI)."""
        if self._started:
            raise RuntimeError(f"{self.name}: a JobWorker runs once; make a new one")
        self._started = True
        thread = _JobThread(self._make_job, self._pass_token, self._run.token, self._min_interval_s, self.name, self._keep)
        thread.yielded.connect(self._on_event, _QUEUED)
        thread.succeeded.connect(self._on_succeeded, _QUEUED)
        thread.errored.connect(self._on_errored, _QUEUED)
        thread.stopped.connect(self._on_stopped, _QUEUED)
        thread.finished.connect(self._on_thread_finished, _QUEUED)
        # Captures only the _Run, never self: a connection holding its own wrapper would leak it.
        self.destroyed.connect(partial(_reap_orphan, self._run))
        self._run.thread = self._thread = thread
        _LIVE[self._run] = self
        _install_quit_hook()
        log.debug("%s: starting", self.name)
        thread.start()

    def cancel(self) -> None:
        """Ask the job to stop at its next item boundary; `cancelled` follows (not `failed`)."""
        if self._started and not self._run.done:
            log.debug("%s: cancel requested", self.name)
        self._run.token.cancel()

    def is_running(self) -> bool:
        """True from `start()` until `finished` has been emitted."""
        return self._started and not self._run.done

    def is_done(self) -> bool:
        """True once `finished` has been emitted (or the worker was deleted and joined)."""
        return self._run.done

    def wait(self, timeout_ms: int = 10000) -> bool:
        """Block until the job's thread has finished (shutdown, tests); False on timeout.

        Called on the UI thread, it then delivers the worker's pending signals, so on return
        `finished` has been emitted and the worker is no longer in `live_workers()`.
        """
        run = self._run
        if not self._started or run.done:
            return True
        thread = run.thread
        if thread is None:
            return True
        if not thread.wait(QDeadlineTimer(max(0, timeout_ms))):
            return False
        if QThread.currentThread() == self.thread():
            QCoreApplication.sendPostedEvents(self, QEvent.Type.MetaCall)
        return True

    @Slot(object)
    def _on_event(self, event: object) -> None:
        self.progress.emit(event)

    @Slot(object)
    def _on_succeeded(self, value: object) -> None:
        log.debug("%s: done", self.name)
        self.result.emit(value)

    @Slot(str)
    def _on_errored(self, message: str) -> None:
        self.failed.emit(message)

    @Slot()
    def _on_stopped(self) -> None:
        self.cancelled.emit()

    @Slot()
    def _on_thread_finished(self) -> None:
        run = self._run
        if run.done or run.thread is None:
            return
        thread = run.thread
        thread.wait()  # `finished` is emitted just before the thread exits: join it for real
        run.done = True
        run.thread = None
        _LIVE.pop(run, None)
        thread.deleteLater()
        self.finished.emit()


def _cancel_and_wait(workers: list[JobWorker], timeout_ms: int) -> bool:
    """Cancel all, then wait for all within one shared deadline. True if every one has stopped."""
    for w in workers:
        w.cancel()
    deadline = time.monotonic() + timeout_ms / 1000
    ok = True
    for w in workers:
        left_ms = max(0, int((deadline - time.monotonic()) * 1000))
        if not w.wait(left_ms):
            log.warning("%s: still running after %d ms", w.name, timeout_ms)
            ok = False
    return ok


def cancel_all_and_wait(timeout_ms: int = 10000) -> bool:
    """Cancel every live worker and wait for them (application shutdown, test teardown)."""
    return _cancel_and_wait(live_workers(), timeout_ms)


_QUIT_HOOK_INSTALLED = False
QUIT_TIMEOUT_MS = 30_000


def _install_quit_hook() -> None:
    """Once per process: when the application quits, cancel and join every live worker."""
    global _QUIT_HOOK_INSTALLED
    app = QCoreApplication.instance()
    if _QUIT_HOOK_INSTALLED or app is None:
        return
    app.aboutToQuit.connect(_on_about_to_quit)
    _QUIT_HOOK_INSTALLED = True


def _on_about_to_quit() -> None:
    if live_workers():
        log.info("quitting: cancelling %d running job(s)", len(live_workers()))
        cancel_all_and_wait(QUIT_TIMEOUT_MS)


class LatestOnly(QObject):
    """Runs previews so that only the latest submission counts (STYLE §10).

    `submit()` cancels the previous worker and starts a new one; `on_result` is called (on the UI
    thread) only if that submission is still the latest when its result arrives. A superseded
    job's result or failure is dropped even if it arrives later. Failures of the latest job are
    emitted as `failed`.
    """

    failed = Signal(str)

    def __init__(self, parent: QObject | None = None, *, name: str = "preview") -> None:
        super().__init__(parent)
        self.name = name
        self._generation = 0
        self._current: JobWorker | None = None
        self._current_gen = 0

    def submit(self, make_job: MakeJob, on_result: Callable[[Any], None]) -> JobWorker:
        """Supersede any earlier submission and start `make_job`; returns its (started) worker.

        Capture everything the job needs on the UI thread before calling (the values, not the
        widgets): the job runs on a worker thread.
        """
        if self._current is not None:
            self._current.cancel()
        self._generation += 1
        gen = self._generation
        worker = JobWorker(make_job, name=f"{self.name}#{gen}")
        worker.result.connect(partial(self._on_result, gen, on_result))
        worker.failed.connect(partial(self._on_failed, gen))
        worker.finished.connect(partial(self._on_finished, gen))  # not the worker: no self-reference
        self._current, self._current_gen = worker, gen
        worker.start()
        return worker

    def cancel(self) -> None:
        """Cancel the latest submission and drop whatever it delivers."""
        self._generation += 1
        if self._current is not None:
            self._current.cancel()

    def current(self) -> JobWorker | None:
        """The latest submission's worker while it runs."""
        return self._current

    def is_busy(self) -> bool:
        return self._current is not None and self._current.is_running()

    def _on_result(self, gen: int, on_result: Callable[[Any], None], value: object) -> None:
        if not isValid(self):  # its owner (a panel) was deleted while the job ran
            return
        if gen != self._generation:
            log.debug("%s: dropping the result of superseded request #%d", self.name, gen)
            return
        on_result(value)

    def _on_failed(self, gen: int, message: str) -> None:
        if not isValid(self):
            return
        if gen != self._generation:
            log.debug("%s: dropping the failure of superseded request #%d: %s", self.name, gen, message)
            return
        self.failed.emit(message)

    def _on_finished(self, gen: int) -> None:
        if gen == self._current_gen:
            self._current = None
