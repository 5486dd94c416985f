"""The per-OS packaging files and the spec's module lists, checked as data (no build here)."""

from __future__ import annotations

import ast
import configparser
import importlib.util
import os
import plistlib
import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from snapask_desktop import __version__
from tests.support.cli import REPO

PACKAGING = REPO / "packaging"


def _spec_list(name: str) -> list[str]:
    """A list of string literals assigned to `name` at the top of snapask.spec."""
    tree = ast.parse((REPO / "snapask.spec").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return [ast.literal_eval(item) for item in node.value.elts]  # type: ignore[attr-defined]
    raise AssertionError(f"{name} is not assigned in snapask.spec")


def test_spec_excludes_no_qt_module_the_app_imports() -> None:
    used = set()
    for path in (REPO / "snapask_desktop").rglob("*.py"):
        used |= set(re.findall(r"PySide6\.(Qt\w+)", path.read_text(encoding="utf-8")))
    assert {"QtCore", "QtGui", "QtWidgets"} <= used
    excluded = set(_spec_list("UNUSED_QT"))
    assert not used & excluded
    assert {"QtQml", "QtQuick", "QtPdf", "QtWebEngineCore"} <= excluded


def test_macos_info_plist_hides_the_dock_icon_and_explains_screen_recording() -> None:
    with (PACKAGING / "macos" / "Info.plist").open("rb") as file:
        info = plistlib.load(file)
    assert info["LSUIElement"] is True
    assert "screen" in info["NSScreenCaptureUsageDescription"].lower()
    assert info["NSHighResolutionCapable"] is True
    # Version, identifier and executable are set by the spec, from the package, not here.
    assert not {"CFBundleShortVersionString", "CFBundleIdentifier"} & info.keys()


def test_windows_version_file_matches_the_package_version() -> None:
    text = (PACKAGING / "windows" / "version_info.txt").read_text(encoding="utf-8")
    tree = ast.parse(text, mode="eval")  # PyInstaller evaluates it as one expression
    numbers = tuple(int(part) for part in __version__.split("."))
    numbers += (0,) * (4 - len(numbers))
    keywords: dict[str, object] = {}
    strings: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in {"filevers", "prodvers"}:
            keywords[node.arg] = ast.literal_eval(node.value)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "StringStruct":
            key, value = (ast.literal_eval(arg) for arg in node.args)
            strings[key] = value
    assert keywords == {"filevers": numbers, "prodvers": numbers}
    assert strings["FileVersion"] == strings["ProductVersion"] == __version__
    assert strings["OriginalFilename"] == "snapask.exe"
    assert strings["ProductName"] == "SnapAsk"


def test_committed_icons_have_every_size() -> None:
    with Image.open(PACKAGING / "windows" / "snapask.ico") as ico:
        assert {16, 24, 32, 48, 256} <= {w for w, h in ico.info["sizes"]}
    with Image.open(PACKAGING / "macos" / "snapask.icns") as icns:
        assert icns.size == (1024, 1024)
        assert {(16, 16, 2), (128, 128, 1), (512, 512, 2)} <= set(icns.info["sizes"])
    for size in (48, 128, 256):
        with Image.open(PACKAGING / "linux" / "icons" / f"snapask-{size}.png") as png:
            assert png.size == (size, size)
            assert png.mode == "RGBA"


def test_make_icons_renders_the_svg(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_icons", PACKAGING / "make_icons.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.make_icons(tmp_path)
    assert {p.relative_to(tmp_path).as_posix() for p in written} == {
        "windows/snapask.ico",
        "macos/snapask.icns",
        "linux/icons/snapask-48.png",
        "linux/icons/snapask-128.png",
        "linux/icons/snapask-256.png",
    }
    with Image.open(tmp_path / "linux" / "icons" / "snapask-256.png") as png:
        assert png.getpixel((0, 0))[3] == 0  # a rounded square: transparent corners
        red, _green, blue, alpha = png.getpixel((128, 24))  # the blue tile, above the glyph
        assert alpha == 255 and blue > 200 and red < 100


def _desktop_entry() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string((PACKAGING / "linux" / "snapask.desktop").read_text(encoding="utf-8"))
    return parser


def test_linux_desktop_entry_launches_snapask_and_its_actions() -> None:
    parser = _desktop_entry()
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Name"] == "SnapAsk"
    assert entry["Exec"] == "snapask"  # install.sh puts the installed path here
    assert entry["Icon"] == "snapask"  # the name install.sh gives the icons
    assert entry["Terminal"] == "false"
    assert entry["Categories"].endswith(";")
    actions = [name for name in entry["Actions"].split(";") if name]
    assert actions
    for action in actions:
        group = parser[f"Desktop Action {action}"]
        assert group["Name"]
        assert group["Exec"].startswith("snapask capture ")


@pytest.mark.parametrize(
    "script", ["install.sh", "uninstall.sh", "make-tarball.sh"], ids=lambda name: name
)
def test_linux_scripts_are_executable_and_parse(script: str) -> None:
    path = PACKAGING / "linux" / script
    assert os.access(path, os.X_OK)
    checked = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
