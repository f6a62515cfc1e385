"""One slow viewer slows nobody else: full motion to a fast viewer and a throttled one.

Processes: ``relaydesk server``; a presenter (a library ``Member`` in a process of its
own, sending what ``agent.video.VideoShare`` makes of a video playing in a 1280x720
picture, 30 pictures a second, and answering REFRESH as ``agent.presenter`` does); and
two viewers, each a process of its own (``Member`` and ``FrameBuffer``: every update
applied, every video frame decoded with PyAV, as ``relaydesk join`` does). The slow
viewer reaches the relay through an HTTP CONNECT proxy (``HTTPS_PROXY``, as a viewer
behind a corporate proxy does) that lets at most a given rate through towards it,
with small socket buffers so that the backlog builds at the relay rather than in the
kernel.

Run A: the fast viewer alone. Run B: both, the slow one throttled to 75 % of the bytes
the fast one got in run A. Printed for each viewer: video frames shown per second and
the delay from the presenter sending a frame to the viewer having decoded and painted
it (``time.time()`` in both processes: one machine, one clock), p50 and p95; and the
layer-1 frames the relay dropped for it. The fast viewer's figures in run B must match
run A (the target), the slow one must see about half the frame rate from layer 0, never
a broken picture. Run alone: ``python -m benchmarks.adaptive [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks import KIB, Row, Section, format_seconds, standalone
from benchmarks.latency import percentile
from benchmarks.motion import Film
from benchmarks.relay import PASSWORD, USERNAME, RunningServer, _join, relay_server
from relaydesk import limits
from relaydesk.client import tls
from relaydesk.client.api import BrokerApi
from relaydesk.client.member import Member, Received
from relaydesk.protocol.frames import EVERYONE, Flags
from relaydesk.protocol.keys import MemberKeys
from relaydesk.protocol.messages import (
    PresenterRequest,
    Refresh,
    ScreenUpdate,
    VideoFrame,
    VideoLayers,
)

TITLE = "adaptive"

WIDTH, HEIGHT = 1280, 720
SHARE = 0.75  # the slow viewer's rate, as a share of what the fast one received
JOIN_AFTER = 3.0  # seconds after the presenter starts, the slow viewer joins
PROXY_BUFFER = 64 * KIB  # socket buffers of the throttling proxy


# The throttling proxy (a thread of this process) ----------------------------------------


class Throttle:
    """An HTTP CONNECT proxy on 127.0.0.1 passing at most ``rate`` bytes a second towards
    the client; the other way is not limited."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Throttle:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            host, _, port = request.split()[1].decode().rpartition(":")
            upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            upstream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, PROXY_BUFFER)
            upstream.setblocking(False)
            await asyncio.get_running_loop().sock_connect(upstream, (host, int(port)))
            up_reader, up_writer = await asyncio.open_connection(sock=upstream)
            client = writer.get_extra_info("socket")
            client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, PROXY_BUFFER)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await asyncio.gather(
                self._pump(reader, up_writer, None), self._pump(up_reader, writer, self.rate)
            )
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            pass
        finally:
            writer.close()

    @staticmethod
    async def _pump(
        source: asyncio.StreamReader, sink: asyncio.StreamWriter, rate: float | None
    ) -> None:
        started, sent = time.monotonic(), 0
        try:
            while data := await source.read(16 * KIB):
                sink.write(data)
                await sink.drain()
                sent += len(data)
                if rate is not None:
                    await asyncio.sleep(max(0.0, started + sent / rate - time.monotonic()))
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.close()


# The members (processes of their own) ----------------------------------------------------


async def _member(url: str, fingerprint: str, session_id: str, token: str, name: str) -> Member:
    pem = tls.fetch_certificate(url)
    if tls.certificate_fingerprint(pem) != fingerprint:
        raise RuntimeError("another certificate than the server printed")
    context = tls.pinned_context(pem)
    keys = MemberKeys.generate(os.urandom)
    # The broker's join API, without a proxy (HTTPS_PROXY is for the relay link here).
    transport = httpx.AsyncHTTPTransport(verify=context)
    async with httpx.AsyncClient(base_url=url, transport=transport, timeout=30) as http:
        joined = await _join(http, session_id, name, keys, token)
    member = Member(joined, keys, context)
    await member.connect()
    return member


async def _present(member: Member, seconds: float, out: dict[str, Any]) -> None:
    """Send a playing video for ``seconds``, as agent.presenter sends it."""
    from relaydesk.agent.video import VideoShare, video_flags  # noqa: PLC0415

    film, share = Film(WIDTH, HEIGHT), VideoShare(limits.SCREEN_FPS)
    await member.send(PresenterRequest(member.member_id))
    refresh: set[int] = set()

    async def listen() -> None:
        async for item in member.messages():
            if isinstance(item, Received) and isinstance(item.message, Refresh):
                refresh.add(item.message.member_id)

    listener = asyncio.create_task(listen())
    while member.presenter != member.member_id or member.e2e.current is None:
        await asyncio.sleep(0.02)
    sent: dict[int, float] = {}
    previous = None
    interval = 1 / limits.SCREEN_FPS
    started = time.monotonic()
    t = 0
    while time.monotonic() - started < seconds:
        tick = time.monotonic()
        current = film.frame(t)
        encoded = await asyncio.to_thread(share.encode, previous, current)
        for update in encoded.updates:
            await member.send_content(
                update, EVERYONE, Flags.KEYFRAME if update.full else Flags.NONE
            )
        if encoded.video is not None:
            await member.send_content(encoded.video, EVERYONE, video_flags(encoded.video))
            sent[encoded.video.number] = time.time()
        previous = current
        epoch = member.e2e.current
        ready = {m for m in refresh if epoch and m in epoch.members}
        if ready:
            share.want_keyframe()
            full = await asyncio.to_thread(share.full_picture, current)
            for member_id in ready:
                for update in full:
                    flags = Flags.KEYFRAME if update.full else Flags.NONE
                    await member.send_content(update, member_id, flags)
            refresh -= ready
        t += 1
        await asyncio.sleep(max(0.0, tick + interval - time.monotonic()))
    listener.cancel()
    out["sent"] = sent
    out["pictures"] = t


async def _view(member: Member, seconds: float, out: dict[str, Any]) -> None:
    """Apply everything for ``seconds``, as relaydesk join does; note when each video
    frame was painted."""
    from relaydesk.screen.framebuffer import FrameBuffer  # noqa: PLC0415
    from relaydesk.screen.video import LayerChoice  # noqa: PLC0415

    picture, choice = FrameBuffer(), LayerChoice()
    asked_layers: list[int] = []
    painted: dict[int, float] = {}
    received: list[int] = []
    asked = -1.0
    refreshes = 0
    received_bytes = 0
    watching = 0.0  # when the first picture came
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            async for item in member.messages():
                if not isinstance(item, Received) or item.header.sender != member.presenter:
                    continue
                message = item.message
                if isinstance(message, ScreenUpdate):
                    picture.apply(message)
                    watching = watching or time.time()
                elif isinstance(message, VideoFrame) and picture.ready:
                    layers = choice.observe(message.sent_at, time.monotonic())
                    if layers is not None:
                        asked_layers.append(layers)
                        await member.send(VideoLayers(layers))
                    received.append(message.number)
                    received_bytes += len(message.data) + 200  # fields, sealing, header
                    if picture.apply_video(message) is not None:
                        painted[message.number] = time.time()
                    now = time.monotonic()
                    if picture.video_lost and now - asked >= limits.VIDEO_REFRESH_MIN_SECONDS:
                        asked = now
                        refreshes += 1
                        await member.send(Refresh(0))
    out.update(painted=painted, received=received, refreshes=refreshes, bytes=received_bytes,
               watching=watching, layers=asked_layers)  # fmt: skip


def member_main(argv: list[str]) -> int:
    """``python -m benchmarks.adaptive --member ROLE ...``: one member, results as JSON."""
    parser = argparse.ArgumentParser()
    for name in ("--member", "--url", "--fingerprint", "--session", "--token", "--name"):
        parser.add_argument(name, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args(argv)

    async def main() -> dict[str, Any]:
        member = await _member(args.url, args.fingerprint, args.session, args.token, args.name)
        out: dict[str, Any] = {"transport": member.link_description}
        try:
            if args.member == "presenter":
                await _present(member, args.seconds, out)
            else:
                await _view(member, args.seconds, out)
        finally:
            await member.close()
        return out

    print(json.dumps(asyncio.run(main())))
    return 0


# The runs ---------------------------------------------------------------------------------


def _spawn(server: RunningServer, session: str, token: str, role: str, name: str,
           seconds: float, proxy: int | None = None) -> subprocess.Popen[str]:  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("https_proxy", "no_proxy")}
    if proxy is not None:
        env["HTTPS_PROXY"] = f"http://127.0.0.1:{proxy}"
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.adaptive", "--member", role, "--url", server.url,
         "--fingerprint", server.fingerprint, "--session", session, "--token", token,
         "--name", name, "--seconds", str(seconds)],
        stdout=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip


def _result(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = process.communicate(timeout=120)
    if process.returncode != 0:
        raise RuntimeError(f"a member process failed ({process.returncode})")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def one_run(server: RunningServer, seconds: float, slow_rate: float | None) -> dict[str, Any]:
    async def session() -> tuple[str, str]:
        async with BrokerApi(server.url, server.context) as api:
            token = await api.login(USERNAME, PASSWORD)
            created = await api.create_session()
        return created.session_id, token

    session_id, token = asyncio.run(session())
    throttle = Throttle(slow_rate) if slow_rate else contextlib.nullcontext()
    with throttle as proxy:
        viewers = {"fast": _spawn(server, session_id, token, "viewer", "fast", seconds + 6)}
        time.sleep(2.0)  # the fast viewer is in before the video starts
        presenter = _spawn(server, session_id, token, "presenter", "presenter", seconds)
        if slow_rate:  # the slow one joins while the video plays
            assert isinstance(proxy, Throttle)
            time.sleep(JOIN_AFTER)
            viewers["slow"] = _spawn(server, session_id, token, "viewer", "slow",
                                     seconds - JOIN_AFTER + 2, proxy.port)  # fmt: skip
        sent = _result(presenter)["sent"]
        results = {name: _result(process) for name, process in viewers.items()}
    return {"sent": {int(k): v for k, v in sent.items()}, **results}


def _figures(run: dict[str, Any], name: str) -> dict[str, Any]:
    """Over the frames sent while the viewer watched (from its first picture on)."""
    viewer = run[name]
    since = viewer["watching"] + 1.0  # its video decoders have started by then
    sent = {n: at for n, at in run["sent"].items() if at >= since}
    painted = {int(k): v for k, v in viewer["painted"].items() if int(k) in sent}
    delays = [painted[n] - sent[n] for n in painted]
    numbers = sorted(sent)
    span = (sent[numbers[-1]] - sent[numbers[0]]) if len(numbers) > 1 else float("nan")
    received = set(viewer["received"])
    layer1 = [n for n in numbers if n % limits.VIDEO_LAYERS]
    return {
        "fps": len(painted) / span,
        "sent_fps": len(numbers) / span,
        "shown": len(painted) / max(1, len(numbers)),
        "p50": percentile(delays, 0.5) if delays else float("nan"),
        "p95": percentile(delays, 0.95) if delays else float("nan"),
        "layer1_missing": sum(n not in received for n in layer1),
        "layer1": len(layer1),
        "refreshes": viewer["refreshes"],
        "asked": " ".join(str(n) for n in viewer["layers"]) or "none",
    }


def report(alone: dict[str, Any], fast: dict[str, Any], slow: dict[str, Any],
           rate: float, quick: bool) -> Section:  # fmt: skip
    section = Section(
        f"adaptation: a {WIDTH}x{HEIGHT} video at 30 /s to a fast viewer and to one "
        f"throttled to {rate / 1e6:.2f} MB/s ({SHARE:.0%} of the stream); relaydesk server, "
        "Python viewers decoding with PyAV, loopback TLS"
    )

    def same(a: Any, b: Any, slack: float) -> str:
        return "met" if b <= a * (1 + slack) + 0.005 else "MISSED"

    section.rows.append(
        Row("fast viewer alone: frames shown a second", f"{alone['fps']:.1f} /s",
            f"{alone['shown']:.0%} of the {alone['sent_fps']:.1f} /s sent")
    )  # fmt: skip
    section.rows.append(
        Row("fast viewer, slow one present: frames shown a second", f"{fast['fps']:.1f} /s",
            f"{fast['shown']:.0%} of the {fast['sent_fps']:.1f} /s sent", "every frame sent",
            "met" if fast["shown"] >= 0.99 else "MISSED")
    )  # fmt: skip
    for key, label in (("p50", "p50"), ("p95", "p95")):
        section.rows.append(
            Row(f"fast viewer, send -> painted, {label}", format_seconds(fast[key]),
                f"alone {format_seconds(alone[key])}", "unchanged (+10 %, +5 ms)",
                same(alone[key], fast[key], 0.10))
        )  # fmt: skip
    section.rows.append(
        Row("slow viewer: frames shown a second", f"{slow['fps']:.1f} /s",
            f"{slow['shown']:.0%} of those sent; {slow['layer1_missing']:.0f} of "
            f"{slow['layer1']:.0f} layer-1 frames dropped")
    )  # fmt: skip
    section.rows.append(
        Row("slow viewer, send -> painted, p50 / p95",
            f"{format_seconds(slow['p50'])} / {format_seconds(slow['p95'])}",
            f"VIDEO_LAYERS asked: {slow['asked']}; REFRESH {slow['refreshes']:.0f} times")
    )  # fmt: skip
    section.notes.append(
        "a frame counts as shown when FrameBuffer.apply_video painted it; the slow viewer "
        "shows only frames whose layer chain is unbroken (never a broken picture)"
    )
    section.notes.append(
        "load average at the end: " + " ".join(f"{load:.2f}" for load in os.getloadavg())
    )
    if quick:
        section.notes.append("--quick: shorter runs")
    return section


def run(quick: bool) -> list[Section]:
    seconds = 6.0 if quick else 15.0
    with (
        tempfile.TemporaryDirectory(prefix="relaydesk-adaptive-") as name,
        relay_server(Path(name)) as server,
    ):
        first = one_run(server, seconds, None)
        alone = _figures(first, "fast")
        rate = SHARE * _stream_rate(first, seconds)
        second = one_run(server, seconds, rate)
        fast, slow = _figures(second, "fast"), _figures(second, "slow")
    return [report(alone, fast, slow, rate, quick)]


def _stream_rate(run_result: dict[str, Any], seconds: float) -> float:
    """Bytes a second of the video stream (what the fast viewer was sent)."""
    return float(run_result["fast"].get("bytes", 0)) / seconds or 0.0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--member" in argv:
        return member_main(argv)
    return standalone(TITLE, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
