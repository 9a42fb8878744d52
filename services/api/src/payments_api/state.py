"""What the API process builds once at start and every request shares."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from payments_api.signals import WorkflowSignals
from payments_core.gateway.connector import GatewayConnector
from payments_core.rate_limit.service import RateLimiter
from payments_core.settings import ApiSettings


@dataclass
class ApiState:
    settings: ApiSettings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    connector: GatewayConnector
    rate_limiter: RateLimiter
    signals: WorkflowSignals
    # Readiness probe of the event bus; None when SNS publishing is switched off.
    sns_check: Callable[[], Awaitable[None]] | None = None
