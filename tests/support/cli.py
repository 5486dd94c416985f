"""Run the real `snapask` entry point in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# A file-backed keyring so a secret stored by one process is seen by the next one.
FILE_KEYRING = "keyrings.alt.file.PlaintextKeyring"
REPO = Path(__file__).resolve().parents[2]


def snapask(
    *args: str,
    input: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m snapask_desktop ARGS` with the test's isolated environment."""
    full_env = dict(os.environ)
    full_env["PYTHON_KEYRING_BACKEND"] = FILE_KEYRING
    full_env["PYTHONPATH"] = str(REPO)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "snapask_desktop", *args],
        input=input,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
