"""Does docs/protocol.md still name everything the code defines on the wire?

Checks that every frame type (code and name), close code, error class, message
enumeration value, ticket rule bit, the ticket version and every limit in
``src/relaydesk`` appears in docs/protocol.md, and prints
what is missing. Run it after changing frames.py, messages.py, errors.py or limits.py:

    .venv/bin/python scripts/check_protocol_doc.py
"""

from __future__ import annotations

import inspect
import re
import sys
from enum import IntEnum
from pathlib import Path

from relaydesk import errors, limits
from relaydesk.protocol import messages
from relaydesk.protocol.frames import Channel, Flags, FrameType
from relaydesk.protocol.tickets import TICKET_VERSION, TicketRule

DOC = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"


def missing(doc: str) -> list[str]:
    gaps = []
    for frame_type in FrameType:
        if f"`0x{frame_type.value:02X}` | `{frame_type.name}`" not in doc:
            gaps.append(f"frame type 0x{frame_type.value:02X} {frame_type.name} (§2.3 table)")
    for flag in Flags:
        if flag.value and f"`0x{flag.value:04x}` | `{flag.name}`" not in doc:
            gaps.append(f"flag {flag.name} (§2.4 table)")
    for code in errors.CloseCode:
        if f"| {code.value} | `{code.name}` |" not in doc:
            gaps.append(f"close code {code.value} {code.name} (§9 table)")
    for name, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, errors.RelaydeskError) and not re.search(rf"\b{name}\b", doc):
            gaps.append(f"error {name} (§9 tree)")
    enums: list[type[IntEnum] | type[TicketRule]] = [Channel, TicketRule] + [
        cls
        for _, cls in inspect.getmembers(messages, inspect.isclass)
        if issubclass(cls, IntEnum) and cls.__module__ == messages.__name__
    ]
    for enum in enums:
        for member in enum:
            if not re.search(rf"`{member.name}`[^|\n]{{0,12}}\b{member.value}\b", doc) and (
                f"| {member.value} | `{member.name}` |" not in doc
            ):
                gaps.append(f"{enum.__name__}.{member.name} = {member.value}")
    if f"`int [{TICKET_VERSION}, {TICKET_VERSION}]`" not in doc:
        gaps.append(f"ticket version {TICKET_VERSION} (§7.2 table)")
    for name in dir(limits):
        if name.isupper() and name not in ("KIB", "MIB") and f"`{name}`" not in doc:
            gaps.append(f"limit {name} = {getattr(limits, name)} (§10 table)")
    return gaps


def main() -> int:
    gaps = missing(DOC.read_text(encoding="utf-8"))
    for gap in gaps:
        print(f"docs/protocol.md does not mention {gap}")
    if not gaps:
        print("docs/protocol.md names every frame type, flag, close code, error, enum and limit")
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(main())
