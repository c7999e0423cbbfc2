"""Nothing lost, nothing executed: every job over the bad-input corpus (tests/data/bad) finishes,
processes every good file, and lists every bad one with what is wrong with it."""
from __future__ import annotations

import csv
import importlib.util
import io
import os
import re
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TypeVar

import cv2
import numpy as np
import pytest
from PIL import Image

from translator import cli, imaging
from translator.datasets import Augment, PairedDataset, scan_dataset
from translator.errors import ImageError, TranslatorError, UnsupportedImage

BAD_DATA = Path(__file__).resolve().parents[1] / "data" / "bad"
ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def _load_make_bad() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_bad", BAD_DATA / "make_bad.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_bad = _load_make_bad()
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

REASONS: dict[str, str] = make_bad.REASONS
# Refused from their header alone (no decoding): what a dataset scan finds.
HEADER_BAD = {"empty.png", "webpage.jpg", "notes.png", "bomb.png", "loop.png", "folder.png", "locked.png"}


def _within(seconds: float, fn: Callable[[], T]) -> T:
    """Run `fn` on a thread; fail (instead of hanging the suite) if it takes longer than `seconds`."""
    values: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            values.append(fn())
        except BaseException as exc:  # re-raised on the test's thread
            errors.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"did not finish within {seconds} s"
    if errors:
        raise errors[0]
    return values[0]


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    """The committed bad files plus the run-time ones (no unreadable file as root)."""
    return make_bad.make_corpus(tmp_path / "in", unreadable=not AS_ROOT)


def _bad_names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name in REASONS}


def _assert_reasons(lines: list[str], folder: Path, names: set[str]) -> None:
    """Each bad file has exactly one line naming it with its specific reason."""
    for name in sorted(names):
        path = str(folder / name)
        mine = [line for line in lines if line.strip().removeprefix("failed: ").startswith(f"{path}: ")]
        assert len(mine) == 1, f"{name}: {mine or lines}"
        assert re.search(REASONS[name], mine[0]), mine[0]


def _assert_good_outputs(folder: Path, out: Path) -> None:
    """Every good file has a complete output of the image's (upright, first-frame) size."""
    for name, size in make_bad.GOOD.items():
        dst = imaging.output_path_for(folder / name, out)
        assert imaging.read_image(dst).size == size, name
    # odd-but-valid files keep what they carry
    assert cv2.imread(str(out / "grey16.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    src_alpha = imaging.read_image(folder / "palette_alpha.png").alpha
    out_alpha = imaging.read_image(out / "palette_alpha.png").alpha
    assert src_alpha is not None and out_alpha is not None and np.array_equal(src_alpha, out_alpha)
    assert 0 < int((src_alpha == 0).sum()) < src_alpha.size  # some transparent pixels, not all
    with Image.open(out / "rotated_exif6.jpg") as im:  # pixels upright, no orientation left to apply
        assert im.size == (60, 80) and im.getexif().get(0x0112, 1) == 1
    with Image.open(out / "cmyk.jpg") as im:
        assert im.mode == "RGB"


# ------------------------------------------------------------------------------- translate


def test_translate_command_over_the_corpus(corpus: Path, tmp_path: Path, tiny_pix2pix: Path) -> None:
    """The real command, in its own process: finishes in time, exit status 1, every bad file
    listed with its reason, every good one translated."""
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "translator", "translate", str(corpus), "-o", str(out), "--model", str(tiny_pix2pix),
         "--device", "cpu", "-q"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    bad = _bad_names(corpus)
    assert run.returncode == 1, run.stderr
    assert f"written {len(make_bad.GOOD)}, skipped 0 (already done), failed {len(bad)}" in run.stdout
    _assert_reasons(run.stdout.splitlines(), corpus, bad)
    assert "Traceback" not in run.stderr
    assert "animated.gif: an animation of 3 frames; only the first frame is used" in run.stderr
    _assert_good_outputs(corpus, out)
    assert sorted(p.name for p in out.iterdir()) == sorted(imaging.output_path_for(corpus / n, out).name
                                                            for n in make_bad.GOOD)


def test_translate_with_a_resnet_model(corpus: Path, tmp_path: Path, tiny_cyclegan: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """A ResNet takes the 1×1 and 3×5000 images too (padded to its 8-pixel minimum). A rerun skips
    what is done and reports the bad files again: all that is left to do, more failing reads in a
    row than the job reads ahead."""
    out = tmp_path / "out"
    args = ["translate", str(corpus), "-o", str(out), "--model", str(tiny_cyclegan), "--device", "cpu", "-q"]
    assert _within(60, lambda: cli.main(args)) == 1
    printed = capsys.readouterr().out
    bad = _bad_names(corpus)
    assert f"written {len(make_bad.GOOD)}, skipped 0 (already done), failed {len(bad)}" in printed
    _assert_reasons(printed.splitlines(), corpus, bad)
    _assert_good_outputs(corpus, out)
    assert _within(60, lambda: cli.main(args)) == 1
    assert f"written 0, skipped {len(make_bad.GOOD)} (already done), failed {len(bad)}" in capsys.readouterr().out


def test_a_bad_file_named_on_the_command_line(corpus: Path, tmp_path: Path, tiny_pix2pix: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Files given one by one, symbolic links that go nowhere among them, are planned and reported
    alike."""
    (corpus / "gone.png").symlink_to("nowhere.png")
    names = ["loop.png", "gone.png", "webpage.jpg", "tiny_1x1.png"]
    args = ["translate", *(str(corpus / n) for n in names), "-o", str(tmp_path / "o"), "--model", str(tiny_pix2pix),
            "--device", "cpu", "-q"]
    assert _within(60, lambda: cli.main(args)) == 1
    printed = capsys.readouterr().out
    assert "written 1, skipped 0 (already done), failed 3" in printed
    _assert_reasons(printed.splitlines(), corpus, {"loop.png", "webpage.jpg"})
    assert f"  {corpus / 'gone.png'}: is a symbolic link to nowhere.png, which does not exist; fix or remove the link" \
        in printed.splitlines()


@pytest.mark.skipif(AS_ROOT or not hasattr(os, "geteuid"), reason="root reads any file: permissions do not apply")
def test_a_file_without_read_permission(tmp_path: Path, tiny_pix2pix: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    make_bad.make_unreadable(folder)
    (folder / "tiny_1x1.png").write_bytes((BAD_DATA / "tiny_1x1.png").read_bytes())
    args = ["translate", str(folder), "-o", str(tmp_path / "o"), "--model", str(tiny_pix2pix), "--device", "cpu", "-q"]
    assert _within(60, lambda: cli.main(args)) == 1
    printed = capsys.readouterr().out
    assert "written 1, skipped 0 (already done), failed 1" in printed
    _assert_reasons(printed.splitlines(), folder, {"locked.png"})


# ------------------------------------------------------------------------------------ eval


def test_eval_command_over_the_corpus(corpus: Path, tmp_path: Path, tiny_pix2pix: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Inputs from the corpus, each with a target of the same name; one good input has a broken
    target. Measurable pairs get a row, every other pair a reason naming the file at fault."""
    targets = tmp_path / "targets"
    targets.mkdir()
    for p in corpus.iterdir():
        rgb = imaging.read_image(p).rgb if p.name in make_bad.GOOD else np.full((32, 32, 3), 90, np.uint8)
        imaging.write_image(targets / f"{p.stem}.png", 255 - rgb)
    (targets / "cmyk.png").write_bytes((BAD_DATA / "truncated_png.png").read_bytes())
    report = tmp_path / "report.csv"
    args = ["eval", "-i", str(corpus), "-t", str(targets), "--model", str(tiny_pix2pix), "--device", "cpu", "-q",
            "--report", str(report)]
    assert _within(60, lambda: cli.main(args)) == 1
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("failed: ")]
    bad = _bad_names(corpus)
    _assert_reasons(errors, corpus, bad)
    too_small = {"tiny_1x1.png": "1×1", "strip_3x5000.png": "3×5000"}
    for name, size in too_small.items():  # translated fine, but SSIM cannot measure them
        line = next(e for e in errors if f"{corpus / name}: " in e)
        assert f"cannot be evaluated: SSIM needs images of at least 11×11 pixels (its Gaussian window); got {size}" in line
    assert [e for e in errors if str(targets / "cmyk.png") in e] == [
        f"failed: {targets / 'cmyk.png'}: the image data is truncated or corrupt (image file is truncated)"]
    assert len(errors) == len(bad) + len(too_small) + 1
    measured = set(make_bad.GOOD) - set(too_small) - {"cmyk.jpg"}
    with open(report, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["input"] != "mean"]
    assert sorted(Path(r["input"]).name for r in rows) == sorted(measured)
    assert all(float(r["psnr"]) > 0 and -1 <= float(r["ssim"]) <= 1 for r in rows)
    assert "Traceback" not in captured.err


# -------------------------------------------------------------------------- training data


def test_dataset_scan_lists_what_it_cannot_use(corpus: Path, tmp_path: Path) -> None:
    """A/ is the corpus, B/ a good target for each name, except one empty B file. The scan keeps
    the usable pairs, lists every unusable file with its reason (and drops its partner); the
    loader names the truncated files, which only decoding finds."""
    root = tmp_path / "data"
    root.mkdir()
    corpus.rename(root / "A")
    (root / "B").mkdir()
    for p in (root / "A").iterdir():
        Image.new("RGB", (40, 30), (200, 120, 40)).save(root / "B" / f"{p.stem}.png")
    (root / "B" / "astronaut.png").write_bytes(b"")
    scan = _within(30, lambda: scan_dataset(root, paired=True, val_fraction=0))
    listed = {p.relative_to(root).as_posix(): why for p, why in scan.unreadable}
    header_bad = {n for n in HEADER_BAD if (root / "A" / n).exists() or (root / "A" / n).is_symlink()}
    assert set(listed) == {f"A/{n}" for n in header_bad} | {"B/astronaut.png"}
    for name in header_bad:
        assert listed[f"A/{name}"].startswith(f"{root / 'A' / name}: ")
        assert re.search(REASONS[name], listed[f"A/{name}"]), listed[f"A/{name}"]
    assert listed["B/astronaut.png"] == f"{root / 'B' / 'astronaut.png'}: the file is empty (0 bytes)"
    usable = (set(make_bad.GOOD) - {"astronaut.png"}) | {"truncated_jpeg.jpg", "truncated_png.png"}
    assert sorted(p.name for p in scan.train_a) == sorted(usable)
    assert [p.stem for p in scan.train_a] == [p.stem for p in scan.train_b]
    text = scan.describe()
    assert f"{len(listed)} files that cannot be used, left out (nor their partners)" in text
    assert "A/webpage.jpg (not a recognised image (it looks like an HTML web page" in text

    ds = PairedDataset(scan.train_a, scan.train_b, Augment(40, 32), aligned=False, train=True)
    failures: dict[str, str] = {}
    for i in range(len(ds)):
        try:
            sample = ds[i]
        except ImageError as exc:
            failures[scan.train_a[i].name] = str(exc)
        else:
            assert sample["a"].shape == sample["b"].shape == (3, 32, 32)
    assert sorted(failures) == ["truncated_jpeg.jpg", "truncated_png.png"]
    for name, message in failures.items():
        assert message.startswith(f"{root / 'A' / name}: the image data is truncated or corrupt")


def test_a_dataset_with_nothing_usable_says_why(tmp_path: Path) -> None:
    for side in ("A", "B"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "x.png").write_bytes(b"")
    with pytest.raises(TranslatorError, match=r"no usable training images: A/x\.png \(the file is empty"):
        scan_dataset(tmp_path, paired=True)


def test_side_by_side_images_with_bad_files_among_them(tmp_path: Path) -> None:
    """AB images directly in a folder: the bad files neither hide the layout nor stop the scan."""
    root = tmp_path / "ab"
    root.mkdir()
    for i, name in enumerate(("astronaut", "chelsea", "coffee")):
        rgb = np.asarray(Image.open(BAD_DATA / "astronaut.png").convert("RGB").resize((32, 32)))
        Image.fromarray(np.hstack([np.roll(rgb, 5 * i, axis=0), 255 - rgb])).save(root / f"{name}.png")
    for name in ("bomb.png", "empty.png", "webpage.jpg"):
        (root / name).write_bytes((BAD_DATA / name).read_bytes())
    scan = scan_dataset(root, val_fraction=0)
    assert scan.layout == "aligned" and sorted(p.stem for p in scan.train_a) == ["astronaut", "chelsea", "coffee"]
    assert sorted(p.name for p, _ in scan.unreadable) == ["bomb.png", "empty.png", "webpage.jpg"]
    for path, why in scan.unreadable:
        assert re.search(REASONS[path.name], why), why


# ----------------------------------------------------------------------- decompression bomb

_BOMB_CHECK = """
import resource, sys, time
from translator import imaging
from translator.errors import UnsupportedImage
status = open("/proc/self/status").read()
vm = int(status.split("VmSize:")[1].split()[0]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (vm + 2**30, resource.RLIM_INFINITY))  # 1 GiB more; the pixels need 30 GB
for check in (imaging.read_image, imaging.probe_image, imaging.read_thumbnail):
    start = time.perf_counter()
    try:
        check(sys.argv[1])
    except UnsupportedImage as exc:
        print(f"{time.perf_counter() - start:.3f} {exc}")
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the address space size from /proc")
def test_a_decompression_bomb_is_refused_without_allocating_its_pixels() -> None:
    """Under an address-space limit of 1 GiB more than the process has, reading the bomb (30 GB
    of pixels) is refused by its header, at once — an attempt to allocate would fail otherwise."""
    bomb = BAD_DATA / "bomb.png"
    run = subprocess.run([sys.executable, "-c", _BOMB_CHECK, str(bomb)], capture_output=True, text=True, timeout=60,
                         cwd=ROOT)
    lines = run.stdout.splitlines()
    assert run.returncode == 0 and len(lines) == 3, run.stdout + run.stderr
    for line in lines:
        seconds, message = line.split(" ", 1)
        assert float(seconds) < 0.5, line
        assert message.startswith(f"{bomb}: ") and re.search(REASONS["bomb.png"], message), message


def test_a_jpeg_bomb_is_refused_by_every_reader(tmp_path: Path) -> None:
    """The thumbnail reader decodes JPEGs at reduced size itself: it too refuses a bomb by its header."""
    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, format="JPEG")
    data = bytearray(buf.getvalue())
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 60_000, 60_000)  # the frame header's height, width
    bomb = tmp_path / "bomb.jpg"
    bomb.write_bytes(bytes(data))
    for read in (imaging.read_image, imaging.probe_image, imaging.read_thumbnail):
        with pytest.raises(UnsupportedImage, match=r"claims 60000x60000 pixels, more than the limit"):
            read(bomb)


# ------------------------------------------------------------------------------- the corpus


def test_the_corpus_script_is_deterministic_and_matches_the_committed_files() -> None:
    """Same bytes on every run; the committed files are what the script makes (byte for byte
    where no encoder is involved: encoders may differ between library versions)."""
    files = make_bad.committed_files()
    assert files == make_bad.committed_files()
    assert sum(len(d) for d in files.values()) < 150_000  # small enough for git
    for name, data in files.items():
        committed = (BAD_DATA / name).read_bytes()
        if name in make_bad.GOOD:
            made, kept = imaging.decode_image(data), imaging.decode_image(committed)
            assert (made.size, made.source_mode, made.bit_depth) == (kept.size, kept.source_mode, kept.bit_depth)
        elif name in ("empty.png", "webpage.jpg", "notes.png", "bomb.png"):
            assert committed == data, f"{name}: rerun python tests/data/bad/make_bad.py"
