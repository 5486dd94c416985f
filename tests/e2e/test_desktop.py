"""End to end under a real X server: the real app in the tray, the hotkey pressed, a region
dragged with xdotool, the chat window found on screen, a question answered by the fake Gemini,
and the stored picture compared pixel for pixel with what was on screen."""

from __future__ import annotations

import io
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from snapask_desktop.capture.geometry import Rect
from snapask_desktop.store import Store
from tests.capture.support.pattern import pattern_image
from tests.capture.support.xserver import Xvfb, xvfb
from tests.support import waits
from tests.support.desktop_app import (
    PANEL_HEIGHT,
    SCREEN,
    App,
    desktop,
    focus,
    wait_until,
    xdotool,
)
from tests.support.fake_gemini import FakeGemini
from tests.support.x11_driver import XDriver

REGION = Rect(300, 200, 400, 300)  # what the test drags over: x, y, width, height


@pytest.fixture
def screen() -> Iterator[Xvfb]:
    # A fresh X server per test: no focus, pointer or window left over from another app.
    with desktop() as server:
        yield server


def test_hotkey_region_question_answer(screen: Xvfb, isolated_env: Path) -> None:
    driver = XDriver(screen.name)
    with FakeGemini() as gemini:
        app = App(screen, isolated_env, gemini)
        try:
            app.wait_for("ready in the system tray", timeout=waits.DEADLINE_S)
            assert "no system tray" not in app.output().lower()
            driver.drain()
            xdotool(app.env, "key", "ctrl+alt+s")
            overlay = driver.wait_mapped("SnapAsk capture", timeout=waits.DEADLINE_S)
            xdotool(app.env, "mousemove", str(REGION.x), str(REGION.y), "mousedown", "1")
            xdotool(app.env, "mousemove", str(REGION.x + 150), str(REGION.y + 120))
            xdotool(app.env, "mousemove", str(REGION.right), str(REGION.bottom), "mouseup", "1")
            xdotool(app.env, "key", "Return")
            driver.wait_unmapped(overlay.window_id, timeout=waits.DEADLINE_S)
            chat = driver.wait_mapped("SnapAsk —", timeout=waits.DEADLINE_S)
            focus(app.env, chat.window_id)
            xdotool(app.env, "type", "--delay", "5", "what is on this screen?")
            xdotool(app.env, "key", "Return")
            request = wait_until(
                lambda: gemini.generate_requests(), what="the question", timeout=waits.DEADLINE_S
            )[0]
            assert request.body["contents"][0]["parts"][-1]["text"] == "what is on this screen?"
            with Store.open(isolated_env / "data") as store:
                detail = wait_until(
                    lambda: _answered(store),
                    what="the answer saved in the store",
                    timeout=waits.DEADLINE_S,
                )
                question, answer = detail.messages
                assert answer.text == "You asked: what is on this screen? [1 image]."
                png = store.screenshot_bytes(question.screenshot_sha256)
            picture = Image.open(io.BytesIO(png)).convert("RGB")
            expected = pattern_image(REGION)
            assert picture.size == (REGION.width, REGION.height)
            assert picture.tobytes() == expected.tobytes()
        finally:
            code = app.stop()
            driver.close()
    assert code == 0, app.output()


def test_a_second_capture_goes_into_the_open_conversation(screen: Xvfb, isolated_env: Path):
    """Shift+Enter in the overlay adds the picture to the conversation in the chat window: the
    follow-up is stored with it, and the provider gets both pictures."""
    driver = XDriver(screen.name)
    second = Rect(800, 250, 240, 180)
    with FakeGemini() as gemini:
        app = App(screen, isolated_env, gemini)
        try:
            app.wait_for("ready in the system tray", timeout=waits.DEADLINE_S)
            for n, (region, key, question) in enumerate(
                ((REGION, "Return", "what is this?"), (second, "shift+Return", "and this?"))
            ):
                driver.drain()
                xdotool(app.env, "key", "ctrl+alt+s")
                overlay = driver.wait_mapped("SnapAsk capture", timeout=waits.DEADLINE_S)
                xdotool(app.env, "mousemove", str(region.x), str(region.y), "mousedown", "1")
                xdotool(app.env, "mousemove", str(region.x + 50), str(region.y + 40))
                xdotool(app.env, "mousemove", str(region.right), str(region.bottom), "mouseup", "1")
                xdotool(app.env, "key", key)
                driver.wait_unmapped(overlay.window_id, timeout=waits.DEADLINE_S)
                chat = driver.wait_mapped("SnapAsk —", timeout=waits.DEADLINE_S)
                focus(app.env, chat.window_id)
                xdotool(app.env, "type", "--delay", "5", question)
                xdotool(app.env, "key", "Return")
                wait_until(
                    lambda n=n: len(gemini.generate_requests()) > n,
                    what=f"question {n + 1}",
                    timeout=waits.DEADLINE_S,
                )
            with Store.open(isolated_env / "data") as store:
                detail = wait_until(
                    lambda: _answered(store, messages=4),
                    what="the follow-up answered in the same conversation",
                    timeout=waits.DEADLINE_S,
                )
                assert len(store.list_conversations()) == 1
                first, _, follow_up, answer = detail.messages
                assert answer.text == "You asked: and this? [2 images]."
                pictures = [store.screenshot_bytes(m.screenshot_sha256) for m in (first, follow_up)]
            for png, region in zip(pictures, (REGION, second), strict=True):
                picture = Image.open(io.BytesIO(png)).convert("RGB")
                assert picture.tobytes() == pattern_image(region).tobytes()
        finally:
            code = app.stop()
            driver.close()
    assert code == 0, app.output()


def test_hotkeys_still_work_after_typing_a_question_mark(screen: Xvfb, isolated_env: Path) -> None:
    """Almost every question ends in "?": typing one must not leave the hotkeys dead."""
    driver = XDriver(screen.name)
    with FakeGemini() as gemini:
        app = App(screen, isolated_env, gemini)
        try:
            app.wait_for("ready in the system tray", timeout=waits.DEADLINE_S)
            driver.drain()
            xdotool(app.env, "key", "ctrl+alt+s")
            overlay = driver.wait_mapped("SnapAsk capture", timeout=waits.DEADLINE_S)
            xdotool(app.env, "key", "Escape")
            driver.wait_unmapped(overlay.window_id, timeout=waits.DEADLINE_S)
            xdotool(app.env, "type", "--delay", "5", "why?")  # typed into whatever has focus
            for combo, window in (("ctrl+alt+s", "SnapAsk capture"), ("ctrl+alt+w", "SnapAsk —")):
                driver.drain()
                xdotool(app.env, "key", combo)
                shown = driver.wait_mapped(window, timeout=waits.DEADLINE_S)
                if combo == "ctrl+alt+s":
                    xdotool(app.env, "key", "Escape")
                    driver.wait_unmapped(shown.window_id, timeout=waits.DEADLINE_S)
        finally:
            code = app.stop()
            driver.close()
    assert code == 0, app.output()


def _answered(store: Store, messages: int = 2):
    rows = store.list_conversations(limit=5)
    if not rows:
        return None
    detail = store.get_conversation(rows[0].id)
    return detail if len(detail.messages) == messages else None


def test_cli_hands_capture_and_history_to_the_warm_app(screen: Xvfb, isolated_env: Path) -> None:
    """`snapask capture --full` and a second `snapask` go to the running app over its socket."""
    driver = XDriver(screen.name)
    with FakeGemini() as gemini:
        app = App(screen, isolated_env, gemini)
        try:
            app.wait_for("ready in the system tray", timeout=waits.DEADLINE_S)
            driver.drain()
            handed = app.cli("capture", "--full")
            assert handed.returncode == 0, handed.stderr
            chat = driver.wait_mapped("SnapAsk —", timeout=waits.DEADLINE_S)
            focus(app.env, chat.window_id)
            xdotool(app.env, "type", "--delay", "5", "full screen please")
            xdotool(app.env, "key", "Return")
            with Store.open(isolated_env / "data") as store:
                detail = wait_until(
                    lambda: _answered(store), what="the answer", timeout=waits.DEADLINE_S
                )
                png = store.screenshot_bytes(detail.messages[0].screenshot_sha256)
            picture = Image.open(io.BytesIO(png)).convert("RGB")
            assert picture.size == (SCREEN.width, SCREEN.height)
            # The whole screen, tray panel included, and none of SnapAsk's own windows.
            above_panel = (0, 0, SCREEN.width, SCREEN.height - PANEL_HEIGHT)
            expected = pattern_image(SCREEN).crop(above_panel)
            assert picture.crop(above_panel).tobytes() == expected.tobytes()
            second = app.cli()  # a second plain launch shows History in the running app
            assert second.returncode == 0, second.stderr
            driver.wait_mapped("SnapAsk — History", timeout=waits.DEADLINE_S)
            assert app.process.poll() is None
            # With History on screen, a capture must still show only what is behind it.
            driver.drain()
            assert app.cli("capture", "--full").returncode == 0
            chat = driver.wait_mapped("SnapAsk —", timeout=waits.DEADLINE_S)
            if chat.name == "SnapAsk — History":  # History comes back after the grab first
                chat = driver.wait_mapped("SnapAsk —", timeout=waits.DEADLINE_S)
            focus(app.env, chat.window_id)
            xdotool(app.env, "type", "--delay", "5", "again")
            xdotool(app.env, "key", "Return")
            wait_until(
                lambda: len(gemini.generate_requests()) == 2,
                what=f"the second question to reach the provider; app said:\n{app.output()}",
                timeout=waits.DEADLINE_S,
            )
            with Store.open(isolated_env / "data") as store:
                answered = wait_until(
                    lambda: [r for r in store.list_conversations() if r.message_count == 2][1:],
                    what="the second conversation answered",
                    timeout=waits.DEADLINE_S,
                )
                newest = store.list_conversations(limit=1)[0]
                assert len(answered) == 1 and newest.title == "again"
                first = store.get_conversation(newest.id).messages[0]
                png = store.screenshot_bytes(first.screenshot_sha256)
            picture = Image.open(io.BytesIO(png)).convert("RGB")
            assert picture.crop(above_panel).tobytes() == expected.tobytes()
        finally:
            code = app.stop()
            driver.close()
    assert code == 0, app.output()


def test_without_a_tray_the_launcher_window_appears(isolated_env: Path) -> None:
    with xvfb(800, 600) as bare, FakeGemini() as gemini:  # no trayer: no system tray
        driver = XDriver(bare.name)
        app = App(bare, isolated_env, gemini)
        try:
            launcher = driver.wait_mapped("SnapAsk", timeout=waits.DEADLINE_S)
            assert launcher.name == "SnapAsk"
        finally:
            code = app.stop()
            driver.close()
    assert code == 0, app.output()


def test_sigterm_quits_cleanly(screen: Xvfb, isolated_env: Path) -> None:
    """Logging out sends SIGTERM: the app shuts down like Quit and exits 0."""
    with FakeGemini() as gemini:
        app = App(screen, isolated_env, gemini)
        try:
            app.wait_for("ready in the system tray", timeout=waits.DEADLINE_S)
            app.process.send_signal(signal.SIGTERM)
            assert app.process.wait(waits.DEADLINE_S) == 0, app.output()
        finally:
            app.stop()
