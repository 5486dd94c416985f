"""Server settings: where the data lives, what to listen on, and the tunable limits."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from snapask_desktop.sync import limits

DATA_DIR_ENV = "SNAPASK_SERVER_DIR"
METRICS_TOKEN_ENV = "SNAPASK_METRICS_TOKEN"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def default_data_dir() -> Path:
    """SNAPASK_SERVER_DIR, else the platform's user data folder + ``SnapAsk/server``."""
    value = os.environ.get(DATA_DIR_ENV, "").strip()
    if value:
        return Path(value).expanduser()
    return Path(platformdirs.user_data_dir("SnapAsk", appauthor=False)) / "server"


def sqlite_url(data_dir: Path) -> str:
    """The default database: ``DIR/server.db``."""
    return f"sqlite+pysqlite:///{data_dir / 'server.db'}"


@dataclass(frozen=True, slots=True)
class SignInLimits:
    """Limits on ``POST /v1/devices`` attempts (server/signin_limits.py says how they combine)."""

    # Per address, whatever the user name.
    per_address_burst: int = 30
    per_address_per_s: float = 1.0
    # Per user name from one address.
    per_name_address_burst: int = 10
    per_name_address_per_s: float = 0.2
    # Per user name from all addresses together, except those the user signed in from before.
    # Faster than one address's share, so a single guessing address cannot drain it.
    per_name_burst: int = 20
    per_name_per_s: float = 0.4
    # Buckets remembered per kind; a full table refuses new requesters until one refills.
    max_tracked: int = 10_000
    # Sign-ins waiting for a password check; beyond it, 503 with Retry-After.
    max_pending: int = 32


@dataclass(frozen=True, slots=True)
class BlobQuota:
    """What one user may hold in pictures, checked when an upload starts (``quota_exceeded``)."""

    # Complete pictures plus the declared sizes of uploads in progress.
    stored_bytes: int = 10 * 1024**3
    # Declared sizes of uploads in progress.
    in_flight_bytes: int = 256 * 1024**2
    incomplete_uploads: int = 10
    # An upload in progress untouched this long is removed with its bytes.
    idle_s: float = 3600.0


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Everything a SyncServer needs; the defaults are the protocol's numbers."""

    data_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    database_url: str | None = None  # None: SQLite in data_dir/server.db
    hello_timeout_ms: int = limits.HELLO_TIMEOUT_MS
    max_connections_per_user: int = limits.MAX_CONNECTIONS_PER_USER
    frames_per_second: int = limits.FRAMES_PER_SECOND
    frame_burst: int = limits.FRAME_BURST
    max_drift_ms: int = limits.MAX_DRIFT_MS
    # How often connected devices are checked for revoked tokens and progress is saved.
    housekeeping_interval_s: float = 1.0
    # How often deleted conversations are considered for collection (section 10), and
    # abandoned uploads removed.
    collect_interval_s: float = 3600.0
    ping_interval_s: float | None = 20.0
    ping_timeout_s: float | None = 20.0
    # Seconds healthz answers 503 before the port closes on shutdown (for load balancers).
    drain_s: float = 0.0
    # Bytes of frames waiting for one connection's socket. Over it, the connection's requests
    # are not read (backpressure); a live frame that would take the queue past twice this drops
    # the connection (its device reconnects and pulls).
    send_buffer_bytes: int = 4 * 1024 * 1024
    # A connection whose device takes none of its waiting frames for this long is dropped
    # (keepalive pings cannot fire while the socket's buffer is full).
    send_stall_s: float = 20.0
    sign_in: SignInLimits = field(default_factory=SignInLimits)
    blob_quota: BlobQuota = field(default_factory=BlobQuota)
    # Several instances: Redis for live frames between them (None: one process, in-process
    # fanout), this instance's name in logs and metrics, and how often live connections are
    # compared with the log while Redis is healthy (every housekeeping round while it is not).
    # Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For is believed.
    trusted_proxies: tuple[str, ...] = ()
    redis_url: str | None = None
    instance: str = ""
    catch_up_interval_s: float = 5.0
    # GET /metrics needs this as a Bearer token when set; unset, only loopback peers get it.
    # Read from SNAPASK_METRICS_TOKEN by `serve` (never a command-line argument: ps shows those).
    metrics_token: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The database URL actually used."""
        return self.database_url or sqlite_url(self.data_dir)

    @property
    def blob_dir(self) -> Path:
        """Blob bytes: ``DIR/blobs`` (content-addressed) and ``DIR/blobs/partial``."""
        return self.data_dir / "blobs"
