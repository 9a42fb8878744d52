"""Merchant onboarding."""

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from payments_core.api_keys.service import issue_key
from payments_core.errors import AlreadyExists
from payments_core.merchants import repository
from payments_core.merchants.models import Merchant
from payments_core.merchants.schemas import MerchantCreate


async def onboard(session: AsyncSession, request: MerchantCreate) -> tuple[Merchant, str]:
    """Create the merchant and its first test key; returns the key's plaintext once."""
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


def _duplicate(email: str) -> AlreadyExists:
    return AlreadyExists(f"a merchant with email {email} already exists", param="email")
