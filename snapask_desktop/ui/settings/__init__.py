"""The settings dialog, one module a page, and the hotkey recorder."""
