"""Makes tests/data/snapask-v5.db: a database written by SnapAsk's store at schema 0005.

The file must come from the code of that time (commit 34a05fe, before revision 0006), so run
this script with that code first on the path, from the repository root::

    mkdir /tmp/snapask-v5 && git archive 34a05fe snapask_desktop | tar -x -C /tmp/snapask-v5
    PYTHONPATH=/tmp/snapask-v5 .venv/bin/python tests/data/make_v5_db.py

It uses only the store's public API of that time, so the rows (random ids, real clocks) are
exactly what a user's file holds; the upgrade test reads them back from the file itself.
"""

from __future__ import annotations

import io
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

from PIL import Image

OUT = Path(__file__).resolve().parent / "snapask-v5.db"


def _png(seed: int) -> bytes:
    image = Image.new("RGB", (64, 48), (seed * 40 % 256, 90, 200))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def build(target: Path) -> None:
    """Write the file with the store of that time (refuses to run with another schema)."""
    from snapask_desktop.store import Store
    from snapask_desktop.store.schema import HEAD_REVISION

    if HEAD_REVISION != "0005":
        raise SystemExit(f"run this with the schema-0005 code on PYTHONPATH (got {HEAD_REVISION})")
    work = Path(tempfile.mkdtemp())
    with Store.open(work) as store:
        shot = store.add_screenshot(_png(1))
        receipt, _ = store.start_conversation(
            "Café receipt: total?", "What is the total on this reçu?", screenshot_sha256=shot.sha256
        )
        store.add_message(receipt.id, "model", "42,50 € including VAT.", model="gemini-2.5-flash")
        trace = store.create_conversation("Stack trace in übersicht")
        store.add_message(trace.id, "user", "Why does this traceback say KeyError?")
        store.update_conversation(trace.id, pinned=True)
        chart = store.create_conversation("Old chart question")
        store.add_message(chart.id, "user", "Explain this quarterly chart")
        store.update_conversation(chart.id, archived=True)
        secret = store.create_conversation("Deleted secret plan")
        store.add_message(secret.id, "user", "zanzibar launch codes")
        store.delete_conversation(secret.id)
        store.set_screenshot_text(shot.sha256, "RECU Total 42,50 EUR TVA", "tesseract 5.5.4")
        store.outbox_ack([op.op_id for op in store.outbox_pending(limit=2)])  # some were sent
        store.set_meta("sync_cursor", "31")
    connection = sqlite3.connect(work / "snapask.db")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
    connection.execute("VACUUM")
    connection.close()
    shutil.copyfile(work / "snapask.db", target)
    shutil.rmtree(work)


if __name__ == "__main__":
    destination = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    build(destination)
    print(f"wrote {destination}")
