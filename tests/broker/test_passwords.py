"""argon2id hashing, the decoy check and the account password rule."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, Type

from relaydesk import limits
from relaydesk.broker.passwords import Passwords, check_account_password
from relaydesk.errors import WeakPassword


def test_hashes_are_argon2id_and_verify(passwords: Passwords) -> None:
    hashed = passwords.hash("s3cret passphrase")
    assert hashed.startswith("$argon2id$")
    assert "s3cret" not in hashed
    assert passwords.verify(hashed, "s3cret passphrase")
    assert not passwords.verify(hashed, "s3cret passphrasE")


def test_default_parameters_are_the_librarys() -> None:
    hasher = Passwords().hasher
    default = PasswordHasher()
    assert (hasher.type, hasher.time_cost, hasher.memory_cost) == (
        Type.ID,
        default.time_cost,
        default.memory_cost,
    )


def test_no_hash_never_matches_even_the_decoys_password(passwords: Passwords) -> None:
    assert not passwords.verify(None, "")
    assert not passwords.verify(None, "anything")


def test_garbage_hash_does_not_match(passwords: Passwords) -> None:
    assert not passwords.verify("not a hash", "x")


def test_only_argon2id_is_accepted() -> None:
    with pytest.raises(ValueError, match="argon2id"):
        Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.I))


def test_parameters_changing_asks_for_a_rehash(passwords: Passwords) -> None:
    old = passwords.hash("password")
    stronger = Passwords(PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))
    assert stronger.needs_rehash(old)
    assert not passwords.needs_rehash(old)


def test_account_password_rule() -> None:
    check_account_password("x" * limits.MIN_ACCOUNT_PASSWORD_CHARS)
    with pytest.raises(WeakPassword, match="at least 12"):
        check_account_password("x" * (limits.MIN_ACCOUNT_PASSWORD_CHARS - 1))
    with pytest.raises(WeakPassword, match="at most"):
        check_account_password("x" * (limits.MAX_PASSWORD_CHARS + 1))
