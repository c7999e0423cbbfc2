"""Training refuses bad settings and folders with one line a user can act on, before any work, and
takes any file name the file system allows. Every case runs through `translator train` itself."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from translator.checkpoint import ModelCard, build_model, load_model, save_model
from translator.cli import main
from translator.datasets import scan_dataset
from translator.networks import GeneratorSpec

# A run of seconds: a U-Net 32 of 4 filters on 32² crops, no worker processes.
TINY = ["--generator", "unet_32", "--base-filters", "4", "--d-base-filters", "4", "--load-size", "40",
        "--crop-size", "32", "--workers", "0", "-q"]


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 pairs: 48² crops of real photos (A) and their negatives (B)."""
    from skimage import data

    root = tmp_path_factory.mktemp("pairs")
    for side in "AB":
        (root / side).mkdir()
    for k, (photo, i) in enumerate((p, i) for p in (data.astronaut(), data.chelsea()) for i in range(4)):
        a = np.asarray(Image.fromarray(photo[i * 20 : i * 20 + 160, i * 30 : i * 30 + 160]).resize((48, 48)))
        Image.fromarray(a).save(root / "A" / f"{k:02d}.png")
        Image.fromarray(255 - a).save(root / "B" / f"{k:02d}.png")
    return root


def train_cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    """Run `translator train …`; its exit status and what it wrote on stderr."""
    code = main(["train", *map(str, args)])
    return code, capsys.readouterr().err


def refused(code: int, err: str, *fragments: str) -> None:
    """Exit status 2 and one `error:` line, no traceback, holding every fragment."""
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# --- 1. a crop the networks cannot take --------------------------------------------------------------


@pytest.mark.parametrize("flags, fragments", [
    # unet_256 (the default) halves a side 8 times: sides that are multiples of 256
    (["--crop-size", "16", "--load-size", "20"], ["crop size 16", "unet_256", "multiples of 256", "--crop-size 256"]),
    # a U-Net 32 on 48: 48 → 24 → 12 → 6 → 3 → 1, whose upsampling (2) no longer meets its skip (3)
    (["--generator", "unet_32", "--crop-size", "48", "--load-size", "50"],
     ["crop size 48", "unet_32", "multiples of 32", "--crop-size 32 or 64"]),
    # a ResNet halves twice: multiples of 4; 24 is also the least a 3-layer PatchGAN judges
    (["--generator", "resnet_6blocks", "--crop-size", "18", "--load-size", "20"],
     ["crop size 18", "resnet_6blocks", "multiples of 4", "--crop-size 24"]),
    (["--generator", "resnet_6blocks", "--crop-size", "16", "--load-size", "20"],
     ["crop size 16", "discriminator", "at least 24×24", "--crop-size 24", "--d-layers"]),
])
def test_a_crop_the_networks_cannot_take_is_refused_before_any_work(
        pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], fragments: list[str]) -> None:
    code, err = train_cli(capsys, "pix2pix", "--data", pairs, "--out", tmp_path / "run", "--steps", "1",
                          "--base-filters", "4", "--d-base-filters", "4", "--workers", "0", "-q", *flags)
    refused(code, err, *fragments)
    assert not (tmp_path / "run").exists()


# --- 2. a mistyped config file -------------------------------------------------------------------------


@pytest.mark.parametrize("line, fragments", [
    ('steps = "ten"', ["steps", '"ten"', "whole number", "text"]),
    ("steps = 1e400", ["steps", "inf", "whole number"]),  # TOML reads 1e400 as infinity
    ("lr = nan", ["lr", "nan", "a number above 0"]),
    ("steps = -5", ["steps", "-5", "at least 1"]),
    ("steps = [1, 2]", ["steps", "[1, 2]", "whole number", "a list"]),
    ("batch_size = 2.5", ["batch_size", "2.5", "whole number"]),
    ('flip = "yes"', ["flip", '"yes"', "true or false"]),
    ("data = 5", ["data", "5", "folder path"]),
    ('norm = "layer"', ["norm", '"layer"', "batch, instance, none"]),
    ("stepz = 10", ["unknown setting 'stepz'", "did you mean 'steps'"]),
    ("steps = [", ["line 5", "not a valid TOML file", "fix that line"]),
    ("steps = 10\nsteps = 20", ["line 6", "not a valid TOML file"]),
])
def test_a_mistyped_config_value_names_the_file_the_setting_and_what_it_takes(
        pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, fragments: list[str]) -> None:
    config = tmp_path / "run.toml"
    config.write_text('generator = "unet_32"\nbase_filters = 4\nload_size = 40\ncrop_size = 32\n' + line + "\n")
    code, err = train_cli(capsys, "pix2pix", "--data", pairs, "--out", tmp_path / "run", "--config", config)
    refused(code, err, str(config), *fragments)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("text, fragments", [
    ('{"steps": 10,\n "lr": }', ["line 2", "not a valid JSON file"]),
    ("[1, 2]", ["holds a list, not a table of settings"]),
    (b"steps = 10\n# caf\xe9\n", ["line 2", "not UTF-8"]),
])
def test_a_config_file_that_is_no_table_of_settings_says_where(
        pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str | bytes, fragments: list[str]) -> None:
    config = tmp_path / ("run.toml" if isinstance(text, bytes) else "run.json")
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    code, err = train_cli(capsys, "pix2pix", "--data", pairs, "--out", tmp_path / "run", "--config", config)
    refused(code, err, str(config), *fragments)


def test_settings_that_do_not_go_together_name_both_and_the_file(
        pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "run.toml"
    config.write_text('generator = "unet_32"\nload_size = 40\ncrop_size = 64\n')
    code, err = train_cli(capsys, "pix2pix", "--data", pairs, "--out", tmp_path / "run", "--config", config)
    refused(code, err, "crop size 64", "load size 40", "--load-size", str(config))


# --- 3. fine-tuning a model deeper than the crop ----------------------------------------------------


@pytest.mark.parametrize("kind, spec, crop, fragments", [
    ("pix2pix", GeneratorSpec("unet_256", 4), 128, ["crop size 128", "unet_256", "256×256", "--crop-size 256"]),
    ("cyclegan", GeneratorSpec("resnet_2blocks", 4, "instance", False), 18,
     ["crop size 18", "resnet_2blocks", "multiples of 4", "--crop-size 24"]),
])
def test_fine_tuning_a_model_deeper_than_the_crop_is_refused_before_any_work(
        pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, spec: GeneratorSpec, crop: int,
        fragments: list[str]) -> None:
    roles = ("g",) if kind == "pix2pix" else ("g_ab", "g_ba")
    start = save_model(build_model(ModelCard("deep", kind, {r: spec for r in roles}), seed=0),  # type: ignore[arg-type]
                       tmp_path / "deep.safetensors")
    flags: list[str | Path] = ["--from", start, "--crop-size", str(crop), "--load-size", str(crop + 8), "--steps", "1", "--workers", "0", "-q"]
    code, err = train_cli(capsys, kind, "--data", pairs, "--out", tmp_path / "run", *flags)
    refused(code, err, str(start), *fragments)
    assert not (tmp_path / "run").exists()
    # Said before the data folder is even read: a missing one is not what it reports.
    code, err = train_cli(capsys, kind, "--data", tmp_path / "missing", "--out", tmp_path / "run", *flags)
    refused(code, err, f"crop size {crop}")


# --- 4. any file name ---------------------------------------------------------------------------------


def test_a_file_name_that_is_not_utf8_does_not_stop_a_training_run(
        pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A byte that is not UTF-8 in a file name (and in the data and run folders' names): the file
    is trained on, the run finishes, and config.json, log.jsonl, the card and a resume carry the name."""
    data = Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), b"data\xfe")))
    (data / "A").mkdir(parents=True)
    (data / "B").mkdir()
    for side in "AB":
        for k in range(4):
            (data / side / f"{k}.png").write_bytes((pairs / side / f"0{k}.png").read_bytes())
        with open(os.path.join(os.fsencode(data / side), b"bad\xff.png"), "wb") as f:
            f.write((pairs / side / "04.png").read_bytes())
    bad = data / "A" / os.fsdecode(b"bad\xff.png")
    scan = scan_dataset(data, paired=True)
    assert bad in scan.train_a + scan.val_a  # used, not dropped
    run = Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), b"run\xfd")))
    code, err = train_cli(capsys, "pix2pix", "--data", data, "--out", run, "--steps", "2", "--val-every", "1",
                          "--sample-every", "1", "--checkpoint-every", "1", *TINY)
    assert code == 0, err
    assert "Traceback" not in err
    assert json.loads((run / "config.json").read_text())["data"] == str(data)
    lines = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [ln["step"] for ln in lines if ln.get("phase") == "train"] == [1, 2]
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_0000001.png", "step_0000002.png"]
    assert load_model(run / "model.safetensors").card.training["data"] == str(data)
    code, err = train_cli(capsys, "pix2pix", "--out", run, "--resume", "--steps", "3", "-q")
    assert code == 0, err
    assert load_model(run / "model.safetensors").card.training["steps"] == 3


# --- 5. the run folder never among the user's files ------------------------------------------------------


def test_the_run_folder_may_not_be_the_data_folder_inside_it_or_around_it(
        pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "photos"
    for side in "AB":
        (data / side).mkdir(parents=True)
        for k in range(4):
            (data / side / f"{k}.png").write_bytes((pairs / side / f"0{k}.png").read_bytes())
    (tmp_path / "link").symlink_to(data)
    before = files_under(tmp_path)
    for out, words in ((data, "is the data folder"), (data / "run", "is inside the data folder"),
                       (data / "A", "is inside the data folder"), (tmp_path, "holds the data folder")):
        code, err = train_cli(capsys, "pix2pix", "--data", data, "--out", out, "--steps", "1", *TINY)
        refused(code, err, str(out), words, "--out")
    # Through a symbolic link too: the folders are compared where they really are.
    code, err = train_cli(capsys, "pix2pix", "--data", data, "--out", tmp_path / "link" / "run", "--steps", "1", *TINY)
    refused(code, err, "inside the data folder")
    assert files_under(tmp_path) == before


def test_a_folder_of_other_files_is_not_taken_for_a_run_folder(
        pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "documents"
    mine.mkdir()
    (mine / "log.jsonl").write_text("my own notes\n")  # named like the run's log, which a fresh run would drop
    (mine / "config.json").write_text('{"theme": "dark"}')  # a config.json, but not one of a run
    code, err = train_cli(capsys, "pix2pix", "--data", pairs, "--out", mine, "--steps", "1", *TINY)
    refused(code, err, str(mine), "not a run folder", "choose an empty or new folder")
    code, err = train_cli(capsys, "pix2pix", "--out", mine, "--resume", "-q")
    refused(code, err, str(mine))
    assert files_under(mine) == ["config.json", "log.jsonl"]
    assert (mine / "log.jsonl").read_text() == "my own notes\n"
    # An empty folder (but for what an operating system leaves) is fine, and its run resumes.
    empty = tmp_path / "new-run"
    empty.mkdir()
    (empty / ".DS_Store").write_bytes(b"\0")
    code, err = train_cli(capsys, "pix2pix", "--data", pairs, "--out", empty, "--steps", "1", *TINY)
    assert code == 0, err
    code, err = train_cli(capsys, "pix2pix", "--out", empty, "--resume", "--steps", "2", "-q")
    assert code == 0, err
    assert load_model(empty / "model.safetensors").card.training["steps"] == 2
    code, err = train_cli(capsys, "pix2pix", "--data", pairs, "--out", empty, "--steps", "1", *TINY)
    refused(code, err, "already holds a run; use --resume")


# --- 6. other bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("flags, fragments", [
    (["--batch-size", "0"], ["batch_size", "at least 1", "not 0"]),
    (["--steps", "0"], ["steps", "at least 1", "not 0"]),
    (["--lr", "nan"], ["lr", "nan"]),
    (["--lr", "inf"], ["lr", "inf"]),
    (["--lambda-l1", "-1"], ["lambda_l1", "0 or more", "-1"]),
    (["--seed", str(2**70)], ["seed", "4294967295"]),
    (["--ema-decay", "1"], ["ema_decay", "between 0 and 1", ", not 1"]),
])
def test_an_out_of_range_option_is_one_line_naming_it(
        pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], fragments: list[str]) -> None:
    code, err = train_cli(capsys, "pix2pix", "--data", pairs, "--out", tmp_path / "run", "--steps", "2", *TINY, *flags)
    refused(code, err, *fragments)
    assert not (tmp_path / "run").exists()


def test_an_empty_data_folder_is_one_line_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    code, err = train_cli(capsys, "pix2pix", "--data", tmp_path / "empty", "--out", tmp_path / "run", *TINY)
    refused(code, err, str(tmp_path / "empty"), "no images")


def test_a_damaged_training_state_says_what_to_do_not_what_torch_advises(
        pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    code, err = train_cli(capsys, "pix2pix", "--data", pairs, "--out", run, "--steps", "1", *TINY)
    assert code == 0, err
    state = run / "checkpoints" / "step_0000001.state.pt"
    state.write_bytes(b"PK\x03\x04 not a training state")
    code, err = train_cli(capsys, "pix2pix", "--out", run, "--resume", "--steps", "2", "-q")
    refused(code, err, str(state), "damaged", "delete it and step_0000001.safetensors")
    assert "weights_only" not in err
    # A state of other settings (here: more generator filters) is told apart from a damaged one.
    train_cli(capsys, "pix2pix", "--data", pairs, "--out", tmp_path / "other", "--steps", "1", *TINY)
    code, err = train_cli(capsys, "pix2pix", "--out", tmp_path / "other", "--resume", "--steps", "2",
                          "--base-filters", "8", "-q")
    refused(code, err, "does not fit this run", "settings the run was started with")


def test_a_file_truncated_past_its_header_is_named_without_the_worker_s_traceback(
        pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Its header passes the scan; the pixels fail in a data-loading process, whose traceback torch
    would pass on as the message."""
    data = tmp_path / "data"
    shutil.copytree(pairs, data)
    whole = (data / "A" / "03.png").read_bytes()
    (data / "A" / "03.png").write_bytes(whole[: len(whole) // 2])
    code, err = train_cli(capsys, "pix2pix", "--data", data, "--out", tmp_path / "run", "--steps", "4",
                          "--batch-size", "8", *TINY, "--workers", "2")
    refused(code, err, str(data / "A" / "03.png"), "truncated", "remove or replace that file")
