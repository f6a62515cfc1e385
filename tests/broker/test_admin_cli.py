"""``relaydesk admin``: accounts and record exports, on a data directory."""

from __future__ import annotations

import csv
import io
import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from broker_testing import FakeClock
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from relaydesk.broker.records import CSV_COLUMNS
from relaydesk.broker.store import Store, TotpState
from relaydesk.cli import main
from relaydesk.protocol.messages import Role
from relaydesk.relay.identity import public_text
from relaydesk.server.datadir import DATABASE_URL_ENV, DataDir

PASSWORD = "a long enough passphrase"
RELAYDESK = Path(sys.executable).parent / "relaydesk"


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataDir:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    return DataDir(tmp_path / "data")


@pytest.fixture
def server_store(data: DataDir, clock: FakeClock) -> Iterator[Store]:
    """The store a running server would hold open on the same directory."""
    store = Store.open(data.database_url, clock)
    yield store
    store.close()


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def admin(data: DataDir, *args: str, stdin: str | io.StringIO = "") -> int:
    sys.stdin = io.StringIO(stdin) if isinstance(stdin, str) else stdin
    try:
        return main(["admin", "--data", str(data.path), *args])
    finally:
        sys.stdin = sys.__stdin__


def test_add_list_disable(data: DataDir, capsys: pytest.CaptureFixture[str]) -> None:
    assert admin(data, "user", "add", "alice", "--password-stdin", stdin=PASSWORD + "\n") == 0
    assert capsys.readouterr().out == "Added organizer account alice.\n"
    assert admin(data, "user", "add", "bob", "--password-stdin", stdin=PASSWORD) == 0
    capsys.readouterr()
    assert admin(data, "user", "disable", "bob") == 0
    assert "Disabled bob" in capsys.readouterr().out
    assert admin(data, "user", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "ROLE", "CREATED", "(UTC)"]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["alice", "active", "organizer"],
        ["bob", "disabled", "organizer"],
    ]
    assert admin(data, "user", "enable", "bob") == 0


def test_stored_passwords_are_argon2id_hashes(data: DataDir) -> None:
    assert admin(data, "user", "add", "alice", "--password-stdin", stdin=PASSWORD) == 0
    store = Store.open(data.database_url)
    try:
        found = store.account("alice")
    finally:
        store.close()
    assert found is not None
    assert found[1].startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # the library's defaults


def test_refusals(data: DataDir, capsys: pytest.CaptureFixture[str]) -> None:
    assert admin(data, "user", "add", "alice", "--password-stdin", stdin="short\n") == 1
    assert "at least 12 characters" in capsys.readouterr().err
    assert admin(data, "user", "add", "alice", "--password-stdin", stdin=PASSWORD) == 0
    assert admin(data, "user", "add", "alice", "--password-stdin", stdin=PASSWORD) == 1
    assert "exists already" in capsys.readouterr().err
    assert admin(data, "user", "add", "no body", "--password-stdin", stdin=PASSWORD) == 1
    assert "username" in capsys.readouterr().err
    assert admin(data, "user", "disable", "nobody") == 1
    assert "no account is named 'nobody'" in capsys.readouterr().err


def test_without_a_terminal_the_password_must_come_on_stdin(
    data: DataDir, capsys: pytest.CaptureFixture[str]
) -> None:
    assert admin(data, "user", "add", "alice") == 1
    assert "--password-stdin" in capsys.readouterr().err


def test_interactive_password_is_asked_twice(
    data: DataDir, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter([PASSWORD, PASSWORD + "!", PASSWORD, PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    assert admin(data, "user", "add", "alice", stdin=FakeTerminal()) == 1
    assert "differ" in capsys.readouterr().err
    assert admin(data, "user", "add", "alice", stdin=FakeTerminal()) == 0


def test_data_may_also_come_after_the_command(
    data: DataDir, capsys: pytest.CaptureFixture[str]
) -> None:
    assert admin(data, "user", "add", "alice", "--password-stdin", stdin=PASSWORD) == 0
    capsys.readouterr()
    assert main(["admin", "user", "list", "--data", str(data.path)]) == 0
    assert "alice" in capsys.readouterr().out


def _session_with_records(store: Store, clock: FakeClock) -> tuple[str, bytes]:
    organizer = store.add_account("alice", "$argon2id$not-used-here")
    uid = secrets.token_bytes(16)
    store.create_session("123456789", uid, organizer.id, None)
    store.session_started(uid)
    store.member_joined(uid, 1, "Alice", Role.HOST, "alice@example.org")
    store.member_joined(uid, 2, "=cmd|' /C calc'!A0", Role.PARTICIPANT, "=1+2@example.org")
    clock.advance(3600)
    store.member_left(uid, 2, 1000, 2_000_000)
    store.member_left(uid, 1, 3000, 4000)
    store.session_ended(uid)
    return "123456789", uid


def test_records_as_csv(
    data: DataDir,
    server_store: Store,
    clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    session_id, uid = _session_with_records(server_store, clock)
    assert admin(data, "records", "--csv") == 0
    capsys_out = capsys.readouterr().out
    rows = list(csv.reader(io.StringIO(capsys_out)))
    assert tuple(rows[0]) == CSV_COLUMNS
    body = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert [r["kind"] for r in body] == [
        "session_start",
        "join",
        "join",
        "leave",
        "leave",
        "session_end",
    ]
    assert {r["session_id"] for r in body} == {session_id}
    assert {r["session_uid"] for r in body} == {uid.hex()}
    bob_left = body[3]
    assert (bob_left["member_id"], bob_left["role"]) == ("2", "participant")
    assert (bob_left["bytes_in"], bob_left["bytes_out"]) == ("1000", "2000000")
    assert bob_left["at"] == "2027-01-15T09:00:00+00:00"
    # A name that a spreadsheet would run as a formula is defused.
    assert bob_left["display_name"] == "'=cmd|' /C calc'!A0"
    assert bob_left["email"] == "'=1+2@example.org"  # from the join record, defused too
    assert body[1]["email"] == "alice@example.org"
    assert body[0]["member_id"] == "" and body[0]["display_name"] == ""


def test_records_as_json_since_a_date(
    data: DataDir,
    server_store: Store,
    clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _session_with_records(server_store, clock)
    assert admin(data, "records", "--json") == 0
    everything = json.loads(capsys.readouterr().out)
    assert len(everything) == 6
    assert everything[1] == {
        "session_id": "123456789",
        "session_uid": everything[0]["session_uid"],
        "kind": "join",
        "member_id": 1,
        "display_name": "Alice",
        "role": "host",
        "at": "2027-01-15T08:00:00+00:00",
        "bytes_in": 0,
        "bytes_out": 0,
        "detail": None,
        "email": "alice@example.org",
        "organizer": "alice",
    }
    assert admin(data, "records", "--json", "--since", "2027-01-15T09:00") == 0
    assert [r["kind"] for r in json.loads(capsys.readouterr().out)] == [
        "leave",
        "leave",
        "session_end",
    ]
    assert admin(data, "records", "--json", "--since", "2027-01-15T09:00+02:00") == 0
    assert len(json.loads(capsys.readouterr().out)) == 6


def test_a_bad_since_date_is_a_usage_error(
    data: DataDir, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        admin(data, "records", "--since", "yesterday")
    assert exit_info.value.code == 2
    assert "not an ISO 8601 date" in capsys.readouterr().err


def test_the_admin_command_sees_what_a_running_server_wrote(
    data: DataDir, server_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both on one SQLite file at once (WAL): each sees the other's writes."""
    server_store.add_account("from_server", "$argon2id$x")
    assert admin(data, "user", "add", "from_admin", "--password-stdin", stdin=PASSWORD) == 0
    assert [a.username for a in server_store.accounts()] == ["from_admin", "from_server"]
    assert admin(data, "user", "list") == 0
    assert "from_server" in capsys.readouterr().out


def test_the_installed_command(data: DataDir, server_store: Store, clock: FakeClock) -> None:
    _session_with_records(server_store, clock)
    added = subprocess.run(
        [RELAYDESK, "admin", "--data", str(data.path), "user", "add", "carol", "--password-stdin"],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (added.returncode, added.stdout, added.stderr) == (
        0,
        "Added organizer account carol.\n",
        "",
    )
    exported = subprocess.run(
        [RELAYDESK, "admin", "--data", str(data.path), "records", "--csv"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = exported.stdout.splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS)
    assert len(lines) == 7


def test_totp_reset_turns_off_two_step_login(
    data: DataDir, server_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    account = server_store.add_account("alice", "$argon2id$x")
    server_store.set_pending_totp(account.id, "A" * 32)
    assert server_store.confirm_totp(account.id, "A" * 32, 7, ["1" * 64])
    assert admin(data, "user", "totp-reset", "alice") == 0
    assert "Turned off two-step login for alice" in capsys.readouterr().out
    assert server_store.totp_state(account.id) == TotpState(None, None, None)
    assert server_store.recovery_codes_left(account.id) == 0
    found = server_store.account("alice")
    assert found is not None and not found[0].totp_enabled
    assert admin(data, "user", "totp-reset", "alice") == 0
    assert "had no two-step login" in capsys.readouterr().out
    assert admin(data, "user", "totp-reset", "nobody") == 1
    assert "no account is named 'nobody'" in capsys.readouterr().err


def test_relays_are_added_listed_and_removed_by_the_admin_command(
    data: DataDir, capsys: pytest.CaptureFixture[str]
) -> None:
    # A relay key is base64url: about one in 64 begins with "-", which --key=KEY takes.
    key = next(
        text
        for text in (public_text(Ed25519PrivateKey.generate()) for _ in range(10_000))
        if text.startswith("-")
    )
    assert admin(data, "relay", "add", "relay-a", f"--key={key}") == 0
    capsys.readouterr()
    assert admin(data, "relay", "list") == 0
    assert "relay-a" in capsys.readouterr().out
    assert admin(data, "relay", "remove", "relay-a") == 0
    capsys.readouterr()
    assert admin(data, "relay", "list") == 0
    assert "relay-a" not in capsys.readouterr().out


# Administrators, the site policy, password resets, filtered records ------------------------


def test_administrators_are_added_granted_and_revoked(
    data: DataDir, server_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    assert admin(data, "user", "add", "root", "--admin", "--password-stdin", stdin=PASSWORD) == 0
    assert capsys.readouterr().out == "Added site administrator account root.\n"
    assert admin(data, "user", "add", "alice", "--password-stdin", stdin=PASSWORD) == 0
    assert admin(data, "user", "grant-admin", "alice") == 0
    assert admin(data, "user", "revoke-admin", "root") == 0
    roles = {a.username: a.is_admin for a in server_store.accounts()}
    assert roles == {"alice": True, "root": False}
    capsys.readouterr()
    assert admin(data, "user", "list") == 0
    assert [line.split()[2] for line in capsys.readouterr().out.splitlines()[1:]] == [
        "administrator",
        "organizer",
    ]
    assert admin(data, "user", "grant-admin", "nobody") == 1


def test_the_policy_is_shown_and_set(
    data: DataDir, server_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    assert admin(data, "policy", "show") == 0
    shown = capsys.readouterr().out
    assert "disable_sharing             off" in shown
    assert "min_account_password_chars  12" in shown
    assert admin(data, "policy", "set", "disable_sharing=on", "min_session_password_chars=8",
                 "restricted-access=yes") == 0  # fmt: skip
    assert "(last changed" in capsys.readouterr().out
    policy = server_store.policy()  # what the running server reads
    assert policy.disable_sharing and policy.restricted_access
    assert policy.min_session_password_chars == 8
    assert policy.updated_by is not None and policy.updated_by.endswith("(admin command)")
    assert admin(data, "policy", "show", "--json") == 0
    assert json.loads(capsys.readouterr().out)["disable_sharing"] is True
    for bad in ("disable_sharing=maybe", "min_account_password_chars=4", "nonsense=on"):
        assert admin(data, "policy", "set", bad) == 1, bad
        assert "relaydesk:" in capsys.readouterr().err
    assert server_store.policy().min_account_password_chars == 12


def test_new_accounts_meet_the_sites_password_rules(
    data: DataDir, server_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    assert admin(data, "policy", "set", "strong_passwords=on", "min_account_password_chars=16") == 0
    capsys.readouterr()
    refusals = {
        "fifteen chars!!": "(rule: length)",
        "carol's own long password": "(rule: name)",
        "abcabcabcabcabcabc": "(rule: guessable)",
    }
    for password, rule in refusals.items():
        assert admin(data, "user", "add", "carol", "--password-stdin", stdin=password) == 1
        assert capsys.readouterr().err.strip().endswith(rule), password
    assert admin(data, "user", "add", "carol", "--password-stdin",
                 stdin="velvet thunder over quiet rivers") == 0  # fmt: skip


def test_password_resets_are_listed_approved_and_denied(
    data: DataDir, server_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("alice", "bob"):
        server_store.add_account(name, "$argon2id$not-used-here")
        assert server_store.add_password_reset(name, "203.0.113.9")
    assert admin(data, "password-reset", "list") == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split() == ["ID", "USERNAME", "ASKED", "(UTC)", "FROM", "STATE"]
    first, second = (line.split()[0] for line in listing[1:])
    assert admin(data, "password-reset", "approve", first) == 0
    approved = capsys.readouterr().out
    code = approved.splitlines()[2].strip()
    assert len(code) == 29 and "It is not shown again." in approved
    from relaydesk.broker.resets import reset_code_hash  # noqa: PLC0415

    with closing(Store.open(data.database_url)) as now_store:  # the admin command's clock
        assert now_store.reset_password_with_code("alice", reset_code_hash(code), "$new")
    assert admin(data, "password-reset", "deny", second) == 0
    assert admin(data, "password-reset", "deny", second) == 1  # decided already
    assert admin(data, "password-reset", "list") == 0
    assert "No password reset waits for you." in capsys.readouterr().out
    assert admin(data, "password-reset", "list", "--all") == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    assert [line.split()[5] for line in lines] == ["used", "denied"]
    assert all(line.endswith("(admin command)") for line in lines)  # who decided


def test_records_filtered_and_one_line_per_member(
    data: DataDir, server_store: Store, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    session_id, _ = _session_with_records(server_store, clock)
    assert admin(data, "records", "--json", "--session", session_id, "--organizer", "alice") == 0
    assert len(json.loads(capsys.readouterr().out)) == 6
    assert admin(data, "records", "--json", "--organizer", "bob") == 0
    assert json.loads(capsys.readouterr().out) == []
    assert admin(data, "records", "--json", "--from", "2027-01-15T08:30", "--to", "2030-01-01") == 0
    assert [r["kind"] for r in json.loads(capsys.readouterr().out)] == [
        "leave", "leave", "session_end",
    ]  # fmt: skip
    assert admin(data, "records", "--members") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["member_id"], r["duration_seconds"], r["bytes_out"]) for r in rows] == [
        ("1", "3600.0", "4000"),
        ("2", "3600.0", "2000000"),
    ]
    assert rows[1]["display_name"].startswith("'=")  # no formula in a spreadsheet
    assert admin(data, "records", "--members", "--json", "--session", "999999999") == 0
    assert json.loads(capsys.readouterr().out) == []
    assert admin(data, "records", "--session", "12") == 1
