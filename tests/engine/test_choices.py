"""Every set of choices is defined once, in `translator.choices`: the CLI's flags and the config
checks offer exactly those tuples, so a choice cannot be added in one place only."""
from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest

from translator import choices, imaging, presets
from translator.checkpoint import ModelCard
from translator.cli import build_parser, main
from translator.networks import DiscriminatorSpec, GeneratorSpec


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Every (sub-)command's parser by its path, e.g. `translate`, `zoo get`."""
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(p: argparse.ArgumentParser, path: str) -> None:
        found[path] = p
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{path} {name}".strip())

    walk(parser, "")
    return found


def _choices(command: str, flag: str) -> tuple[str, ...]:
    parser = _subparsers(build_parser())[command]
    [action] = [a for a in parser._actions if flag in a.option_strings or a.dest == flag]
    assert action.choices is not None, f"{command} {flag} offers no choices"
    return tuple(action.choices)


@pytest.mark.parametrize(
    ("command", "flag", "expected"),
    [
        ("translate", "--mode", choices.MODES),
        ("eval", "--mode", choices.MODES),
        ("translate", "--precision", choices.PRECISIONS),
        ("eval", "--precision", choices.PRECISIONS),
        ("train", "--precision", choices.PRECISIONS),
        ("translate", "--tile-stats", choices.TILE_STATS),
        ("eval", "--tile-stats", choices.TILE_STATS),
        ("translate", "--format", tuple(choices.FORMAT_SUFFIXES)),
        ("translate", "--direction", choices.DIRECTIONS),
        ("eval", "--direction", choices.DIRECTIONS),
        ("import", "--direction", choices.DIRECTIONS),
        ("train", "--direction", choices.DIRECTIONS),
        ("import", "--kind", choices.KINDS),
        ("train", "kind", choices.KINDS),
        ("import", "--gan-mode", choices.GAN_MODES),
        ("train", "--gan-mode", choices.GAN_MODES),
        ("train", "--preset", choices.PRESETS),
        ("train", "--norm", choices.NORMS),
    ],
)
def test_cli_offers_the_choices_defined_once(command: str, flag: str, expected: tuple[str, ...]) -> None:
    assert _choices(command, flag) == expected


def test_every_engine_table_is_keyed_by_the_choices() -> None:
    assert tuple(presets.PRESETS) == choices.PRESETS
    assert imaging.FORMATS == choices.FORMAT_SUFFIXES
    assert set(choices.OUTPUT_FORMATS) <= set(choices.FORMAT_SUFFIXES)
    assert set(choices.MODE_HELP) == set(choices.MODES)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: GeneratorSpec(norm="group"), "norm must be one of batch, instance, none, not 'group'"),  # type: ignore[arg-type]
        (lambda: DiscriminatorSpec(gan_mode="wgan"), "gan_mode must be one of vanilla, lsgan, wgangp, hinge, not 'wgan'"),  # type: ignore[arg-type]
        (lambda: ModelCard("m", "pix2pix", {"g": GeneratorSpec()}, direction="AB"), "direction must be one of AtoB, BtoA"),  # type: ignore[arg-type]
        (lambda: presets.preset_settings("default", "stylegan"), "kind must be one of pix2pix, cyclegan"),
    ],
)
def test_config_checks_list_the_same_choices(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_tile_is_parsed_once(capsys: pytest.CaptureFixture[str]) -> None:
    parser = _subparsers(build_parser())["translate"]
    args = parser.parse_args(["in.png", "-o", "out", "-m", "x", "--tile", "512"])
    assert args.tile == 512
    assert parser.parse_args(["in.png", "-o", "out", "-m", "x", "--tile", "OFF"]).tile == "off"
    assert parser.parse_args(["in.png", "-o", "out", "-m", "x"]).tile == "auto"
    with pytest.raises(SystemExit) as exit_:
        main(["translate", "in.png", "-o", "out", "-m", "x", "--tile", "-3"])
    assert exit_.value.code == 2
    assert "tile must be a positive size in pixels, not -3" in capsys.readouterr().err
