"""Build the app bundle with PyInstaller (snapask.spec) and run its executable, for the tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.cli import REPO

SPEC = REPO / "snapask.spec"
BUILD_TIMEOUT_S = 1200  # about a minute on a quiet machine; CI runs it beside other tests


@dataclass(frozen=True)
class Bundle:
    """A built one-folder bundle: dist/snapask with the `snapask` executable inside."""

    folder: Path
    build_seconds: float

    @property
    def executable(self) -> Path:
        return self.folder / "snapask"


def build_bundle(work: Path) -> Bundle:
    """Run PyInstaller on snapask.spec with its output under `work`; the bundle."""
    log = work / "pyinstaller.log"
    started = time.monotonic()
    with log.open("w") as out:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "PyInstaller",
                "--noconfirm",
                "--distpath",
                str(work / "dist"),
                "--workpath",
                str(work / "build"),
                str(SPEC),
            ],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
    assert done.returncode == 0, f"PyInstaller failed ({done.returncode}):\n{tail}"
    bundle = Bundle(work / "dist" / "snapask", time.monotonic() - started)
    assert bundle.executable.is_file(), f"no executable in {bundle.folder}:\n{tail}"
    return bundle


def frozen_env(home: Path, **extra: str) -> dict[str, str]:
    """The test's environment without anything that would let the bundle use this checkout.

    The bundle must not see PYTHONPATH (the checkout) or the tests' memory keyring (not bundled):
    it gets keyring's own null backend, and its own HOME and runtime folder under `home`.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHON_KEYRING_BACKEND"}
    }
    runtime = home / "runtime"
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_RUNTIME_DIR=str(runtime),
        XDG_CONFIG_HOME=str(home / "xdg-config"),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    env.update(extra)
    return env


def run(
    bundle: Bundle, *args: str, env: dict[str, str], timeout: float = 60, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the frozen `snapask ARGS` to the end; its result."""
    return subprocess.run(
        [str(bundle.executable), *args],
        env=env,
        cwd=env["HOME"],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
