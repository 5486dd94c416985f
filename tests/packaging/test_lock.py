"""uv.lock is what runs: the venv that the tests and the app bundle (snapask.spec) are built
from holds exactly the locked versions, and the lock covers every extra, the server's too."""

from __future__ import annotations

import importlib.metadata
import re
import sys
import tomllib

import pytest

from tests.support.cli import REPO

PROJECT = "snapask-desktop"


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked() -> dict[str, dict]:
    data = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    return {package["name"]: package for package in data["package"]}


def test_every_installed_distribution_is_the_locked_version() -> None:
    if sys.prefix == sys.base_prefix:
        pytest.skip("not in a virtualenv: nothing here was installed from the lock")
    locked = _locked()
    site = {str(path) for path in sys.path if path.startswith(sys.prefix)}
    wrong = []
    for dist in importlib.metadata.distributions(path=sorted(site)):
        name = _normalized(dist.metadata["Name"])
        if name == PROJECT:
            continue
        version = locked.get(name, {}).get("version")
        if version != dist.version:
            wrong.append(f"{name} {dist.version} (lock: {version or 'absent'})")
    assert not wrong, "installed outside uv.lock (run scripts/setup --test): " + ", ".join(wrong)


def test_the_lock_covers_every_extra_with_hashes() -> None:
    locked = _locked()
    project = locked[PROJECT]
    extras = set(project.get("optional-dependencies", {}))
    assert {"test", "package", "server", "ocr"} <= extras
    server = {_normalized(dep["name"]) for dep in project["optional-dependencies"]["server"]}
    assert {"psycopg", "redis"} <= server
    assert "psycopg-binary" in locked  # psycopg[binary]: no libpq build needed on a server
    unhashed = []
    for name, package in locked.items():
        files = [*package.get("wheels", []), *([package["sdist"]] if "sdist" in package else [])]
        if name != PROJECT and not (files and all("hash" in file for file in files)):
            unhashed.append(name)
    assert not unhashed


def test_lock_matches_pyproject_ranges() -> None:
    """A hand edit of pyproject.toml that the lock does not satisfy is caught here too (setup's
    `uv sync --locked` refuses it first)."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    locked = _locked()
    requires = {
        _normalized(re.split(r"[\[<>=!~; ]", spec, maxsplit=1)[0])
        for spec in pyproject["project"]["dependencies"]
    }
    missing = requires - locked.keys()
    assert not missing
