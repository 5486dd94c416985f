"""`snapask sync …`: sign this device in to a sync server, sync now, show the sync state."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from snapask_desktop import config, credentials
from snapask_desktop.cli import exits, output
from snapask_desktop.cli.settings_cmd import load_settings


def register(commands: Any) -> None:
    """Add the sync commands to the parser."""
    sync = commands.add_parser("sync", help="sync conversations with your other devices")
    sync.set_defaults(handler=run_status)
    actions = sync.add_subparsers(dest="sync_action", metavar="ACTION")
    status = actions.add_parser("status", help="server, account, pending changes, last sync")
    status.set_defaults(handler=run_status)
    now = actions.add_parser("now", help="send and fetch changes now (via the app if it runs)")
    now.set_defaults(handler=run_now)
    signin = actions.add_parser("signin", help="sign this device in (password prompted)")
    signin.add_argument("server", help="the sync server, e.g. http://192.168.1.5:8765")
    signin.add_argument("--user", required=True, help="your account on that server")
    signin.add_argument("--device-name", help="how this device is listed (default: host name)")
    signin.set_defaults(handler=run_signin)
    signout = actions.add_parser("signout", help="forget this device's token; sync stops")
    signout.set_defaults(handler=run_signout)


def run_signin(args: argparse.Namespace) -> int:
    from snapask_desktop.sync.device import account

    try:
        server = account.normal_server_url(args.server)
    except ValueError as error:
        output.error(str(error))
        return exits.USAGE
    settings = load_settings()
    name = args.device_name or settings.device_name or account.default_device_name()
    password = _read_password(args.user)
    store = _open_store()
    try:
        signed = account.sign_in(
            server, args.user, password, device_id=store.device_id, device_name=name
        )
        if settings.sync_server_url and settings.sync_server_url != server:
            store.forget_sync_state()  # a new server receives every record again
    except (account.SignInError, credentials.CredentialError) as error:
        output.error(str(error))
        return exits.FAILED
    finally:
        store.close()
    config.SettingsStore().update(sync_server_url=server, sync_user=signed.user, device_name=name)
    print(f"Signed in to {server} as {signed.user} (this device: {name}).")
    return exits.OK


def run_signout(args: argparse.Namespace) -> int:
    from snapask_desktop.sync.device import account

    settings = load_settings()
    if not settings.sync_server_url:
        output.note("Sync is not set up.")
        return exits.OK
    try:
        account.sign_out(settings.sync_server_url)
    except credentials.CredentialError as error:
        output.error(str(error))
        return exits.FAILED
    config.SettingsStore().update(sync_user=None)
    print(f"Signed out of {settings.sync_server_url}; conversations stay on this device.")
    return exits.OK


def run_status(args: argparse.Namespace) -> int:
    from snapask_desktop.sync.clock import wall_clock_ms
    from snapask_desktop.sync.device import account
    from snapask_desktop.sync.device.status import ago

    settings = load_settings()
    store = _open_store()
    try:
        signed_in = bool(settings.sync_server_url and account.get_token(settings.sync_server_url))
        print(f"server: {settings.sync_server_url or '(not set up)'}")
        print(f"account: {settings.sync_user if signed_in else '(signed out)'}")
        print(f"device: {settings.device_name or account.default_device_name()} "
              f"({store.device_id})")  # fmt: skip
        print(f"changes to send: {store.outbox_count()}")
        print(f"cursor: {store.sync_cursor()}")
        print(f"last synced: {ago(store.last_synced_at(), wall_clock_ms())}")
        conflicts = store.conflicts()
        print(f"conflicts: {len(conflicts)}")
        for problem in store.sync_problems(limit=5):
            print(f"not synced: {problem.record_type} {output.short_id(problem.record_id)}: "
                  f"{problem.code}: {problem.message}")  # fmt: skip
    except credentials.CredentialError as error:
        output.error(str(error))
        return exits.FAILED
    finally:
        store.close()
    return exits.OK


def run_now(args: argparse.Namespace) -> int:
    from snapask_desktop.single_instance import InstanceError, Request, send

    settings = load_settings()
    if not settings.sync_server_url:
        output.error("sync is not set up: snapask sync signin SERVER --user NAME")
        return exits.FAILED
    try:
        if send(Request("sync")):
            print("Asked the running SnapAsk to sync now.")
            return exits.OK
    except InstanceError as error:
        output.note(f"could not reach the running SnapAsk ({error}); syncing here")
    return _sync_here(settings)


def _sync_here(settings: config.Settings) -> int:
    from snapask_desktop.sync.device import account
    from snapask_desktop.sync.device.client import SyncEngine, SyncEvents
    from snapask_desktop.sync.device.connection import Closed, Refused, ServerError

    server = settings.sync_server_url or ""
    store = _open_store()
    events = SyncEvents(notice=output.note)
    engine = SyncEngine(store, account.websocket_url(server), lambda: account.get_token(server),
                        events=events)  # fmt: skip
    try:
        result = asyncio.run(engine.sync_once())
    except (OSError, TimeoutError, Closed, Refused, ServerError) as error:
        output.error(f"sync failed: {error}")
        return exits.FAILED
    except Exception as error:  # NeedsUser, ClockBehind: the message says what to do
        output.error(str(error))
        return exits.FAILED
    finally:
        store.close()
    print(f"Sent {result.pushed} change(s), received {result.pulled}; up to date "
          f"(cursor {result.cursor}).")  # fmt: skip
    for code, message in result.rejected:
        output.note(f"not synced ({code}): {message}")
    return exits.OK if not result.rejected else exits.FAILED


def _read_password(user: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(f"Password for {user}: ")
    return sys.stdin.readline().rstrip("\n")


def _open_store() -> Any:
    from snapask_desktop import paths
    from snapask_desktop.store import Store

    store = Store.open(paths.data_dir())
    if store.recovered is not None:
        output.note(f"store: {store.recovered}")
    return store
