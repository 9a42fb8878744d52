"""Connector wire models: credentials go in, never out (only their last four characters)."""

import uuid
from typing import Literal

from pydantic import Field, StrictBool, StrictInt

from payments_core.schemas import RequestModel, ResponseModel, Timestamp

MAX_PRIORITY = 1000
# Stripe's secret and restricted keys; the middle part is the mode.
STRIPE_KEY_PATTERN = r"^(sk|rk)_(test|live)_[A-Za-z0-9]{8,200}$"


class StripeCredentials(RequestModel):
    secret_key: str = Field(pattern=STRIPE_KEY_PATTERN, description="sk_test_… or sk_live_…")
    webhook_secret: str | None = Field(
        default=None, pattern=r"^whsec_[A-Za-z0-9+/=_-]{8,200}$", description="whsec_…"
    )

    @property
    def mode(self) -> str:
        return "live" if "_live_" in self.secret_key else "test"


class ConnectorCreate(RequestModel):
    type: Literal["stripe"]
    credentials: StripeCredentials
    priority: StrictInt = Field(
        default=0, ge=0, le=MAX_PRIORITY, description="lower is tried first"
    )
    enabled: StrictBool = True


class ConnectorUpdate(RequestModel):
    credentials: StripeCredentials | None = None
    priority: StrictInt | None = Field(default=None, ge=0, le=MAX_PRIORITY)
    enabled: StrictBool | None = None


class ConnectorOut(ResponseModel):
    id: uuid.UUID
    type: str
    priority: int
    enabled: bool
    mode: Literal["test", "live"]
    credentials_last4: str
    created_at: Timestamp
    updated_at: Timestamp
