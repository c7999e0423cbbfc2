"""`translator zoo`: list the reference implementation's pretrained models, download one.

    translator zoo list [--json]
    translator zoo get NAME [--name LOCAL_NAME] [--overwrite] [--timeout S]

`get` drives `translator.zoo.get_model` with a progress bar; errors reach `translator.cli.main`,
which prints them as one line and exits non-zero.
"""
from __future__ import annotations

import argparse
import json
import sys

from translator.cli import ProgressBar, progress_bar, say
from translator.errors import BadName, TranslatorError
from translator.jobs import Progress, format_duration, run_job
from translator.reference import check_model_name
from translator.zoo import DEFAULT_RETRIES, DEFAULT_TIMEOUT_S, DownloadProgress, find_entry, get_model, list_models, model_path

_MB = 1024 * 1024


class DownloadBar(ProgressBar):
    """The CLI progress bar for bytes: megabytes, MB/s and the retry messages of a download."""

    def update(self, p: Progress) -> None:
        stage = p.stage if isinstance(p, DownloadProgress) else "download"
        message = p.message if isinstance(p, DownloadProgress) else ""
        if stage in ("retry", "import") or (stage == "connect" and p.done > 0):  # news, and resuming
            self.note(message)
            return
        if stage == "connect":
            return
        self.show(p, f"{p.rate / _MB:.2f} MB/s  ETA {format_duration(p.eta_s)}")

    def counts(self, p: Progress) -> str:
        return f"{p.done / _MB:.1f}/{p.total / _MB:.1f} MB" if p.total else f"{p.done / _MB:.1f} MB"


def cmd_zoo_list(args: argparse.Namespace) -> int:
    entries = list_models()
    if args.json:
        rows = [{**e.to_dict(), "installed": model_path(e).exists()} for e in entries]
        print(json.dumps(rows, indent=1))  # ASCII JSON: nothing in it acts on a terminal
        return 0
    width = max(len(e.name) for e in entries)
    task_width = max(len(e.task) for e in entries)
    say(f"{'NAME':<{width}}  {'KIND':<8}  {'TASK':<{task_width}}  GENERATOR")
    for e in entries:
        mark = "  (installed)" if model_path(e).exists() else ""
        say(f"{e.name:<{width}}  {e.kind:<8}  {e.task:<{task_width}}  {e.arch}{mark}")
    print()
    say(f"{len(entries)} models of the reference implementation (pix2pix: U-Net 256, BatchNorm; CycleGAN: one "
          "generator each, ResNet 9 blocks, InstanceNorm). Get one with: translator zoo get NAME")
    return 0


def cmd_zoo_get(args: argparse.Namespace) -> int:
    if args.name is not None:
        try:
            check_model_name(args.name)  # before anything is downloaded
        except BadName as exc:
            raise TranslatorError(f"--name: {exc}") from None
    entry = find_entry(args.model)
    say(f"{entry.name}: {entry.kind}, {entry.task}, {entry.architecture}", file=sys.stderr)
    say(f"from {entry.url}", file=sys.stderr)
    job = get_model(entry, local_name=args.name, overwrite=args.overwrite, timeout_s=args.timeout, retries=args.retries)
    with progress_bar(args.quiet, DownloadBar) as on_progress:
        result = run_job(job, on_progress)
    # A changed sha256 has been logged as a warning by the engine (shown on stderr); say it once more here.
    changed = f"; it differs from the first download's {result.previous_sha256}" if result.previous_sha256 else ""
    say(f"saved {entry.name} as {result.path} (sha256 {result.sha256}{changed})")
    say(f"use it: translator translate --model {result.path.stem} INPUT -o OUTPUT")
    return 0


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def add_zoo_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `zoo list` and `zoo get` to the `translator` command's sub-commands."""
    zoo = sub.add_parser(
        "zoo", help="list and download the reference's pretrained models",
        description="The pretrained pix2pix and CycleGAN models published by the reference implementation "
        "(junyanz/pytorch-CycleGAN-and-pix2pix): list them, or download one into your models folder.",
    )
    zsub = zoo.add_subparsers(dest="zoo_command", required=True, metavar="ACTION")
    p = zsub.add_parser("list", help="list the models with their task and architecture")
    p.add_argument("--json", action="store_true", help="print the list as JSON (with URLs)")
    p.set_defaults(func=cmd_zoo_list)
    p = zsub.add_parser(
        "get", help="download a model into your models folder",
        description="Download a model (resuming an interrupted download), check it, import it safely and save "
        "it in your models folder. The sha256 of the first download is recorded; a later, different one is "
        "reported.",
    )
    p.add_argument("model", metavar="NAME", help="a name from `translator zoo list` (e.g. horse2zebra, pix2pix/sat2map)")
    p.add_argument("--name", help="save the model under this name (default: the zoo name)")
    p.add_argument("--overwrite", "--force", dest="overwrite", action="store_true", help="replace an existing model of that name")
    p.add_argument("--timeout", type=_positive, default=DEFAULT_TIMEOUT_S, metavar="S",
                   help=f"give up on a silent connection after S seconds (default {DEFAULT_TIMEOUT_S:g}); retried")
    p.add_argument("--retries", type=int, default=DEFAULT_RETRIES, help=f"retries after failed attempts in a row (default {DEFAULT_RETRIES})")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_zoo_get)
