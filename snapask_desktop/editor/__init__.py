"""The picture editor's pure core: marks in image pixels, the undo stack, view geometry.

No Qt and no Pillow here: `ui/chat/editor.py` draws and takes input, `editor/render.py` paints
the final bytes (the one place used for sending, storing and syncing).
"""
