"""Makes tests/data/snapask-v3.db, -v4.db, -v5.db or -v6.db: a database written by SnapAsk's
store at schema 0003, 0004, 0005 or 0006, for the tests that upgrade a real user's file.

Each file must come from the code of its time, so run this with that code first on the path,
from the repository root, naming the revision::

    mkdir /tmp/snapask-old && git archive COMMIT snapask_desktop | tar -x -C /tmp/snapask-old
    PYTHONPATH=/tmp/snapask-old .venv/bin/python tests/data/make_old_db.py REVISION

with COMMIT f3aaf55 for 0003 (before revision 0004), dd31b44 for 0004 (before 0005), 34a05fe
for 0005 (before 0006) and 2e357cc for 0006 (before 0007). It uses only the store's public API
of that time, so the rows (random ids, real clocks) are exactly what a user's file holds; the
upgrade tests read them back from the file itself. It refuses to run with code of another
revision.
"""

from __future__ import annotations

import io
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image

HERE = Path(__file__).resolve().parent
FILES = {
    "0003": "snapask-v3.db",
    "0004": "snapask-v4.db",
    "0005": "snapask-v5.db",
    "0006": "snapask-v6.db",
}
CURSORS = {"0003": "23", "0004": "31", "0005": "31", "0006": "31"}


def _png(seed: int) -> bytes:
    image = Image.new("RGB", (64, 48), (seed * 40 % 256, 90, 200))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _fill(store: Any, revision: str) -> None:
    """The same user's history at every revision, with what each revision could hold."""
    shot = store.add_screenshot(_png(1))
    receipt, _ = store.start_conversation(
        "Café receipt: total?", "What is the total on this reçu?", screenshot_sha256=shot.sha256
    )
    store.add_message(receipt.id, "model", "42,50 € including VAT.", model="gemini-2.5-flash")
    trace = store.create_conversation("Stack trace in übersicht")
    store.add_message(trace.id, "user", "Why does this traceback say KeyError?")
    store.update_conversation(trace.id, pinned=True)
    if revision == "0003":
        store.update_conversation(trace.id, title="KeyError in übersicht")
    chart = store.create_conversation("Old chart question")
    store.add_message(chart.id, "user", "Explain this quarterly chart")
    store.update_conversation(chart.id, archived=True)
    secret = store.create_conversation("Deleted secret plan")
    store.add_message(secret.id, "user", "zanzibar launch codes")
    store.delete_conversation(secret.id)
    if revision == "0003":  # a pending message: only releases before issue 9 wrote one
        draft = store.create_conversation("Draft")
        store.add_message(draft.id, "user", "still typing", status="pending")
    if revision in ("0005", "0006"):  # the text read from a picture (revision 0005)
        store.set_screenshot_text(shot.sha256, "RECU Total 42,50 EUR TVA", "tesseract 5.5.4")
    store.outbox_ack([op.op_id for op in store.outbox_pending(limit=2)])  # some were sent
    store.set_meta("sync_cursor", CURSORS[revision])


def build(revision: str, target: Path) -> None:
    """Write the file with the store of that time (refuses to run with another schema)."""
    from snapask_desktop.store import Store
    from snapask_desktop.store.schema import HEAD_REVISION

    if revision != HEAD_REVISION:
        raise SystemExit(
            f"run this with the schema-{revision} code on PYTHONPATH (got {HEAD_REVISION})"
        )
    work = Path(tempfile.mkdtemp())
    with Store.open(work) as store:
        _fill(store, revision)
    connection = sqlite3.connect(work / "snapask.db")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
    connection.execute("VACUUM")
    connection.close()
    shutil.copyfile(work / "snapask.db", target)
    shutil.rmtree(work)


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in FILES:
        raise SystemExit(f"usage: make_old_db.py {{{','.join(FILES)}}} [TARGET]")
    wanted = sys.argv[1]
    destination = Path(sys.argv[2]) if len(sys.argv) > 2 else HERE / FILES[wanted]
    build(wanted, destination)
    print(f"wrote {destination}")
