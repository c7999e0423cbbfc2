"""No output of any command lands on an input or on a file the tool did not write; writability is
checked before any work; every name the file system allows is handled; terminal output is escaped.

Each test drives the real `translator` command (in-process through `main`, or in a subprocess where
the terminal's encoding matters) on real photos and real files.
"""
from __future__ import annotations

import csv
import hashlib
import http.server
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from translator import imaging
from translator._fs import is_partial_file, is_stale_partial, partial_name, shown, write_bytes_atomic
from translator.cli import main

RAW_CONTROLS = [chr(c) for c in range(0x20) if chr(c) != "\n"] + ["\x7f", "\x9b"]  # "\n" ends the lines


def _cli(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """The command in a subprocess, output as bytes (what a terminal receives)."""
    return subprocess.run([sys.executable, "-m", "translator", *map(str, args)], capture_output=True, timeout=300,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})})


def _digest(folder: Path) -> dict[str, str]:
    """Every file under `folder` and its content's hash: to show nothing was changed."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture()
def pairs(tmp_path: Path, photos: dict[str, np.ndarray]) -> tuple[Path, Path]:
    """in/ and tgt/: three real photos each, paired by name (the targets are the photos inverted)."""
    inputs, targets = tmp_path / "in", tmp_path / "tgt"
    inputs.mkdir()
    targets.mkdir()
    for name, photo in photos.items():
        small = np.asarray(Image.fromarray(photo).resize((72, 64)))
        Image.fromarray(small).save(inputs / f"{name}.png")
        Image.fromarray(255 - small).save(targets / f"{name}.png")
    return inputs, targets


@pytest.fixture()
def broken_model(tmp_path: Path) -> Path:
    """A model file that cannot be loaded: an error about it means the model was opened."""
    path = tmp_path / "broken.safetensors"
    path.write_bytes(b"not a model")
    return path


@pytest.fixture()
def read_only(tmp_path: Path) -> Iterator[Callable[[], Path]]:
    """Makes an empty folder no file can be created in: a read-only tmpfs as root (root ignores
    permission bits), a 0555 folder otherwise."""
    mounted: list[Path] = []

    def make() -> Path:
        where = tmp_path / f"locked{len(mounted)}"
        where.mkdir()
        if os.geteuid() != 0:
            where.chmod(0o555)
            return where
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(where)], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a read-only tmpfs here: {proc.stderr.strip()}")
        mounted.append(where)
        return where

    yield make
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _eval(model: Path, inputs: Path, targets: Path, *extra: str | Path) -> list[str]:
    return ["eval", "-m", str(model), "-i", str(inputs), "-t", str(targets), "--device", "cpu", "-q", *map(str, extra)]


# --- 1. eval --report ------------------------------------------------------------------------------


@pytest.mark.parametrize("overwrite", [False, True])
def test_eval_report_may_not_replace_an_input_or_a_target(pairs: tuple[Path, Path], tiny_pix2pix: Path, overwrite: bool,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    inputs, targets = pairs
    before = _digest(inputs.parent)
    flag = ["--overwrite"] if overwrite else []
    for victim in (inputs / "chelsea.png", targets / "coffee.png"):
        assert main(_eval(tiny_pix2pix, inputs, targets, "--report", victim, *flag)) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert f"{victim}: is one of the images being evaluated" in line, line
    assert _digest(inputs.parent) == before


def test_eval_report_does_not_replace_a_users_file_unless_overwrite(pairs: tuple[Path, Path], tiny_pix2pix: Path,
                                                                    tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    inputs, targets = pairs
    notes = tmp_path / "notes.csv"
    notes.write_text("my,own,table\n1,2,3\n")
    assert main(_eval(tiny_pix2pix, inputs, targets, "--report", notes)) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"{notes}: exists and is not a report of translator eval" in line and "--overwrite" in line, line
    assert notes.read_text() == "my,own,table\n1,2,3\n"
    # --overwrite replaces it; a report the tool wrote is replaced by a rerun without --overwrite.
    assert main(_eval(tiny_pix2pix, inputs, targets, "--report", notes, "--overwrite")) == 0
    first = notes.read_text()
    assert first.startswith("input,target,psnr,ssim") and first.count("\n") == 5
    assert main(_eval(tiny_pix2pix, inputs, targets, "--report", notes)) == 0
    assert notes.read_text() == first


def test_eval_report_to_a_folder_that_is_missing_or_read_only_is_refused_before_the_model_loads(
        pairs: tuple[Path, Path], broken_model: Path, tmp_path: Path, read_only: Callable[[], Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    inputs, targets = pairs
    missing = tmp_path / "no-such-folder" / "r.csv"
    assert main(_eval(broken_model, inputs, targets, "--report", missing)) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"{missing}: cannot write the report there: the folder {missing.parent} does not exist" in line, line
    locked = read_only() / "r.csv"
    assert main(_eval(broken_model, inputs, targets, "--report", locked)) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"{locked}: cannot write the report there (" in line and "broken.safetensors" not in line, line
    assert not missing.parent.exists()


# --- 2. eval --heatmaps ----------------------------------------------------------------------------


def test_eval_heatmaps_may_not_go_into_the_input_or_target_folder(pairs: tuple[Path, Path], tiny_pix2pix: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    inputs, targets = pairs
    # An input named like a heat-map: writing heat-maps into the input folder would replace it.
    Image.open(inputs / "chelsea.png").save(inputs / "coffee_verdict.png")
    (targets / "coffee_verdict.png").write_bytes((targets / "chelsea.png").read_bytes())
    before = _digest(inputs.parent)
    for folder in (inputs, targets, inputs / "sub"):
        assert main(_eval(tiny_pix2pix, inputs, targets, "--heatmaps", folder, "--overwrite")) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert f"{folder}: the heat-maps may not go into the input or target folder" in line, line
    assert _digest(inputs.parent) == before


def test_eval_heatmaps_do_not_replace_existing_files_unless_overwrite(pairs: tuple[Path, Path], tiny_pix2pix: Path,
                                                                      tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    inputs, targets = pairs
    heat = tmp_path / "heat"
    heat.mkdir()
    mine = heat / "chelsea_verdict.png"
    mine.write_bytes((inputs / "coffee.png").read_bytes())
    assert main(_eval(tiny_pix2pix, inputs, targets, "--heatmaps", heat)) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"{mine}: exists" in line and "--overwrite" in line, line
    assert mine.read_bytes() == (inputs / "coffee.png").read_bytes() and sorted(heat.iterdir()) == [mine]
    assert main(_eval(tiny_pix2pix, inputs, targets, "--heatmaps", heat, "--overwrite")) == 0
    assert mine.read_bytes() != (inputs / "coffee.png").read_bytes()
    assert sorted(p.name for p in heat.iterdir()) == ["astronaut_verdict.png", "chelsea_verdict.png", "coffee_verdict.png"]


def test_eval_heatmaps_into_a_read_only_folder_are_refused_before_the_model_loads(
        pairs: tuple[Path, Path], broken_model: Path, read_only: Callable[[], Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    inputs, targets = pairs
    locked = read_only()
    assert main(_eval(broken_model, inputs, targets, "--heatmaps", locked)) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"{locked}: cannot write the heat-maps here (" in line and "broken.safetensors" not in line, line


# --- 3 and 10. export, translate: existing files and writability ------------------------------------------


def test_export_does_not_replace_an_existing_checkpoint_unless_overwrite(tiny_pix2pix: Path, tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ref"
    out.mkdir()
    users = out / "latest_net_G.pth"
    users.write_bytes(b"the user's own generator")
    assert main(["export", str(tiny_pix2pix), "-o", str(out)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "latest_net_G.pth" in line and "--overwrite" in line, line
    assert users.read_bytes() == b"the user's own generator"
    assert main(["export", str(tiny_pix2pix), "-o", str(out), "--overwrite"]) == 0
    assert users.read_bytes() != b"the user's own generator" and (out / "latest_net_D.pth").exists()


@pytest.mark.parametrize("command", ["translate", "eval", "export"])
def test_an_unwritable_output_is_refused_before_the_model_loads(command: str, pairs: tuple[Path, Path],
                                                                broken_model: Path, read_only: Callable[[], Path],
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    inputs, targets = pairs
    locked = read_only()
    argv = {
        "translate": ["translate", "-m", str(broken_model), str(inputs), "-o", str(locked), "-q"],
        "eval": _eval(broken_model, inputs, targets, "--report", locked / "r.csv"),
        "export": ["export", str(broken_model), "-o", str(locked)],
    }[command]
    assert main(argv) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"{locked}" in line and "cannot write" in line and "broken.safetensors" not in line, line
    assert list(locked.iterdir()) == []


# --- 5. only the tool's own temporary files are ever removed ---------------------------------------


def test_stale_cleanup_never_removes_a_users_file_named_like_a_temporary_one(tmp_path: Path, tiny_pix2pix: Path,
                                                                             photos: dict[str, np.ndarray]) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    Image.fromarray(photos["chelsea"]).resize((64, 48)).save(src / "chelsea.png")
    users = [out / ".partial-notes.txt", out / ".partial-123.abcdef01-x-y.png",
             out / f".partial-{2**22 + 1}.{'0' * 8}.{'0' * 8}.{'0' * 12}-z.png"]
    for f in users:
        f.write_bytes(b"the user's")
    # A real temporary file, abandoned by a writer killed mid-write on this host.
    code = ("import os, sys; from pathlib import Path; from translator._fs import atomic_path\n"
            "with atomic_path(Path(sys.argv[1])) as tmp:\n    tmp.write_bytes(b'half'); os._exit(9)")
    subprocess.run([sys.executable, "-c", code, str(out / "coffee.png")], check=False, timeout=120)
    abandoned = [f for f in out.iterdir() if f not in users]
    assert len(abandoned) == 1 and is_partial_file(abandoned[0]) and is_stale_partial(abandoned[0])
    old = time.time() - 30 * 86400
    for f in [*users, *abandoned]:
        os.utime(f, (old, old))
    assert main(["translate", "-m", str(tiny_pix2pix), str(src), "-o", str(out), "-q"]) == 0
    assert all(f.read_bytes() == b"the user's" for f in users)
    assert not abandoned[0].exists()
    assert not any(is_partial_file(f) or is_stale_partial(f) for f in users)


def test_a_translate_run_removes_abandoned_temporary_files_but_not_those_of_live_or_recent_writers(
        tmp_path: Path, tiny_pix2pix: Path, photos: dict[str, np.ndarray]) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    Image.fromarray(photos["chelsea"]).resize((64, 48)).save(src / "chelsea.png")
    # Left by a dead process of this host (pid 2**22 + 1 is beyond Linux's pid range), by a live
    # writer (this test's parent: say, another torchrun rank), by a process of another host.
    dead = out / partial_name("chelsea", ".png", pid=2**22 + 1)
    live = out / partial_name("coffee", ".png", pid=os.getppid())
    foreign = out / partial_name("astronaut", ".png", pid=123, host="0123abcd")
    for f in (dead, live, foreign):
        f.write_bytes(b"half")
    assert main(["translate", "-m", str(tiny_pix2pix), str(src), "-o", str(out), "-q"]) == 0
    assert not dead.exists() and live.exists() and foreign.exists()
    old = time.time() - 2 * 3600
    os.utime(foreign, (old, old))
    assert main(["translate", "-m", str(tiny_pix2pix), str(src), "-o", str(out), "-q", "--overwrite"]) == 0
    assert not foreign.exists() and live.exists()


# --- 6. names near the file-system limit ------------------------------------------------------------


def _name_of(size: int, char: str, suffix: str = ".png") -> str:
    """A file name of exactly `size` bytes (UTF-8): `char` repeated, padded with 'x', then `suffix`."""
    body = size - len(suffix)
    n = body // len(char.encode())
    return char * n + "x" * (body - n * len(char.encode())) + suffix


def test_translate_writes_outputs_whose_names_are_near_the_file_system_limit(tmp_path: Path, tiny_pix2pix: Path,
                                                                             photos: dict[str, np.ndarray]) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    names = [_name_of(250, "a"), _name_of(250, "é"), _name_of(255, "猫"), _name_of(231, "🐱")]
    for name in names:
        assert len(name.encode()) in (231, 250, 255)
        Image.fromarray(photos["coffee"]).resize((64, 48)).save(src / name)
    assert main(["translate", "-m", str(tiny_pix2pix), str(src), "-o", str(out), "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    for name in names:
        assert imaging.read_image(out / name).rgb.shape == (48, 64, 3)


@pytest.mark.parametrize("char", ["a", "é", "猫", "🐱"])
def test_atomic_writes_take_every_name_length_up_to_name_max(tmp_path: Path, char: str) -> None:
    for size in range(225, 256):
        dst = tmp_path / _name_of(size, char, ".json")
        write_bytes_atomic(dst, b"{}")
        assert dst.read_bytes() == b"{}", size
    assert sorted(len(p.name.encode()) for p in tmp_path.iterdir()) == list(range(225, 256))


# --- 7. a file name that is not UTF-8 ------------------------------------------------------------------


def _make_bytes_named(folder: Path, name: bytes, data: bytes) -> None:
    fd = os.open(os.path.join(os.fsencode(folder), name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def test_eval_report_and_rows_survive_a_file_name_that_is_not_utf8(pairs: tuple[Path, Path], tiny_pix2pix: Path,
                                                                   tmp_path: Path) -> None:
    inputs, targets = pairs
    _make_bytes_named(inputs, b"bad\xff.png", (inputs / "chelsea.png").read_bytes())
    _make_bytes_named(targets, b"bad\xff.png", (targets / "chelsea.png").read_bytes())
    report = tmp_path / "r.csv"
    proc = _cli(*_eval(tiny_pix2pix, inputs, targets, "--report", report))
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert b"Traceback" not in proc.stderr
    assert b"bad\\xff.png: PSNR" in proc.stdout
    with open(report, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 5 and rows[-1]["input"] == "mean"
    assert [r["input"] for r in rows if "bad" in r["input"]] == [f"{inputs}{os.sep}bad\\xff.png"]


# --- 8. terminal output is escaped --------------------------------------------------------------------


@pytest.fixture()
def hostile_model(tmp_path: Path) -> Path:
    """A working model whose card says things meant for the terminal, not the reader."""
    from translator.checkpoint import ModelCard, build_model, save_model
    from translator.networks import DiscriminatorSpec, GeneratorSpec

    card = ModelCard(
        name="evil\x1b]0;owned\x07", kind="pix2pix",
        generators={"g": GeneratorSpec("unet_64", 8, "batch", True)},
        discriminators={"d": DiscriminatorSpec("patch", 3, 8, "batch", 6)},
        task="\x1b[2J\rtrusted", domains=("\x1b[31mA", "B\x9b"), source="line\nbreak", notes="\ud800",
        training={"recipe\x1b[1m": "x\r"}, image_size=64,
    )
    return save_model(build_model(card, seed=1), tmp_path / "hostile.safetensors")


def test_terminal_output_escapes_control_characters_in_cards_and_file_names(pairs: tuple[Path, Path],
                                                                            hostile_model: Path,
                                                                            tmp_path: Path) -> None:
    inputs, targets = pairs
    for folder in (inputs, targets):
        (folder / "coffee.png").rename(folder / "co\x1b[2Jffee\r.png")
    (inputs / "bro\x1bken\n.png").write_bytes(b"not an image")
    (targets / "bro\x1bken\n.png").write_bytes(b"not an image")
    runs = {
        "inspect": _cli("inspect", hostile_model),
        "translate": _cli("translate", "-m", hostile_model, inputs, "-o", tmp_path / "out", "--device", "cpu"),
        "eval": _cli("eval", "-m", hostile_model, "-i", inputs, "-t", targets, "--device", "cpu"),
        "error": _cli("translate", "-m", tmp_path / "no\x1b[2Jsuch\r", inputs, "-o", tmp_path / "o2"),
    }
    for command, proc in runs.items():
        text = (proc.stdout + proc.stderr).decode("utf-8")
        assert not [c for c in RAW_CONTROLS if c in text], (command, text)
        assert "Traceback" not in text, (command, text)
    assert "\\x1b[2J\\rtrusted" in runs["inspect"].stdout.decode()
    assert "co\\x1b[2Jffee\\r.png: PSNR" in runs["eval"].stdout.decode()
    assert "bro\\x1bken\\n.png" in runs["translate"].stdout.decode()
    assert runs["error"].stderr.decode().startswith("error: ") and "no\\x1b[2Jsuch\\r" in runs["error"].stderr.decode()


def test_shown_leaves_no_control_character_or_lone_surrogate_raw() -> None:
    unsafe = [chr(c) for c in [*range(0x20), *range(0x7f, 0xa0), 0x202e, 0x2066, 0x2028, 0xd800, 0xdcff]]
    text = shown("".join(unsafe))
    assert text.isascii() and text.isprintable()
    assert shown("\x1b[2J\rtrusted\n\udcff") == "\\x1b[2J\\rtrusted\\n\\xff"
    assert shown("chelsea photo é 🐱 猫.png") == "chelsea photo é 🐱 猫.png"  # printable text stays as it is


# --- 9. zoo get --name ---------------------------------------------------------------------------------


@pytest.fixture()
def counting_server() -> Iterator[tuple[str, list[str]]]:
    """A local web server that records every request it gets (and serves nothing)."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_error(404)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    thread.join()


@pytest.mark.parametrize("name", ["a\nb", "a/b", "..", "a\0b", "\x1b[2Jx", "x" * 101, "", ".hidden", "a\\b"])
def test_zoo_get_refuses_an_unsafe_local_name_before_any_download(name: str, counting_server: tuple[str, list[str]],
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    base, hits = counting_server
    monkeypatch.setenv("TRANSLATOR_ZOO_BASE", base)
    monkeypatch.setenv("no_proxy", "*")
    assert main(["zoo", "get", "edges2shoes", "--name", name, "--retries", "0", "-q"]) == 2
    captured = capsys.readouterr()
    line = _one_error_line(captured.err)
    assert "--name" in line and not [c for c in RAW_CONTROLS if c in line], line
    assert hits == [] and captured.out == ""
