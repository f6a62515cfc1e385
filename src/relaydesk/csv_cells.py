"""CSV cells that spreadsheet programs take as text (the broker's record exports, the
client's billing log)."""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """Display names and e-mail addresses are chosen by whoever joins: one starting with
    = + - @ would be read as a formula by spreadsheet programs (CSV injection). A leading
    quote stops it."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
