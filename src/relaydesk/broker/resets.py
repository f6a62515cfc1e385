"""Password resets without an e-mail server (docs/operators.md, "Password resets").

1. An organizer asks (``request``): the answer is the same whether or not the account
   exists, and the request is throttled per client address and per username, counted
   whatever the name. A request is kept only for an existing, enabled account.
2. An administrator approves (``approve``: a one-time reset code, shown once, kept as
   its SHA-256, valid ``RESET_CODE_LIFETIME_SECONDS``) or denies it, and passes the code
   on out of band (by phone, in person).
3. The organizer sets a new password with the code (``complete``). The code works once;
   every login of the account ends. Without the site policy ``approve_password_resets``,
   an organizer with two-step login may instead give one of its one-time codes (or a
   recovery code), with no administrator involved.

A wrong code counts against the username's failures and the address's attempts, both in
the shared rate limits (every broker replica spends the same budget); a username with
too many failures is refused for a while, whatever code comes.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NoReturn

from sqlalchemy import Engine

from relaydesk import limits
from relaydesk.broker import totp
from relaydesk.broker.passwords import Passwords
from relaydesk.broker.ratelimit import TokenBucket
from relaydesk.broker.store import AccountInfo, PasswordResetInfo, Store
from relaydesk.errors import PolicyRefused, RateLimited, ResetRefused

log = logging.getLogger(__name__)

WRONG_RESET = "Wrong username or code, or the code has been used or has expired."
NEEDS_APPROVAL = (
    "On this server every password reset needs an administrator's approval: ask for a "
    "reset, then use the code your administrator gives you (site policy: "
    "approve_password_resets)."
)
RESET_ASKED = (
    "If that account exists, an administrator has been asked to approve a new password "
    "for it; they will give you a reset code. An account with two-step login may use a "
    "one-time code instead, where the server allows it."
)
CODE_GROUP = 4  # a reset code is shown as groups of 4 characters, e.g. "ABCD-EFGH-…"

SecondFactor = Callable[[AccountInfo, str, float], bool]
"""Spends a TOTP or recovery code of an account (``Broker._second_factor``)."""


@dataclass(frozen=True, slots=True)
class ApprovedReset:
    request: PasswordResetInfo
    code: str  # the one-time reset code, shown this once


def new_reset_code() -> str:
    """120 random bits in base32 (no 0/1/8/9 to misread), as XXXX-XXXX-…-XXXX."""
    text = base64.b32encode(secrets.token_bytes(limits.RESET_CODE_BYTES)).decode()
    return "-".join(text[i : i + CODE_GROUP] for i in range(0, len(text), CODE_GROUP))


def reset_code_hash(code: str) -> str:
    """What is stored and compared: the SHA-256 of the code without dashes, spaces or
    case (a code read out over the phone may come back in any of those)."""
    folded = "".join(code.split()).replace("-", "").upper()
    return hashlib.sha256(folded.encode()).hexdigest()


class PasswordResets:
    def __init__(
        self,
        store: Store,
        passwords: Passwords,
        engine: Engine,
        second_factor: SecondFactor,
    ) -> None:
        self.store = store
        self.passwords = passwords
        self._second_factor = second_factor
        self.requests_per_address = TokenBucket(
            engine,
            "reset_requests_per_address",
            limits.RESET_REQUESTS_PER_ADDRESS_BURST,
            limits.RESET_REQUESTS_PER_ADDRESS_REFILL_SECONDS,
        )
        self.attempts_per_address = TokenBucket(
            engine,
            "reset_attempts_per_address",
            limits.RESET_ATTEMPTS_PER_ADDRESS_BURST,
            limits.RESET_ATTEMPTS_PER_ADDRESS_REFILL_SECONDS,
        )
        self.failures_per_username = TokenBucket(
            engine,
            "reset_failures_per_username",
            limits.RESET_FAILURES_PER_USERNAME_BURST,
            limits.RESET_FAILURES_PER_USERNAME_REFILL_SECONDS,
        )

    def request(self, username: str, address: str) -> str:
        """Ask for a reset of ``username``'s password; the same sentence whatever the
        account (and RateLimited, counted whatever the account)."""
        now = self.store.clock()
        wait = self.requests_per_address.take(address, now)
        if wait:
            raise RateLimited("Too many reset requests; wait a little.", wait)
        if self.store.add_password_reset(username, address):
            log.info("a password reset of %s was requested from %s", username, address)
        else:
            log.info("a password reset request from %s was not kept", address)
        return RESET_ASKED

    def approve(self, reset_id: int, by: AccountInfo) -> ApprovedReset:
        code = new_reset_code()
        expires_at = datetime.fromtimestamp(
            self.store.clock() + limits.RESET_CODE_LIFETIME_SECONDS, UTC
        )
        decided = self.store.decide_password_reset(
            reset_id, by.username, code_hash=reset_code_hash(code), code_expires_at=expires_at
        )
        log.info("administrator %s approved password reset %d", by.username, reset_id)
        return ApprovedReset(decided, code)

    def deny(self, reset_id: int, by: AccountInfo) -> PasswordResetInfo:
        decided = self.store.decide_password_reset(reset_id, by.username, code_hash=None)
        log.info("administrator %s denied password reset %d", by.username, reset_id)
        return decided

    def complete(self, username: str, code: str, new_password: str, address: str) -> None:
        """Set ``username``'s new password with a reset code (or, where the policy
        allows, a one-time code of its two-step login). ResetRefused for a wrong code,
        WeakPassword for a password the site's rules refuse (checked first: a refused
        password spends no code)."""
        now = self.store.clock()
        name_key = username.casefold()
        wait = max(
            self.attempts_per_address.take(address, now),
            self.failures_per_username.wait(name_key, now),
        )
        if wait:
            raise RateLimited("Too many attempts to reset a password; wait a little.", wait)
        policy = self.store.policy()
        policy.check_account_password(new_password, username)
        code = code.strip()
        if totp.is_totp_code(code) or totp.recovery_code_hash(code) is not None:
            # Said alike for every username: it tells nothing of the account.
            if policy.approve_password_resets:
                raise PolicyRefused(NEEDS_APPROVAL)
            found = self.store.account(username)
            account = found[0] if found is not None else None
            usable = account is not None and account.totp_enabled and not account.disabled
            if account is None or not usable or not self._second_factor(account, code, now):
                self._failed(name_key, address, now)
            self.store.reset_password(account.id, self.passwords.hash(new_password))
            log.info("organizer %s reset its password with a one-time code", username)
            return
        # One argon2id hash whatever happens next: a wrong code takes as long as a right one.
        password_hash = self.passwords.hash(new_password)
        if self.store.reset_password_with_code(username, reset_code_hash(code), password_hash):
            log.info("organizer %s set a new password with a reset code", username)
            return
        self._failed(name_key, address, now)

    def _failed(self, name_key: str, address: str, now: float) -> NoReturn:
        self.failures_per_username.spend(name_key, now)
        log.info("a wrong password reset code from %s", address)
        raise ResetRefused(WRONG_RESET)
