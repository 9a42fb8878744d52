"""Import every table model so SQLModel.metadata is complete (for Alembic and tests)."""

from sqlmodel import SQLModel

from payments_core.api_keys.models import ApiKey
from payments_core.connectors.models import Connector, ConnectorNotice, ConnectorToken
from payments_core.gateway.models import SandboxAttempt, SandboxCard, SandboxLedgerEntry
from payments_core.idempotency.models import IdempotencyRecord
from payments_core.merchants.models import Merchant
from payments_core.outbox.models import OutboxMessage
from payments_core.payment_methods.models import PaymentMethod
from payments_core.payments.models import Payment
from payments_core.rate_limit.models import RateLimitCounter
from payments_core.refunds.models import Refund
from payments_core.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

metadata = SQLModel.metadata

__all__ = [
    "ApiKey",
    "Connector",
    "ConnectorNotice",
    "ConnectorToken",
    "IdempotencyRecord",
    "Merchant",
    "OutboxMessage",
    "Payment",
    "PaymentMethod",
    "RateLimitCounter",
    "Refund",
    "SandboxAttempt",
    "SandboxCard",
    "SandboxLedgerEntry",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "metadata",
]
