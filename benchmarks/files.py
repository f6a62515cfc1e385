"""File transfer throughput (issue 9): Python -> Python, Python -> browser and
browser -> Python, 100 MB (20 MB with --quick), all real.

A real ``relaydesk server`` in its own process; the Python members are the library's
``Member`` with ``relaydesk.client.files.Transfers`` (both in this process, one event
loop); the browser is the web client in Debian's headless Chromium (Playwright's async
API, on the same loop), joined through the invite page. The clock runs from the send
(the SHA-256 of the whole file included) until the sender hears the receiver kept the
file (FILE_END COMPLETE: every chunk sealed, signed, relayed, opened, written and the
whole checked). The receiver's person is a function that says yes (Python) or
Playwright's click on Accept (browser): that answer is in the figure. One run each.
Run alone: ``python -m benchmarks.files [--quick]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from benchmarks import Row, Section, format_seconds, skipped_without, standalone
from benchmarks.relay import RunningServer, join_members, relay_server
from relaydesk import limits
from relaydesk.client.files import State, Transfer, Transfers
from relaydesk.client.member import Member, Received
from relaydesk.protocol.messages import FileOffer

TITLE = "files"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
MB = 1_000_000
TIMEOUT = 600.0


async def _yes(sender: int, offer: FileOffer, name: str) -> bool:
    del sender, offer, name
    return True


class Side:
    def __init__(self, member: Member, downloads: Path) -> None:
        self.member = member
        self.transfers = Transfers(member, downloads, _yes)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.member.connect()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for item in self.member.messages():
                if isinstance(item, Received):
                    await self.transfers.handle(item.header, item.message)

    async def close(self) -> None:
        self.transfers.close()
        await self.member.close()
        if self.task is not None:
            self.task.cancel()


async def _until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out: {what}")
        await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def _pair(server: RunningServer, folder: Path) -> AsyncIterator[tuple[Side, Side, str]]:
    members, session_id = await join_members(server, 2)
    sides = [
        Side(Member(joined, keys, server.context), folder / f"downloads-{n}")
        for n, (joined, keys) in enumerate(members)
    ]
    try:
        for side in sides:
            await side.start()
        ids = frozenset(s.member.member_id for s in sides)
        await _until(
            lambda: all(
                s.member.e2e.current is not None and s.member.e2e.current.members == ids
                for s in sides
            ),
            "both hold the keys",
        )
        yield sides[0], sides[1], session_id
    finally:
        for side in sides:
            await side.close()


async def _send(sender: Side, peer: int, path: Path) -> float:
    started = time.perf_counter()
    transfer = await sender.transfers.send_file(peer, path)
    await _until(lambda: transfer.state.over, "the file is kept")
    if transfer.state is not State.COMPLETE:
        raise RuntimeError(f"the transfer ended {transfer.state.value}")
    return time.perf_counter() - started


def _row(what: str, size: int, seconds: float) -> Row:
    return Row(what, format_seconds(seconds), f"{size / MB / seconds:.1f} MB/s")


async def _browser(server: RunningServer, folder: Path, source: Path, size: int) -> list[Row]:
    from playwright.async_api import async_playwright  # noqa: PLC0415 - a dev dependency

    rows = []
    async with _pair(server, folder) as (python, _, session_id), async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(ignore_https_errors=True)
            page = await context.new_page()
            await page.goto(f"{server.url}/j/{session_id}")
            await page.get_by_label("Your name").fill("browser")
            await page.get_by_role("button", name="Join").click()
            names = python.member.names
            await _until(lambda: "browser" in names.values(), "the browser joins")
            page_id = next(m for m, n in names.items() if n == "browser")
            await _until(
                lambda: (
                    python.member.e2e.current is not None
                    and page_id in python.member.e2e.current.members
                ),
                "the browser holds the keys",
            )
            # Python -> browser: the page's Accept is clicked as soon as it shows
            started = time.perf_counter()
            transfer: Transfer = await python.transfers.send_file(page_id, source)
            await page.get_by_role("button", name="Accept").click()
            await _until(lambda: transfer.state.over, "the browser keeps the file")
            if transfer.state is not State.COMPLETE:
                raise RuntimeError(f"Python -> browser ended {transfer.state.value}")
            rows.append(_row(f"Python -> browser, {size // MB} MB", size,
                             time.perf_counter() - started))  # fmt: skip
            # browser -> Python: "Send a file" on the Python member's row
            row = page.get_by_role(
                "button", name=f"Send a file to {names[python.member.member_id]}"
            )
            async with page.expect_file_chooser() as chooser:
                await row.click()
            started = time.perf_counter()
            await (await chooser.value).set_files(str(source))
            received = python.transfers.transfers
            await _until(
                lambda: any(t.incoming and t.state.over for t in received.values()),
                "Python keeps the browser's file",
            )
            (kept,) = [t for t in received.values() if t.incoming]
            if kept.state is not State.COMPLETE:
                raise RuntimeError(f"browser -> Python ended {kept.state.value}")
            rows.append(_row(f"browser -> Python, {size // MB} MB", size,
                             time.perf_counter() - started))  # fmt: skip
            await context.close()
        finally:
            await browser.close()
    return rows


async def _run(quick: bool) -> Section:
    size = (20 if quick else 100) * MB
    section = Section(f"file transfer ({size // MB} MB, sealed chunks of "
                      f"{limits.MAX_FILE_CHUNK // 1024} KiB, window "
                      f"{limits.FILE_WINDOW_BYTES // limits.MIB} MiB)")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="relaydesk-files-") as name:
        folder = Path(name)
        source = folder / "payload.bin"
        with open(source, "wb") as out:
            for _ in range(size // MB):
                out.write(os.urandom(MB))
        with relay_server(folder) as server:
            async with _pair(server, folder) as (alice, bob, _):
                seconds = await _send(alice, bob.member.member_id, source)
                section.rows.append(_row(f"Python -> Python, {size // MB} MB", size, seconds))
            if skipped_without("browser", CHROMIUM):
                section.notes.append("browser rows skipped: Chromium is not installed")
            else:
                section.rows += await _browser(server, folder, source, size)
    section.notes.append(
        "send -> the sender hears FILE_END COMPLETE: hashing, sealing, signing, the relay, "
        "opening, writing (Python) or holding (browser) and the receiver's SHA-256 check; "
        "the server, both Python members and Chromium share this machine's cores"
    )
    return section


def run(quick: bool) -> list[Section]:
    return [asyncio.run(_run(quick))]


def main(argv: list[str] | None = None) -> int:
    return standalone(TITLE, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
