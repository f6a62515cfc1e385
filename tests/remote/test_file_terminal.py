"""Files between terminals, as a person sends and accepts them (issue 9): a real
``relaydesk start`` and a real ``relaydesk join``, each in its own terminal with its
own download folder; consent is typed; the file lands with the right bytes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from relaydesk.screen.xvfb import Xvfb
from remote.meeting_terminals import host_and_pat
from support.servers import LiveServer


def test_files_both_ways_between_terminals_with_consent_typed(
    server: LiveServer, organizer_profile: Path, presenter_screen: Xvfb, tmp_path: Path
) -> None:
    olga_downloads, pat_downloads = tmp_path / "olga-dl", tmp_path / "pat-dl"
    report = tmp_path / "out" / "report.pdf"
    report.parent.mkdir()
    report.write_bytes(os.urandom(1_234_567))
    notes = tmp_path / "out" / "notes.txt"
    notes.write_bytes(b"meeting notes\n" * 1000)
    with host_and_pat(
        server,
        organizer_profile,
        presenter_screen,
        tmp_path,
        ("--downloads", str(olga_downloads)),
        ("--downloads", str(pat_downloads)),
    ) as (host, pat):
        host.type("/help")
        host.expect(r"/send NAME PATH")
        # Olga -> Pat: Pat is asked, says yes, gets exactly the bytes
        host.type(f"/send Pat {report}")
        host.expect(r"Offered report\.pdf \(1\.2 MB\) to Pat")
        pat.expect(r"\? Olga wants to send you report\.pdf \(1\.2 MB\)\. Accept\? \[y/N\]")
        pat.type("y")
        pat.expect(r"Received report\.pdf \(1\.2 MB\) from Olga, SHA-256 checked")
        host.expect(r"Pat received report\.pdf: SHA-256 checked\.")
        kept = pat_downloads / "report.pdf"
        assert kept.read_bytes() == report.read_bytes()
        assert (
            hashlib.sha256(kept.read_bytes()).digest()
            == hashlib.sha256(report.read_bytes()).digest()
        )
        assert sorted(p.name for p in pat_downloads.iterdir()) == ["report.pdf"]
        # Pat -> Olga, declined: nothing on Olga's disk, not even a .part
        pat.type(f"/send Olga {notes}")
        host.expect(r"\? Pat wants to send you notes\.txt \(14\.0 kB\)\. Accept\? \[y/N\]")
        host.type("n")
        pat.expect(r"Olga declined notes\.txt\.")
        assert not olga_downloads.exists() or not list(olga_downloads.iterdir())
        # ... and accepted the second time
        pat.type(f"/send Olga {notes}")
        host.expect(r"\? Pat wants to send you notes\.txt")
        host.type("yes")
        host.expect(r"Received notes\.txt .* from Pat, SHA-256 checked")
        assert (olga_downloads / "notes.txt").read_bytes() == notes.read_bytes()
