"""Payments of the calling merchant."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query, Request
from pydantic import AfterValidator, BeforeValidator
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import JSONResponse, Response

from payments_api.deps import CurrentMerchant, PageDep, SessionDep, StateDep, parse_id
from payments_api.idempotent import IdempotencyKeyHeader, run_idempotent
from payments_api.idempotent_direct import Outcome, run_idempotent_direct
from payments_api.responses import Envelope, ListEnvelope, error_responses, page_body, success
from payments_api.state import ApiState
from payments_core.db.driver import DriverConnection
from payments_core.errors import ServiceUnavailable
from payments_core.idempotency.direct import ResponseToStore
from payments_core.payments import repository as payments
from payments_core.payments import service, transitions
from payments_core.payments.models import Payment
from payments_core.payments.schemas import (
    PaymentCapture,
    PaymentCreate,
    PaymentFilters,
    PaymentOut,
)
from payments_core.payments.status import HoldDecision, PaymentStatus

router = APIRouter(tags=["payments"])


def _iso_8601_only(value: object) -> object:
    """Pydantic would read `0.5` as a Unix time; the documented format is ISO 8601 only."""
    if isinstance(value, str) and value.replace(".", "", 1).lstrip("-").isdigit():
        raise ValueError("must be an ISO 8601 date-time, e.g. 2026-11-27T10:00:00Z")
    return value


def _representable_in_utc(value: datetime) -> datetime:
    """`0001-01-01T00:00+14:00` parses, but is before year 1 in UTC: the database cannot take it."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must be a date-time between the years 1 and 9999 in UTC") from None
    return value


IsoDateTime = Annotated[
    datetime, BeforeValidator(_iso_8601_only), AfterValidator(_representable_in_utc)
]


@router.post(
    "/payments",
    status_code=201,
    summary="Create a payment (status pending; processed asynchronously)",
    response_model=Envelope[PaymentOut],
    responses=error_responses(409, 422),
)
async def create_payment(
    body: PaymentCreate,
    request: Request,
    principal: CurrentMerchant,
    state: StateDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    # The busiest route: on the driver connection, not a session (idempotent_direct.py).
    async def work(connection: DriverConnection, outcome: Outcome) -> None:
        created: list[str] = []

        def respond(payment: dict[str, Any]) -> ResponseToStore:
            created.append(payment["id"])
            return outcome.respond(201, success(payment, "Payment initialized successfully", 201))

        await service.create_on_connection(
            connection,
            principal.id,
            body,
            supported_currencies=state.settings.supported_currencies,
            respond=respond,
            on_commit=outcome.on_commit,
            authorization_ttl=timedelta(seconds=state.settings.authorization_ttl_seconds),
            mode=principal.api_key.mode,
            routed=principal.api_key.routed,
        )
        # Only once it exists: the request's log line names the payment it created.
        structlog.contextvars.bind_contextvars(payment_id=created[0])

    return await run_idempotent_direct(request, state, principal.id, idempotency_key, work)


@router.get(
    "/payments",
    summary="List payments, newest first",
    response_model=ListEnvelope[PaymentOut],
    responses=error_responses(),
)
async def list_payments(
    principal: CurrentMerchant,
    session: SessionDep,
    page: PageDep,
    status: Annotated[PaymentStatus | None, Query()] = None,
    created_from: Annotated[IsoDateTime | None, Query(alias="createdFrom")] = None,
    created_to: Annotated[IsoDateTime | None, Query(alias="createdTo")] = None,
) -> dict[str, Any]:
    filters = PaymentFilters(status=status, created_from=created_from, created_to=created_to)
    result = await payments.list_page(session, principal.id, filters, page)
    items = [PaymentOut.of(payment).to_json() for payment in result.items]
    return page_body(result, items, "Payments retrieved successfully")


@router.get(
    "/payments/reference/{reference}",
    summary="Get a payment by its PAY-… reference or the merchant's own",
    response_model=Envelope[PaymentOut],
    responses=error_responses(),
)
async def get_payment_by_reference(
    reference: str, principal: CurrentMerchant, session: SessionDep
) -> dict[str, Any]:
    payment = await service.get_by_reference(session, principal.id, reference)
    return success(PaymentOut.of(payment).to_json(), "Payment retrieved successfully")


@router.get(
    "/payments/{payment_id}",
    summary="Get a payment",
    response_model=Envelope[PaymentOut],
    responses=error_responses(),
)
async def get_payment(
    payment_id: str, principal: CurrentMerchant, session: SessionDep
) -> dict[str, Any]:
    payment = await service.get(session, principal.id, parse_id(payment_id, "payment"))
    return success(PaymentOut.of(payment).to_json(), "Payment retrieved successfully")


@router.post(
    "/payments/{payment_id}/cancel",
    summary="Cancel a payment before it is charged, or release an authorized one's hold",
    response_model=Envelope[PaymentOut],
    responses=error_responses(409, 422, 503),
)
async def cancel_payment(
    payment_id: str,
    request: Request,
    principal: CurrentMerchant,
    state: StateDep,
    session: SessionDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    parsed_id = parse_id(payment_id, "payment")

    async def work() -> tuple[int, dict[str, Any]]:
        payment = await transitions.cancel(session, parsed_id, principal.id)
        if payment.status == PaymentStatus.AUTHORIZED:  # a hold: its workflow voids it
            payment = await _carry_out(session, state, payment)
        return 200, success(PaymentOut.of(payment).to_json(), "Payment cancelled successfully")

    response = await run_idempotent(request, state, session, principal.id, idempotency_key, work)
    if response.status_code == 200:
        # The decision is already committed; the signal only saves the workflow a step.
        await state.signals.cancel_payment(str(parsed_id))
    return response


@router.post(
    "/payments/{payment_id}/capture",
    summary="Capture an authorized payment (captureMethod manual), all or part of the hold",
    response_model=Envelope[PaymentOut],
    responses=error_responses(409, 422, 503),
)
async def capture_payment(
    payment_id: str,
    request: Request,
    principal: CurrentMerchant,
    state: StateDep,
    session: SessionDep,
    body: PaymentCapture | None = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    parsed_id = parse_id(payment_id, "payment")
    amount = body.amount if body is not None else None

    async def work() -> tuple[int, dict[str, Any]]:
        payment = await transitions.lock(session, parsed_id, principal.id)
        transitions.decide_hold(payment, HoldDecision.CAPTURE, amount)
        payment = await _carry_out(session, state, payment)
        message = (
            "Payment captured successfully"
            if payment.status == PaymentStatus.COMPLETED
            else f"Payment capture ended {payment.status}"
        )
        return 200, success(PaymentOut.of(payment).to_json(), message)

    return await run_idempotent(request, state, session, principal.id, idempotency_key, work)


async def _carry_out(session: AsyncSession, state: ApiState, payment: Payment) -> Payment:
    """Commit the decision on an authorized payment's hold, have its workflow carry it out (a
    Workflow Update) and return the payment as it ended. Without an answer in time the decision
    stands (the workflow carries it out when it next wakes) and the caller gets 503: a retry,
    with the same Idempotency-Key or without, meets the same decision and waits again."""
    payment_id = payment.id
    await session.commit()
    await state.signals.hold_decided(
        str(payment_id), within_seconds=state.settings.request_timeout_seconds * 2 / 3
    )
    await session.refresh(payment)  # as the workflow left it
    if payment.status == PaymentStatus.AUTHORIZED:
        raise ServiceUnavailable(
            f"the {payment.hold_decision} of payment {payment_id} is accepted but not carried"
            " out yet; retry the request, or GET the payment for its outcome",
            code="hold_decision_pending",
        )
    return payment
