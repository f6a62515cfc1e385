"""``relaydesk admin``: accounts (organizers and site administrators), the site policy,
password reset requests, relays and event records, straight on the data directory (or
the shared database). Works whether the server runs or not (SQLite in WAL mode lets
both at it)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from relaydesk.broker.policy import SitePolicy
    from relaydesk.broker.store import PasswordResetInfo, Store

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
    admin.add_argument(
        "--database-url",
        metavar="URL",
        help="the broker's database, e.g. postgresql+psycopg://USER@HOST/DB (default: "
        "RELAYDESK_DATABASE_URL, else the data directory's SQLite file)",
    )
    areas = admin.add_subparsers(dest="admin_area", required=True, metavar="AREA")

    user = areas.add_parser(
        "user",
        help="accounts: add, list, disable, enable, totp-reset, grant-admin, revoke-admin",
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
    add.add_argument(
        "--admin",
        action="store_true",
        help="a site administrator: may also use the admin API (policy, records, resets)",
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
    grant = user_commands.add_parser(
        "grant-admin",
        parents=[data_anywhere],
        help="make an account a site administrator (the admin API with its login)",
    )
    grant.add_argument("name")
    grant.set_defaults(handler=lambda args: user_set_admin(args, True))
    revoke = user_commands.add_parser(
        "revoke-admin",
        parents=[data_anywhere],
        help="make a site administrator an organizer only again",
    )
    revoke.add_argument("name")
    revoke.set_defaults(handler=lambda args: user_set_admin(args, False))

    _policy_commands(areas, data_anywhere)
    _reset_commands(areas, data_anywhere)

    _relay_commands(areas, data_anywhere)

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
        "--from",
        dest="since",
        type=parse_since,
        metavar="DATE",
        help="only records at or after DATE (ISO 8601: 2026-11-23 or 2026-11-23T10:00+01:00; "
        "UTC if no zone is given)",
    )
    records.add_argument(
        "--to", dest="until", type=parse_since, metavar="DATE", help="only records before DATE"
    )
    records.add_argument("--session", metavar="ID", help="only this session ID's records")
    records.add_argument(
        "--organizer", metavar="NAME", help="only the records of this organizer's sessions"
    )
    records.add_argument(
        "--members",
        action="store_true",
        help="one line per member instead: joined, left, duration, bytes in and out (the "
        "time range selects members first admitted within it)",
    )
    records.set_defaults(handler=records_export, format="csv")


def _relay_commands(
    areas: argparse._SubParsersAction[Any], data_anywhere: argparse.ArgumentParser
) -> None:
    relay = areas.add_parser(
        "relay",
        help="relays this broker places sessions on: add, list, remove",
        description="Register the relays sessions may be placed on (docs/operators.md, "
        '"Several servers"). With none registered, the embedded server\'s own relay is used.',
    )
    relay_commands = relay.add_subparsers(dest="relay_command", required=True, metavar="COMMAND")
    relay_add = relay_commands.add_parser(
        "add", parents=[data_anywhere], help="register a relay under a name, with its key"
    )
    relay_add.add_argument("name", help="the relay's --name: 1 to 32 of a-z, 0-9 and '-'")
    relay_add.add_argument(
        "--key",
        required=True,
        help="what `relaydesk relay key --data DIR` prints on the relay; write --key=KEY, "
        "since a key may begin with '-'",
    )
    relay_add.set_defaults(handler=relay_add_command)
    relay_list = relay_commands.add_parser(
        "list", parents=[data_anywhere], help="list relays: live or not, load, last heard"
    )
    relay_list.set_defaults(handler=relay_list_command)
    relay_remove = relay_commands.add_parser(
        "remove", parents=[data_anywhere], help="unregister a relay: no new sessions, no reports"
    )
    relay_remove.add_argument("name")
    relay_remove.set_defaults(handler=relay_remove_command)


def parse_since(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _open_store(args: argparse.Namespace) -> Store:
    from relaydesk.broker.store import Store  # noqa: PLC0415 - keep start-up light
    from relaydesk.server.datadir import DataDir  # noqa: PLC0415

    return Store.open(getattr(args, "database_url", None) or DataDir(args.data).database_url)


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
    from relaydesk.broker.passwords import Passwords  # noqa: PLC0415
    from relaydesk.broker.store import check_username  # noqa: PLC0415

    check_username(args.name)
    password = _read_password(args)
    with closing(_open_store(args)) as store:
        store.policy().check_account_password(password, args.name)  # the site's rules
        store.add_account(args.name, Passwords().hash(password))
        if args.admin:
            store.set_admin(args.name, True)
    what = "site administrator" if args.admin else "organizer"
    print(f"Added {what} account {args.name}.")
    return 0


def user_set_admin(args: argparse.Namespace, admin: bool) -> int:
    with closing(_open_store(args)) as store:
        changed = store.set_admin(args.name, admin)
    role = "a site administrator" if admin else "an organizer only"
    print(f"{args.name} is {role}{'' if changed else ' already'}.")
    return 0


def user_list(args: argparse.Namespace) -> int:
    with closing(_open_store(args)) as store:
        accounts = store.accounts()
    if not accounts:
        print("No accounts yet; add one with: relaydesk admin user add NAME")
        return 0
    width = max(len("NAME"), *(len(account.username) for account in accounts))
    print(f"{'NAME':<{width}}  {'STATUS':<8}  {'ROLE':<13}  CREATED (UTC)")
    for account in accounts:
        status = "disabled" if account.disabled else "active"
        role = "administrator" if account.is_admin else "organizer"
        created = account.created_at.strftime("%Y-%m-%d %H:%M")
        print(f"{account.username:<{width}}  {status:<8}  {role:<13}  {created}")
    return 0


def _set_disabled(args: argparse.Namespace, disabled: bool) -> None:
    with closing(_open_store(args)) as store:
        store.set_disabled(args.name, disabled)


def user_disable(args: argparse.Namespace) -> int:
    _set_disabled(args, True)
    print(f"Disabled {args.name}; its logins have ended.")
    return 0


def user_enable(args: argparse.Namespace) -> int:
    _set_disabled(args, False)
    print(f"Enabled {args.name}.")
    return 0


def user_totp_reset(args: argparse.Namespace) -> int:
    with closing(_open_store(args)) as store:
        was_on = store.reset_totp(args.name)
    if was_on:
        print(f"Turned off two-step login for {args.name}; the password alone logs in now.")
    else:
        print(f"{args.name} had no two-step login; nothing changed.")
    return 0


def records_export(args: argparse.Namespace) -> int:
    from relaydesk.broker.records import (  # noqa: PLC0415
        RecordFilter,
        records_to_csv,
        records_to_json,
        summaries_to_csv,
        summaries_to_json,
    )
    from relaydesk.broker.service import normalize_session_id, summaries  # noqa: PLC0415
    from relaydesk.errors import BrokerError  # noqa: PLC0415

    session_id = None
    if args.session is not None:
        session_id = normalize_session_id(args.session)
        if session_id is None:
            raise BrokerError("a session ID has 9 digits and does not start with 0")
    where = RecordFilter(session_id, args.organizer, args.since, args.until)
    with closing(_open_store(args)) as store:
        if args.members:
            found = summaries(store, where)
            text = summaries_to_json(found) + "\n" if args.format == "json" else None
            sys.stdout.write(text or summaries_to_csv(found))
            return 0
        records = store.records(where=where)
    if args.format == "json":
        sys.stdout.write(records_to_json(records) + "\n")
    else:
        sys.stdout.write(records_to_csv(records))
    return 0


def relay_add_command(args: argparse.Namespace) -> int:
    from relaydesk.broker.relays import RelayRegistry  # noqa: PLC0415

    with closing(_open_store(args)) as store:
        RelayRegistry(store).add(args.name, args.key)
    print(f"Registered relay {args.name}; start it with: relaydesk relay --name {args.name} ...")
    return 0


def relay_list_command(args: argparse.Namespace) -> int:
    from relaydesk.broker.relays import RelayRegistry  # noqa: PLC0415

    with closing(_open_store(args)) as store:
        relays = RelayRegistry(store).relays()
        now = store.now()
    if not relays:
        print("No relays registered: sessions use the embedded server's own relay.")
        return 0
    width = max(len("NAME"), *(len(relay.name) for relay in relays))
    print(f"{'NAME':<{width}}  {'LIVE':<4}  {'CONNECTIONS':>11}  {'LAST SEEN (UTC)':<19}  URL")
    for relay in relays:
        live = "yes" if relay.live(now) else "no"
        seen = relay.last_seen.strftime("%Y-%m-%d %H:%M:%S") if relay.last_seen else "never"
        print(
            f"{relay.name:<{width}}  {live:<4}  {relay.connections:>11}  {seen:<19}  "
            f"{relay.wss_url or '-'}"
        )
    return 0


def relay_remove_command(args: argparse.Namespace) -> int:
    from relaydesk.broker.relays import RelayRegistry  # noqa: PLC0415

    with closing(_open_store(args)) as store:
        RelayRegistry(store).remove(args.name)
    print(f"Removed relay {args.name}; it gets no new sessions and its reports are refused.")
    return 0


# The site policy ---------------------------------------------------------------------

POLICY_HELP = """rules (RULE=VALUE; on/off, yes/no, true/false for switches):
  require_session_password      every session needs a password
  min_account_password_chars    organizer passwords: at least N characters (12 to 128)
  min_session_password_chars    session passwords: at least N characters (0 to 128)
  strong_passwords              refuse passwords with the username, common or guessable ones
  all_unlisted                  no session is listed, whatever its organizer chose
  require_attendee_email        joining needs an e-mail address
  restricted_access             joining needs an account's login
  disable_sharing               nobody presents a screen
  disable_control               nobody takes remote control
  approve_password_resets       every password reset needs an administrator"""

SWITCH_WORDS = {"on": True, "yes": True, "true": True, "1": True,
                "off": False, "no": False, "false": False, "0": False}  # fmt: skip


def _policy_commands(areas: argparse._SubParsersAction[Any], data: argparse.ArgumentParser) -> None:
    policy = areas.add_parser(
        "policy",
        help="the site policy organizers cannot override: show, set",
        description='The site policy (docs/operators.md, "Site policy"): rules every '
        "broker on this database enforces at once, which organizers cannot override.",
    )
    commands = policy.add_subparsers(dest="policy_command", required=True, metavar="COMMAND")
    show = commands.add_parser("show", parents=[data], help="print every rule and its value")
    show.add_argument("--json", action="store_true", help="as JSON")
    show.set_defaults(handler=policy_show)
    change = commands.add_parser(
        "set",
        parents=[data],
        help="change rules: RULE=VALUE ...",
        epilog=POLICY_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    change.add_argument("changes", nargs="+", metavar="RULE=VALUE")
    change.set_defaults(handler=policy_set)


def _policy_changes(pairs: list[str]) -> dict[str, Any]:
    from relaydesk.broker.policy import RULE_NUMBERS, RULE_SWITCHES  # noqa: PLC0415
    from relaydesk.errors import BrokerError  # noqa: PLC0415

    changes: dict[str, Any] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        name = name.strip().replace("-", "_")
        if name in RULE_SWITCHES and value.strip().lower() in SWITCH_WORDS:
            changes[name] = SWITCH_WORDS[value.strip().lower()]
        elif name in RULE_NUMBERS and value.strip().isdigit():
            changes[name] = int(value)
        elif name in RULE_SWITCHES or name in RULE_NUMBERS:
            kind = "on or off" if name in RULE_SWITCHES else "a number"
            raise BrokerError(f"{name} is {kind}, not {value!r}")
        else:
            raise BrokerError(f"no site policy rule is named {name!r} (see: policy set --help)")
    return changes


def _print_policy(policy: SitePolicy) -> None:
    width = max(len(name) for name in policy.rules())
    for name, value in policy.rules().items():
        shown = ("on" if value else "off") if isinstance(value, bool) else str(value)
        print(f"{name:<{width}}  {shown}")
    if policy.updated_at is not None:
        when = policy.updated_at.strftime("%Y-%m-%d %H:%M UTC")
        print(f"(last changed {when} by {policy.updated_by})")


def policy_show(args: argparse.Namespace) -> int:
    with closing(_open_store(args)) as store:
        policy = store.policy()
    if args.json:
        print(json.dumps(policy.rules(), indent=2))
    else:
        _print_policy(policy)
    return 0


def policy_set(args: argparse.Namespace) -> int:
    changes = _policy_changes(args.changes)
    with closing(_open_store(args)) as store:
        policy = store.change_policy(changes, _operator())
    _print_policy(policy)
    return 0


def _operator() -> str:
    """Who acted, as kept with the policy and reset decisions: the system user."""
    return f"{getpass.getuser()} (admin command)"[:64]


# Password reset requests ---------------------------------------------------------------


def _reset_commands(areas: argparse._SubParsersAction[Any], data: argparse.ArgumentParser) -> None:
    resets = areas.add_parser(
        "password-reset",
        help="organizers' password reset requests: list, approve, deny",
        description="Organizers who forgot their password ask for a reset (relaydesk "
        "password-reset, or the browser's sign-in page); approve gives a one-time reset "
        'code to pass on to them out of band (docs/operators.md, "Password resets").',
    )
    commands = resets.add_subparsers(dest="reset_command", required=True, metavar="COMMAND")
    listing = commands.add_parser("list", parents=[data], help="requests waiting for you")
    listing.add_argument("--all", action="store_true", help="every request kept, decided too")
    listing.set_defaults(handler=reset_list)
    approve = commands.add_parser(
        "approve", parents=[data], help="approve a request: prints its one-time reset code"
    )
    approve.add_argument("id", type=int)
    approve.set_defaults(handler=reset_approve)
    deny = commands.add_parser("deny", parents=[data], help="deny a request")
    deny.add_argument("id", type=int)
    deny.set_defaults(handler=reset_deny)


def _reset_line(reset: PasswordResetInfo) -> str:
    asked = reset.requested_at.strftime("%Y-%m-%d %H:%M")
    decided = f"  by {reset.decided_by}" if reset.decided_by else ""
    who = f"{reset.username:<20}  {asked}  {reset.requested_from:<15}"
    return f"{reset.id:>5}  {who}  {reset.state}{decided}"


def reset_list(args: argparse.Namespace) -> int:
    with closing(_open_store(args)) as store:
        resets = store.password_resets(args.all)
    if not resets:
        print("No password reset requests." if args.all else "No password reset waits for you.")
        return 0
    print(f"{'ID':>5}  {'USERNAME':<20}  {'ASKED (UTC)':<16}  {'FROM':<15}  STATE")
    for reset in resets:
        print(_reset_line(reset))
    return 0


def reset_approve(args: argparse.Namespace) -> int:
    from datetime import timedelta  # noqa: PLC0415

    from relaydesk import limits  # noqa: PLC0415
    from relaydesk.broker.resets import new_reset_code, reset_code_hash  # noqa: PLC0415

    code = new_reset_code()
    with closing(_open_store(args)) as store:
        expires_at = store.now() + timedelta(seconds=limits.RESET_CODE_LIFETIME_SECONDS)
        reset = store.decide_password_reset(
            args.id, _operator(), code_hash=reset_code_hash(code), code_expires_at=expires_at
        )
    print(f"Approved request {reset.id} of {reset.username}. Their one-time reset code:")
    print()
    print(f"    {code}")
    print()
    print(f"Pass it on in person or by phone; it works once, until "
          f"{expires_at.strftime('%Y-%m-%d %H:%M UTC')}. It is not shown again.")  # fmt: skip
    return 0


def reset_deny(args: argparse.Namespace) -> int:
    with closing(_open_store(args)) as store:
        reset = store.decide_password_reset(args.id, _operator(), code_hash=None)
    print(f"Denied request {reset.id} of {reset.username}.")
    return 0
