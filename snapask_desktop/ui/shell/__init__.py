"""The app's frame: the tray icon and menu, the launcher for desktops without a tray, welcome."""
