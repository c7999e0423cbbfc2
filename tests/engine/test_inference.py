"""Inference: any size, both modes, batches, tiling switch, and resumable folder jobs."""
from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from translator import imaging
from translator._fs import PARTIAL_PREFIX
from translator.checkpoint import Model, ModelCard, load_model
from translator.cli import main
from translator.errors import JobCancelled, TranslatorError
from translator.devices import cpu_has_bf16
from translator.heap import SMALL_WORK
from translator.inference import (
    InferenceOptions,
    WorkItem,
    _images_per_pass,
    batch_size_for,
    load_translator,
    make_translator,
    plan_outputs,
    shard,
    translate_array,
    translate_batch,
    translate_files,
)
from translator.jobs import CancelToken, JobSummary, Progress, run_job
from translator.networks import GeneratorSpec, build_generator
from translator.tiling import default_overlap, estimate_bytes_per_pixel, plan_tiles

REF = Path(__file__).parent.parent / "data" / "reference"


def _collect(job) -> tuple[list[Progress], JobSummary]:  # type: ignore[no-untyped-def]
    events: list[Progress] = []
    while True:
        try:
            events.append(next(job))
        except StopIteration as stop:
            return events, stop.value


def _photo_dir(tmp: Path, photos: dict[str, np.ndarray], size: int = 80) -> Path:
    d = tmp / "in"
    d.mkdir()
    for i, (name, rgb) in enumerate(sorted(photos.items())):
        im = Image.fromarray(rgb)
        im.thumbnail((size, size))
        im.save(d / (f"{name}.png" if i % 2 == 0 else f"{name}.jpg"), quality=95)
    return d


@pytest.mark.parametrize("size", [(97, 61), (64, 64), (10, 7), (300, 33)])
def test_any_size_keeps_size(tiny_pix2pix: Path, tiny_cyclegan: Path, photos: dict[str, np.ndarray], size: tuple[int, int]) -> None:
    rgb = np.asarray(Image.fromarray(photos["chelsea"]).resize(size))
    for model in (tiny_pix2pix, tiny_cyclegan):
        out = translate_array(load_translator(model), rgb)
        assert out.shape == rgb.shape and out.dtype == np.uint8
        assert out.std() > 1  # a real picture, not a constant


def test_padding_does_not_leak_into_the_image(tiny_cyclegan: Path, photos: dict[str, np.ndarray]) -> None:
    # A ResNet needs multiples of 4: 128x128 needs no padding, so translating 126x126 (padded) and
    # cropping must match translating the 128x128 image over the shared region away from the edge.
    tr = load_translator(tiny_cyclegan)
    rgb = np.asarray(Image.fromarray(photos["astronaut"]).resize((128, 128)))
    full = translate_array(tr, rgb).astype(int)
    cut = translate_array(tr, rgb[:126, :126]).astype(int)
    assert np.abs(full[:100, :100] - cut[:100, :100]).mean() < 3


def test_eval_mode_matches_reference_fixture() -> None:
    # The reference U-Net (unet_128, ngf 8) in eval mode: our translate_array gives its PNG to ±1.
    spec = GeneratorSpec("unet_128", 8, "batch", True)
    net = build_generator(spec)
    net.load_state_dict(torch.load(REF / "unet_128_ngf8_batch_dropout_net_G.pth", weights_only=True))
    model = Model(ModelCard("ref", "pix2pix", {"g": spec}), {"g": net})
    tr = make_translator(model, InferenceOptions(device="cpu"))
    rgb = np.asarray(Image.open(REF / "input_128x128.png").convert("RGB"))
    out = translate_array(tr, rgb).astype(int)
    expected = np.asarray(Image.open(REF / "unet_128_eval_output.png").convert("RGB")).astype(int)
    assert np.abs(out - expected).max() <= 1


def test_reference_mode_is_seeded_and_leaves_the_model_alone(tiny_pix2pix: Path, photos: dict[str, np.ndarray]) -> None:
    model = load_model(tiny_pix2pix)
    before = {k: v.clone() for k, v in model.nets["g"].state_dict().items()}
    rgb = np.asarray(Image.fromarray(photos["coffee"]).resize((64, 64)))
    a = translate_array(make_translator(model, InferenceOptions(mode="reference", seed=1)), rgb)
    b = translate_array(make_translator(model, InferenceOptions(mode="reference", seed=1)), rgb)
    c = translate_array(make_translator(model, InferenceOptions(mode="reference", seed=2)), rgb)
    e = translate_array(make_translator(model, InferenceOptions(mode="eval")), rgb)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)  # dropout differs with the seed
    assert not np.array_equal(a, e)  # batch statistics + dropout differ from eval mode
    for k, v in model.nets["g"].state_dict().items():
        assert torch.equal(v, before[k]), k  # running statistics untouched


def test_batches_give_the_same_pixels_as_single_images(tiny_pix2pix: Path, photos: dict[str, np.ndarray]) -> None:
    tr = load_translator(tiny_pix2pix, InferenceOptions(batch_size=3))
    ims = [np.asarray(Image.fromarray(p).resize((64, 48))) for p in photos.values()] + [np.zeros((20, 30, 3), np.uint8)]
    batched = translate_batch(tr, ims)
    single = [translate_array(tr, im) for im in ims]
    for x, y in zip(batched, single):
        assert np.abs(x.astype(int) - y.astype(int)).max() <= 1


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no native bf16: the engine runs fp32")
def test_a_bf16_unet_job_batches_by_eight_and_a_rerun_writes_the_same_pixels(tmp_path: Path, tiny_pix2pix: Path,
                                                                               photos: dict[str, np.ndarray]) -> None:
    """U-Nets in bf16 on the CPU take 8 images per pass (fp32 keeps 4, whose pixels are the
    reference's); the windows stay fixed, so outputs lost to an interruption come back the same."""
    tr = load_translator(tiny_pix2pix, InferenceOptions(device="cpu", precision="bf16"))
    assert batch_size_for(tr) == 8
    assert batch_size_for(load_translator(tiny_pix2pix, InferenceOptions(device="cpu"))) == 4
    per_pixel = estimate_bytes_per_pixel(tr.spec)
    for side in (64, 256, 1024, 2048):  # more than 4 a pass only while the pass is small work: large photos keep their memory
        n = _images_per_pass(tr, side, side)
        assert n <= 4 or n * side * side * per_pixel <= SMALL_WORK, (side, n)
    assert _images_per_pass(tr, 64, 64) >= 8
    src = tmp_path / "in"
    src.mkdir()
    for i in range(12):
        rgb = list(photos.values())[i % len(photos)]
        Image.fromarray(np.roll(rgb, 29 * i, axis=1)[:64, :64]).save(src / f"{i:02d}.png")
    items = plan_outputs([src], tmp_path / "out")
    assert len(run_job(translate_files(tr, items)).written) == 12
    first = {it.dst.name: imaging.read_image(it.dst).rgb for it in items}
    for it in items[5:10]:  # lost from both windows, as a killed job leaves them
        it.dst.unlink()
    assert len(run_job(translate_files(tr, items)).written) == 5
    assert all(np.array_equal(imaging.read_image(it.dst).rgb, first[it.dst.name]) for it in items)


def test_a_batch_never_makes_an_image_tile_that_fits_alone(tiny_cyclegan: Path, photos: dict[str, np.ndarray]) -> None:
    # A budget one image fits in but four do not: the batch is split, not tiled (tiling an
    # InstanceNorm model changes its output slightly, so equality shows no tile was used).
    from translator.tiling import estimate_bytes_per_pixel

    tr = load_translator(tiny_cyclegan, InferenceOptions(batch_size=4, memory_budget_mb=1))
    side = int((0.8 * 2**20 / estimate_bytes_per_pixel(tr.spec)) ** 0.5) // 4 * 4
    ims = [np.asarray(Image.fromarray(np.roll(photos["coffee"], 40 * i, axis=1)).resize((side, side))) for i in range(4)]
    for x, y in zip(translate_batch(tr, ims), [translate_array(tr, im) for im in ims]):
        assert np.array_equal(x, y)


def test_forced_tiling_matches_whole_image_for_eval_batchnorm(tiny_pix2pix: Path, photos: dict[str, np.ndarray]) -> None:
    rgb = np.asarray(Image.fromarray(photos["astronaut"]).resize((192, 128)))
    whole = translate_array(load_translator(tiny_pix2pix, InferenceOptions(tile="off")), rgb)
    big_tile = translate_array(load_translator(tiny_pix2pix, InferenceOptions(tile=256)), rgb)
    assert np.array_equal(whole, big_tile)  # fits in one tile: identical


def test_folder_job_writes_resumes_and_reports(tmp_path: Path, tiny_cyclegan: Path, photos: dict[str, np.ndarray]) -> None:
    src = _photo_dir(tmp_path, photos)
    (src / "broken.jpg").write_bytes(b"<html>not an image</html>")
    tr = load_translator(tiny_cyclegan)
    items = plan_outputs([src], tmp_path / "out")
    events, summary = _collect(translate_files(tr, items))
    assert [e.done for e in events] == list(range(1, 5)) and events[-1].total == 4
    assert len(summary.written) == 3 and len(summary.failed) == 1
    assert "broken.jpg" in (summary.failed[0].error or "")
    for it in items:
        if it.src.name != "broken.jpg":
            out = imaging.read_image(it.dst)
            assert out.rgb.shape == imaging.read_image(it.src).rgb.shape
            assert it.dst.suffix == it.src.suffix
    mtimes = {p: p.stat().st_mtime_ns for p in summary.written}
    _, again = _collect(translate_files(tr, items))
    assert len(again.skipped) == 3 and not again.written
    assert all(p.stat().st_mtime_ns == mtimes[p] for p in mtimes)
    _, redo = _collect(translate_files(tr, items, overwrite=True))
    assert len(redo.written) == 3


def test_cancel_keeps_finished_outputs_and_leaves_no_partial(tmp_path: Path, tiny_cyclegan: Path, photos: dict[str, np.ndarray]) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for i in range(8):
        Image.fromarray(np.roll(photos["chelsea"], i * 10, axis=1)[::4, ::4]).save(src / f"{i:02d}.png")
    items = plan_outputs([src], tmp_path / "out")
    token = CancelToken()
    # batch 1: the token is checked before each forward pass, so the cancel lands mid-folder
    job = translate_files(load_translator(tiny_cyclegan, InferenceOptions(batch_size=1)), items, token=token)
    next(job), next(job)
    token.cancel()
    with pytest.raises(JobCancelled):
        run_job(job)
    written = sorted((tmp_path / "out").iterdir())
    assert 2 <= len(written) < 8
    assert not any(p.name.startswith(PARTIAL_PREFIX) for p in written)
    for p in written:
        imaging.read_image(p)  # complete, decodable
    _, summary = _collect(translate_files(load_translator(tiny_cyclegan), items))
    assert len(summary.skipped) == len(written) and len(summary.written) == 8 - len(written)


def test_recursive_keeps_tree_and_skips_output_inside_input(tmp_path: Path, photos: dict[str, np.ndarray]) -> None:
    src = _photo_dir(tmp_path, photos)
    (src / "sub" / "deeper").mkdir(parents=True)
    Image.fromarray(photos["coffee"][::8, ::8]).save(src / "sub" / "deeper" / "c.webp")
    out = src / "translated"
    out.mkdir()
    Image.fromarray(photos["coffee"][::8, ::8]).save(out / "old-output.png")
    items = plan_outputs([src], out, recursive=True, fmt="png")
    dsts = sorted(str(it.dst.relative_to(out)) for it in items)
    assert dsts == ["astronaut.png", "chelsea.png", "coffee.png", "sub/deeper/c.png"]
    assert len(plan_outputs([src], out)) == 3  # not recursive


def test_output_may_not_overwrite_input(tmp_path: Path, photos: dict[str, np.ndarray]) -> None:
    src = _photo_dir(tmp_path, photos)
    with pytest.raises(TranslatorError, match="overwrite the input"):
        plan_outputs([src], src)
    with pytest.raises(TranslatorError, match="no such file"):
        plan_outputs([tmp_path / "missing"], tmp_path / "out")


def test_a_file_is_not_translated_into_its_own_folder(tmp_path: Path, photos: dict[str, np.ndarray]) -> None:
    """`translate one.png --format jpg -o <its folder>` would add one.jpg among the inputs: refused,
    whichever way the folder is spelled, and nothing is written."""
    src = _photo_dir(tmp_path, photos)
    one = sorted(src.iterdir())[0]
    before = sorted(p.name for p in src.iterdir())
    for out in (src, src / ".", Path(str(src) + "/sub/..")):
        with pytest.raises(TranslatorError, match="folder of the input"):
            plan_outputs([one], out, fmt="jpg")
    assert main(["translate", str(one), "--format", "jpg", "-o", str(src), "-m", "demo-sketch2photo", "-q"]) == 2
    assert sorted(p.name for p in src.iterdir()) == before
    assert plan_outputs([one], tmp_path / "elsewhere", fmt="jpg")[0].dst.parent == tmp_path / "elsewhere"


def test_alpha_and_16_bit_survive_a_job(tmp_path: Path, tiny_cyclegan: Path, photos: dict[str, np.ndarray]) -> None:
    src = tmp_path / "in"
    src.mkdir()
    rgb = photos["astronaut"][::8, ::8]
    alpha = np.tile(np.linspace(0, 255, rgb.shape[1]).astype(np.uint8), (rgb.shape[0], 1))
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(src / "cutout.png")
    imaging.write_image(src / "deep.png", rgb.astype(np.uint16) * 257, bit_depth=16)
    _, summary = _collect(translate_files(load_translator(tiny_cyclegan), plan_outputs([src], tmp_path / "out")))
    assert len(summary.written) == 2
    cut = imaging.read_image(tmp_path / "out" / "cutout.png")
    assert cut.alpha is not None and np.array_equal(cut.alpha, alpha)
    deep = imaging.read_image(tmp_path / "out" / "deep.png")
    assert deep.bit_depth == 16


def test_shards_partition_the_work() -> None:
    items = [WorkItem(Path(f"{i}.png"), Path(f"o/{i}.png")) for i in range(10)]
    parts = [shard(items, r, 3) for r in range(3)]
    assert sorted(p.src.name for part in parts for p in part) == sorted(i.src.name for i in items)
    assert all(len(p) in (3, 4) for p in parts)
    with pytest.raises(TranslatorError):
        shard(items, 3, 3)


def test_cancel_token_from_another_thread(tmp_path: Path, tiny_cyclegan: Path, photos: dict[str, np.ndarray]) -> None:
    src = _photo_dir(tmp_path, photos)
    token = CancelToken()
    threading.Timer(0.0, token.cancel).start()
    threading.Event().wait(0.05)
    with pytest.raises(JobCancelled):
        run_job(translate_files(load_translator(tiny_cyclegan), plan_outputs([src], tmp_path / "o"), token=token))


def test_cancel_inside_a_large_image_stops_within_one_tile_pass(tiny_cyclegan: Path, photos: dict[str, np.ndarray]) -> None:
    """A 4096² photo in 256-px tiles (an InstanceNorm model: a statistics pass on a downscaled
    copy, then 400 tiles); the progress callback cancels once the passes over the tiles have
    started. No pass runs after the cancel, and the call returns well within the time of one
    tile pass (measured: 0.1 ms to return against 80 ms per tile pass on a busy 2-core CPU)."""
    big = np.tile(photos["astronaut"], (8, 8, 1))  # (4096, 4096, 3) uint8
    tr = load_translator(tiny_cyclegan, InferenceOptions(device="cpu", tile=256, tile_stats="fast"))
    token = CancelToken()
    stamps: list[float] = []
    cancel_at = 5  # pass 1: the statistics; passes 2-5: tiles
    totals: set[int] = set()

    def progress(done: int, total: int) -> None:
        stamps.append(time.perf_counter())
        totals.add(total)
        if done == cancel_at:
            token.cancel()

    with pytest.raises(JobCancelled):
        translate_array(tr, big, token=token, progress=progress)
    returned = time.perf_counter()
    assert totals == {1 + len(plan_tiles(4096, 4096, 256, default_overlap(tr.spec), align=4))}  # 1 + 400
    assert len(stamps) - cancel_at <= 1  # tile passes completed after the cancel
    one_pass = statistics.median(np.diff(stamps[1:cancel_at]))
    assert returned - stamps[cancel_at - 1] < 3 * one_pass


def test_progress_and_cancel_of_an_untiled_image(tiny_pix2pix: Path, photos: dict[str, np.ndarray]) -> None:
    tr = load_translator(tiny_pix2pix, InferenceOptions(device="cpu", tile="off"))
    rgb = np.asarray(Image.fromarray(photos["coffee"]).resize((96, 64)))
    calls: list[tuple[int, int]] = []
    translate_array(tr, rgb, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 1)]
    token = CancelToken()
    token.cancel()
    with pytest.raises(JobCancelled):
        translate_array(tr, rgb, token=token, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 1)]  # cancelled before the forward pass


class _CancelOnCheck(CancelToken):
    """A token that cancels itself at its `n`-th check: a cancel landing while the job is inside
    an image, whatever the machine's speed."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n
        self.checks = 0

    def raise_if_cancelled(self) -> None:
        self.checks += 1
        if self.checks == self.n:
            self.cancel()
        super().raise_if_cancelled()


def test_folder_job_cancels_inside_a_tiled_image(tmp_path: Path, tiny_cyclegan: Path, photos: dict[str, np.ndarray]) -> None:
    """The job checks its token between images; `translate_files` hands it down, so a large
    image stops after the tile pass during which the cancel came, and leaves no file behind."""
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(np.tile(photos["chelsea"], (2, 2, 1))).save(src / "big.png")
    items = plan_outputs([src], tmp_path / "out")
    token = _CancelOnCheck(5)  # 1: before the image; 2: as the image starts; 3-5: after each tile pass
    with pytest.raises(JobCancelled):
        run_job(translate_files(load_translator(tiny_cyclegan, InferenceOptions(tile=128)), items, token=token))
    assert token.checks == 5
    assert not any((tmp_path / "out").iterdir())


def test_tiled_instance_norm_model_matches_untiled(tiny_cyclegan: Path, photos: dict[str, np.ndarray]) -> None:
    # 96-px tiles (default overlap) on a 192x128 photo, through the options a user sets (--tile 96).
    rgb = np.asarray(Image.fromarray(photos["astronaut"]).resize((192, 128)))
    whole = translate_array(load_translator(tiny_cyclegan, InferenceOptions(tile="off")), rgb).astype(int)
    exact = translate_array(load_translator(tiny_cyclegan, InferenceOptions(tile=96)), rgb).astype(int)
    fast = translate_array(load_translator(tiny_cyclegan, InferenceOptions(tile=96, tile_stats="fast")), rgb).astype(int)
    assert np.abs(whole - exact).mean() < 0.5
    assert np.abs(whole - fast).mean() > np.abs(whole - exact).mean()


def test_quick_look_is_the_model_on_a_downscaled_copy_of_a_large_image(tmp_path: Path, tiny_pix2pix: Path) -> None:
    """Large images get a quick look at most QUICK_SIDE a side; small ones (and `resize`) none."""
    from skimage import data

    from translator.inference import QUICK_SIDE, quick_look

    big = np.tile(data.coffee(), (3, 2, 1))  # 1200×1200, a real photo
    imaging.write_image(tmp_path / "big.png", big)
    imaging.write_image(tmp_path / "small.png", data.coffee()[:256, :256])
    tr = load_translator(tiny_pix2pix)
    quick = quick_look(tr, tmp_path / "big.png")
    assert quick is not None
    small, out = quick
    assert max(small.shape[:2]) == QUICK_SIDE and small.shape == out.shape
    assert np.array_equal(out, translate_array(tr, small))
    assert abs(small.astype(float).mean() - big.astype(float).mean()) < 3  # the same picture, smaller
    assert quick_look(tr, tmp_path / "small.png") is None
    assert quick_look(load_translator(tiny_pix2pix, InferenceOptions(resize=256)), tmp_path / "big.png") is None
