"""Training data from folders: layouts, unmatched files, validation split, paired augmentation,
reproducibility, small images, and loaders (workers, epochs, distributed shares)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from translator import imaging
from translator.datasets import (
    Augment,
    PairedDataset,
    UnpairedDataset,
    make_loader,
    scan_dataset,
    set_loader_epoch,
)
from translator.errors import ImageError, TranslatorError

STEP = 1 / 127.5  # one 8-bit level in [-1, 1]
# B = 255 - A on disk; Pillow's bicubic resize (two passes, each rounded to 8 bits) commutes with
# that up to one level per pass.
TOL = 2.01 * STEP


@pytest.fixture(scope="module")
def pics() -> list[np.ndarray]:
    """Twelve different real photos, (72, 88, 3) uint8: crops of scikit-image's samples, downscaled."""
    out = []
    for photo in (data.astronaut(), data.coffee(), data.chelsea()):
        h, w = photo.shape[:2]
        for k in range(4):
            y, x = k * h // 8, k * w // 10
            crop = photo[y : y + h // 2, x : x + w // 2]
            out.append(np.asarray(Image.fromarray(crop).resize((88, 72), Image.Resampling.BICUBIC)))
    return out


def _write(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return imaging.write_image(path, np.ascontiguousarray(rgb))


def _paired_folders(root: Path, pics: list[np.ndarray], n: int, *, a: str = "A", b: str = "B") -> Path:
    """`n` pairs named 00.png, 01.png ...; B = 255 - A pixelwise."""
    for i in range(n):
        _write(root / a / f"{i:02d}.png", pics[i % len(pics)])
        _write(root / b / f"{i:02d}.png", 255 - pics[i % len(pics)])
    return root


def _ab(rgb: np.ndarray, extra_column: bool = False) -> np.ndarray:
    """A side-by-side image: A left, B = 255 - A right (and an odd last column if asked)."""
    ab = np.concatenate([rgb, 255 - rgb], axis=1)
    return np.concatenate([ab, np.zeros_like(rgb[:, :1])], axis=1) if extra_column else ab


def _names(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


# ------------------------------------------------------------------------------------ layouts


def test_paired_folders_match_by_name_and_list_the_unmatched(tmp_path: Path, pics: list[np.ndarray]) -> None:
    root = _paired_folders(tmp_path / "ds", pics, 6)
    _write(root / "A" / "lonely.png", pics[7])
    _write(root / "B" / "orphan.jpg", pics[8])
    scan = scan_dataset(root)
    assert (scan.layout, scan.paired, scan.val_source) == ("paired_folders", True, "holdout")
    assert [p.stem for p in scan.train_a] == [p.stem for p in scan.train_b]
    assert [p.stem for p in scan.val_a] == [p.stem for p in scan.val_b]
    assert all(p.parent.name == "A" for p in scan.train_a + scan.val_a)
    assert all(p.parent.name == "B" for p in scan.train_b + scan.val_b)
    assert sorted(_names(scan.train_a + scan.val_a)) == [f"{i:02d}.png" for i in range(6)]
    assert (len(scan.train_a), len(scan.val_a)) == (5, 1)
    assert (_names(scan.unmatched_a), _names(scan.unmatched_b)) == (["lonely.png"], ["orphan.jpg"])
    text = scan.describe()
    assert "5 training pairs" in text and "1 validation pair " in text and "seed 0" in text
    assert "2 files without a partner" in text and "A/lonely.png" in text and "B/orphan.jpg" in text
    assert "86%" in text  # 6 of A's 7 names exist in B: detected as paired


def test_unpaired_when_names_differ_or_when_asked(tmp_path: Path, pics: list[np.ndarray]) -> None:
    root = tmp_path / "ds"
    for i in range(5):
        _write(root / "A" / f"horse{i}.png", pics[i])
    for i in range(7):
        _write(root / "B" / f"zebra{i}.png", pics[i + 5])
    scan = scan_dataset(root)
    assert (scan.layout, scan.paired, scan.val_source) == ("unpaired_folders", False, "holdout")
    assert sorted(_names(scan.train_a + scan.val_a)) == [f"horse{i}.png" for i in range(5)]
    assert sorted(_names(scan.train_b + scan.val_b)) == [f"zebra{i}.png" for i in range(7)]
    assert (len(scan.val_a), len(scan.val_b)) == (1, 1)
    assert "unpaired (A/ + B/): 4 A and 6 B images for training" in scan.describe()

    matching = _paired_folders(tmp_path / "matching", pics, 4)
    forced = scan_dataset(matching, paired=False)
    assert (forced.layout, forced.paired, forced.unmatched_a) == ("unpaired_folders", False, [])
    with pytest.raises(TranslatorError, match=r"no file in A/ has a partner .* in B/"):
        scan_dataset(root, paired=True)


def test_train_a_train_b_unpaired_with_val_folders_and_test_ignored(tmp_path: Path, pics: list[np.ndarray]) -> None:
    root = _paired_folders(tmp_path / "ds", pics, 4, a="trainA", b="trainB")
    _paired_folders(root, pics[4:], 2, a="valA", b="valB")
    _paired_folders(root, pics[6:], 3, a="testA", b="testB")
    scan = scan_dataset(root)
    assert (scan.layout, scan.paired, scan.val_source) == ("unpaired_folders", False, "folder")
    assert {p.parent.name for p in scan.train_a} == {"trainA"} and len(scan.train_a) == 4
    assert {p.parent.name for p in scan.val_b} == {"valB"} and len(scan.val_b) == 2
    assert "valA/ + valB/" in scan.describe()
    paired = scan_dataset(root, paired=True)  # same names: pix2pix on trainA/trainB
    assert (paired.layout, len(paired.train_a), len(paired.val_a)) == ("paired_folders", 4, 2)


def test_aligned_train_folder_with_val_folder(tmp_path: Path, pics: list[np.ndarray]) -> None:
    root = tmp_path / "facades"
    for i in range(5):
        _write(root / "train" / f"{i}.jpg", _ab(pics[i]))
    for i in range(2):
        _write(root / "val" / f"{i}.jpg", _ab(pics[i + 5]))
        _write(root / "test" / f"{i}.jpg", _ab(pics[i + 7]))
    scan = scan_dataset(root)
    assert (scan.layout, scan.paired, scan.val_source) == ("aligned", True, "folder")
    assert scan.train_a == scan.train_b and len(scan.train_a) == 5
    assert {p.parent.name for p in scan.val_a} == {"val"} and scan.val_a == scan.val_b and len(scan.val_a) == 2
    assert "side-by-side AB images in train/" in scan.describe() and "from val/" in scan.describe()
    with pytest.raises(TranslatorError, match="paired"):
        scan_dataset(root, paired=False)


def test_val_folder_for_paired_folders_and_its_unmatched_files(tmp_path: Path, pics: list[np.ndarray]) -> None:
    root = _paired_folders(tmp_path / "ds", pics, 5)
    _paired_folders(root / "val", pics[5:], 3)
    _write(root / "val" / "A" / "alone.png", pics[9])
    scan = scan_dataset(root)
    assert scan.val_source == "folder" and len(scan.train_a) == 5  # nothing held out of training
    assert {p.parent.parent.name for p in scan.val_a + scan.val_b} == {"val"} and len(scan.val_a) == 3
    assert _names(scan.unmatched_a) == ["alone.png"]
    assert "val/A/alone.png" in scan.describe() and "from val/A/ + val/B/" in scan.describe()


def test_ab_images_directly_in_the_folder(tmp_path: Path, pics: list[np.ndarray]) -> None:
    for i in range(4):
        _write(tmp_path / "ab" / f"{i}.png", _ab(pics[i][:, 8:80]))  # square halves: 144×72
    scan = scan_dataset(tmp_path / "ab")
    assert (scan.layout, len(scan.train_a), len(scan.val_a), scan.val_source) == ("aligned", 3, 1, "holdout")
    for i in range(3):
        _write(tmp_path / "plain" / f"{i}.png", pics[i])
    with pytest.raises(TranslatorError, match=r"layout not recognised.*0\.png is 88×72.*accepted layouts: A/ \+ B/"):
        scan_dataset(tmp_path / "plain")


def test_holdout_is_seeded_stable_and_excluded_from_training(tmp_path: Path, pics: list[np.ndarray]) -> None:
    root = _paired_folders(tmp_path / "ds", pics, 20)
    first, again = scan_dataset(root), scan_dataset(root)
    assert first.val_a == again.val_a and first.train_a == again.train_a and len(first.val_a) == 2  # round(0.1 * 20)
    assert not set(first.val_a) & set(first.train_a)
    assert sorted(first.val_a + first.train_a) == imaging.list_images(root / "A")
    assert len({tuple(_names(scan_dataset(root, seed=s).val_a)) for s in range(5)}) > 1
    assert len(scan_dataset(root, val_fraction=0.5, max_val=3).val_a) == 3
    assert len(scan_dataset(root, val_fraction=0.01).val_a) == 1  # at least one
    off = scan_dataset(root, val_fraction=0)
    assert (off.val_source, off.val_a, len(off.train_a)) == ("none", [], 20)
    _write(root / "A" / "zz.png", pics[0])  # one more image moves at most one held-out pair
    _write(root / "B" / "zz.png", 255 - pics[0])
    assert len(set(scan_dataset(root).val_a) & set(first.val_a)) >= 1
    single = _paired_folders(tmp_path / "one", pics, 1)
    assert (scan_dataset(single).val_source, len(scan_dataset(single).train_a)) == ("none", 1)


def test_errors_name_the_folder_and_say_what_to_do(tmp_path: Path, pics: list[np.ndarray]) -> None:
    with pytest.raises(TranslatorError, match="nowhere: no such folder"):
        scan_dataset(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TranslatorError, match=r"empty: no images"):
        scan_dataset(tmp_path / "empty")
    _write(tmp_path / "half" / "A" / "x.png", pics[0])
    with pytest.raises(TranslatorError, match=r"half: found A/ but no B/"):
        scan_dataset(tmp_path / "half")
    _write(tmp_path / "odd" / "photos" / "x.png", pics[0])
    _write(tmp_path / "odd" / "sketches" / "x.png", pics[0])
    with pytest.raises(TranslatorError, match=r"odd: layout not recognised.*photos/, sketches/.*trainA/ \+ trainB/"):
        scan_dataset(tmp_path / "odd")
    (tmp_path / "nested" / "A" / "sub").mkdir(parents=True)
    _write(tmp_path / "nested" / "B" / "x.png", pics[0])
    with pytest.raises(TranslatorError, match=r"A: no images \(it has the folders sub/"):
        scan_dataset(tmp_path / "nested")
    root = _paired_folders(tmp_path / "dup", pics, 2)
    _write(root / "A" / "00.jpg", pics[0])
    with pytest.raises(TranslatorError, match=r"two files share the name '00'"):
        scan_dataset(root, paired=True)
    (tmp_path / "train_empty" / "train").mkdir(parents=True)
    with pytest.raises(TranslatorError, match=r"train: no images"):
        scan_dataset(tmp_path / "train_empty")


# ------------------------------------------------------------------------------- augmentation


def _paired_dataset(tmp_path: Path, pics: list[np.ndarray], aligned: bool, n: int = 6, **kw: object) -> PairedDataset:
    if aligned:
        files = [_write(tmp_path / "train" / f"{i}.png", _ab(pics[i], extra_column=i % 2 == 1)) for i in range(n)]
        return PairedDataset(files, None, Augment(80, 64), aligned=True, train=True, **kw)  # type: ignore[arg-type]
    root = _paired_folders(tmp_path, pics, n)
    return PairedDataset(imaging.list_images(root / "A"), imaging.list_images(root / "B"), Augment(80, 64),
                         aligned=False, train=True, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("aligned", [False, True], ids=["folders", "aligned"])
def test_both_sides_of_a_pair_get_the_same_crop_and_flip(tmp_path: Path, pics: list[np.ndarray], aligned: bool) -> None:
    ds = _paired_dataset(tmp_path, pics, aligned)
    for epoch in range(4):
        for i in range(len(ds)):
            item = ds[(epoch, i)]
            assert item["a"].shape == item["b"].shape == (3, 64, 64) and item["a"].dtype == torch.float32
            assert item["index"] == i
            assert torch.allclose(item["b"], -item["a"], atol=TOL)
            assert item["a"].min() >= -1 and item["a"].max() <= 1


def _locate(sample: torch.Tensor, resized: np.ndarray) -> tuple[int, int, bool]:
    """Where `sample` was cut from `resized` (exactly), and whether it was flipped."""
    rgb = imaging.to_uint8(sample)
    c = rgb.shape[0]
    for flip in (False, True):
        src = resized[:, ::-1] if flip else resized
        for y in range(resized.shape[0] - c + 1):
            for x in range(resized.shape[1] - c + 1):
                if np.array_equal(src[y : y + c, x : x + c], rgb):
                    return x, y, flip
    raise AssertionError("the sample is no crop of the resized image")


def test_augmentation_is_the_references_resize_crop_flip(tmp_path: Path, pics: list[np.ndarray]) -> None:
    ds = _paired_dataset(tmp_path, pics, aligned=False, n=3)
    resized = [np.asarray(Image.fromarray(p).resize((80, 80), Image.Resampling.BICUBIC)) for p in pics[:3]]
    seen = {i: [_locate(ds[(epoch, i)]["a"], resized[i]) for epoch in range(12)] for i in range(3)}
    geometry = [g for gs in seen.values() for g in gs]
    assert {flip for _, _, flip in geometry} == {False, True}
    assert len({(x, y) for x, y, _ in geometry}) > 10  # crops vary over the whole 17×17 range of offsets
    assert max(x for x, _, _ in geometry) > 8 and max(y for _, y, _ in geometry) > 8
    assert all(len(set(gs)) > 1 for gs in seen.values())  # one item gets other crops in other epochs
    no_flip = PairedDataset(ds.a, ds.b, Augment(80, 64, flip=False), aligned=False, train=True)
    assert not any(_locate(no_flip[(e, 0)]["a"], resized[0])[2] for e in range(8))


def test_samples_depend_only_on_seed_epoch_and_index(tmp_path: Path, pics: list[np.ndarray]) -> None:
    ds = _paired_dataset(tmp_path, pics, aligned=True, seed=3)
    twin = PairedDataset(ds.a, None, ds.augment, aligned=True, train=True, seed=3)
    other = PairedDataset(ds.a, None, ds.augment, aligned=True, train=True, seed=4)
    for i in reversed(range(len(ds))):  # order of requests does not matter
        assert torch.equal(ds[(2, i)]["a"], twin[(2, i)]["a"])
    twin.set_epoch(2)
    assert all(torch.equal(ds[(2, i)]["b"], twin[i]["b"]) for i in range(len(ds)))
    assert any(not torch.equal(ds[(2, i)]["a"], other[(2, i)]["a"]) for i in range(len(ds)))
    assert any(not torch.equal(ds[(0, i)]["a"], ds[(1, i)]["a"]) for i in range(len(ds)))


def test_validation_is_deterministic_whole_image(tmp_path: Path, pics: list[np.ndarray]) -> None:
    root = _paired_folders(tmp_path, pics, 2)
    val = PairedDataset(imaging.list_images(root / "A"), imaging.list_images(root / "B"), Augment(80, 64),
                        aligned=False, train=False)
    val.set_epoch(5)
    expected = np.asarray(Image.fromarray(pics[1]).resize((64, 64), Image.Resampling.BICUBIC))
    assert np.array_equal(imaging.to_uint8(val[1]["a"]), expected)
    assert torch.equal(val[(0, 1)]["b"], val[(9, 1)]["b"])


@pytest.mark.parametrize("preprocess,shape", [
    ("resize_and_crop", (3, 64, 64)),
    ("crop", (3, 64, 64)),
    ("scale_width_and_crop", (3, 64, 64)),
    ("none", (3, 32, 40)),  # snapped to multiples of 4
])
def test_images_smaller_than_the_crop(tmp_path: Path, pics: list[np.ndarray], preprocess: str, shape: tuple[int, ...]) -> None:
    small = np.asarray(Image.fromarray(pics[0]).resize((40, 30), Image.Resampling.BICUBIC))
    a, b = _write(tmp_path / "A" / "s.png", small), _write(tmp_path / "B" / "s.png", 255 - small)
    aug = Augment(load_size=64 if preprocess != "scale_width_and_crop" else 72, crop_size=64, preprocess=preprocess)  # type: ignore[arg-type]
    for train in (True, False):
        ds = PairedDataset([a], [b], aug, aligned=False, train=train)
        for epoch in range(3):
            item = ds[(epoch, 0)]
            assert item["a"].shape == item["b"].shape == shape
            assert torch.allclose(item["b"], -item["a"], atol=TOL)


def test_a_b_of_another_size_is_resized_to_a(tmp_path: Path, pics: list[np.ndarray]) -> None:
    a = _write(tmp_path / "A" / "x.png", pics[0])
    b = _write(tmp_path / "B" / "x.png", np.asarray(Image.fromarray(pics[0]).resize((176, 144), Image.Resampling.BICUBIC)))
    item = PairedDataset([a], [b], Augment(80, 64, preprocess="crop"), aligned=False, train=True)[(0, 0)]
    assert item["b"].shape == (3, 64, 64)
    assert (item["a"] - item["b"]).abs().mean() < 0.05  # the same region of the same photo


def test_unreadable_file_raises_image_error_naming_it(tmp_path: Path, pics: list[np.ndarray]) -> None:
    a = _write(tmp_path / "A" / "x.png", pics[0])
    bad = tmp_path / "B" / "x.png"
    bad.parent.mkdir()
    bad.write_bytes(b"not an image at all")
    with pytest.raises(ImageError, match=r"B/x\.png"):
        PairedDataset([a], [bad], Augment(80, 64), aligned=False, train=True)[0]


def test_unpaired_items_draw_b_at_random_with_their_own_crops(tmp_path: Path, pics: list[np.ndarray]) -> None:
    a = [_write(tmp_path / "A" / f"{i}.png", pics[i]) for i in range(3)]
    b = [_write(tmp_path / "B" / f"{i}.png", pics[i]) for i in range(5)]
    ds = UnpairedDataset(a, b, Augment(80, 64), train=True, seed=1)
    assert len(ds) == 5
    resized = [np.asarray(Image.fromarray(p).resize((80, 80), Image.Resampling.BICUBIC)) for p in pics[:5]]

    def which_b(item: torch.Tensor) -> int:
        for j, r in enumerate(resized):
            try:
                _locate(item, r)
                return j
            except AssertionError:
                pass
        raise AssertionError("b is none of the B images")

    drawn = [which_b(ds[(e, i)]["b"]) for e in range(4) for i in range(5)]
    assert len(set(drawn)) >= 4 and drawn != [i for _ in range(4) for i in range(5)]
    assert [which_b(ds[(0, i)]["b"]) for i in range(5)] == [which_b(ds[(0, i)]["b"]) for i in range(5)]
    assert torch.equal(ds[(0, 4)]["a"], ds[(0, 4)]["a"])
    _locate(ds[(0, 4)]["a"], resized[1])  # a cycles: item 4 is a[4 % 3]
    same = UnpairedDataset(a[:1], a[:1], Augment(80, 64), train=True)  # one file on both sides
    assert any(not torch.equal(same[(e, 0)]["a"], same[(e, 0)]["b"]) for e in range(6))  # independent crops
    val = UnpairedDataset(a, b, Augment(80, 64), train=False)  # whole images resized to 64², b[i % len(b)]
    for i in range(5):
        expected = np.asarray(Image.fromarray(pics[i]).resize((64, 64), Image.Resampling.BICUBIC))
        assert np.array_equal(imaging.to_uint8(val[i]["b"]), expected)


def test_augment_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="crop_size"):
        Augment(load_size=128, crop_size=256)
    with pytest.raises(ValueError, match="positive"):
        Augment(load_size=0)
    with pytest.raises(ValueError, match="unknown preprocess"):
        Augment(preprocess="zoom")  # type: ignore[arg-type]
    assert Augment(load_size=128, crop_size=256, preprocess="crop").crop_size == 256


# ------------------------------------------------------------------------------------- loaders


def _batches(loader: torch.utils.data.DataLoader) -> list[dict[str, torch.Tensor]]:  # type: ignore[type-arg]
    return list(loader)


def test_loader_batches_do_not_depend_on_workers(tmp_path: Path, pics: list[np.ndarray]) -> None:
    ds = _paired_dataset(tmp_path, pics, aligned=False, n=8)
    serial = make_loader(ds, batch_size=3, shuffle=True, workers=0, seed=5, epoch=0)
    parallel = make_loader(ds, batch_size=3, shuffle=True, workers=2, seed=5, epoch=0)
    for epoch in (0, 1):
        set_loader_epoch(serial, epoch)
        set_loader_epoch(parallel, epoch)  # persistent workers: the epoch travels with the indices
        ours, theirs = _batches(serial), _batches(parallel)
        assert len(ours) == len(theirs) == 2  # 8 // 3, last incomplete batch dropped
        for x, y in zip(ours, theirs):
            assert torch.equal(x["index"], y["index"]) and torch.equal(x["a"], y["a"]) and torch.equal(x["b"], y["b"])
        if epoch == 0:
            first = ours
    assert not torch.equal(first[0]["index"], ours[0]["index"])  # another order in another epoch
    fresh = _batches(make_loader(ds, batch_size=3, shuffle=True, workers=0, seed=5, epoch=1))
    assert all(torch.equal(x["a"], y["a"]) for x, y in zip(fresh, ours))
    in_order = _batches(make_loader(ds, batch_size=4, shuffle=False, workers=0, seed=5, drop_last=False))
    assert torch.cat([b["index"] for b in in_order]).tolist() == list(range(8))
    with pytest.raises(TranslatorError, match="fewer than one batch"):
        make_loader(ds, batch_size=9, shuffle=True, workers=0, seed=0)


@pytest.mark.parametrize("n", [8, 7])
def test_distributed_shares_are_disjoint_and_cover_the_data(tmp_path: Path, pics: list[np.ndarray], n: int) -> None:
    ds = _paired_dataset(tmp_path, pics, aligned=True, n=n)
    shares = [
        torch.cat([b["index"] for b in make_loader(ds, batch_size=1, shuffle=True, workers=0, seed=2, epoch=1,
                                                   distributed=True, rank=r, world_size=2)]).tolist()
        for r in range(2)
    ]
    assert len(shares[0]) == len(shares[1]) == (n + 1) // 2
    assert set(shares[0]) | set(shares[1]) == set(range(n))
    assert len(set(shares[0]) & set(shares[1])) == 2 * ((n + 1) // 2) - n  # padding repeats only to even out
