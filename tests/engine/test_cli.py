"""The `translator` command end to end, in subprocesses, on real photos."""
from __future__ import annotations

import csv
import fcntl
import io
import os
import pty
import struct
import termios
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from translator import imaging
from translator._fs import PARTIAL_PREFIX
from translator.cli import ProgressBar, TrainBar, main
from translator.cli_zoo import DownloadBar
from translator.jobs import ItemResult, Progress
from translator.training import TrainProgress
from translator.zoo import DownloadProgress

REF = Path(__file__).parent.parent / "data" / "reference"


def run(*args: str | Path, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "translator", *map(str, args)],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


@pytest.fixture()
def photo_folder(tmp_path: Path, photos: dict[str, np.ndarray]) -> Path:
    """Real photos (scikit-image; scikit-learn's china.jpg) as JPEG/PNG of different sizes."""
    from sklearn.datasets import load_sample_image

    d = tmp_path / "photos"
    d.mkdir()
    Image.fromarray(photos["astronaut"]).resize((96, 96)).save(d / "astronaut.jpg", quality=92)
    Image.fromarray(photos["chelsea"]).resize((90, 68)).save(d / "chelsea.png")
    Image.fromarray(load_sample_image("china.jpg")).resize((101, 75)).save(d / "china.jpg")
    return d


def test_translate_folder_then_resume(tmp_path: Path, photo_folder: Path, tiny_cyclegan: Path) -> None:
    out = tmp_path / "out"
    proc = run("translate", "--model", tiny_cyclegan, photo_folder, "--output", out)
    assert "written 3, skipped 0 (already done), failed 0" in proc.stdout
    for src in photo_folder.iterdir():
        dst = out / src.name
        assert imaging.read_image(dst).rgb.shape == imaging.read_image(src).rgb.shape
    proc = run("translate", "--model", tiny_cyclegan, photo_folder, "--output", out)
    assert "written 0, skipped 3" in proc.stdout
    proc = run("translate", "--model", tiny_cyclegan, photo_folder / "china.jpg", "-o", out, "--format", "png", "--direction", "BtoA")
    assert (out / "china.png").exists()


def test_bad_file_is_reported_and_the_rest_goes_on(tmp_path: Path, photo_folder: Path, tiny_pix2pix: Path) -> None:
    (photo_folder / "notes.png").write_text("shopping list")
    good = (photo_folder / "astronaut.jpg").read_bytes()
    (photo_folder / "cut.jpg").write_bytes(good[: len(good) // 2])
    proc = run("translate", "-m", tiny_pix2pix, photo_folder, "-o", tmp_path / "out", check=False)
    assert proc.returncode == 1
    assert "written 3" in proc.stdout and "failed 2" in proc.stdout
    assert "notes.png" in proc.stdout and "cut.jpg" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_refuses_to_overwrite_inputs_and_unknown_models(photo_folder: Path, tiny_pix2pix: Path) -> None:
    proc = run("translate", "-m", tiny_pix2pix, photo_folder, "-o", photo_folder, check=False)
    assert proc.returncode == 2 and "overwrite the input" in proc.stderr and "Traceback" not in proc.stderr
    proc = run("translate", "-m", "no-such-model", photo_folder, "-o", "x", check=False)
    assert proc.returncode == 2 and "no-such-model" in proc.stderr


def test_eval_reports_metrics_and_verdict(tmp_path: Path, photo_folder: Path, tiny_pix2pix: Path) -> None:
    targets = tmp_path / "targets"
    run("translate", "-m", tiny_pix2pix, photo_folder, "-o", targets, "--format", "png")  # its own outputs, lossless
    (targets / "extra.png").write_bytes((targets / "chelsea.png").read_bytes())
    report = tmp_path / "r.csv"
    proc = run("eval", "-m", tiny_pix2pix, "--input", photo_folder, "--target", targets, "--report", report, "--heatmaps", tmp_path / "heat")
    assert "no input for" in proc.stderr and "extra.png" in proc.stderr
    rows = list(csv.DictReader(report.open()))
    assert [r["input"] for r in rows][-1] == "mean" and len(rows) == 4
    assert all(r["psnr"] == "inf" and float(r["ssim"]) == pytest.approx(1.0) for r in rows[:3])
    realness = [float(r["d_realness_output"]) for r in rows[:3]]
    assert all(0.0 < v < 1.0 for v in realness)  # vanilla GAN: a probability
    heat = imaging.read_image(tmp_path / "heat" / "chelsea_verdict.png").rgb
    assert heat.shape == imaging.read_image(photo_folder / "chelsea.png").rgb.shape


def test_import_inspect_translate_export_reference_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # In-process through `main` (the same code path as the command, without a new interpreter each time).
    models = tmp_path / "models"
    monkeypatch.setenv("TRANSLATOR_MODELS_DIR", str(models))

    def cli(*args: str | Path) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    code, out, _ = cli("inspect", REF / "unet_128_ngf8_batch_dropout_net_G.pth")
    assert code == 0 and "unet_128" in out and "base_filters 8" in out
    code, out, _ = cli("import", REF / "unet_128_ngf8_batch_dropout_net_G.pth", "-d", REF / "basic_ndf8_batch_in6_net_D.pth",
                       "--kind", "pix2pix", "--name", "refp2p", "--task", "test")
    assert code == 0 and (models / "refp2p.safetensors").exists()
    code, out, _ = cli("inspect", "refp2p")
    assert "refp2p" in out and "unet_128" in out and "d:" in out
    code, _, err = cli("import", REF / "unet_128_ngf8_batch_dropout_net_G.pth", "--kind", "pix2pix", "--name", "refp2p")
    assert code == 2 and "already exists" in err
    # The reference's own test-time behaviour: resize to 128, eval mode -> its fixture PNG (±1).
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.png").write_bytes((REF / "input_128x128.png").read_bytes())
    assert cli("translate", "-m", "refp2p", src, "-o", tmp_path / "out", "--resize", "128", "-q")[0] == 0
    ours = imaging.read_image(tmp_path / "out" / "a.png").rgb.astype(int)
    expected = imaging.read_image(REF / "unet_128_eval_output.png").rgb.astype(int)
    assert np.abs(ours - expected).max() <= 1
    assert cli("export", "refp2p", "-o", tmp_path / "exp")[0] == 0
    exported = torch.load(tmp_path / "exp" / "latest_net_G.pth", weights_only=True)
    original = torch.load(REF / "unet_128_ngf8_batch_dropout_net_G.pth", weights_only=True)
    assert list(exported) == list(original) and all(torch.equal(exported[k], original[k]) for k in original)


def test_refuses_a_checkpoint_with_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {marker}",))

    bad = tmp_path / "evil_net_G.pth"
    torch.save({"model.0.weight": Evil()}, bad)
    proc = run("import", bad, "--kind", "pix2pix", "--name", "evil", "-o", tmp_path / "e.safetensors", check=False)
    assert proc.returncode == 2 and "evil_net_G.pth" in proc.stderr
    assert not marker.exists() and not (tmp_path / "e.safetensors").exists()


def _default_signals() -> None:
    # A shell without job control starts background commands with SIGINT ignored, and children
    # inherit that (Python then installs no KeyboardInterrupt handler): give the job the
    # disposition it has when a user runs it in a terminal, however the tests were started.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _interrupt_after(cmd: list[str], out: Path, outputs: int, sig: int) -> subprocess.Popen[str]:
    """Start `cmd`, send `sig` once `outputs` files exist in `out`, wait for it to end."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_signals)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.glob("[0-9]*.png")) if out.exists() else []) < outputs:
        time.sleep(0.02)
    proc.send_signal(sig)
    proc.wait()
    return proc


@pytest.fixture()
def forty_photos(tmp_path: Path, photos: dict[str, np.ndarray]) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    for i in range(40):
        Image.fromarray(np.roll(photos["coffee"], 7 * i, axis=1)).resize((200, 150)).save(src / f"{i:02d}.png")
    return src


def test_ctrl_c_stops_cleanly(tmp_path: Path, forty_photos: Path, tiny_cyclegan: Path) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "translator", "translate", "-m", str(tiny_cyclegan), str(forty_photos), "-o", str(out), "-q"]
    proc = _interrupt_after(cmd, out, 2, signal.SIGINT)
    assert proc.returncode == 130 and "rerun the same command to continue" in proc.stderr.read()  # type: ignore[union-attr]
    finished = list(out.iterdir())
    assert 2 <= len(finished) < 40 and not any(f.name.startswith(PARTIAL_PREFIX) for f in finished)


def test_help_lists_every_command() -> None:
    out = run("--help").stdout
    for cmd in ("translate", "eval", "inspect", "import", "export"):
        assert cmd in out


def test_torchrun_ranks_split_the_files(tmp_path: Path, photo_folder: Path, tiny_cyclegan: Path) -> None:
    for i in range(3):
        (photo_folder / f"copy{i}.png").write_bytes((photo_folder / "chelsea.png").read_bytes())
    torchrun = Path(sys.executable).parent / "torchrun"
    proc = subprocess.run(
        [str(torchrun), "--nproc_per_node", "2", "--tee", "3", "-m", "translator", "translate", "-m", str(tiny_cyclegan),
         str(photo_folder), "-o", str(tmp_path / "out"), "-q", "--device", "cpu"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    # 6 files over 2 ranks: each writes its own 3 and only those.
    assert proc.stdout.count("written 3, skipped 0") == 2, proc.stdout
    assert len(list((tmp_path / "out").iterdir())) == 6


# --- progress bars --------------------------------------------------------------------------------


class _Terminal:
    """A real pseudo-terminal, 120 columns wide: `tty` is its end a program writes to, `text()` what
    it received."""

    def __init__(self) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # rows, columns
        self.master, self.slave = master, slave
        self.tty = os.fdopen(slave, "w", encoding="utf-8", closefd=False)
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)  # the pty buffer is small
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # the writing end closed
                return
            if not chunk:
                return
            self._chunks.append(chunk)

    def text(self) -> str:
        """Everything written, once the writing end is closed."""
        self.tty.close()
        os.close(self.slave)
        self._reader.join(10)
        os.close(self.master)
        return b"".join(self._chunks).decode("utf-8", "replace").replace("\r\n", "\n")


@pytest.fixture()
def terminal() -> Iterator[_Terminal]:
    yield _Terminal()


def test_translate_on_a_terminal_draws_one_bar_and_lists_failures_above_it(
    tmp_path: Path, photo_folder: Path, tiny_pix2pix: Path
) -> None:
    (photo_folder / "notes.png").write_text("shopping list")
    master, slave = pty.openpty()  # of size 0×0, as some CI terminals report: the bar is drawn all the same
    proc = subprocess.Popen([sys.executable, "-m", "translator", "translate", "-m", str(tiny_pix2pix), str(photo_folder),
                             "-o", str(tmp_path / "out")], stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=300) == 1  # one file failed
    os.close(master)
    err = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    assert "\r" in err  # redrawn in place
    final = err.rsplit("\r", 1)[-1]  # the last state of the bar's line
    assert final.startswith("100%|") and "4/4" in final and "img/s" in final and "ETA 0:00" in final, repr(final)
    failed = [line for line in err.split("\n") if "failed:" in line]
    assert len(failed) == 1 and failed[0].rsplit("\r", 1)[-1].startswith(f"failed: {photo_folder / 'notes.png'}: "), failed
    assert "written 3" in proc.stdout.read()  # type: ignore[union-attr]


def test_translate_into_a_log_writes_plain_lines_not_a_bar(tmp_path: Path, photos: dict[str, np.ndarray], tiny_pix2pix: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for i in range(20):
        Image.fromarray(np.roll(photos["coffee"], 5 * i, axis=1)).resize((64, 48)).save(src / f"{i:02d}.png")
    proc = run("translate", "-m", tiny_pix2pix, src, "-o", tmp_path / "out")
    assert "\r" not in proc.stderr and "|" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "img/s" in line]
    assert lines[-1].startswith("20/20  ") and "ETA 0:00" in lines[-1] and lines[-1].endswith("19.png")
    assert len(lines) < 10  # one line every few seconds and the last, not one per image
    assert not run("translate", "-m", tiny_pix2pix, src, "-o", tmp_path / "out2", "-q").stderr.count("img/s")


def test_train_bar_shows_losses_and_a_line_per_validation(terminal: _Terminal) -> None:
    with TrainBar(terminal.tty) as bar:
        for step in (1, 2, 3, 4):
            bar.update(TrainProgress(step, 4, rate=2.0, eta_s=(4 - step) / 2, losses={"g_gan": 0.5, "d": 1.25},
                                     validation={"psnr": 21.5, "ssim": 0.61} if step == 2 else None))
    text = terminal.text()
    assert "step 2: validation psnr 21.5  ssim 0.61\n" in text
    final = text.rstrip("\n").rsplit("\r", 1)[-1]
    assert final.startswith("100%|") and "4/4  2.00 step/s  ETA 0:00  g_gan 0.5 d 1.25" in final, repr(final)


def test_download_bar_shows_megabytes_and_prints_retries_above_it(terminal: _Terminal) -> None:
    mb = 1024 * 1024
    with DownloadBar(terminal.tty) as bar:
        bar.update(DownloadProgress(0, 0, stage="connect"))
        bar.update(DownloadProgress(3 * mb, 10 * mb, rate=1.5 * mb, eta_s=5))
        bar.update(DownloadProgress(3 * mb, 10 * mb, stage="retry", message="connection lost; retrying in 1 s"))
        bar.update(DownloadProgress(10 * mb, 10 * mb, rate=2 * mb, eta_s=0))
    text = terminal.text()
    assert "connection lost; retrying in 1 s\n" in text
    final = text.rstrip("\n").rsplit("\r", 1)[-1]
    assert final.startswith("100%|") and "10.0/10.0 MB  2.00 MB/s  ETA 0:00" in final, repr(final)


def test_a_bar_stopped_early_ends_its_line() -> None:
    log = io.StringIO()  # not a terminal: plain lines
    with ProgressBar(log) as bar:
        bar.update(Progress(1, 3, Path("a.png"), rate=1.0, eta_s=2.0))
        bar.update(Progress(2, 3, Path("b.png"), ItemResult(Path("b.png"), "failed", error="b.png: broken"), rate=1.0, eta_s=1.0))
    assert log.getvalue().splitlines() == ["1/3  1.00 img/s  ETA 0:02  a.png", "failed: b.png: broken"]
