"""Against a real X server (Xvfb): mss grabs the known pattern exactly, the overlay shows it
frozen and returns the dragged region, and global hotkeys fire on xdotool key presses."""

from __future__ import annotations

import io
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from snapask_desktop.capture.backends import choose_backend
from snapask_desktop.capture.backends.mss_backend import MssBackend
from snapask_desktop.capture.geometry import Rect
from snapask_desktop.capture.grab import crop, encode_png, to_pil
from snapask_desktop.capture.session import detect_session
from tests.capture.support.pattern import pattern_image, pattern_rgb
from tests.capture.support.proc import Child
from tests.capture.support.xserver import Xvfb, xvfb

SUPPORT = Path(__file__).parent / "support"


def backend_for(server: Xvfb) -> MssBackend:
    return MssBackend(display=server.name, session=detect_session(server.env))


def xdotool(server: Xvfb, *args: str) -> None:
    subprocess.run(["xdotool", *args], env={"DISPLAY": server.name}, check=True, timeout=10)


def test_mss_grabs_exactly_the_pixels_on_screen(x_screen: Xvfb) -> None:
    backend = backend_for(x_screen)
    assert backend.available() == (True, "")
    grab = backend.grab()
    assert (grab.rect, grab.monitors, grab.pixel_ratio) == (
        Rect(0, 0, 1920, 1080),
        (Rect(0, 0, 1920, 1080),),
        1.0,
    )
    assert to_pil(grab).tobytes() == pattern_image(grab.rect).tobytes()
    backend.close()


def test_crop_and_png_of_a_real_grab_hold_the_selected_pixels(x_screen: Xvfb) -> None:
    backend = backend_for(x_screen)
    region = Rect(333, 257, 421, 300)
    part = crop(backend.grab(), region)
    with Image.open(io.BytesIO(encode_png(part))) as image:
        assert image.size == (421, 300)
        assert image.tobytes() == pattern_image(region).tobytes()
    direct = backend.grab(region)
    assert to_pil(direct).tobytes() == pattern_image(region).tobytes()
    backend.close()


def test_the_handle_is_reused_and_refresh_reopens_it(x_screen: Xvfb) -> None:
    backend = backend_for(x_screen)
    first = backend._handle()
    backend.grab(Rect(0, 0, 8, 8))
    assert backend._handle() is first
    backend.refresh()
    assert backend._handle() is not first
    assert (
        to_pil(backend.grab(Rect(5, 5, 8, 8))).tobytes()
        == pattern_image(Rect(5, 5, 8, 8)).tobytes()
    )
    backend.close()


def test_each_thread_gets_its_own_handle(x_screen: Xvfb) -> None:
    import threading

    backend = backend_for(x_screen)
    handles = []
    worker = threading.Thread(target=lambda: handles.append(backend._handle()))
    worker.start()
    worker.join(10)
    assert handles and handles[0] is not backend._handle()
    backend.close()


def test_randr_monitors_are_seen_and_a_grab_spans_them(x_two_monitors: Xvfb) -> None:
    backend = backend_for(x_two_monitors)
    assert backend.monitors() == (Rect(0, 0, 1920, 1080), Rect(1920, 0, 1280, 1280))
    grab = backend.grab()
    assert grab.rect == Rect(0, 0, 3200, 1280)
    across = Rect(1800, 1000, 300, 200)  # from LEFT into RIGHT, below LEFT's bottom edge
    assert to_pil(crop(grab, across)).tobytes() == pattern_image(across).tobytes()
    right = backend.grab(Rect(1920, 0, 1280, 1280))
    assert to_pil(right).tobytes() == pattern_image(Rect(1920, 0, 1280, 1280)).tobytes()
    backend.close()


def test_choose_backend_picks_mss_on_x11(x_screen: Xvfb, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", x_screen.name)
    monkeypatch.setenv("XDG_SESSION_TYPE", "x11")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    choice = choose_backend()
    assert choice.backend is not None and choice.backend.name == "mss"
    assert choice.explain() == "Screenshots are taken with mss."
    choice.backend.close()


def looks_dimmed(rgb: tuple[int, int, int], x: int, y: int) -> bool:
    """Whether a screen pixel shows pattern pixel (x, y) under the overlay's dimming."""
    return all(
        abs(got - want * 145 / 255) <= 2 for got, want in zip(rgb, pattern_rgb(x, y), strict=True)
    )


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def dimmed(image: Image.Image) -> Image.Image:
    """The pattern as the overlay shows it outside a selection: black at alpha 110."""
    return Image.blend(image, Image.new("RGB", image.size), 110 / 255)


@pytest.fixture
def overlay_probe(x_screen: Xvfb, tmp_path: Path):
    child = Child(
        [str(SUPPORT / "overlay_probe.py"), str(tmp_path), "3"],
        {**x_screen.env, "QT_QPA_PLATFORM": "xcb"},
    )
    yield child
    child.stop()


def test_overlay_freezes_the_screen_and_returns_the_dragged_region(
    x_screen: Xvfb, overlay_probe: Child, tmp_path: Path
) -> None:
    overlay_probe.wait_for("ready")
    # The overlay covers the screen with the frozen, dimmed picture at 1:1.
    shown = to_pil(backend_for(x_screen).grab(Rect(0, 600, 1920, 480)))
    diff = ImageChops.difference(shown, dimmed(pattern_image(Rect(0, 600, 1920, 480))))
    assert max(high for _low, high in diff.getextrema()) <= 2

    screen = backend_for(x_screen)

    def shown_at(x: int, y: int) -> tuple[int, int, int]:
        return screen.grab(Rect(x, y, 1, 1)).rgb_at(0, 0)

    xdotool(x_screen, "mousemove", "100", "200", "mousedown", "1")
    xdotool(x_screen, "mousemove", "300", "300", "mousemove", "700", "600")
    wait_until(lambda: shown_at(650, 550) == pattern_rgb(650, 550))  # inside: not dimmed
    # Shrinking the selection repaints what it left: dimmed again.
    xdotool(x_screen, "mousemove", "500", "450", "mouseup", "1")
    wait_until(lambda: looks_dimmed(shown_at(650, 550), 650, 550))
    assert shown_at(300, 300) == pattern_rgb(300, 300)
    xdotool(x_screen, "key", "Right", "Right", "shift+Down", "Return")
    assert overlay_probe.wait_for("selected") == "selected 102 210 400 250"
    with Image.open(tmp_path / "round-1.png") as saved:
        assert saved.tobytes() == pattern_image(Rect(102, 210, 400, 250)).tobytes()

    # The same windows come back for the next capture: Enter alone takes the screen.
    overlay_probe.wait_for("ready")
    xdotool(x_screen, "key", "Return")
    assert overlay_probe.wait_for("selected") == "selected 0 0 1920 1080"

    overlay_probe.wait_for("ready")
    xdotool(x_screen, "mousemove", "700", "700", "click", "3")
    assert overlay_probe.next_line() == "cancelled"


def test_global_hotkeys_fire_on_key_presses_in_other_windows(x_screen: Xvfb) -> None:
    probe = Child(
        [str(SUPPORT / "hotkey_probe.py")],
        {**x_screen.env, "PYNPUT_BACKEND": "xorg", "QT_QPA_PLATFORM": "offscreen"},
    )
    try:
        probe.wait_for("ready")
        # Not ours: extra Shift, AltGr, missing Ctrl. pynput reports keys in order, so the
        # next line proves none of these fired.
        xdotool(x_screen, "key", "ctrl+alt+shift+s", "ctrl+ISO_Level3_Shift+s", "alt+s")
        xdotool(x_screen, "key", "ctrl+alt+w")
        assert probe.next_line() == "triggered capture_full"
        xdotool(x_screen, "key", "ctrl+alt+s", "ctrl+alt+r")
        assert probe.next_line() == "triggered capture_region"
        assert probe.next_line() == "triggered reopen_last"
        probe.send("stop")
        assert probe.next_line() == "stopped running=False"
    finally:
        probe.stop()


@pytest.mark.parametrize(
    "typing",
    [
        ["type", "--delay", "5", "why?"],  # xdotool presses Shift, /, releases Shift, then /
        ["keydown", "shift", "keydown", "slash", "keyup", "shift", "keyup", "slash"],
        ["keydown", "shift", "keydown", "9", "keyup", "shift", "keyup", "9"],  # "(" then "9"
        ["keydown", "shift", "keydown", "semicolon", "keyup", "shift", "keyup", "semicolon"],
    ],
    ids=["why?", "?", "(", ":"],
)
def test_hotkeys_keep_working_after_a_shifted_sign(x_screen: Xvfb, typing: list[str]) -> None:
    # The press of a shifted key reads "?" and its release "/" once Shift is up: matching by
    # the typed character left "?" held for ever and no hotkey fired again.
    probe = Child(
        [str(SUPPORT / "hotkey_probe.py")],
        {**x_screen.env, "PYNPUT_BACKEND": "xorg", "QT_QPA_PLATFORM": "offscreen"},
    )
    try:
        probe.wait_for("ready")
        xdotool(x_screen, *typing)
        xdotool(x_screen, "key", "ctrl+alt+s")
        assert probe.next_line(timeout=5) == "triggered capture_region"
        probe.send("stop")
        assert probe.next_line() == "stopped running=False"
    finally:
        probe.stop()


def test_hotkeys_report_a_listener_that_dies_later(tmp_path: Path) -> None:
    # A display of its own: the test takes the X server away under the listener.
    with xvfb(320, 240) as server:
        probe = Child(
            [str(SUPPORT / "hotkey_probe.py")],
            {**server.env, "PYNPUT_BACKEND": "xorg", "QT_QPA_PLATFORM": "offscreen"},
        )
        try:
            probe.wait_for("ready")
            server.process.terminate()
            line = probe.wait_for("failed")
            assert line.startswith("failed Global hotkeys stopped working")
            assert line.endswith("Turn them on again from the tray menu, or restart SnapAsk.")
        finally:
            probe.stop()
