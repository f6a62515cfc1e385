"""relaydesk benchmarks: ``python -m benchmarks [--quick] [NAME ...]``.

Each benchmark module (listed in ``benchmarks.__main__.MODULES``) has a ``TITLE`` and a
``run(quick: bool) -> list[Section]``. This file holds what they share: the machine line,
the "tool not installed" skip, a median timer and the table printer. Benchmarks print;
tests check correctness (PERFORMANCE.md: never assert a time in a unit test).
"""

from __future__ import annotations

import gc
import os
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True, slots=True)
class Row:
    """One measured figure: what, its median, a derived rate, and the target if any."""

    measure: str
    median: str
    rate: str = ""
    target: str = ""
    verdict: str = ""  # "met" / "MISSED" where there is a target


@dataclass(slots=True)
class Section:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def version_of(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_line() -> str:
    python = f"{platform.python_version()} ({platform.python_implementation()})"
    return (
        f"machine: {cpu_model()}, {usable_cores()} cores | {platform.system()} "
        f"{platform.machine()} | Python {python} | cryptography {version_of('cryptography')}"
        f" | msgspec {version_of('msgspec')} | relaydesk {version_of('relaydesk')}"
    )


def skipped_without(title: str, *tools: str) -> list[Section]:
    """What ``run`` returns instead of measuring when a tool it needs is missing: one
    section ``title`` whose note names the missing tools; empty when all are there. A
    tool is a command on PATH or the path of an executable."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return []
    return [Section(title, notes=[f"skipped: {', '.join(missing)} not installed"])]


def median_seconds(batch: Callable[[], int], repeats: int) -> float:
    """Run ``batch`` (which does some operations and returns how many) ``repeats`` times
    after one warm-up; return the median seconds per operation. The garbage collector is
    paused while a batch runs, as in ``timeit``."""
    batch()
    per_operation = []
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            count = batch()
            elapsed = time.perf_counter() - start
        finally:
            gc.enable()
        per_operation.append(elapsed / count)
    return statistics.median(per_operation)


def format_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.1f} us"


def format_size(size: int) -> str:
    if size >= MIB and size % MIB == 0:
        return f"{size // MIB} MiB"
    if size >= KIB and size % KIB == 0:
        return f"{size // KIB} KiB"
    return f"{size} B"


def print_sections(sections: list[Section], out: Callable[[str], object] = print) -> None:
    headings = ("measure", "median", "rate", "target", "")
    for section in sections:
        out("")
        out(section.title)
        cells = [headings] + [
            (row.measure, row.median, row.rate, row.target, row.verdict) for row in section.rows
        ]
        widths = [max(len(cell[i]) for cell in cells) for i in range(len(headings))]
        for cell in cells:
            first = cell[0].ljust(widths[0])
            rest = [cell[i].rjust(widths[i]) for i in (1, 2)] + [
                cell[i].ljust(widths[i]) for i in (3, 4)
            ]
            out(("  " + "  ".join([first, *rest])).rstrip())
        for note in section.notes:
            out(f"  note: {note}")
    sys.stdout.flush()


def standalone(
    title: str, run: Callable[[bool], list[Section]], argv: list[str] | None = None
) -> int:
    """``python -m benchmarks.NAME [--quick]``: one benchmark module on its own."""
    import argparse  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        prog=f"python -m benchmarks.{title}", description=f"relaydesk's {title} benchmark"
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    args = parser.parse_args(argv)
    print(f"relaydesk benchmarks: {title}" + (" (--quick)" if args.quick else ""))
    print(machine_line())
    started = time.perf_counter()
    print_sections(run(args.quick))
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    return 0
