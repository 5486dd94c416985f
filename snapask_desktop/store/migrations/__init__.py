"""Alembic migration scripts of the local store (shipped as package data)."""
