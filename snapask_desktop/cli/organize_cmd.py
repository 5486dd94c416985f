"""`snapask rename`, `pin`, `archive`, `delete`, `restore`: tidy conversations from the terminal.

Every change goes through the store's edit API, so it is stamped and queued in the outbox and
reaches the other devices at the next sync like an edit made in History.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from snapask_desktop.cli import exits, output
from snapask_desktop.cli.settings_cmd import load_settings

_ID_HELP = "conversation id (a unique prefix is enough, as for show)"


def register(commands: Any) -> None:
    """Add the organising commands to the parser."""
    rename = commands.add_parser("rename", help="give a conversation a new title")
    rename.add_argument("id", help=_ID_HELP)
    rename.add_argument("title", help="the new title ('-' reads it from stdin)")
    rename.set_defaults(handler=run_rename)

    pin = commands.add_parser("pin", help="pin a conversation (--off unpins it)")
    pin.add_argument("id", help=_ID_HELP)
    pin.add_argument("--off", action="store_true", help="unpin")
    pin.set_defaults(handler=run_pin)

    archive = commands.add_parser(
        "archive", help="archive a conversation, hiding it from history (--off brings it back)"
    )
    archive.add_argument("id", help=_ID_HELP)
    archive.add_argument("--off", action="store_true", help="unarchive")
    archive.set_defaults(handler=run_archive)

    delete = commands.add_parser("delete", help="delete a conversation (snapask restore undoes it)")
    delete.add_argument("id", help=_ID_HELP)
    delete.set_defaults(handler=run_delete)

    restore = commands.add_parser("restore", help="bring back a deleted conversation")
    restore.add_argument("id", help="id of the deleted conversation (a unique prefix is enough)")
    restore.set_defaults(handler=run_restore)


def _edit(prefix: str, deleted: bool, change: Any) -> int:
    """Resolve ``prefix``, apply ``change(store, full_id)`` and report a store error as exit 1."""
    from snapask_desktop.services import Services
    from snapask_desktop.store.errors import StoreError

    try:
        with Services(load_settings()) as services:
            store = services.store
            if store.recovered is not None:
                output.note(f"store: {store.recovered}")
            change(store, store.resolve_id(prefix, deleted=deleted))
    except StoreError as error:
        output.error(str(error))
        return exits.FAILED
    return exits.OK


def _title_of(conversation: Any) -> str:
    return output.one_line(conversation.title or "Untitled", 60)


def run_rename(args: argparse.Namespace) -> int:
    title = sys.stdin.read().strip() if args.title == "-" else args.title
    if not title.strip():
        output.error("the title is empty")
        return exits.USAGE

    def change(store: Any, full_id: str) -> None:
        renamed = store.update_conversation(full_id, title=title)
        print(f"renamed {output.short_id(full_id)}: {_title_of(renamed)}")

    return _edit(args.id, False, change)


def run_pin(args: argparse.Namespace) -> int:
    def change(store: Any, full_id: str) -> None:
        done = store.update_conversation(full_id, pinned=not args.off)
        print(
            f"{'unpinned' if args.off else 'pinned'} {output.short_id(full_id)}: {_title_of(done)}"
        )

    return _edit(args.id, False, change)


def run_archive(args: argparse.Namespace) -> int:
    def change(store: Any, full_id: str) -> None:
        done = store.update_conversation(full_id, archived=not args.off)
        verb = "unarchived" if args.off else "archived"
        print(f"{verb} {output.short_id(full_id)}: {_title_of(done)}")

    return _edit(args.id, False, change)


def run_delete(args: argparse.Namespace) -> int:
    def change(store: Any, full_id: str) -> None:
        title = _title_of(store.get_conversation(full_id).conversation)
        store.delete_conversation(full_id)
        short = output.short_id(full_id)
        print(f"deleted {short}: {title}")
        output.note(f"undo with: snapask restore {short}")

    return _edit(args.id, False, change)


def run_restore(args: argparse.Namespace) -> int:
    def change(store: Any, full_id: str) -> None:
        restored = store.restore_conversation(full_id)
        print(f"restored {output.short_id(full_id)}: {_title_of(restored)}")

    return _edit(args.id, True, change)
