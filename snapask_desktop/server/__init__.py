"""The bundled sync server ``snapask-sync-server`` (docs/server.md, docs/sync-protocol.md)."""
