"""``relaydesk admin``: organizer accounts and event records, straight on the data
directory. Works whether the server runs or not (SQLite in WAL mode lets both at it)."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from relaydesk.broker.store import Store

DATA_HELP = "the server's data directory (default: relaydesk's folder in your user data directory)"


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    # --data is accepted before the area (`admin --data DIR user list`) and at the end
    # (`admin user list --data DIR`); SUPPRESS keeps the later one from erasing the first.
    data_anywhere = argparse.ArgumentParser(add_help=False)
    data_anywhere.add_argument(
        "--data", type=Path, metavar="DIR", default=argparse.SUPPRESS, help=DATA_HELP
    )
    admin = commands.add_parser(
        "admin",
        help="manage organizer accounts and export event records",
        description="Manage organizer accounts and export event records, on the server's "
        "data directory, whether the server is running or not.",
    )
    admin.add_argument("--data", type=Path, metavar="DIR", default=None, help=DATA_HELP)
    areas = admin.add_subparsers(dest="admin_area", required=True, metavar="AREA")

    user = areas.add_parser(
        "user", help="organizer accounts: add, list, disable, enable, totp-reset"
    )
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="COMMAND")
    add = user_commands.add_parser(
        "add", parents=[data_anywhere], help="add an organizer account (asks for its password)"
    )
    add.add_argument("name", help="the username to log in with")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input instead of asking",
    )
    add.set_defaults(handler=user_add)
    listing = user_commands.add_parser("list", parents=[data_anywhere], help="list accounts")
    listing.set_defaults(handler=user_list)
    disable = user_commands.add_parser(
        "disable", parents=[data_anywhere], help="disable an account and end its logins"
    )
    disable.add_argument("name")
    disable.set_defaults(handler=user_disable)
    enable = user_commands.add_parser(
        "enable", parents=[data_anywhere], help="enable a disabled account again"
    )
    enable.add_argument("name")
    enable.set_defaults(handler=user_enable)
    totp_reset = user_commands.add_parser(
        "totp-reset",
        parents=[data_anywhere],
        help="turn off an account's two-step login (a lost phone); its recovery codes go too",
        description="Turn off the two-step login (TOTP) of an account whose owner lost "
        "their authenticator app and recovery codes. The password alone logs in again; "
        "they can turn two-step login on anew. Their current logins stay.",
    )
    totp_reset.add_argument("name")
    totp_reset.set_defaults(handler=user_totp_reset)

    records = areas.add_parser(
        "records",
        parents=[data_anywhere],
        help="print event records (CSV or JSON)",
        description="Print event records (session start and end, members joining and "
        "leaving, bytes moved), oldest first. Metadata only: no content exists to export.",
    )
    output = records.add_mutually_exclusive_group()
    output.add_argument(
        "--csv", dest="format", action="store_const", const="csv", help="CSV (the default)"
    )
    output.add_argument("--json", dest="format", action="store_const", const="json", help="JSON")
    records.add_argument(
        "--since",
        type=parse_since,
        metavar="DATE",
        help="only records at or after DATE (ISO 8601: 2026-11-23 or 2026-11-23T10:00+01:00; "
        "UTC if no zone is given)",
    )
    records.set_defaults(handler=records_export, format="csv")


def parse_since(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _open_store(args: argparse.Namespace) -> Store:
    from relaydesk.broker.store import Store  # noqa: PLC0415 - keep start-up light
    from relaydesk.server.datadir import DataDir  # noqa: PLC0415

    return Store.open(DataDir(args.data).database_url)


def _read_password(args: argparse.Namespace) -> str:
    from relaydesk.errors import BrokerError  # noqa: PLC0415

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise BrokerError("no terminal to ask for the password on: use --password-stdin")
    password = getpass.getpass(f"Password for {args.name}: ")
    if getpass.getpass("The same password again: ") != password:
        raise BrokerError("the two passwords differ; no account was added")
    return password


def user_add(args: argparse.Namespace) -> int:
    from relaydesk.broker.passwords import Passwords, check_account_password  # noqa: PLC0415
    from relaydesk.broker.store import check_username  # noqa: PLC0415

    check_username(args.name)
    password = _read_password(args)
    check_account_password(password)
    store = _open_store(args)
    try:
        store.add_account(args.name, Passwords().hash(password))
    finally:
        store.close()
    print(f"Added organizer account {args.name}.")
    return 0


def user_list(args: argparse.Namespace) -> int:
    store = _open_store(args)
    try:
        accounts = store.accounts()
    finally:
        store.close()
    if not accounts:
        print("No accounts yet; add one with: relaydesk admin user add NAME")
        return 0
    width = max(len("NAME"), *(len(account.username) for account in accounts))
    print(f"{'NAME':<{width}}  {'STATUS':<8}  CREATED (UTC)")
    for account in accounts:
        status = "disabled" if account.disabled else "active"
        created = account.created_at.strftime("%Y-%m-%d %H:%M")
        print(f"{account.username:<{width}}  {status:<8}  {created}")
    return 0


def _set_disabled(args: argparse.Namespace, disabled: bool) -> None:
    store = _open_store(args)
    try:
        store.set_disabled(args.name, disabled)
    finally:
        store.close()


def user_disable(args: argparse.Namespace) -> int:
    _set_disabled(args, True)
    print(f"Disabled {args.name}; its logins have ended.")
    return 0


def user_enable(args: argparse.Namespace) -> int:
    _set_disabled(args, False)
    print(f"Enabled {args.name}.")
    return 0


def user_totp_reset(args: argparse.Namespace) -> int:
    store = _open_store(args)
    try:
        was_on = store.reset_totp(args.name)
    finally:
        store.close()
    if was_on:
        print(f"Turned off two-step login for {args.name}; the password alone logs in now.")
    else:
        print(f"{args.name} had no two-step login; nothing changed.")
    return 0


def records_export(args: argparse.Namespace) -> int:
    from relaydesk.broker.records import records_to_csv, records_to_json  # noqa: PLC0415

    store = _open_store(args)
    try:
        records = store.records(args.since)
    finally:
        store.close()
    if args.format == "json":
        sys.stdout.write(records_to_json(records) + "\n")
    else:
        sys.stdout.write(records_to_csv(records))
    return 0
