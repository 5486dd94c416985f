"""Benchmark: rendering a long Markdown answer in the chat window's view (offscreen Qt).

A 15 KB answer of six parts, each prose, a heading and a 42-line Python block: the first render
(a reopened conversation: every piece built), a streamed update (a word appended: what runs up
to 30 times a second while an answer streams) and the time to the first coloured code block
in a fresh process (Pygments' import and lexer). Run: ``python -m bench.answer_render``.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench`, `tests` and the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from bench._common import emit

ROUNDS = 10
CODE = "\n".join(f"    result_{n} = compute(value_{n}, factor={n} * 2)  # {n}" for n in range(40))
PART = (
    "Some **prose** with `inline` code and a [link](https://example.com).\n\n"
    f"### Step\n\n```python\ndef f():\n{CODE}\n    return 1\n```\n\n"
)
ANSWER = PART * 6


def main() -> None:
    app = QApplication.instance() or QApplication([])
    started = time.perf_counter()
    from snapask_desktop.ui.chat import markdown_view

    view = markdown_view.MarkdownView()
    view.resize(440, 400)
    view.show()
    view.set_markdown("```python\nprint(1)\n```")
    view.flush()
    first_code_ms = (time.perf_counter() - started) * 1000
    view.deleteLater()
    app.processEvents()

    first: list[float] = []
    update: list[float] = []
    for round_ in range(ROUNDS + 1):
        view = markdown_view.MarkdownView()
        view.resize(440, 400)
        view.show()
        t = time.perf_counter()
        view.set_markdown(ANSWER)
        view.flush()
        app.processEvents()
        built = time.perf_counter() - t
        t = time.perf_counter()
        view.set_markdown(ANSWER + "more")
        view.flush()
        app.processEvents()
        streamed = time.perf_counter() - t
        if round_:  # the first round warms the caches
            first.append(built * 1000)
            update.append(streamed * 1000)
        view.deleteLater()
        app.processEvents()
    emit(
        "answer_render",
        answer_bytes=len(ANSWER.encode()),
        first_coloured_block_ms=round(first_code_ms, 1),
        first_render_p50_ms=round(statistics.median(first), 1),
        streamed_update_p50_ms=round(statistics.median(update), 1),
        load_1min=os.getloadavg()[0],
    )


if __name__ == "__main__":
    main()
