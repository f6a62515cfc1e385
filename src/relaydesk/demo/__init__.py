"""``relaydesk demo``: the embedded server with a live demo share, or a walk-through of
the protocol in one process."""
