"""The embedded server: broker and relay in one process (``relaydesk server``).

``datadir`` keeps what the server needs between runs: the database, the broker's signing
key and the TLS certificate (docs/operators.md).
"""

DEFAULT_PORT = 8443
