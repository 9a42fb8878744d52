"""Refunds of the calling merchant's payments."""

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from payments_api.deps import CurrentMerchant, PageDep, SessionDep, StateDep, parse_id
from payments_api.idempotent import IdempotencyKeyHeader, run_idempotent
from payments_api.responses import Envelope, ListEnvelope, error_responses, page_body, success
from payments_core.payments import service as payments
from payments_core.refunds import repository as refunds
from payments_core.refunds import service
from payments_core.refunds.schemas import RefundCreate, RefundOut

router = APIRouter(tags=["refunds"])


@router.post(
    "/payments/{payment_id}/refunds",
    status_code=201,
    summary="Refund a completed payment, in full (no amount) or in part",
    response_model=Envelope[RefundOut],
    responses=error_responses(409, 422),
)
async def create_refund(
    payment_id: str,
    request: Request,
    principal: CurrentMerchant,
    state: StateDep,
    session: SessionDep,
    idempotency_key: IdempotencyKeyHeader = None,
    body: RefundCreate | None = None,
) -> JSONResponse:
    parsed_id = parse_id(payment_id, "payment")

    async def work() -> tuple[int, dict[str, Any]]:
        refund, _ = await service.create(session, principal.id, parsed_id, body or RefundCreate())
        return 201, success(RefundOut.of(refund).to_json(), "Refund created successfully", 201)

    return await run_idempotent(request, state, session, principal.id, idempotency_key, work)


@router.get(
    "/payments/{payment_id}/refunds",
    summary="List a payment's refunds, newest first",
    response_model=ListEnvelope[RefundOut],
    responses=error_responses(),
)
async def list_refunds(
    payment_id: str, principal: CurrentMerchant, session: SessionDep, page: PageDep
) -> dict[str, Any]:
    payment = await payments.get(session, principal.id, parse_id(payment_id, "payment"))
    result = await refunds.list_for_payment(session, principal.id, payment.id, page)
    items = [RefundOut.of(refund).to_json() for refund in result.items]
    return page_body(result, items, "Refunds retrieved successfully")


@router.get(
    "/refunds/{refund_id}",
    summary="Get a refund",
    response_model=Envelope[RefundOut],
    responses=error_responses(),
)
async def get_refund(
    refund_id: str, principal: CurrentMerchant, session: SessionDep
) -> dict[str, Any]:
    refund = await service.get(session, principal.id, parse_id(refund_id, "refund"))
    return success(RefundOut.of(refund).to_json(), "Refund retrieved successfully")
