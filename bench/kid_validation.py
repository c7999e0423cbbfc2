"""What KID validation during training costs: a CycleGAN run at the default recipe, with and
without it, side by side (issue 30's goal: a validation of 50 images adds at most 10 % to a
1000-step run).

    .venv/bin/python -m bench.kid_validation [--steps 100] [--rounds 1]

Data: bench/quality's `night_unpaired` task (day ↔ night grading of real photos, 128×128
training crops at the default recipe); the held-out folder is 50 day crops (A) and 50 night
crops (B) of its test photos, which the run never trains on. Each validation translates the 50
held-out images both ways (A→B and B→A) and computes their InceptionV3 features (KID of each
direction against the other domain's 50 real images, whose features are computed once per run).

Each round runs `--steps` steps twice, alternating: without KID, then with `kid_every` = half the
steps (from scratch there is no step-0 KID, so validations come at steps/2 and steps). Measured:
- seconds per training step: the median of each run's per-step times (`TrainProgress.seconds`);
- the first validation's cost: the wall time between the events of the step before it and its
  own, less a median step; it includes the reals' features and, in the first round only (the
  process keeps it), loading the feature network;
- a later validation's cost: the same at the last step (translations and their features only);
- the whole runs' wall times, whose difference is the sum of both (a cross-check).

Extrapolated to a 1000-step run with the default interval (`KID_EVERY`): 1000 median steps of
the runs with KID (timed under the same load as their validations) plus the one-time cost plus 1000 / KID_EVERY later validations, each as measured. On a shared
machine the figures move with the other load; run it on an idle one.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from bench.common import ROOT, machine
from bench.quality.tasks import TASKS, TEST_PHOTOS, TEST_SCALES, build, crops, load_photo
from translator.jobs import run_job
from translator.training import TrainConfig, TrainProgress, train
from translator.training_parts.kid import KID_EVERY, KID_IMAGES

TASK = TASKS["night_unpaired"]
HELD_OUT_STRIDE = 96  # finer than the quality benchmark's test stride, so the test photos give 50 crops


def held_out_folder(root: Path, count: int = KID_IMAGES) -> Path:
    """`count` day crops (A/) and their night gradings (B/) of the quality benchmark's test photos."""
    a_dir, b_dir = root / "A", root / "B"
    a_dir.mkdir(parents=True, exist_ok=True)
    b_dir.mkdir(exist_ok=True)
    made = 0
    for name in TEST_PHOTOS:
        for j, c in enumerate(crops(load_photo(name), TEST_SCALES, HELD_OUT_STRIDE)):
            day, night = TASK.render(c)
            for folder, rgb in ((a_dir, day), (b_dir, night)):
                if not cv2.imwrite(str(folder / f"{name}_{j:03d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
                    raise OSError(f"cannot write {folder}")
            made += 1
            if made == count:
                return root
    raise RuntimeError(f"the test photos give only {made} crops at stride {HELD_OUT_STRIDE}; {count} are needed")


@dataclass(frozen=True)
class Run:
    wall: float  # the whole job, start to result
    steps: list[float]  # each step's own time (TrainProgress.seconds)
    gaps: dict[int, float]  # step -> wall time from the previous event to this one


def timed_run(cfg: TrainConfig) -> Run:
    gaps: dict[int, float] = {}
    steps: list[float] = []
    last = t0 = time.perf_counter()

    def on_event(e: object) -> None:
        nonlocal last
        assert isinstance(e, TrainProgress)
        now = time.perf_counter()
        gaps[e.done], last = now - last, now
        steps.append(e.seconds)

    run_job(train(cfg), on_event)
    return Run(time.perf_counter() - t0, steps, gaps)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=100, help="steps per run (even; default 100)")
    p.add_argument("--rounds", type=int, default=1, help="alternating rounds of the two runs (default 1)")
    p.add_argument("--work", type=Path, default=ROOT / "bench" / "quality" / "work",
                   help="where the task's data is built, once (default: bench/quality's work folder)")
    args = p.parse_args(argv)
    steps = args.steps - args.steps % 2
    with tempfile.TemporaryDirectory() as tmp:
        data = build(TASK, args.work / "data") / "train"
        held = held_out_folder(Path(tmp) / "held_out")
        base = TrainConfig.from_preset("default", "cyclegan", data, Path(tmp) / "run", steps=steps,
                                       checkpoint_every=10**9, sample_every=10**9, val_every=10**9)
        plain: list[Run] = []
        kid: list[Run] = []
        for r in range(args.rounds):
            plain.append(timed_run(replace(base, out=Path(tmp) / f"plain{r}")))
            print(f"round {r + 1}: without KID {plain[-1].wall:.1f} s", flush=True)
            kid.append(timed_run(replace(base, out=Path(tmp) / f"kid{r}", kid_data=held, kid_every=steps // 2)))
            print(f"round {r + 1}: with KID {kid[-1].wall:.1f} s", flush=True)
    # The extrapolation takes the steps of the runs the validations were timed in: on a shared
    # machine the load can change between the two runs, not within one as much.
    step = statistics.median(s for run in kid for s in run.steps)
    step_plain = statistics.median(s for run in plain for s in run.steps)
    first = statistics.median(run.gaps[steps // 2] for run in kid) - step
    later = statistics.median(run.gaps[steps] for run in kid) - step
    wall_plain = statistics.median(run.wall for run in plain)
    wall_kid = statistics.median(run.wall for run in kid)
    start = statistics.median(run.wall - sum(run.steps) for run in plain)  # reading data, building nets, saving
    full = 1000 * step + start
    validations = 1000 // KID_EVERY
    overhead = first + (validations - 1) * later
    print(machine())
    print(f"CycleGAN, default recipe (resnet_9blocks, 32 filters, 128² crops), {steps} steps per run, "
          f"{args.rounds} round(s); held-out: {KID_IMAGES} images per side, both directions measured")
    print("| measure | seconds |")
    print("|---|---|")
    print(f"| training step (median), without KID / with | {step_plain:.3f} / {step:.3f} |")
    print(f"| {steps} steps without KID (whole run) | {wall_plain:.1f} |")
    print(f"| {steps} steps with 2 KID validations (whole run) | {wall_kid:.1f} |")
    print(f"| first validation (feature network, reals' features, translations) | {first:.1f} |")
    print(f"| a later validation (translations and their features) | {later:.1f} |")
    print(f"| difference of the whole runs (≈ first + later) | {wall_kid - wall_plain:.1f} |")
    print(f"1000-step run: {full:.0f} s ({1000} × {step:.3f} s + {start:.0f} s start); "
          f"one validation of {KID_IMAGES} images adds {later:.1f} s ({later / full:.1%}), the first {first:.1f} s "
          f"({first / full:.1%}); every {KID_EVERY} steps ({validations} validations) adds {overhead:.0f} s "
          f"({overhead / full:.1%}); the goal is at most 10 %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
