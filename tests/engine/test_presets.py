"""Training presets: `classic` is the reference's recipe exactly; explicit settings win over any preset."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from translator.cli import main
from translator.errors import TranslatorError
from translator.presets import PRESETS, preset_settings
from translator.training import TrainConfig


def test_classic_is_the_reference_recipe_option_by_option(tmp_path: Path) -> None:
    p2p = TrainConfig.from_preset("classic", "pix2pix", tmp_path, tmp_path / "run")
    assert p2p.generator_spec().arch == "unet_256" and p2p.generator_spec().base_filters == 64
    assert p2p.generator_spec().norm == "batch" and p2p.generator_spec().dropout
    assert (p2p.d_base_filters, p2p.d_layers, p2p.resolved_gan_mode) == (64, 3, "vanilla")
    assert (p2p.lr, p2p.beta1, p2p.beta2, p2p.batch_size, p2p.lambda_l1) == (2e-4, 0.5, 0.999, 1, 100.0)
    assert p2p.decay_steps is None  # linear decay over the second half, as n_epochs = n_epochs_decay
    assert (p2p.load_size, p2p.crop_size, p2p.flip) == (286, 256, True)
    assert not p2p.use_ema and not p2p.ada and p2p.d_warmup_steps == 0 and p2p.d_steps_per_g == 1
    cyc = TrainConfig.from_preset("classic", "cyclegan", tmp_path, tmp_path / "run")
    spec = cyc.generator_spec()
    assert (spec.arch, spec.base_filters, spec.norm, spec.dropout) == ("resnet_9blocks", 64, "instance", False)
    assert (cyc.resolved_gan_mode, cyc.lambda_cycle, cyc.lambda_identity, cyc.pool_size) == ("lsgan", 10.0, 0.5, 50)
    assert (cyc.lr, cyc.batch_size, cyc.crop_size) == (2e-4, 1, 256) and not cyc.use_ema
    # fine-tuning with classic adds nothing the reference does not do
    tuned = TrainConfig.from_preset("classic", "pix2pix", tmp_path, tmp_path / "run", from_model="x.safetensors")
    assert not tuned.use_ema and tuned.d_warmup_steps == 0


def test_every_preset_sets_only_real_settings_and_builds_a_valid_config(tmp_path: Path) -> None:
    for name in PRESETS:
        for kind in ("pix2pix", "cyclegan"):
            cfg = TrainConfig.from_preset(name, kind, tmp_path, tmp_path / "run")  # type: ignore[arg-type]
            assert cfg.preset == name
            for key, value in preset_settings(name, kind).items():
                assert getattr(cfg, key) == value, (name, kind, key)
    assert PRESETS["default"] != PRESETS["classic"]


def test_explicit_settings_win_and_the_saved_config_round_trips(tmp_path: Path) -> None:
    cfg = TrainConfig.from_preset("default", "pix2pix", tmp_path, tmp_path / "run", lr=3e-5, batch_size=2)
    assert (cfg.lr, cfg.batch_size) == (3e-5, 2)
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    # a config file without a preset starts from `default`; with one, from that one
    plain = tmp_path / "plain.toml"
    plain.write_text(f'kind = "pix2pix"\ndata = "{tmp_path}"\nout = "{tmp_path / "r"}"\nlr = 1e-5\n')
    from_file = TrainConfig.from_file(plain)
    assert from_file.preset == "default" and from_file.lr == 1e-5
    assert from_file.use_ema == TrainConfig.from_preset("default", "pix2pix", tmp_path, tmp_path / "r").use_ema
    classic = tmp_path / "classic.toml"
    classic.write_text(f'kind = "pix2pix"\ndata = "{tmp_path}"\nout = "{tmp_path / "r"}"\npreset = "classic"\n')
    assert TrainConfig.from_file(classic) == TrainConfig.from_preset("classic", "pix2pix", tmp_path, tmp_path / "r")


def test_unknown_preset_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(TranslatorError, match="unknown preset 'fast'.*default, classic"):
        TrainConfig.from_preset("fast", "pix2pix", tmp_path, tmp_path / "run")
    bad = tmp_path / "bad.toml"
    bad.write_text(f'kind = "pix2pix"\ndata = "{tmp_path}"\nout = "{tmp_path / "r"}"\npreset = "fast"\n')
    with pytest.raises(TranslatorError, match="unknown preset"):
        TrainConfig.from_file(bad)


def _paired_folder(root: Path) -> Path:
    """Four 64×64 pairs (A/, B/): crops of a photo and the same crops turned by 90°."""
    from skimage import data
    from PIL import Image

    for side in ("A", "B"):
        (root / side).mkdir(parents=True)
    photo = data.astronaut()
    for i in range(4):
        crop = Image.fromarray(photo[i * 60 : i * 60 + 128, i * 60 : i * 60 + 128]).resize((64, 64))
        crop.save(root / "A" / f"{i}.png")
        crop.rotate(90).save(root / "B" / f"{i}.png")
    return root


def test_cli_preset_flag_reaches_the_run_config(tmp_path: Path) -> None:
    """`translator train --preset classic` trains with the classic recipe (config.json says so);
    without the flag the run uses `default`; flags win over either. A folder smaller than the
    recipe's batch (3 training pairs, default batch 4) trains with smaller batches, not an error."""
    root = _paired_folder(tmp_path / "data")
    small = ["--generator", "unet_64", "--base-filters", "8", "--d-base-filters", "8", "--load-size", "64",
             "--crop-size", "64", "--steps", "2", "--workers", "0", "-q"]
    for preset in ("classic", None):
        run = tmp_path / f"run-{preset}"
        args = ["train", "pix2pix", "--data", str(root), "--out", str(run), *small, "--lr", "1e-4"]
        assert main(args + (["--preset", preset] if preset else [])) == 0
        saved = json.loads((run / "config.json").read_text())
        expected = preset_settings(preset or "default", "pix2pix")
        assert saved["preset"] == (preset or "default")
        assert saved["lr"] == 1e-4 and saved["base_filters"] == 8  # flags win
        assert saved["ema"] == expected["ema"] and saved["norm"] == expected["norm"]
        assert saved["batch_size"] == min(expected["batch_size"], 3)
        assert (run / "model.safetensors").exists()


def test_input_skip_flag_trains_a_model_that_says_so_and_is_not_exported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--input-skip` reaches the run config and the model's card; the reference has no such
    layer, so `translator export` refuses the model with a reason and writes nothing."""
    from translator.checkpoint import read_card

    root = _paired_folder(tmp_path / "data")
    run = tmp_path / "run"
    assert main(["train", "pix2pix", "--data", str(root), "--out", str(run), "--generator", "unet_64",
                 "--base-filters", "8", "--d-base-filters", "8", "--load-size", "64", "--crop-size", "64",
                 "--steps", "2", "--workers", "0", "-q", "--input-skip"]) == 0
    assert json.loads((run / "config.json").read_text())["input_skip"] is True
    assert read_card(run / "model.safetensors").generators["g"].input_skip
    assert preset_settings("classic", "pix2pix")["input_skip"] is False
    capsys.readouterr()
    assert main(["export", str(run / "model.safetensors"), "-o", str(tmp_path / "ref")]) != 0
    assert "input skip" in capsys.readouterr().err
    assert not (tmp_path / "ref").exists() or not any((tmp_path / "ref").iterdir())
