"""argon2id password hashing, with bounded concurrency and a decoy for unknown names.

Organizer passwords and session passwords are both kept only as argon2id hashes.
"""

from __future__ import annotations

import secrets
import threading

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from relaydesk import limits
from relaydesk.broker.password_rules import check_password


class Passwords:
    """Hashes and checks passwords.

    ``hasher`` defaults to argon2-cffi's own parameters (argon2id, RFC 9106's second
    recommendation); tests pass a cheaper one. At most
    ``limits.MAX_CONCURRENT_PASSWORD_HASHES`` hashes run at once: each takes 64 MiB by
    default, and a burst of logins must not take the server's memory.
    """

    def __init__(
        self,
        hasher: PasswordHasher | None = None,
        max_concurrent: int = limits.MAX_CONCURRENT_PASSWORD_HASHES,
    ) -> None:
        self.hasher = hasher or PasswordHasher()
        if self.hasher.type is not Type.ID:
            raise ValueError("relaydesk keeps passwords as argon2id hashes only")
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._decoy: str | None = None

    def decoy_hash(self) -> str:
        """A hash of a random password, checked against when there is no hash to check
        (unknown user or session), so that the answer takes as long as for a wrong
        password. Made on first use; ``Broker`` makes it at start, so that the first
        unknown name is not slower either."""
        if self._decoy is None:
            self._decoy = self.hash(secrets.token_urlsafe(16))  # a race makes two: harmless
        return self._decoy

    def hash(self, password: str) -> str:
        with self._slots:
            return self.hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True if ``password`` matches; False otherwise, taking the same time when
        ``password_hash`` is None (nothing to match)."""
        checked = password_hash if password_hash is not None else self.decoy_hash()
        with self._slots:
            try:
                return self.hasher.verify(checked, password) and password_hash is not None
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other parameters than the current ones."""
        return self.hasher.check_needs_rehash(password_hash)


def check_account_password(password: str, username: str = "") -> None:
    """Refuse a password too weak for an organizer account under no site policy (the
    built-in minimum length), or too long to hash. With a policy:
    ``SitePolicy.check_account_password``."""
    check_password(password, min_chars=limits.MIN_ACCOUNT_PASSWORD_CHARS, strong=False,
                   names=(username,))  # fmt: skip
