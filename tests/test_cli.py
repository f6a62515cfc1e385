"""The console script, run as a user would."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(sys.executable).parent / "relaydesk"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert re.fullmatch(r"relaydesk \d+\.\d+\.\d+\n", result.stdout)


def test_unknown_command_is_refused() -> None:
    result = run("no-such-command")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_demo_shows_equal_codes_ciphertext_only_and_a_locked_out_member() -> None:
    result = run("demo", "--walkthrough")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    first_epoch = out.split("Paul sends")[0]
    codes = re.findall(r"security code (\d{4} \d{4} \d{4} \d{4})", first_epoch)
    assert len(codes) == 3 and len(set(codes)) == 1
    relay_lines = [line for line in out.splitlines() if "relay sees" in line]
    assert relay_lines
    plaintext = b"hello from Paul".hex()[:16]
    assert all(plaintext not in line and "hello" not in line for line in relay_lines)
    assert "Hannah reads: 'hello from Paul'" in out
    assert "relay refuses it: NotPermitted" in out
    assert "Eve cannot read it: NoEpochKey" in out
