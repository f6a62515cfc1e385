"""Ctrl+C on a client command (``relaydesk demo``, ``start``, ``join``): a stop, quietly.

Ctrl+C reaches the whole process group, so the demo's own screen (Xvfb) can be gone, and
the presenter fail for it, a moment before this process handles its own SIGINT."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from relaydesk.cli.client import _until_interrupted
from relaydesk.errors import CaptureError


def test_a_job_failing_as_ctrl_c_arrives_is_a_stop_not_an_error() -> None:
    async def screen_taken_away() -> None:
        os.kill(os.getpid(), signal.SIGINT)
        raise CaptureError("the X display went away")

    for _ in range(20):  # the signal and the failure race: each order, many times
        asyncio.run(_until_interrupted(screen_taken_away()))


def test_a_job_failing_on_its_own_is_reported() -> None:
    async def no_screen() -> None:
        raise CaptureError("cannot open the X display")

    with pytest.raises(CaptureError, match="cannot open"):
        asyncio.run(_until_interrupted(no_screen()))
