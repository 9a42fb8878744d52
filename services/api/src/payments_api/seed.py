"""Seed a demo merchant, a card and a webhook endpoint for `make up`, keeping them across runs.

API keys are stored only as hashes and webhook secrets only sealed, so the plaintext of the demo
key and of the demo endpoint's secret live in a local state file (git-ignored, mode 0600): the key
to be printed again on the next run, the secret for the local webhook receiver to verify with.
A key or an endpoint that no longer works (revoked, deleted, disabled, sealed under another
WEBHOOK_ENCRYPTION_KEY, or the database was reset) is replaced by a new one.
"""

import json
import os
import uuid
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.api_keys.service import authenticate, issue_key
from payments_core.connectors.gateways import Gateways
from payments_core.db.engine import create_engine, create_session_factory
from payments_core.db.session import transaction
from payments_core.errors import AuthenticationFailed, NotFound
from payments_core.gateway.sandbox import SandboxConnector
from payments_core.merchants import repository as merchants
from payments_core.merchants.models import Merchant
from payments_core.merchants.schemas import MerchantCreate
from payments_core.merchants.service import onboard
from payments_core.pagination import MAX_LIMIT, PageRequest
from payments_core.payment_methods import repository as payment_methods
from payments_core.payment_methods.schemas import PaymentMethodCreate
from payments_core.payment_methods.service import register
from payments_core.secret import Secret
from payments_core.webhooks import endpoints
from payments_core.webhooks.models import WebhookEndpoint
from payments_core.webhooks.schemas import ALL_EVENTS, WebhookEndpointCreate
from payments_core.webhooks.secret_box import SecretBox

DEMO_EMAIL = "demo@merchant.test"
DEMO_CARD = {"number": "4242424242424242", "expMonth": 12, "expYear": 2035, "cvc": "123"}
DEMO_ENDPOINT_DESCRIPTION = "make up: the local webhook receiver"


@dataclass(frozen=True)
class DemoSeed:
    merchant_id: str
    merchant_email: str
    api_key: str
    payment_method_id: str
    # Empty in state files written before the demo had a webhook endpoint.
    webhook_endpoint_id: str = ""
    webhook_secret: str = field(default="", repr=False)


async def seed_demo(
    database_url: str, state_file: Path, *, encryption_key: str, webhook_url: str
) -> DemoSeed:
    """The demo merchant, its card and its endpoint for every event at `webhook_url`."""
    box = SecretBox(encryption_key)
    engine = create_engine(database_url, pool_size=2)
    factory = create_session_factory(engine)
    previous = _read(state_file)
    try:
        async with transaction(factory) as session:
            merchant, api_key = await _merchant_and_key(session, previous)
            method_id = await _payment_method(session, merchant.id, previous, factory)
            endpoint_id, secret = await _webhook_endpoint(
                session, merchant.id, previous, box=box, url=webhook_url
            )
        seed = DemoSeed(str(merchant.id), merchant.email, api_key, method_id, endpoint_id, secret)
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
            pass
    # The key is gone, or the state file is (the database outlived it): keep the merchant.
    existing = await merchants.find_by_email(session, DEMO_EMAIL)
    if existing is not None:
        _, plaintext = issue_key(session, existing.id)
        return existing, plaintext
    return await onboard(session, MerchantCreate(name="Demo Merchant", email=DEMO_EMAIL))


async def _payment_method(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    previous: DemoSeed | None,
    factory: async_sessionmaker[AsyncSession],
) -> str:
    if previous is not None:
        existing = await payment_methods.get_owned(
            session, merchant_id, uuid.UUID(previous.payment_method_id)
        )
        if existing is not None and existing.is_active:
            return str(existing.id)
    request = PaymentMethodCreate.model_validate({"type": "card", "card": DEMO_CARD})
    method = await register(
        session, merchant_id, request, Gateways.sandbox_only(SandboxConnector(factory))
    )
    return str(method.id)


async def _webhook_endpoint(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    previous: DemoSeed | None,
    *,
    box: SecretBox,
    url: str,
) -> tuple[str, str]:
    """The endpoint on file while it still works as seeded; otherwise a new one.

    The seed's other endpoints (stale ones, or one whose state file was lost) are deleted rather
    than left behind: the sender would keep sending to them, signed with secrets the receiver no
    longer has or sealed under a key it no longer holds, on every event.
    """
    secret = previous.webhook_secret if previous is not None else ""
    kept = await _endpoint_on_file(session, merchant_id, previous)
    if kept is not None and not _works_as_seeded(kept, secret, box=box, url=url):
        kept = None
    page = await endpoints.list_page(session, merchant_id, PageRequest(limit=MAX_LIMIT))
    for endpoint in page.items:
        if endpoint.description == DEMO_ENDPOINT_DESCRIPTION and endpoint is not kept:
            await endpoints.delete(session, merchant_id, endpoint.id)
    if kept is not None:
        return str(kept.id), secret
    request = WebhookEndpointCreate(url=url, description=DEMO_ENDPOINT_DESCRIPTION)
    created, secret = await endpoints.create(
        session, merchant_id, request, box=box, allow_private=True
    )
    return str(created.id), secret


async def _endpoint_on_file(
    session: AsyncSession, merchant_id: uuid.UUID, previous: DemoSeed | None
) -> WebhookEndpoint | None:
    if previous is None or not previous.webhook_endpoint_id:
        return None
    try:
        return await endpoints.get(session, merchant_id, uuid.UUID(previous.webhook_endpoint_id))
    except (ValueError, NotFound):
        return None


def _works_as_seeded(endpoint: WebhookEndpoint, secret: str, *, box: SecretBox, url: str) -> bool:
    if endpoint.disabled or endpoint.url != url or endpoint.enabled_events != [ALL_EVENTS]:
        return False
    try:
        sealed = box.open(endpoint.secret_sealed, bound_to=str(endpoint.id))
    except ValueError:  # sealed under another WEBHOOK_ENCRYPTION_KEY
        return False
    return bool(secret) and sealed == Secret(secret)


def _read(state_file: Path) -> DemoSeed | None:
    try:
        state = json.loads(state_file.read_text())
        known = {item.name for item in fields(DemoSeed)}
        return DemoSeed(**{name: value for name, value in state.items() if name in known})
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def _write(state_file: Path, seed: DemoSeed) -> None:
    state_file.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(state_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(asdict(seed), handle, indent=2)
