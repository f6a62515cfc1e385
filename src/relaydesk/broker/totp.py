"""Organizers' two-step login: TOTP codes (RFC 6238) and one-time recovery codes.

TOTP as every authenticator app does it: HMAC-SHA-1, 6 digits, 30-second steps, and a
code of the step before or after the current one accepted too (clocks drift). The caller
remembers the step of the last code accepted and passes it as ``after``: a code is never
accepted twice, nor one older than it. Recovery codes are random, shown once, and kept
only as their SHA-256 (about 59 random bits each: no need for a slow hash).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets

import pyotp
import segno

TOTP_DIGITS = 6
TOTP_STEP_SECONDS = 30
TOTP_DRIFT_STEPS = 1  # the step before and the step after the current one count too
RECOVERY_CODES = 10  # made at once, each good for one login
RECOVERY_CODE_GROUPS = 3  # "abcd-efgh-jkmn": 12 characters of 31, about 59 bits
RECOVERY_CODE_GROUP_CHARS = 4
# Lowercase letters and digits without 0/o, 1/i/l: nothing to misread on paper.
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
QR_SCALE = 4  # pixels per module in the SVG's own size (it scales without loss)


def new_secret() -> str:
    """A new TOTP secret: 160 random bits, base32 (32 characters)."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str, issuer: str) -> str:
    """The ``otpauth://`` URI authenticator apps read from the QR code."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS).provisioning_uri(
        name=username, issuer_name=issuer
    )


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as a standalone SVG document (no script, no style)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(
        out,
        kind="svg",
        xmldecl=False,
        scale=QR_SCALE,
        dark="#000",
        light="#fff",  # a light background, so that it scans on a dark page too
        svgclass=None,
        lineclass=None,
    )
    return out.getvalue().decode()


def is_totp_code(code: str) -> bool:
    return len(code) == TOTP_DIGITS and code.isascii() and code.isdigit()


def matching_step(secret: str, code: str, now: float, after: int | None = None) -> int | None:
    """The time step whose code ``code`` is (within the drift), if it is later than
    ``after``; else None."""
    if not is_totp_code(code):
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS)
    current = int(now // TOTP_STEP_SECONDS)
    found = None
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        # Compare every candidate, in constant time, whatever matched before.
        matches = hmac.compare_digest(totp.generate_otp(step), code)
        if matches and (after is None or step > after) and found is None:
            found = step
    return found


def new_recovery_codes() -> list[str]:
    return [
        "-".join(
            "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_GROUP_CHARS))
            for _ in range(RECOVERY_CODE_GROUPS)
        )
        for _ in range(RECOVERY_CODES)
    ]


def recovery_code_hash(code: str) -> str | None:
    """The SHA-256 (hex) of a recovery code as typed (case, spaces and dashes do not
    matter); None if it cannot be one."""
    normalized = code.replace("-", "").replace(" ", "").lower()
    if len(normalized) != RECOVERY_CODE_GROUPS * RECOVERY_CODE_GROUP_CHARS or not all(
        char in RECOVERY_ALPHABET for char in normalized
    ):
        return None
    return hashlib.sha256(normalized.encode()).hexdigest()
