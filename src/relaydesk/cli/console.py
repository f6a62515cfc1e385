"""The member's console: what the person at the terminal types, sees and is asked.

A typed line is a ``/command``, or chat to everyone. While a consent question is open,
the next line answers it ("y" or "yes" is yes; anything else, or no answer within
``limits.CONSENT_TIMEOUT_SECONDS``, is no). Remote control is injected into this
member's own display only while this member presents, only from the member it granted
control to, and ends at once with Ctrl+F12 on this display or ``/revoke``.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable

from relaydesk import limits
from relaydesk.agent.hotkey import RevokeHotkey
from relaydesk.agent.inject import InputInjector
from relaydesk.client.member import Member
from relaydesk.errors import RelaydeskError
from relaydesk.protocol.frames import Header
from relaydesk.protocol.messages import (
    Admit,
    Chat,
    ConsentAnswer,
    ConsentKind,
    ConsentPrompt,
    ControlRequest,
    End,
    EndReason,
    Expel,
    InputEvent,
    InputKind,
    Lock,
    PresenterRequest,
    Revoke,
    RevokeReason,
    Role,
    RoleChange,
)

Say = Callable[[str], None]

HELP = """Commands (anything else you type is sent as chat):
  /who                  members, roles, who presents and who controls; the lobby
  /present NAME|me      ask someone to show their screen (hosts and the presenter)
  /stop                 stop the screen share (for everyone)
  /control              ask the presenter for remote control
  /revoke               end remote control (also Ctrl+F12 on the presenter's keyboard)
  /move X Y  /click X Y [BUTTON]  /type TEXT  /key KEYSYM   remote input, once granted
Hosts:
  /admit NAME  /refuse NAME   let someone waiting in the lobby in, or turn them away
  /lock  /unlock        nobody new can join while locked
  /expel NAME           remove someone for good
  /host NAME            hand over host (and the keys) to someone; you stay a participant
  /end                  end the session for everyone"""


class Console:
    def __init__(self, member: Member, display: str | None, say: Say) -> None:
        self.member = member
        self.display = display
        self.say = say
        self._question: asyncio.Future[str] | None = None
        self._injector: InputInjector | None = None
        self._hotkey: RevokeHotkey | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending_revoke: asyncio.Future[None] | None = None

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
                await member.send(PresenterRequest(self.find(who)))
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
                await member.send(End(EndReason.ENDED_BY_HOST))
            case "stop", []:
                await member.send(
                    Revoke(ConsentKind.PRESENT, member.presenter or 0, RevokeReason.BY_PRESENTER)
                )
            case "control", []:
                await member.send(ControlRequest())
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
            case "key", [name]:
                from Xlib import XK  # noqa: PLC0415 - keysym names only

                keysym = XK.string_to_keysym(name)
                if not keysym:
                    self.say(f"! unknown key {name!r} (X keysym names: Return, a, F5, ...)")
                    return
                for pressed in (True, False):
                    await self.send_input(InputEvent(InputKind.KEY, keysym=keysym, pressed=pressed))
            case _:
                self.say(f"! unknown command /{verb} (try /help)")

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
        controlled = member.presenter == member.member_id and member.control_holder is not None
        if controlled and self._injector is None:
            self._injector = InputInjector(self.display)
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
        checked it too, and the signature was checked when the frame was opened)."""
        member = self.member
        if (
            self._injector is None
            or member.presenter != member.member_id
            or header.sender != member.control_holder
        ):
            self.say(f"! input from {self.name(header.sender)} dropped: no live grant")
            return
        try:
            self._injector.inject(event)
        except RelaydeskError as error:
            self.say(f"! input from {self.name(header.sender)} refused: {error}")
