"""The history of runs: every batch, fine-tuning run and saved preview, in a local SQLite file.

One row per run: its kind, when it started and finished, the model (name, sha256 and file), the
inputs and the output, every setting (the JSON of a `translator.provenance.Provenance`, or of a
training config), the counts written / skipped / failed, and how it ended. The app records
(`gui.history`) and lists (`gui.widgets.history_panel`) them; nothing here imports Qt.

The file is `paths.user_data_dir() / "history.sqlite3"` (`TRANSLATOR_DATA_DIR` moves it).

Durability. WAL mode with `synchronous=FULL`: each commit is in the log file, synced to the disk,
before `record_start`/`record_finish` return. WAL alone (at NORMAL) already survives the app being
killed (kill -9) at any moment with every returned commit kept, since the log's writes sit in the
operating system's buffers; FULL adds one fsync per commit so that a power cut loses nothing
committed either, and a run writes two rows, so the cost (1.7 ms a commit against 0.02 ms at
NORMAL, measured on this project's virtual disk) is never felt. tests/engine/test_history.py kills a writer in a tight loop to check it.

A damaged file (not a database, truncated, failing SQLite's quick check) or one written by a newer
version of the tool (a higher `PRAGMA user_version` than `SCHEMA_VERSION`) is never opened for
writing: it is renamed `history.sqlite3.corrupt-YYYYmmdd-HHMMSS` (or `.newer-…`), with its `-wal`
and `-shm` files, a new history starts, and `History.notice` says what happened so the app can
show it. An older schema is migrated in place (`_MIGRATIONS`).

Threads: one connection behind a lock; any thread may record (workers finishing jobs).
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, get_args

from translator.errors import TranslatorError
from translator.paths import user_data_dir

log = logging.getLogger(__name__)

FILE_NAME = "history.sqlite3"
SCHEMA_VERSION = 1

EntryKind = Literal["batch", "finetune", "preview-save"]
ENTRY_KINDS: tuple[EntryKind, ...] = get_args(EntryKind)
Status = Literal["running", "done", "cancelled", "failed"]
STATUSES: tuple[Status, ...] = get_args(Status)
_MAX_SETTINGS_CHARS = 1_000_000  # a settings column larger than this (a damaged row) reads as {}


class HistoryError(TranslatorError):
    """The history file cannot be written (disk full, permissions, removed)."""


def default_path() -> Path:
    return user_data_dir() / FILE_NAME


@dataclass(frozen=True)
class Entry:
    """One recorded run."""

    id: int
    kind: EntryKind
    status: Status
    started: datetime  # UTC
    finished: datetime | None  # None while running (or when the app died during the run)
    model: str  # the model's name
    model_sha256: str | None
    model_path: Path | None  # where the model file was (for "run again")
    inputs: tuple[Path, ...]  # input folders or files
    output: Path | None  # output folder (or file, for a saved preview)
    settings: dict[str, Any] = field(default_factory=dict)  # Provenance JSON or a training config
    written: int = 0
    skipped: int = 0
    failed: int = 0
    message: str | None = None  # why it failed, or what the user should know

    @property
    def duration_s(self) -> float | None:
        return None if self.finished is None else (self.finished - self.started).total_seconds()


def _create_v1(db: sqlite3.Connection) -> None:
    db.execute("""CREATE TABLE IF NOT EXISTS entries (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        started REAL NOT NULL,
        finished REAL,
        model TEXT NOT NULL DEFAULT '',
        model_sha256 TEXT,
        model_path TEXT,
        inputs TEXT NOT NULL DEFAULT '[]',
        output TEXT,
        settings TEXT NOT NULL DEFAULT '{}',
        written INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        message TEXT)""")
    db.execute("CREATE INDEX IF NOT EXISTS entries_started ON entries (started)")


# _MIGRATIONS[v] takes a database at schema v to v + 1 (0: a new, empty file).
_MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_create_v1,)
assert len(_MIGRATIONS) == SCHEMA_VERSION

_SQLITE_MAGIC = b"SQLite format 3\x00"


class History:
    """The history database; see the module docstring. Open with `History(path)` (default: the
    user data folder); `notice` is a message for the user when the file had to be moved aside."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.notice: str | None = None
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HistoryError(f"{self.path.parent}: cannot make the folder for the history ({exc.strerror or exc}); "
                               "check its permissions or set TRANSLATOR_DATA_DIR to another folder") from exc
        problem = self._problem()
        if problem is not None:
            self._move_aside(*problem)
        try:
            self._db = self._connect()
        except sqlite3.OperationalError as exc:  # locked by another program, an I/O error: not damage
            raise HistoryError(f"{self.path}: cannot open the history ({exc}); close other copies of the app, "
                               "or set TRANSLATOR_DATA_DIR to another folder") from exc
        except sqlite3.DatabaseError as exc:  # damage the header did not show
            self._move_aside("corrupt", f"it is damaged ({exc})")
            self._db = self._connect()

    # --- opening ----------------------------------------------------------------------------------

    def _problem(self) -> tuple[Literal["corrupt", "newer"], str] | None:
        """Why the file cannot be used as it is — ("corrupt" | "newer", reason) — or None. Reads
        its header only (no SQLite connection, which could write to a file we mean to keep)."""
        try:
            with open(self.path, "rb") as f:
                head = f.read(100)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise HistoryError(f"{self.path}: cannot read the history ({exc.strerror or exc}); check its permissions") from exc
        if not head:
            return None  # an empty file: SQLite starts a database in it
        if len(head) < 100 or not head.startswith(_SQLITE_MAGIC):
            return "corrupt", "it is not a database"
        return None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=5.0, check_same_thread=False, isolation_level=None)
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                db.close()
                self._move_aside("newer", f"it was written by a newer version of the tool (history format "
                                          f"{version}, this version reads up to {SCHEMA_VERSION})")
                return self._connect()
            check = db.execute("PRAGMA quick_check").fetchall()
            if check != [("ok",)]:
                raise sqlite3.DatabaseError("; ".join(str(r[0]) for r in check[:3]))
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            for step in range(version, SCHEMA_VERSION):
                with db:  # each step is one transaction
                    db.execute("BEGIN IMMEDIATE")
                    _MIGRATIONS[step](db)
                    db.execute(f"PRAGMA user_version = {step + 1}")
                if step:
                    log.info("%s: history migrated from format %d to %d", self.path, step, step + 1)
        except BaseException:
            db.close()
            raise
        return db

    def _move_aside(self, why: Literal["corrupt", "newer"], reason: str) -> None:
        """Rename the file (and its -wal/-shm) to `<name>.<why>-<time>`, keeping its bytes; say so in `notice`."""
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.{why}-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = self.path.with_name(f"{self.path.name}.{why}-{stamp}-{n}")
        try:
            os.replace(self.path, aside)
            for suffix in ("-wal", "-shm"):
                extra = self.path.with_name(self.path.name + suffix)
                if extra.exists():
                    os.replace(extra, aside.with_name(aside.name + suffix))
        except OSError as exc:
            raise HistoryError(f"{self.path}: {reason}, and it cannot be moved aside ({exc.strerror or exc}); "
                               "move or delete it, or set TRANSLATOR_DATA_DIR to another folder") from exc
        self.notice = (f"The history of runs could not be used: {reason}. It was moved to {aside} and a new "
                       "history was started.")
        log.warning("%s", self.notice)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- writing -----------------------------------------------------------------------------------

    def _write(self, sql: str, args: Sequence[object]) -> sqlite3.Cursor:
        try:
            with self._lock, self._db:
                return self._db.execute(sql, args)
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: cannot record the run in the history ({exc}); check the disk space "
                               "and the file's permissions") from exc

    def record_start(self, kind: EntryKind, *, model: str = "", model_sha256: str | None = None,
                     model_path: Path | None = None, inputs: Sequence[Path] = (), output: Path | None = None,
                     settings: Mapping[str, Any] | None = None, started: datetime | None = None) -> int:
        """Record a run that starts now (status `running`); returns its id for `record_finish`."""
        if kind not in ENTRY_KINDS:
            raise ValueError(f"kind must be one of {', '.join(ENTRY_KINDS)}, not {kind!r}")
        when = (started or datetime.now(timezone.utc)).timestamp()
        cur = self._write(
            "INSERT INTO entries (kind, status, started, model, model_sha256, model_path, inputs, output, settings) "
            "VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?)",
            (kind, when, model, model_sha256, None if model_path is None else str(model_path),
             json.dumps([str(p) for p in inputs]), None if output is None else str(output),
             json.dumps(dict(settings or {}), default=str)))
        assert cur.lastrowid is not None
        return cur.lastrowid

    def record_finish(self, entry_id: int, status: Status, *, written: int = 0, skipped: int = 0, failed: int = 0,
                      message: str | None = None, settings: Mapping[str, Any] | None = None,
                      finished: datetime | None = None) -> None:
        """Record how run `entry_id` ended (`settings`, when given, replace the recorded ones)."""
        if status not in STATUSES or status == "running":
            raise ValueError(f"status must be done, cancelled or failed, not {status!r}")
        when = (finished or datetime.now(timezone.utc)).timestamp()
        sql = "UPDATE entries SET status = ?, finished = ?, written = ?, skipped = ?, failed = ?, message = ?"
        args: list[object] = [status, when, written, skipped, failed, message]
        if settings is not None:
            sql += ", settings = ?"
            args.append(json.dumps(dict(settings), default=str))
        self._write(sql + " WHERE id = ?", [*args, entry_id])

    def set_model_sha256(self, entry_id: int, sha256: str) -> None:
        """Fill in the model's sha256 of run `entry_id` (and in its settings), once it is known:
        a large model is hashed off the UI thread after the run was recorded."""
        self._write("UPDATE entries SET model_sha256 = ?, settings = CASE WHEN json_valid(settings) AND "
                    "json_type(settings, '$.model_sha256') IS NOT NULL THEN json_set(settings, '$.model_sha256', ?) "
                    "ELSE settings END WHERE id = ?", (sha256, sha256, entry_id))

    def set_inputs(self, entry_id: int, inputs: Sequence[Path]) -> None:
        """Set the inputs of run `entry_id` (a fine-tuning run's dataset folder is known once it has started)."""
        self._write("UPDATE entries SET inputs = ? WHERE id = ?", (json.dumps([str(p) for p in inputs]), entry_id))

    # --- reading -----------------------------------------------------------------------------------

    def entries(self, model: str | None = None, folder: Path | str | None = None, kind: EntryKind | None = None,
                limit: int = 500) -> list[Entry]:
        """Recorded runs, newest first. `model`: its name contains this text (any case), or its
        sha256 is it; `folder`: an input or the output contains this text; `kind`: of this kind."""
        where: list[str] = []
        args: list[object] = []
        if model:
            where.append("(model LIKE ? ESCAPE '\\' OR model_sha256 = ?)")
            args += [_like(str(model)), str(model).lower()]
        if folder:
            where.append("(inputs LIKE ? ESCAPE '\\' OR output LIKE ? ESCAPE '\\')")
            # inputs is JSON: a backslash or quote in a folder name is escaped there
            args += [_like(json.dumps(str(folder))[1:-1]), _like(str(folder))]
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        sql = ("SELECT id, kind, status, started, finished, model, model_sha256, model_path, inputs, output, settings, "
               "written, skipped, failed, message FROM entries")
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started DESC, id DESC LIMIT ?"
        args.append(int(limit))
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_entry(r) for r in rows]

    def entry(self, entry_id: int) -> Entry | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, kind, status, started, finished, model, model_sha256, model_path, inputs, output, settings, "
                "written, skipped, failed, message FROM entries WHERE id = ?", (entry_id,)).fetchone()
        return None if row is None else _entry(row)


def _like(text: str) -> str:
    """A LIKE pattern matching `text` anywhere (its own % and _ taken literally)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _when(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, timezone.utc)


def _json(text: str, default: Any) -> Any:
    if len(text) > _MAX_SETTINGS_CHARS:
        return default
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return default


def _entry(row: tuple[Any, ...]) -> Entry:
    (id_, kind, status, started, finished, model, sha, model_path, inputs, output, settings, written, skipped, failed,
     message) = row
    listed = _json(inputs, [])
    recorded = _json(settings, {})
    return Entry(
        id=id_, kind=kind, status=status, started=_when(started) or datetime.fromtimestamp(0, timezone.utc),
        finished=_when(finished), model=model, model_sha256=sha, model_path=None if model_path is None else Path(model_path),
        inputs=tuple(Path(p) for p in listed if isinstance(p, str)) if isinstance(listed, list) else (),
        output=None if output is None else Path(output), settings=recorded if isinstance(recorded, dict) else {},
        written=written, skipped=skipped, failed=failed, message=message)

