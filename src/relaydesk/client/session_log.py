"""The client's own log of a session, written when it ends (docs/meetings.md, "Session
log"): a ``.txt`` for people (who, when, how long, how many bytes) and one row appended
to a ``.csv`` that accumulates across sessions, for billing.

Bytes are what this client wrote to and read from its relay links (whole frames, every
link it had), counted at the link: the same figures the relay reports as the member's
``bytes_in`` and ``bytes_out`` in the server's event records.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import platformdirs

from relaydesk.csv_cells import csv_safe
from relaydesk.errors import ClientError

CSV_FILE = "relaydesk-sessions.csv"
LOG_DIR_ENV = "RELAYDESK_LOG_DIR"
CSV_COLUMNS = (
    "started_at",
    "ended_at",
    "duration_seconds",
    "server",
    "session_id",
    "title",
    "display_name",
    "role",
    "member_id",
    "bytes_sent",
    "bytes_received",
    "people",
)


def default_log_dir() -> Path:
    """``$RELAYDESK_LOG_DIR``, else ``session-logs`` in relaydesk's user data folder
    (on Linux ``~/.local/share/relaydesk/session-logs``)."""
    configured = os.environ.get(LOG_DIR_ENV)
    if configured:
        return Path(configured)
    return Path(platformdirs.user_data_dir("relaydesk")) / "session-logs"


@dataclass(frozen=True, slots=True)
class SessionLog:
    server: str  # https://HOST:PORT
    session_id: str  # 9 digits
    title: str | None
    display_name: str  # this member's
    role: str  # host or participant, as it last was
    member_id: int
    people: tuple[str, ...]  # everyone seen in the session, this member first
    started_at: datetime  # UTC: connected to the relay
    ended_at: datetime  # UTC: left
    bytes_sent: int
    bytes_received: int

    @property
    def duration_seconds(self) -> float:
        return round(max(0.0, (self.ended_at - self.started_at).total_seconds()), 3)

    def text(self) -> str:
        whole = int(self.duration_seconds)
        hours, rest = divmod(whole, 3600)
        minutes, seconds = divmod(rest, 60)
        session = f"{self.session_id[:3]} {self.session_id[3:6]} {self.session_id[6:]}"
        lines = [
            "relaydesk session log",
            "",
            f"Server:          {self.server}",
            f"Session ID:      {session}",
            *([f"Title:           {self.title}"] if self.title else []),
            f"You:             {self.display_name} ({self.role}, member {self.member_id})",
            f"People:          {', '.join(self.people)}",
            f"Started (UTC):   {_when(self.started_at)}",
            f"Ended (UTC):     {_when(self.ended_at)}",
            f"Duration:        {hours}:{minutes:02d}:{seconds:02d} ({self.duration_seconds:g} s)",
            f"Bytes sent:      {self.bytes_sent:,}",
            f"Bytes received:  {self.bytes_received:,}",
            "",
            "Counted by this client at its link to the relay: whole frames, every link.",
        ]
        return "\n".join(lines) + "\n"

    def row(self) -> dict[str, object]:
        return {
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat(),
            "duration_seconds": self.duration_seconds,
            "server": self.server,
            "session_id": self.session_id,
            "title": self.title or "",
            "display_name": self.display_name,
            "role": self.role,
            "member_id": self.member_id,
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "people": "; ".join(self.people),
        }


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def csv_row(log: SessionLog, header: bool = False) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    row = log.row()
    writer.writerow([csv_safe(row[column]) for column in CSV_COLUMNS])
    return out.getvalue()


def write_session_log(log: SessionLog, directory: Path) -> tuple[Path, Path]:
    """Write ``relaydesk-SESSIONID-YYYYMMDD-HHMMSS.txt`` and append a row to
    ``relaydesk-sessions.csv`` (its header first when the file is new), in ``directory``
    (made if missing, mode 0700: it says whom one met). The two paths."""
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = log.started_at.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
        text_path = directory / f"relaydesk-{log.session_id}-{stamp}.txt"
        text_path.write_text(log.text(), encoding="utf-8")
        csv_path = directory / CSV_FILE
        # O_APPEND: two clients ending at once each add their whole row.
        with csv_path.open("a", encoding="utf-8", newline="") as file:
            file.write(csv_row(log, header=file.tell() == 0))
    except OSError as error:
        raise ClientError(f"cannot write the session log in {directory}: {error}") from None
    return text_path, csv_path
