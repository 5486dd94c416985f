"""Benchmark of the local store: history first page and full-text search on a large history.

Builds, in a temp folder, 10,000 conversations and 100,000 messages of realistic text
(bulk-inserted through the real schema, so the FTS and activity triggers do their work),
then times the public Store API over repeated runs and prints one JSON line.
Targets: first page <= 30 ms, search <= 20 ms (p50). Run: ``python -m bench.store``.
"""

from __future__ import annotations

import json
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` and the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import emit, percentile
from snapask_desktop.store import Store

CONVERSATIONS = 10_000
MESSAGES_PER_CONVERSATION = 10
RUNS = 60
SEARCHES = ["error", "python", "screensh", "invoice total", "how do i", "kubernetes pod", "naïve"]
YEAR_MS = 365 * 24 * 3600 * 1000
T0 = 1_735_689_600_000  # 2025-01-01

SUBJECTS = [
    "this error message", "the stack trace", "this chart", "the invoice", "this receipt",
    "the login page", "this SQL query", "the Python traceback", "this spreadsheet",
    "the Kubernetes pod status", "this dialog box", "the build log", "this diagram",
    "the network graph", "this regex", "the CSS layout", "this screenshot", "the calendar",
    "this email", "the terminal output", "this map", "the bank statement", "this recipe",
    "the flight itinerary", "this contract clause", "the compiler warning", "this table",
]  # fmt: skip
QUESTIONS = [
    "What does {s} mean?", "How do I fix {s}?", "Can you explain {s}?",
    "Why is {s} failing?", "Summarise {s} for me.", "What is wrong with {s}?",
    "How do I read {s}?", "Translate {s} into French.", "Is {s} correct?",
]  # fmt: skip
_WORD_TEXT = """
the a to of and in is it that for you this with on as are be can your if not or value error
function file line code check first then use should will would need because when which there
here more setting option version update install config server request response timeout memory
disk network user password account total amount date column row chart axis trend increase
decrease month quarter revenue python javascript java rust docker kubernetes pod container
deploy cluster node invoice receipt tax payment bank transfer balance screenshot window button
menu café naïve résumé über déjà façade jalapeño piñata coöperate
"""
WORDS = _WORD_TEXT.split()


def question(rng: random.Random) -> str:
    return rng.choice(QUESTIONS).format(s=rng.choice(SUBJECTS))


def answer(rng: random.Random) -> str:
    sentences = []
    for _ in range(rng.randint(2, 6)):
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 18))]
        sentences.append(" ".join(words).capitalize() + ".")
    return " ".join(sentences)


def fill(db_path: Path, device: str, seed: int = 1) -> None:
    """Bulk-insert the history in one transaction through the real schema and triggers."""
    rng = random.Random(seed)
    connection = sqlite3.connect(db_path)
    with connection:
        connection.executemany(
            "INSERT INTO screenshot VALUES (?, 250000, 1920, 1080, 'image/png', ?)",
            ((f"{i:064x}", T0) for i in range(CONVERSATIONS)),
        )
        for index in range(CONVERSATIONS):
            _conversation(connection, rng, device, index)
    connection.execute("PRAGMA optimize")
    connection.close()


def _conversation(
    connection: sqlite3.Connection, rng: random.Random, device: str, index: int
) -> None:
    created = T0 + index * (YEAR_MS // CONVERSATIONS)
    cid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    stamp = created << 16
    connection.execute(
        "INSERT INTO conversation (id, title, pinned, archived, deleted, created_at, updated_at,"
        " vv, hlc, field_hlc, last_activity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            cid,
            question(rng)[:60],
            rng.random() < 0.02,
            rng.random() < 0.05,
            rng.random() < 0.02,
            created,
            created,
            json.dumps({device: 1}),
            stamp,
            json.dumps({f: [stamp, device] for f in ("title", "pinned", "archived", "deleted")}),
            stamp,
        ),
    )
    connection.executemany(
        "INSERT INTO message (id, conversation_id, role, text, model, status, screenshot_sha256,"
        " hlc, device_id, created_at) VALUES (?, ?, ?, ?, ?, 'final', ?, ?, ?, ?)",
        list(_messages(rng, device, cid, index, created)),
    )


def _messages(
    rng: random.Random, device: str, cid: str, index: int, created: int
) -> Iterator[tuple[object, ...]]:
    for j in range(MESSAGES_PER_CONVERSATION):
        at = created + 1000 + j * 15_000
        user = j % 2 == 0
        yield (
            str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            cid,
            "user" if user else "model",
            question(rng) if user else answer(rng),
            None if user else "gemini-2.5-flash",
            f"{index:064x}" if j == 0 else None,
            at << 16,
            device,
            at,
        )


def timed(action: Callable[[], object], runs: int) -> list[float]:
    """Milliseconds of each of ``runs`` calls, after two warm-up calls."""
    action()
    action()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def measure(store: Store) -> dict[str, float]:
    """The figures, each a p50 (and p95 where useful) in milliseconds."""
    first = timed(lambda: store.list_conversations(limit=50), RUNS)
    page = store.list_conversations(limit=50)
    later = timed(lambda: store.list_conversations(limit=50, before=page[-1]), RUNS)
    searches: list[float] = []
    worst: dict[str, float] = {}
    for text in SEARCHES:
        samples = timed(lambda text=text: store.search(text, limit=50), RUNS // 3)
        searches += samples
        worst[text] = percentile(samples, 50)
    target = page[0].id
    detail = timed(lambda: store.get_conversation(target), RUNS)
    writes = timed(lambda: store.add_message(target, "user", question(random.Random())), RUNS)
    return {
        "first_page_p50_ms": round(percentile(first, 50), 2),
        "first_page_p95_ms": round(percentile(first, 95), 2),
        "next_page_p50_ms": round(percentile(later, 50), 2),
        "search_p50_ms": round(percentile(searches, 50), 2),
        "search_p95_ms": round(percentile(searches, 95), 2),
        "search_slowest_query_p50_ms": round(max(worst.values()), 2),
        "search_slowest_query": max(worst, key=lambda k: worst[k]),
        "get_conversation_p50_ms": round(percentile(detail, 50), 2),
        "add_message_p50_ms": round(percentile(writes, 50), 2),
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="snapask-bench-") as folder:
        data_dir = Path(folder)
        with Store.open(data_dir) as store:
            device = store.device_id
        start = time.perf_counter()
        fill(data_dir / "snapask.db", device)
        build_s = time.perf_counter() - start
        opens = []
        for _ in range(5):
            begin = time.perf_counter()
            Store.open(data_dir).close()
            opens.append((time.perf_counter() - begin) * 1000)
        with Store.open(data_dir) as store:
            figures = measure(store)
        size_mb = (data_dir / "snapask.db").stat().st_size / 1e6
    emit(
        "store",
        conversations_count=CONVERSATIONS,
        messages_count=CONVERSATIONS * MESSAGES_PER_CONVERSATION,
        build_s=round(build_s, 1),
        db_mb=round(size_mb, 1),
        open_p50_ms=round(percentile(opens, 50), 2),
        **figures,
    )


if __name__ == "__main__":
    main()
