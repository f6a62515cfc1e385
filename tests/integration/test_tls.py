"""The servers' TLS, as sslyze (a TLS scanner, in its own virtual environment: it pins an
older `cryptography` than relaydesk's) sees it from outside: TLS 1.2 and 1.3 only; in TLS
1.2 only ECDHE key exchange with AEAD ciphers; no compression, no known attack, and the
security headers on the web client's pages (issue 13)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support.servers import LiveServer

SSLYZE = Path(__file__).parents[2] / ".venv-sslyze" / "bin" / "sslyze"
SCANS = (
    "--sslv2", "--sslv3", "--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3", "--compression",
    "--heartbleed", "--openssl_ccs", "--robot", "--reneg", "--fallback", "--http_headers",
)  # fmt: skip


@pytest.fixture(scope="module")
def scan(shared_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not SSLYZE.exists():
        pytest.fail("sslyze is missing: bash scripts/install makes .venv-sslyze")
    out = tmp_path_factory.mktemp("sslyze") / "scan.json"
    subprocess.run(
        # The check against Mozilla's profiles is ours to make (below), not its exit code.
        [str(SSLYZE), "--mozilla_config=disable", *SCANS, f"--json_out={out}",
         f"127.0.0.1:{shared_server.port}"],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.read_text())["server_scan_results"][0]
    assert result["scan_status"] == "COMPLETED"
    scan_result: dict[str, Any] = result["scan_result"]
    return scan_result


def _accepted(scan: dict[str, Any], version: str) -> list[str]:
    suites = scan[f"{version}_cipher_suites"]["result"]["accepted_cipher_suites"]
    return [suite["cipher_suite"]["openssl_name"] for suite in suites]


@pytest.mark.parametrize("version", ["ssl_2_0", "ssl_3_0", "tls_1_0", "tls_1_1"])
def test_versions_before_tls_1_2_are_refused(scan: dict[str, Any], version: str) -> None:
    assert _accepted(scan, version) == []


def test_tls_1_2_offers_only_forward_secret_aead_suites(scan: dict[str, Any]) -> None:
    suites = _accepted(scan, "tls_1_2")
    assert suites
    for name in suites:
        assert name.startswith("ECDHE-"), name
        assert "GCM" in name or "CHACHA20-POLY1305" in name, name


def test_tls_1_3_is_offered(scan: dict[str, Any]) -> None:
    assert _accepted(scan, "tls_1_3")


def test_no_compression_and_no_known_attack(scan: dict[str, Any]) -> None:
    assert scan["tls_compression"]["result"]["supports_compression"] is False
    assert scan["heartbleed"]["result"]["is_vulnerable_to_heartbleed"] is False
    assert scan["openssl_ccs_injection"]["result"]["is_vulnerable_to_ccs_injection"] is False
    assert scan["robot"]["result"]["robot_result"].startswith("NOT_VULNERABLE")
    renegotiation = scan["session_renegotiation"]["result"]
    assert renegotiation["supports_secure_renegotiation"] is True
    assert renegotiation["is_vulnerable_to_client_renegotiation_dos"] is False
    assert scan["tls_fallback_scsv"]["result"]["supports_fallback_scsv"] is True


def test_the_pages_send_hsts(scan: dict[str, Any]) -> None:
    headers = scan["http_headers"]["result"]
    assert headers["strict_transport_security_header"]["max_age"] >= 180 * 24 * 3600
