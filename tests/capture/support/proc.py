"""Subprocess helpers: read a child's output lines with deadlines instead of sleeps."""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


class Child:
    """A running Python script whose stdout lines can be awaited."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        full_env = dict(os.environ)
        full_env["PYTHONPATH"] = str(REPO)
        full_env.update(env or {})
        self.process = subprocess.Popen(
            [sys.executable, *args],
            env=full_env,
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=self._pump_stderr, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _pump_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line)

    def next_line(self, timeout: float = 20.0) -> str:
        """The next stdout line; AssertionError with the child's stderr on timeout or exit."""
        deadline = time.monotonic() + timeout
        try:
            line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no output within {timeout} s; stderr:\n{self.stderr}") from None
        if line is None:
            self.process.wait(5)
            raise AssertionError(
                f"child exited ({self.process.returncode}) early; stderr:\n{self.stderr}"
            )
        return line

    def wait_for(self, prefix: str, timeout: float = 20.0) -> str:
        """Skip lines until one starts with `prefix`; return it."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.next_line(max(0.01, deadline - time.monotonic()))
            if line.startswith(prefix):
                return line

    def send(self, line: str) -> None:
        """Write one line to the child's stdin."""
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    @property
    def stderr(self) -> str:
        """What the child wrote to stderr so far."""
        return "".join(self._stderr)

    def stop(self) -> None:
        """Terminate the child (kill it if it does not exit)."""
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(5)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
