"""The ``relaydesk`` command: one sub-command module per area, each adding its parsers."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from relaydesk import __version__
from relaydesk.errors import RelaydeskError

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    from relaydesk.cli import admin, broker, client, demo, recording, relay, server  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        prog="relaydesk",
        description="Self-hosted, end-to-end encrypted screen sharing and remote support.",
    )
    parser.add_argument("--version", action="version", version=f"relaydesk {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (server, broker, relay, admin, client, recording, demo):
        module.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except RelaydeskError as error:
        print(f"relaydesk: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
