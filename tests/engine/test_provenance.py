"""Settings carried inside output files (translator.provenance, imaging's `settings=`): they round
trip through real PNG, JPEG, WebP and TIFF files, leave the pixels alone, and a hostile block is
refused (None, logged), never a crash.

`test_wired_…` tests need translate_files and the CLI to pass the settings on (the patches
/tmp/hist-inference.patch and /tmp/hist-cli.patch); they fail until those are applied.
"""
from __future__ import annotations

import json
import shutil
import struct
import zlib
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from translator import imaging
from translator.inference import InferenceOptions
from translator.provenance import KEY, MAX_SETTINGS_BYTES, Provenance, find_model, model_sha256, read_settings


@pytest.fixture()
def settings(tiny_pix2pix: Path) -> Provenance:
    options = InferenceOptions(precision="bf16", mode="reference", seed=7, tile=512, overlap=24, tile_stats="fast",
                               memory_budget_mb=640, batch_size=2)
    return Provenance.from_options(options, model_path=tiny_pix2pix, model_name="tiny-p2p", direction="AtoB",
                                   strength=0.6, output_format="png", quality=90, precision_used="fp32",
                                   created=datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc))


@pytest.fixture()
def photo(photos: dict[str, np.ndarray]) -> np.ndarray:
    return np.ascontiguousarray(photos["chelsea"][::6, ::6])  # a real photo, 75×50


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_with_chunk(png: bytes, chunk: bytes) -> bytes:
    """`png` with `chunk` placed before IEND (the test's own writer, not the code under test's)."""
    return png[:-12] + chunk + png[-12:]


def _plain_png(path: Path, rgb: np.ndarray) -> bytes:
    Image.fromarray(rgb).save(path)
    return path.read_bytes()


def test_the_record_holds_every_inference_option_and_the_model_hash(settings: Provenance, tiny_pix2pix: Path) -> None:
    import hashlib
    import dataclasses

    assert settings.model_sha256 == hashlib.sha256(tiny_pix2pix.read_bytes()).hexdigest()
    assert settings.model_file == "tiny-p2p.safetensors" and "/" not in settings.model_file
    assert set(settings.options) == {f.name for f in dataclasses.fields(InferenceOptions)}
    assert settings.options["tile"] == 512 and settings.options["mode"] == "reference"
    assert json.loads(settings.to_json())["format_version"] == 1
    assert Provenance.from_json(settings.to_json()) == settings


@pytest.mark.parametrize(("name", "bit_depth"), [("out.png", 8), ("out16.png", 16), ("out.jpg", 8), ("out.webp", 8),
                                                 ("out.tif", 8)])
def test_settings_round_trip_through_real_files(tmp_path: Path, photo: np.ndarray, settings: Provenance, name: str,
                                                bit_depth: int) -> None:
    path = imaging.write_image(tmp_path / name, photo, bit_depth=bit_depth, settings=settings)
    assert read_settings(path) == settings
    assert imaging.read_image(path).bit_depth == bit_depth  # still an ordinary image of its kind


@pytest.mark.parametrize("name", ["out16.tif", "out.bmp"])
def test_formats_that_cannot_carry_settings_are_written_without(tmp_path: Path, photo: np.ndarray,
                                                                settings: Provenance, name: str) -> None:
    path = imaging.write_image(tmp_path / name, photo, bit_depth=16 if "16" in name else 8, settings=settings)
    assert read_settings(path) is None
    assert imaging.read_image(path).size == (photo.shape[1], photo.shape[0])


@pytest.mark.parametrize("name", ["a.png", "a.jpg", "a.webp", "a.tif"])
def test_write_like_keeps_alpha_depth_and_pixels_with_settings(tmp_path: Path, photo: np.ndarray, settings: Provenance,
                                                               name: str) -> None:
    alpha = np.linspace(0, 255, photo.shape[0] * photo.shape[1]).reshape(photo.shape[:2]).astype(np.uint8)
    src = imaging.write_image(tmp_path / "src.png", photo, alpha=alpha)
    like = imaging.read_image(src)
    out = photo[::-1].copy()
    without = imaging.read_image(imaging.write_like(tmp_path / ("plain-" + name), out, like))
    with_ = imaging.read_image(imaging.write_like(tmp_path / name, out, like, settings=settings))
    assert read_settings(tmp_path / name) == settings
    assert np.array_equal(with_.rgb, without.rgb)  # the settings change no pixel, even in lossy formats
    assert (with_.alpha is None) == (without.alpha is None)
    if with_.alpha is not None and without.alpha is not None:
        assert np.array_equal(with_.alpha, without.alpha)


def test_images_without_settings_give_none(tmp_path: Path, photo: np.ndarray) -> None:
    plain = tmp_path / "plain.png"
    _plain_png(plain, photo)
    assert read_settings(plain) is None
    assert read_settings(Path(__file__).parents[2] / "samples" / "chelsea.jpg") is None  # a camera JPEG
    Image.fromarray(photo).save(tmp_path / "p.webp")
    assert read_settings(tmp_path / "p.webp") is None
    (tmp_path / "notes.png").write_text("not an image")
    assert read_settings(tmp_path / "notes.png") is None
    assert read_settings(tmp_path / "missing.png") is None
    assert read_settings(tmp_path) is None  # a folder


def _bombs(good: dict[str, object]) -> dict[str, bytes]:
    """Settings blocks a hostile or broken file may carry."""
    def changed(**kw: object) -> bytes:
        return json.dumps({**good, **kw}).encode()

    return {
        "not json": b"{'model': 'x', strength: }",
        "not utf-8": b"\xff\xfe\x00{",
        "a list": b"[1, 2, 3]",
        "nested bomb": b"[" * 30_000 + b"]" * 30_000,
        "nested options": changed(options={"tile": {"a": [[[[1]]]]}}),
        "nan strength": changed(strength=float("nan")),
        "huge int": changed(quality=int("9" * 4000)),
        "strength as text": changed(strength="0.5; rm -rf /"),
        "strength out of range": changed(strength=7),
        "unknown direction": changed(direction="CtoD"),
        "bad sha": changed(model_sha256="../../etc/passwd"),
        "bad precision": changed(options={**good["options"], "precision": "__import__('os')"}),  # type: ignore[dict-item]
        "bad device": changed(options={**good["options"], "device": "cuda; reboot"}),  # type: ignore[dict-item]
        "many options": changed(options={f"o{i}": i for i in range(1000)}),
        "long model name": changed(model="m" * 100_000),
        "another tool": changed(tool="someone-else"),
        "newer but broken": changed(format_version="2"),
        "huge": changed(notes="x" * (MAX_SETTINGS_BYTES + 10)),
    }


def test_hostile_png_settings_give_none_with_a_log_line(tmp_path: Path, photo: np.ndarray, settings: Provenance,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    png = _plain_png(tmp_path / "base.png", photo)
    for label, block in _bombs(settings.to_dict()).items():
        path = tmp_path / f"{label.replace(' ', '-')}.png"
        path.write_bytes(_png_with_chunk(png, _chunk(b"iTXt", KEY.encode() + b"\0\0\0\0\0" + block)))
        caplog.clear()
        assert read_settings(path) is None, label
        assert path.name in caplog.text, label
        assert imaging.read_image(path).size == (photo.shape[1], photo.shape[0])  # the image itself still opens


def test_broken_containers_give_none(tmp_path: Path, photo: np.ndarray, settings: Provenance) -> None:
    good = imaging.write_image(tmp_path / "good.png", photo, settings=settings).read_bytes()
    cases = {
        # a chunk claiming 2 GB, past the end of the file
        "claim.png": good[:33] + struct.pack(">I", 2**31 - 1) + b"iTXt" + b"x" * 10,
        "cut-in-settings.png": good[:90],  # the file ends inside the settings chunk
        "zip-bomb.png": _png_with_chunk(_plain_png(tmp_path / "b.png", photo), _chunk(
            b"iTXt", KEY.encode() + b"\0\1\0\0\0" + zlib.compress(b"[" * 50_000_000, 9))),
        "header-only.jpg": b"\xff\xd8\xff\xe1\xff\xff" + b"http://ns.adobe.com/xap/1.0/\0",
        "riff-claim.webp": b"RIFF\xff\xff\xff\xffWEBPXMP \xff\xff\xff\xff<x>",
        "tiff-junk.tif": b"II*\x00" + b"\xff" * 64,
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        assert read_settings(tmp_path / name) is None, name


def test_hostile_xmp_is_never_parsed_as_xml(tmp_path: Path, photo: np.ndarray, settings: Provenance) -> None:
    laughs = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
              '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
              '<x><imgtr:settings>&d;</imgtr:settings></x>').encode()
    entity_json = b"<imgtr:settings>&lbrace;&quot;tool&quot;:1}</imgtr:settings>"
    for name, packet in {"laughs.jpg": laughs, "entities.webp": entity_json, "huge.jpg": b"<imgtr:settings>" + b"{" * 60000}.items():
        Image.fromarray(photo).save(tmp_path / name, xmp=packet)
        assert read_settings(tmp_path / name) is None, name


def test_unknown_keys_are_ignored_and_a_newer_format_read_for_what_it_knows(tmp_path: Path, photo: np.ndarray,
                                                                            settings: Provenance) -> None:
    d = settings.to_dict()
    d.update(format_version=5, colour_management={"icc": "sRGB"}, options={**d["options"], "denoise": 0.3})
    png = _plain_png(tmp_path / "base.png", photo)
    (tmp_path / "future.png").write_bytes(_png_with_chunk(png, _chunk(b"tEXt", KEY.encode() + b"\0" + json.dumps(d).encode())))
    read = read_settings(tmp_path / "future.png")
    assert read is not None and read.model_sha256 == settings.model_sha256 and read.options["denoise"] == 0.3
    restored = read.options_applied(InferenceOptions(device="cpu", workers=1))
    assert restored == replace(InferenceOptions(**{k: v for k, v in settings.options.items()}), device="cpu", workers=1)  # type: ignore[arg-type]


def test_find_model_by_hash_then_by_name(tmp_path: Path, tiny_pix2pix: Path, tiny_cyclegan: Path,
                                         settings: Provenance) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copy(tiny_pix2pix, lib / "renamed.safetensors")
    shutil.copy(tiny_cyclegan, lib / "tiny-p2p.safetensors")  # the name, other contents
    assert find_model(settings, [lib]) == (lib / "renamed.safetensors", True)
    (lib / "renamed.safetensors").unlink()
    assert find_model(settings, [lib]) == (lib / "tiny-p2p.safetensors", False)
    (lib / "tiny-p2p.safetensors").unlink()
    assert find_model(settings, [lib]) is None
    assert model_sha256(lib / "gone.safetensors") is None


def test_wired_translate_files_records_settings_in_every_output(tmp_path: Path, tiny_pix2pix: Path,
                                                                photos: dict[str, np.ndarray]) -> None:
    """translate_files → output files → read_settings (needs /tmp/hist-inference.patch)."""
    from translator.inference import load_translator, plan_outputs, translate_files
    from translator.jobs import run_job

    src = tmp_path / "in"
    src.mkdir()
    for name, rgb in photos.items():
        Image.fromarray(rgb[::8, ::8]).save(src / f"{name}.png")
    tr = load_translator(tiny_pix2pix)
    record = Provenance.from_options(tr.options, model_path=tiny_pix2pix, model_name=tr.name, direction=tr.direction,
                                     strength=0.5, output_format="webp", quality=95, precision_used=tr.precision)
    summary = run_job(translate_files(tr, plan_outputs([src], tmp_path / "out", fmt="webp"), strength=0.5,
                                      settings=record))
    assert len(summary.written) == len(photos)
    assert all(read_settings(p) == record for p in summary.written)


def test_wired_cli_translate_records_its_settings(tmp_path: Path, tiny_pix2pix: Path, photos: dict[str, np.ndarray]) -> None:
    """`translator translate` writes what it ran with into each output (needs /tmp/hist-cli.patch)."""
    from translator.cli import main

    one = tmp_path / "one.png"
    Image.fromarray(photos["coffee"][::8, ::8]).save(one)
    assert main(["translate", str(one), "-m", str(tiny_pix2pix), "-q", "-o", str(tmp_path / "out"),
                 "--strength", "0.3", "--format", "jpg"]) == 0
    read = read_settings(tmp_path / "out" / "one.jpg")
    assert read is not None
    assert (read.model, read.strength, read.output_format, read.model_sha256) == (
        "tiny-p2p", 0.3, "jpg", model_sha256(tiny_pix2pix))
