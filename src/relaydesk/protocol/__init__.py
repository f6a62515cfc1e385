"""The pure protocol core: wire format, messages, keys, sealed content, session rules.

Nothing here does I/O, reads a clock or draws randomness: drivers inject all three.
"""
