"""scripts/fuzz.py stays runnable: each parser target takes a short fuzzing run without a
crash (the full run, a million inputs per target, is a command of its own)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "scripts" / "fuzz.py"
# Every parser, each under a target of its own; a new parser adds its name here.
TARGETS = (
    "frames",
    "messages",
    "tickets",
    "content",
    "screen",
    "recording",
    "video",
    "hello",
    "challenge",
    "hybrid",
)


def test_every_fuzz_target_runs_without_a_crash() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--runs", "3000"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    table = lines[lines.index(next(line for line in lines if line.startswith("target "))) + 1 :]
    assert [line.split()[0] for line in table] == list(TARGETS)
    assert all(line.endswith("no crash") for line in table)
