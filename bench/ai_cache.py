"""Benchmark: a repeated question on the same picture (answer-cache hit) vs a fresh answer.

A real AIClient (real google-genai SDK, real SQLite cache file, the thread-facing
AnswerStream) against the fake Gemini server on 127.0.0.1. The question carries a full-HD
screenshot, unprepared, as the conversation service sends it. Target: hit p50 <= 5 ms.
Run: ``python -m bench.ai_cache``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench`, `tests` and the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import emit, percentile
from snapask_desktop.ai import AIClient, AnswerCache, AskRequest, ImageInput, Turn
from snapask_desktop.ai.gemini import GeminiProvider
from tests.ai.screens import png_bytes, screenshot
from tests.support.fake_gemini import FakeGemini

MISSES = 10
HITS = 200
MODEL = "gemini-2.5-flash"


def timed_answer(client: AIClient, request: AskRequest) -> tuple[float, bool]:
    """Ask and read the whole answer through AnswerStream: (ms, from_cache)."""
    start = time.perf_counter()
    stream = client.ask(request)
    stream.result()
    return (time.perf_counter() - start) * 1000, stream.from_cache


def main() -> None:
    image = ImageInput.from_bytes(png_bytes(screenshot(1920, 1080)))

    def question(text: str) -> AskRequest:
        return AskRequest(model=MODEL, turns=(Turn("user", text, image),))

    with tempfile.TemporaryDirectory() as tmp, FakeGemini(accepted_keys={"k"}) as fake:
        provider = GeminiProvider("k", base_url=fake.url)
        with AIClient(provider, cache=AnswerCache(Path(tmp) / "answer-cache.db")) as client:
            first_ms, _ = timed_answer(client, question("What is on this screen? (first)"))
            misses = [timed_answer(client, question(f"Question {i}?"))[0] for i in range(MISSES)]
            hits = []
            for _ in range(HITS):
                ms, from_cache = timed_answer(client, question("Question 0?"))
                assert from_cache
                hits.append(ms)
            requests = len(fake.generate_requests())
    emit(
        "ai_cache",
        cache_hit_p50_ms=round(percentile(hits, 50), 3),
        cache_hit_p95_ms=round(percentile(hits, 95), 3),
        cache_miss_p50_ms=round(percentile(misses, 50), 2),
        cache_miss_first_ms=round(first_ms, 2),
        hits_count=HITS,
        misses_count=MISSES,
        requests_count=requests,
    )


if __name__ == "__main__":
    main()
