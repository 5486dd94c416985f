"""The tray app's windows, grouped by feature; shared look, placement and worker helpers here."""
