"""`snapask sync signin|now|status|signout` as a user runs them, against the real server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snapask_desktop import paths
from snapask_desktop.server.testing import RunningServer, running_server
from snapask_desktop.store import Store
from tests.support.cli import snapask

PASSWORD = "pw for ada"


@pytest.fixture
def server(tmp_path: Path):
    with running_server(tmp_path / "server") as srv:
        srv.add_user("ada", PASSWORD)
        yield srv


def test_sync_before_setup_says_how_to_set_it_up() -> None:
    status = snapask("sync", "status")
    assert status.returncode == 0, status.stderr
    assert "server: (not set up)" in status.stdout
    now = snapask("sync", "now")
    assert now.returncode == 1
    assert "snapask sync signin SERVER --user NAME" in now.stderr


def test_signin_sync_status_signout(server: RunningServer, tmp_path: Path) -> None:
    wrong = snapask("sync", "signin", server.url, "--user", "ada", input="nope\n")
    assert wrong.returncode == 1
    assert "Wrong user name or password." in wrong.stderr

    signed = snapask("sync", "signin", server.url + "/", "--user", "ada", "--device-name",
                     "laptop", input=PASSWORD + "\n")  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    assert f"Signed in to {server.url} as ada (this device: laptop)." in signed.stdout
    settings = (paths.config_dir() / "settings.json").read_text()
    assert json.loads(settings)["sync_server_url"] == server.url
    assert PASSWORD not in settings and "token" not in settings

    with Store.open(paths.data_dir()) as store:
        conversation, _ = store.start_conversation("From the CLI device", "question")
    now = snapask("sync", "now")
    assert now.returncode == 0, now.stderr
    assert "Sent 2 change(s)" in now.stdout

    # Another device of the same user receives it.
    with Store.open(tmp_path / "phone") as phone:
        import asyncio

        from snapask_desktop.sync.device.client import SyncEngine

        token = server.sign_in("ada", PASSWORD, phone.device_id, "phone")
        asyncio.run(SyncEngine(phone, server.ws_url, lambda: token).sync_once())
        assert phone.get_conversation(conversation.id).conversation.title == "From the CLI device"

    status = snapask("sync", "status")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert f"server: {server.url}" in lines
    assert "account: ada" in lines
    assert "changes to send: 0" in lines
    assert "cursor: 2" in lines
    assert any(line.startswith("last synced: ") and "never" not in line for line in lines)

    out = snapask("sync", "signout")
    assert out.returncode == 0, out.stderr
    assert "account: (signed out)" in snapask("sync", "status").stdout
    again = snapask("sync", "now")
    assert again.returncode == 1
    assert "Sign in to the sync server" in again.stderr


def test_sync_now_reports_an_unreachable_server(tmp_path: Path) -> None:
    with running_server(tmp_path / "gone") as srv:
        srv.add_user("ada", PASSWORD)
        url = srv.url
        signed = snapask("sync", "signin", url, "--user", "ada", input=PASSWORD + "\n")
        assert signed.returncode == 0, signed.stderr
    result = snapask("sync", "now")
    assert result.returncode == 1
    assert "sync failed" in result.stderr


def test_signin_rejects_a_bad_address() -> None:
    result = snapask("sync", "signin", "ftp://example.org", "--user", "ada", input="x\n")
    assert result.returncode == 2
    assert "is not a server address" in result.stderr


def test_encrypt_then_unlock_again_after_signing_out(server: RunningServer) -> None:
    passphrase = "the sync passphrase of ada"
    signed = snapask("sync", "signin", server.url, "--user", "ada", input=PASSWORD + "\n")
    assert signed.returncode == 0, signed.stderr
    with Store.open(paths.data_dir()) as store:
        conversation, _ = store.start_conversation("Sealed from the CLI", "question")

    short = snapask("sync", "encrypt", input="too short\ntoo short\n")
    assert short.returncode == 2
    assert "at least 10 characters; nothing was changed" in short.stderr
    differ = snapask("sync", "encrypt", input=passphrase + "\n" + passphrase + "!\n")
    assert differ.returncode == 2
    assert "the two passphrases differ" in differ.stderr

    on = snapask("sync", "encrypt", input=passphrase + "\n" + passphrase + "\n")
    assert on.returncode == 0, on.stderr
    assert "If it is lost,\nthe synced copy cannot be read" in on.stdout
    assert "End-to-end encryption is on." in on.stdout
    assert "Sent 2 change(s)" in on.stdout  # everything again, sealed
    assert "end-to-end encryption: keys on this device" in snapask("sync", "status").stdout
    again = snapask("sync", "encrypt", input=passphrase + "\n" + passphrase + "\n")
    assert again.returncode == 1
    assert "already end-to-end encrypted" in again.stderr

    # Signing out forgets the keys too: signed in again, the device is locked until unlocked.
    assert snapask("sync", "signout").returncode == 0
    back = snapask("sync", "signin", server.url, "--user", "ada", input=PASSWORD + "\n")
    assert back.returncode == 0, back.stderr
    locked = snapask("sync", "now")
    assert locked.returncode == 1
    assert "Enter the sync passphrase" in locked.stderr and "snapask sync unlock" in locked.stderr
    wrong = snapask("sync", "unlock", input="not the passphrase\n")
    assert wrong.returncode == 1
    assert "does not open this account's keys" in wrong.stderr
    unlocked = snapask("sync", "unlock", input=passphrase + "\n")
    assert unlocked.returncode == 0, unlocked.stderr
    assert "This device is unlocked" in unlocked.stdout
    with Store.open(paths.data_dir()) as store:
        assert store.get_conversation(conversation.id).conversation.title == "Sealed from the CLI"
        assert store.outbox_count() == 0
    changed = snapask("sync", "passphrase", input="a newer passphrase\na newer passphrase\n")
    assert changed.returncode == 0, changed.stderr
    assert "The sync passphrase is changed" in changed.stdout
    old = snapask("sync", "unlock", input=passphrase + "\n")
    assert old.returncode == 1 and "does not open" in old.stderr
    assert snapask("sync", "unlock", input="a newer passphrase\n").returncode == 0
    for folder in (paths.config_dir(), paths.data_dir()):
        for path in folder.rglob("*"):
            if path.is_file():
                assert passphrase.encode() not in path.read_bytes(), path


def test_rotate_keys_and_passphrase_need_an_unlocked_device(server: RunningServer) -> None:
    passphrase = "the sync passphrase of ada"
    signed = snapask("sync", "signin", server.url, "--user", "ada", input=PASSWORD + "\n")
    assert signed.returncode == 0, signed.stderr
    clear = snapask("sync", "rotate-keys")
    assert clear.returncode == 1 and "holds no end-to-end encryption keys" in clear.stderr
    asked = snapask("sync", "passphrase", input="a newer passphrase\na newer passphrase\n")
    assert asked.returncode == 1 and "unlock it first" in asked.stderr
    assert "New sync passphrase" not in asked.stdout + asked.stderr  # nothing asked
    with Store.open(paths.data_dir()) as store:
        conversation, _ = store.start_conversation("Sealed twice", "question")
    on = snapask("sync", "encrypt", input=passphrase + "\n" + passphrase + "\n")
    assert on.returncode == 0, on.stderr
    assert "(key record 1)" in snapask("sync", "status").stdout

    rotated = snapask("sync", "rotate-keys")
    assert rotated.returncode == 0, rotated.stderr
    assert "Every conversation is sent again" in rotated.stdout
    assert "2 record(s) queued to be sent again" in rotated.stdout
    assert "Sent 2 change(s)" in rotated.stdout  # no app running: sent here, at once
    assert "(key record 2)" in snapask("sync", "status").stdout
    with Store.open(paths.data_dir()) as store:
        assert store.outbox_count() == 0
        assert store.get_conversation(conversation.id).conversation.title == "Sealed twice"
