"""The device's sync client (I/O: WebSocket, HTTP, keyring, the store); the pure core it
speaks through is the package above, shared with the server."""
