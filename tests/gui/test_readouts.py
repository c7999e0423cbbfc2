"""The readouts beside the preview: plain words with the technical names in tooltips, the reason
when there is no figure, nothing clipped in a narrow panel, and a heat-map legend drawn from
the overlay's own colour scale. Comparisons are real ones: tiny models on real photos."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6.QtCore import QRect, Qt  # noqa: E402
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QVBoxLayout, QWidget  # noqa: E402
from pytestqt.qtbot import QtBot  # noqa: E402

from gui.widgets.readouts import Readouts  # noqa: E402
from translator.checkpoint import ModelCard, build_model, save_model  # noqa: E402
from translator.evaluation import Comparison, compare_image  # noqa: E402
from translator.inference import load_translator  # noqa: E402
from translator.metrics import heat_colours  # noqa: E402
from translator.networks import GeneratorSpec  # noqa: E402

PANEL = 260  # about the width the preview gives its side column


@pytest.fixture()
def files(tmp_path: Path, photos: dict[str, np.ndarray]) -> dict[str, Path]:
    sizes = {"cat": ("chelsea", (90, 60)), "coffee": ("coffee", (90, 60)), "tiny": ("astronaut", (20, 20))}
    out = {}
    for name, (photo, size) in sizes.items():
        out[name] = tmp_path / f"{name}.png"
        Image.fromarray(photos[photo]).resize(size).save(out[name])
    return out


@pytest.fixture()
def compared(tiny_pix2pix: Path, files: dict[str, Path]) -> Comparison:
    return compare_image(load_translator(tiny_pix2pix), files["cat"], files["coffee"])


@pytest.fixture()
def make_readouts(qtbot: QtBot) -> Iterator[Callable[..., Readouts]]:
    """Readouts at the top of a side column `width` px wide and 700 tall, as the preview lays
    them out, shown so that layouts and rendering are real."""
    columns: list[QWidget] = []  # kept alive for the test

    def make(width: int = PANEL) -> Readouts:
        column = QWidget()
        qtbot.addWidget(column)
        readouts = Readouts()
        layout = QVBoxLayout(column)
        layout.addWidget(readouts)
        layout.addStretch(1)
        column.setFixedSize(width, 700)
        column.show()
        qtbot.waitExposed(column)
        columns.append(column)
        return readouts

    yield make
    columns.clear()


def test_figures_read_in_plain_words_with_the_technical_names_in_tooltips(make_readouts: Callable[..., Readouts], compared: Comparison) -> None:
    r = make_readouts()
    r.show_comparison(compared)
    assert compared.psnr is not None and compared.ssim is not None
    assert compared.verdict_output is not None and compared.verdict_target is not None
    assert r.psnr.text() == f"{compared.psnr:.1f} dB"
    assert r.ssim.text() == f"{compared.ssim:.3f}"
    assert r.realness.text() == (f"{compared.verdict_output.mean_realness:.2f} "
                                 f"(target {compared.verdict_target.mean_realness:.2f})")
    captions = {label.text(): label for label in r.findChildren(QLabel)}
    for caption, technical in (("Match to target", "PSNR"), ("Structure match", "SSIM"), ("How real it looks", "discriminator")):
        assert technical in captions[caption].toolTip()
    assert "PSNR" in r.psnr.toolTip() and "SSIM" in r.ssim.toolTip() and "0 (looks fake)" in r.realness.toolTip()
    assert r.heatmap.isEnabled()

    same = Comparison(compared.input, compared.output, compared.output, float("inf"), 1.0)
    r.show_comparison(same)
    assert r.psnr.text() == "identical" and r.ssim.text() == "1.000"
    assert r.realness.text() == "no verdict" and not r.heatmap.isEnabled()


def test_no_verdict_says_why(make_readouts: Callable[..., Readouts], tiny_pix2pix: Path, files: dict[str, Path], tmp_path: Path) -> None:
    r = make_readouts()
    r.show_comparison(compare_image(load_translator(tiny_pix2pix), files["tiny"]))
    assert r.realness.text() == "the image is 20×20; this model's discriminator needs at least 24 px a side"
    assert r.psnr.text() == "no target image" and not r.heatmap.isEnabled()
    model = save_model(build_model(ModelCard("g", "pix2pix", {"g": GeneratorSpec("unet_32", 4)})), tmp_path / "g.safetensors")
    r.show_comparison(compare_image(load_translator(model), files["cat"]))
    assert r.realness.text() == "this model has no discriminator"


def test_a_failed_file_blanks_every_figure_and_says_what_failed(make_readouts: Callable[..., Readouts], compared: Comparison) -> None:
    r = make_readouts()
    r.show_comparison(compared)
    r.show_second(compared, "other model")
    r.heatmap.setChecked(True)
    assert r.legend.isVisible()
    message = "/photos/broken.png: not an image file (it looks like an HTML web page); re-download it"
    r.show_failed(message)
    assert [label.text() for label in (r.psnr, r.ssim, r.realness)] == ["–", "–", "–"]
    assert r.second.text() == ""
    assert r.failure.isVisible() and r.failure.text() == message
    assert not r.heatmap.isEnabled() and not r.legend.isVisible()
    shown = [w.text() for w in r.findChildren(QLabel) if w.isVisible()]
    assert not any(ch.isdigit() for text in shown if text != message for ch in text)  # no stale number anywhere
    r.show_comparison(compared)  # the next good image replaces the failure
    assert not r.failure.isVisible() and r.psnr.text().endswith(" dB") and r.legend.isVisible()


def test_second_model_in_plain_words(make_readouts: Callable[..., Readouts], compared: Comparison) -> None:
    r = make_readouts()
    assert compared.psnr is not None and compared.ssim is not None
    r.show_second(compared, "night <v2>")
    assert r.second.text() == f"<b>night &lt;v2&gt;</b>: match to target {compared.psnr:.1f} dB, structure {compared.ssim:.3f}"
    r.show_second(None, "")
    assert r.second.text() == ""


def test_the_legend_shows_with_the_heatmap_and_uses_its_colours(qtbot: QtBot, make_readouts: Callable[..., Readouts], compared: Comparison,
                                                              tiny_cyclegan: Path, files: dict[str, Path]) -> None:
    r = make_readouts()
    r.show_comparison(compared)
    assert not r.legend.isVisible()
    with qtbot.waitSignal(r.heatmapToggled, timeout=1000) as toggled:
        r.heatmap.setChecked(True)
    assert toggled.args == [True] and r.legend.isVisible()
    assert (r.legend.low.text(), r.legend.high.text()) == ("looks fake", "looks real")
    bar = r.legend.bar.grab().toImage()
    assert bar.width() == r.legend.bar.width() > 100
    y = bar.height() // 2

    def colour(x: int) -> list[int]:
        c = bar.pixelColor(x, y)
        return [c.red(), c.green(), c.blue()]

    assert colour(0) == heat_colours(np.float64(0.0)).tolist()  # the overlay's "fake" end…
    assert colour(bar.width() - 1) == heat_colours(np.float64(1.0)).tolist()  # …and its "real" end
    np.testing.assert_allclose(colour((bar.width() - 1) // 2), heat_colours(np.float64(0.5)), atol=2)
    # a discriminator scored without a fixed range: the legend says the scale is this image's own
    r.show_comparison(compare_image(load_translator(tiny_cyclegan), files["cat"]))
    assert (r.legend.low.text(), r.legend.high.text()) == ("least real here", "most real here")
    assert "lsgan" in r.realness.toolTip()
    r.heatmap.setChecked(False)
    assert not r.legend.isVisible()


def _texts_fit(root: QWidget) -> list[str]:
    """Every shown label or check box whose text does not fit the room it was given, once the
    layouts have settled (they re-lay themselves out from the event loop after a text changes)."""
    for _ in range(3):
        QApplication.processEvents()
    cut = []
    for w in root.findChildren(QWidget):
        if not w.isVisible() or not isinstance(w, QLabel | QAbstractButton) or not w.text():
            continue
        inside = QRect(w.mapTo(root, w.rect().topLeft()), w.size())
        if not root.rect().contains(inside):
            cut.append(f"{w.text()!r} sticks out of the panel")
        if isinstance(w, QLabel) and w.wordWrap():
            text = w.text() if w.textFormat() != Qt.TextFormat.RichText else w.text().replace("<b>", "").replace("</b>", "")
            room = w.contentsRect()
            need = w.fontMetrics().boundingRect(QRect(0, 0, room.width(), 10_000), Qt.TextFlag.TextWordWrap, text)
            if need.height() > room.height() or need.width() > room.width():
                cut.append(f"{w.text()!r} needs {need.width()}×{need.height()}, has {room.width()}×{room.height()}")
        elif w.width() < w.sizeHint().width():
            cut.append(f"{w.text()!r} is {w.width()} px wide, needs {w.sizeHint().width()}")
    return cut


@pytest.mark.parametrize("width", [PANEL, 200])
def test_nothing_is_clipped_in_a_narrow_panel(qtbot: QtBot, make_readouts: Callable[..., Readouts], compared: Comparison, width: int) -> None:
    r = make_readouts(width)
    r.show_comparison(compared)
    r.show_second(compared, "a compared model with a rather long name")
    r.heatmap.setChecked(True)
    qtbot.waitUntil(lambda: r.legend.isVisible(), timeout=1000)
    assert _texts_fit(r.window()) == []
    long_note = Comparison(compared.input, compared.output,
                           verdict_note="the image is 20×20; this model's discriminator needs at least 24 px a side")
    r.show_comparison(long_note)
    assert _texts_fit(r.window()) == []
    r.show_failed("/home/someone/photos/holiday/broken_file_name.png: not an image file; re-save it as PNG or JPEG")
    assert _texts_fit(r.window()) == []
    # rendered: no text runs into the panel's right edge (the last columns are plain background)
    shot = r.window().grab().toImage()
    edge = {shot.pixel(x, y) for x in range(shot.width() - 3, shot.width()) for y in range(shot.height())}
    assert len(edge) == 1
