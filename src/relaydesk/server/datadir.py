"""The server's data directory: what survives a restart (docs/operators.md).

::

    DIR/                      mode 0700
      relaydesk.db            the SQLite database (-wal and -shm beside it while in use)
      broker-key.pem          the broker's Ed25519 ticket-signing key, PKCS#8 PEM, mode 0600
      tls/cert.pem            the self-signed certificate, unless --cert/--key are given
      tls/key.pem             its ECDSA P-256 key, mode 0600

Nothing of content is ever written here (docs/SECURITY: no content at rest).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import platformdirs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
    PublicKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from relaydesk.errors import DataDirError

log = logging.getLogger(__name__)

DATABASE_URL_ENV = "RELAYDESK_DATABASE_URL"
"""Set to a PostgreSQL URL to share one database between several brokers."""

DATABASE_FILE = "relaydesk.db"
BROKER_KEY_FILE = "broker-key.pem"
TLS_DIR = "tls"
TLS_CERT_FILE = "cert.pem"
TLS_KEY_FILE = "key.pem"

CERTIFICATE_LIFETIME = timedelta(days=365)
CERTIFICATE_RENEW_BEFORE = timedelta(days=30)  # a certificate this close to expiry is remade
CERTIFICATE_BACKDATE = timedelta(minutes=5)  # tolerate clients whose clocks run a little late
ALWAYS_COVERED = ("127.0.0.1", "::1", "localhost")
# Binding to every interface names no host a client could check a certificate against.
UNSPECIFIED_HOSTS = frozenset({"", "0.0.0.0", "::"})

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class DataDir:
    """One server's data directory; created (mode 0700) if it does not exist yet."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = (
            Path(path) if path is not None else Path(platformdirs.user_data_dir("relaydesk"))
        )
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            mode = stat.S_IMODE(self.path.stat().st_mode)
            if mode & 0o077:
                # It holds the broker's signing key: nobody else may read or swap files here.
                log.warning("data directory %s was mode %o; setting 0700", self.path, mode)
                self.path.chmod(0o700)
        except OSError as error:
            raise DataDirError(f"cannot use data directory {self.path}: {error}") from None

    @property
    def database_path(self) -> Path:
        return self.path / DATABASE_FILE

    @property
    def database_url(self) -> str:
        """``RELAYDESK_DATABASE_URL`` if set (PostgreSQL), else the SQLite file here."""
        return os.environ.get(DATABASE_URL_ENV) or f"sqlite:///{self.database_path}"

    @property
    def broker_key_path(self) -> Path:
        return self.path / BROKER_KEY_FILE

    @property
    def tls_cert_path(self) -> Path:
        return self.path / TLS_DIR / TLS_CERT_FILE

    @property
    def tls_key_path(self) -> Path:
        return self.path / TLS_DIR / TLS_KEY_FILE

    def load_or_create_broker_key(self) -> Ed25519PrivateKey:
        """The broker's signing key; made on first use. Losing it invalidates nothing
        stored, but every client must then learn the new public key."""
        path = self.broker_key_path
        if not path.exists():
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            if _create_private_file(path, pem, replace=False):
                log.info("created the broker signing key %s", path)
                return key
            # Another process (an admin command, a second server) made it first: use theirs.
        key_loaded = _load_private_key(path)
        if not isinstance(key_loaded, Ed25519PrivateKey):
            raise DataDirError(f"{path} is not an Ed25519 private key")
        return key_loaded

    def load_or_create_tls(
        self, hosts: list[str], cert: Path | None = None, key: Path | None = None
    ) -> tuple[Path, Path]:
        """The certificate and key files to serve TLS with.

        With ``cert`` and ``key`` (an operator's real certificate), they are checked to
        belong together and returned as they are. Otherwise a self-signed ECDSA P-256
        certificate in ``tls/`` is used, made anew when missing, close to expiry, or not
        covering one of ``hosts`` (besides 127.0.0.1, ::1 and localhost, always covered).
        A new certificate has a new fingerprint: pinned clients will refuse it.
        """
        if (cert is None) != (key is None):
            raise DataDirError("--cert and --key go together: give both or neither")
        if cert is not None and key is not None:
            _check_pair(cert, key)
            return cert, key
        names = _names_to_cover(hosts)
        cert_path, key_path = self.tls_cert_path, self.tls_key_path
        now = datetime.now(UTC)
        reason = _why_remake(cert_path, key_path, names, now)
        if reason is not None:
            log.warning("making a new self-signed TLS certificate: %s", reason)
            cert_pem, key_pem = _make_certificate(names, now)
            try:
                cert_path.parent.mkdir(mode=0o700, exist_ok=True)
            except OSError as error:
                raise DataDirError(f"cannot create {cert_path.parent}: {error}") from None
            _create_private_file(key_path, key_pem, replace=True)
            _create_private_file(cert_path, cert_pem, replace=True, mode=0o644)
        return cert_path, key_path


def certificate_fingerprint(cert_path: Path) -> str:
    """SHA-256 of the certificate's DER encoding, as ``AB:CD:…`` (what clients pin)."""
    certificate = _load_certificate(cert_path)
    digest = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)).upper()


def _create_private_file(path: Path, data: bytes, *, replace: bool, mode: int = 0o600) -> bool:
    """Write ``data`` to ``path`` whole or not at all, never readable by others while
    being written. Without ``replace``, an existing file wins and False is returned."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.replace(temporary, path)
            return True
        try:
            os.link(temporary, path)  # fails if the file exists: no race can lose a key
        except FileExistsError:
            return False
        return True
    except OSError as error:
        raise DataDirError(f"cannot write {path}: {error}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _load_private_key(path: Path) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as error:
        raise DataDirError(f"cannot read {path}: {error}") from None
    except (ValueError, TypeError):
        raise DataDirError(f"{path} is not an unencrypted PEM private key") from None


def _load_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except OSError as error:
        raise DataDirError(f"cannot read {path}: {error}") from None
    except ValueError:
        raise DataDirError(f"{path} is not a PEM certificate") from None


def _check_pair(cert_path: Path, key_path: Path) -> None:
    certificate = _load_certificate(cert_path)
    key = _load_private_key(key_path)
    if _public_der(key.public_key()) != _public_der(certificate.public_key()):
        raise DataDirError(f"the key {key_path} does not belong to the certificate {cert_path}")


def _public_der(public: PublicKeyTypes | CertificatePublicKeyTypes) -> bytes:
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _names_to_cover(hosts: list[str]) -> list[str]:
    names = list(ALWAYS_COVERED)
    for host in hosts:
        name = host.strip().strip("[]").lower()
        if name not in UNSPECIFIED_HOSTS and name not in names:
            names.append(name)
    return names


def _address(name: str) -> Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def _why_remake(cert_path: Path, key_path: Path, names: list[str], now: datetime) -> str | None:
    """Why the self-signed certificate must be made (again), or None if it will do."""
    if not cert_path.exists() or not key_path.exists():
        return "there is none yet"
    try:
        certificate = _load_certificate(cert_path)
        _check_pair(cert_path, key_path)
    except DataDirError as error:
        return str(error)
    if certificate.not_valid_after_utc - CERTIFICATE_RENEW_BEFORE <= now:
        return "the old one expires soon"
    try:
        sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return "the old one names no hosts"
    addresses = set(sans.get_values_for_type(x509.IPAddress))
    dns_names = {name.lower() for name in sans.get_values_for_type(x509.DNSName)}
    for name in names:
        address = _address(name)
        if (address not in addresses) if address is not None else (name not in dns_names):
            return f"the old one does not cover {name}"
    return None


def _make_certificate(names: list[str], now: datetime) -> tuple[bytes, bytes]:
    """A self-signed server certificate for ``names``: (certificate PEM, key PEM).

    ECDSA P-256, because browsers do not accept Ed25519 certificates for TLS. It is an
    end-entity certificate (not a CA), which browsers accept once the user trusts it.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"relaydesk {names[-1]}")])
    alternative_names: list[x509.GeneralName] = []
    for name in names:
        address = _address(name)
        alternative_names.append(
            x509.IPAddress(address) if address is not None else x509.DNSName(name)
        )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CERTIFICATE_BACKDATE)
        .not_valid_after(now + CERTIFICATE_LIFETIME)
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem
