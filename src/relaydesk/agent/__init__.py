"""The presenter's side: screen capture loop (and, later, input injection and consent)."""
