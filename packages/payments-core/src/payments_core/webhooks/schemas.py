"""Webhook endpoint, event and delivery wire models."""

import uuid
from typing import Any

from pydantic import Field, field_validator

from payments_core.events.envelope import EventType
from payments_core.schemas import RequestModel, ResponseModel, Timestamp
from payments_core.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

ALL_EVENTS = "*"
_EVENT_NAMES = frozenset(member.value for member in EventType) | {ALL_EVENTS}
MAX_ENABLED_EVENTS = len(_EVENT_NAMES)


def _event_names(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    unknown = [name for name in value if name not in _EVENT_NAMES]
    if unknown:
        allowed = ", ".join(sorted(_EVENT_NAMES))
        raise ValueError(f"unknown event type {unknown[0][:60]!r}; use one of {allowed}")
    # "*" covers everything; otherwise keep the given order without repeats.
    return [ALL_EVENTS] if ALL_EVENTS in value else list(dict.fromkeys(value))


Url = Field(min_length=1, max_length=2048, examples=["https://acme.test/webhooks"])


class WebhookEndpointCreate(RequestModel):
    url: str = Url
    enabled_events: list[str] = Field(
        default_factory=lambda: [ALL_EVENTS],
        min_length=1,
        max_length=4 * MAX_ENABLED_EVENTS,
        examples=[["*"]],
    )
    description: str | None = Field(default=None, max_length=500)

    _known_events = field_validator("enabled_events")(_event_names)


class WebhookEndpointUpdate(RequestModel):
    url: str | None = Field(default=None, min_length=1, max_length=2048)
    enabled_events: list[str] | None = Field(
        default=None, min_length=1, max_length=4 * MAX_ENABLED_EVENTS
    )
    disabled: bool | None = None
    description: str | None = Field(default=None, max_length=500)

    _known_events = field_validator("enabled_events")(_event_names)


class WebhookEndpointOut(ResponseModel):
    id: uuid.UUID
    url: str
    description: str | None
    enabled_events: list[str]
    disabled: bool
    # "merchant" (PATCH) or "gone" (the endpoint answered 410).
    disabled_reason: str | None
    # While a rotated-out secret still signs beside the new one.
    previous_secret_expires_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> "WebhookEndpointOut":
        return cls.model_validate(endpoint, from_attributes=True)


class WebhookEndpointWithSecretOut(WebhookEndpointOut):
    secret: str = Field(description="whsec_…, shown once; store it now")


class WebhookAttemptOut(ResponseModel):
    attempt_number: int
    status_code: int | None
    duration_ms: int
    error: str | None
    created_at: Timestamp

    @classmethod
    def of(cls, attempt: WebhookAttempt) -> "WebhookAttemptOut":
        return cls.model_validate(attempt, from_attributes=True)


class WebhookDeliveryOut(ResponseModel):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    url: str
    status: str
    attempt_count: int
    next_attempt_at: Timestamp | None
    last_status_code: int | None
    last_error: str | None
    created_at: Timestamp
    completed_at: Timestamp | None
    attempts: list[WebhookAttemptOut]

    @classmethod
    def of(
        cls, delivery: WebhookDelivery, url: str, attempts: list[WebhookAttempt]
    ) -> "WebhookDeliveryOut":
        fields = delivery.model_dump()
        # A pending delivery's next_attempt_at may be a sender's lease; it is still "when next".
        return cls(
            **fields, url=url, attempts=[WebhookAttemptOut.of(attempt) for attempt in attempts]
        )


class RedeliverRequest(RequestModel):
    endpoint_id: uuid.UUID | None = None


class RedeliveryOut(ResponseModel):
    """What a redelivery queued: one pending delivery, due now, per endpoint."""

    event_id: str
    deliveries: list[WebhookDeliveryOut]


class EventOut(ResponseModel):
    """An event exactly as webhooks and the bus carry it (CONTRACT §2)."""

    id: str
    type: str
    timestamp: str
    merchant_id: str
    data: dict[str, Any]

    @classmethod
    def of(cls, envelope: dict[str, Any]) -> "EventOut":
        return cls.model_validate(envelope)


class EventWithDeliveriesOut(EventOut):
    deliveries: list[WebhookDeliveryOut]
