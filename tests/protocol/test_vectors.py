"""The golden vectors in tests/vectors/: recomputed from their inputs, and read back.

Each test takes its inputs from the JSON files only (never from the generator), so the
same checks can be written in JavaScript against the same files. The generator is used
once: to show that the committed files are exactly what it makes now.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from relaydesk import errors
from relaydesk.protocol import hpke
from relaydesk.protocol import keys as ks
from relaydesk.protocol.e2e import EndToEnd, nonce
from relaydesk.protocol.frames import (
    HEADER_SIZE,
    Channel,
    Frame,
    FrameType,
    StreamDecoder,
    parse_header,
)
from relaydesk.protocol.messages import KeyCommit, decode, encode, pack
from relaydesk.protocol.tickets import (
    HELLO_LABEL,
    REFRESH_LABEL,
    hello_message,
    prove_hello,
    refresh_message,
    sign_ticket,
    verify_hello,
    verify_ticket,
)
from vectors import generate
from vectors.generate import from_json, header_from_json, ticket_from_json, to_json

VECTORS_DIR = Path(__file__).resolve().parent.parent / "vectors"
FILES = sorted(generate.BUILDERS)


@cache
def load(name: str) -> Any:
    return json.loads((VECTORS_DIR / name).read_text(encoding="utf-8"))


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def error_class(name: str) -> type[Exception]:
    cls = getattr(errors, name)
    assert issubclass(cls, errors.RelaydeskError)
    return cls


def ids(cases: list[dict[str, Any]]) -> list[str]:
    return [case["name"] for case in cases]


# The files themselves ----------------------------------------------------------------


@pytest.mark.parametrize("name", FILES)
def test_committed_file_is_what_the_generator_makes(name: str) -> None:
    expected = generate.render(generate.BUILDERS[name]())
    actual = (VECTORS_DIR / name).read_text(encoding="utf-8")
    assert actual == expected, f"{name} is stale: run .venv/bin/python tests/vectors/generate.py"


def test_no_stray_files_and_every_file_documented() -> None:
    on_disk = {path.name for path in VECTORS_DIR.glob("*.json")}
    assert on_disk == set(FILES)
    readme = (VECTORS_DIR / "README.md").read_text(encoding="utf-8")
    for name in FILES:
        assert f"`{name}`" in readme


def test_drbg_is_the_documented_construction() -> None:
    rng = generate.Drbg(b"seed")
    stream = b"".join(hashlib.sha256(b"seed" + i.to_bytes(8, "big")).digest() for i in range(3))
    assert rng(5) + rng(40) + rng(0) + rng(19) == stream[:64]


# frames.json -------------------------------------------------------------------------

FRAMES = load("frames.json")


@pytest.mark.parametrize("case", FRAMES["valid"], ids=ids(FRAMES["valid"]))
def test_frame_vectors(case: dict[str, Any]) -> None:
    header = header_from_json(case["header"])
    body = h(case["body"])
    assert len(body) == case["body_length"]
    data = Frame(header, body).serialize()
    assert data == h(case["frame"])
    assert Frame.parse(data) == Frame(header, body)
    assert parse_header(data[:HEADER_SIZE]) == (header, len(body))
    assert data[0] == case["header"]["version"]
    assert FrameType[case["header"]["type"]] == case["header"]["type_code"]


@pytest.mark.parametrize("case", FRAMES["invalid"], ids=ids(FRAMES["invalid"]))
def test_invalid_frame_vectors(case: dict[str, Any]) -> None:
    with pytest.raises(errors.FrameError) as error:
        Frame.parse(h(case["frame"]))
    assert type(error.value) is error_class(case["error"])
    if case["error"] == "FrameTooLarge":  # also from a stream, from the header alone
        with pytest.raises(errors.FrameTooLarge):
            StreamDecoder().receive_data(h(case["frame"]))


def test_frame_limits_and_tables() -> None:
    assert FRAMES["header_size"] == HEADER_SIZE
    assert FRAMES["types"] == {t.name: int(t) for t in FrameType}
    for case in FRAMES["headers_at_limit"]:
        header, length = parse_header(h(case["header"]))
        assert (header.type.name, length) == (case["type"], case["body_length"])
    assert {c["body_length"] for c in FRAMES["headers_at_limit"]} == {
        FRAMES["max_control_body"],
        FRAMES["max_content_body"],
    }


@pytest.mark.parametrize("chunk", [1, 7, 44, 10**6])
def test_frame_stream_vector(chunk: int) -> None:
    stream = h(FRAMES["stream"]["bytes"])
    decoder = StreamDecoder()
    received: list[Frame] = []
    for start in range(0, len(stream), chunk):
        decoder.receive_data(stream[start : start + chunk])
        received.extend(decoder.frames_received())
    assert len(received) == FRAMES["stream"]["frames"]
    assert [f.serialize().hex() for f in received] == [c["frame"] for c in FRAMES["valid"]]


# messages.json -----------------------------------------------------------------------

MESSAGES = load("messages.json")


def test_message_vectors_cover_every_type() -> None:
    assert {case["type"] for case in MESSAGES["valid"]} == {t.name for t in FrameType}


@pytest.mark.parametrize("case", MESSAGES["valid"], ids=ids(MESSAGES["valid"]))
def test_message_vectors(case: dict[str, Any]) -> None:
    frame_type = FrameType[case["type"]]
    assert frame_type == case["type_code"]
    body = h(case["body"])
    assert pack(from_json(case["fields"])) == body
    message = decode(frame_type, body)
    assert to_json(message.to_fields()) == case["fields"]
    assert encode(message) == body


@pytest.mark.parametrize("case", MESSAGES["invalid"], ids=ids(MESSAGES["invalid"]))
def test_invalid_message_vectors(case: dict[str, Any]) -> None:
    with pytest.raises(error_class(case["error"])):
        decode(FrameType[case["type"]], h(case["body"]))


# hkdf.json ---------------------------------------------------------------------------

HKDF = load("hkdf.json")


@pytest.mark.parametrize("case", HKDF["extract"], ids=ids(HKDF["extract"]))
def test_extract_vectors(case: dict[str, Any]) -> None:
    assert hpke.extract(h(case["salt"]), h(case["ikm"])) == h(case["prk"])


@pytest.mark.parametrize("case", HKDF["expand"], ids=ids(HKDF["expand"]))
def test_expand_vectors(case: dict[str, Any]) -> None:
    okm = hpke.expand(h(case["prk"]), h(case["info"]), case["length"])
    assert okm == h(case["okm"])
    assert len(okm) == case["length"]


def test_rfc5869_values_are_the_published_ones() -> None:
    """Known answers from RFC 5869 Appendix A, not only our own output."""
    assert HKDF["expand"][0]["okm"] == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )
    assert HKDF["expand"][1]["okm"] == (
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
    )


@pytest.mark.parametrize("case", HKDF["content_key"])
def test_content_key_vectors(case: dict[str, Any]) -> None:
    channel = Channel(case["channel"])
    assert channel.name == case["channel_name"]
    uid, secret = h(case["session_uid"]), h(case["epoch_secret"])
    info = (
        HKDF["content_key_label"].encode()
        + case["epoch"].to_bytes(4, "big")
        + case["sender"].to_bytes(4, "big")
        + bytes([channel])
    )
    assert info == h(case["info"])
    assert hpke.extract(uid, secret) == h(case["prk"])
    key = ks.content_key(uid, secret, case["epoch"], case["sender"], channel)
    assert key == h(case["key"]) == hpke.expand(h(case["prk"]), info, 32)


# hpke.json ---------------------------------------------------------------------------

HPKE = load("hpke.json")


def agreement_key(data: dict[str, str]) -> hpke.AgreementKey:
    key = hpke.AgreementKey.from_private_bytes(h(data["mlkem_seed"]), h(data["x25519_private"]))
    assert key.public_bytes() == h(data["public"])
    return key


@pytest.mark.parametrize("case", HPKE["valid"], ids=ids(HPKE["valid"]))
def test_hpke_vectors(case: dict[str, Any]) -> None:
    """Open-only: the stored enc and ciphertext open to the plaintext, and the intermediate
    values (the X-Wing combiner written out, then RFC 9180's key schedule) agree."""
    recipient = agreement_key(case["recipient"])
    info, plaintext = h(case["info"]), h(case["plaintext"])
    enc, ciphertext = h(case["enc"]), h(case["ciphertext"])
    assert hpke.open_(recipient, enc, info, ciphertext) == plaintext
    ct_mlkem, ct_x25519 = enc[:1088], enc[1088:]
    ss_mlkem = recipient.mlkem.decapsulate(ct_mlkem)
    ss_x25519 = recipient.x25519.exchange(X25519PublicKey.from_public_bytes(ct_x25519))
    pk_x25519 = recipient.x25519.public_key().public_bytes_raw()
    label = h(HPKE["xwing_label"])
    assert label == b"\\.//^\\"
    combined = hashlib.sha3_256(ss_mlkem + ss_x25519 + ct_x25519 + pk_x25519 + label).digest()
    assert combined == h(case["shared_secret"])
    assert AESGCM(h(case["key"])).decrypt(h(case["base_nonce"]), ciphertext, b"") == plaintext


@pytest.mark.parametrize("case", HPKE["invalid"], ids=ids(HPKE["invalid"]))
def test_invalid_hpke_vectors(case: dict[str, Any]) -> None:
    recipient = agreement_key(case["recipient"])
    with pytest.raises(error_class(case["error"])):
        hpke.open_(recipient, h(case["enc"]), h(case["info"]), h(case["ciphertext"]))


def test_hpke_suite_ids() -> None:
    assert (HPKE["kem_id"], HPKE["kdf_id"], HPKE["aead_id"]) == (0x647A, 0x0001, 0x0002)


# tickets.json ------------------------------------------------------------------------

TICKETS = load("tickets.json")
BROKER = Ed25519PrivateKey.from_private_bytes(h(TICKETS["broker_private"]))


@pytest.mark.parametrize("case", TICKETS["valid"])
def test_ticket_vectors(case: dict[str, Any]) -> None:
    assert BROKER.public_key().public_bytes_raw() == h(TICKETS["broker_public"])
    ticket = ticket_from_json(case["fields"])
    content = pack(ticket.to_fields())
    assert content == h(case["content"])
    signature = BROKER.sign(TICKETS["label"].encode() + content)
    assert signature == h(case["signature"])
    assert sign_ticket(ticket, BROKER) == h(case["ticket"]) == pack([content, signature])
    public = Ed25519PublicKey.from_public_bytes(h(TICKETS["broker_public"]))
    assert verify_ticket(h(case["ticket"]), public, now=0) == ticket


@pytest.mark.parametrize("case", TICKETS["checks"], ids=ids(TICKETS["checks"]))
def test_ticket_check_vectors(case: dict[str, Any]) -> None:
    public = Ed25519PublicKey.from_public_bytes(h(TICKETS["broker_public"]))
    uid = None if case["session_uid"] is None else h(case["session_uid"])

    def verify() -> object:
        return verify_ticket(
            h(case["ticket"]),
            public,
            now=case["now"],
            session_uid=uid,
            check_expiry=case["check_expiry"],
        )

    if case["error"] is None:
        assert verify() == ticket_from_json(TICKETS["valid"][0]["fields"])
    else:
        with pytest.raises(errors.TicketError) as error:
            verify()
        assert type(error.value) is error_class(case["error"])


def test_refresh_vector() -> None:
    """§7.3: what a member signs to refresh its ticket (the browser checks the same)."""
    case = TICKETS["refresh"]
    message = refresh_message(h(case["ticket"]), case["timestamp"])
    assert message == h(case["message"])
    assert case["label"].encode() == REFRESH_LABEL
    member = Ed25519PrivateKey.from_private_bytes(h(case["member_private"]))
    assert member.sign(message) == h(case["signature"])
    ticket = verify_ticket(h(case["ticket"]), BROKER.public_key(), now=0)
    assert ticket.ed25519 == member.public_key().public_bytes_raw() == h(case["member_public"])


def test_hello_vector() -> None:
    """§7.1: what a member signs in HELLO, and the proofs a relay must refuse."""
    case = TICKETS["hello"]
    blob, challenge = h(case["ticket"]), h(case["challenge"])
    message = hello_message(challenge, blob, case["relay"])
    assert message == h(case["message"])
    assert case["label"].encode() == HELLO_LABEL
    member = Ed25519PrivateKey.from_private_bytes(h(case["member_private"]))
    assert prove_hello(member, challenge, blob, case["relay"]) == h(case["proof"])
    ticket = verify_ticket(blob, BROKER.public_key(), now=0)
    verify_hello(ticket, blob, h(case["proof"]), challenge, case["relay"])
    for refused in case["refused"]:
        with pytest.raises(errors.HelloProofInvalid):
            verify_hello(ticket, blob, h(refused["proof"]), challenge, case["relay"])


# commit.json -------------------------------------------------------------------------

COMMIT = load("commit.json")


class Script:
    """An RNG that hands out exactly the recorded draws, in order."""

    def __init__(self, draws: list[bytes]) -> None:
        self._draws = list(draws)

    def __call__(self, n: int) -> bytes:
        value = self._draws.pop(0)
        assert len(value) == n
        return value

    @property
    def used_up(self) -> bool:
        return not self._draws


def client(vectors: dict[str, Any], member: dict[str, Any]) -> EndToEnd:
    """A member's client state built from a vector file: keys and every ticket shown."""
    keys = ks.MemberKeys(
        agreement_key(member["agreement"]),
        Ed25519PrivateKey.from_private_bytes(h(member["ed25519_private"])),
    )
    assert keys.ed25519_public == h(member["ed25519_public"])
    broker = Ed25519PublicKey.from_public_bytes(h(vectors["broker_public"]))
    e2e = EndToEnd(h(vectors["session_uid"]), member["member_id"], keys, broker)
    for other in vectors["members"]:
        e2e.add_member(h(other["ticket"]), vectors["now"])
    return e2e


def apply(e2e: EndToEnd, frame_hex: str, now: float) -> None:
    frame = Frame.parse(h(frame_hex))
    commit = decode(frame.header.type, frame.body)
    assert isinstance(commit, KeyCommit)
    e2e.apply_commit(frame.header, commit, now)


def test_commit_is_recomputed_from_its_inputs() -> None:
    """Everything but the sealed copies is a function of the inputs: a leader drawing the
    same epoch secret makes the same header, members, roster hash and security code."""
    leader = next(m for m in COMMIT["members"] if m["member_id"] == COMMIT["leader"])
    e2e = client(COMMIT, leader)
    assert e2e.is_leader
    rng = Script([h(COMMIT["epoch_secret"])])
    frame = e2e.start_epoch(rng, COMMIT["now"])
    assert rng.used_up
    assert frame.header == header_from_json(COMMIT["header"])
    commit = decode(FrameType.KEY_COMMIT, frame.body)
    assert isinstance(commit, KeyCommit)
    mine, theirs = (
        ks.read_commit(commit),
        ks.read_commit(KeyCommit(h(COMMIT["commit_content"]), b"")),
    )
    assert (mine.session_uid, mine.epoch, mine.leader, mine.members, mine.roster_hash) == (
        theirs.session_uid, theirs.epoch, theirs.leader, theirs.members, theirs.roster_hash
    )  # fmt: skip
    assert [s.member_id for s in mine.sealed] == [s.member_id for s in theirs.sealed]
    assert e2e.current is not None
    assert e2e.current.roster_hash == h(COMMIT["roster_hash"])
    assert e2e.security_code == COMMIT["security_code"]


def test_commit_sealing_steps() -> None:
    uid = h(COMMIT["session_uid"])
    members = {m["member_id"]: m for m in COMMIT["members"]}
    content = ks.read_commit(KeyCommit(h(COMMIT["commit_content"]), h(COMMIT["commit_signature"])))
    assert list(content.members) == sorted(members) == [s["member_id"] for s in COMMIT["sealing"]]
    for step, sealed in zip(COMMIT["sealing"], content.sealed, strict=True):
        info = COMMIT["labels"]["epoch_secret"].encode() + uid
        info += COMMIT["epoch"].to_bytes(4, "big") + step["member_id"].to_bytes(4, "big")
        assert info == h(step["info"])
        assert len(info) == 49
        recipient = agreement_key(members[step["member_id"]]["agreement"])
        enc, ciphertext = h(step["enc"]), h(step["ciphertext"])
        assert hpke.open_(recipient, enc, info, ciphertext) == h(COMMIT["epoch_secret"])
        assert (sealed.enc, sealed.ciphertext) == (enc, ciphertext)
    leader = Ed25519PublicKey.from_public_bytes(h(members[COMMIT["leader"]]["ed25519_public"]))
    leader.verify(
        h(COMMIT["commit_signature"]),
        COMMIT["labels"]["commit"].encode() + h(COMMIT["commit_content"]),
    )
    assert (
        pack([h(COMMIT["commit_content"]), h(COMMIT["commit_signature"])])
        == (h(COMMIT["frame"])[HEADER_SIZE:])
    )


@pytest.mark.parametrize("member", COMMIT["members"], ids=lambda m: str(m["member_id"]))
def test_every_member_opens_the_commit(member: dict[str, Any]) -> None:
    e2e = client(COMMIT, member)
    apply(e2e, COMMIT["frame"], COMMIT["now"])  # the leader too: it opens its own copy
    assert e2e.current is not None
    assert e2e.current.secret == h(member["epoch_secret"]) == h(COMMIT["epoch_secret"])
    assert e2e.current.number == COMMIT["epoch"]
    assert e2e.security_code == COMMIT["security_code"]


@pytest.mark.parametrize("case", COMMIT["rejected"], ids=ids(COMMIT["rejected"]))
def test_rejected_commit_vectors(case: dict[str, Any]) -> None:
    member = next(m for m in COMMIT["members"] if m["member_id"] == case["receiver"])
    e2e = client(COMMIT, member)
    with pytest.raises(error_class(case["error"])):
        apply(e2e, case["frame"], COMMIT["now"])
    assert e2e.current is None
    apply(e2e, COMMIT["frame"], COMMIT["now"])  # the genuine one still applies


# content.json ------------------------------------------------------------------------

CONTENT = load("content.json")


@pytest.mark.parametrize("case", CONTENT["frames"], ids=ids(CONTENT["frames"]))
def test_content_frame_is_recomputed_from_its_inputs(case: dict[str, Any]) -> None:
    header = header_from_json(case["header"])
    members = {m["member_id"]: m for m in CONTENT["members"]}
    sender = members[header.sender]
    frame_type = FrameType[case["message"]["type"]]
    assert header.type is frame_type
    plaintext = pack(from_json(case["message"]["fields"]))
    assert plaintext == h(case["plaintext"])
    channel = frame_type.channel
    assert channel == case["channel"]
    key = ks.content_key(
        h(CONTENT["session_uid"]), h(CONTENT["epoch_secret"]), header.epoch, header.sender, channel
    )
    assert key == h(case["content_key"])
    assert nonce(header.sequence) == h(case["nonce"]) == bytes(4) + header.sequence.to_bytes(8)
    aad = header.pack(len(plaintext) + 16 + 64)
    assert aad == h(case["aad"])
    ciphertext = AESGCM(key).encrypt(h(case["nonce"]), plaintext, aad)
    assert ciphertext == h(case["ciphertext"])
    signing = Ed25519PrivateKey.from_private_bytes(h(sender["ed25519_private"]))
    signature = signing.sign(CONTENT["label"].encode() + aad + ciphertext)
    assert signature == h(case["signature"])
    assert aad + ciphertext + signature == h(case["frame"])


def content_clients() -> dict[int, EndToEnd]:
    clients = {}
    for member in CONTENT["members"]:
        e2e = client(CONTENT, member)
        apply(e2e, CONTENT["commit_frame"], CONTENT["now"])
        assert e2e.current is not None
        assert e2e.current.secret == h(CONTENT["epoch_secret"])
        assert e2e.current.number == CONTENT["epoch"]
        clients[member["member_id"]] = e2e
    return clients


def test_content_frames_are_what_seal_makes() -> None:
    clients = content_clients()
    for case in CONTENT["frames"]:
        header = header_from_json(case["header"])
        message = decode(header.type, h(case["plaintext"]))
        frame = clients[header.sender].seal(message, header.target, header.flags)
        assert frame.serialize() == h(case["frame"])


def test_every_member_opens_the_content_frames() -> None:
    for receiver in content_clients().values():
        for case in CONTENT["frames"]:
            frame = Frame.parse(h(case["frame"]))
            message = receiver.open(frame, CONTENT["now"])
            assert encode(message) == h(case["plaintext"])
            assert to_json(message.to_fields()) == case["message"]["fields"]


def test_changed_content_frames_do_not_open() -> None:
    receiver = content_clients()[1]
    for case in CONTENT["frames"]:
        data = bytearray(h(case["frame"]))
        data[HEADER_SIZE] ^= 0x01
        with pytest.raises(errors.SignatureInvalid):
            receiver.open(Frame.parse(bytes(data)), CONTENT["now"])


# security_code.json ------------------------------------------------------------------

CODES = load("security_code.json")


@pytest.mark.parametrize("case", CODES["roster_hash"], ids=ids(CODES["roster_hash"]))
def test_roster_hash_vectors(case: dict[str, Any]) -> None:
    tickets = [
        ticket_from_json(
            {
                "session_uid": "00" * 16,
                "role": "PARTICIPANT",
                "relay": "",
                "expires_at": 0,
                "email": "",
                "rules": 0,
                "placement": 0,
                **member,
            }
        )
        for member in case["members"]
    ]
    assert ks.roster_hash(tickets) == h(case["roster_hash"])


def test_roster_hash_vectors_differ_where_the_view_differs() -> None:
    hashes = {case["name"]: case["roster_hash"] for case in CODES["roster_hash"]}
    assert hashes["honest"] == hashes["honest, listed in another order"]
    assert len(set(hashes.values())) == len(hashes) - 1


@pytest.mark.parametrize("case", CODES["security_code"], ids=ids(CODES["security_code"]))
def test_security_code_vectors(case: dict[str, Any]) -> None:
    uid, leader, roster = h(case["session_uid"]), h(case["leader_ed25519"]), h(case["roster_hash"])
    digest = hashlib.sha256(b"relaydesk/v1 security code" + uid + leader + roster).digest()
    assert digest == h(case["digest"])
    assert ks.security_code(uid, leader, roster) == case["security_code"]


def test_commit_security_code_follows_its_definition() -> None:
    leader = next(m for m in COMMIT["members"] if m["member_id"] == COMMIT["leader"])
    assert COMMIT["security_code"] == ks.security_code(
        h(COMMIT["session_uid"]), h(leader["ed25519_public"]), h(COMMIT["roster_hash"])
    )


# Worked examples in docs/protocol.md -------------------------------------------------

DOCS_UID = bytes(range(16))
Check = Callable[[], object]


def test_docs_example_chat_header() -> None:
    """docs/protocol.md §2.1."""
    header = header_from_json(
        {
            "type": "CHAT",
            "session_uid": DOCS_UID.hex(),
            "epoch": 1,
            "sender": 2,
            "target": 0xFFFFFFFF,
            "sequence": 1,
            "flags": 0,
        }
    )
    assert header.pack(88) == h(
        "01500000 000102030405060708090a0b0c0d0e0f"
        "00000001 00000002 ffffffff 0000000000000001 00000058".replace(" ", "")
    )


def test_docs_example_epoch_secret_info_and_content_key() -> None:
    """docs/protocol.md §6.2 and §6.3."""
    info = ks.EPOCH_SECRET_LABEL + DOCS_UID + (1).to_bytes(4, "big") + (2).to_bytes(4, "big")
    assert len(info) == 49
    key = ks.content_key(DOCS_UID, bytes(32), 1, 2, Channel.CHAT)
    assert key.hex() == "a85b14cfdc3d13192a1140f83c5cda1f24cd6a0c0d7ed1869bf0e555e7d0047f"


def test_docs_example_security_code() -> None:
    """docs/protocol.md §6.5."""
    assert ks.security_code(DOCS_UID, bytes(32), bytes(32)) == "6436 4142 9191 8068"
