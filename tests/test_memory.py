"""Freed memory goes back to the OS, and PySide6's source reads leave nothing behind."""

from __future__ import annotations

import linecache
import subprocess
import sys
from pathlib import Path

from snapask_desktop import memory

ROOT = Path(__file__).resolve().parents[1]


def test_release_drops_the_source_line_cache_and_trims_on_glibc() -> None:
    linecache.getlines(memory.__file__)
    assert memory.__file__ in linecache.cache
    trimmed = memory.release_freed()
    assert memory.__file__ not in linecache.cache
    assert trimmed is memory.is_glibc()
    if sys.platform.startswith("linux"):
        libc = Path("/proc/self/maps").read_text()
        assert memory.is_glibc() is ("libc.so.6" in libc)  # musl maps ld-musl instead


IMPORT_PROBE = """
import linecache, sys
sys.path.insert(0, sys.argv[1])
from snapask_desktop import memory
print([memory.forget_pyside_source_reads(), memory.forget_pyside_source_reads()])
import with_qt, without_qt
feature = sys.modules["PySide6.support.feature"]
print([feature.pyside_feature_dict[name] for name in ("with_qt", "without_qt")])
print([path for path in linecache.cache if path.startswith(sys.argv[1])])
"""


def test_pyside_still_tells_qt_modules_apart_but_keeps_no_source(tmp_path: Path) -> None:
    (tmp_path / "with_qt.py").write_text("import PySide6.QtCore\nVALUE = 1\n")
    (tmp_path / "without_qt.py").write_text("VALUE = 2\n" * 2000)
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE, str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    wrapped, kinds, kept = result.stdout.strip().splitlines()[-3:]
    assert wrapped == "[True, False]"  # installed once
    assert kinds == "[0, -1]"  # PySide6's own verdicts: uses Qt, ignore
    assert kept == "[]"


VERDICT_PROBE = """
import sys, types
sys.path.insert(0, sys.argv[1])
from snapask_desktop import memory
memory.forget_pyside_source_reads()
feature = sys.modules["PySide6.support.feature"]
import with_qt, without_qt, latin
no_file = types.ModuleType("no_file")
print([feature._mod_uses_pyside(m) for m in (with_qt, without_qt, latin, no_file)])
"""


def test_the_byte_check_gives_pyside_s_own_verdicts(tmp_path: Path) -> None:
    (tmp_path / "with_qt.py").write_text("# a comment naming PySide6 is enough for PySide6\n")
    (tmp_path / "without_qt.py").write_text("VALUE = 'Qt'\n")
    (tmp_path / "latin.py").write_bytes(b"# -*- coding: latin-1 -*-\nNAME = '\\xe9 PySide6'\n")
    result = subprocess.run(
        [sys.executable, "-c", VERDICT_PROBE, str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[True, False, True, False]"
