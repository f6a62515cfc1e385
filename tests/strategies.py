"""Hypothesis strategies for frames, messages and tickets.

Every strategy draws only values that the parsers accept (the bounds each record declares
in relaydesk.protocol.messages), so a round trip must give back exactly what was drawn.
Sizes are kept small for speed; the limits themselves are tested with explicit boundary
values.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from relaydesk import limits
from relaydesk.protocol.frames import MAX_MEMBER_ID, Flags, Frame, FrameType, Header
from relaydesk.protocol.messages import (
    U32,
    U64,
    Admit,
    Annotation,
    AnnotationKind,
    Challenge,
    Chat,
    ChatRule,
    CommitContent,
    ConsentAnswer,
    ConsentKind,
    ConsentOutcome,
    ConsentPrompt,
    ConsentResult,
    ControlRequest,
    Cursor,
    End,
    EndReason,
    Error,
    Expel,
    FileAnswer,
    FileChunk,
    FileEnd,
    FileEndReason,
    FileOffer,
    Grant,
    Hello,
    InputEvent,
    InputKind,
    KeyCommit,
    LeaveReason,
    Lock,
    MemberJoined,
    MemberLeft,
    Notes,
    Permissions,
    Ping,
    Point,
    Pong,
    PresenterRequest,
    Recording,
    Refresh,
    Revoke,
    RevokeReason,
    Role,
    RoleChange,
    Roster,
    RosterEntry,
    ScreenUpdate,
    SealedKey,
    ShareMode,
    ShareState,
    Tile,
    TileEncoding,
    VideoFrame,
    VideoLayers,
    Waiting,
    WaitReason,
)
from relaydesk.protocol.tickets import Ticket, TicketRule

SIDE = limits.MAX_SCREEN_SIDE

# Scalars ------------------------------------------------------------------------------

u32 = st.integers(0, U32)
u64 = st.integers(0, U64)
transfer_ids = st.integers(1, U32)
file_offsets = st.integers(0, limits.MAX_FILE_BYTES)
member_ids = st.integers(1, MAX_MEMBER_ID)
member_or_none = st.integers(0, MAX_MEMBER_ID)
session_uids = st.binary(min_size=16, max_size=16)
keys32 = st.binary(min_size=32, max_size=32)


def texts(max_chars: int, min_chars: int = 0) -> st.SearchStrategy[str]:
    """Text counted in code points, as the parsers count it (no lone surrogates)."""
    return st.text(min_size=min_chars, max_size=min(max_chars, 40))


def binaries(max_len: int) -> st.SearchStrategy[bytes]:
    return st.binary(max_size=min(max_len, 64))


# Frames -------------------------------------------------------------------------------

frame_types = st.sampled_from(FrameType)
known_flags = st.sampled_from(
    [Flags.NONE, Flags.KEYFRAME, Flags.SUPERSEDABLE, Flags.KEYFRAME | Flags.SUPERSEDABLE]
)

headers = st.builds(
    Header,
    type=frame_types,
    session_uid=session_uids,
    epoch=u32,
    sender=u32,
    target=u32,
    sequence=u64,
    flags=known_flags,
)
frames = st.builds(Frame, header=headers, body=st.binary(max_size=200))

# Messages -----------------------------------------------------------------------------

roster_entries = st.builds(
    RosterEntry,
    member_id=member_ids,
    role=st.sampled_from(Role),
    ticket=binaries(limits.MAX_TICKET_BYTES),
)
sealed_keys = st.builds(
    SealedKey,
    member_id=member_ids,
    enc=st.binary(min_size=1120, max_size=1120),
    ciphertext=st.binary(min_size=48, max_size=48),
)
commit_contents = st.builds(
    CommitContent,
    session_uid=session_uids,
    epoch=st.integers(1, U32),
    leader=member_ids,
    members=st.lists(member_ids, max_size=5).map(tuple),
    roster_hash=keys32,
    sealed=st.lists(sealed_keys, max_size=4).map(tuple),
)
tiles = st.builds(
    Tile,
    x=st.integers(0, SIDE - 1),
    y=st.integers(0, SIDE - 1),
    width=st.integers(1, SIDE),
    height=st.integers(1, SIDE),
    encoding=st.sampled_from(TileEncoding),
    data=binaries(limits.MAX_FRAME_BODY),
)
points = st.builds(Point, x=st.integers(0, SIDE), y=st.integers(0, SIDE))

MESSAGES: dict[type[Any], st.SearchStrategy[Any]] = {
    Challenge: st.builds(
        Challenge,
        nonce=st.binary(min_size=32, max_size=32),
        relay=st.from_regex(r"\A[a-z0-9-]{1,32}\Z"),
    ),
    Hello: st.builds(
        Hello, ticket=binaries(limits.MAX_TICKET_BYTES), proof=st.binary(min_size=64, max_size=64)
    ),
    Roster: st.builds(
        Roster,
        you=member_ids,
        members=st.lists(roster_entries, max_size=4).map(tuple),
        presenter=member_or_none,
        control_holder=member_or_none,
        locked=st.booleans(),
        epoch=st.integers(0, 0xFFFFFFFF),
        lobby=st.lists(roster_entries, max_size=3).map(tuple),
        recording=member_or_none,
    ),
    Recording: st.builds(Recording, member_id=member_ids, active=st.booleans()),
    MemberJoined: st.builds(MemberJoined, entry=roster_entries),
    MemberLeft: st.builds(MemberLeft, member_id=member_ids, reason=st.sampled_from(LeaveReason)),
    RoleChange: st.builds(RoleChange, member_id=member_ids, role=st.sampled_from(Role)),
    PresenterRequest: st.builds(PresenterRequest, member_id=member_ids),
    ControlRequest: st.just(ControlRequest()),
    ConsentPrompt: st.builds(ConsentPrompt, kind=st.sampled_from(ConsentKind), asked_by=member_ids),
    ConsentAnswer: st.builds(
        ConsentAnswer, kind=st.sampled_from(ConsentKind), granted=st.booleans()
    ),
    ConsentOutcome: st.builds(
        ConsentOutcome,
        kind=st.sampled_from(ConsentKind),
        asked_by=member_ids,
        subject=member_ids,
        result=st.sampled_from(ConsentResult),
    ),
    Grant: st.builds(Grant, kind=st.sampled_from(ConsentKind), member_id=member_ids),
    Revoke: st.builds(
        Revoke,
        kind=st.sampled_from(ConsentKind),
        member_id=member_ids,
        reason=st.sampled_from(RevokeReason),
    ),
    Lock: st.builds(Lock, locked=st.booleans()),
    Expel: st.builds(Expel, member_id=member_ids),
    End: st.builds(End, reason=st.sampled_from(EndReason)),
    KeyCommit: st.builds(
        KeyCommit,
        content=binaries(limits.MAX_CONTROL_BODY),
        signature=st.binary(min_size=64, max_size=64),
    ),
    Error: st.builds(Error, code=st.integers(0, 4999), text=texts(limits.MAX_ERROR_TEXT_CHARS)),
    Ping: st.builds(Ping, nonce=u64),
    Pong: st.builds(Pong, nonce=u64),
    Refresh: st.builds(Refresh, member_id=member_or_none),
    Admit: st.builds(Admit, member_id=member_ids, admitted=st.booleans()),
    Waiting: st.builds(Waiting, entry=roster_entries, reason=st.sampled_from(WaitReason)),
    Permissions: st.builds(
        Permissions,
        chat=st.sampled_from(ChatRule),
        annotators=st.lists(member_ids, max_size=5).map(tuple),
        may_save=st.booleans(),
        may_record=st.booleans(),
    ),
    ScreenUpdate: st.builds(
        ScreenUpdate,
        width=st.integers(1, SIDE),
        height=st.integers(1, SIDE),
        full=st.booleans(),
        tiles=st.lists(tiles, max_size=4).map(tuple),
    ),
    VideoLayers: st.builds(VideoLayers, layers=st.integers(1, limits.VIDEO_LAYERS)),
    VideoFrame: st.builds(
        VideoFrame,
        stream=u32,
        number=u32,
        sent_at=u32,
        keyframe=st.booleans(),
        x=st.integers(0, SIDE - 2),
        y=st.integers(0, SIDE - 2),
        width=st.integers(1, SIDE // 2).map(lambda half: 2 * half),
        height=st.integers(1, SIDE // 2).map(lambda half: 2 * half),
        data=st.binary(min_size=1, max_size=64),
    ),
    Cursor: st.builds(
        Cursor, x=st.integers(0, SIDE), y=st.integers(0, SIDE), visible=st.booleans()
    ),
    ShareState: st.builds(
        ShareState,
        mode=st.sampled_from(ShareMode),
        only_window=st.booleans(),
        masked=st.booleans(),
    ),
    InputEvent: st.builds(
        InputEvent,
        kind=st.sampled_from(InputKind),
        x=st.integers(0, SIDE),
        y=st.integers(0, SIDE),
        button=st.integers(0, 32),
        pressed=st.booleans(),
        dx=st.integers(-100, 100),
        dy=st.integers(-100, 100),
        keysym=st.integers(0, 0x1FFFFFFF),
        modifiers=st.integers(0, 15),
        text=texts(limits.MAX_TYPED_TEXT_CHARS),
    ),
    Chat: st.builds(Chat, text=texts(limits.MAX_CHAT_CHARS, min_chars=1)),
    Annotation: st.builds(
        Annotation,
        stroke_id=u32,
        color=st.integers(0, 0xFFFFFF),
        width=st.integers(1, 64),
        points=st.lists(points, max_size=6).map(tuple),
        clear=st.booleans(),
        kind=st.sampled_from(AnnotationKind),
    ),
    Notes: st.builds(Notes, text=texts(limits.MAX_NOTES_CHARS, min_chars=1)),
    FileChunk: st.builds(
        FileChunk,
        transfer_id=transfer_ids,
        offset=file_offsets,
        data=binaries(limits.MAX_FILE_CHUNK).filter(bool),
    ),
    FileOffer: st.builds(
        FileOffer,
        transfer_id=transfer_ids,
        name=texts(limits.MAX_FILE_NAME_CHARS).filter(bool),
        size=file_offsets,
        sha256=st.binary(min_size=32, max_size=32),
        chunk_size=st.integers(1, limits.MAX_FILE_CHUNK),
    ),
    FileAnswer: st.builds(
        FileAnswer, transfer_id=transfer_ids, accepted=st.booleans(), offset=file_offsets
    ),
    FileEnd: st.builds(FileEnd, transfer_id=transfer_ids, reason=st.sampled_from(FileEndReason)),
}
"""A strategy for every class in ``messages.MESSAGE_CLASSES``."""

messages = st.one_of(*MESSAGES.values())
content_messages = st.one_of(
    *(strategy for cls, strategy in MESSAGES.items() if cls.TYPE.is_content)
)

tickets = st.builds(
    Ticket,
    session_uid=session_uids,
    member_id=member_ids,
    display_name=texts(limits.MAX_DISPLAY_NAME_CHARS, min_chars=1),
    role=st.sampled_from(Role),
    agreement=st.binary(min_size=1216, max_size=1216),
    ed25519=keys32,
    relay=texts(limits.MAX_RELAY_URL_CHARS),
    expires_at=u64,
    email=texts(limits.MAX_EMAIL_CHARS),
    rules=st.integers(0, 7).map(TicketRule),
)

# Arbitrary MessagePack values: what a hostile peer can put in a well-formed body.
msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), U64)
    | st.floats(allow_nan=False)
    | st.text(max_size=10)
    | st.binary(max_size=40),
    lambda children: st.lists(children, max_size=6),
    max_leaves=20,
)
