"""Run the benchmarks and print one table: ``python -m benchmarks [--quick] [NAME ...]``."""

from __future__ import annotations

import argparse
import importlib
import time

from benchmarks import Section, machine_line, print_sections

# One module per subject, each with TITLE and run(quick) -> list[Section]. Later subjects
# (relay fan-out, screen pipeline, glass-to-glass latency) are added to this list.
MODULES = (
    "crypto", "screen", "relay", "latency", "browser", "control", "meeting", "files", "privacy",
    "present", "cluster", "recording", "motion", "adaptive", "fanout",
)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="relaydesk benchmarks (medians)."
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument(
        "names", nargs="*", metavar="NAME",
        help=f"benchmarks to run (default: all of {', '.join(MODULES)})",
    )  # fmt: skip
    args = parser.parse_args(argv)
    names = args.names or list(MODULES)
    unknown = [name for name in names if name not in MODULES]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(MODULES)}")

    print("relaydesk benchmarks" + (" (--quick)" if args.quick else ""))
    print(machine_line())
    started = time.perf_counter()
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        sections: list[Section] = module.run(args.quick)
        print_sections(sections)
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
