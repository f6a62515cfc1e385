"""The Python client: login, certificate pinning, the broker API and the relay link."""
