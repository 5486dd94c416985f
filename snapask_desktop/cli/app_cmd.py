"""`snapask` (start the tray app), `snapask capture`, `open` and `quit`: talk to the running app.

These go to a warm app through a local socket, so any desktop (and Wayland, where global
hotkeys can't be read) can bind `snapask capture --region` to a shortcut of its own.
"""

from __future__ import annotations

import argparse
from typing import Any

from snapask_desktop.cli import exits, output


def register(commands: Any) -> None:
    """Add the app commands to the parser."""
    capture = commands.add_parser("capture", help="capture now (starts SnapAsk if needed)")
    mode = capture.add_mutually_exclusive_group()
    mode.add_argument("--region", dest="mode", action="store_const", const="region")
    mode.add_argument("--full", dest="mode", action="store_const", const="full")
    capture.set_defaults(handler=run_capture, mode="region")
    open_ = commands.add_parser("open", help="open a conversation in the chat window")
    open_.add_argument("id", nargs="?", help="conversation id or prefix (default: the last one)")
    open_.set_defaults(handler=run_open)
    quit_ = commands.add_parser("quit", help="quit the running SnapAsk")
    quit_.set_defaults(handler=run_quit)


def start_app(request: Any = None) -> int:
    """Hand `request` to the running app, or start the app (in this process) with it."""
    from snapask_desktop import memory

    memory.forget_pyside_source_reads()  # before the app's own imports: ~4 MB less at idle
    from snapask_desktop.app import run

    return run(request)


def run_capture(args: argparse.Namespace) -> int:
    from snapask_desktop.single_instance import Request

    return start_app(Request("capture", mode=args.mode))


def run_open(args: argparse.Namespace) -> int:
    from snapask_desktop.single_instance import Request

    return start_app(Request("open", conversation_id=args.id))


def run_quit(args: argparse.Namespace) -> int:
    from snapask_desktop.single_instance import InstanceError, Request, send

    try:
        if send(Request("quit")):
            return exits.OK
    except InstanceError as error:
        output.error(str(error))
        return exits.FAILED
    output.note("SnapAsk is not running")
    return exits.OK
