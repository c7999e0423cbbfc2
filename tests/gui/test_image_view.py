"""The image widgets: numpy → QImage conversion, the zoomable `ImageView`, `ViewSync` and the
before/after `CompareView`, checked on real photos and on what actually gets rendered."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from gui.qimage import to_pixmap, to_qimage
from gui.widgets.compare_view import CompareView
from gui.widgets.image_view import BACKGROUND, ImageView, ViewSync
from translator.metrics import PatchMap, verdict_heatmap

SIZE = (300, 240)  # viewport size of every test view (the view has no frame)


def make_view(qtbot: QtBot, rgb: np.ndarray | None, caption: str = "") -> ImageView:
    view = ImageView(caption=caption)
    qtbot.addWidget(view)
    view.resize(*SIZE)
    view.show()
    qtbot.waitExposed(view)
    view.set_image(rgb)
    return view


def wheel(view: ImageView, pos: QPointF, notches: int = 1) -> None:
    """A real wheel event, delivered to the viewport like the window system would."""
    vp = view.viewport()
    ev = QWheelEvent(pos, vp.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 120 * notches),
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(vp, ev)


def drag(view: ImageView, start: QPoint, *moves: QPoint) -> None:
    """Press the left button at `start`, move through `moves`, release: a hand-drag pan."""
    vp = view.viewport()
    left, none, mods = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier

    def send(kind: QEvent.Type, p: QPoint, button: Qt.MouseButton, buttons: Qt.MouseButton) -> None:
        QApplication.sendEvent(vp, QMouseEvent(kind, QPointF(p), QPointF(vp.mapToGlobal(p)), button, buttons, mods))

    send(QEvent.Type.MouseButtonPress, start, left, left)
    for p in moves:
        send(QEvent.Type.MouseMove, p, none, left)
    send(QEvent.Type.MouseButtonRelease, moves[-1] if moves else start, left, none)


def rgb_at(img: QImage, x: float, y: float) -> tuple[int, int, int]:
    c = img.pixelColor(int(x), int(y))
    return c.red(), c.green(), c.blue()


def norm_center(view: ImageView) -> tuple[float, float]:
    state = view.normalized_state()
    assert state is not None
    return state[1].x(), state[1].y()


def flat(h: int, w: int, colour: tuple[int, int, int]) -> np.ndarray:
    return np.broadcast_to(np.array(colour, np.uint8), (h, w, 3)).copy()


# ----- conversion ---------------------------------------------------------------------------
def test_to_qimage_round_trip_rgb(qapp: QApplication, photos: dict[str, np.ndarray]) -> None:
    rgb = photos["astronaut"].copy()
    img = to_qimage(rgb)
    expected = rgb.copy()
    rgb[:] = 0  # the QImage owns a copy; changing the array afterwards must not show through
    assert img.format() == QImage.Format.Format_RGB888
    assert (img.width(), img.height()) == (expected.shape[1], expected.shape[0])
    for y, x in [(0, 0), (100, 200), (511, 3), (257, 511), (400, 400)]:
        assert rgb_at(img, x, y) == tuple(expected[y, x])
    assert to_pixmap(expected).size() == img.size()


def test_to_qimage_round_trip_rgba_and_strided(photos: dict[str, np.ndarray]) -> None:
    rgb = photos["chelsea"]
    alpha = np.linspace(0, 255, rgb.shape[1], dtype=np.uint8)[None, :, None].repeat(rgb.shape[0], 0)
    rgba = np.concatenate([rgb, alpha], axis=2)[:, ::-1]  # a non-contiguous view
    img = to_qimage(rgba)
    assert img.format() == QImage.Format.Format_RGBA8888
    for y, x in [(0, 0), (150, 225), (299, 450), (10, 300)]:
        c = img.pixelColor(x, y)
        assert (c.red(), c.green(), c.blue(), c.alpha()) == tuple(rgba[y, x])


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 2), np.uint8), np.zeros((4,), np.uint8)])
def test_to_qimage_rejects_what_it_cannot_show(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="to_qimage"):
        to_qimage(bad)


# ----- ImageView ----------------------------------------------------------------------------
def test_first_image_is_fitted_and_wheel_zooms_about_the_cursor(qtbot: QtBot, photos: dict[str, np.ndarray]) -> None:
    view = make_view(qtbot, photos["astronaut"], "input")
    assert view.zoom() == pytest.approx(min(SIZE) / 512)  # whole 512² image in a 300×240 pane
    assert (view.center().x(), view.center().y()) == pytest.approx((256, 256), abs=1)

    with qtbot.waitSignal(view.viewChanged, timeout=1000) as fitted:
        view.fit()
    assert fitted.args[0] == pytest.approx(view.zoom())

    cursor = QPointF(80, 60)
    under = view.mapToScene(cursor.toPoint())
    before = view.zoom()
    with qtbot.waitSignal(view.viewChanged, timeout=1000) as zoomed:
        wheel(view, cursor, 2)
    assert view.zoom() == pytest.approx(before * 1.25**2)
    assert zoomed.args[0] == pytest.approx(view.zoom())
    after = view.mapToScene(cursor.toPoint())  # the point under the cursor stayed put
    assert (after.x(), after.y()) == pytest.approx((under.x(), under.y()), abs=1.5 / view.zoom() + 1)

    with qtbot.assertNotEmitted(view.viewChanged):  # programmatic changes are silent
        view.set_zoom(3.0)
        view.set_center(QPointF(100, 120))
    assert view.zoom() == pytest.approx(3.0)
    assert (view.center().x(), view.center().y()) == pytest.approx((100, 120), abs=1)

    with qtbot.waitSignal(view.viewChanged, timeout=1000):
        view.actual_size()
    assert view.zoom() == pytest.approx(1.0)


def test_pixels_stay_visible_when_zoomed_in(qtbot: QtBot, photos: dict[str, np.ndarray]) -> None:
    view = make_view(qtbot, photos["astronaut"])
    view.set_zoom(6.0)
    row = view.viewport().grab().toImage()
    colours = {rgb_at(row, x, 120) for x in range(60, 120)}
    assert len(colours) <= 60 // 6 + 2  # blocks of 6 identical screen pixels per image pixel


def test_drag_pans_and_emits_once_per_move(qtbot: QtBot, photos: dict[str, np.ndarray]) -> None:
    view = make_view(qtbot, photos["astronaut"])
    view.set_zoom(2.0)
    view.set_center(QPointF(256, 256))
    emitted: list[float] = []
    view.viewChanged.connect(lambda z, c: emitted.append(z))
    drag(view, QPoint(150, 120), QPoint(130, 110), QPoint(100, 100))
    assert len(emitted) == 2  # one per move, though both scroll bars moved
    assert (view.center().x(), view.center().y()) == pytest.approx((256 + 50 / 2, 256 + 20 / 2), abs=1)


def test_view_sync_follows_without_loops_or_storms(qtbot: QtBot, photos: dict[str, np.ndarray]) -> None:
    a, b, c = (make_view(qtbot, photos["astronaut"], name) for name in ("input", "output", "target"))
    sync = ViewSync()
    for v in (a, b, c):
        sync.add(v)
    counts = {id(v): 0 for v in (a, b, c)}
    for v in (a, b, c):
        v.viewChanged.connect(lambda z, p, v=v: counts.__setitem__(id(v), counts[id(v)] + 1))

    wheel(a, QPointF(70, 90), 3)
    drag(a, QPoint(150, 120), QPoint(170, 150))
    assert counts == {id(a): 2, id(b): 0, id(c): 0}  # followers are set silently: no echo
    for v in (b, c):
        assert v.zoom() == pytest.approx(a.zoom())
        assert norm_center(v) == pytest.approx(norm_center(a), abs=2 / (512 * a.zoom()))

    wheel(c, QPointF(200, 200), -1)  # any member can lead
    assert a.zoom() == pytest.approx(c.zoom()) and b.zoom() == pytest.approx(c.zoom())
    assert counts[id(c)] == 1 and counts[id(a)] == 2


def test_view_sync_uses_normalised_coordinates_across_sizes(qtbot: QtBot, photos: dict[str, np.ndarray]) -> None:
    a = make_view(qtbot, photos["astronaut"])  # 512 × 512
    b = make_view(qtbot, photos["chelsea"])  # 451 × 300
    late = make_view(qtbot, None)
    sync = ViewSync()
    for v in (a, b, late):
        sync.add(v)
    wheel(a, QPointF(220, 60), 4)
    drag(a, QPoint(100, 100), QPoint(140, 90))
    sa, sb = a.normalized_state(), b.normalized_state()
    assert sa is not None and sb is not None
    assert sb[0] == pytest.approx(sa[0])  # zoom relative to fit
    assert b.zoom() != pytest.approx(a.zoom())
    assert norm_center(b) == pytest.approx(norm_center(a), abs=0.01)

    late.set_image(photos["coffee"])  # a view that gets its image later joins the group's state
    sl = late.normalized_state()
    assert sl is not None and sl[0] == pytest.approx(sa[0])
    assert norm_center(late) == pytest.approx(norm_center(a), abs=0.01)


def test_overlay_toggle_changes_the_rendering(qtbot: QtBot, photos: dict[str, np.ndarray]) -> None:
    cat = photos["chelsea"]
    view = make_view(qtbot, cat, "output")
    view.set_overlay(flat(30, 45, (255, 0, 0)), 0.5)  # a coarse map, stretched to the image
    mid = (SIZE[0] / 2, SIZE[1] / 2)
    assert view.overlay_visible()
    on = rgb_at(view.viewport().grab().toImage(), *mid)
    view.set_overlay_visible(False)
    off = rgb_at(view.viewport().grab().toImage(), *mid)
    assert not view.overlay_visible()
    assert on[0] > off[0] + 30 and on[2] < off[2]  # half red over the cat
    assert on[0] == pytest.approx((off[0] + 255) / 2, abs=6)

    view.set_overlay_visible(True)
    view.set_image(cat)  # a new image drops the old map
    assert not view.overlay_visible()
    assert rgb_at(view.viewport().grab().toImage(), *mid) == off


@pytest.mark.parametrize("zoom", [None, 0.4, 3.0])
def test_a_uniform_heatmap_draws_uniform_to_every_edge(qtbot: QtBot, photos: dict[str, np.ndarray], zoom: float | None) -> None:
    """The preview's overlay (the output with its heat-map, opaque) covers the image exactly: no
    stripe of the picture underneath or of the background along any edge, at fit, zoomed out
    and zoomed in to the corner."""
    cat = photos["chelsea"]  # 451 × 300
    heat = verdict_heatmap(PatchMap(np.full((3, 3), 0.3, np.float32), (-4.5, -4.5), (8.0, 8.0), "vanilla"), (451, 300))
    colour = tuple(int(v) for v in heat[0, 0])
    view = make_view(qtbot, cat)
    view.set_overlay(heat, 1.0)
    if zoom is not None:
        view.set_zoom(zoom)
        view.set_center(QPointF(0, 0))  # the top-left corner at the middle: two edges in sight
    shot = view.viewport().grab().toImage()
    top_left = view.mapFromScene(QPointF(0, 0))
    bottom_right = view.mapFromScene(QPointF(451, 300))
    x0, y0 = max(0, top_left.x()), max(0, top_left.y())
    x1, y1 = min(shot.width(), bottom_right.x()), min(shot.height(), bottom_right.y())
    assert x1 - x0 > 20 and y1 - y0 > 20
    seen = np.array([[rgb_at(shot, x, y) for x in range(x0, x1)] for y in range(y0, y1)])
    assert np.abs(seen.astype(int) - colour).max() <= 1  # every image pixel on screen, edges included


def test_placeholder_without_an_image(qtbot: QtBot, photos: dict[str, np.ndarray]) -> None:
    view = make_view(qtbot, None, "output")
    view.set_placeholder("no output yet")
    assert not view.has_image() and view.image_size().isEmpty() and view.normalized_state() is None

    def text_pixels() -> int:
        img = view.viewport().grab().toImage()
        bg = (BACKGROUND.red(), BACKGROUND.green(), BACKGROUND.blue())
        return sum(rgb_at(img, x, y) != bg for x in range(60, 240, 2) for y in range(110, 130))

    assert text_pixels() > 20
    with qtbot.assertNotEmitted(view.viewChanged):
        view.fit()  # nothing to fit
    view.set_image(photos["astronaut"])
    assert view.has_image() and text_pixels() > 100  # now the photo fills the middle
    view.set_image(None)
    assert not view.has_image() and text_pixels() > 20


# ----- CompareView --------------------------------------------------------------------------
def make_compare(qtbot: QtBot, before: np.ndarray, after: np.ndarray) -> CompareView:
    view = CompareView()
    qtbot.addWidget(view)
    view.resize(400, 320)
    view.show()
    qtbot.waitExposed(view)
    view.set_images(before, after)
    return view


def test_wipe_shows_before_left_and_after_right(qtbot: QtBot) -> None:
    red, blue = (255, 0, 0), (0, 0, 255)
    view = make_compare(qtbot, flat(60, 80, red), flat(120, 160, blue))  # before is stretched
    with qtbot.waitSignal(view.positionChanged, timeout=1000) as moved:
        view.set_position(0.25)
    assert moved.args == [0.25] and view.position() == 0.25 and view.slider.value() == 25

    r = view.canvas.image_rect()
    assert r.width() / r.height() == pytest.approx(160 / 120)
    img = view.canvas.grab().toImage()
    y = r.center().y()
    for f in (0.02, 0.12, 0.22):
        assert rgb_at(img, r.left() + f * r.width(), y) == red
    for f in (0.28, 0.6, 0.98):
        assert rgb_at(img, r.left() + f * r.width(), y) == blue

    with qtbot.waitSignal(view.positionChanged, timeout=1000) as moved:
        view.slider.setValue(70)
    assert view.position() == pytest.approx(0.7) and moved.args[0] == pytest.approx(0.7)
    with qtbot.assertNotEmitted(view.positionChanged):
        view.set_position(0.7)  # no change, no signal
    view.set_position(2.0)
    assert view.position() == 1.0 and view.slider.value() == 100


def test_dragging_the_divider(qtbot: QtBot) -> None:
    view = make_compare(qtbot, flat(50, 50, (0, 255, 0)), flat(50, 50, (255, 255, 0)))
    r = view.canvas.image_rect()
    with qtbot.waitSignal(view.positionChanged, timeout=1000) as moved:
        qtbot.mousePress(view.canvas, Qt.MouseButton.LeftButton, pos=QPoint(int(r.left() + 0.4 * r.width()), int(r.center().y())))
    assert moved.args[0] == pytest.approx(0.4, abs=0.01)
    assert view.slider.value() == 40


def test_wipe_smoke_on_a_real_photo_pair(qtbot: QtBot, photos: dict[str, np.ndarray]) -> None:
    before = photos["chelsea"]
    after = 255 - before  # a "translation" that is easy to tell apart
    view = make_compare(qtbot, before, after)
    view.set_position(0.5)
    r = view.canvas.image_rect()
    shot = view.canvas.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(shot.constBits(), np.uint8).reshape(shot.height(), shot.bytesPerLine())
    pixels = rows[:, : shot.width() * 3].reshape(shot.height(), shot.width(), 3)
    top, bottom = int(r.top()) + 2, int(r.bottom()) - 2
    x0, x1, xm = int(r.left()) + 2, int(r.right()) - 2, int(r.center().x())
    left_shown = pixels[top:bottom, x0 : xm - 4].reshape(-1, 3).mean(0)
    right_shown = pixels[top:bottom, xm + 4 : x1].reshape(-1, 3).mean(0)
    w = before.shape[1]
    assert left_shown == pytest.approx(before[:, : w // 2].reshape(-1, 3).mean(0), abs=8)
    assert right_shown == pytest.approx(after[:, w // 2 :].reshape(-1, 3).mean(0), abs=8)

    view.set_images(None, None)
    assert view.canvas.image_rect().isEmpty()
