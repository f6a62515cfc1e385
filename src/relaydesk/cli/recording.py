"""``relaydesk recording key | verify | export``: the recordings a host's client made
(docs/meetings.md, "Recording"; the file: docs/protocol.md §12)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from relaydesk.client.profile import Profile
from relaydesk.errors import ClientError, RecordingError
from relaydesk.recording.verify import Summary, fingerprint, verify_file


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    recording = commands.add_parser("recording", help="verify and export session recordings")
    verbs = recording.add_subparsers(dest="verb", required=True, metavar="VERB")

    key = verbs.add_parser("key", help="print this profile's recording key, to pin it")
    key.add_argument("--config-dir", type=Path, help="profile folder (where the key is kept)")
    key.set_defaults(handler=run_key)

    verify = verbs.add_parser("verify", help="check that a recording is whole and unchanged")
    verify.add_argument("file", type=Path)
    verify.add_argument(
        "--key", help="the recorder's public key (hex, from `relaydesk recording key`)"
    )
    verify.set_defaults(handler=run_verify)

    export = verbs.add_parser("export", help="turn a recording into an ordinary video")
    export.add_argument("file", type=Path)
    export.add_argument("--mp4", type=Path, required=True, metavar="OUT", help="the video")
    export.add_argument("--key", help="the recorder's public key (hex): verified first")
    export.add_argument("--no-annotations", action="store_true", help="leave out what members drew")
    export.add_argument(
        "--force-unverified",
        action="store_true",
        help="export a recording that does NOT verify, as far as it reads (never trust it)",
    )
    export.set_defaults(handler=run_export)


def _public_key(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        key = bytes.fromhex(text.replace(" ", ""))
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ClientError("--key takes the recorder's public key: 64 hexadecimal digits")
    return key


def run_key(args: argparse.Namespace) -> int:
    profile = Profile(args.config_dir)
    public = profile.recorder_key().public_key().public_bytes_raw()
    print(f"Recording key: {public.hex()}")
    print(f"Fingerprint:   {fingerprint(public)}")
    print("Recordings made with this profile are signed with it; give the key to whoever")
    print("checks them (relaydesk recording verify FILE --key KEY).")
    return 0


def _describe(path: Path, summary: Summary) -> list[str]:
    start = summary.start
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(summary.started_ms / 1000))
    members = ", ".join(
        f"{t.display_name} (member {m})" for m, t in sorted(summary.tickets.items())
    )
    senders = (
        ", ".join(f"{summary.name(m)}: {n}" for m, n in sorted(summary.signatures.items()))
        or "none"
    )
    session = start.session_id
    session = f"{session[:3]} {session[3:6]} {session[6:]}" if len(session) == 9 else session
    return [
        f"{path}: intact.",
        f"  Session {session}, recorded by {start.recorder_name} (member {start.recorder})",
        f"  Started {started}, lasted {summary.duration:.1f} s",
        f"  Members: {members or 'none'}",
        f"  Entries: {summary.entries} ({summary.bytes} bytes): {summary.frames} frames, "
        f"{summary.epochs} epoch keys, {summary.checkpoints} signatures of the recorder",
        f"  Recorder key: {start.recorder_key.hex()}",
        f"  Recorder key fingerprint: {summary.recorder_fingerprint}",
        f"  Broker key fingerprint: {summary.broker_fingerprint} (every ticket checked "
        f"against it: {len(summary.tickets)} members)",
        f"  Content frames checked against their sender's ticket key: {senders}",
    ]


def run_verify(args: argparse.Namespace) -> int:
    try:
        summary = verify_file(args.file, _public_key(args.key))
    except RecordingError as error:
        print(f"{args.file}: NOT intact: {error}", file=sys.stderr)
        return 2
    for line in _describe(args.file, summary):
        print(line)
    if args.key is None:
        print("  (No --key given: compare the recorder key fingerprint with the recorder's.)")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from rich.progress import (  # noqa: PLC0415 - rich and PyAV load only here
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from relaydesk.recording.export import export_mp4  # noqa: PLC0415

    if args.mp4.exists():
        raise ClientError(f"{args.mp4} exists: choose another name")
    if not args.force_unverified:
        try:
            verify_file(args.file, _public_key(args.key))
        except RecordingError as error:
            print(
                f"{args.file}: NOT intact, not exported: {error}\n"
                "(--force-unverified exports it anyway, as far as it reads)",
                file=sys.stderr,
            )
            return 2
    else:
        print(f"Exporting {args.file} WITHOUT verifying it: do not trust what it shows.")
    size = args.file.stat().st_size
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[frames]} video frames"),
        TimeRemainingColumn(),
        transient=True,
    ) as progress:
        task = progress.add_task(f"Exporting {args.file.name}", total=size, frames=0)

        def advance(done: int, frames: int) -> None:
            progress.update(task, completed=done, frames=frames)

        exported = export_mp4(
            args.file, args.mp4, annotations=not args.no_annotations, force=True,
            progress=advance,
        )  # fmt: skip
    print(
        f"Wrote {args.mp4}: {exported.width}x{exported.height}, {exported.frames} frames, "
        f"{exported.duration:.1f} s (H.264)."
    )
    return 0
