"""Chat across reconnects (docs/protocol.md §4.3, §11): no line lost, none shown twice.

The sender numbers its lines (``Chat.id``, from 1) and remembers the last
``MAX_CHAT_REPLAY_LINES`` with the members each reached. After this member reconnects
(a ROSTER after an earlier one), or when a member it reached comes back (MEMBER_JOINED),
it sends those of the last ``CHAT_REPLAY_SECONDS`` again, with the same ids, to each such
member still present, once both hold the keys of an epoch that replaced the one they had
when the link came back (sealed in an older one, a replay could reach a member that no
longer holds it). An epoch is known by (number, leader): a returning leader's epoch may
replace a stand-in's of the same number (docs/protocol.md §6.2). Receivers show each
(sender, id) once and forget the oldest first.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import msgspec

from relaydesk import limits
from relaydesk.protocol.frames import EVERYONE
from relaydesk.protocol.messages import U32, AnyMessage, Chat, MemberJoined, Roster

EpochId = tuple[int, int]
"""An epoch as (number, leader)."""

SEEN_PER_SENDER = 2 * limits.MAX_CHAT_REPLAY_LINES
"""Ids remembered per sender: more than one replay can carry."""


@dataclass(frozen=True, slots=True)
class SentLine:
    line: Chat
    at: float
    reached: frozenset[int]  # the members it was sent to (present when it was sent)


class ChatLog:
    """One member's chat bookkeeping: the lines it sent, the (sender, id) it showed."""

    def __init__(self, member_id: int, clock: Callable[[], float]) -> None:
        self.member_id = member_id
        self._clock = clock
        self._next_id = 1
        self.sent: deque[SentLine] = deque(maxlen=limits.MAX_CHAT_REPLAY_LINES)
        self._seen: OrderedDict[int, tuple[deque[int], set[int]]] = OrderedDict()
        self._pending: dict[int, EpochId] = {}  # member -> the epoch a replay must follow
        self._rostered = False
        self.replayed = 0  # lines sent again (for tests and logs)

    # Sending --------------------------------------------------------------------------

    def stamp(self, line: Chat, target: int, present: Iterable[int]) -> Chat:
        """The line as it goes out (numbered, its audience said), remembered for replay.
        ``present``: the admitted members when it is sent."""
        if line.id == 0:
            line = msgspec.structs.replace(
                line, id=self._next_id, to_everyone=target == EVERYONE or line.to_everyone
            )
            self._next_id = self._next_id % U32 + 1
        reached = set(present) - {self.member_id} if target == EVERYONE else {target}
        self.sent.append(SentLine(line, self._clock(), frozenset(reached)))
        return line

    def note(self, message: AnyMessage, epoch: EpochId) -> None:
        """A control message about to be acted on; ``epoch``: the one this member holds."""
        match message:
            case Roster() if self._rostered:  # this member's link came back
                for sent in self.sent:
                    for member in sent.reached:
                        self._pending[member] = epoch
            case Roster():
                self._rostered = True
            case MemberJoined(entry) if any(entry.member_id in s.reached for s in self.sent):
                self._pending[entry.member_id] = epoch  # it may have missed some
            case _:
                pass

    def again(self, replaced: EpochId) -> None:
        """A stand-in's epoch this member sent in was replaced by the leader's of the same
        number: what was sealed in it opens for no one now, so every recent line goes
        again (receivers drop those they showed)."""
        for sent in self.sent:
            for member in sent.reached:
                self._pending[member] = replaced

    def due(self, epoch: EpochId, holders: frozenset[int]) -> list[tuple[Chat, int]]:
        """(line, member) to send again now, in the order first sent: for each pending
        member that holds the keys of ``epoch`` (one that followed the epoch held when it
        became pending: a higher number, or the same number from another leader)."""
        if not self._pending or self.member_id not in holders:
            return []
        ready = {
            m
            for m, since in self._pending.items()
            if m in holders and epoch != since and epoch[0] >= since[0]
        }
        if not ready:
            return []
        for member in ready:
            del self._pending[member]
        oldest = self._clock() - limits.CHAT_REPLAY_SECONDS
        lines = [
            (sent.line, member)
            for sent in self.sent
            if sent.at >= oldest
            for member in sorted(sent.reached & ready)
        ]
        self.replayed += len(lines)
        return lines

    # Receiving ------------------------------------------------------------------------

    def first_showing(self, sender: int, line: Chat) -> bool:
        """False for a (sender, id) already shown: a replay of a line that did arrive."""
        if line.id == 0:
            return True
        known = self._seen.get(sender)
        if known is None:
            known = self._seen[sender] = (deque(), set())
            if len(self._seen) > limits.MAX_MEMBERS:
                self._seen.popitem(last=False)
        self._seen.move_to_end(sender)
        order, ids = known
        if line.id in ids:
            return False
        order.append(line.id)
        ids.add(line.id)
        if len(order) > SEEN_PER_SENDER:
            ids.discard(order.popleft())
        return True
