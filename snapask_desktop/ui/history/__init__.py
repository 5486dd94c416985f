"""The history window: lazy list model, search, edits and thumbnails."""
