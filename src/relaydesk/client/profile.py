"""The client's profile: trusted certificates and organizer tokens, one entry per server.

Kept in ``servers.json`` in the config directory (``--config-dir``, else
``$RELAYDESK_CONFIG_DIR``, else the platform's user config folder), readable only by its
owner because it holds login tokens.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import platformdirs
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from relaydesk.errors import ClientError

PROFILE_FILE = "servers.json"
RECORDER_KEY_FILE = "recorder.key"  # the Ed25519 key that signs recordings (32-byte seed)


def default_config_dir() -> Path:
    configured = os.environ.get("RELAYDESK_CONFIG_DIR")
    return Path(configured) if configured else Path(platformdirs.user_config_dir("relaydesk"))


def server_key(url: str) -> str:
    """https://HOST:PORT of any address on that server."""
    from relaydesk.client.tls import host_and_port  # noqa: PLC0415

    host, port = host_and_port(url)
    host = f"[{host}]" if ":" in host else host
    return f"https://{host}:{port}"


@dataclass
class ServerEntry:
    fingerprint: str
    certificate: str  # PEM
    username: str = ""
    token: str = ""


class Profile:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_config_dir()
        self.path = self.directory / PROFILE_FILE
        self.servers: dict[str, ServerEntry] = {}
        if self.path.exists():
            self.servers = self._load()

    def _load(self) -> dict[str, ServerEntry]:
        try:
            raw: dict[str, dict[str, Any]] = json.loads(self.path.read_text())
            return {url: ServerEntry(**entry) for url, entry in raw.items()}
        except (OSError, ValueError, TypeError) as error:
            raise ClientError(f"cannot read the profile {self.path}: {error}") from None

    def get(self, url: str) -> ServerEntry | None:
        return self.servers.get(server_key(url))

    def put(self, url: str, entry: ServerEntry) -> None:
        self.servers[server_key(url)] = entry
        self.save()

    def save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = json.dumps({url: asdict(e) for url, e in self.servers.items()}, indent=2)
        # A name of its own (mode 0600): two commands saving at once must not rename
        # each other's half-written file away; the last one to finish wins.
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".servers-", suffix=".tmp")
        with os.fdopen(fd, "w") as file:
            file.write(data)
        os.replace(temporary, self.path)

    def recorder_key(self) -> Ed25519PrivateKey:
        """This profile's long-term recording key, made on first use: it signs every
        recording this client makes (docs/meetings.md, "Recording"). Its owner's alone."""
        path = self.directory / RECORDER_KEY_FILE
        try:
            seed = path.read_bytes()
        except FileNotFoundError:
            seed = os.urandom(32)
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".recorder-")
            with os.fdopen(fd, "wb") as file:
                file.write(seed)
            try:  # never replaces a key made meanwhile by another command
                os.link(temporary, path)
            except FileExistsError:
                pass
            finally:
                os.unlink(temporary)
            seed = path.read_bytes()
        except OSError as error:
            raise ClientError(f"cannot read the recording key {path}: {error}") from None
        if len(seed) != 32:
            raise ClientError(f"the recording key {path} is not 32 bytes")
        return Ed25519PrivateKey.from_private_bytes(seed)
