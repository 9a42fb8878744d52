"""Seed a demo merchant and card for `make up`, keeping them across runs.

API keys are stored only as hashes, so the plaintext of the demo key lives in a local state file
(git-ignored, mode 0600) to be printed again on the next run; a key that no longer works (revoked,
or the database was reset) is replaced by a new one.
"""

import json
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from payments_core.api_keys.service import authenticate, issue_key
from payments_core.db.engine import create_engine, create_session_factory
from payments_core.db.session import transaction
from payments_core.errors import AuthenticationFailed
from payments_core.gateway.sandbox import SandboxConnector
from payments_core.merchants.models import Merchant
from payments_core.merchants.schemas import MerchantCreate
from payments_core.merchants.service import onboard
from payments_core.payment_methods import repository as payment_methods
from payments_core.payment_methods.schemas import PaymentMethodCreate
from payments_core.payment_methods.service import register

DEMO_EMAIL = "demo@merchant.test"
DEMO_CARD = {"number": "4242424242424242", "expMonth": 12, "expYear": 2035, "cvc": "123"}


@dataclass(frozen=True)
class DemoSeed:
    merchant_id: str
    merchant_email: str
    api_key: str
    payment_method_id: str


async def seed_demo(database_url: str, state_file: Path) -> DemoSeed:
    engine = create_engine(database_url, pool_size=2)
    factory = create_session_factory(engine)
    previous = _read(state_file)
    try:
        async with transaction(factory) as session:
            merchant, api_key = await _merchant_and_key(session, previous)
            method_id = await _payment_method(session, merchant.id, previous, factory)
        seed = DemoSeed(str(merchant.id), merchant.email, api_key, method_id)
    finally:
        await engine.dispose()
    _write(state_file, seed)
    return seed


async def _merchant_and_key(
    session: AsyncSession, previous: DemoSeed | None
) -> tuple[Merchant, str]:
    if previous is not None:
        try:
            _, merchant = await authenticate(session, previous.api_key)
            return merchant, previous.api_key
        except AuthenticationFailed:
            merchant_or_none = await session.get(Merchant, uuid.UUID(previous.merchant_id))
            if merchant_or_none is not None:
                _, plaintext = issue_key(session, merchant_or_none.id)
                return merchant_or_none, plaintext
    return await onboard(session, MerchantCreate(name="Demo Merchant", email=DEMO_EMAIL))


async def _payment_method(
    session: AsyncSession, merchant_id: uuid.UUID, previous: DemoSeed | None, factory: object
) -> str:
    if previous is not None:
        existing = await payment_methods.get_owned(
            session, merchant_id, uuid.UUID(previous.payment_method_id)
        )
        if existing is not None and existing.is_active:
            return str(existing.id)
    request = PaymentMethodCreate.model_validate({"type": "card", "card": DEMO_CARD})
    method = await register(session, merchant_id, request, SandboxConnector(factory))  # type: ignore[arg-type]
    return str(method.id)


def _read(state_file: Path) -> DemoSeed | None:
    try:
        return DemoSeed(**json.loads(state_file.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _write(state_file: Path, seed: DemoSeed) -> None:
    state_file.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(state_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(asdict(seed), handle, indent=2)
