"""Handing memory freed after a burst of work back to the operating system.

Two things keep it otherwise, for as long as the tray app idles:
- PySide6 looks for "PySide6" in the source of every module imported after it (its
  `__feature__` switch, PYSIDE-2029) through `inspect.getsource`, which leaves every line of
  every such module in `linecache`: about 4 MB for the tray app's own imports and 4 more for
  the sync client's. `forget_pyside_source_reads` gives the same verdict from the file's bytes
  (a quarter of the time: no tokenizing, no line splitting, ~5 % of the tray's start-up) and,
  where only `inspect` can read the source, drops the module's lines as soon as PySide6 has
  looked; the cache only serves tracebacks and warnings, which read the files again.
- glibc's malloc keeps freed heap pages (in every thread's arena) for reuse; `malloc_trim`
  returns them. Other C libraries (macOS, Windows, musl) return them themselves or have no such
  call, and there only the cache is dropped.
"""

from __future__ import annotations

import linecache
import logging
import os
import sys
from collections.abc import Callable
from types import ModuleType

log = logging.getLogger(__name__)
_WRAPPED = "_snapask_forgets_sources"


def forget_pyside_source_reads() -> bool:
    """Make PySide6's look at each newly imported module's source leave nothing in `linecache`
    (imports PySide6.QtCore); False if this PySide6 has no such look (nothing to do)."""
    import PySide6.QtCore  # noqa: F401  (sets up PySide6.support.feature)

    feature = sys.modules.get("PySide6.support.feature")
    uses_pyside: Callable[[ModuleType], bool] | None = getattr(feature, "_mod_uses_pyside", None)
    if feature is None or uses_pyside is None or hasattr(uses_pyside, _WRAPPED):
        return False

    def look_then_forget(module: ModuleType) -> bool:
        verdict = _mentions_pyside(module)
        if verdict is not None:
            return verdict
        known = set(linecache.cache)
        try:
            return uses_pyside(module)
        finally:
            for name in linecache.cache.keys() - known:
                linecache.cache.pop(name, None)

    setattr(look_then_forget, _WRAPPED, True)
    # Same answer, called the same way (a module-global lookup in PySide6.support.feature).
    feature._mod_uses_pyside = look_then_forget  # type: ignore[attr-defined]
    return True


def _mentions_pyside(module: ModuleType) -> bool | None:
    """PySide6's verdict ("PySide6" in the module's source) read from a plain .py file's bytes;
    None where the source is not such a file (PySide6's own look then decides)."""
    path = getattr(module, "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):
        return None
    try:
        with open(path, "rb") as source:
            return b"PySide6" in source.read()
    except OSError:
        return None


def is_glibc() -> bool:
    """True when this process runs on GNU libc (the only one with `malloc_trim`)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return bool(os.confstr("CS_GNU_LIBC_VERSION"))
    except (ValueError, OSError):  # the name is unknown to this C library (e.g. musl)
        return False


def release_freed() -> bool:
    """Drop the source-line cache and return freed heap memory to the OS; True if the heap was
    trimmed (glibc only). Takes a few ms."""
    linecache.clearcache()
    if not is_glibc():
        return False
    import ctypes  # only here: most platforms never need it

    try:
        libc = ctypes.CDLL(None)  # the C library this process already uses
        trim = libc.malloc_trim
    except (OSError, AttributeError) as error:
        log.debug("malloc_trim is not available: %s", error)
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    trim(0)
    return True
