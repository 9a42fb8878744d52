"""What the API process builds once at start and every request shares."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from payments_api.signals import WorkflowSignals
from payments_core.connectors.gateways import Gateways
from payments_core.rate_limit.service import RateLimiter
from payments_core.settings import ApiSettings
from payments_core.webhooks.secret_box import SecretBox


@dataclass
class ApiState:
    settings: ApiSettings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    # The sandbox, and merchants' connectors opened on demand (cards are tokenized at each).
    gateways: Gateways
    rate_limiter: RateLimiter
    signals: WorkflowSignals
    # Seals webhook secrets at rest (WEBHOOK_ENCRYPTION_KEY); opened only by the sender.
    secret_box: SecretBox
    # Seals connector credentials at rest (CONNECTOR_ENCRYPTION_KEY, else the webhook key).
    connector_box: SecretBox
    # Readiness probe of the event bus; None when SNS publishing is switched off.
    sns_check: Callable[[], Awaitable[None]] | None = None
