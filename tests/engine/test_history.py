"""The history database (translator.history): round trip, filters, kill -9 mid-write, damaged and
newer files moved aside byte for byte, older ones migrated, two threads writing at once."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from translator.history import FILE_NAME, SCHEMA_VERSION, History, HistoryError
from translator.paths import user_data_dir


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRANSLATOR_DATA_DIR", str(tmp_path / "data"))


def _integrity(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


def _fill(h: History) -> list[int]:
    t0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
    runs = [("batch", "day2night", ["/photos/trip"], "/photos/trip_translated"),
            ("batch", "sketch2photo", ["/art/sketches"], "/art/out"),
            ("finetune", "day2night", ["/datasets/nights"], "/runs/finetune-1"),
            ("preview-save", "sketch2photo", [], "/art/saved/cat_result.png")]
    ids = []
    for n, (kind, model, inputs, output) in enumerate(runs):
        i = h.record_start(kind, model=model, model_sha256=f"{n:064x}", model_path=Path(f"/models/{model}.safetensors"),  # type: ignore[arg-type]
                           inputs=[Path(p) for p in inputs], output=Path(output),
                           settings={"strength": 0.5 + n / 10, "options": {"tile": "auto"}}, started=t0 + timedelta(hours=n))
        h.record_finish(i, "done", written=10 * n, failed=n, finished=t0 + timedelta(hours=n, seconds=30 + n))
        ids.append(i)
    return ids


def test_round_trip_in_the_user_data_folder() -> None:
    with History() as h:
        assert h.path == user_data_dir() / FILE_NAME and h.notice is None
        i = h.record_start("batch", model="day2night", model_sha256="ab" * 32, inputs=[Path("/in/a")],
                           output=Path("/in/a_translated"), settings={"strength": 0.7, "options": {"seed": 3}})
        running = h.entry(i)
        assert running is not None and running.status == "running" and running.finished is None
        h.record_finish(i, "cancelled", written=3, skipped=1, failed=2, message="stopped by the user")
    with History() as h:  # reopened: what was committed is there
        e = h.entry(i)
    assert e is not None
    assert (e.kind, e.status, e.model, e.model_sha256, e.inputs, e.output) == (
        "batch", "cancelled", "day2night", "ab" * 32, (Path("/in/a"),), Path("/in/a_translated"))
    assert (e.written, e.skipped, e.failed, e.message) == (3, 1, 2, "stopped by the user")
    assert e.settings == {"strength": 0.7, "options": {"seed": 3}}
    assert e.duration_s is not None and 0 <= e.duration_s < 60
    with History() as h:  # a model hashed after the run was recorded
        j = h.record_start("batch", model="big", settings={"model_sha256": None, "strength": 1.0})
        h.set_model_sha256(j, "cd" * 32)
        later = h.entry(j)
    assert later is not None and later.model_sha256 == "cd" * 32
    assert later.settings == {"model_sha256": "cd" * 32, "strength": 1.0}


def test_filters_by_model_folder_and_kind(tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite3") as h:
        ids = _fill(h)
        assert [e.id for e in h.entries()] == ids[::-1]  # newest first
        assert [e.id for e in h.entries(model="NIGHT")] == [ids[2], ids[0]]
        assert [e.id for e in h.entries(model=f"{1:064x}")] == [ids[1]]  # by sha256
        assert [e.id for e in h.entries(folder="/art")] == [ids[3], ids[1]]
        assert [e.id for e in h.entries(folder="trip_translated")] == [ids[0]]
        assert [e.id for e in h.entries(kind="finetune")] == [ids[2]]
        assert [e.id for e in h.entries(model="sketch", kind="batch")] == [ids[1]]
        assert h.entries(folder="%") == [] and h.entries(model="_") == []  # wildcards are literal
        assert len(h.entries(limit=2)) == 2
        assert h.entries()[0].duration_s == 33.0


_WRITER = r"""
import sys
from pathlib import Path
from translator.history import History
h = History(Path(sys.argv[1]))
n = 0
while True:
    n += 1
    i = h.record_start("batch", model=f"m{n}", inputs=[Path("/in") / str(n)], output=Path("/out"),
                       settings={"n": n, "pad": "x" * (n % 500)})
    h.record_finish(i, "done", written=n)
    sys.stdout.write(f"{i} {n}\n")
    sys.stdout.flush()
"""


def test_a_writer_killed_mid_write_leaves_every_committed_entry(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    root = Path(__file__).resolve().parents[2]
    for round_ in range(3):  # kill at three different moments
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True, cwd=root,
                                env={**os.environ, "PYTHONPATH": str(root)})
        assert proc.stdout is not None
        reported: list[tuple[int, int]] = []
        target = 150 + 70 * round_
        while len(reported) < target:
            line = proc.stdout.readline()
            assert line, "the writer stopped early"
            reported.append(tuple(map(int, line.split())))  # type: ignore[arg-type]
        proc.send_signal(signal.SIGKILL)  # in the middle of its next commits
        reported += [tuple(map(int, line.split())) for line in proc.stdout if line.strip()]  # type: ignore[misc]
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        assert _integrity(path) == "ok"
        with History(path) as h:
            assert h.notice is None
            for i, n in reported:
                e = h.entry(i)
                assert e is not None and e.status == "done" and e.written == n and e.settings["n"] == n
        assert _integrity(path) == "ok"


@pytest.mark.parametrize("damage", ["random bytes", "truncated", "bad pages"])
def test_a_damaged_file_is_moved_aside_byte_for_byte(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "h.sqlite3"
    if damage == "random bytes":
        path.write_bytes(os.urandom(8192))
    else:
        with History(path) as h:
            for n in range(300):
                h.record_start("batch", model=f"model {n}", settings={"pad": "y" * 200})
        data = path.read_bytes()
        assert len(data) > 16 * 4096
        if damage == "truncated":
            path.write_bytes(data[: len(data) // 2])
        else:  # keep the header, overwrite the table's pages
            path.write_bytes(data[:4096] + os.urandom(len(data) - 4096))
    before = path.read_bytes()
    h = History(path)
    try:
        assert h.notice is not None and "moved to" in h.notice
        aside = [p for p in tmp_path.iterdir() if p.name.startswith("h.sqlite3.corrupt-")]
        assert len(aside) == 1 and aside[0].read_bytes() == before and str(aside[0]) in h.notice
        assert h.entries() == []  # a fresh history
        h.record_start("batch", model="after")
        assert [e.model for e in h.entries()] == ["after"]
    finally:
        h.close()
    assert _integrity(path) == "ok"


def test_a_newer_file_is_moved_aside_and_an_older_one_migrated(tmp_path: Path) -> None:
    newer = tmp_path / "new.sqlite3"
    db = sqlite3.connect(newer)
    db.execute("CREATE TABLE entries (id INTEGER PRIMARY KEY, future TEXT)")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    before = newer.read_bytes()
    with History(newer) as h:
        assert h.notice is not None and "newer version" in h.notice
        aside = [p for p in tmp_path.iterdir() if p.name.startswith("new.sqlite3.newer-")]
        assert len(aside) == 1 and aside[0].read_bytes() == before
        assert h.entries() == []
    older = tmp_path / "old.sqlite3"  # format 0: a database without the history's table
    db = sqlite3.connect(older)
    db.execute("CREATE TABLE notes (text TEXT)")
    db.commit()
    db.close()
    with History(older) as h:
        assert h.notice is None
        h.record_start("finetune", model="m")
        assert len(h.entries()) == 1
    db = sqlite3.connect(older)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("SELECT count(*) FROM notes").fetchone()[0] == 0  # the rest of the file untouched
    db.close()


def test_two_threads_write_at_once(tmp_path: Path) -> None:
    errors: list[BaseException] = []
    with History(tmp_path / "h.sqlite3") as h:
        def write(name: str) -> None:
            try:
                for n in range(60):
                    i = h.record_start("batch", model=name, settings={"n": n})
                    h.record_finish(i, "done", written=n)
                    h.entries(model=name, limit=5)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(f"t{k}",)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        for k in range(2):
            got = h.entries(model=f"t{k}", limit=1000)
            assert sorted(e.written for e in got) == list(range(60)) and {e.status for e in got} == {"done"}


def test_wrong_arguments_and_an_unwritable_folder(tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite3") as h:
        with pytest.raises(ValueError, match="kind"):
            h.record_start("render")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="status"):
            h.record_finish(1, "running")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(HistoryError, match="TRANSLATOR_DATA_DIR"):
        History(blocker / "sub" / "h.sqlite3")

