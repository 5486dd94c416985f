"""Helpers shared by the test suite (fake endpoints, keyring backend, process helpers)."""
