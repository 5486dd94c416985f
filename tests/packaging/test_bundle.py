"""The app bundle built from snapask.spec: it starts without Python or this checkout, reaches
the tray on a real X server and quits cleanly, opens and upgrades a store through Alembic,
hosts the sync server, reads a picture's text with its own Tesseract and model, and packs into
a tarball that installs for one user."""

from __future__ import annotations

import contextlib
import json
import select
import shutil
import signal
import sqlite3
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from snapask_desktop import __version__, autostart
from snapask_desktop.store.schema import HEAD_REVISION
from tests.capture.support.xserver import Xvfb
from tests.ocr.samples import CODE, DIALOG, SMALL_UI, WEB, cer, font, render
from tests.packaging.bundle import Bundle, build_bundle, frozen_env, run
from tests.support.cli import REPO
from tests.support.desktop_app import PANEL_HEIGHT, SCREEN, desktop, wait_until

# The first test builds the bundle (about a minute here, several on a busy CI machine).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

V1_FILE = REPO / "tests" / "data" / "snapask-v1.db"
TRAY_WIDTH = 200  # trayer's panel in tests/support/desktop_app.py


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    return build_bundle(tmp_path_factory.mktemp("pyinstaller"))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


def test_version_from_the_bundle(bundle: Bundle, home: Path) -> None:
    done = run(bundle, "--version", env=frozen_env(home))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"snapask {__version__}"


def test_bundle_holds_resources_and_migrations_and_no_unused_qt(bundle: Bundle) -> None:
    internal = bundle.folder / "_internal"
    for icon in (REPO / "resources" / "icons").iterdir():
        assert (internal / "resources" / "icons" / icon.name).is_file(), icon.name
    for script in (REPO / "snapask_desktop" / "store" / "migrations").rglob("*.py"):
        relative = script.relative_to(REPO)
        assert (internal / relative).is_file(), relative
    names = [path.name for path in internal.rglob("*")]
    for unused in ("libQt6Quick", "libQt6Qml", "libQt6Pdf", "libQt6OpenGL.", "libqgtk3", "tkinter"):
        assert not [name for name in names if unused in name], unused
    assert [name for name in names if name.startswith("libqsvgicon")], "the SVG icon engine"


def test_store_is_created_and_an_old_file_upgraded(bundle: Bundle, home: Path) -> None:
    fresh = home / "fresh"
    done = run(bundle, "history", env=frozen_env(home, SNAPASK_DATA_DIR=str(fresh)))
    assert done.returncode == 0, done.stderr
    assert "no conversations yet" in done.stdout + done.stderr
    assert _revision(fresh / "snapask.db") == HEAD_REVISION

    old = home / "old"
    old.mkdir()
    shutil.copyfile(V1_FILE, old / "snapask.db")
    done = run(bundle, "history", env=frozen_env(home, SNAPASK_DATA_DIR=str(old)))
    assert done.returncode == 0, done.stderr
    assert "Café receipt: total?" in done.stdout  # a v1 row, read after Alembic's upgrade
    assert _revision(old / "snapask.db") == HEAD_REVISION


def _revision(path: Path) -> str:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return str(db.execute("SELECT version_num FROM alembic_version").fetchone()[0])


# ----------------------------------------------------------------- the tray app


@pytest.fixture
def screen() -> Iterator[Xvfb]:
    with desktop() as server:
        yield server


def test_tray_app_starts_shows_its_icon_and_quits(bundle: Bundle, home: Path, screen: Xvfb) -> None:
    env = frozen_env(
        home, **screen.env, QT_QPA_PLATFORM="xcb", PYNPUT_BACKEND="xorg", GEMINI_API_KEY="k"
    )
    panel_before = _panel_pixels(screen)
    log_path = home / "app.log"
    with log_path.open("w") as log:
        app = subprocess.Popen(
            [str(bundle.executable)], env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_until(
            lambda: "ready in the system tray" in log_path.read_text() or app.poll() is not None,
            timeout=60,
            what="the tray-ready line",
        )
        output = log_path.read_text()
        assert "ready in the system tray" in output, output
        assert "no system tray" not in output.lower(), output
        # The SVG icon drew into trayer's panel: Qt's SVG plugins and the icons are bundled.
        wait_until(
            lambda: _changed_pixels(panel_before, _panel_pixels(screen)) >= 20,
            what="the tray icon in the panel",
        )
        done = run(bundle, "quit", env=env)
        assert done.returncode == 0, done.stderr
        assert app.wait(30) == 0, log_path.read_text()
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(10)
    assert "Traceback" not in log_path.read_text(), log_path.read_text()


def _panel_pixels(screen: Xvfb) -> bytes:
    from Xlib import X

    root = screen.conn.screen().root
    top = SCREEN.height - PANEL_HEIGHT
    image = root.get_image(
        SCREEN.width - TRAY_WIDTH, top, TRAY_WIDTH, PANEL_HEIGHT, X.ZPixmap, 0xFFFFFFFF
    )
    return bytes(image.data)


def _changed_pixels(before: bytes, after: bytes) -> int:
    """Pixels (BGRX) that changed clearly: the icon's glyph, not a shade of the panel."""
    changed = 0
    for i in range(0, min(len(before), len(after)), 4):
        if sum(abs(before[i + c] - after[i + c]) for c in range(3)) > 120:
            changed += 1
    return changed


# ----------------------------------------------------------------- the sync server


def test_sync_server_runs_from_the_bundle(bundle: Bundle, home: Path) -> None:
    env = frozen_env(home)
    data = home / "server"
    done = run(bundle, "--sync-server", "--help", env=env)
    assert done.returncode == 0, done.stderr
    assert "serve" in done.stdout
    done = run(
        bundle, "--sync-server", "user", "add", "ada", "--data-dir", str(data),
        env=env, input="correct horse\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    server = subprocess.Popen(
        [str(bundle.executable), "--sync-server", "serve", "--port", "0", "--data-dir", str(data)],
        env=env,
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = _first_line(server, timeout=60)  # "listening on http://127.0.0.1:PORT", flushed
        assert line.startswith("listening on http://127.0.0.1:"), line
        base = line.split()[-1]
        with httpx.Client(base_url=base, timeout=20) as client:
            assert client.get("/healthz").json()["status"] == "ok"
            device_id = str(uuid.uuid4())
            signed_in = client.post(
                "/v1/devices",
                json={
                    "user": "ada",
                    "password": "correct horse",
                    "device_id": device_id,
                    "device_name": "bundle-test",
                },
            )
            assert signed_in.status_code == 201, signed_in.text
            token = signed_in.json()["token"]
        url = base.replace("http://", "ws://") + "/v1/sync"
        with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
            hello = {"type": "hello", "id": "h1", "protocol": 1, "device_id": device_id}
            ws.send(json.dumps({**hello, "cursor": 0}))
            welcome = json.loads(ws.recv(timeout=20))
            assert welcome["type"] == "welcome", welcome
            assert welcome["id"] == "h1"
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], timeout)
    assert readable, "the server printed nothing"
    return process.stdout.readline()


# ----------------------------------------------------------------- local OCR


def test_text_is_read_from_a_picture_with_the_bundled_tesseract_and_model(
    bundle: Bundle, home: Path
) -> None:
    internal = bundle.folder / "_internal"
    assert (internal / "tessdata" / "eng.traineddata").is_file()
    # A page large enough to be cut into pieces read on both threads (ocr/split.py).
    lines = [*WEB, *DIALOG, *CODE, *SMALL_UI]
    picture = home / "page.png"
    image = render(lines, font("Sans", 20))
    assert image.width * image.height * 4 >= 1_000_000  # 2x enlarged: above SPLIT_PIXELS
    image.save(picture)
    env = frozen_env(home)
    env.pop("TESSDATA_PREFIX", None)
    done = run(bundle, "ocr", str(picture), "--json", env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    read = json.loads(done.stdout)
    assert cer("\n".join(lines), read["text"]) <= 0.02, read["text"]
    assert read["words"][0]["text"] == "Getting"


# ----------------------------------------------------------------- the Linux tarball


def test_tarball_installs_runs_and_uninstalls(bundle: Bundle, tmp_path: Path, home: Path) -> None:
    out = tmp_path / "out"
    made = subprocess.run(
        [str(REPO / "packaging" / "linux" / "make-tarball.sh"), str(bundle.folder), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    tarball = Path(made.stdout.strip().splitlines()[-1])
    assert tarball.name.startswith(f"snapask-{__version__}-linux-")
    unpacked = tmp_path / "unpacked"
    with tarfile.open(tarball) as archive:
        archive.extractall(unpacked, filter="tar")
    (top,) = unpacked.iterdir()

    prefix = tmp_path / "my apps"  # a space: the menu entry must quote the path
    data_home = home / "share"
    env = frozen_env(home, XDG_DATA_HOME=str(data_home))
    installed = subprocess.run(
        [str(top / "install.sh"), "--prefix", str(prefix)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr
    exe = prefix / "lib" / "snapask" / "snapask"
    version = subprocess.run(
        [str(prefix / "bin" / "snapask"), "--version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert version.stdout.strip() == f"snapask {__version__}", version.stderr

    entry = (data_home / "applications" / "snapask.desktop").read_text()
    assert f"\nExec={autostart.exec_value([str(exe)])}\n" in entry
    assert f"\nExec={autostart.exec_value([str(exe), 'capture', '--region'])}\n" in entry
    assert "\nIcon=snapask\n" in entry
    assert (data_home / "icons/hicolor/scalable/apps/snapask.svg").is_file()
    assert (data_home / "icons/hicolor/256x256/apps/snapask.png").is_file()

    removed = subprocess.run(
        [str(top / "uninstall.sh"), "--prefix", str(prefix)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert removed.returncode == 0, removed.stderr
    assert not exe.exists()
    assert not (prefix / "bin" / "snapask").is_symlink()
    assert not (data_home / "applications" / "snapask.desktop").exists()
    assert not list(data_home.rglob("snapask.*"))
