"""Video layers through a real relay (docs/protocol.md §3.24, §5.4): a viewer that asks
for VIDEO_LAYERS 1 gets layer 0 alone while another viewer gets every frame, and after
VIDEO_LAYERS 2 it gets layer 1 again from layer 1's next keyframe. The presenter is a
library member sending sealed VIDEO_FRAMEs flagged as agent/video.py flags them."""

from __future__ import annotations

import ssl

from integration.helpers import Crowd, Peer, host_session, join_peer, run_async, until
from relaydesk.agent.video import video_flags
from relaydesk.protocol.frames import EVERYONE, Flags
from relaydesk.protocol.messages import ScreenUpdate, Tile, TileEncoding, VideoFrame, VideoLayers
from support.servers import LiveServer

PICTURE = ScreenUpdate(64, 64, True, (Tile(0, 0, 64, 64, TileEncoding.RAW, bytes(64 * 64 * 4)),))


def frame(number: int, keyframe: bool = False) -> VideoFrame:
    # The relay never looks inside: any bytes stand for the H.264 here.
    return VideoFrame(9, number, number, keyframe, 0, 0, 64, 64, bytes([number % 256]) * 32)


async def _numbers(
    server: LiveServer, context: ssl.SSLContext, token: str
) -> tuple[list[int], list[int]]:
    async with Crowd() as crowd:
        created, host = await host_session(server.url, context, token)
        crowd.add(host)
        whole = crowd.add(await join_peer(server.url, context, created.session_id, "Wanda"))
        half = crowd.add(await join_peer(server.url, context, created.session_id, "Hal"))
        await host.keys_for(whole, half)
        await whole.keys_for(host, half)
        await half.keys_for(host, whole)
        await host.member.send_content(PICTURE, EVERYONE, Flags.KEYFRAME)
        await half.member.send(VideoLayers(1))

        async def send(frames: list[VideoFrame]) -> None:
            """Paced as a presenter paces them: each after the last has arrived (a burst
            would fill the relay's queue, which is what RELAY_VIDEO_BACKLOG_FRAMES is for)."""
            for video in frames:
                await host.member.send_content(video, EVERYONE, video_flags(video))
                await until(lambda n=video.number: n in got(whole), f"frame {video.number}")

        def got(peer: Peer) -> list[int]:
            return [m.number for _, m in peer.messages_of(VideoFrame)]

        await send([frame(0, True), frame(1, True), *(frame(n) for n in range(2, 10))])
        await until(lambda: len(got(whole)) == 10, "the first viewer has all ten")
        await until(lambda: len(got(half)) == 5, "the second has layer 0")
        await half.member.send(VideoLayers(2))
        # Layer 1 comes back from its keyframe (11); 13 follows it; 10, 12, 14 are layer 0.
        await send([frame(10), frame(11, True), *(frame(n) for n in range(12, 15))])
        await until(lambda: len(got(whole)) == 15, "the first viewer has all fifteen")
        await until(lambda: got(half)[-1:] == [14], "the second has frame 14")
        return got(whole), got(half)


def test_a_viewer_asking_for_one_layer_gets_layer_0_and_others_get_all(
    shared_server: LiveServer, shared_context: ssl.SSLContext, organizer_token: str
) -> None:
    whole, half = run_async(_numbers(shared_server, shared_context, organizer_token))
    assert whole == list(range(15))
    assert half == [0, 2, 4, 6, 8, 10, 11, 12, 13, 14]
