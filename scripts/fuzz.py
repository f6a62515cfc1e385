"""Coverage-guided fuzzing (atheris, libFuzzer) of every parser that reads a peer's bytes.

    .venv/bin/python scripts/fuzz.py [--runs N] [TARGET ...]

Each target feeds fuzzer-made bytes to one parser. A parser may refuse an input only with
the documented errors (``relaydesk.errors.RelaydeskError`` and its kinds); anything else
(an IndexError, a struct.error, a MemoryError, a hang) is a crash: libFuzzer stops, prints
the input and keeps it as ``crash-*`` in the working directory. Each target runs in its
own process (libFuzzer owns the process it runs in), ``--runs`` inputs each (default
1,000,000), seeded with valid inputs so the fuzzer starts inside the formats.

Targets: frames (one frame and the byte-stream decoder), messages (every frame type's
body decoder), tickets, content (verify, decrypt and decode a sealed frame), screen (a
screen update applied to a framebuffer: zlib, PNG and copy tiles), recording (a recording
file verified whole: its chain, signatures, tickets and frames), video (a video frame
applied to a framebuffer: the H.264 checks, then FFmpeg's decoder), hello (the relay's
admission of a link's first frame: HELLO, ticket, proof over the challenge), challenge
(the client's reading of the relay's CHALLENGE), hybrid (a hybrid agreement key as a
ticket carries it, and an HPKE box opened with one).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import atheris

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
DEFAULT_RUNS = 1_000_000
HERE = Path(__file__).parent


def fuzz_one(target: str, runs: int, corpus: Path) -> None:
    """In the child process: instrument relaydesk, then hand the target to libFuzzer."""
    sys.path.insert(0, str(HERE / "fuzzing"))
    with atheris.instrument_imports(include=["relaydesk"]):
        import targets  # noqa: PLC0415 - imported here to be instrumented

    one, seeds = targets.TARGETS[target]
    for index, seed in enumerate(seeds):
        (corpus / f"seed-{index}").write_bytes(seed)
    atheris.Setup(
        [sys.argv[0], f"-runs={runs}", "-max_len=65536", "-timeout=10", "-rss_limit_mb=2048",
         "-print_final_stats=1", str(corpus)],
        one,
    )  # fmt: skip
    atheris.Fuzz()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="inputs per target")
    parser.add_argument("--child", choices=TARGETS, help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("targets", nargs="*", metavar="TARGET", help=", ".join(TARGETS))
    args = parser.parse_args(argv)
    unknown = sorted(set(args.targets) - set(TARGETS))
    if unknown:
        parser.error(f"unknown target {', '.join(unknown)}; choose from {', '.join(TARGETS)}")
    if args.child:
        fuzz_one(args.child, args.runs, args.corpus)
        return 0
    results: list[tuple[str, int, float]] = []
    for target in args.targets or TARGETS:
        with tempfile.TemporaryDirectory(prefix=f"fuzz-{target}-") as corpus:
            started = time.monotonic()
            status = subprocess.call(
                [sys.executable, __file__, "--child", target, "--runs", str(args.runs),
                 "--corpus", corpus],
                env={**os.environ, "PYTHONHASHSEED": "0"},
            )  # fmt: skip
            results.append((target, status, time.monotonic() - started))
    print(f"\n{'target':<10} {'inputs':>10} {'seconds':>9}  result")
    for target, status, seconds in results:
        result = "no crash" if status == 0 else f"CRASH (exit {status})"
        print(f"{target:<10} {args.runs:>10,} {seconds:>9.0f}  {result}")
    return 0 if all(status == 0 for _, status, _ in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
