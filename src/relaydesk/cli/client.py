"""``relaydesk login``, ``start`` and ``join``: the Python client as a person uses it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import re
import signal
import ssl
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from relaydesk import limits
from relaydesk.client.api import (
    ACCOUNT_NEEDED_MARK,
    BrokerApi,
    JoinResult,
    SessionSettings,
    broker_refresher,
    needs_one_time_code,
)
from relaydesk.client.member import Member, Received, Reconnected, Rejected
from relaydesk.client.profile import Profile, ServerEntry, server_key
from relaydesk.client.trust import Ask, trust_server
from relaydesk.errors import (
    ApiError,
    ClientError,
    CloseCode,
    RelayClosed,
    RelaydeskError,
    TileError,
)
from relaydesk.protocol.frames import EVERYONE, Header
from relaydesk.protocol.keys import MemberKeys
from relaydesk.protocol.messages import (
    Admit,
    Annotation,
    AnyMessage,
    Chat,
    ChatRule,
    ConsentKind,
    ConsentOutcome,
    ConsentPrompt,
    End,
    Error,
    Grant,
    InputEvent,
    Lock,
    MemberJoined,
    MemberLeft,
    Notes,
    Permissions,
    PresenterRequest,
    Recording,
    Refresh,
    Revoke,
    Role,
    RoleChange,
    Roster,
    ScreenUpdate,
    ShareState,
    VideoFrame,
    VideoLayers,
    Waiting,
    WaitReason,
)
from relaydesk.protocol.session import SHARING_OFF
from relaydesk.protocol.tickets import TicketRule

if TYPE_CHECKING:  # imported where used: numpy, Pillow and Xlib slow every command's start
    from relaydesk.agent.presenter import Presenter
    from relaydesk.cli.console import Console
    from relaydesk.cli.files import FileDesk
    from relaydesk.client.recording import SessionRecorder
    from relaydesk.screen.drawings import Drawings
    from relaydesk.screen.framebuffer import FrameBuffer

SESSION_ID = re.compile(r"^\d{9}$")


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    login = commands.add_parser("login", help="log in as an organizer and trust the server")
    login.add_argument("server", help="the server's address, https://HOST:PORT")
    login.add_argument("username")
    login.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password (then the one-time code, if asked) from standard input",
    )
    _connection_options(login)
    login.set_defaults(handler=lambda a: asyncio.run(run_login(a)))

    start = commands.add_parser("start", help="start a session and share this screen")
    start.add_argument("--server", help="which logged-in server (if there are several)")
    start.add_argument("--id", help="a 9-digit session ID of your choice")
    start.add_argument("--name", help="your display name (default: your username)")
    start.add_argument(
        "--password-stdin", action="store_true", help="read a session password from stdin"
    )
    start.add_argument(
        "--snapshot",
        type=Path,
        help="on exit, write the shared screen (yours or another's) with what was drawn on it",
    )
    start.add_argument(
        "--notes",
        type=Path,
        help="a text file of your notes: sent to everyone when you end the session",
    )
    start.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="record the session to FILE (a new file; everyone is told): see /record",
    )
    _session_options(start)
    _connection_options(start)
    _file_options(start)
    _log_options(start)
    start.set_defaults(handler=lambda a: asyncio.run(run_start(a)))

    join = commands.add_parser("join", help="join a session and view the shared screen")
    join.add_argument("session", help="session ID (123 456 789) or invite URL")
    join.add_argument("--server", help="server address when joining by ID")
    join.add_argument("--name", default=None, help="your display name")
    join.add_argument("--password-stdin", action="store_true", help="read the session password")
    join.add_argument("--email", help="your e-mail address, where the session asks for it")
    join.add_argument("--snapshot", type=Path, help="write the shared screen as PNG on exit")
    join.add_argument("--duration", type=float, help="leave after this many seconds")
    _connection_options(join)
    _file_options(join)
    _log_options(join)
    join.set_defaults(handler=lambda a: asyncio.run(run_join(a)))

    reset = commands.add_parser(
        "password-reset",
        help="forgot your organizer password? ask for a reset, then set a new one",
        description="Without --code: ask the server's administrator for a password reset "
        "(the answer is the same whether or not the account exists). With --code: set a "
        "new password with the reset code your administrator gave you, or, where the "
        "server allows it, a one-time code of your two-step login.",
    )
    reset.add_argument("server", help="the server's address, https://HOST:PORT")
    reset.add_argument("username")
    reset.add_argument(
        "--code", action="store_true", help="you have a code: set the new password now"
    )
    reset.add_argument(
        "--password-stdin",
        action="store_true",
        help="with --code: read the code, then the new password, from standard input",
    )
    _connection_options(reset)
    reset.set_defaults(handler=lambda a: asyncio.run(run_password_reset(a)))


def _session_options(parser: argparse.ArgumentParser) -> None:
    """The settings of a new session (docs/meetings.md)."""
    group = parser.add_argument_group("session settings")
    group.add_argument("--title", help="the meeting's title (shown where it is listed)")
    group.add_argument(
        "--lobby", action="store_true", help="joiners wait until you let them in (/admit)"
    )
    group.add_argument(
        "--two-party",
        action="store_true",
        help="a support session: you and one other; it ends when either leaves",
    )
    group.add_argument("--listed", action="store_true", help="list it on the server's join page")
    group.add_argument(
        "--require-email", action="store_true", help="joiners must give an e-mail address"
    )
    group.add_argument(
        "--no-join-before-host",
        dest="join_before_host",
        action="store_false",
        help="nobody is let in before you (they wait); by default they may chat",
    )


def _file_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--downloads",
        type=Path,
        help="where files others send you are kept, once you accept each (default: your "
        "Downloads folder)",
    )


def _log_options(parser: argparse.ArgumentParser) -> None:
    """The client's own session log (docs/meetings.md, "Session log")."""
    parser.add_argument(
        "--log-dir",
        type=Path,
        help="where the session log goes when it ends: a .txt per session and one row in "
        "relaydesk-sessions.csv (default: $RELAYDESK_LOG_DIR, else session-logs in your "
        "user data folder)",
    )
    parser.add_argument("--no-session-log", action="store_true", help="write no session log")


def _log_dir(args: argparse.Namespace) -> Path | None:
    from relaydesk.client.session_log import default_log_dir  # noqa: PLC0415

    if args.no_session_log:
        return None
    return args.log_dir or default_log_dir()


def _connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fingerprint", help="the server certificate's SHA-256 fingerprint")
    parser.add_argument("--config-dir", type=Path, help="profile folder (trust and tokens)")


def _ask() -> Ask | None:
    """Questions go to the person at the terminal; with no terminal nobody can answer."""
    if not sys.stdin.isatty():
        return None

    def ask(question: str) -> bool:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")

    return ask


def _secret(from_stdin: bool, prompt: str) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass(prompt)


def say(text: str) -> None:
    print(text, flush=True)


def format_session_id(session_id: str) -> str:
    return f"{session_id[:3]} {session_id[3:6]} {session_id[6:]}"


# login ------------------------------------------------------------------------------


async def run_login(args: argparse.Namespace) -> int:
    profile = Profile(args.config_dir)
    context = trust_server(args.server, profile, args.fingerprint, _ask())
    password = _secret(args.password_stdin, "Password: ")
    async with BrokerApi(server_key(args.server), context) as api:
        try:
            token = await api.login(args.username, password)
        except ApiError as error:
            if not needs_one_time_code(error):
                raise
            # Two-step login: the code from the authenticator app (or a recovery code).
            code = _secret(args.password_stdin, "One-time code: ").strip()
            token = await api.login(args.username, password, code)
    entry = profile.get(args.server)
    assert entry is not None  # trust_server pinned it
    profile.put(
        args.server, ServerEntry(entry.fingerprint, entry.certificate, args.username, token)
    )
    say(f"Logged in to {server_key(args.server)} as {args.username}.")
    return 0


# start ------------------------------------------------------------------------------


def _logged_in_server(profile: Profile, server: str | None) -> tuple[str, ServerEntry]:
    if server is not None:
        entry = profile.get(server)
        if entry is None or not entry.token:
            raise ClientError(f"not logged in to {server}: run relaydesk login first")
        return server_key(server), entry
    candidates = [(url, e) for url, e in profile.servers.items() if e.token]
    if len(candidates) != 1:
        raise ClientError("log in first (relaydesk login), or name the server with --server")
    return candidates[0]


async def run_start(args: argparse.Namespace) -> int:
    profile = Profile(args.config_dir)
    url, entry = _logged_in_server(profile, args.server)
    context = trust_server(url, profile, args.fingerprint, _ask())
    password = _secret(True, "") if args.password_stdin else None
    async with BrokerApi(url, context) as api:
        policy = await api.policy()
    if policy.get("require_session_password") and not password:
        raise ClientError(
            "this server requires a password for every session (its site policy): give "
            "one with --password-stdin"
        )
    notes = _read_notes(args.notes)
    settings = SessionSettings(
        title=args.title,
        listed=args.listed,
        lobby=args.lobby,
        two_party=args.two_party,
        require_email=args.require_email,
        join_before_host=args.join_before_host,
    )
    await host_session(
        url, context, entry.token, args.name or entry.username, args.id, password,
        os.environ.get("DISPLAY"), snapshot=args.snapshot, settings=settings,
        downloads=args.downloads, notes=notes, record=args.record, profile=profile,
        log_dir=_log_dir(args), sharing=not policy.get("disable_sharing"),
    )  # fmt: skip
    return 0


def _read_notes(path: Path | None) -> str:
    """The host's notes (``--notes FILE``), read now: a missing file fails at once."""
    if path is None:
        return ""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise ClientError(f"cannot read the notes file {path}: {error}") from None
    if len(text) > limits.MAX_NOTES_CHARS:
        raise ClientError(f"the notes are longer than {limits.MAX_NOTES_CHARS} characters")
    return text


async def host_session(
    url: str,
    context: ssl.SSLContext,
    token: str,
    name: str,
    session_id: str | None,
    password: str | None,
    display: str | None,
    join_hint: str = "",
    snapshot: Path | None = None,
    settings: SessionSettings | None = None,
    downloads: Path | None = None,
    notes: str = "",
    record: Path | None = None,
    profile: Profile | None = None,
    log_dir: Path | None = None,
    sharing: bool = True,
) -> None:
    """Create a session, join it as its host and share ``display`` until interrupted;
    then end the session for everyone (``notes`` first, if any, to everyone).
    ``join_hint`` is shown with ``{invite}`` filled. ``record``: a file to record the
    session to, from the start (``profile``'s recording key signs it). Without
    ``sharing`` (the site policy turned desktop sharing off) no screen is needed or
    shared. With ``log_dir``, the session log is written there at the end."""
    from relaydesk.agent.presenter import Presenter  # noqa: PLC0415 - needs a display
    from relaydesk.screen.capture import ScreenCapture  # noqa: PLC0415
    from relaydesk.screen.drawings import Drawings  # noqa: PLC0415
    from relaydesk.screen.framebuffer import FrameBuffer  # noqa: PLC0415

    if sharing:
        ScreenCapture(display).close()  # no session at all if the screen cannot be opened
    async with BrokerApi(url, context, token) as api:
        created = await api.create_session(
            session_id, password or None, settings or SessionSettings()
        )
        say(f"Session ID: {format_session_id(created.session_id)}")
        say(f"Invite URL: {created.invite_url}")
        if join_hint:
            say(join_hint.format(invite=created.invite_url))
        keys = MemberKeys.generate(os.urandom)
        joined = await api.join(
            created.session_id, name, keys.agreement_public, keys.ed25519_public, password
        )
        refresher = broker_refresher(url, context, created.session_id, keys.signing)
        member = Member(joined, keys, context, refresher=refresher)
        presenter = Presenter(member, lambda: ScreenCapture(display), display=display)
        if record is not None and record.exists():
            raise ClientError(f"{record} exists: a recording never replaces a file")
        console, files, recorder = _console(
            member, created.session_id, name, display, presenter, downloads, profile
        )
        console.notes, console.record_first = notes, record
        picture = FrameBuffer()  # when someone else presents, the host watches too
        drawings = Drawings()
        started = None
        try:
            await member.connect()
            started = _utc_now()
            say(f"Connected to {member.link_description}.")
            if TicketRule.NO_SHARING in member.site_rules:
                say(f"* {SHARING_OFF[0].upper()}{SHARING_OFF[1:]}: nobody presents a screen "
                    "in this session; chat, files and the rest work.")  # fmt: skip
            await _until_interrupted(
                _member_loop(member, console, presenter, picture, host=True, drawings=drawings),
                presenter.run(),
                console.read_lines(),
            )
        finally:
            console.close_control()
            files.close()
            recorder.close()
            _write_snapshot(picture, snapshot, drawings, presenter)
            if notes:
                with contextlib.suppress(RelaydeskError):
                    await console.end_with_notes()
            with contextlib.suppress(ClientError):
                await api.end_session(created.session_id)
            await member.close()
            if started is not None and log_dir is not None:
                _session_log(url, created.session_id, created.settings.title, name, member,
                             started, log_dir)  # fmt: skip
    say("The session has ended.")


def _console(
    member: Member,
    session_id: str,
    name: str,
    display: str | None,
    presenter: Presenter | None,
    downloads: Path | None,
    profile: Profile | None,
) -> tuple[Console, FileDesk, SessionRecorder]:
    """The terminal side of a member: its console, with the files it sends and receives
    (into ``downloads``) and what records the session if it is asked to."""
    from relaydesk.cli.console import Console  # noqa: PLC0415
    from relaydesk.cli.files import FileDesk, default_downloads  # noqa: PLC0415 - rich

    console = Console(member, display, say, presenter)
    files = FileDesk(member, downloads or default_downloads(), console.ask, say)
    recorder = _recorder(member, session_id, name, profile, presenter)
    console.files, console.recorder = files, recorder
    return console, files, recorder


def _recorder(
    member: Member,
    session_id: str,
    name: str,
    profile: Profile | None,
    presenter: Presenter | None,
) -> SessionRecorder:
    """What /record uses: the profile's recording key (made on first use) signs."""
    from relaydesk.client.recording import SessionRecorder  # noqa: PLC0415

    keyframe = presenter.keyframe_next if presenter is not None else None
    key = (profile or Profile()).recorder_key  # made when a recording first starts
    return SessionRecorder(member, session_id, name, key, say, keyframe)


def _recording_line(console: Console, notice: Recording) -> str:
    """`* NAME started recording this session` / stopped, as every member is told."""
    who = console.recorder_name(notice.member_id)
    who = "You" if who == "you" else who
    if notice.active:
        return f"* {who} started recording this session"
    return f"* {who} stopped recording"


async def _host_is_in(member: Member, console: Console) -> None:
    """The host's roster came: it presents (unless the site policy turned sharing off),
    and records if it was told to start so."""
    if TicketRule.NO_SHARING not in member.site_rules:
        await member.send(PresenterRequest(member.member_id))
    if console.record_first is not None:  # start --record FILE
        path, console.record_first = console.record_first, None
        await console.record(str(path))


async def _recording_notice(console: Console, notice: Recording) -> None:
    say(_recording_line(console, notice))
    if console.recorder is not None:
        await console.recorder.announced(notice)


def _error_line(error: Error) -> str:
    """The relay's refusal as the person reads it (docs/protocol.md §9)."""
    if error.code == CloseCode.SITE_POLICY:
        return f"! Refused by the server's policy: {error.text}"
    return f"! {error.text}"


def _meeting_news(member: Member, console: Console, message: AnyMessage) -> str | None:
    """What the person is told of the lobby, members, roles, the lock, consent asked
    and answered, and the relay's refusals."""
    match message:
        case ConsentOutcome(kind, asked_by, subject, result):
            what = "to present" if kind is ConsentKind.PRESENT else "for remote control"
            return (f"{console.name(asked_by)} asked {console.name(subject)} {what}: "
                    f"{result.name.lower().replace('_', ' ')}")  # fmt: skip
        case Error() as error:
            return _error_line(error)
        case Waiting(entry, reason) if entry.member_id == member.member_id:
            return WAITING_TEXT[reason]
        case Waiting(entry, reason):
            return _waiting_line(member, entry.member_id, reason)
        case Admit(member_id, admitted) if member_id != member.member_id:
            outcome = "let in" if admitted else "turned away"
            return f"* {console.name(member_id)} was {outcome} by a host"
        case Roster(recording=recorder):
            being = f" Recording by {console.recorder_name(recorder)}." if recorder else ""
            return f"You are in: {len(member.roles)} in the session (/who lists them).{being}"
        case MemberJoined(entry):
            return f"+ {member.names.get(entry.member_id, '?')} joined"
        case MemberLeft(member_id, reason):
            return f"- {member.names.get(member_id, '?')} left ({reason.name.lower()})"
        case RoleChange(member_id, role):
            you = member_id == member.member_id
            who = "You are" if you else f"{console.name(member_id)} is"
            return f"* {who} {'now a host' if role is Role.HOST else 'no longer a host'}"
        case Lock(locked):
            if locked:
                return "* The session is locked: nobody new can join."
            return "* The session is unlocked."
        case Permissions() as permissions:
            return "* " + _permissions_line(console, permissions)
        case Recording() as notice:
            return _recording_line(console, notice)
        case Error(_, text):
            return f"! {text}"
        case _:
            return None


CHAT_RULE_TEXT = {
    ChatRule.EVERYONE: "attendees chat with everyone",
    ChatRule.PRESENTER: "attendees chat only privately, with the presenter or a host",
    ChatRule.NOBODY: "attendees do not chat",
}


def _permissions_line(console: Console, permissions: Permissions) -> str:
    annotators = ", ".join(console.name(m) for m in permissions.annotators) or "nobody else"
    return (
        f"Now {CHAT_RULE_TEXT[permissions.chat]}; annotating besides the presenter and "
        f"hosts: {annotators}; saving snapshots "
        f"{'allowed' if permissions.may_save else 'not allowed'}; recording "
        f"{'allowed' if permissions.may_record else 'not allowed'}."
    )


WAITING_TEXT = {
    WaitReason.APPROVAL: "You are in the lobby: a host will let you in shortly.",
    WaitReason.HOST_ABSENT: "Waiting for the host to start the meeting…",
}


def _waiting_line(member: Member, member_id: int, reason: WaitReason) -> str:
    ticket = member.lobby.get(member_id)
    if ticket is None:
        return f"* member {member_id} is waiting"
    email = f" <{ticket.email}>" if ticket.email else ""
    if reason is WaitReason.HOST_ABSENT:
        return f"* {ticket.display_name}{email} is waiting for a host"
    if member.is_host:
        return (
            f"* {ticket.display_name}{email} is waiting in the lobby: "
            f"/admit {ticket.display_name} or /refuse {ticket.display_name}"
        )
    return f"* {ticket.display_name}{email} is waiting in the lobby"


def _show_chat(member: Member, header: Header, line: Chat) -> None:
    name = member.names.get(header.sender, f"member {header.sender}")
    private = " (privately)" if header.target != EVERYONE and not line.to_everyone else ""
    say(f"[chat] {name}{private}: {line.text}")


async def _drawings_first(
    items: AsyncIterator[Received | Rejected], console: Console, drawings: Drawings | None
) -> AsyncIterator[Received | Rejected]:
    """What arrives; strokes and the host's notes are shown here and go no further."""
    async for item in items:
        if isinstance(item, Received) and _drawn_or_notes(
            console, drawings, item.header.sender, item.message
        ):
            continue
        yield item


def _drawn_or_notes(
    console: Console, drawings: Drawings | None, sender: int, message: AnyMessage
) -> bool:
    """Strokes (kept, for the snapshot) and the host's notes (printed); True when
    ``message`` was one of them. A new presenter wipes the drawings."""
    name = console.name(sender)
    match message:
        case Annotation() as stroke if drawings is not None:
            drawings.apply(sender, stroke)
            strokes = drawings.count(sender)
            if stroke.clear:
                say(f"* {name} cleared their drawings")
            else:
                say(f"* {name} drew on the screen ({strokes} stroke{'' if strokes == 1 else 's'})")
            return True
        case Notes(text):
            say(f"--- Notes from {name} ---")
            say(text)
            say("--- end of the notes ---")
            return True
        case Grant(ConsentKind.PRESENT) if drawings is not None:
            drawings.clear_all()  # another screen: the drawings were on the old one
    return False


def _show_security_code(member: Member, shown: str | None) -> str | None:
    code = member.e2e.security_code
    if code is not None and code != shown:
        say(f"Security code: {code}")
    return code


# How long a job's failure waits for a Ctrl+C that caused it (see _until_interrupted).
STOP_GRACE_SECONDS = 0.25


async def _until_interrupted(*jobs: Any) -> None:
    """Run until the first job ends, or until Ctrl+C / SIGTERM."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.ensure_future(job) for job in jobs]
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        if any(task is not stopper and task.exception() for task in done):
            # Ctrl+C reaches the whole process group: the screen (Xvfb) may be gone, and
            # a job fail for it, a moment before this process handles its own signal.
            await asyncio.wait([stopper], timeout=STOP_GRACE_SECONDS)
        if not stopper.done():
            for task in done:
                if task is not stopper:
                    task.result()  # surface the error that ended it
    finally:
        for task in [*tasks, stopper]:
            task.cancel()
            # Stopping is decided: what a job raises while it winds down (a screen that
            # Ctrl+C took away with this process group) is not news, nor a stray report.
            task.add_done_callback(_retrieved)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _retrieved(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


# join -------------------------------------------------------------------------------


def parse_target(target: str, server: str | None, profile: Profile) -> tuple[str, str]:
    """(server, session_id) from an invite URL, or an ID plus --server."""
    if target.startswith("https://"):
        parts = urlsplit(target)
        match = re.fullmatch(r"/j/(\d{9})/?", parts.path)
        if match is None:
            raise ClientError(f"not an invite URL: {target}")
        return server_key(target), match.group(1)
    session_id = re.sub(r"[\s-]", "", target)
    if not SESSION_ID.match(session_id):
        raise ClientError("a session ID has 9 digits, like 123 456 789")
    if server is None:
        if len(profile.servers) != 1:
            raise ClientError("which server? Pass --server https://HOST:PORT or the invite URL")
        server = next(iter(profile.servers))
    return server_key(server), session_id


async def run_join(args: argparse.Namespace) -> int:
    from relaydesk.agent.presenter import Presenter  # noqa: PLC0415 - numpy, Pillow, Xlib
    from relaydesk.screen.capture import ScreenCapture  # noqa: PLC0415
    from relaydesk.screen.drawings import Drawings  # noqa: PLC0415
    from relaydesk.screen.framebuffer import FrameBuffer  # noqa: PLC0415

    profile = Profile(args.config_dir)
    url, session_id = parse_target(args.session, args.server, profile)
    context = trust_server(url, profile, args.fingerprint, _ask())
    password = _secret(True, "") if args.password_stdin else None
    name = args.name or getpass.getuser()
    keys = MemberKeys.generate(os.urandom)
    joined = await _join_with_account_if_needed(
        url, context, profile, session_id, name, keys, password, args.email
    )
    title = f" ({joined.title})" if joined.title else ""
    say(f"Joined session {format_session_id(session_id)}{title} as {name}.")
    member = Member(
        joined, keys, context, refresher=broker_refresher(url, context, session_id, keys.signing)
    )
    picture = FrameBuffer()
    display = os.environ.get("DISPLAY") or None
    presenter = (
        Presenter(member, lambda: ScreenCapture(display), display=display) if display else None
    )
    # Made a host later, this member may record too (its profile's key signs).
    console, files, recorder = _console(
        member, session_id, name, display, presenter, args.downloads, profile
    )
    drawings = Drawings()
    started = None
    try:
        await member.connect()
        started = _utc_now()
        say(f"Connected to {member.link_description}.")
        job = _member_loop(member, console, presenter, picture, host=False, drawings=drawings)
        if args.duration is not None:
            job = _for_at_most(job, args.duration)
        jobs = [job, console.read_lines()] + ([presenter.run()] if presenter else [])
        await _until_interrupted(*jobs)
    except RelayClosed as closed:
        say(f"Disconnected: {closed.reason}")
    finally:
        console.close_control()
        files.close()
        recorder.close()
        # Before any await: a presenter's own picture goes when its task is cancelled.
        _write_snapshot(picture, args.snapshot, drawings, presenter)
        await member.close()
        log_dir = _log_dir(args)
        if started is not None and log_dir is not None:
            _session_log(url, session_id, joined.title, name, member, started, log_dir)
    return 0


async def _join_with_account_if_needed(
    url: str,
    context: ssl.SSLContext,
    profile: Profile,
    session_id: str,
    name: str,
    keys: MemberKeys,
    password: str | None,
    email: str | None,
) -> JoinResult:
    """Join as anyone; where the site admits only people with an account, again with
    this profile's login to the server (``relaydesk login``), if it has one."""
    try:
        async with BrokerApi(url, context) as api:
            return await api.join(
                session_id, name, keys.agreement_public, keys.ed25519_public, password, email=email
            )
    except ApiError as error:
        if error.status != 401 or ACCOUNT_NEEDED_MARK not in error.detail:
            raise
        entry = profile.get(url)
        if entry is None or not entry.token:
            raise ClientError(
                "this server admits only people with an account (its site policy): log in "
                f"first with relaydesk login {url} USERNAME, then join again"
            ) from None
    async with BrokerApi(url, context, entry.token) as api:
        try:
            return await api.join(
                session_id, name, keys.agreement_public, keys.ed25519_public, password, email=email
            )
        except ApiError as error:
            if error.status == 401:
                raise ClientError(
                    f"{error.detail} Your login to {url} is needed to join here: run "
                    "relaydesk login again."
                ) from None
            raise


def _utc_now() -> Any:
    from datetime import UTC, datetime  # noqa: PLC0415

    return datetime.now(UTC)


def _session_log(
    url: str,
    session_id: str,
    title: str | None,
    name: str,
    member: Member,
    started: Any,
    directory: Path,
) -> None:
    """Write the session log (client/session_log.py) and say where; a log that cannot
    be written is said, and the session's end goes on."""
    from relaydesk.client.session_log import SessionLog, write_session_log  # noqa: PLC0415

    others = [n for m, n in sorted(member.names.items()) if m != member.member_id]
    log = SessionLog(
        server=url,
        session_id=session_id,
        title=title,
        display_name=name,
        role="host" if member.is_host else "participant",
        member_id=member.member_id,
        people=(name, *others),
        started_at=started,
        ended_at=_utc_now(),
        bytes_sent=member.bytes_sent,
        bytes_received=member.bytes_received,
    )
    try:
        text_path, csv_path = write_session_log(log, directory)
    except ClientError as error:
        say(f"! {error}")
        return
    say(f"Session log: {text_path} (and a row in {csv_path})")


# password-reset ----------------------------------------------------------------------


async def run_password_reset(args: argparse.Namespace) -> int:
    profile = Profile(args.config_dir)
    context = trust_server(args.server, profile, args.fingerprint, _ask())
    async with BrokerApi(server_key(args.server), context) as api:
        if not args.code:
            say(await api.ask_password_reset(args.username))
            say(f"Once you have the code: relaydesk password-reset {server_key(args.server)} "
                f"{args.username} --code")  # fmt: skip
            return 0
        code = _secret(args.password_stdin, "Reset code (or one-time code): ").strip()
        password = _secret(args.password_stdin, "New password: ")
        if not args.password_stdin and getpass.getpass("The same password again: ") != password:
            raise ClientError("the two passwords differ; nothing changed")
        await api.reset_password(args.username, code, password)
    say(f"Your password was changed and your logins ended. Log in again with: relaydesk login "
        f"{server_key(args.server)} {args.username}")  # fmt: skip
    return 0


def _write_snapshot(
    picture: FrameBuffer,
    path: Path | None,
    drawings: Drawings | None = None,
    presenter: Presenter | None = None,
) -> None:
    """The shared screen as this member last saw it, with what was drawn over it: the
    picture received, or (presenting) this member's own screen as viewers got it."""
    if path is None:
        return
    from PIL import Image  # noqa: PLC0415 - Pillow is slow to import

    from relaydesk.screen.picture import to_rgb  # noqa: PLC0415 - numpy

    if picture.ready:
        rgb = picture.to_rgb()
    elif presenter is not None and presenter.last_sent is not None:
        rgb = to_rgb(presenter.last_sent)  # what viewers were last sent (masked)
    else:
        say("No picture was received; no snapshot written.")
        return
    if drawings:
        rgb = drawings.draw_over(rgb)
    Image.fromarray(rgb).save(path, format="PNG")
    drawn = f", with {len(drawings)} strokes drawn over it" if drawings else ""
    say(f"Snapshot written to {path}{drawn}")


async def _for_at_most(job: Any, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await job


async def _show(member: Member, picture: FrameBuffer, update: ScreenUpdate) -> bool:
    """Apply a screen update; a bad one changes nothing and asks for a whole picture."""
    try:
        picture.apply(update)
    except TileError as error:
        say(f"! bad screen update ({error}); asking for a full picture")
        await member.send(Refresh(0))
        return False
    return True


class _ScreenView:
    """Shows the presenter's screen updates and video frames. A bad video frame, or a
    base layer that lost its chain, asks for a keyframe (REFRESH), at most every
    ``VIDEO_REFRESH_MIN_SECONDS``."""

    def __init__(self, console: Console) -> None:
        from relaydesk.screen.video import LayerChoice  # noqa: PLC0415 - PyAV, when viewing

        self.console = console
        self.showing: int | None = None  # whose screen the picture shows
        self._asked = -float("inf")
        self._choice = LayerChoice()
        self._choice_for = 0  # the presenter whose clock the choice knows

    async def show(
        self, member: Member, picture: FrameBuffer, sender: int, shown: ScreenUpdate | VideoFrame
    ) -> None:
        if isinstance(shown, VideoFrame):
            await self.video(member, picture, shown)
        elif await _show(member, picture, shown) and self.showing != sender:
            self.showing = sender  # the first picture of this presenter
            name = self.console.name(sender)
            say(f"Showing {name}'s screen, {shown.width}x{shown.height}.")

    async def video(self, member: Member, picture: FrameBuffer, frame: VideoFrame) -> None:
        if not picture.ready:
            return  # the relay sends none before the first picture; another presenter's
        await self._pace(member, frame)
        try:
            picture.apply_video(frame)
        except TileError as error:
            await self._ask(member, f"bad video frame ({error})")
            return
        if picture.video_lost:
            await self._ask(member, "video frames were lost")

    async def _pace(self, member: Member, frame: VideoFrame) -> None:
        """Frames coming late: layer 0 alone until they come on time (VIDEO_LAYERS)."""
        from relaydesk.screen.video import LayerChoice  # noqa: PLC0415

        if member.presenter != self._choice_for:  # another presenter, another clock
            if self._choice.layers < limits.VIDEO_LAYERS:
                await member.send(VideoLayers(limits.VIDEO_LAYERS))
            self._choice, self._choice_for = LayerChoice(), member.presenter or 0
        layers = self._choice.observe(frame.sent_at, time.monotonic())
        if layers is not None:
            await member.send(VideoLayers(layers))

    async def _ask(self, member: Member, why: str) -> None:
        now = time.monotonic()
        if now - self._asked < limits.VIDEO_REFRESH_MIN_SECONDS:
            return
        self._asked = now
        say(f"! {why}; asking for a keyframe")
        await member.send(Refresh(0))


async def _files_first(member: Member, console: Console) -> AsyncIterator[Received | Rejected]:
    """What arrives; file messages go to the console's files (cli/files.py) and no further.
    A reconnect is told here, and open transfers wait for the new roster."""
    async for item in member.messages():
        files = console.files
        if isinstance(item, Reconnected):
            say(f"Reconnected to {item.description}.")
            if files:
                files.transfers.link_lost()
            continue
        if isinstance(item, Received) and files and await files.handle(item.header, item.message):
            continue
        yield item


async def _member_loop(
    member: Member,
    console: Console,
    presenter: Presenter | None,
    picture: FrameBuffer | None,
    host: bool,
    drawings: Drawings | None = None,
) -> None:
    """Everything that arrives, shown to the person or acted on, until the session ends."""
    code = None
    prompts: set[asyncio.Task[None]] = set()  # open consent questions
    screen = _ScreenView(console)
    async for item in _drawings_first(_files_first(member, console), console, drawings):
        if isinstance(item, Rejected):
            say(f"! dropped a frame from {console.name(item.header.sender)}: {item.error}")
            continue
        code = _show_security_code(member, code)
        header, message = item.header, item.message
        match message:
            case Roster() if host:
                await _host_is_in(member, console)
            case Recording() as notice:
                await _recording_notice(console, notice)
            case Refresh(member_id) if presenter is not None:
                presenter.want_refresh(member_id)
            case Chat() as line:
                _show_chat(member, header, line)
            case ScreenUpdate() | VideoFrame() as shown if picture is not None and (
                header.sender == member.presenter
            ):
                await screen.show(member, picture, header.sender, shown)
            case ShareState() as state if header.sender == member.presenter:
                console.share_state(header.sender, state)
            case InputEvent() as event:
                console.input(header, event)
            case ConsentPrompt() as prompt:
                task = asyncio.ensure_future(console.consent(prompt))
                prompts.add(task)
                task.add_done_callback(prompts.discard)
            case Grant(kind, member_id):
                if kind is ConsentKind.PRESENT:
                    screen.showing = None
                what = "presenting" if kind is ConsentKind.PRESENT else "in remote control"
                say(f"* now {what}: {console.name(member_id)}")
                console.control_changed()
            case Revoke(kind, member_id, reason):
                what = (
                    "stopped presenting" if kind is ConsentKind.PRESENT else "lost remote control"
                )
                say(f"* {console.name(member_id)} {what} ({reason.name.lower().replace('_', ' ')})")
                console.control_changed()
            case End():
                if not host:
                    say("The session has ended.")
                return
            case _:
                news = _meeting_news(member, console, message)
                if news:
                    say(news)
