"""Payment methods of the calling merchant."""

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from payments_api.deps import CurrentMerchant, PageDep, SessionDep, StateDep, parse_id
from payments_api.idempotent import IdempotencyKeyHeader, run_idempotent
from payments_api.responses import Envelope, ListEnvelope, error_responses, page_body, success
from payments_core.payment_methods import repository as payment_methods
from payments_core.payment_methods import service
from payments_core.payment_methods.schemas import PaymentMethodCreate, PaymentMethodOut

router = APIRouter(tags=["payment methods"])


@router.post(
    "/payment-methods",
    status_code=201,
    summary="Register a payment method (cards are tokenized; number and CVC never stored)",
    response_model=Envelope[PaymentMethodOut],
    responses=error_responses(409, 422),
)
async def create_payment_method(
    body: PaymentMethodCreate,
    request: Request,
    principal: CurrentMerchant,
    state: StateDep,
    session: SessionDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    async def work() -> tuple[int, dict[str, Any]]:
        method = await service.register(
            session, principal.id, body, state.gateways, mode=principal.api_key.mode
        )
        data = PaymentMethodOut.of(method).to_json()
        return 201, success(data, "Payment method created successfully", 201)

    return await run_idempotent(request, state, session, principal.id, idempotency_key, work)


@router.get(
    "/payment-methods",
    summary="List payment methods",
    response_model=ListEnvelope[PaymentMethodOut],
    responses=error_responses(),
)
async def list_payment_methods(
    principal: CurrentMerchant, session: SessionDep, page: PageDep
) -> dict[str, Any]:
    result = await payment_methods.list_page(session, principal.id, page)
    items = [PaymentMethodOut.of(method).to_json() for method in result.items]
    return page_body(result, items, "Payment methods retrieved successfully")


@router.get(
    "/payment-methods/{method_id}",
    summary="Get a payment method",
    response_model=Envelope[PaymentMethodOut],
    responses=error_responses(),
)
async def get_payment_method(
    method_id: str, principal: CurrentMerchant, session: SessionDep
) -> dict[str, Any]:
    method = await service.get(session, principal.id, parse_id(method_id, "payment method"))
    return success(PaymentMethodOut.of(method).to_json(), "Payment method retrieved successfully")


@router.delete(
    "/payment-methods/{method_id}",
    summary="Deactivate a payment method",
    response_model=Envelope[PaymentMethodOut],
    responses=error_responses(),
)
async def deactivate_payment_method(
    method_id: str, principal: CurrentMerchant, session: SessionDep
) -> dict[str, Any]:
    method = await service.deactivate(session, principal.id, parse_id(method_id, "payment method"))
    await session.commit()
    return success(PaymentMethodOut.of(method).to_json(), "Payment method deactivated successfully")
