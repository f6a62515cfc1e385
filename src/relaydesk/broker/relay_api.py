"""``POST /api/relays/heartbeat`` and ``POST /api/relays/records``: relays' signed reports.

The body is read here, at most MAX_RELAY_REPORT_BYTES (413 past that, before the rest
arrives), because the signature covers the exact bytes sent; broker/reports.py checks
and applies it. The OpenAPI document declares the JSON the relay sends all the same.

No ``from __future__ import annotations``: FastAPI reads the annotations at run time.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from relaydesk import limits
from relaydesk.broker.report_schemas import (
    HeartbeatAnswer,
    HeartbeatRequest,
    RecordsAnswer,
    RecordsRequest,
)
from relaydesk.broker.reports import RELAY_HEADER, SIGNATURE_HEADER
from relaydesk.broker.schemas import ErrorAnswer
from relaydesk.broker.service import Broker
from relaydesk.errors import RelayReportTooLarge

TOO_LARGE = f"A relay report has at most {limits.MAX_RELAY_REPORT_BYTES} bytes."
RelayName = Annotated[
    str,
    Header(
        alias=RELAY_HEADER,
        max_length=limits.MAX_RELAY_NAME_CHARS,
        description="the name the relay is registered under",
    ),
]
Signature = Annotated[
    str,
    Header(
        alias=SIGNATURE_HEADER,
        max_length=128,
        description='Ed25519 by the relay key over "relaydesk/v1 relay-report\\n" || body, '
        "base64url",
    ),
]
REFUSALS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorAnswer, "description": text}
    for status, text in (
        (401, "not a registered relay, a bad signature, or sent_at too far off"),
        (409, "counter not above the last one accepted (a replay)"),
        (413, "body above MAX_RELAY_REPORT_BYTES"),
        (422, "not the JSON described, or too many records"),
    )
}


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its ``$defs`` put in place, so that it can stand in
    the OpenAPI document's request body on its own."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def _body_of(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_schema(model)}},
        }
    }


async def read_bounded(request: Request) -> bytes:
    """The body, refused (413) once it passes MAX_RELAY_REPORT_BYTES."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.MAX_RELAY_REPORT_BYTES:
        raise RelayReportTooLarge(TOO_LARGE)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limits.MAX_RELAY_REPORT_BYTES:
            raise RelayReportTooLarge(TOO_LARGE)
    return bytes(body)


def add_relay_routes(router: APIRouter, broker: Broker) -> None:
    reports = broker.reports

    @router.post(
        "/relays/heartbeat",
        tags=["relays"],
        summary="A relay's heartbeat (signed)",
        description="A registered relay's addresses, certificate pin and load, every "
        "RELAY_HEARTBEAT_SECONDS; a relay not heard from for RELAY_DEAD_SECONDS gets no "
        "new sessions. Answers which of the listed sessions the broker has ended. Signed "
        'with the relay key (docs/protocol.md §11, "Relay to broker").',
        responses=REFUSALS,
        openapi_extra=_body_of(HeartbeatRequest),
    )
    async def heartbeat(
        request: Request, relay: RelayName, signature: Signature
    ) -> HeartbeatAnswer:
        body = await read_bounded(request)
        ended = await run_in_threadpool(reports.heartbeat, relay, signature, body)
        return HeartbeatAnswer(ended=ended)

    @router.post(
        "/relays/records",
        tags=["relays"],
        summary="A relay's event records (signed)",
        description="Up to MAX_RELAY_REPORT_RECORDS calls of the relay's record sink "
        "(session started and ended, members joined and left with byte counts, locks and "
        "member events), in order. Only records of sessions whose home is this relay are "
        "applied; the others are counted as ignored.",
        responses=REFUSALS,
        openapi_extra=_body_of(RecordsRequest),
    )
    async def records(request: Request, relay: RelayName, signature: Signature) -> RecordsAnswer:
        body = await read_bounded(request)
        outcome = await run_in_threadpool(reports.records, relay, signature, body)
        return RecordsAnswer(applied=outcome.applied, ignored=outcome.ignored)
