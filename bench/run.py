"""`make bench`: run the speed and memory benchmarks and write their section of BENCHMARKS.md.

    .venv/bin/python -m bench.run [--only SECTION ...] [--print]

Sections: the engine's (`bench/perf.py`: peaks, inference, folder, training, big, memory), the app's
cold start and UI stalls (`bench/children.py gui`, `bench/ui_stall.py`) and the seams of tiled
InstanceNorm inference (`bench/seams_4096.py`). The generated part of BENCHMARKS.md sits between
`<!-- perf:begin -->` and `<!-- perf:end -->`; with `--only`, the other sections keep what the
file already holds. The held-out quality section is written by `python -m bench.quality.run
--report` (its runs take hours) and is left alone.
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import perf
from bench.common import ROOT, gib, machine, run_child

BEGIN, END = "<!-- perf:begin -->", "<!-- perf:end -->"
MARK = "<!-- section:{} -->"


def cold_start(_tmp: Path) -> str:
    runs = []
    for _ in range(6):
        out, _wall, peak = run_child(["-m", "bench.children", "gui"], env={"QT_QPA_PLATFORM": "offscreen", "BENCH_T0": repr(time.time())})
        values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        runs.append((float(values["first_paint"]), float(values["main_window"]), peak))
    rest = runs[1:]
    return "\n".join([
        "### App cold start",
        "",
        "`python -m bench.children gui` in a fresh process, offscreen: seconds from launching the process to the "
        "first paint of a window (the start-up window, painted before the engine is imported) and to the first "
        "paint of the main window (engine imported, ready to use). The first run finds whatever file cache the "
        "machine had; the median is over the five runs after it.",
        "",
        "| runs | first window painted (s) | main window painted (s) | peak RSS |",
        "|---|---|---|---|",
        f"| first | {runs[0][0]:.2f} | {runs[0][1]:.2f} | {gib(runs[0][2])} |",
        f"| median of 5 after it | {statistics.median(r[0] for r in rest):.2f} | {statistics.median(r[1] for r in rest):.2f} | "
        f"{gib(statistics.median(r[2] for r in rest))} |",
    ])


def _child_table(script: str, title: str, description: str, env: dict[str, str] | None = None) -> str:
    """Run a benchmark script that prints a Markdown table; the section: title, description, its table."""
    out, _wall, _peak = run_child([script], env=env)
    table = [line for line in out.splitlines() if line.startswith("|")]
    return "\n".join([f"### {title}", "", f"`python {script}` — {description}", "", *table])


def ui_stalls(_tmp: Path) -> str:
    return _child_table(
        "bench/ui_stall.py", "UI event-loop stalls",
        "the real main window (offscreen); a 10 ms QTimer measures how late the UI thread's event loop runs while "
        "the window's own Batch and Fine-tune panels work (every engine call on a worker thread). Lateness in "
        "milliseconds.",
        env={"QT_QPA_PLATFORM": "offscreen"},
    )


def seams(_tmp: Path) -> str:
    return _child_table(
        "bench/seams_4096.py", "Seams of tiled inference on a 4096×4096 image",
        "a 4096² mosaic of four photos through a ResNet with InstanceNorm (resnet_6blocks, ngf 8), untiled and in "
        "1024-px tiles (overlap 64). Seam energy = mean step across the tile hand-over lines ÷ mean step across all "
        "other lines (~1: no seam).",
    )


SECTIONS = {**perf.SECTIONS, "cold_start": cold_start, "ui": ui_stalls, "seams": seams}


def _blocks(text: str) -> dict[str, str]:
    parts = re.split(r"<!-- section:(\w+) -->\n", text)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


def write(benchmarks: Path, blocks: dict[str, str], header: str) -> None:
    text = benchmarks.read_text() if benchmarks.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text:
        text = text.replace("\n", f"\n\n{BEGIN}\n{END}\n", 1)
    head, rest = text.split(BEGIN, 1)
    old, tail = rest.split(END, 1)
    merged = {**_blocks(old), **blocks}
    body = "\n\n".join(f"{MARK.format(name)}\n{merged[name]}" for name in SECTIONS if name in merged)
    benchmarks.write_text(f"{head}{BEGIN}\n{header}\n\n{body}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="+", default=None, help=f"any of {', '.join(SECTIONS)}")
    p.add_argument("--print", action="store_true", help="print the blocks instead of writing BENCHMARKS.md")
    args = p.parse_args(argv)
    names = args.only or list(SECTIONS)
    unknown = set(names) - set(SECTIONS)
    if unknown:
        p.error(f"unknown section(s) {', '.join(sorted(unknown))}: choose from {', '.join(SECTIONS)}")
    blocks = {}
    header = f"Generated by `make bench` (`python -m bench.run`). Machine: {machine()}."
    for name in names:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            blocks[name] = SECTIONS[name](Path(tmp))
        print(f"{blocks[name]}\n\n({name}: {time.perf_counter() - t0:.0f} s)\n", flush=True)
        if not args.print:  # after every section: a failure later keeps what was measured
            write(ROOT / "BENCHMARKS.md", {name: blocks[name]}, header)
    return 0


if __name__ == "__main__":
    sys.exit(main())
