"""`snapask ask`, `history`, `show`, `export`: conversations from the terminal."""

from __future__ import annotations

from typing import Any


def register(commands: Any) -> None:
    """Add the conversation commands to the parser."""
