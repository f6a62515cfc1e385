"""Password strength rules, for organizer passwords and session passwords alike
(docs/operators.md, "Site policy"). Each refusal is a ``WeakPassword`` whose sentence
names the rule that refused it.

The rules follow NIST SP 800-63B §5.1.1.2: a minimum length; no composition rules
(they make passwords harder to remember, not to guess); and, under the site policy's
``strong_passwords``, a refusal of what attackers try first:

- ``length``: fewer characters than the policy's minimum (organizer passwords never
  fewer than ``limits.MIN_ACCOUNT_PASSWORD_CHARS``);
- ``name``: the password contains the account's username, or the product's name
  (what an attacker who knows whose password it is tries first);
- ``common``: one of the 30,000 passwords seen most often in leaked password lists
  (zxcvbn's list, compared without case and spaces);
- ``guessable``: zxcvbn (Dropbox's strength estimator) scores it below
  ``limits.STRONG_PASSWORD_MIN_SCORE`` out of 4: repeats (``abcabcabc``), sequences
  (``123456789012``), keyboard walks (``qazwsxedcrfv``), dates, dictionary words with
  predictable changes. Score 3 means about 10^8 guesses or more.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from relaydesk import limits
from relaydesk.errors import WeakPassword

PRODUCT_NAME = "relaydesk"
MIN_NAME_CHARS = 3  # a username this short is no word to look for in a password


@cache
def _common_passwords() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


def _folded(text: str) -> str:
    return "".join(text.casefold().split())


def check_password(
    password: str,
    *,
    min_chars: int,
    strong: bool,
    names: Iterable[str] = (),
    what: str = "the password",
) -> None:
    """Refuse ``password`` (WeakPassword, naming the rule) unless it has at least
    ``min_chars`` characters, at most ``MAX_PASSWORD_CHARS``, and, when ``strong``,
    contains none of ``names`` (or the product's name), is not a common password and is
    not easy to guess."""
    if len(password) > limits.MAX_PASSWORD_CHARS:
        raise WeakPassword(f"{what} must have at most {limits.MAX_PASSWORD_CHARS} characters")
    if len(password) < min_chars:
        raise WeakPassword(f"{what} must have at least {min_chars} characters (rule: length)")
    if not strong:
        return
    folded = _folded(password)
    words = [_folded(name) for name in (*names, PRODUCT_NAME)]
    if any(len(word) >= MIN_NAME_CHARS and word in folded for word in words):
        raise WeakPassword(
            f"{what} must not contain the username or the name {PRODUCT_NAME} (rule: name)"
        )
    if folded in _common_passwords():
        raise WeakPassword(
            f"{what} is one of the 30,000 most common passwords; choose another (rule: common)"
        )
    # zxcvbn bounds its own work (quadratic in the length): the start of a long password
    # is scored, which is never stronger than the whole.
    scored = zxcvbn(
        password[: limits.STRENGTH_CHECKED_CHARS],
        user_inputs=[*names, PRODUCT_NAME],
        max_length=limits.STRENGTH_CHECKED_CHARS,
    )
    score = int(scored["score"])
    if score < limits.STRONG_PASSWORD_MIN_SCORE:
        warning = str(scored["feedback"].get("warning") or "").strip()
        why = f": {warning}" if warning else "."
        raise WeakPassword(
            f"{what} is too easy to guess (score {score} of 4, at least "
            f"{limits.STRONG_PASSWORD_MIN_SCORE} needed){why} Longer, with uncommon words, "
            "is better (rule: guessable)"
        )
