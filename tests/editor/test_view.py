"""Mapping between the editor's widget and the picture's pixels, at device-pixel ratios 1 and 2."""

from __future__ import annotations

import pytest

from snapask_desktop.editor.marks import box_between
from snapask_desktop.editor.view import ImageView


@pytest.mark.parametrize("dpr", [1.0, 2.0])
def test_a_picture_that_fits_is_shown_one_image_pixel_on_one_device_pixel(dpr):
    view = ImageView((400, 200), (600, 400), dpr)
    assert view.scale == 1 / dpr
    x, y, w, h = view.shown
    assert (w * dpr, h * dpr) == (400, 200)
    assert (x * dpr).is_integer() and (y * dpr).is_integer()  # on a device pixel


@pytest.mark.parametrize("dpr", [1.0, 2.0])
def test_a_drag_maps_to_the_image_pixels_under_it(dpr):
    view = ImageView((400, 200), (600, 400), dpr)
    ox, oy = view.origin
    a = view.to_image(ox + 10, oy + 5)
    b = view.to_image(ox + 30, oy + 25)
    assert box_between(a, b, view.image_size) == (
        round(10 * dpr),
        round(5 * dpr),
        round(30 * dpr),
        round(25 * dpr),
    )


@pytest.mark.parametrize("dpr", [1.0, 1.5, 2.0])
def test_to_widget_and_back_is_the_same_point_at_any_size(dpr):
    for area in [(600, 400), (130, 90), (50, 300)]:
        view = ImageView((1920, 1080), area, dpr)
        for point in [(0, 0), (1919, 1079), (640.5, 333.25)]:
            back = view.to_image(*view.to_widget(*point))
            assert back == pytest.approx(point)
        _x, _y, w, h = view.shown
        assert w <= area[0] + 1e-9 and h <= area[1] + 1e-9  # a big picture is shrunk to fit


def test_contains_is_the_picture_only():
    view = ImageView((100, 100), (300, 100), 1.0)
    assert view.origin == (100, 0)
    assert view.contains(100, 0) and view.contains(199.5, 99)
    assert not view.contains(99, 50) and not view.contains(200, 50)


def test_nonsense_sizes_are_refused():
    with pytest.raises(ValueError):
        ImageView((0, 10), (10, 10))
    with pytest.raises(ValueError):
        ImageView((10, 10), (10, 10), dpr=0)
