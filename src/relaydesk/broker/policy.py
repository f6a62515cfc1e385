"""The site policy: rules a site administrator sets and organizers cannot override
(docs/operators.md, "Site policy"). Kept in the shared database (table ``site_policy``,
one row), so every broker replica enforces the same; each request reads it anew.

Where each rule is enforced:

- ``require_session_password``: creating a session without a password is refused, and
  so is joining a live session that has none (one made before the rule was set);
- ``min_account_password_chars`` / ``min_session_password_chars`` / ``strong_passwords``:
  ``broker.password_rules`` on every new organizer password (the admin command, a
  password reset) and every new session password;
- ``all_unlisted``: no session is listed, whatever its organizer chose;
- ``require_attendee_email``: joining needs an e-mail address, in every session;
- ``restricted_access``: joining needs an organizer account's login (a bearer token or
  the browser's login cookie);
- ``disable_sharing`` / ``disable_control``: every ticket carries ``NO_SHARING`` /
  ``NO_CONTROL`` (docs/protocol.md §7.2), which the relay enforces;
- ``approve_password_resets``: every password reset needs an administrator's approval
  (without it, an organizer with two-step login may reset with a one-time code).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from relaydesk import limits
from relaydesk.broker.password_rules import check_password
from relaydesk.errors import BrokerError, PolicyRefused
from relaydesk.protocol.tickets import TicketRule

SESSION_PASSWORD_REQUIRED = (
    "This server requires a password for every session; choose one "
    "(site policy: require_session_password)."
)

RULE_SWITCHES = (
    "require_session_password",
    "strong_passwords",
    "all_unlisted",
    "require_attendee_email",
    "restricted_access",
    "disable_sharing",
    "disable_control",
    "approve_password_resets",
)
RULE_NUMBERS = ("min_account_password_chars", "min_session_password_chars")


@dataclass(frozen=True, slots=True)
class SitePolicy:
    """The site's rules; the defaults are a server without any (as before policies)."""

    require_session_password: bool = False
    min_account_password_chars: int = limits.MIN_ACCOUNT_PASSWORD_CHARS
    min_session_password_chars: int = 0
    strong_passwords: bool = False
    all_unlisted: bool = False
    require_attendee_email: bool = False
    restricted_access: bool = False
    disable_sharing: bool = False
    disable_control: bool = False
    approve_password_resets: bool = False
    updated_at: datetime | None = None
    updated_by: str | None = None  # the administrator who last changed it

    def __post_init__(self) -> None:
        low, high = limits.MIN_ACCOUNT_PASSWORD_CHARS, limits.MAX_POLICY_PASSWORD_CHARS
        if not low <= self.min_account_password_chars <= high:
            raise BrokerError(
                f"min_account_password_chars must be {low} to {high}, "
                f"not {self.min_account_password_chars}"
            )
        if not 0 <= self.min_session_password_chars <= high:
            raise BrokerError(
                f"min_session_password_chars must be 0 to {high}, "
                f"not {self.min_session_password_chars}"
            )

    @property
    def ticket_rules(self) -> TicketRule:
        """The bits every ticket carries under this policy (docs/protocol.md §7.2)."""
        rules = TicketRule(0)
        if self.disable_sharing:
            rules |= TicketRule.NO_SHARING
        if self.disable_control:
            rules |= TicketRule.NO_CONTROL
        return rules

    def rules(self) -> dict[str, Any]:
        """The rules by name (no audit fields)."""
        return {name: getattr(self, name) for name in (*RULE_SWITCHES, *RULE_NUMBERS)}

    def changed(self, changes: dict[str, Any]) -> SitePolicy:
        """This policy with ``changes`` (rule name -> value); BrokerError for an unknown
        rule or a value of the wrong kind."""
        known = {f.name for f in fields(self)} - {"updated_at", "updated_by"}
        for name, value in changes.items():
            if name not in known:
                raise BrokerError(f"no site policy rule is named {name!r}")
            kind = int if name in RULE_NUMBERS else bool
            if type(value) is not kind:
                raise BrokerError(f"{name} is {'a number' if kind is int else 'true or false'}")
        return replace(self, **changes)

    def check_account_password(self, password: str, username: str) -> None:
        """WeakPassword (naming the rule) unless ``password`` may be ``username``'s."""
        check_password(
            password,
            min_chars=max(self.min_account_password_chars, limits.MIN_ACCOUNT_PASSWORD_CHARS),
            strong=self.strong_passwords,
            names=(username,),
        )

    def check_session_password(self, password: str | None, organizer: str) -> None:
        """PolicyRefused for no password where one is required; WeakPassword (naming the
        rule) for one the rules refuse."""
        if not password:
            if self.require_session_password:
                raise PolicyRefused(SESSION_PASSWORD_REQUIRED)
            return
        check_password(
            password,
            min_chars=self.min_session_password_chars,
            strong=self.strong_passwords,
            names=(organizer,),
            what="the session password",
        )
