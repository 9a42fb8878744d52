"""Merchant onboarding: the merchant, its first test key and, with a webhookUrl, an endpoint."""

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from payments_core.api_keys.service import issue_key
from payments_core.errors import AlreadyExists, InvalidRequest
from payments_core.merchants import repository
from payments_core.merchants.models import Merchant
from payments_core.merchants.schemas import MerchantCreate
from payments_core.webhooks import endpoints
from payments_core.webhooks.schemas import ALL_EVENTS, WebhookEndpointCreate
from payments_core.webhooks.secret_box import SecretBox


@dataclass(frozen=True, slots=True)
class Onboarding:
    """What onboarding shows once: the key's plaintext and, with a webhookUrl, the secret."""

    merchant: Merchant
    api_key: str
    webhook_secret: str | None = None

    def __repr__(self) -> str:
        return f"Onboarding(merchant_id={self.merchant.id})"


async def onboard(session: AsyncSession, request: MerchantCreate) -> tuple[Merchant, str]:
    """Create the merchant and its first test key; returns the key's plaintext once.

    For a request without a webhookUrl (the demo seed); `onboard_with_webhook` takes both.
    """
    if request.webhook_url is not None:
        raise ValueError("a webhookUrl needs onboard_with_webhook, which returns its secret")
    merchant, api_key = await _create_merchant(session, request)
    return merchant, api_key


async def onboard_with_webhook(
    session: AsyncSession, request: MerchantCreate, *, box: SecretBox, allow_private: bool
) -> Onboarding:
    """Onboard, and register `webhookUrl` (if given) as an endpoint for every event.

    The URL passes the same guard as `POST /webhook-endpoints` before anything is written.
    """
    if request.webhook_url is not None:
        await _check_webhook_url(request.webhook_url, allow_private=allow_private)
    merchant, api_key = await _create_merchant(session, request)
    if request.webhook_url is None:
        return Onboarding(merchant, api_key)
    endpoint_request = WebhookEndpointCreate(url=request.webhook_url, enabled_events=[ALL_EVENTS])
    _, secret = await endpoints.add_checked(session, merchant.id, endpoint_request, box=box)
    return Onboarding(merchant, api_key, secret)


async def _create_merchant(session: AsyncSession, request: MerchantCreate) -> tuple[Merchant, str]:
    if await repository.email_taken(session, request.email):
        raise _duplicate(request.email)
    merchant = Merchant(name=request.name, email=request.email, webhook_url=request.webhook_url)
    session.add(merchant)
    try:
        await session.flush()
    except IntegrityError:  # a concurrent onboarding took the email between check and insert
        raise _duplicate(request.email) from None
    _, plaintext = issue_key(session, merchant.id)
    await session.flush()
    return merchant, plaintext


async def _check_webhook_url(url: str, *, allow_private: bool) -> None:
    try:
        await endpoints.check_url(url, allow_private=allow_private)
    except InvalidRequest as refused:
        # The guard names the field "url"; here the merchant sent it as "webhookUrl".
        message = refused.message.replace("url", "webhookUrl", 1)
        raise InvalidRequest(message, param="webhookUrl", code=refused.code) from None


def _duplicate(email: str) -> AlreadyExists:
    return AlreadyExists(f"a merchant with email {email} already exists", param="email")
