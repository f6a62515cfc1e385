"""The flags every server command shares (``server``, ``broker``, ``relay``): where it
listens, its certificate, its TOML table and its log format."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

TCP_PORT_HELP = "direct TLS port (default: --port + 1; 0: any free one)"


def add_serving_flags(
    parser: argparse.ArgumentParser, table: str, port: int, public_url_help: str
) -> None:
    """--host, --port, --public-url, --cert, --key, --config (its [TABLE]), --log-format."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=port, help="port (0: any free one)")
    parser.add_argument("--public-url", help=public_url_help)
    parser.add_argument(
        "--cert", type=Path, help="TLS certificate (PEM) instead of a generated one"
    )
    parser.add_argument("--key", type=Path, help="the certificate's private key (PEM)")
    parser.add_argument("--config", type=Path, help=f"TOML file; its [{table}] table sets flags")
    parser.add_argument("--log-format", choices=("text", "json"), default="text")
    parser.set_defaults(parser=parser, table=table)


def configure(args: argparse.Namespace) -> None:
    """Fill the flags not given from the --config file's table, then set up logging."""
    from relaydesk.ops import config, logs  # noqa: PLC0415 - only when a server starts

    parser: argparse.ArgumentParser = args.parser
    config.apply(parser, args, args.table, config.given_flags(parser, sys.argv[1:]))
    logs.configure(args.log_format)
