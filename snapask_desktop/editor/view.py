"""Where the picture sits in the editor and how widget points map to image pixels (pure).

A picture is shown at most at its natural size, one image pixel on one device pixel (a capture
on a 2x screen has twice the pixels of its logical size), smaller when the editor is smaller,
centred, with its corner on a device pixel so that the pixels line up exactly. Widget
coordinates are Qt's logical ones (they may have fractions at a ratio of 2).
"""

from __future__ import annotations

from dataclasses import dataclass

from snapask_desktop.editor.marks import Rect


@dataclass(frozen=True)
class ImageView:
    """A picture of `image_size` pixels shown in an area of `area_size` logical pixels on a
    screen with device-pixel ratio `dpr`."""

    image_size: tuple[int, int]
    area_size: tuple[float, float]
    dpr: float = 1.0

    def __post_init__(self) -> None:
        if self.image_size[0] <= 0 or self.image_size[1] <= 0:
            raise ValueError(f"a picture needs pixels, not {self.image_size}")
        if self.dpr <= 0:
            raise ValueError(f"a device-pixel ratio must be positive, not {self.dpr}")

    @property
    def scale(self) -> float:
        """Logical pixels per image pixel."""
        width, height = self.image_size
        area_w, area_h = self.area_size
        return max(1e-6, min(1.0 / self.dpr, area_w / width, area_h / height))

    @property
    def origin(self) -> tuple[float, float]:
        """The picture's top-left corner in the widget, on a device pixel."""
        width, height = self.image_size
        left = (self.area_size[0] - width * self.scale) / 2
        top = (self.area_size[1] - height * self.scale) / 2
        return (
            max(0.0, round(left * self.dpr) / self.dpr),
            max(0.0, round(top * self.dpr) / self.dpr),
        )

    @property
    def shown(self) -> tuple[float, float, float, float]:
        """Where the picture is drawn: x, y, width, height in logical pixels."""
        x, y = self.origin
        return x, y, self.image_size[0] * self.scale, self.image_size[1] * self.scale

    def to_image(self, x: float, y: float) -> tuple[float, float]:
        """A widget point in image pixels (not clipped: a drag may leave the picture)."""
        ox, oy = self.origin
        return (x - ox) / self.scale, (y - oy) / self.scale

    def to_widget(self, x: float, y: float) -> tuple[float, float]:
        """An image point in widget (logical) pixels."""
        ox, oy = self.origin
        return ox + x * self.scale, oy + y * self.scale

    def rect_to_widget(self, box: Rect) -> tuple[float, float, float, float]:
        """An image box as x, y, width, height in widget pixels."""
        left, top = self.to_widget(box[0], box[1])
        right, bottom = self.to_widget(box[2], box[3])
        return left, top, right - left, bottom - top

    def contains(self, x: float, y: float) -> bool:
        """Whether a widget point lies on the picture."""
        ix, iy = self.to_image(x, y)
        return 0 <= ix < self.image_size[0] and 0 <= iy < self.image_size[1]
