"""Big photos with default settings, as a user runs them: before and after, side by side.

Each cell is one `translator translate PHOTO -o OUT -m MODEL` process with no other flag, started
fresh (its wall time includes starting Python, importing torch and loading the model; peak RSS is
the process's VmHWM, read by a parent that waits for nothing else). "before" runs the code of an
earlier commit (`--before DIR`: a `git worktree` of it, put first on PYTHONPATH), "after" this
checkout; a run that takes longer than `--timeout` is stopped and reported as such.

Models: the shipped `demo-photo2painting` (resnet_6blocks, InstanceNorm), a resnet_9blocks ngf 64
CycleGAN generator and a pix2pix unet_256 ngf 64 (BatchNorm, eval mode), both with random weights
(the time of a network does not depend on its weights). Photos: scikit-image's coffee, resized.

    git worktree add /tmp/before 1f55951
    .venv-engine/bin/python -m bench.big_photos --before /tmp/before
    .venv-engine/bin/python -m bench.big_photos --sizes 3000x3000 --models demo   # after only
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from bench.common import ROOT, gib, machine, photo
from translator.checkpoint import ModelCard, build_model, save_model
from translator.networks import GeneratorSpec

_PEAK = ("import resource, subprocess, sys; "
         "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
         "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def models(tmp: Path) -> dict[str, Path]:
    def random(name: str, spec: GeneratorSpec) -> Path:
        card = ModelCard(name=name, kind="pix2pix", generators={"g": spec}, discriminators={}, task="bench", image_size=256)
        return save_model(build_model(card, seed=0), tmp / f"{name}.safetensors")

    return {
        "demo": ROOT / "weights" / "demo-photo2painting.safetensors",
        "resnet9": random("resnet9-ngf64", GeneratorSpec("resnet_9blocks", 64, "instance", False)),
        "unet256": random("unet256-ngf64", GeneratorSpec("unet_256", 64, "batch", True)),
    }


def run(code: Path | None, model: Path, src: Path, out: Path, timeout: float) -> tuple[str, str]:
    """(seconds, peak RSS) of one default translate, or ('> T s (stopped)', '–')."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = f"{code}{os.pathsep}{env.get('PYTHONPATH', '')}"
    env["TRANSLATOR_CACHE_DIR"] = str(out.parent / "cache")  # the bf16 check counted, as on a first run
    cmd = [sys.executable, "-c", _PEAK, sys.executable, "-m", "translator", "translate", str(src), "-o", str(out),
           "-m", str(model), "-q"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=code or ROOT,
                            start_new_session=True)  # its own process group: a stopped run takes its child with it
    try:
        stdout, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return f"> {timeout:.0f} (stopped)", "–"
    wall = time.perf_counter() - t0
    done = subprocess.CompletedProcess(cmd, proc.returncode, stdout, "")
    rc, peak_kib = (int(v) for v in done.stdout.split()[-2:])
    if rc != 0:
        return f"failed ({rc})", "–"
    return f"{wall:.1f}", gib(peak_kib * 1024)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--before", type=Path, help="a checkout of the earlier code (git worktree)")
    p.add_argument("--sizes", nargs="+", default=["3000x3000", "6000x1500"])
    p.add_argument("--models", nargs="+", default=["demo", "resnet9", "unet256"])
    p.add_argument("--timeout", type=float, default=300.0, help="seconds before a run is stopped")
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        paths = models(tmp)
        for size in args.sizes:
            w, h = (int(v) for v in size.split("x"))
            src = tmp / f"photo-{size}.png"
            Image.fromarray(photo(2, (w, h))).save(src)
            for name in args.models:
                cells = []
                for label, code in (("before", args.before), ("after", None)):
                    if label == "before" and code is None:
                        continue
                    cells.append(run(code, paths[name], src, tmp / f"out-{label}-{name}-{size}", args.timeout))
                rows.append(f"| {w}×{h} | {name} | " + " | ".join(f"{s} s, {r}" for s, r in cells) + " |")
                print(rows[-1], flush=True)
    head = "| photo | model | " + ("before | after |" if args.before else "after |")
    print(f"\n{machine()}\n\n{head}\n|---|---|" + ("---|---|" if args.before else "---|"))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
