"""Screen geometry: physical pixels (what a grab holds) vs Qt's logical coordinates.

Physical space is the pixel grid of the grabbed picture placed on the desktop: on X11
and Windows it is the desktop's own device-pixel space (mss reports it, offsets may be
negative); where the desktop counts in points (macOS, Wayland portals) it is those
points times the grab's `pixel_ratio`. Logical space is what Qt gives widgets and
mouse events: every screen has a logical rect and a device pixel ratio, and Qt keeps a
screen's top-left corner at its native position, so mixed-DPI layouts can show gaps or
overlaps in logical space. Within one monitor the mapping is affine:

    physical = monitor.physical.origin + (logical - monitor.logical.origin) * scale

Pure: no Qt, no mss.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# A press and release closer than this (in physical pixels, either side) is a click,
# not a selection: a 3x3 px picture is never what someone meant to ask about.
MIN_SELECTION_PX = 4
# Physical sizes reported by the backend and computed from Qt may differ by rounding.
_SIZE_TOLERANCE_PX = 2


@dataclass(frozen=True)
class Point:
    """A pixel position (integers), physical unless said otherwise."""

    x: int
    y: int


@dataclass(frozen=True)
class PointF:
    """A continuous position: logical coordinates, or physical before snapping."""

    x: float
    y: float


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle of whole pixels, half-open: [x, x+width) x [y, y+height)."""

    x: int
    y: int
    width: int
    height: int

    def __post_init__(self) -> None:
        for name in ("x", "y", "width", "height"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"Rect.{name} must be an int, got {value!r}")
        if self.width < 0 or self.height < 0:
            raise ValueError(f"Rect size must not be negative: {self.width}x{self.height}")

    @classmethod
    def from_corners(cls, left: int, top: int, right: int, bottom: int) -> Rect:
        """The rectangle between two corners given in any order."""
        return cls(min(left, right), min(top, bottom), abs(right - left), abs(bottom - top))

    @property
    def right(self) -> int:
        """First column past the rectangle."""
        return self.x + self.width

    @property
    def bottom(self) -> int:
        """First row past the rectangle."""
        return self.y + self.height

    @property
    def is_empty(self) -> bool:
        """True when the rectangle holds no pixel."""
        return self.width == 0 or self.height == 0

    def contains(self, point: Point | PointF) -> bool:
        """Whether a position lies inside (left/top edges in, right/bottom edges out)."""
        return self.x <= point.x < self.right and self.y <= point.y < self.bottom

    def contains_rect(self, other: Rect) -> bool:
        """Whether every pixel of `other` lies inside this rectangle."""
        return (
            self.x <= other.x
            and self.y <= other.y
            and other.right <= self.right
            and other.bottom <= self.bottom
        )

    def intersected(self, other: Rect) -> Rect | None:
        """The common part, or None when they do not overlap."""
        left, top = max(self.x, other.x), max(self.y, other.y)
        right, bottom = min(self.right, other.right), min(self.bottom, other.bottom)
        if right <= left or bottom <= top:
            return None
        return Rect(left, top, right - left, bottom - top)

    def translated(self, dx: int, dy: int) -> Rect:
        """The same rectangle moved by (dx, dy)."""
        return Rect(self.x + dx, self.y + dy, self.width, self.height)

    def moved_inside(self, bounds: Rect) -> Rect:
        """The same size moved the least distance so it lies inside `bounds` (shrunk if larger)."""
        width, height = min(self.width, bounds.width), min(self.height, bounds.height)
        x = min(max(self.x, bounds.x), bounds.right - width)
        y = min(max(self.y, bounds.y), bounds.bottom - height)
        return Rect(x, y, width, height)

    def distance_to(self, point: PointF) -> float:
        """Euclidean distance from a position to the rectangle (0 inside)."""
        dx = max(self.x - point.x, 0.0, point.x - self.right)
        dy = max(self.y - point.y, 0.0, point.y - self.bottom)
        return math.hypot(dx, dy)


def bounding_rect(rects: Iterable[Rect]) -> Rect:
    """The smallest rectangle holding all of `rects` (ValueError when there are none)."""
    items = list(rects)
    if not items:
        raise ValueError("no rectangles to bound")
    left = min(r.x for r in items)
    top = min(r.y for r in items)
    right = max(r.right for r in items)
    bottom = max(r.bottom for r in items)
    return Rect(left, top, right - left, bottom - top)


@dataclass(frozen=True)
class ScreenInfo:
    """What Qt says about one screen: name, logical geometry, device pixel ratio."""

    name: str
    logical: Rect
    device_pixel_ratio: float

    def __post_init__(self) -> None:
        if not self.device_pixel_ratio > 0:
            raise ValueError(f"device pixel ratio must be positive: {self.device_pixel_ratio}")
        if self.logical.is_empty:
            raise ValueError(f"screen {self.name!r} has an empty geometry")


@dataclass(frozen=True)
class Monitor:
    """One screen in both spaces; `scale` is physical pixels per logical unit."""

    name: str
    logical: Rect
    physical: Rect
    scale: float

    def to_physical(self, point: PointF) -> PointF:
        """Map a logical position through this monitor (extrapolates outside it)."""
        return PointF(
            self.physical.x + (point.x - self.logical.x) * self.scale,
            self.physical.y + (point.y - self.logical.y) * self.scale,
        )

    def to_logical(self, point: PointF | Point) -> PointF:
        """Map a physical position through this monitor (extrapolates outside it)."""
        return PointF(
            self.logical.x + (point.x - self.physical.x) / self.scale,
            self.logical.y + (point.y - self.physical.y) / self.scale,
        )

    def rect_to_logical(self, rect: Rect) -> tuple[float, float, float, float]:
        """A physical rectangle as logical (x, y, width, height) relative to this monitor."""
        top_left = self.to_logical(Point(rect.x, rect.y))
        return (top_left.x, top_left.y, rect.width / self.scale, rect.height / self.scale)


def snap(point: PointF) -> Point:
    """The pixel boundary nearest to a continuous physical position."""
    return Point(math.floor(point.x + 0.5), math.floor(point.y + 0.5))


@dataclass(frozen=True)
class ScreenLayout:
    """All monitors of the desktop and the physical rectangle a grab of them covers."""

    monitors: tuple[Monitor, ...]
    virtual: Rect

    def __post_init__(self) -> None:
        if not self.monitors:
            raise ValueError("a screen layout needs at least one monitor")

    def monitor_at(self, point: PointF) -> Monitor:
        """The monitor holding a logical position, else the nearest one."""
        for monitor in self.monitors:
            if monitor.logical.contains(point):
                return monitor
        return min(self.monitors, key=lambda m: m.logical.distance_to(point))

    def monitor_at_physical(self, point: Point | PointF) -> Monitor:
        """The monitor holding a physical position, else the nearest one."""
        spot = PointF(float(point.x), float(point.y))
        for monitor in self.monitors:
            if monitor.physical.contains(spot):
                return monitor
        return min(self.monitors, key=lambda m: m.physical.distance_to(spot))

    def to_physical(self, point: PointF) -> PointF:
        """A logical position in physical space, through the monitor under it."""
        return self.monitor_at(point).to_physical(point)

    def to_logical(self, point: Point | PointF) -> PointF:
        """A physical position in logical space, through the monitor under it."""
        return self.monitor_at_physical(point).to_logical(point)

    def clamp(self, point: Point) -> Point:
        """A physical pixel boundary pulled inside the virtual screen (edges included)."""
        return Point(
            min(max(point.x, self.virtual.x), self.virtual.right),
            min(max(point.y, self.virtual.y), self.virtual.bottom),
        )

    def snap_logical(self, point: PointF) -> Point:
        """The physical pixel boundary nearest to a logical position, inside the screen."""
        return self.clamp(snap(self.to_physical(point)))

    def selection_to_physical(
        self, start: PointF, end: PointF, min_size: int = MIN_SELECTION_PX
    ) -> Rect | None:
        """The physical rect dragged from `start` to `end` (logical), or None for a click.

        Each corner goes through the monitor under it, so a drag across monitors of
        different scale still starts and ends on the pixels that were under the pointer.
        """
        a, b = self.snap_logical(start), self.snap_logical(end)
        rect = Rect.from_corners(a.x, a.y, b.x, b.y)
        return rect if is_selection(rect, min_size) else None


def is_selection(rect: Rect, min_size: int = MIN_SELECTION_PX) -> bool:
    """Whether a dragged rectangle is big enough to count as a selection."""
    return rect.width >= min_size and rect.height >= min_size


def crop_box(rect: Rect, image: Rect) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of `rect` inside a picture covering `image`, clamped.

    Both rectangles are in physical desktop coordinates; the box is relative to the
    picture's top-left pixel (Pillow's crop convention). None when nothing overlaps.
    """
    part = rect.intersected(image)
    if part is None:
        return None
    left, top = part.x - image.x, part.y - image.y
    return (left, top, left + part.width, top + part.height)


@dataclass(frozen=True)
class UniformScale:
    """Where a picture of the whole desktop at one scale puts the desktop's monitors."""

    pixel_ratio: float
    origin: Point
    monitors: tuple[Rect, ...]


def uniform_scale(logical: Sequence[Rect], width: int, height: int) -> UniformScale | None:
    """Fit a `width` x `height` picture of the whole desktop to the screens' logical rects.

    For pictures that come without a monitor list (the Wayland portal): exact for one
    screen or screens of one scale; None when the picture's aspect does not match.
    """
    if not logical or width <= 0 or height <= 0:
        return None
    virtual = bounding_rect(logical)
    ratio_x, ratio_y = width / virtual.width, height / virtual.height
    if abs(ratio_x - ratio_y) > 0.01 * max(ratio_x, ratio_y):
        return None
    monitors = tuple(
        Rect(
            round(r.x * ratio_x),
            round(r.y * ratio_x),
            round(r.width * ratio_x),
            round(r.height * ratio_x),
        )
        for r in logical
    )
    return UniformScale(
        ratio_x, Point(round(virtual.x * ratio_x), round(virtual.y * ratio_x)), monitors
    )


def build_layout(
    screens: Sequence[ScreenInfo], monitors: Sequence[Rect], pixel_ratio: float = 1.0
) -> ScreenLayout:
    """Pair Qt's screens with the physical monitor rects a grab reported.

    `pixel_ratio` is physical pixels per native desktop unit (1.0 on X11 and Windows,
    where the native unit is the device pixel). A screen is paired with the monitor at
    its origin (Qt keeps native origins); when none fits (the backend sees monitors Qt
    does not, or no monitor list at all) its physical rect is computed from Qt's data.
    """
    if not screens:
        raise ValueError("no screens")
    if not pixel_ratio > 0:
        raise ValueError(f"pixel ratio must be positive: {pixel_ratio}")
    paired = tuple(_pair(screen, monitors, pixel_ratio) for screen in screens)
    virtual = bounding_rect([*monitors, *(m.physical for m in paired)])
    return ScreenLayout(paired, virtual)


def _pair(screen: ScreenInfo, monitors: Sequence[Rect], pixel_ratio: float) -> Monitor:
    logical = screen.logical
    # Native desktop units per logical unit: Qt's own ratio where it scales a
    # pixel-based desktop, 1 where the desktop itself counts in points (macOS, Wayland).
    scale = screen.device_pixel_ratio if pixel_ratio == 1.0 else pixel_ratio
    origin_x, origin_y = round(logical.x * pixel_ratio), round(logical.y * pixel_ratio)
    width, height = round(logical.width * scale), round(logical.height * scale)
    for rect in monitors:
        if (rect.x, rect.y) == (origin_x, origin_y) and _close(rect, width, height):
            # Qt maps events with its own ratio, so keep it; the rect is the exact one.
            return Monitor(screen.name, logical, rect, scale)
    return Monitor(screen.name, logical, Rect(origin_x, origin_y, width, height), scale)


def _close(rect: Rect, width: int, height: int) -> bool:
    return (
        abs(rect.width - width) <= _SIZE_TOLERANCE_PX
        and abs(rect.height - height) <= _SIZE_TOLERANCE_PX
    )
