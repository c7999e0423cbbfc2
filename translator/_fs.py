"""Atomic file writes: a reader never sees a half-written output or checkpoint.

The data goes to a hidden temporary file in the destination's folder (same file system), is
flushed to disk, then renamed over the destination in one step. If anything fails the destination
is untouched and the temporary file is removed. After kill -9 the temporary file stays behind,
with a name `is_partial_file` recognises and that records its writer (process id and host), so
a later job can tell an abandoned one (`is_stale_partial`) from one another process (say,
another torchrun rank writing to the same folder) is still writing.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

PARTIAL_PREFIX = ".partial-"
FOREIGN_PARTIAL_MAX_AGE_S = 3600.0  # a partial file of another host counts as abandoned after this


def _host_tag() -> str:
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def _partial_prefix(stem: str) -> str:
    """The name start of this process's temporary files: `is_stale_partial` reads its writer from it."""
    return f"{PARTIAL_PREFIX}{os.getpid()}.{_host_tag()}-{stem}-"


def is_partial_file(path: Path) -> bool:
    """True for the temporary files `atomic_path` creates."""
    return path.name.startswith(PARTIAL_PREFIX)


def is_stale_partial(path: Path) -> bool:
    """True for a partial file whose writer is gone: a dead process on this host, or (another
    host's, or an unparseable name) one untouched for an hour."""
    if not is_partial_file(path):
        return False
    owner = path.name[len(PARTIAL_PREFIX) :].split("-", 1)[0]  # "<pid>.<host tag>"
    pid_text, _, host = owner.partition(".")
    if host == _host_tag() and pid_text.isdigit():
        pid = int(pid_text)
        if pid == os.getpid():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # alive, another user's
        return False
    try:
        return time.time() - path.stat().st_mtime > FOREIGN_PARTIAL_MAX_AGE_S
    except FileNotFoundError:
        return False


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once, at import: os.umask can only be read by setting it


@contextlib.contextmanager
def atomic_path(dst: Path, *, make_parents: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write to; on success it replaces `dst` atomically.

    The temporary name keeps `dst`'s suffix so libraries that pick a format from the extension
    (Pillow, OpenCV) still do. With `make_parents=False` a missing folder is an error
    (FileNotFoundError) instead of being created: a job whose output folder was deleted while it
    ran must say so, not quietly start a new one.
    """
    dst = Path(dst)
    if make_parents:
        dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=_partial_prefix(dst.stem), suffix=dst.suffix, dir=dst.parent)
    try:
        os.chmod(tmp_name, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; outputs get the usual mode
    finally:
        os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_bytes_atomic(dst: Path, data: bytes, *, make_parents: bool = True) -> None:
    """Write `data` to `dst` atomically."""
    with atomic_path(dst, make_parents=make_parents) as tmp:
        tmp.write_bytes(data)


def check_writable(folder: Path) -> None:
    """Create `folder` if needed and prove a file can be made in it (raises OSError otherwise).

    Permission bits alone do not tell (root ignores them; a read-only mount does not show in them),
    so a temporary file is created and removed.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=_partial_prefix("probe"), dir=folder)
    os.close(fd)
    os.unlink(name)
