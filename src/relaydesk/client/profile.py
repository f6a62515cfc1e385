"""The client's profile: trusted certificates and organizer tokens, one entry per server.

Kept in ``servers.json`` in the config directory (``--config-dir``, else
``$RELAYDESK_CONFIG_DIR``, else the platform's user config folder), readable only by its
owner because it holds login tokens.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import platformdirs

from relaydesk.errors import ClientError

PROFILE_FILE = "servers.json"


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
        temporary = self.path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(data)
        temporary.replace(self.path)
