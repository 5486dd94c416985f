"""SnapAsk: capture the screen, ask an AI about it, keep every conversation locally and in sync."""

__version__ = "0.1.0"
