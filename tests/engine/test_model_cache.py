"""The model cache: weights read from disk once per file version, networks prepared once per
(file, direction, device, mode), every other option applied without either."""
from __future__ import annotations

import os
import shutil
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from translator.errors import CheckpointError
from translator.inference import InferenceOptions, load_translator, translate_array
from translator.model_cache import ModelCache

CPU = InferenceOptions(device="cpu")


def _rgb(photos: dict[str, np.ndarray]) -> np.ndarray:
    return np.asarray(Image.fromarray(photos["astronaut"]).resize((96, 64)))


def test_options_that_do_not_change_the_network_never_reload_it(tiny_pix2pix: Path, photos: dict[str, np.ndarray]) -> None:
    cache = ModelCache()
    first = cache.get(tiny_pix2pix, None, CPU)
    variants = [
        replace(CPU, seed=3),
        replace(CPU, tile=64, overlap=16),
        replace(CPU, tile="off"),
        replace(CPU, tile_stats="fast"),
        replace(CPU, precision="bf16"),
        replace(CPU, memory_budget_mb=1),
        replace(CPU, batch_size=2, workers=1),
        replace(CPU, resize=64),
    ]
    for options in variants:
        tr = cache.get(tiny_pix2pix, None, options)
        assert tr.options == options and tr.net is first.net
    assert cache.loads == 1
    assert cache.get(tiny_pix2pix, None, replace(CPU, memory_budget_mb=3)).budget == 3 * 2**20  # the budget follows the option
    # what the cache hands out translates as a freshly loaded translator does
    assert np.array_equal(translate_array(first, _rgb(photos)), translate_array(load_translator(tiny_pix2pix, CPU), _rgb(photos)))


def test_mode_and_direction_prepare_a_network_without_reading_the_file(tiny_pix2pix: Path, tiny_cyclegan: Path, photos: dict[str, np.ndarray]) -> None:
    cache = ModelCache()
    eval_tr = cache.get(tiny_pix2pix, None, CPU)
    ref_tr = cache.get(tiny_pix2pix, None, replace(CPU, mode="reference"))
    assert ref_tr.net is not eval_tr.net and ref_tr.net.training and not eval_tr.net.training
    assert not np.array_equal(translate_array(ref_tr, _rgb(photos)), translate_array(eval_tr, _rgb(photos)))
    assert cache.get(tiny_pix2pix, None, replace(CPU, seed=9)).net is eval_tr.net  # memoised per mode
    assert cache.loads == 1

    ab = cache.get(tiny_cyclegan, None, CPU)
    assert cache.get(tiny_cyclegan, "AtoB", CPU).net is ab.net  # None means the model's first direction
    ba = cache.get(tiny_cyclegan, "BtoA", CPU)
    assert ba.net is not ab.net and ba.direction == "BtoA"
    assert cache.loads == 2


def test_files_are_kept_least_recently_used(tmp_path: Path, tiny_pix2pix: Path, tiny_cyclegan: Path) -> None:
    third = shutil.copy(tiny_pix2pix, tmp_path / "third.safetensors")
    cache = ModelCache(max_files=2)
    cache.get(tiny_pix2pix, None, CPU)
    cache.get(tiny_cyclegan, None, CPU)
    assert cache.loads == 2  # switching the file reads the other one
    cache.get(tiny_pix2pix, None, CPU)
    assert cache.loads == 2  # both kept
    cache.get(Path(third), None, CPU)  # a third file: the cyclegan, least recently used, goes
    cache.get(tiny_pix2pix, None, CPU)
    assert cache.loads == 3
    cache.get(tiny_cyclegan, None, CPU)
    assert cache.loads == 4


def test_a_file_changed_on_disk_is_read_again(tmp_path: Path, tiny_pix2pix: Path) -> None:
    path = Path(shutil.copy(tiny_pix2pix, tmp_path / "model.safetensors"))
    link = tmp_path / "link.safetensors"
    link.symlink_to(path)
    cache = ModelCache()
    before = cache.get(path, None, CPU)
    assert cache.get(link, None, CPU).net is before.net  # the same file under another name
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    after = cache.get(path, None, CPU)
    assert cache.loads == 2 and after.net is not before.net


def test_threads_asking_at_once_share_one_read(tiny_cyclegan: Path) -> None:
    cache = ModelCache()
    barrier = threading.Barrier(4)
    nets: list[object] = []

    def ask(seed: int) -> None:
        barrier.wait(timeout=60)
        nets.append(cache.get(tiny_cyclegan, None, replace(CPU, seed=seed)).net)

    threads = [threading.Thread(target=ask, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(nets) == 4 and all(n is nets[0] for n in nets)
    assert cache.loads == 1


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="missing.safetensors: cannot read"):
        ModelCache().get(tmp_path / "missing.safetensors", None, CPU)
    with pytest.raises(ValueError, match="max_files"):
        ModelCache(max_files=0)
