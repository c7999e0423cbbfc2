"""Rate and ETA, computed once for every job (folders, training, downloads)."""
from __future__ import annotations

from pathlib import Path

import pytest

from translator.jobs import ItemResult, ProgressClock, rate_eta


def test_eta_is_unknown_before_any_work() -> None:
    assert rate_eta(0, 10, 0.0, 0) == (0.0, None)
    assert rate_eta(0, 10, 3.0, 0) == (0.0, None)  # time passed, nothing done yet


def test_rate_counts_only_the_work_done_in_this_run() -> None:
    # 40 of 100 items done, 30 of them skipped as already written, 10 translated in 5 s.
    rate, eta = rate_eta(40, 100, 5.0, 10)
    assert rate == pytest.approx(2.0)
    assert eta == pytest.approx(30.0)  # the 60 left at 2 per second
    # A resumed training run: steps 200..250 done in 10 s, 750 to go.
    assert rate_eta(250, 1000, 10.0, 50) == pytest.approx((5.0, 150.0))


def test_download_of_unknown_size_has_a_rate_but_no_eta() -> None:
    rate, eta = rate_eta(3_000_000, 0, 2.0, 3_000_000)
    assert rate == pytest.approx(1_500_000.0) and eta is None
    # A resumed download: 1 MB was there, 2 MB arrived in 4 s, 1 MB to go.
    assert rate_eta(3_000_000, 4_000_000, 4.0, 2_000_000) == pytest.approx((500_000.0, 2.0))


def test_progress_clock_ignores_skipped_items_for_the_rate(tmp_path: Path) -> None:
    clock = ProgressClock(total=3)
    skipped = clock.tick(tmp_path / "a.png", ItemResult(tmp_path / "a.png", "skipped"), processed=False)
    assert (skipped.done, skipped.rate, skipped.eta_s) == (1, 0.0, None)
    written = clock.tick(tmp_path / "b.png", ItemResult(tmp_path / "b.png", "written"))
    assert written.done == 2 and clock.processed == 1
    assert written.rate > 0 and written.eta_s == pytest.approx(1 / written.rate)  # one item left
