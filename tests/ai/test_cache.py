"""AnswerCache on real SQLite files, and the cache key's canonical form."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from snapask_desktop.ai.cache import CACHE_FILENAME, AnswerCache, cache_key
from snapask_desktop.ai.types import AskRequest, ImageInput, Turn


def request(*turns: Turn, model: str = "m", system: str | None = None) -> AskRequest:
    return AskRequest(model=model, turns=turns or (Turn("user", "q"),), system=system)


IMG_A = ImageInput.from_bytes(b"picture A")
IMG_B = ImageInput.from_bytes(b"picture B")


def test_put_get_and_persistence(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILENAME
    cache = AnswerCache(path)
    assert cache.get("k") is None
    cache.put("k", "The answer — with ünïcode ✓")
    assert cache.get("k") == "The answer — with ünïcode ✓"
    cache.close()
    reopened = AnswerCache(path)
    assert reopened.get("k") == "The answer — with ünïcode ✓"
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    reopened.close()


def test_stats_and_clear(tmp_path: Path) -> None:
    cache = AnswerCache(tmp_path / "c.db")
    cache.put("a", "xx")
    cache.put("b", "é")
    cache.get("a")
    cache.get("missing")
    stats = cache.stats()
    assert (stats.entries, stats.text_bytes, stats.hits, stats.misses) == (2, 4, 1, 1)
    assert cache.clear() == 2
    assert cache.get("a") is None
    assert cache.stats().entries == 0


def test_oldest_entries_are_evicted(tmp_path: Path) -> None:
    cache = AnswerCache(tmp_path / "c.db", max_entries=3)
    for i in range(5):
        cache.put(f"k{i}", f"answer {i}")
    assert cache.stats().entries == 3
    assert cache.get("k0") is None
    assert cache.get("k4") == "answer 4"


def test_threads_share_one_cache(tmp_path: Path) -> None:
    cache = AnswerCache(tmp_path / "c.db")
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                cache.put(f"{n}-{i}", f"text {n} {i}")
                assert cache.get(f"{n}-{i}") == f"text {n} {i}"
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert cache.stats().entries == 200


def test_damaged_file_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    path.write_bytes(b"this is not a database file at all" * 100)
    cache = AnswerCache(path)
    cache.put("k", "v")
    assert cache.get("k") == "v"
    assert [p.name.startswith("c.db.corrupt-") for p in tmp_path.iterdir()].count(True) == 1


def test_key_is_stable_and_covers_everything() -> None:
    base = request(Turn("user", "What is this?", IMG_A))
    key = cache_key("gemini", base, "prep-v1")
    assert key == cache_key("gemini", request(Turn("user", "What is this?", IMG_A)), "prep-v1")
    assert len(key) == 64
    variants = [
        cache_key("openai", base, "prep-v1"),
        cache_key("gemini", base, "prep-v2"),
        cache_key("gemini", request(Turn("user", "What is this?", IMG_B)), "prep-v1"),
        cache_key("gemini", request(Turn("user", "What is that?", IMG_A)), "prep-v1"),
        cache_key("gemini", request(Turn("user", "What is this?")), "prep-v1"),
        cache_key("gemini", request(Turn("user", "What is this?", IMG_A), model="x"), "prep-v1"),
        cache_key("gemini", request(Turn("user", "What is this?", IMG_A), system="s"), "prep-v1"),
        cache_key(
            "gemini",
            request(
                Turn("user", "Hi"), Turn("model", "Hello"), Turn("user", "What is this?", IMG_A)
            ),
            "prep-v1",
        ),
    ]
    assert len({key, *variants}) == len(variants) + 1


def test_key_ignores_the_bytes_but_not_their_hash() -> None:
    # The key is computed from the hash only, so a repeated question needs no image work.
    same_hash = ImageInput(data=b"", mime="image/png", sha256=IMG_A.sha256)
    assert cache_key("g", request(Turn("user", "q", same_hash))) == cache_key(
        "g", request(Turn("user", "q", IMG_A))
    )


def test_role_boundaries_matter() -> None:
    # Canonical JSON, not string concatenation: moving text between turns changes the key.
    a = request(Turn("user", "ab"), Turn("model", "c"), Turn("user", "d"))
    b = request(Turn("user", "a"), Turn("model", "bc"), Turn("user", "d"))
    assert cache_key("g", a) != cache_key("g", b)


def test_clear_leaves_no_answer_text_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "answer-cache.db"
    cache = AnswerCache(path)
    secret = "the-private-answer-" * 50
    for n in range(20):
        cache.put(f"key-{n}", f"{secret}{n}")
    assert cache.clear() == 20
    cache.close()
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"the-private-answer-" not in on_disk
