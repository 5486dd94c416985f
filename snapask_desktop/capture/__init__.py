"""Screen capture: grab backends (mss, Wayland portal), the region overlay, global hotkeys.

Nothing is imported here, so `import snapask_desktop.capture.geometry` stays free of Qt,
mss and pynput. See docs/capture.md for the coordinate model and the hotkey defaults.
"""
