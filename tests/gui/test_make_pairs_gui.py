"""The Fine-tune tab on a folder of photos alone: the offer to make pairs, its preview, making them
(failures listed, cancel), then training on them — real photos, real widgets, real files."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QScrollArea
from pytestqt.qtbot import QtBot
from skimage import data

from gui.jobs import JobWorker
from gui.main_window import MainWindow
from translator.pairs import default_pairs_folder
from gui.widgets.train_panel import TrainPanel
from translator import imaging

TIMEOUT = 20000
TINY = dict(generator="unet_32", base_filters=4, d_base_filters=4, load_size=36, crop_size=32, workers=0,
            val_every=2, sample_every=2, checkpoint_every=2)


@pytest.fixture()
def photo_folder(tmp_path: Path) -> Path:
    """Six real colour photos from scikit-image (no pairs, no layout), about 200 px wide."""
    folder = tmp_path / "holiday"
    folder.mkdir()
    shots = {name: getattr(data, name)() for name in ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry")}
    shots["cup"] = shots["coffee"][20:320, 120:520]  # a closer shot
    for name, rgb in shots.items():
        image = Image.fromarray(rgb)
        image.resize((200, round(200 * image.height / image.width))).save(folder / f"{name}.jpg", quality=92)
    return folder


def _panel(qtbot: QtBot, photos: Path, size: int = 48) -> TrainPanel:
    """A Fine-tune panel on the photo folder, the offer shown and its preview made."""
    panel = TrainPanel()
    qtbot.addWidget(panel)
    panel.set_data_folder(photos)
    qtbot.waitUntil(lambda: panel.form.isRowVisible(panel.pairs), timeout=TIMEOUT)
    panel.pairs.pair_size.setValue(size)
    qtbot.waitUntil(lambda: len(panel.pairs.preview.pairs()) > 0, timeout=TIMEOUT)
    return panel


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _ink(rgb: np.ndarray) -> float:
    """Share of dark pixels (line art's lines)."""
    return float((rgb.mean(axis=2) < 128).mean())


def test_a_photo_folder_is_offered_pairs_and_shows_some_before_writing(qtbot: QtBot, photo_folder: Path,
                                                                      tiny_pix2pix: Path) -> None:
    panel = TrainPanel()
    qtbot.addWidget(panel)
    panel.set_data_folder(photo_folder)
    qtbot.waitUntil(lambda: panel.form.isRowVisible(panel.pairs), timeout=TIMEOUT)
    assert panel.data_info.text() == "6 photos, no pairs yet: make training pairs from them."
    assert "color" not in panel.data_info.styleSheet()  # an offer, not an error
    offer = panel.pairs
    assert offer.pair_kind() == "lineart" and offer.pair_size.value() == 256  # no starting model: 256
    assert [offer.kind.itemData(i) for i in range(offer.kind.count())] == ["lineart", "edges", "gray", "blur", "downscale"]
    assert "colourise" in offer.kind.itemText(offer.kind.findData("gray"))
    qtbot.waitUntil(lambda: len(offer.preview.pairs()) == 4, timeout=TIMEOUT)
    for a, b in offer.preview.pairs():
        assert a.shape == b.shape == (256, 256, 3)
        assert (a.mean(axis=2) > 200).mean() > 0.7 and 0.005 < _ink(a) < 0.3  # dark lines on white
        assert b.std() > 20 and not np.array_equal(a, b)  # the photo beside it
    assert all(label.isVisibleTo(panel) and not label.pixmap().isNull() for label in offer.preview.thumbnails())
    assert len(offer.preview.thumbnails()) == 8
    assert offer.output_folder() == photo_folder.parent / "holiday_lineart_pairs"
    assert not (photo_folder.parent / "holiday_lineart_pairs").exists()  # nothing written before "Make pairs"

    offer.kind.setCurrentIndex(offer.kind.findData("gray"))
    assert offer.preview.pairs() == []  # the line art is gone at once; the gray pairs follow
    qtbot.waitUntil(lambda: len(offer.preview.pairs()) == 4, timeout=TIMEOUT)
    for a, b in offer.preview.pairs():  # the photo's own gray, beside the colour photo
        assert np.array_equal(a[..., 0], a[..., 1]) and np.array_equal(a[..., 1], a[..., 2])
        luminance = b.astype(np.float64) @ [0.299, 0.587, 0.114]
        assert np.abs(a[..., 0] - luminance).mean() < 2 and b.std(axis=2).mean() > 1
    assert offer.folder.placeholderText() == str(photo_folder.parent / "holiday_gray_pairs")

    # Starting from a model: the pairs are offered at its training size (64 for the tiny model).
    panel.set_start_model(tiny_pix2pix, "pix2pix")
    qtbot.waitUntil(lambda: offer.pair_size.value() == 64, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: len(offer.preview.pairs()) == 4 and offer.preview.pairs()[0][0].shape[0] == 64, timeout=TIMEOUT)


def test_make_pairs_writes_matching_pairs_then_the_scan_says_paired(qtbot: QtBot, photo_folder: Path) -> None:
    panel = _panel(qtbot, photo_folder)
    offer = panel.pairs
    out = default_pairs_folder(photo_folder, "lineart")
    with qtbot.waitSignal(offer.made, timeout=TIMEOUT) as made:
        offer.make_button.click()
        assert offer.running() and not offer.make_button.isEnabled() and offer.cancel_button.isEnabled()
    assert made.args == [photo_folder, out]
    assert _names(out / "A") == _names(out / "B") == [f"{p.stem}.png" for p in sorted(photo_folder.iterdir())]
    a = imaging.read_image(out / "A" / "chelsea.png").rgb
    b = imaging.read_image(out / "B" / "chelsea.png").rgb
    assert a.shape == b.shape == (48, 48, 3) and _ink(a) < 0.4 and b.std() > 20
    assert panel.data_edit.text() == str(out)  # the made folder is now the dataset
    qtbot.waitUntil(lambda: panel.data_info.text().startswith("paired"), timeout=TIMEOUT)
    assert "training pair" in panel.data_info.text()
    assert panel.form.isRowVisible(offer)  # its report stays beside the pairs it made
    assert offer.status.text().startswith("made 6 pairs") and offer.failures.isHidden()
    qtbot.waitUntil(lambda: not offer.running(), timeout=TIMEOUT)


def test_a_bad_photo_is_listed_with_its_reason_and_the_rest_are_made(qtbot: QtBot, photo_folder: Path) -> None:
    (photo_folder / "zz_broken.jpg").write_bytes(b"this is not a JPEG")
    panel = _panel(qtbot, photo_folder)
    assert panel.data_info.text().startswith("7 photos")
    offer = panel.pairs
    offer.variants.setValue(2)
    with qtbot.waitSignal(offer.made, timeout=TIMEOUT) as made:
        offer.make()
    out = made.args[1]
    assert offer.failures.isVisibleTo(panel) and offer.failures.count() == 1
    failed = offer.failures.item(0)
    assert failed.text().startswith("zz_broken.jpg: ") and len(failed.text()) > len("zz_broken.jpg: ") + 10  # and why
    assert failed.toolTip() == f"{photo_folder / 'zz_broken.jpg'}{failed.text().removeprefix('zz_broken.jpg')}"
    assert len(_names(out / "A")) == 12 and _names(out / "A") == _names(out / "B")  # 6 good photos × 2 variants
    assert "1 photo failed" in offer.status.text()
    qtbot.waitUntil(lambda: not offer.running(), timeout=TIMEOUT)


def test_pairs_made_another_way_are_kept_unless_overwritten(qtbot: QtBot, photo_folder: Path) -> None:
    panel = _panel(qtbot, photo_folder)
    offer = panel.pairs
    with qtbot.waitSignal(offer.made, timeout=TIMEOUT) as made:
        offer.make()
    out = made.args[1]
    qtbot.waitUntil(lambda: not offer.running(), timeout=TIMEOUT)
    offer.pair_size.setValue(40)
    with qtbot.assertNotEmitted(offer.made, wait=200):
        offer.make_button.click()
        qtbot.waitUntil(lambda: not offer.running(), timeout=TIMEOUT)
    assert "size 48" in offer.status.text() and "size 40" in offer.status.text()  # what differs, and what to do
    assert imaging.read_image(out / "B" / "coffee.png").rgb.shape == (48, 48, 3)  # untouched
    offer.overwrite.setChecked(True)
    with qtbot.waitSignal(offer.made, timeout=TIMEOUT):
        offer.make()
    assert imaging.read_image(out / "B" / "coffee.png").rgb.shape == (40, 40, 3)
    assert imaging.read_image(out / "A" / "coffee.png").rgb.shape == (40, 40, 3)
    qtbot.waitUntil(lambda: panel.data_info.text().startswith("paired") and panel.data_edit.text() == str(out), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not offer.running(), timeout=TIMEOUT)


def test_start_after_making_pairs_trains_on_them(qtbot: QtBot, photo_folder: Path) -> None:
    panel = _panel(qtbot, photo_folder, size=40)
    panel.kind.setCurrentText("pix2pix")
    panel.steps.setValue(2)
    panel.name_edit.setText("pairs-run")
    panel.config_overrides(**TINY)
    with qtbot.waitSignal(panel.pairs.made, timeout=TIMEOUT):
        panel.pairs.make()
    qtbot.waitUntil(lambda: panel.data_info.text().startswith("paired"), timeout=TIMEOUT)
    ready: list[Path] = []
    panel.modelReady.connect(ready.append)
    with qtbot.waitSignal(panel.stopped, timeout=60000):
        panel.start_button.click()
    assert panel.error.text() == ""
    assert panel.progress.value() == 2
    config = panel.run_dir()
    assert config is not None and (config / "config.json").is_file()
    assert str(default_pairs_folder(photo_folder, "lineart")) in (config / "config.json").read_text()
    assert len(ready) == 1 and ready[0].is_file()


def test_cancel_leaves_only_whole_pairs(qtbot: QtBot, tmp_path: Path, photos: dict[str, np.ndarray],
                                        shifted_copies: Callable[..., Path]) -> None:
    folder = shifted_copies(tmp_path / "many", photos["astronaut"], 40, (384, 384), step=7, axis=1)
    panel = _panel(qtbot, folder, size=256)
    offer = panel.pairs
    offer.variants.setValue(3)
    made: list[tuple[Path, Path]] = []
    offer.made.connect(lambda photos, pairs: made.append((photos, pairs)))
    workers: list[JobWorker] = []

    def cancel_on_first_event(worker: JobWorker) -> None:
        workers.append(worker)
        worker.progress.connect(lambda _p: worker.cancel())

    offer.started.connect(cancel_on_first_event)
    offer.make()
    assert len(workers) == 1
    with qtbot.waitSignal(workers[0].finished, timeout=TIMEOUT):
        pass
    out = default_pairs_folder(folder, "lineart")
    a_names, b_names = _names(out / "A"), _names(out / "B")
    assert a_names == b_names and 0 < len(a_names) < 120  # stopped early, every pair whole
    assert all(name.endswith(".png") and not name.startswith(".") for name in a_names)  # no partial file
    for name in a_names:
        assert imaging.read_image(out / "A" / name).rgb.shape == imaging.read_image(out / "B" / name).rgb.shape == (256, 256, 3)
    assert made == [] and "cancelled" in offer.status.text()
    assert panel.data_edit.text() == str(folder)  # not switched to a half-made dataset
    assert offer.make_button.isEnabled() and not offer.cancel_button.isEnabled()


def _fine_tune_area(window: MainWindow) -> QScrollArea:
    area = next(window.tabs.widget(i) for i in range(window.tabs.count()) if window.tabs.tabText(i) == "Fine-tune")
    assert isinstance(area, QScrollArea)
    return area


@pytest.mark.parametrize("size", [(1400, 900), (1280, 720)])
def test_the_offer_fits_the_tab(qtbot: QtBot, window: MainWindow, photo_folder: Path, size: tuple[int, int]) -> None:
    """At 1400×900 the tab needs no scrolling with the offer, its preview and a failed photo listed;
    at 1280×720 it never scrolls sideways."""
    (photo_folder / "zz_broken.jpg").write_bytes(b"this is not a JPEG")
    window.resize(*size)
    area = _fine_tune_area(window)
    window.tabs.setCurrentWidget(area)
    panel = window.train_panel
    panel.set_data_folder(photo_folder)
    qtbot.waitUntil(lambda: panel.form.isRowVisible(panel.pairs), timeout=TIMEOUT)
    panel.pairs.pair_size.setValue(48)
    qtbot.waitUntil(lambda: len(panel.pairs.preview.pairs()) == 4, timeout=TIMEOUT)
    with qtbot.waitSignal(panel.pairs.made, timeout=TIMEOUT):
        panel.pairs.make()
    qtbot.waitUntil(lambda: panel.data_info.text().startswith("paired"), timeout=TIMEOUT)
    assert panel.pairs.isVisibleTo(panel) and panel.pairs.failures.isVisibleTo(panel)
    assert panel.pairs.preview.thumbnails()[0].isVisibleTo(panel)
    qtbot.wait(50)  # one layout pass
    hint = panel.minimumSizeHint()
    assert hint.width() <= area.viewport().width(), (hint, area.viewport().size())
    assert not area.horizontalScrollBar().isVisible()
    if size == (1400, 900):
        assert hint.height() <= area.viewport().height(), (hint, area.viewport().size())
        assert not area.verticalScrollBar().isVisible()
    qtbot.waitUntil(lambda: not panel.pairs.running(), timeout=TIMEOUT)
