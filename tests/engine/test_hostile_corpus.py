"""Every entry point against the hostile-file corpus (tests/engine/hostile_corpus.py): a result or
a clear message; never a crash, a hang, a changed input, a checkpoint's code run, raw control
characters on the terminal, or an honest file refused for its name.

Each model file goes through `translator inspect` (plain and --json), `import`, `translate -m`,
`eval -m` (--report and --heatmaps), `export`, `train --from` (one step of a tiny net on a tiny
crop) and the engine's `load_model`, `read_card` and `import_reference`. Each image goes through
`translate`, `eval` (--report and --heatmaps), `pairs` and the engine's `read_image`,
`read_thumbnail`, `probe_image` and `scan_dataset`. Three folders go through the folder jobs: `all`
(every hostile image: translate, eval with them as inputs and as targets, pairs, train pix2pix and
CycleGAN for a step, scan_dataset), `names` (honest photos under hostile names, the same jobs,
which must succeed) and `tree` (sub-folders with hostile names: translate -r, pairs -r). FIFOs and
links to /dev/zero named like images and model files go to the engine's readers only, with a
short limit: a reader that waits on one would stall every job above. Commands run in-process
through `translator.cli.main`, on the CPU at fp32, with one torch thread.

Every run is classified:
- ok: exit status 0, or the engine function returned;
- clear: exit status 1 or 2 with an `error: ` line or a per-file failure naming the file (or the
  folder given, or the model name derived from the file), or a `TranslatorError` naming it;
- unclear: refused without naming what was refused;
- crash: a traceback, an exception escaping `main` (from the engine: one that is not a
  `TranslatorError`), an exit status other than 0, 1 and 2;
- hang: still running after `LIMIT_S` (SIGALRM, and a helper process that opens any FIFO a reader
  waits on; a hang the alarm cannot break ends the process after `BACKSTOP_S`, faulthandler
  writing every thread's stack to backstop.txt in the corpus folder);
and checked for inputs changed (type, size, mtime and sha256 of every entry of the case's folder
and the shared inputs, before and after; the whole corpus again at the end), code executed (a
pickle payload's marker file, or the file a name's shell syntax would create in the working
folder), raw control characters in what the commands print, and an honest input (`HONEST`: a
valid file hostile only in its name or its card's text) refused by an entry point that takes it.
The runs are bounded in memory (RLIMIT_AS: a run allocating what a forged header claims fails
instead of taking the machine).

What the tool gets wrong today is in `KNOWN` (strict xfails). The summary test prints one line of
counts (shown without -s) for the issue's note.
"""
from __future__ import annotations

import contextlib
import dataclasses
import faulthandler
import hashlib
import io
import logging
import os
import re
import resource
import signal
import stat
import subprocess
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from tests.engine.hostile_corpus import (
    HONEST,
    HOSTILE_NAMES,
    IMAGE_CASES,
    MODEL_CASES,
    SHELL_MARKER,
    SPECIAL_CASES,
    Writer,
    hostile_name,
    photo,
    tiny_model,
)
from translator._fs import shown
from translator.checkpoint import load_model, read_card
from translator.cli import main
from translator.datasets import scan_dataset
from translator.errors import BadName, TranslatorError
from translator.imaging import probe_image, read_image, read_thumbnail
from translator.reference import check_model_name, default_model_name, import_reference

log = logging.getLogger(__name__)

LIMIT_S = 10.0  # a run taking longer than this is a hang
SPECIAL_LIMIT_S = 0.5  # the same for reading a FIFO or an endless file, which is refused at once or never
BACKSTOP_S = 60  # a hang the alarm cannot break (inside C code) ends the process, printing every stack
HEADROOM = 3 * 2**29  # 1.5 GiB of address space a run may add: what any honest run here needs, many times over
# Inference at fp32 on the CPU: the same code path for reading files, without `auto`'s bf16 check
# (a check per model file: seconds each here).
INFER = ("-q", "--device", "cpu", "--precision", "fp32")
TRAIN = ("-q", "--steps", "1", "--crop-size", "32", "--load-size", "32", "--batch-size", "1", "--workers", "0",
         "--d-warmup-steps", "0", "--no-ema", "--device", "cpu", "--seed", "0")
TINY_NETS = ("--generator", "resnet_1blocks", "--base-filters", "4", "--d-base-filters", "4", "--d-layers", "1")
# Characters a terminal acts on: C0 but the newline, DEL, C1, bidi controls, line separators, lone surrogates.
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")

# The folders of many cases (see `Sweep.folder_runs`) and the jobs run over each.
FOLDERS: dict[str, tuple[str, ...]] = {
    "all": ("translate", "eval", "eval targets", "pairs", "train pix2pix", "train cyclegan", "scan_dataset"),
    "names": ("translate", "eval", "pairs", "train pix2pix", "train cyclegan"),
    "tree": ("translate -r", "pairs -r"),
}
INPUTS = ("models", "images", "all", "names", "tree", "special", "good")  # every input folder under the sweep's root

# Cases the tool gets wrong today: case id -> what happens (marked xfail(strict=True): the lead
# sees them, and the mark must go when they are fixed).
KNOWN: dict[str, str] = {}

# The libraries' notes about the damaged input they are fed (Pillow's on TIFF tags and bombs; torch's
# on a bare pickle's protocol); the tool's own warnings stay errors.
pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning:PIL"),
    pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning"),
    pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning"),
]


# --------------------------------------------------------------------------------------- outcomes


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one run of one entry point on one case did."""

    case: str
    entry: str
    verdict: str  # ok | clear | unclear | crash | hang
    detail: str  # the message, the output's last lines or the traceback
    seconds: float
    changed: tuple[str, ...]  # inputs whose type, size, mtime or bytes changed (or that appeared or vanished)
    executed: bool  # a payload or a name's shell syntax ran
    unescaped: bool  # raw control characters reached the terminal
    refused: bool  # an honest input (`HONEST`) that this entry point takes was not taken

    def problems(self) -> list[str]:
        found = [self.verdict] if self.verdict in ("unclear", "crash", "hang") else []
        found += ["an honest input refused"] if self.refused else []
        found += ["inputs changed: " + ", ".join(map(repr, self.changed))] if self.changed else []
        found += ["code executed"] if self.executed else []
        found += ["unescaped output"] if self.unescaped else []
        return found

    def __str__(self) -> str:
        return f"{self.case} × {self.entry}: {self.verdict} ({self.seconds:.1f} s) {', '.join(self.problems())}\n{self.detail}"


class Hang(BaseException):
    """Raised by the alarm in the run it interrupts: not an `Exception`, so no handler in the
    tool swallows it."""


@contextlib.contextmanager
def _deadline(seconds: float, backstop: IO[str]) -> Iterator[None]:
    """Raise `Hang` in the main thread after `seconds` (when it next runs Python code); end the
    process after `BACKSTOP_S`, writing every thread's stack to `backstop`, if it never does."""
    def expire(_signum: int, _frame: object) -> None:
        raise Hang(f"still running after {seconds:g} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    faulthandler.dump_traceback_later(BACKSTOP_S, exit=True, file=backstop)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@contextlib.contextmanager
def _fifos_released(fifos: Sequence[Path], after_s: float) -> Iterator[None]:
    """From `after_s` on, a helper process keeps opening `fifos` (read-write, which never blocks)
    and closing them: a reader waiting to open one (in any thread, or in native code the alarm
    cannot interrupt) gets an empty file, so a hung run unwinds."""
    if not fifos:
        yield
        return
    script = 'sleep "$0"; while :; do for f; do : 3<>"$f"; done; sleep 0.1; done'
    helper = subprocess.Popen(["sh", "-c", script, f"{after_s:g}", *map(str, fifos)])
    try:
        yield
    finally:
        helper.kill()
        helper.wait()


@contextlib.contextmanager
def _bounded_memory() -> Iterator[None]:
    """The address space limited to what the process has plus `HEADROOM` (Linux)."""
    status = Path("/proc/self/status")
    if not status.exists():
        yield
        return
    vm = int(status.read_text().split("VmSize:")[1].split()[0]) * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (vm + HEADROOM, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def fingerprint(*roots: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry under `roots` (links and FIFOs not followed or opened): its type, and for a file
    its size, mtime and sha256, for a link its target."""
    found: dict[str, tuple[Any, ...]] = {}
    for root in roots:
        for folder, dirs, files in os.walk(root):
            for name in dirs + files:
                path = os.path.join(folder, name)
                st = os.lstat(path)
                if stat.S_ISREG(st.st_mode):
                    with open(path, "rb") as f:
                        found[path] = ("file", st.st_size, st.st_mtime_ns, hashlib.sha256(f.read()).hexdigest())
                elif stat.S_ISLNK(st.st_mode):
                    found[path] = ("link", os.readlink(path))
                else:
                    found[path] = (stat.S_IFMT(st.st_mode),)
    return found


def _changed(before: dict[str, tuple[Any, ...]], after: dict[str, tuple[Any, ...]]) -> tuple[str, ...]:
    return tuple(sorted(shown(p) for p in before.keys() | after.keys() if before.get(p) != after.get(p)))


# --------------------------------------------------------------------------------------- calls


@dataclasses.dataclass(frozen=True)
class Cli:
    """`translator ARGV`, run in-process."""

    argv: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Engine:
    """An engine function the app calls."""

    call: Callable[[], object]


Call = Cli | Engine


def cli(*args: str | Path) -> Cli:
    return Cli(tuple(map(str, args)))


def _run_cli(argv: Sequence[str], names: Sequence[str]) -> tuple[str, str, bool]:
    """(verdict, detail, whether raw control characters were printed) of `translator ARGV`;
    `names` (as printed) are what a message must name."""
    out, err = io.StringIO(), io.StringIO()
    code: object = None
    escaping: str | None = None  # what escaped `main`
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse refusing the command line
            code = exc.code
        except Hang as exc:
            escaping = f"hang: {exc}"
        except Exception:
            escaping = traceback.format_exc()
    text = out.getvalue() + err.getvalue()
    tail = "\n".join(text.splitlines()[-6:])
    raw = bool(RAW_CONTROL.search(text))
    if escaping is not None:
        return ("hang" if escaping.startswith("hang: ") else "crash"), f"{escaping}\n{tail}", raw
    if "Traceback (most recent call last)" in text or code not in (0, 1, 2):
        return "crash", f"exit status {code}\n{tail}", raw
    if code == 0:
        return "ok", tail, raw
    stated = [line for line in text.splitlines() if line.startswith(("error: ", "failed: ", "  ", "no pairs", "nothing to"))]
    named = any(n in line for line in stated for n in names)
    return ("clear" if named else "unclear"), f"exit status {code}\n{tail}", raw


def _run_engine(call: Callable[[], object], names: Sequence[str]) -> tuple[str, str]:
    try:
        call()
    except Hang as exc:
        return "hang", str(exc)
    except TranslatorError as exc:
        return ("clear" if any(n in str(exc) for n in names) else "unclear"), f"{type(exc).__name__}: {exc}"
    except Exception:
        return "crash", traceback.format_exc()
    return "ok", ""


# --------------------------------------------------------------------------------------- the sweep


def _photo_file(path: Path, seed: int = 0) -> Path:
    """A real photo (40x32, the size of the corpus's images: a crop of scikit-image's astronaut
    shifted by `seed`) as PNG."""
    rgb = np.asarray(photo().resize((80, 64)))[seed : seed + 32, seed : seed + 40]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, format="PNG")  # by name, not suffix: "..png" has none for Pillow
    return path


@dataclasses.dataclass
class Sweep:
    """The corpus on disk, the shared good inputs, and every outcome so far."""

    root: Path
    model: Path  # a tiny honest model for the image runs
    backstop: IO[str]  # where a hang the alarm cannot break writes every thread's stack
    outcomes: dict[tuple[str, str], Outcome] = dataclasses.field(default_factory=dict)
    snapshot: dict[str, tuple[Any, ...]] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    @property
    def good(self) -> Path:
        return self.root / "good"

    @property
    def markers(self) -> Path:
        return self.root / "markers"

    @property
    def work(self) -> Path:
        return self.root / "work"  # the working folder of every run

    def out(self, case: str, entry: str) -> Path:
        folder = self.root / "out" / case / re.sub(r"[^a-z0-9]+", "-", entry.lower()).strip("-")
        folder.mkdir(parents=True)
        return folder

    def executed(self) -> bool:
        return any(self.markers.iterdir()) or (self.work / SHELL_MARKER).exists()

    def run(self, case: str, entry: str, call: Call, names: Sequence[str], watch: Sequence[Path],
            limit_s: float = LIMIT_S, must_succeed: bool = False) -> Outcome:
        """One entry point on one case, classified (and recorded)."""
        fifos = [Path(p) for p, kind in fingerprint(*watch).items() if kind == (stat.S_IFIFO,)]
        before = fingerprint(*watch, self.good)
        cwd, threads = Path.cwd(), torch.get_num_threads()
        start = time.perf_counter()
        os.chdir(self.work)
        torch.set_num_threads(1)  # tiny nets: a second thread only waits on the first (and slows 10x on a busy machine)
        try:
            with _bounded_memory(), _fifos_released(fifos, limit_s + 0.2), _deadline(limit_s, self.backstop):
                if isinstance(call, Cli):
                    verdict, detail, raw = _run_cli(call.argv, [shown(n) for n in names])
                else:
                    (verdict, detail), raw = _run_engine(call.call, names), False
        except Hang as exc:  # fired between the call's end and the alarm's cancelling
            verdict, detail, raw = "hang", str(exc), False
        finally:
            os.chdir(cwd)
            torch.set_num_threads(threads)
        seconds = time.perf_counter() - start
        self.seconds += seconds
        outcome = Outcome(case, entry, verdict, detail, seconds, _changed(before, fingerprint(*watch, self.good)),
                          self.executed(), raw and verdict != "crash", must_succeed and verdict != "ok")
        self.outcomes[case, entry] = outcome
        return outcome

    # ----------------------------------------------------------------------------- model files

    def model_case(self, case: str) -> list[Outcome]:
        folder = self.root / "models" / case
        path = next(folder.iterdir())
        m = str(path)
        out = {e: self.out(case, e) for e in ("import", "translate", "eval", "export", "train")}
        calls: dict[str, Call] = {
            "inspect": cli("inspect", m),
            "inspect --json": cli("inspect", "--json", m),
            "import": cli("import", m, "--kind", "pix2pix", "-o", out["import"] / "imported.safetensors"),
            "translate -m": cli("translate", *INFER, "-m", m, self.good / "in" / "p0.png", "-o", out["translate"] / "out"),
            "eval -m": cli("eval", *INFER, "-m", m, "-i", self.good / "in", "-t", self.good / "tgt",
                           "--report", out["eval"] / "report.csv", "--heatmaps", out["eval"] / "heatmaps"),
            "export": cli("export", m, "-o", out["export"] / "exported"),
            "train --from": cli("train", "pix2pix", "--data", self.good / "ds", "-o", out["train"] / "run", "--from", m, *TRAIN),
            "load_model": Engine(lambda: load_model(path)),
            "read_card": Engine(lambda: read_card(path)),
            "import_reference": Engine(lambda: import_reference(path, kind="pix2pix", name="hostile")),
        }
        # `import` without --name names the model after the file: a refused name is the file's
        names = [path.name, str(path), repr(default_model_name(path))[1:-1]]
        takes = _taking(path) if case in HONEST else set()
        return [self.run(case, entry, call, names, [folder], must_succeed=entry in takes) for entry, call in calls.items()]

    # ----------------------------------------------------------------------------- images

    def image_case(self, case: str) -> list[Outcome]:
        root = self.root / "images" / case
        a, b = root / "A", root / "B"
        path = next(a.iterdir())
        out = {e: self.out(case, e) for e in ("translate", "eval", "pairs")}
        calls: dict[str, Call] = {
            "read_image": Engine(lambda: read_image(path)),
            "read_thumbnail": Engine(lambda: read_thumbnail(path)),
            "probe_image": Engine(lambda: probe_image(path)),
            "scan_dataset": Engine(lambda: scan_dataset(root, paired=True)),
            "translate": cli("translate", *INFER, "-m", self.model, path, "-o", out["translate"] / "out"),
            "eval": cli("eval", *INFER, "-m", self.model, "-i", a, "-t", b, "--report", out["eval"] / "r.csv",
                        "--heatmaps", out["eval"] / "heatmaps"),
            "pairs": cli("pairs", "-q", a, "-o", out["pairs"] / "dataset", "--kind", "edges", "--size", "32"),
        }
        names = [path.name, str(path), str(a), str(root)]
        takes = set(calls) - ({"scan_dataset", "eval", "pairs"} if path.name.startswith(".") else set())  # folders hide it
        return [self.run(case, entry, call, names, [root], must_succeed=case in HONEST and entry in takes)
                for entry, call in calls.items()]

    def special_case(self, case: str) -> list[Outcome]:
        """The engine's readers on an entry that is not a file (a FIFO, a link to /dev/zero): a
        reader that checks what it opens answers at once, hence the short limit."""
        folder = self.root / "special" / case
        path = next(folder.iterdir())
        calls: dict[str, Call] = {
            "read_image": Engine(lambda: read_image(path)),
            "probe_image": Engine(lambda: probe_image(path)),
            "read_thumbnail": Engine(lambda: read_thumbnail(path)),
        } if path.suffix == ".png" else {
            "read_card": Engine(lambda: read_card(path)),
            "load_model": Engine(lambda: load_model(path)),
            "import_reference": Engine(lambda: import_reference(path, kind="pix2pix", name="hostile")),
        }
        return [self.run(case, entry, call, [path.name], [folder], SPECIAL_LIMIT_S) for entry, call in calls.items()]

    def folder_runs(self, name: str) -> dict[str, Call]:
        """The jobs over one of `FOLDERS`: `all` (every hostile image in `A/`, an honest partner of
        each stem in `B/`), `names` (the same for the honest photos under hostile names, so the
        jobs run to the end) and `tree` (sub-folders with hostile names, recursively)."""
        root, out, m = self.root / name, self.root / "out" / name, self.model
        calls: dict[str, Call] = {
            "translate": cli("translate", *INFER, "-m", m, root / "A", "-o", out / "translate"),
            "eval": cli("eval", *INFER, "--no-realism", "-m", m, "-i", root / "A", "-t", root / "B", "--report", out / "report.csv",
                        "--heatmaps", out / "heatmaps"),
            "eval targets": cli("eval", *INFER, "--no-realism", "-m", m, "-i", root / "B", "-t", root / "A", "--report",
                                out / "targets.csv", "--heatmaps", out / "target-heatmaps"),
            "pairs": cli("pairs", "-q", root / "A", "-o", out / "pairs", "--kind", "edges", "--size", "32"),
            "train pix2pix": cli("train", "pix2pix", "--data", root, "-o", out / "train-pix2pix", *TRAIN, *TINY_NETS),
            "train cyclegan": cli("train", "cyclegan", "--data", root, "-o", out / "train-cyclegan", *TRAIN, *TINY_NETS),
            "scan_dataset": Engine(lambda: scan_dataset(root, paired=True)),
            "translate -r": cli("translate", *INFER, "-r", "-m", m, root, "-o", out / "translate-r"),
            "pairs -r": cli("pairs", "-q", "-r", root, "-o", out / "pairs-r", "--kind", "edges", "--size", "32"),
        }
        return {entry: calls[entry] for entry in FOLDERS[name]}

    def folder_case(self, name: str, entry: str) -> Outcome:
        (self.root / "out" / name).mkdir(parents=True, exist_ok=True)
        root = self.root / name
        return self.run(name, entry, self.folder_runs(name)[entry], [str(root), str(root / "A")], [root],
                        must_succeed=name == "names")

    def everything(self) -> list[Outcome]:
        """Every outcome, running what has not run yet (a test selected with -k leaves some)."""
        for case in MODEL_CASES:
            if (case, "inspect") not in self.outcomes:
                self.model_case(case)
        for case in IMAGE_CASES:
            if (case, "read_image") not in self.outcomes:
                self.image_case(case)
        for name, entries in FOLDERS.items():
            for entry in entries:
                if (name, entry) not in self.outcomes:
                    self.folder_case(name, entry)
        for case in SPECIAL_CASES:
            if not any(c == case for c, _ in self.outcomes):
                self.special_case(case)
        return list(self.outcomes.values())


def _taking(path: Path) -> set[str]:
    """The entry points that take an honest model file (`.safetensors`) or reference checkpoint
    (`.pth`; `import` only when the model name it derives from the file name is a valid one)."""
    if path.suffix == ".safetensors":
        return {"inspect", "inspect --json", "translate -m", "eval -m", "export", "train --from", "load_model", "read_card"}
    try:
        check_model_name(default_model_name(path))
    except BadName:
        return {"inspect", "inspect --json", "import_reference"}
    return {"inspect", "inspect --json", "import", "import_reference"}


def _partner(image: Path, target: Path) -> None:
    """An honest target for `image` at `target`: the image itself when it is small and Pillow reads
    it (so eval compares a pair of one size), else a photo."""
    try:
        with Image.open(image) as im:
            if im.width * im.height <= 10**6:
                ImageOps.exif_transpose(im).convert("RGB").save(target, format="PNG")
                return
    except Exception:  # a hostile file: any error of Pillow's
        pass
    _photo_file(target)


def _write(writer: Writer, folder: Path, marker: Path) -> Path:
    folder.mkdir(parents=True)
    return writer(folder, marker)


def build(root: Path, backstop: IO[str]) -> Sweep:
    """The corpus written under `root` (empty), with the shared honest inputs."""
    model = root / "tiny.safetensors"
    model.write_bytes(tiny_model())
    s = Sweep(root, model, backstop)
    for place in (s.markers, s.work):
        place.mkdir()
    for i in range(2):  # the shared honest inputs: two photos, their inverted targets, a dataset of both
        for side, invert in (("in", False), ("tgt", True), ("ds/A", False), ("ds/B", True)):
            p = _photo_file(s.good / side / f"p{i}.png", seed=8 * i)
            if invert:
                Image.fromarray(255 - np.asarray(Image.open(p))).save(p, format="PNG")
    for case, writer in MODEL_CASES.items():
        _write(writer, root / "models" / case, s.markers / case)
    for case, writer in IMAGE_CASES.items():
        path = _write(writer, root / "images" / case / "A", s.markers / case)
        _partner(path, _ensure(root / "images" / case / "B") / (path.stem + ".png"))  # of the same stem
        for folder in ("all", "names") if case.startswith("image-name-") else ("all",):  # the stems differ
            twin = writer(_ensure(root / folder / "A"), s.markers / case)
            _partner(twin, _ensure(root / folder / "B") / (twin.stem + ".png"))
    assert len(list((root / "all" / "A").iterdir())) == len(IMAGE_CASES), "two image cases share a name"
    for key in HOSTILE_NAMES:  # sub-folders named like the files
        sub = _ensure(root / "tree" / hostile_name(key, "-folder"))
        _photo_file(sub / "photo.png")
        (sub / "damaged.png").write_bytes((sub / "photo.png").read_bytes()[:200])
    for case, writer in SPECIAL_CASES.items():
        _write(writer, root / "special" / case, s.markers / case)
    s.snapshot = fingerprint(*(root / f for f in INPUTS))
    return s


@pytest.fixture(scope="session")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sweep]:
    root = tmp_path_factory.mktemp("hostile")
    with open(root / "backstop.txt", "w") as backstop:
        log.info("a hang that never returns to Python ends the tests: every thread's stack is in %s", backstop.name)
        yield build(root, backstop)


def _ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _param(case: str) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=KNOWN[case])] if case in KNOWN else []
    return pytest.param(case, id=case, marks=marks)


def _test_id(outcome: Outcome) -> str:
    """The id of the test that holds `outcome` (the keys of `KNOWN`)."""
    return f"{outcome.case}-{outcome.entry}" if outcome.case in FOLDERS else outcome.case


def _assert_sound(outcomes: Sequence[Outcome]) -> None:
    bad = [o for o in outcomes if o.problems()]
    assert not bad, "\n\n".join(map(str, bad))


@pytest.mark.parametrize("case", [_param(c) for c in MODEL_CASES])
def test_a_hostile_model_file_gets_a_result_or_a_clear_message(case: str, sweep: Sweep) -> None:
    _assert_sound(sweep.model_case(case))


@pytest.mark.parametrize("case", [_param(c) for c in IMAGE_CASES])
def test_a_hostile_image_gets_a_result_or_a_clear_message(case: str, sweep: Sweep) -> None:
    _assert_sound(sweep.image_case(case))


@pytest.mark.parametrize(("folder", "entry"), [pytest.param(f, e, id=f"{f}-{e}", marks=_param(f"{f}-{e}").marks)
                                               for f, es in FOLDERS.items() for e in es])
def test_a_folder_of_hostile_images(folder: str, entry: str, sweep: Sweep) -> None:
    _assert_sound([sweep.folder_case(folder, entry)])


@pytest.mark.parametrize("case", [_param(c) for c in SPECIAL_CASES])
def test_a_fifo_or_endless_file_named_like_an_image_or_model_is_refused_at_once(case: str, sweep: Sweep) -> None:
    _assert_sound(sweep.special_case(case))


def test_the_corpus_summary(sweep: Sweep, capsys: pytest.CaptureFixture[str]) -> None:
    """One line of counts for the issue's note; nothing but the known cases crashed, hung, changed
    an input or ran code, and the corpus is byte for byte as written."""
    outcomes = sweep.everything()
    counts = {v: sum(o.verdict == v for o in outcomes) for v in ("ok", "clear", "unclear", "crash", "hang")}
    changed = sum(bool(o.changed) for o in outcomes)
    executed = sum(o.executed for o in outcomes)
    unescaped = sum(o.unescaped for o in outcomes)
    refused = sum(o.refused for o in outcomes)
    known = sorted({_test_id(o) for o in outcomes if _test_id(o) in KNOWN and o.problems()})
    outside = [o for o in outcomes if o.problems() and _test_id(o) not in KNOWN]
    line = (f"hostile corpus: {len(MODEL_CASES) + len(IMAGE_CASES) + len(SPECIAL_CASES) + len(FOLDERS)} cases "
            f"({len(MODEL_CASES)} model files, {len(IMAGE_CASES)} images, {len(SPECIAL_CASES)} FIFOs and endless files, "
            f"{len(FOLDERS)} folders), {len(outcomes)} runs: {counts['clear']} clear messages, {counts['ok']} ok, "
            f"{counts['crash']} crashes, {counts['hang']} hangs, {changed} inputs changed, {executed} code executed, "
            f"{counts['unclear']} unclear, {unescaped} unescaped outputs, {refused} honest inputs refused; "
            f"{len(outside)} runs with a problem outside the {len(known)} known cases ({', '.join(known) or 'none'}); "
            f"runs took {sweep.seconds:.0f} s")
    log.info("%s", line)
    with capsys.disabled():
        print(f"\n{line}")
    _assert_sound(outside)
    after = fingerprint(*(sweep.root / f for f in INPUTS))
    assert _changed(sweep.snapshot, after) == ()


# --------------------------------------------------------------------------------------- the harness


def test_the_pickles_and_the_shell_names_are_real_attacks(tmp_path: Path) -> None:
    """Loaded without protection, every pickle of the corpus runs its payload (its marker appears),
    and the shell syntax in the names creates its marker: the corpus's zero is earned."""
    for case in [c for c in MODEL_CASES if c.startswith("pickle-")]:
        marker = tmp_path / f"{case}.ran"
        path = _write(MODEL_CASES[case], tmp_path / case, marker)
        with open(path, "rb") as f, contextlib.suppress(Exception):  # the payload runs while unpickling
            torch.load(f, weights_only=False)  # a file object: by its name torch would take a .safetensors as one
        assert marker.exists(), case
    subprocess.run(f"echo {hostile_name('shell', '.png')}", shell=True, cwd=tmp_path, capture_output=True, check=False)
    assert (tmp_path / SHELL_MARKER).exists()


def _raise(exc: BaseException) -> None:
    raise exc


def test_the_harness_sees_each_kind_of_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each classification and check, on a run made to show it."""
    watched = _ensure(tmp_path / "inputs")
    (watched / "in.png").write_bytes(b"bytes")
    for place in ("markers", "work", "good"):
        _ensure(tmp_path / place)
    with open(tmp_path / "backstop.txt", "w") as backstop:
        s = Sweep(tmp_path, tmp_path / "no-model.safetensors", backstop)

        def run(call: Call, limit_s: float = LIMIT_S, must_succeed: bool = False) -> Outcome:
            return s.run("case", str(len(s.outcomes)), call, ["in.png"], [watched], limit_s, must_succeed)

        assert run(Engine(lambda: None)).problems() == []
        assert run(Engine(lambda: _raise(TranslatorError(f"{watched / 'in.png'}: refused")))).verdict == "clear"
        assert run(Engine(lambda: _raise(TranslatorError("refused")))).verdict == "unclear"
        assert run(Engine(lambda: _raise(KeyError("width")))).verdict == "crash"
        assert run(Engine(lambda: time.sleep(30)), limit_s=0.2).verdict == "hang"
        assert run(Engine(lambda: (watched / "in.png").write_bytes(b"other"))).changed == (str(watched / "in.png"),)
        assert run(Engine(lambda: (tmp_path / "markers" / "case").touch())).executed
        (tmp_path / "markers" / "case").unlink()
        assert run(Engine(lambda: _raise(TranslatorError("in.png: no"))), must_succeed=True).refused
        missing = tmp_path / "in.png.safetensors"
        assert run(cli("inspect", missing)).verdict == "clear"  # "error: <path>: no such model file ..."
        assert run(cli("translate")).verdict == "unclear"  # argparse: the usage, naming nothing
        monkeypatch.setattr("translator.cli.cmd_inspect", lambda args: _raise(KeyError("card")))
        assert run(cli("inspect", missing)).verdict == "crash"
        monkeypatch.setattr("translator.cli.cmd_inspect", lambda args: print("\x1b]0;title\x07") or 0)
        assert run(cli("inspect", missing)).unescaped
