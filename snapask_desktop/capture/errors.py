"""Capture failures, each with a message a person can act on."""

from __future__ import annotations


class CaptureError(Exception):
    """A screenshot could not be taken; `str()` is the plain-language reason and fix."""


class CaptureCancelled(CaptureError):
    """The person (or the system on their behalf) declined the screenshot."""
