"""Exit codes of the `snapask` command."""

OK = 0
FAILED = 1
USAGE = 2
INTERRUPTED = 130
