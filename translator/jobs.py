"""One progress/cancel protocol for every long operation (inference, evaluation, training).

A job is a generator that yields `Progress` events and returns its result
(`StopIteration.value`). Between items it calls `token.raise_if_cancelled()`, so cancelling takes
effect at the next item boundary and never leaves a half-done item behind. The CLI renders the
events as a progress bar, the GUI as widgets, the tests read them directly.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from translator.errors import JobCancelled

T = TypeVar("T")


@dataclass(frozen=True)
class ItemResult:
    """What happened to one item of a job."""

    item: Path
    status: str  # "written" | "skipped" | "failed" | "done"
    output: Path | None = None
    error: str | None = None  # a message a user can act on, when status == "failed"
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Progress:
    """One progress event: `done` of `total` items finished, the latest one's result."""

    done: int
    total: int
    item: Path | None = None
    result: ItemResult | None = None
    elapsed_s: float = 0.0
    rate: float = 0.0  # items per second over the items actually processed (not skipped)
    eta_s: float | None = None
    inside: float | None = None  # within an item that takes a while: the share of it done (0–1); `item` is that item

    @property
    def failed(self) -> bool:
        """Whether this event reports an item that failed (its result says why)."""
        return self.result is not None and self.result.status == "failed"


class CancelToken:
    """A thread-safe flag a caller sets to stop a job at its next item boundary."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise JobCancelled("cancelled by the user; finished outputs are kept, rerun to continue")


def rate_eta(done: float, total: float, elapsed_s: float, processed: float) -> tuple[float, float | None]:
    """Rate and ETA of a job `done` of `total` units (items, steps, bytes) into it.

    The rate counts only the `processed` units, those this run did in `elapsed_s` (not the items
    it skipped as already done, nor the bytes or steps an earlier run left): per second, 0.0 before
    any. The ETA is the seconds the rest takes at that rate; None before any work or while the
    total is unknown (0).
    """
    rate = processed / elapsed_s if elapsed_s > 0 and processed > 0 else 0.0
    eta = (total - done) / rate if total > 0 and rate > 0 else None
    return rate, eta


class ProgressClock:
    """Turns (done, total) counts into rate and ETA, ignoring skipped items for the rate."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.processed = 0
        self._start = time.perf_counter()

    def tick(self, item: Path | None, result: ItemResult | None, *, processed: bool = True) -> Progress:
        self.done += 1
        if processed:
            self.processed += 1
        elapsed = time.perf_counter() - self._start
        rate, eta = rate_eta(self.done, self.total, elapsed, self.processed)
        return Progress(self.done, self.total, item, result, elapsed, rate, eta)

    def within(self, item: Path | None, fraction: float) -> Progress:
        """An event inside `item` (not yet finished): `fraction` of it done. The ETA counts that
        share as work done, so a job of one large image has one before the image finishes."""
        fraction = min(max(fraction, 0.0), 1.0)
        elapsed = time.perf_counter() - self._start
        rate, eta = rate_eta(self.done + fraction, self.total, elapsed, self.processed + fraction)
        return Progress(self.done, self.total, item, None, elapsed, rate, eta, inside=fraction)


def format_duration(seconds: float | None, unknown: str = "--:--") -> str:
    """m:ss, or h:mm:ss from an hour up; `unknown` when there is no estimate yet."""
    if seconds is None or not math.isfinite(seconds):
        return unknown
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def run_job(job: Generator[Progress, None, T], on_progress: Callable[[Progress], None] | None = None) -> T:
    """Drive a job to completion, passing each event to `on_progress`, and return its result."""
    while True:
        try:
            event = next(job)
        except StopIteration as stop:
            value: T = stop.value
            return value
        if on_progress is not None:
            on_progress(event)


@dataclass
class JobSummary:
    """What a folder job did: outputs written, inputs skipped (already done), failures."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[ItemResult] = field(default_factory=list)
