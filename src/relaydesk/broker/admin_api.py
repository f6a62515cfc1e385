"""The site's rules and an administrator's work, over HTTPS (docs/operators.md):

- ``GET /api/policy``: the site policy, for anyone (the join page and the organizer's
  start form show what it forces);
- ``POST /api/password-resets`` and ``/api/password-resets/complete``: an organizer who
  forgot its password (``broker/resets.py``);
- ``/api/admin/...``: only with a site administrator's login (bearer token from
  ``POST /api/login``, or the browser's login cookie); an organizer's gets 403.

No ``from __future__ import annotations``: FastAPI reads the annotations at run time.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from relaydesk import limits
from relaydesk.broker.policy import SitePolicy
from relaydesk.broker.records import (
    RecordFilter,
    records_to_csv,
    summaries_to_csv,
)
from relaydesk.broker.schemas import (
    AccountAnswer,
    AdminRoleRequest,
    ApprovedResetAnswer,
    ErrorAnswer,
    MemberSummaryAnswer,
    PasswordResetAnswer,
    PasswordResetAsked,
    PasswordResetCompletion,
    PasswordResetRequest,
    PolicyAnswer,
    PolicyChange,
    RecordAnswer,
)
from relaydesk.broker.service import Broker, normalize_session_id
from relaydesk.broker.store import AccountInfo, PasswordResetInfo
from relaydesk.errors import BrokerError

CSV_TYPE = "text/csv; charset=utf-8"
Format = Literal["json", "csv"]
AccountName = Annotated[
    str, Path(min_length=1, max_length=limits.MAX_USERNAME_CHARS, description="a username")
]
ResetId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the request's id")]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorAnswer} for status in (*statuses, 422)}


def _admin_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    refusals = _errors(401, 403, *statuses)
    refusals[403] = {"model": ErrorAnswer, "description": "not a site administrator's login"}
    return refusals


def _csv_or_json(*statuses: int) -> dict[int | str, dict[str, Any]]:
    answers = _admin_errors(*statuses)
    answers[200] = {"content": {"text/csv": {"schema": {"type": "string"}}}}
    return answers


def policy_answer(policy: SitePolicy, audit: bool = False) -> PolicyAnswer:
    rules = policy.rules()
    if audit:
        rules.update(updated_at=policy.updated_at, updated_by=policy.updated_by)
    return PolicyAnswer(**rules)


def _account_answer(account: AccountInfo) -> AccountAnswer:
    return AccountAnswer(
        username=account.username,
        disabled=account.disabled,
        is_admin=account.is_admin,
        totp_enabled=account.totp_enabled,
        created_at=account.created_at,
    )


def _reset_answer(reset: PasswordResetInfo) -> PasswordResetAnswer:
    return PasswordResetAnswer(
        id=reset.id,
        username=reset.username,
        requested_at=reset.requested_at,
        requested_from=reset.requested_from,
        state=reset.state,
        decided_at=reset.decided_at,
        decided_by=reset.decided_by,
        code_expires_at=reset.code_expires_at,
        used_at=reset.used_at,
    )


def _utc(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def record_filter(
    session_id: Annotated[
        str | None, Query(max_length=32, description="a 9-digit session ID")
    ] = None,
    organizer: Annotated[
        str | None,
        Query(max_length=limits.MAX_USERNAME_CHARS, description="the organizer's username"),
    ] = None,
    since: Annotated[
        datetime | None,
        Query(alias="from", description="ISO 8601; at or after it (UTC if no zone)"),
    ] = None,
    until: Annotated[
        datetime | None,
        Query(alias="to", description="ISO 8601; before it (UTC if no zone)"),
    ] = None,
) -> RecordFilter:
    wanted = None
    if session_id is not None:
        wanted = normalize_session_id(session_id)
        if wanted is None:
            raise BrokerError("A session ID has 9 digits and does not start with 0.")
    return RecordFilter(wanted, organizer, _utc(since), _utc(until))


Filter = Annotated[RecordFilter, Depends(record_filter)]
FormatQuery = Annotated[Format, Query(description="json (the default) or csv")]


def add_admin_routes(
    router: APIRouter,
    broker: Broker,
    admin: Callable[..., AccountInfo],
    address: Callable[[Request], str],
) -> None:
    """The routes above on ``router``; ``admin`` is the dependency that finds the
    administrator of a request (403 for an organizer)."""
    Admin = Annotated[AccountInfo, Depends(admin)]  # noqa: N806 - a type alias

    @router.get(
        "/policy",
        tags=["server"],
        summary="The site policy",
        description="The rules this server's administrator set, which organizers cannot "
        "override: required session passwords, password rules, all sessions unlisted, "
        "e-mail addresses required, joining only with an account, desktop sharing or "
        "remote control turned off, password resets approved by an administrator. No "
        "login needed.",
    )
    def policy() -> PolicyAnswer:
        return policy_answer(broker.policy())

    @router.post(
        "/password-resets",
        tags=["organizers"],
        summary="Ask for a password reset",
        description="For an organizer who forgot its password. The answer is the same "
        "whether or not the account exists; an administrator approves the request and "
        "passes the organizer a one-time reset code, used with `POST "
        "/api/password-resets/complete`. Throttled per client address.",
        status_code=202,
        responses=_errors(429),
    )
    def ask_reset(body: PasswordResetRequest, request: Request) -> PasswordResetAsked:
        return PasswordResetAsked(detail=broker.resets.request(body.username, address(request)))

    @router.post(
        "/password-resets/complete",
        tags=["organizers"],
        summary="Set a new password with a reset code",
        description="With the reset code an administrator gave, or (unless the site "
        "policy requires an administrator's approval) a one-time code or recovery code of "
        "the account's two-step login. The new password must meet the site's password "
        "rules (400 names the rule broken); then every login of the account ends. A "
        "wrong code is 400 and counts against the username and the address.",
        status_code=204,
        response_class=Response,
        responses=_errors(400, 429),
    )
    def complete_reset(body: PasswordResetCompletion, request: Request) -> Response:
        broker.resets.complete(body.username, body.code, body.new_password, address(request))
        return Response(status_code=204)

    @router.get(
        "/admin/policy",
        tags=["administrators"],
        summary="The site policy, with who changed it last",
        description="As `GET /api/policy`, with when and by which administrator it was "
        "last changed.",
        responses=_admin_errors(),
    )
    def admin_policy(account: Admin) -> PolicyAnswer:
        return policy_answer(broker.policy(), audit=True)

    @router.put(
        "/admin/policy",
        tags=["administrators"],
        summary="Change the site policy",
        description="The rules given are set; those left out keep their value. In force "
        "at once on every broker sharing the database: for new sessions, every join and "
        "each member's next ticket.",
        responses=_admin_errors(400),
    )
    def set_policy(body: PolicyChange, account: Admin) -> PolicyAnswer:
        changes = body.model_dump(exclude_none=True)
        return policy_answer(broker.set_policy(account, changes), audit=True)

    @router.get(
        "/admin/accounts",
        tags=["administrators"],
        summary="Accounts",
        description="Every organizer account: disabled or not, administrator or not, "
        "two-step login on or not.",
        responses=_admin_errors(),
    )
    def accounts(account: Admin) -> list[AccountAnswer]:
        return [_account_answer(found) for found in broker.store.accounts()]

    @router.put(
        "/admin/accounts/{username}/admin",
        tags=["administrators"],
        summary="Grant or revoke the administrator role",
        description="409 rather than leave the site without an administrator (the admin "
        "command on the server can always grant the role).",
        responses=_admin_errors(404, 409),
    )
    def set_admin(username: AccountName, body: AdminRoleRequest, account: Admin) -> AccountAnswer:
        broker.store.set_admin(username, body.admin, keep_one=True)
        found = broker.store.account(username)
        assert found is not None
        return _account_answer(found[0])

    @router.get(
        "/admin/records",
        tags=["administrators"],
        summary="Event records, filtered",
        description="Every session's event records (metadata only), oldest first, with "
        "the session's organizer: of one session ID, one organizer's sessions, a time "
        "range (from inclusive, to exclusive). `format=csv` answers CSV (the columns of "
        "`relaydesk admin records --csv`).",
        responses=_csv_or_json(400),
    )
    def admin_records(
        account: Admin, where: Filter, format: FormatQuery = "json"
    ) -> list[RecordAnswer]:
        found = broker.all_records(account, where)
        if format == "csv":
            return Response(records_to_csv(found), media_type=CSV_TYPE)  # type: ignore[return-value]
        return [RecordAnswer(**record_fields(record.to_json())) for record in found]

    @router.get(
        "/admin/records/members",
        tags=["administrators"],
        summary="Per member: joined, left, how long, bytes",
        description="One row per member of each session, from its join and leave "
        "records: first admitted, last left, the time between, and the bytes of all its "
        "links. The time range selects members first admitted within it.",
        responses=_csv_or_json(400),
    )
    def member_summaries(
        account: Admin, where: Filter, format: FormatQuery = "json"
    ) -> list[MemberSummaryAnswer]:
        found = broker.member_summaries(account, where)
        if format == "csv":
            return Response(summaries_to_csv(found), media_type=CSV_TYPE)  # type: ignore[return-value]
        return [MemberSummaryAnswer(**summary.to_json()) for summary in found]

    @router.get(
        "/admin/password-resets",
        tags=["administrators"],
        summary="Password reset requests",
        description="Those waiting for a decision, oldest first; with `all=true`, every "
        "one kept (approved, denied, used, expired too).",
        responses=_admin_errors(),
    )
    def password_resets(
        account: Admin, everything: Annotated[bool, Query(alias="all")] = False
    ) -> list[PasswordResetAnswer]:
        return [_reset_answer(reset) for reset in broker.store.password_resets(everything)]

    @router.post(
        "/admin/password-resets/{reset_id}/approve",
        tags=["administrators"],
        summary="Approve a password reset",
        description="Makes the one-time reset code (shown this once; valid 24 hours, "
        "once) to pass on to the organizer out of band. 409 if the request was decided "
        "already or has lapsed.",
        responses=_admin_errors(404, 409),
    )
    def approve(reset_id: ResetId, account: Admin) -> ApprovedResetAnswer:
        approved = broker.resets.approve(reset_id, account)
        return ApprovedResetAnswer(request=_reset_answer(approved.request), code=approved.code)

    @router.post(
        "/admin/password-resets/{reset_id}/deny",
        tags=["administrators"],
        summary="Deny a password reset",
        description="The request is closed without a code; the organizer may ask again. "
        "409 if it was decided already or has lapsed.",
        responses=_admin_errors(404, 409),
    )
    def deny(reset_id: ResetId, account: Admin) -> PasswordResetAnswer:
        return _reset_answer(broker.resets.deny(reset_id, account))


def record_fields(record: dict[str, Any]) -> dict[str, Any]:
    """An event record's JSON as RecordAnswer takes it."""
    return {**record, "at": datetime.fromisoformat(record["at"])}
