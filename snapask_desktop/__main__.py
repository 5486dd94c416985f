"""`python -m snapask_desktop` is the same as the `snapask` command.

`snapask --sync-server ARGS...` runs the bundled sync server (`snapask-sync-server ARGS...`),
so the one executable of the app bundle can also host sync without Python installed.
"""

from __future__ import annotations

import sys

SYNC_SERVER_FLAG = "--sync-server"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `snapask` command."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == [SYNC_SERVER_FLAG]:
        return sync_server(args[1:])
    from snapask_desktop.cli.main import run

    return run(args)


def sync_server(args: list[str]) -> int:
    """Run the sync server's command line with `args`; its exit code (no Qt is imported)."""
    from snapask_desktop.server.cli import main as server_main

    return server_main(args, prog="snapask --sync-server") or 0


if __name__ == "__main__":
    sys.exit(main())
