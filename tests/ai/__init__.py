"""Tests of the AI layer (providers against local fakes, image prep, cache, resilience)."""
