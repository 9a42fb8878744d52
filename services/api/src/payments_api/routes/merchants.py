"""Merchants: onboarding and listing by the operator; `me` for the merchant itself."""

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from payments_api.deps import CurrentMerchant, Operator, PageDep, SessionDep, StateDep, parse_id
from payments_api.idempotent import IdempotencyKeyHeader, run_idempotent
from payments_api.responses import Envelope, ListEnvelope, error_responses, page_body, success
from payments_core.api_keys.schemas import ApiKeyOut, IssuedApiKeyOut
from payments_core.api_keys.service import issue_key, revoke_key
from payments_core.errors import AuthenticationFailed
from payments_core.merchants import repository as merchants
from payments_core.merchants import service as merchant_service
from payments_core.merchants.models import Merchant
from payments_core.merchants.schemas import MerchantCreate, MerchantOut, OnboardedMerchantOut

router = APIRouter(tags=["merchants"])


@router.post(
    "/merchants",
    status_code=201,
    summary="Onboard a merchant (operator); a webhookUrl also registers an endpoint for every "
    "event and returns its webhookSecret once",
    response_model=Envelope[OnboardedMerchantOut],
    responses=error_responses(409, 422),
)
async def create_merchant(
    body: MerchantCreate,
    request: Request,
    _: Operator,
    state: StateDep,
    session: SessionDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    async def work() -> tuple[int, dict[str, Any]]:
        onboarding = await merchant_service.onboard_with_webhook(
            session,
            body,
            box=state.secret_box,
            allow_private=state.settings.webhook_allow_private_urls,
        )
        data = OnboardedMerchantOut(
            **MerchantOut.of(onboarding.merchant).model_dump(),
            api_key=onboarding.api_key,
            webhook_secret=onboarding.webhook_secret,
        )
        return 201, success(data.to_json(), "Merchant created successfully", 201)

    return await run_idempotent(request, state, session, None, idempotency_key, work)


@router.get(
    "/merchants",
    summary="List merchants (operator)",
    response_model=ListEnvelope[MerchantOut],
    responses=error_responses(),
)
async def list_merchants(_: Operator, session: SessionDep, page: PageDep) -> dict[str, Any]:
    result = await merchants.list_page(session, page)
    items = [MerchantOut.of(merchant).to_json() for merchant in result.items]
    return page_body(result, items, "Merchants retrieved successfully")


@router.get(
    "/merchants/me",
    summary="The calling merchant",
    response_model=Envelope[MerchantOut],
    responses=error_responses(),
)
async def get_me(principal: CurrentMerchant, session: SessionDep) -> dict[str, Any]:
    merchant = await session.get(Merchant, principal.id)
    if merchant is None:  # deleted since the key was checked
        raise AuthenticationFailed("invalid API key provided", code="invalid_api_key")
    return success(MerchantOut.of(merchant).to_json(), "Merchant retrieved successfully")


@router.post(
    "/merchants/me/api-keys",
    status_code=201,
    summary="Issue a new API key (shown once)",
    response_model=Envelope[IssuedApiKeyOut],
    responses=error_responses(409, 422),
)
async def create_api_key(
    request: Request,
    principal: CurrentMerchant,
    state: StateDep,
    session: SessionDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    async def work() -> tuple[int, dict[str, Any]]:
        key, plaintext = issue_key(session, principal.id, principal.api_key.mode)
        await session.flush()
        data = IssuedApiKeyOut.issued(key, plaintext).to_json()
        return 201, success(data, "API key created successfully", 201)

    return await run_idempotent(request, state, session, principal.id, idempotency_key, work)


@router.delete(
    "/merchants/me/api-keys/{key_id}",
    summary="Revoke an API key",
    response_model=Envelope[ApiKeyOut],
    responses=error_responses(),
)
async def revoke_api_key(
    key_id: str, principal: CurrentMerchant, session: SessionDep
) -> dict[str, Any]:
    key = await revoke_key(session, principal.id, parse_id(key_id, "API key"))
    await session.commit()
    return success(ApiKeyOut.of(key).to_json(), "API key revoked successfully")
