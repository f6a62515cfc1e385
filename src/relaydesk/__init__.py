"""relaydesk: self-hosted, end-to-end encrypted screen sharing and remote support."""

__version__ = "0.1.0"
