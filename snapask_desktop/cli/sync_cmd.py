"""`snapask sync …`: sign this device in to a sync server, sync now, show the sync state, turn
end-to-end encryption on, unlock this device for an encrypted account, change its sync
passphrase and rotate its keys."""

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
    encrypt = actions.add_parser(
        "encrypt", help="turn end-to-end encryption on for the account (passphrase prompted)"
    )
    encrypt.set_defaults(handler=run_encrypt)
    unlock = actions.add_parser(
        "unlock", help="unlock this device for an encrypted account (passphrase prompted)"
    )
    unlock.set_defaults(handler=run_unlock)
    passphrase = actions.add_parser(
        "passphrase", help="change the sync passphrase of an encrypted account (prompted)"
    )
    passphrase.set_defaults(handler=run_passphrase)
    rotate = actions.add_parser(
        "rotate-keys",
        help="seal with a new key from now on; every record is sent again in the background",
    )
    rotate.set_defaults(handler=run_rotate_keys)


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
        _keys_here(settings.sync_server_url).forget()  # an encrypted account's keys go too
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
        if settings.sync_server_url and signed_in:
            held = _keys_here(settings.sync_server_url, store.device_id).load()
            if held is not None:
                print(f"end-to-end encryption: keys on this device (key record {held.version})")
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
    from snapask_desktop.sync.device.client import Locked, SyncEngine, SyncEvents
    from snapask_desktop.sync.device.connection import Closed, Refused, ServerError

    server = settings.sync_server_url or ""
    store = _open_store()
    engine = SyncEngine(store, account.websocket_url(server), lambda: account.get_token(server),
                        events=SyncEvents(notice=output.note))  # fmt: skip
    try:
        result = asyncio.run(engine.sync_once())
    except (OSError, TimeoutError, Closed, Refused, ServerError) as error:
        output.error(f"sync failed: {error}")
        return exits.FAILED
    except Locked as error:
        output.error(f"{error} Run: snapask sync unlock")
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


ENCRYPT_WARNING = (
    "End-to-end encryption: the sync server will keep only sealed copies it cannot read.\n"
    "Choose a sync passphrase (at least 10 characters; not your password). If it is lost,\n"
    "the synced copy cannot be read by anyone, SnapAsk included; each device keeps its local\n"
    "conversations. Every other device of the account asks for the passphrase once."
)


def _new_passphrase() -> str | None:
    """A new sync passphrase, typed twice and long enough; None (said why) otherwise."""
    from snapask_desktop.sync.crypto import WeakParameters, check_new_passphrase

    passphrase = _read_secret("New sync passphrase: ")
    try:
        check_new_passphrase(passphrase)
    except WeakParameters as error:
        output.error(f"{error}; nothing was changed")
        return None
    if _read_secret("The same passphrase again: ") != passphrase:
        output.error("the two passphrases differ; nothing was changed")
        return None
    return passphrase


def run_encrypt(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not settings.sync_server_url:
        output.error("sync is not set up: snapask sync signin SERVER --user NAME")
        return exits.FAILED
    print(ENCRYPT_WARNING)
    passphrase = _new_passphrase()
    if passphrase is None:
        return exits.USAGE
    failed = _with_engine(settings, lambda engine: engine.encrypt(passphrase))
    if failed is not None:
        return failed
    print("End-to-end encryption is on. Every record is sent again, sealed.")
    return _after_keys(settings)


def run_passphrase(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not settings.sync_server_url:
        output.error("sync is not set up: snapask sync signin SERVER --user NAME")
        return exits.FAILED
    if (failed := _needs_keys(settings.sync_server_url)) is not None:
        return failed
    print("Every other device of the account will ask for the new passphrase once.")
    passphrase = _new_passphrase()
    if passphrase is None:
        return exits.USAGE
    failed = _with_engine(settings, lambda engine: engine.change_passphrase(passphrase))
    if failed is not None:
        return failed
    print("The sync passphrase is changed; nothing had to be sent again.")
    return exits.OK


ROTATE_NOTE = (
    "A new key seals every change from now on. Every conversation is sent again, sealed with\n"
    "it, in the background; the other devices take the new key without asking for anything."
)


def run_rotate_keys(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not settings.sync_server_url:
        output.error("sync is not set up: snapask sync signin SERVER --user NAME")
        return exits.FAILED
    if (failed := _needs_keys(settings.sync_server_url)) is not None:
        return failed
    print(ROTATE_NOTE)
    queued: list[int] = []

    async def rotate(engine: Any) -> None:
        queued.append(await engine.rotate_keys())

    failed = _with_engine(settings, rotate)
    if failed is not None:
        return failed
    print(f"The keys are rotated; {queued[0]} record(s) queued to be sent again, sealed.")
    return _after_keys(settings)


def _needs_keys(server: str) -> int | None:
    """None when this device holds the keys of an encrypted account (it is unlocked), else the
    exit code after saying what to do first (nothing was asked yet)."""
    try:
        held = _keys_here(server).load()
    except credentials.CredentialError as error:
        output.error(f"the keyring cannot be read: {error}")
        return exits.FAILED
    if held is None:
        output.error(
            "this device holds no end-to-end encryption keys: unlock it first (snapask sync "
            "unlock), or turn encryption on (snapask sync encrypt)"
        )
        return exits.FAILED
    return None


def run_unlock(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not settings.sync_server_url:
        output.error("sync is not set up: snapask sync signin SERVER --user NAME")
        return exits.FAILED
    passphrase = _read_secret("Sync passphrase: ")
    failed = _with_engine(settings, lambda engine: engine.unlock(passphrase))
    if failed is not None:
        return failed
    print("This device is unlocked; it syncs the encrypted account.")
    return _after_keys(settings)


def _with_engine(settings: config.Settings, action: Any) -> int | None:
    """Run ``action(engine)`` on an engine of its own (the key derivation takes ~0.5 s);
    None when it worked, else the exit code after saying why."""
    from snapask_desktop.sync.crypto import CryptoError
    from snapask_desktop.sync.device import account
    from snapask_desktop.sync.device.client import EncryptionError, SyncEngine, SyncEvents
    from snapask_desktop.sync.device.connection import Closed, Refused, ServerError

    server = settings.sync_server_url or ""
    store = _open_store()
    engine = SyncEngine(store, account.websocket_url(server), lambda: account.get_token(server),
                        events=SyncEvents(notice=output.note))  # fmt: skip
    try:
        asyncio.run(action(engine))
    except (CryptoError, EncryptionError) as error:
        output.error(str(error))
        return exits.FAILED
    except (OSError, TimeoutError, Closed, Refused, ServerError) as error:
        output.error(f"could not reach the sync server: {error}")
        return exits.FAILED
    except Exception as error:  # NeedsUser, a keyring error: the message says what to do
        output.error(str(error))
        return exits.FAILED
    finally:
        store.close()
    return None


def _after_keys(settings: config.Settings) -> int:
    """The running app syncs on with the new keys; without one, a pass runs here."""
    from snapask_desktop.single_instance import InstanceError, Request, send

    try:
        if send(Request("sync")):
            print("Asked the running SnapAsk to sync now.")
            return exits.OK
    except InstanceError:
        pass
    return _sync_here(settings)


def _keys_here(server: str, device_id: str | None = None) -> Any:
    """This device's key store for an encrypted account on ``server`` (the OS keyring)."""
    from snapask_desktop.sync.device import account
    from snapask_desktop.sync.device.keystore import KeyStore, keys_account

    if device_id is None:
        store = _open_store()
        try:
            device_id = store.device_id
        finally:
            store.close()
    return KeyStore(keys_account(account.websocket_url(server), device_id))


def _read_secret(prompt: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline().rstrip("\n")


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
