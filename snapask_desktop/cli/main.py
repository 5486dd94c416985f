"""Argument parsing and dispatch for the `snapask` command."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from snapask_desktop import __version__
from snapask_desktop.cli import exits, output
from snapask_desktop.store.errors import StoreError  # plain classes: no SQLAlchemy is loaded

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The full command-line grammar; each command module adds its own subcommands."""
    from snapask_desktop.cli import (
        app_cmd,
        conversations_cmd,
        ocr_cmd,
        organize_cmd,
        settings_cmd,
        sync_cmd,
    )

    parser = argparse.ArgumentParser(
        prog="snapask",
        description="Capture the screen and ask an AI about it. Without a command, SnapAsk "
        "starts in the system tray. Conversations are kept locally and work offline.",
        epilog="snapask --sync-server ARGS... runs the bundled sync server "
        "(the same as snapask-sync-server; try snapask --sync-server --help).",
    )
    parser.add_argument("--version", action="version", version=f"snapask {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    app_cmd.register(commands)
    conversations_cmd.register(commands)
    organize_cmd.register(commands)
    ocr_cmd.register(commands)
    settings_cmd.register(commands)
    sync_cmd.register(commands)
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """argv parsed; a command whose positionals may follow its options (``ask IMAGE
    --continue ID QUESTION``) names them with ``set_defaults(trailing=...)``: argparse stops
    filling a ``*`` positional at the first option and would refuse the words after it."""
    args, extras = parser.parse_known_args(argv)
    trailing = getattr(args, "trailing", None)
    words = [w for w in extras if w == "-" or not w.startswith("-")]
    if trailing and extras and words == extras:
        setattr(args, trailing, [*getattr(args, trailing), *extras])
    elif extras:
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def run(argv: list[str]) -> int:
    """Parse argv, run the chosen command and return its exit code."""
    if not argv:  # plain `snapask`: the tray app, without building every command's parser
        from snapask_desktop.cli.app_cmd import start_app

        return start_app()
    parser = build_parser()
    args = parse(parser, argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:  # plain `snapask`: the tray app
        from snapask_desktop.cli.app_cmd import start_app

        return start_app()
    try:
        return handler(args)
    except KeyboardInterrupt:
        output.error("interrupted")
        return exits.INTERRUPTED
    except StoreError as error:  # any command may meet the store's file refused or damaged
        output.error(str(error))
        return exits.FAILED
