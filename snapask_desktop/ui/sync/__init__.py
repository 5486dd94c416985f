"""Sync seen from the tray app: the Qt bridge to the sync thread, the sync service, its page."""
