"""Atomic file writes: a reader never sees a half-written output or checkpoint.

The data goes to a hidden temporary file in the destination's folder (same file system), is
flushed to disk, then renamed over the destination in one step. If anything fails the destination
is untouched and the temporary file is removed. After kill -9 the temporary file stays behind,
with a name `is_partial_file` recognises and that records its writer (process id and host), so
a later job can tell an abandoned one (`is_stale_partial`) from one another process (say,
another torchrun rank writing to the same folder) is still writing.

A temporary name has one exact structure, `.partial-<pid>.<host>.<nonce>.<check>-<stem><suffix>`,
whose `check` is a hash of the rest: a user's file that merely starts with `.partial-` is never
taken for one, so cleaning up never removes a file the tool did not create. The name stays within
the file system's name limit (NAME_MAX) by shortening the stem it embeds.

`require_writable` turns "no file can be made there" into an error a user can act on, for checks
before any work; `shown` is how a file name (or any untrusted text) is printed or reported.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import socket
import stat
import time
from collections.abc import Iterator
from typing import IO
from pathlib import Path

from translator.errors import OutputError, TranslatorError

PARTIAL_PREFIX = ".partial-"
FOREIGN_PARTIAL_MAX_AGE_S = 3600.0  # a partial file of another host counts as abandoned after this
DEFAULT_NAME_MAX = 255  # bytes in one file name on Linux, macOS and Windows file systems

# `.partial-<pid>.<host tag>.<nonce>.<check>-<stem and suffix>`; `check` is `_check` of the rest.
_PARTIAL_NAME = re.compile(r"\.partial-([0-9]{1,10})\.([0-9a-f]{8})\.([0-9a-f]{8})\.([0-9a-f]{12})-(.*)", re.DOTALL)


def _host_tag() -> str:
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def _check(pid: int, host: str, nonce: str, rest: str) -> str:
    """The check part of a temporary name: a hash of all its other parts (the tool's mark)."""
    text = f"translator partial file\0{pid}.{host}.{nonce}\0{rest}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def _nbytes(text: str) -> int:
    """`text`'s length in a file name, in bytes (UTF-8; a lone surrogate counted as 3, at least what
    it takes on disk)."""
    return len(text.encode("utf-8", "surrogatepass"))


def fitting_name(stem: str, suffix: str, name_max: int = DEFAULT_NAME_MAX) -> str:
    """`stem + suffix`, the stem shortened (by whole characters) so the name fits `name_max` bytes:
    for names the tool derives from an input's (a heat-map beside a 255-byte photo name)."""
    return _fit(stem, name_max - _nbytes(suffix)) + suffix


def _fit(text: str, limit: int) -> str:
    """The longest start of `text` that is at most `limit` bytes in a file name, never splitting a
    character."""
    out: list[str] = []
    used = 0
    for ch in text:
        used += _nbytes(ch)
        if used > limit:
            break
        out.append(ch)
    return "".join(out)


def partial_name(stem: str, suffix: str, *, pid: int | None = None, host: str | None = None,
                 nonce: str | None = None, name_max: int = DEFAULT_NAME_MAX) -> str:
    """A temporary file name for an output `<stem><suffix>`, written by process `pid` on `host`
    (a host tag; default: this process). The stem is shortened to keep the name within `name_max`
    bytes; the suffix is kept (writers such as Pillow pick the format from it), unless it alone
    does not fit."""
    pid = os.getpid() if pid is None else pid
    host = _host_tag() if host is None else host
    nonce = secrets.token_hex(4) if nonce is None else nonce
    room = name_max - len(f"{PARTIAL_PREFIX}{pid}.{host}.{nonce}.{'0' * 12}-".encode())
    if _nbytes(suffix) > room:
        suffix = ""  # no format is named by so long a suffix
    rest = _fit(stem, room - _nbytes(suffix)) + suffix
    return f"{PARTIAL_PREFIX}{pid}.{host}.{nonce}.{_check(pid, host, nonce, rest)}-{rest}"


def _writer(path: Path) -> tuple[int, str] | None:
    """The (pid, host tag) a temporary file's name records; None for any other name."""
    m = _PARTIAL_NAME.fullmatch(path.name)
    if m is None:
        return None
    pid_text, host, nonce, check, rest = m.groups()
    pid = int(pid_text)
    return (pid, host) if _check(pid, host, nonce, rest) == check else None


def is_partial_file(path: Path) -> bool:
    """True for the temporary files `atomic_path` creates, and for no other name."""
    return _writer(path) is not None


def is_stale_partial(path: Path) -> bool:
    """True for a temporary file of the tool's whose writer is gone: a dead process on this host,
    or (another host's) one untouched for an hour. Never true for a file the tool did not create."""
    writer = _writer(path)
    if writer is None:
        return False
    pid, host = writer
    if host == _host_tag():
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


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # not POSIX, or the file system does not say
        return DEFAULT_NAME_MAX


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once, at import: os.umask can only be read by setting it


def _create_partial(folder: Path, stem: str, suffix: str) -> Path:
    """Create an empty temporary file in `folder` (a new name each try) with the mode any file the
    user saves gets (0666 minus the umask)."""
    name_max = _name_max(folder)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = folder / partial_name(stem, suffix, name_max=name_max)
        try:
            os.close(os.open(tmp, flags, 0o666 & ~_UMASK))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"{folder}: no free temporary file name after 100 tries")


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
    tmp = _create_partial(dst.parent, dst.stem, dst.suffix)
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
    _create_partial(folder, "probe", "").unlink()


def open_regular(path: Path, what: str, error: type[TranslatorError]) -> int:
    """A blocking descriptor of `path`, opened for reading if it is a regular file (also through a
    link). A named pipe, device or folder named like one (which would block for good, or never end:
    `/dev/zero`) raises `error` saying it is not `what` (e.g. "an image file"); it is opened
    without blocking first, so a pipe never stalls the job."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "a named pipe" if stat.S_ISFIFO(mode) else "a device or socket"
            raise error(f"{path}: is {kind}, not {what}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def require_writable(folder: Path, what: str, instead: str) -> None:
    """`check_writable` without creating anything (a check before the work, which may still fail:
    a folder that does not exist yet is probed at its nearest existing parent, where it would be
    made), failing with an `OutputError` a user can act on: `what` names the files (e.g. "the
    outputs"), `instead` what else to choose (e.g. "another output folder")."""
    probe = Path(folder).absolute()
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    try:
        if not probe.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, f"{probe} is a file, not a folder")
        check_writable(probe)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write {what} here ({exc.strerror or exc}); "
                          f"choose {instead} or make this one writable") from exc


def shown(text: object) -> str:
    """`text` (a file name, a model card's field, a message holding them) safe to print on a
    terminal or put in a report: control characters (C0, DEL, C1), line and paragraph separators,
    bidirectional overrides and lone surrogates become visible escapes (`\\x1b`, `\\u202e`). A byte
    of a file name that is not UTF-8 (Python's surrogateescape) shows as that byte (`\\xff`)."""
    return _UNSAFE.sub(_escape, str(text))


_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match[str]) -> str:
    char = m.group()
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte of a file name
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def sha256_of(f: IO[bytes]) -> str:
    """The sha256 of what is left to read in `f`, read a MiB at a time (model files are large)."""
    h = hashlib.sha256()
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
    return h.hexdigest()
