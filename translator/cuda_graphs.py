"""CUDA graphs for the fixed shapes of a folder job or a tiled image (eval mode, CUDA only).

A generator forward is ~50–70 kernel launches. On a GPU, for 256² images or tiles the kernels are
short enough that launching them from Python costs as much as running them; a captured graph
replays them all in one launch. Large inputs gain nothing (their kernels run long) and a graph
holds its own memory, so only small shapes that recur are captured, and only a few of them.
Capture failing for any reason (an old driver, an op that cannot be captured) turns graphs off
for this network with a log line: the eager path is always there.

Not measured: this project's machines have no GPU (BENCHMARKS.md says so).
"""
from __future__ import annotations

import logging
from collections import OrderedDict

import torch
from torch import nn

log = logging.getLogger(__name__)

MAX_PIXELS = 8 * 256 * 256  # per call (batch × H × W): beyond this the kernels hide the launch cost
MAX_GRAPHS = 4  # distinct shapes kept captured, least recently used dropped
SEEN_BEFORE_CAPTURE = 2  # a shape is captured the second time it comes, not for one-off sizes


def worth_a_graph(shape: torch.Size, seen: int) -> bool:
    """Whether a call of this input shape, seen `seen` times so far, should be captured."""
    n, _, h, w = shape
    return seen >= SEEN_BEFORE_CAPTURE and n * h * w <= MAX_PIXELS


class GraphedForward(nn.Module):
    """Runs `net` (eval mode, on CUDA) through captured CUDA graphs for recurring small shapes."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self._seen: dict[tuple[torch.Size, torch.dtype], int] = {}
        self._graphs: OrderedDict[tuple[torch.Size, torch.dtype], tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]] = OrderedDict()
        self._broken = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        key = (x.shape, x.dtype)
        if self._broken or not x.is_cuda:
            return self.net(x)  # type: ignore[no-any-return]
        entry = self._graphs.get(key)
        if entry is None:
            self._seen[key] = self._seen.get(key, 0) + 1
            if not worth_a_graph(x.shape, self._seen[key]):
                return self.net(x)  # type: ignore[no-any-return]
            try:
                entry = self._capture(x)
            except Exception as exc:  # whatever the cause: stay eager, never fail the job
                log.warning("CUDA graphs turned off for this model (capture failed: %s)", exc)
                self._broken = True
                self._graphs.clear()
                return self.net(x)  # type: ignore[no-any-return]
            self._graphs[key] = entry
            while len(self._graphs) > MAX_GRAPHS:
                self._graphs.popitem(last=False)
        self._graphs.move_to_end(key)
        graph, static_in, static_out = entry
        static_in.copy_(x)
        graph.replay()
        return static_out.clone()  # the next replay overwrites static_out

    def _capture(self, x: torch.Tensor) -> tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]:
        static_in = x.clone()
        # Autocast must not cache casted weights during capture (the cache is freed when the
        # autocast region ends, while the graph would still read it).
        amp = torch.is_autocast_enabled("cuda")
        with torch.autocast("cuda", dtype=torch.get_autocast_dtype("cuda"), enabled=amp, cache_enabled=False):
            side = torch.cuda.Stream()  # type: ignore[no-untyped-call]
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):  # warm-up on a side stream, as capture requires
                for _ in range(2):
                    self.net(static_in)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = self.net(static_in)
        return graph, static_in, static_out
