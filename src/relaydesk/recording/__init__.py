"""Recording a session on the host's own client: the tamper-evident file (format.py),
its writer, its verifier and the export to an ordinary video (docs/protocol.md §12)."""
