"""The member's console: what the person at the terminal types, sees and is asked.

A typed line is a ``/command``, or chat to everyone. While a consent question is open,
the next line answers it ("y" or "yes" is yes; anything else, or no answer within
``limits.CONSENT_TIMEOUT_SECONDS``, is no). Remote control is injected into this
member's own display only while this member presents, only from the member it granted
control to, and ends at once with Ctrl+F12 on this display or ``/revoke``.

The presenter's privacy controls (``/pause``, ``/hide``, ``/exclude``, ``/only``...,
docs/privacy.md) change the presenter's ``PrivacySettings``; the rules they set are in
``agent/privacy.py``. Remote input passes that layer's check (``Presenter
.input_refusal``) before it is injected: what it refuses is dropped and reported here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from msgspec.structs import replace

from relaydesk import limits
from relaydesk.agent.hotkey import RevokeHotkey
from relaydesk.agent.inject import InputInjector
from relaydesk.cli.files import HELP as FILES_HELP
from relaydesk.cli.files import FileDesk
from relaydesk.client.member import Member
from relaydesk.client.recording import SessionRecorder, default_path
from relaydesk.errors import RelaydeskError
from relaydesk.protocol.frames import Header
from relaydesk.protocol.messages import (
    Admit,
    Chat,
    ChatRule,
    ConsentAnswer,
    ConsentKind,
    ConsentPrompt,
    ControlMessage,
    ControlRequest,
    End,
    EndReason,
    Expel,
    InputEvent,
    InputKind,
    Lock,
    Notes,
    PresenterRequest,
    Revoke,
    RevokeReason,
    Role,
    RoleChange,
    ShareMode,
    ShareState,
)
from relaydesk.protocol.session import CONTROL_OFF, SHARING_OFF
from relaydesk.protocol.tickets import TicketRule

if TYPE_CHECKING:  # numpy and the screen modules load only when a display is there
    from relaydesk.agent.presenter import Presenter
    from relaydesk.agent.privacy import PrivacySettings

Say = Callable[[str], None]

HELP = """Commands (anything else you type is sent as chat):
  /who                  members, roles, who presents and who controls; the lobby
  /present NAME|me      ask someone to show their screen (hosts and the presenter)
  /stop                 stop the screen share (for everyone)
  /control              ask the presenter for remote control
  /revoke               end remote control (also Ctrl+F12 on the presenter's keyboard)
  /move X Y  /click X Y [BUTTON]  /type TEXT  /key KEYSYM   remote input, once granted
  /to NAME|presenter TEXT   a private chat line
The presenter and hosts decide what attendees may do:
  /chat everyone|presenter|nobody   who attendees may chat with (presenter: privately,
                        with the presenter or a host only)
  /allow save|record  /deny save|record     saving a snapshot, recording (honest clients)
  /allow annotate NAME  /deny annotate NAME drawing on the shared screen
While you present (what never leaves your screen; docs/privacy.md):
  /pause  /resume       freeze the picture (viewers keep the last one), then go on
  /hide  /show          hide the screen (viewers see a card), then show it again
  /wallpaper off|on     wallpaper, desktop icons and panels: a plain colour / shown
  /exclude NAME         never show an application: its WM_CLASS or part of its title
  /include NAME         show an excluded application again
  /only NAME            share that application only; /all: the whole screen again
  /windows              the windows you can pick, with their class and title
Hosts:
  /admit NAME  /refuse NAME   let someone waiting in the lobby in, or turn them away
  /lock  /unlock        nobody new can join while locked
  /expel NAME           remove someone for good
  /host NAME            hand over host (and the keys) to someone; you stay a participant
  /record [FILE]        record the session on this computer (everyone is told; a
                        presenter who is no host must allow it); /record stop
  /end                  end the session for everyone"""
HELP += "\n" + FILES_HELP


UNSAID = ShareState(ShareMode.LIVE, False, False)  # what a presenter who said nothing shares


def share_news(name: str, before: ShareState, after: ShareState) -> list[str]:
    """What the person is told when the presenter ``name`` changes what it shares."""
    lines = []
    if after.mode is not before.mode:
        match after.mode:
            case ShareMode.PAUSED:
                lines.append(f"{name} paused the share: you keep the last picture.")
            case ShareMode.HIDDEN:
                lines.append(f"{name} hid the screen.")
            case ShareMode.LIVE:
                again = (
                    "resumed the share"
                    if before.mode is ShareMode.PAUSED
                    else "shows the screen again"
                )
                lines.append(f"{name} {again}.")
    if after.only_window and not before.only_window:
        lines.append(f"{name} shares one application only; the rest is masked.")
    elif before.only_window and not after.only_window:
        rest = ", with parts masked" if after.masked else ""
        lines.append(f"{name} shares the whole screen again{rest}.")
    elif after.masked and not before.masked:
        lines.append(f"{name} masks parts of the screen.")
    elif before.masked and not after.masked:
        lines.append(f"{name} shows all of the screen again.")
    return lines


CHAT_VERBS = frozenset({"to", "chat", "allow", "deny"})
HOST_VERBS = frozenset({"admit", "refuse", "lock", "unlock", "expel", "host", "end", "record"})
PRIVACY_VERBS = frozenset(
    {"pause", "resume", "hide", "show", "wallpaper", "exclude", "include", "only", "all",
     "windows"}
)  # fmt: skip
PRIVACY_USAGE = {
    "pause": "/pause", "resume": "/resume", "hide": "/hide", "show": "/show",
    "wallpaper": "/wallpaper off|on", "exclude": "/exclude NAME", "include": "/include NAME",
    "only": "/only NAME", "all": "/all", "windows": "/windows",
}  # fmt: skip
VERDICT_NAMES = {"SHOWN": "shown", "EXCLUDED": "excluded", "DESKTOP": "desktop",
                 "OUTSIDE": "masked"}  # fmt: skip


class Console:
    def __init__(
        self,
        member: Member,
        display: str | None,
        say: Say,
        presenter: Presenter | None = None,
    ) -> None:
        self.member = member
        self.display = display
        self.say = say
        self.presenter = presenter
        self._drops: dict[str, tuple[float | None, int]] = {}  # reason: (reported at, since)
        self._shared = UNSAID  # what the presenter (another member) said it shares
        self._shared_from: int | None = None
        self._question: asyncio.Future[str] | None = None
        self._injector: InputInjector | None = None
        self._hotkey: RevokeHotkey | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending_revoke: asyncio.Future[None] | None = None
        self.files: FileDesk | None = None  # files to and from others (cli/files.py)
        self.recorder: SessionRecorder | None = None  # this host's recording (/record)
        self.record_first: Path | None = None  # start --record FILE: once the roster came
        self.notes = ""  # the host's notes (start --notes FILE), sent just before the end
        self._ended = False  # this member ended the session (END sent)

    async def end_with_notes(self) -> None:
        """End the session for everyone; the notes, if any, go to everyone first (the same
        ordered link, so they arrive just before END)."""
        if self._ended:
            return
        self._ended = True
        if self.notes:
            await self.member.send_content(Notes(self.notes))
            self.say("Your notes were sent to everyone.")
        await self.member.send(End(EndReason.ENDED_BY_HOST))

    def name(self, member_id: int) -> str:
        if member_id == self.member.member_id:
            return "you"
        return self.member.names.get(member_id, f"member {member_id}")

    # Typed lines ----------------------------------------------------------------------

    async def read_lines(self) -> None:
        """Read standard input in a daemon thread (a pending read never holds up the
        exit) and act on each line; at end of input the session simply goes on."""
        self._loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        loop = self._loop

        def read() -> None:
            for line in sys.stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, None)

        threading.Thread(target=read, name="console-input", daemon=True).start()
        while (line := await lines.get()) is not None:
            if self._question is not None and not self._question.done():
                self._question.set_result(line)
            elif text := line.strip():
                try:
                    await self.command(text)
                except RelaydeskError as error:
                    self.say(f"! {error}")
        await asyncio.Event().wait()

    async def site_allows(self, forbidding: TicketRule, request: ControlMessage) -> None:
        """Send ``request``, unless this member's ticket carries the site policy's
        ``forbidding`` bit (§7.2): the relay would refuse it, so say so at once."""
        if forbidding in self.member.site_rules:
            what = SHARING_OFF if forbidding is TicketRule.NO_SHARING else CONTROL_OFF
            raise RelaydeskError(f"{what[0].upper()}{what[1:]}.")
        await self.member.send(request)

    async def command(self, text: str) -> None:
        if not text.startswith("/"):
            await self.member.send_content(Chat(text[: limits.MAX_CHAT_CHARS]))
            return
        verb, _, rest = text[1:].partition(" ")
        args = rest.split()
        member = self.member
        match verb, args:
            case "help", _:
                self.say(HELP)
            case "who", _:
                self.who()
            case "present", [who]:
                await self.site_allows(TicketRule.NO_SHARING, PresenterRequest(self.find(who)))
            case _ if verb in HOST_VERBS:
                await self.host_command(verb, args, rest)
            case _ if verb in CHAT_VERBS:
                await self.chat_command(verb, args, rest)
            case "stop", []:
                await member.send(
                    Revoke(ConsentKind.PRESENT, member.presenter or 0, RevokeReason.BY_PRESENTER)
                )
            case "control", []:
                await self.site_allows(TicketRule.NO_CONTROL, ControlRequest())
            case "revoke", []:
                await self.revoke(RevokeReason.BY_PRESENTER)
            case (("move" | "click"), [x, y, *button]):
                event = InputEvent(InputKind.POINTER_MOVE, x=int(x), y=int(y))
                await self.send_input(event)
                if verb == "click":
                    number = int(button[0]) if button else 1
                    for pressed in (True, False):
                        await self.send_input(
                            InputEvent(InputKind.BUTTON, x=int(x), y=int(y), button=number,
                                       pressed=pressed)
                        )  # fmt: skip
            case "type", _ if rest:
                await self.send_input(InputEvent(InputKind.TEXT, text=rest))
            case _ if verb in PRIVACY_VERBS:
                await self.privacy(verb, rest.strip())
            case "key", [name]:
                from Xlib import XK  # noqa: PLC0415 - keysym names only

                keysym = XK.string_to_keysym(name)
                if not keysym:
                    self.say(f"! unknown key {name!r} (X keysym names: Return, a, F5, ...)")
                    return
                for pressed in (True, False):
                    await self.send_input(InputEvent(InputKind.KEY, keysym=keysym, pressed=pressed))
            case _ if not await self.file_command(verb, rest):
                self.say(f"! unknown command /{verb} (try /help)")

    async def chat_command(self, verb: str, args: list[str], rest: str) -> None:
        """Private chat, and what attendees may do (the presenter's and hosts' say)."""
        member = self.member
        match verb, args:
            case "to", [who, *_] if rest.partition(" ")[2].strip():
                target = member.presenter if who == "presenter" else self.find(who)
                if target is None:
                    raise RelaydeskError("nobody is presenting")
                line = rest.partition(" ")[2].strip()[: limits.MAX_CHAT_CHARS]
                await member.send_content(Chat(line), target)
            case "chat", [rule] if rule.upper() in ChatRule.__members__:
                await member.send(replace(member.permissions, chat=ChatRule[rule.upper()]))
            case (("allow" | "deny"), ["save" | "record" as what]):
                field = "may_save" if what == "save" else "may_record"
                await member.send(replace(member.permissions, **{field: verb == "allow"}))
            case (("allow" | "deny"), ["annotate", who]):
                annotators = set(member.permissions.annotators) - {self.find(who)}
                if verb == "allow":
                    annotators.add(self.find(who))
                permissions = replace(member.permissions, annotators=tuple(sorted(annotators)))
                await member.send(permissions)
            case _:
                self.say(f"! usage: see /help (/{verb})")

    async def host_command(self, verb: str, args: list[str], rest: str) -> None:
        """What hosts do: the lobby, the lock, expelling, handing over, recording, ending."""
        member = self.member
        match verb, args:
            case (("admit" | "refuse"), [who]):
                await member.send(Admit(self.find(who, lobby=True), verb == "admit"))
            case (("lock" | "unlock"), []):
                await member.send(Lock(verb == "lock"))
            case "expel", [who]:
                await member.send(Expel(self.find(who, lobby=True)))
            case "host", [who]:
                await member.send(RoleChange(self.find(who), Role.HOST))
                await member.send(RoleChange(member.member_id, Role.PARTICIPANT))
            case "end", []:
                await self.end_with_notes()
            case "record", _:
                await self.record(rest.strip())
            case _:
                self.say(f"! usage: see /help (/{verb})")

    async def record(self, what: str) -> None:
        """/record [FILE] starts recording this session here; /record stop ends it."""
        recorder = self.recorder
        if recorder is None:
            self.say("! this client cannot record")
            return
        if what == "stop":
            await recorder.stop()
            return
        if not self.member.is_host:
            self.say("! only a host records the session")
            return
        path = Path(what).expanduser() if what else default_path(recorder.session_id)
        await recorder.start(path)
        self.say(f"Asked to record to {path}; everyone will be told.")

    async def file_command(self, verb: str, rest: str) -> bool:
        """/send, /cancel and /files (cli/files.py); False for any other verb."""
        if self.files is None or verb not in ("send", "cancel", "files"):
            return False
        await self.files.command(verb, rest, self.find)
        return True

    def who(self) -> None:
        member = self.member
        for member_id in sorted(member.roles):
            marks = [member.roles[member_id].name.lower()]
            if member_id == member.presenter:
                marks.append("presenting")
            if member_id == member.control_holder:
                marks.append("in control")
            self.say(f"  {member_id}: {self.name(member_id)} ({', '.join(marks)})")
        for member_id, ticket in sorted(member.lobby.items()):
            email = f" <{ticket.email}>" if ticket.email else ""
            self.say(f"  {member_id}: {ticket.display_name}{email} (waiting in the lobby)")
        if member.locked:
            self.say("  The session is locked: nobody new can join.")
        if member.recording is not None:
            self.say(f"  Recording by {self.recorder_name(member.recording)}.")

    def recorder_name(self, member_id: int) -> str:
        """Who records, as the person is told: by name once known (a member waiting in
        the lobby knows no names yet)."""
        name = self.name(member_id)
        return (
            name
            if member_id in self.member.names or name == "you"
            else (f"a host (member {member_id})")
        )

    def find(self, who: str, lobby: bool = False) -> int:
        """A member by id or display name (with ``lobby``, those waiting too)."""
        if who == "me":
            return self.member.member_id
        if who.isdigit():
            return int(who)
        known = set(self.member.roles) | (set(self.member.lobby) if lobby else set())
        matches = [m for m, n in self.member.names.items() if n == who and m in known]
        if len(matches) != 1:
            raise RelaydeskError(f"no single member named {who!r}: see /who")
        return matches[0]

    async def send_input(self, event: InputEvent) -> None:
        presenter = self.member.presenter
        if presenter is None or self.member.control_holder != self.member.member_id:
            raise RelaydeskError("you have no remote control (ask with /control)")
        await self.member.send_content(event, presenter)

    # Privacy: what leaves this member's screen while it presents -----------------------

    async def privacy(self, verb: str, arg: str) -> None:
        """The presenter's privacy controls (docs/privacy.md)."""
        presenter = self.presenter
        if presenter is None:
            self.say("! this client has no screen to share (DISPLAY is not set)")
            return
        if verb == "windows" and not arg:
            self.show_windows()
            return
        settings = presenter.settings
        try:
            changed = self._privacy_change(settings, verb, arg)
        except ValueError as error:
            self.say(f"! {error}")
            return
        if changed is None:
            self.say(f"! usage: {PRIVACY_USAGE[verb]} (see /help)")
            return
        new, note = changed
        await presenter.change(new)
        self.say(note)
        if new.needs_windows and verb in ("exclude", "only"):
            self._warn_if_nothing_matches(arg, verb)
        if not presenter.presenting:
            self.say("  (You are not presenting now: this holds when you do.)")

    def _privacy_change(
        self, settings: PrivacySettings, verb: str, arg: str
    ) -> tuple[PrivacySettings, str] | None:
        """The settings a command asks for, and what to tell the person; None: not a
        valid command. ValueError: a valid command that cannot be done."""
        replace = dataclasses.replace
        match verb, arg:
            case "pause", "":
                return (replace(settings, mode=ShareMode.PAUSED),
                        "Share paused: viewers keep the last picture, and nothing is sent "
                        "until /resume.")  # fmt: skip
            case "hide", "":
                return (replace(settings, mode=ShareMode.HIDDEN),
                        "Screen hidden: viewers see a card, and nothing is sent until "
                        "/show.")  # fmt: skip
            case (("resume" | "show"), ""):
                if settings.mode is ShareMode.LIVE:
                    raise ValueError("the share is live already")
                return replace(settings, mode=ShareMode.LIVE), "The share is live again."
            case "wallpaper", ("on" | "off"):
                hide = arg == "off"
                note = ("Wallpaper, desktop icons and panels are hidden (a plain colour)."
                        if hide else "Wallpaper, desktop icons and panels are shown.")  # fmt: skip
                return replace(settings, hide_desktop=hide), note
            case "exclude", _ if arg:
                return (settings.exclude(arg),
                        f"Excluded {arg!r}: its windows are masked in every picture, and "
                        "input aimed at them is dropped.")  # fmt: skip
            case "include", _ if arg:
                return settings.include(arg), f"{arg!r} is shown again."
            case "only", _ if arg:
                return (settings.share_only(arg),
                        f"Sharing {arg!r} only: everything else is masked, and input "
                        "outside it is dropped.")  # fmt: skip
            case "all", "":
                if settings.only is None:
                    raise ValueError("you share the whole screen already")
                return settings.share_only(None), "Sharing the whole screen again."
        return None

    def _warn_if_nothing_matches(self, pattern: str, verb: str) -> None:
        from relaydesk.agent.privacy import matches  # noqa: PLC0415 - needs the display

        presenter = self.presenter
        assert presenter is not None
        try:
            windows = presenter.window_list()
        except RelaydeskError:
            return
        if not any(matches(window, pattern) for window, _ in windows):
            then = "any that does will be masked" if verb == "exclude" else "all is masked"
            self.say(f"  No window matches {pattern!r} now; {then} (see /windows).")

    def show_windows(self) -> None:
        presenter = self.presenter
        assert presenter is not None
        try:
            windows = presenter.window_list()
        except RelaydeskError as error:
            self.say(f"! cannot list the windows: {error}")
            return
        self.say("Windows on your screen, top first (what viewers see of each):")
        for window, verdict in windows:
            self.say(f"  {VERDICT_NAMES[verdict.name]:<9} {window.describe()}")
        if not windows:
            self.say("  (none)")
        self.say(f"  Now: {presenter.settings.describe()}.")

    def share_state(self, sender: int, state: ShareState) -> None:
        """The presenter (another member) says what it shares: tell the person."""
        before = self._shared if self._shared_from == sender else UNSAID
        for line in share_news(self.name(sender), before, state):
            self.say(line)
        self._shared, self._shared_from = state, sender

    def _report_drop(self, sender: int, reason: str) -> None:
        """Dropped input is reported, but a stream of it (pointer moves) at most every
        ``limits.PRIVACY_REPORT_SECONDS`` for each kind of reason."""
        kind = re.sub(r"\d+", "#", reason)
        now = time.monotonic()
        last, quiet = self._drops.get(kind, (None, 0))
        if last is not None and now - last < limits.PRIVACY_REPORT_SECONDS:
            self._drops[kind] = (last, quiet + 1)
            return
        more = f" (and {quiet} more like it)" if quiet else ""
        self.say(f"! input from {self.name(sender)} dropped: {reason}{more}")
        self._drops[kind] = (now, 0)

    # Consent --------------------------------------------------------------------------

    async def ask(self, question: str) -> bool | None:
        """Ask the person: True for yes, False for no, None for no answer in time."""
        timeout = limits.CONSENT_TIMEOUT_SECONDS
        self.say(f"? {question} [y/N] (no answer in {timeout:.0f} s means no)")
        self._question = asyncio.get_running_loop().create_future()
        try:
            answer = await asyncio.wait_for(self._question, timeout)
        except TimeoutError:
            self.say("No answer: that is a no.")
            return None
        finally:
            self._question = None
        return answer.strip().lower() in ("y", "yes")

    async def consent(self, prompt: ConsentPrompt) -> None:
        asker = self.name(prompt.asked_by)
        if prompt.kind is ConsentKind.PRESENT:
            question = f"{asker} asks you to show your screen to everyone in the session."
            if self.member.recording is not None:
                who = self.recorder_name(self.member.recording)
                question += (
                    f" {who} is recording the session; attendees may record now, so it goes "
                    "on (/deny record stops it)."
                    if self.member.permissions.may_record
                    else f" {who} is recording the session; it stops when you present "
                    "unless you /allow record."
                )
        else:
            question = f"{asker} asks to control your mouse and keyboard."
        if prompt.kind is ConsentKind.PRESENT and not self.display:
            self.say(f"{asker} asked you to show your screen, but this client has no display "
                     "to share (DISPLAY is not set): answered no.")  # fmt: skip
            await self.member.send(ConsentAnswer(prompt.kind, False))
            return
        granted = await self.ask(question + " Allow?")
        if granted is None:
            return  # the relay's clock ends the question the same way: timed out
        await self.member.send(ConsentAnswer(prompt.kind, granted))
        self.say("You said yes." if granted else "You said no.")

    # Remote control on this member's display ------------------------------------------

    def control_changed(self) -> None:
        """Open the injector and the revoke hotkey while someone controls this screen."""
        member = self.member
        if member.presenter != self._shared_from:  # a presenter starts: it shares all
            self._shared, self._shared_from = UNSAID, None
        controlled = member.presenter == member.member_id and member.control_holder is not None
        if controlled and self._injector is None:
            excluded = self.presenter.masked_at if self.presenter is not None else None
            self._injector = InputInjector(self.display, excluded)
            loop = self._loop or asyncio.get_running_loop()

            injector = self._injector

            def pressed() -> None:
                # On the hotkey's thread, at once: no event is injected from now on, not
                # even one the loop is about to hand over. Then the loop tells the relay.
                injector.close()
                loop.call_soon_threadsafe(self._revoke_by_hotkey)

            self._hotkey = RevokeHotkey(self.display, pressed)
            holder = member.control_holder or 0
            self.say(f"{self.name(holder)} now controls your mouse and keyboard. "
                     "Press Ctrl+F12 to take it back at once.")  # fmt: skip
        elif not controlled and self._injector is not None:
            self.close_control()

    def _revoke_by_hotkey(self) -> None:
        holder = self._end_control_here("Remote control revoked (Ctrl+F12).")
        self._pending_revoke = asyncio.ensure_future(self._tell_relay(holder))

    async def revoke(self, reason: RevokeReason) -> None:
        holder = self._end_control_here("Remote control revoked.")
        await self._tell_relay(holder, reason)

    def _end_control_here(self, note: str) -> int | None:
        """Control ends on this side first, at once: input still on its way is dropped
        (it no longer comes from the control holder)."""
        holder = self.member.control_holder
        self.member.control_holder = None
        self.close_control()
        if holder is not None:
            self.say(note)
        return holder

    async def _tell_relay(
        self, holder: int | None, reason: RevokeReason = RevokeReason.BY_PRESENTER
    ) -> None:
        await self.member.send(Revoke(ConsentKind.CONTROL, holder or 0, reason))

    def close_control(self) -> None:
        if self._injector is not None:
            self._injector.release_all()
            self._injector.close()
            self._injector = None
        if self._hotkey is not None:
            self._hotkey.close()
            self._hotkey = None

    def input(self, header: Header, event: InputEvent) -> None:
        """Inject input only from the member this member granted control to (the relay
        checked it too, and the signature was checked when the frame was opened), and
        only what the presenter's privacy choices let through (docs/privacy.md)."""
        member = self.member
        if (
            self._injector is None
            or member.presenter != member.member_id
            or header.sender != member.control_holder
        ):
            self.say(f"! input from {self.name(header.sender)} dropped: no live grant")
            return
        try:
            refusal = self.presenter.input_refusal(event) if self.presenter else None
            if refusal is not None:
                self._report_drop(header.sender, refusal)
                return
            self._injector.inject(event)
        except RelaydeskError as error:
            self.say(f"! input from {self.name(header.sender)} refused: {error}")
