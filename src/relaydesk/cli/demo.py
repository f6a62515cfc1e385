"""``relaydesk demo``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from relaydesk.server import DEFAULT_PORT


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    parser = commands.add_parser(
        "demo",
        help="run the embedded server with a live demo share (Ctrl+C stops it)",
        description="Start the embedded server and share a screen ($DISPLAY, else a "
        "private virtual screen with a terminal), printing how to join it.",
    )
    parser.add_argument("--data", type=Path, help="data directory for the demo server")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (0: any free one)")
    parser.add_argument(
        "--walkthrough",
        action="store_true",
        help="instead, walk through the end-to-end protocol in one process and exit",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.walkthrough:
        from relaydesk.demo import walkthrough  # noqa: PLC0415 - keep start-up light

        walkthrough.run()
        return 0
    import uvloop  # noqa: PLC0415

    from relaydesk.demo import share  # noqa: PLC0415

    data = args.data or share.default_demo_data()
    display = os.environ.get("DISPLAY") or None
    uvloop.run(share.run(data, args.port, display, say=lambda line: print(line, flush=True)))
    return 0
