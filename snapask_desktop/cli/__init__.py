"""The headless command line: the same services the tray app uses, from a terminal."""
