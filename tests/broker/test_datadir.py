"""The server's data directory: database URL, broker key, TLS certificate, fingerprint.

(``relaydesk.server.datadir``; tested here with the broker, which is its main user.)
"""

from __future__ import annotations

import socket
import ssl
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from relaydesk.errors import DataDirError
from relaydesk.server.datadir import DATABASE_URL_ENV, DataDir, certificate_fingerprint


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sans(cert_path: Path) -> set[str]:
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(a) for a in names.get_values_for_type(x509.IPAddress)} | set(
        names.get_values_for_type(x509.DNSName)
    )


def test_created_private_with_a_sqlite_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    data = DataDir(tmp_path / "new" / "data")
    assert data.path.is_dir() and mode(data.path) == 0o700
    assert data.database_url == f"sqlite:///{tmp_path / 'new' / 'data' / 'relaydesk.db'}"


def test_default_location_is_the_user_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert DataDir().path == tmp_path / "xdg" / "relaydesk"


def test_a_too_open_directory_is_made_private(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    DataDir(tmp_path)
    assert mode(tmp_path) == 0o700


def test_database_url_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql://postgres@127.0.0.1:5432/relaydesk")
    assert DataDir(tmp_path).database_url == "postgresql://postgres@127.0.0.1:5432/relaydesk"


def test_broker_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    data = DataDir(tmp_path)
    key = data.load_or_create_broker_key()
    assert mode(data.broker_key_path) == 0o600
    again = DataDir(tmp_path).load_or_create_broker_key()
    assert again.public_key().public_bytes_raw() == key.public_key().public_bytes_raw()
    assert list(tmp_path.glob(".*.tmp")) == []


def test_a_broker_key_of_the_wrong_kind_is_refused(tmp_path: Path) -> None:
    data = DataDir(tmp_path)
    data.broker_key_path.write_text("not a key")
    with pytest.raises(DataDirError, match="PEM private key"):
        data.load_or_create_broker_key()


def test_self_signed_certificate(tmp_path: Path) -> None:
    data = DataDir(tmp_path)
    cert_path, key_path = data.load_or_create_tls(["relay.example.org"])
    assert mode(key_path) == 0o600
    assert sans(cert_path) == {"127.0.0.1", "::1", "localhost", "relay.example.org"}
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert isinstance(certificate.public_key(), ec.EllipticCurvePublicKey)
    assert certificate.public_key().curve.name == "secp256r1"
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert 365 <= lifetime.days <= 366


def test_certificate_is_kept_while_it_covers_the_hosts(tmp_path: Path) -> None:
    data = DataDir(tmp_path)
    cert_path, _ = data.load_or_create_tls(["192.0.2.7"])
    first = certificate_fingerprint(cert_path)
    assert certificate_fingerprint(data.load_or_create_tls(["192.0.2.7"])[0]) == first
    assert certificate_fingerprint(data.load_or_create_tls(["localhost", "0.0.0.0"])[0]) == first
    cert_path, _ = data.load_or_create_tls(["[2001:db8::1]"])
    assert certificate_fingerprint(cert_path) != first
    assert "2001:db8::1" in sans(cert_path)


def test_given_certificate_and_key_are_used_as_they_are(tmp_path: Path) -> None:
    theirs = DataDir(tmp_path / "theirs")
    cert_path, key_path = theirs.load_or_create_tls(["example.org"])
    ours = DataDir(tmp_path / "ours")
    assert ours.load_or_create_tls(["other.example"], cert_path, key_path) == (cert_path, key_path)
    assert not ours.tls_cert_path.exists()
    with pytest.raises(DataDirError, match="go together"):
        ours.load_or_create_tls([], cert_path, None)
    other_cert, _ = DataDir(tmp_path / "third").load_or_create_tls([])
    with pytest.raises(DataDirError, match="does not belong"):
        ours.load_or_create_tls([], other_cert, key_path)


def test_fingerprint_is_sha256_of_the_der_in_colon_separated_hex(tmp_path: Path) -> None:
    cert_path, _ = DataDir(tmp_path).load_or_create_tls([])
    fingerprint = certificate_fingerprint(cert_path)
    expected = x509.load_pem_x509_certificate(cert_path.read_bytes()).fingerprint(hashes.SHA256())
    assert fingerprint == ":".join(f"{byte:02X}" for byte in expected)
    assert len(fingerprint) == 95


def test_python_verifies_the_certificate_over_tls(tmp_path: Path) -> None:
    """A client that trusts exactly this certificate connects to 127.0.0.1 with TLS 1.2+."""
    cert_path, key_path = DataDir(tmp_path).load_or_create_tls([])
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.minimum_version = ssl.TLSVersion.TLSv1_2
    server_context.load_cert_chain(cert_path, key_path)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            connection, _ = listener.accept()
            with server_context.wrap_socket(connection, server_side=True) as tls:
                tls.sendall(b"ok")

        thread = threading.Thread(target=serve)
        thread.start()
        client_context = ssl.create_default_context(cafile=str(cert_path))
        with (
            socket.create_connection(("127.0.0.1", port)) as raw,
            client_context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            assert tls.recv(2) == b"ok"
            assert tls.version() in {"TLSv1.2", "TLSv1.3"}
        thread.join(timeout=5)
