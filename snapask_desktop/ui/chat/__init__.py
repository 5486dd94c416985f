"""The floating chat window: capture to picture, controller, widgets, answers and their workers."""
