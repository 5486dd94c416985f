"""The xdg-desktop-portal backend against a real session D-Bus and a fake portal service."""

from __future__ import annotations

import pytest
from PySide6.QtDBus import QDBusConnection
from PySide6.QtGui import QGuiApplication

from snapask_desktop.capture.backends import choose_backend
from snapask_desktop.capture.backends.mss_backend import WAYLAND_REASON, MssBackend
from snapask_desktop.capture.backends.portal import (
    INSTALL_HINT,
    PortalBackend,
    file_from_uri,
    request_path,
)
from snapask_desktop.capture.errors import CaptureCancelled, CaptureError
from snapask_desktop.capture.geometry import PointF, Rect
from snapask_desktop.capture.grab import to_pil
from snapask_desktop.capture.overlay import current_layout
from snapask_desktop.capture.session import Session
from tests.capture.conftest import FakePortal
from tests.capture.support.fake_portal import PORTAL_SIZE
from tests.capture.support.pattern import pattern_image

WAYLAND = Session("linux", wayland=True, x11=False)


SILENCE_S = 0.5  # how long the silent-portal test waits for an answer that never comes


@pytest.fixture
def backend(qapp, session_bus: str):
    # Generous: on a loaded machine the fake portal takes seconds to write a 2x picture, and a
    # short limit failed tests that are not about the limit.
    portal = PortalBackend(bus_address=session_bus, timeout_s=60)
    yield portal
    portal.close()


def test_available_when_the_portal_is_on_the_bus(
    backend: PortalBackend, fake_portal: FakePortal
) -> None:
    assert backend.available() == (True, "")


def test_grab_returns_the_portal_s_picture_and_removes_its_file(
    backend: PortalBackend, fake_portal: FakePortal
) -> None:
    fake_portal.answer("ok")
    grab = backend.grab()
    assert (grab.rect, grab.source) == (PORTAL_SIZE, "portal")
    assert to_pil(grab).tobytes() == pattern_image(PORTAL_SIZE).tobytes()
    line = fake_portal.wait_for_log("screenshot mode=ok")
    assert "interactive=False" in line
    assert not list(fake_portal.workdir.glob("shot-*.png"))  # written for us, then deleted


def test_a_hidpi_portal_picture_is_placed_on_the_qt_screens(
    backend: PortalBackend, fake_portal: FakePortal
) -> None:
    # A compositor at 200 %: the picture has twice the pixels of Qt's logical screen.
    g = QGuiApplication.primaryScreen().geometry()
    fake_portal.picture_size(g.width() * 2, g.height() * 2)
    try:
        grab = backend.grab()
    finally:
        fake_portal.picture_size()
    assert grab.pixel_ratio == 2.0
    assert grab.rect == Rect(g.x() * 2, g.y() * 2, g.width() * 2, g.height() * 2)
    assert grab.monitors == (grab.rect,)
    layout = current_layout(grab)
    assert layout.monitors[0].physical == grab.rect and layout.monitors[0].scale == 2.0
    assert layout.selection_to_physical(PointF(10, 10), PointF(20, 30)) == Rect(20, 20, 20, 40)


def test_grab_of_a_region_crops_the_portal_s_picture(
    backend: PortalBackend, fake_portal: FakePortal
) -> None:
    fake_portal.answer("ok")
    grab = backend.grab(Rect(10, 5, 20, 30))
    assert to_pil(grab).tobytes() == pattern_image(Rect(10, 5, 20, 30)).tobytes()


def test_cancel_is_reported_as_such(backend: PortalBackend, fake_portal: FakePortal) -> None:
    fake_portal.answer("cancel")
    with pytest.raises(CaptureCancelled, match="cancelled"):
        backend.grab()


def test_refusal_says_how_to_allow_screenshots(
    backend: PortalBackend, fake_portal: FakePortal
) -> None:
    fake_portal.answer("deny")
    with pytest.raises(CaptureError, match=r"refused the screenshot\. Allow screenshots"):
        backend.grab()


def test_an_answer_without_a_picture_is_an_error(
    backend: PortalBackend, fake_portal: FakePortal
) -> None:
    fake_portal.answer("nouri")
    with pytest.raises(CaptureError, match="without a screenshot"):
        backend.grab()


def test_a_silent_portal_times_out_closes_the_request_and_explains(
    qapp, session_bus: str, fake_portal: FakePortal
) -> None:
    backend = PortalBackend(bus_address=session_bus, timeout_s=SILENCE_S)
    fake_portal.answer("silent")
    try:
        with pytest.raises(CaptureError) as caught:
            backend.grab()
    finally:
        backend.close()
    message = str(caught.value)
    assert f"did not answer the screenshot request within {SILENCE_S} s" in message
    assert "install xdg-desktop-portal" in message
    asked = fake_portal.wait_for_log("screenshot mode=silent").split()[-1]
    assert fake_portal.wait_for_log(f"close {asked}")


def test_without_a_portal_on_the_bus_the_backend_says_what_to_install(qapp, empty_bus: str) -> None:
    backend = PortalBackend(bus_address=empty_bus)
    ok, reason = backend.available()
    assert not ok
    assert reason == f"xdg-desktop-portal is not running. {INSTALL_HINT}"
    backend.close()


def test_grabbing_without_a_portal_fails_with_the_install_hint(qapp, empty_bus: str) -> None:
    backend = PortalBackend(bus_address=empty_bus, timeout_s=5)
    with pytest.raises(CaptureError) as caught:
        backend.grab()
    message = str(caught.value)
    assert message.startswith("The desktop portal could not be asked for a screenshot (")
    assert message.endswith(INSTALL_HINT)
    backend.close()


def test_without_a_bus_the_backend_is_unavailable(qapp) -> None:
    backend = PortalBackend(bus_address="unix:path=/nonexistent/snapask-bus")
    ok, reason = backend.available()
    assert not ok and reason.startswith("no D-Bus session bus")
    backend.close()


def test_choose_backend_on_wayland_skips_mss_and_picks_the_portal(
    backend: PortalBackend, fake_portal: FakePortal
) -> None:
    choice = choose_backend([MssBackend(session=WAYLAND), backend])
    assert choice.backend is backend
    assert choice.skipped == {"mss": WAYLAND_REASON}
    assert "taken with portal; skipped:\n- mss: this is a Wayland session" in choice.explain()


def test_choose_backend_with_nothing_working_explains_each_reason(qapp, empty_bus: str) -> None:
    portal = PortalBackend(bus_address=empty_bus)
    choice = choose_backend([MssBackend(session=WAYLAND), portal])
    assert choice.backend is None
    with pytest.raises(CaptureError) as caught:
        choice.require()
    assert str(caught.value).splitlines() == [
        "SnapAsk cannot take screenshots here:",
        f"- mss: {WAYLAND_REASON}",
        f"- portal: xdg-desktop-portal is not running. {INSTALL_HINT}",
    ]
    portal.close()


def test_request_path_follows_the_portal_spec() -> None:
    assert (
        request_path(":1.42", "snapask_1")
        == "/org/freedesktop/portal/desktop/request/1_42/snapask_1"
    )


@pytest.mark.parametrize(
    "uri", ["https://example.com/a.png", "file://otherhost/tmp/a.png", "ftp:x"]
)
def test_only_local_file_uris_are_accepted(uri: str) -> None:
    with pytest.raises(CaptureError, match="unexpected screenshot location"):
        file_from_uri(uri)


def test_file_uris_are_decoded() -> None:
    assert str(file_from_uri("file:///home/a%20b/Screenshot.png")) == "/home/a b/Screenshot.png"


def test_the_backend_leaves_the_shared_session_bus_alone(qapp) -> None:
    # Without an address it uses the default session bus and must not disconnect it.
    PortalBackend().close()
    assert QDBusConnection.sessionBus().name() == "qt_default_session_bus"
