"""Configuration from the environment, validated once at start (CONTRACT.md §4).

Each process loads the settings class it needs with `load_settings`; a missing or malformed
variable stops the process with one line naming it, instead of failing later mid-request.
"""

import ipaddress
import sys
from typing import Annotated, Literal, Self, TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_CURRENCIES = ("NGN", "USD", "EUR", "GBP", "KES", "GHS", "ZAR")
# CONTRACT.md's defaults, also what the library's callers get when they pass no setting.
DEFAULT_PUBLIC_BASE_URL = "http://127.0.0.1:3001"
DEFAULT_AUTHENTICATION_TIMEOUT_SECONDS = 900
DEFAULT_AUTHORIZATION_TTL_SECONDS = 7 * 86_400
DEFAULT_STRIPE_API_BASE = "https://api.stripe.com"


class ServiceSettings(BaseSettings):
    """Settings every process shares: AWS and logging."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    aws_endpoint_url: str | None = None
    aws_region: str = "us-east-1"
    payment_events_topic: str = Field(default="payment-events", min_length=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"

    @field_validator("aws_endpoint_url")
    @classmethod
    def _empty_means_real_aws(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


# --- Bounds: how long a statement, a request and an Idempotency-Key claim may last. ---
# Each ends before the next one matters: a statement before its request's deadline, a request
# before anyone may take its Idempotency-Key over (idempotency/service.py), so a live request's
# claim is never taken. The claim is fenced by its token too, for what no timer sees (a paused
# process, a clock that jumped).


class DatabaseBoundsSettings(BaseSettings):
    """PostgreSQL's statement_timeout and lock_timeout on every connection of a service's engine
    (db/bounds.py). Migrations connect without them: a migration may rewrite a table."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    # 10 s: a request's or an activity's statement touches a few indexed rows (milliseconds);
    # one still running at 10 s is stuck, and the worker's database steps give up at 10 s anyway
    # (payments_worker.policies.BOOKKEEPING_TIMEOUT).
    database_statement_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    # 5 s: a row lock is normally held for milliseconds; a wait this long is reported as a lock
    # wait (LockNotAvailable: 409 on an Idempotency-Key held by another request, 503 elsewhere)
    # rather than as a slow statement. Above the statement timeout it would never fire.
    database_lock_timeout_seconds: float = Field(default=5.0, gt=0, le=600)


class RequestBoundsSettings(DatabaseBoundsSettings):
    """The API's request deadline, and the Idempotency-Key takeover window it must stay under
    (checked at start: a combination that breaks the order stops the process, naming both)."""

    # 30 s: requests take milliseconds; a few statement timeouts in a row mean it is stuck.
    # Above the statement timeout, so a stuck statement is reported as such, and rolled back
    # and released before the deadline.
    request_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # 60 s (PATTERNS.md, after Stripe): twice the deadline. The claim's age is one replica's
    # clock read by another's, and the cancelled request still rolls back after its deadline:
    # the other half of the window is their margin.
    idempotency_takeover_seconds: float = Field(default=60.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _each_bound_below_the_next(self) -> Self:
        _require_below(
            ("DATABASE_STATEMENT_TIMEOUT_SECONDS", self.database_statement_timeout_seconds),
            ("REQUEST_TIMEOUT_SECONDS", self.request_timeout_seconds),
        )
        _require_below(
            ("REQUEST_TIMEOUT_SECONDS", self.request_timeout_seconds),
            ("IDEMPOTENCY_TAKEOVER_SECONDS", self.idempotency_takeover_seconds),
        )
        return self


def _require_below(lower: tuple[str, float], upper: tuple[str, float]) -> None:
    (lower_name, lower_value), (upper_name, upper_value) = lower, upper
    if lower_value >= upper_value:
        raise ValueError(
            f"{upper_name} ({upper_value:g}) must be greater than {lower_name} ({lower_value:g})"
        )


class CoreSettings(DatabaseBoundsSettings, ServiceSettings):
    """Processes that own data: the database, and the outbox relay's switch."""

    database_url: str = Field(description="postgresql://user:pass@host:port/db")
    database_pool_size: int = Field(default=10, ge=1, le=200)
    enable_sns_publishing: bool = True

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
            raise ValueError("must be a postgresql:// URL")
        return value


class TemporalSettings(ServiceSettings):
    """Processes that talk to Temporal: the worker and the payment processor."""

    temporal_address: str = Field(min_length=3, description="host:port of the Temporal frontend")
    temporal_namespace: str = Field(default="default", min_length=1)
    temporal_task_queue: str = Field(default="payment-processing", min_length=1)
    enable_temporal_workflows: bool = True


class WebhookUrlSettings(BaseSettings):
    """Who may register and receive webhooks: the API and the sender share these."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    # Encrypts endpoint secrets at rest (AES-256-GCM): base64 of 32 random bytes.
    webhook_encryption_key: str = Field(
        min_length=1, description="base64 of 32 random bytes; encrypts webhook secrets at rest"
    )
    # Local development only: lets webhook URLs be plain http and resolve to private addresses.
    webhook_allow_private_urls: bool = False

    @field_validator("webhook_encryption_key")
    @classmethod
    def _thirty_two_bytes(cls, value: str) -> str:
        return _encryption_key(value)


class PublicUrlSettings(BaseSettings):
    """Where customers' browsers reach the API (the challenge pages' links)."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    public_base_url: str = Field(
        default=DEFAULT_PUBLIC_BASE_URL, description="the API as browsers reach it"
    )

    @field_validator("public_base_url")
    @classmethod
    def _absolute_http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or "?" in value or "#" in value:
            raise ValueError("must be an http:// or https:// URL without query or fragment")
        return value.rstrip("/")


class ConnectorSettings(BaseSettings):
    """Processes that open merchants' connectors: the API (tokenizing cards, verifying notices)
    and the worker (moving money)."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    # Seals merchants' connector credentials at rest (AES-256-GCM); empty: the webhook key.
    connector_encryption_key: str | None = None
    webhook_encryption_key: str | None = None
    # Where Stripe connectors send their requests: Stripe's own API; tests point it at a fake.
    stripe_api_base: str = Field(default=DEFAULT_STRIPE_API_BASE, min_length=8)
    stripe_timeout_seconds: float = Field(default=10.0, gt=0, le=80)
    # Confirm PaymentIntents with a return_url, so Stripe asks for 3-D Secure as a page to send
    # the customer to (redirect_to_url). Off only for fakes that refuse return_url (localstripe).
    stripe_redirect_authentication: bool = True

    @field_validator("connector_encryption_key", "webhook_encryption_key")
    @classmethod
    def _connector_key_is_thirty_two_bytes(cls, value: str | None) -> str | None:
        return _encryption_key(value) if value else None

    @field_validator("stripe_api_base")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _some_connector_key(self) -> Self:
        if not self.connector_key:
            raise ValueError(
                "CONNECTOR_ENCRYPTION_KEY (or WEBHOOK_ENCRYPTION_KEY, used when it is unset) "
                "is required"
            )
        return self

    @property
    def connector_key(self) -> str:
        return self.connector_encryption_key or self.webhook_encryption_key or ""


class WorkerSettings(ConnectorSettings, PublicUrlSettings, TemporalSettings, CoreSettings):
    sandbox_latency_ms: int = Field(default=0, ge=0, le=60_000)
    # How long a customer has to answer a 3-D Secure challenge before the payment fails with
    # authentication_timeout (CONTRACT.md: 900 s).
    authentication_timeout_seconds: int = Field(
        default=DEFAULT_AUTHENTICATION_TIMEOUT_SECONDS, ge=1, le=86_400
    )
    # The sandbox's simulated "never answers" card waits this long; the connector gives up first.
    gateway_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    # A payment still pending this long after creation is driven again by the sweeper.
    sweeper_pending_after_seconds: int = Field(default=120, ge=5)
    sweeper_interval_seconds: float = Field(default=30.0, gt=0)
    # Payments and refunds not final and unchanged this long, whose workflow is not running, are
    # settled against the gateway by the reconciler (PaymentsStuck fires on older ones). Longer
    # than any workflow takes on its own: a refund's retries run out within about 2 minutes.
    reconcile_after_seconds: int = Field(default=900, ge=10)
    reconcile_interval_seconds: float = Field(default=60.0, gt=0)
    # GET /health (probes) and GET /metrics (Prometheus) on one port; 0 turns both off.
    health_port: int = Field(default=9101, ge=0, le=65535)


class ProcessorSettings(TemporalSettings):
    """The processor only starts workflows: it needs no database."""

    payment_processing_queue: str = Field(
        default="payment-processing-queue", description="queue name or URL"
    )
    processor_concurrency: int = Field(default=10, ge=1, le=100)
    # GET /health (probes) and GET /metrics (Prometheus) on one port; 0 turns both off.
    health_port: int = Field(default=9102, ge=0, le=65535)


class ApiSettings(
    PublicUrlSettings, RequestBoundsSettings, WebhookUrlSettings, CoreSettings, ConnectorSettings
):
    """The API process: operator auth, rate limits, CORS, currencies."""

    # A manual payment's hold is released this long after creation (CONTRACT.md: 7 days; 31 at
    # most, about the longest a card network lets an authorization stand).
    authorization_ttl_seconds: int = Field(
        default=DEFAULT_AUTHORIZATION_TTL_SECONDS, ge=1, le=31 * 86_400
    )
    admin_api_token: str = Field(min_length=16)
    api_host: str = "0.0.0.0"  # noqa: S104 - containers listen on all interfaces
    api_port: int = Field(default=3001, ge=1, le=65535)
    # Rate limiting (README "Rate limits"): per API key in PostgreSQL, shared by the replicas;
    # requests without a valid credential per client address, in each replica's memory.
    rate_limit_per_minute: int = Field(default=100, ge=1)
    # Whose X-Forwarded-For names the client: the proxies in front of the API (addresses or
    # networks, comma-separated). Empty, the default, trusts nobody: the client is the TCP peer,
    # and a header anyone can write never picks a rate-limit bucket. Not 127.0.0.1 (uvicorn's
    # default): in a pod, a port-forward or a sidecar connects from there, and on a host running
    # `make up` every local process does; none of them is a proxy we placed.
    forwarded_allow_ips: Annotated[tuple[str, ...], NoDecode] = ()
    # When PostgreSQL cannot count a keyed request: serve it, held only to its address's count in
    # memory (true), or answer 503 (false). See README "Rate limits" for why open is the default.
    rate_limit_fail_open: bool = True
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    supported_currencies: Annotated[tuple[str, ...], NoDecode] = DEFAULT_CURRENCIES
    max_body_bytes: int = 64 * 1024
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    # Optional here: the API signals a payment's workflow on cancel when it can reach Temporal;
    # the cancel itself is decided in PostgreSQL either way.
    temporal_address: str | None = None
    temporal_namespace: str = "default"

    @field_validator("cors_origins", "supported_currencies", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("supported_currencies")
    @classmethod
    def _iso_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        codes = tuple(code.upper() for code in value)
        if not codes or any(len(code) != 3 or not code.isalpha() for code in codes):
            raise ValueError("must be comma-separated three-letter ISO 4217 codes")
        return codes

    @field_validator("forwarded_allow_ips", mode="before")
    @classmethod
    def _proxy_addresses(cls, value: object) -> object:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            return items  # pydantic names the wrong type
        items = [str(item).strip() for item in items if str(item).strip()]
        if "*" in items:
            # Every peer trusted: any client could write X-Forwarded-For and choose its bucket.
            raise ValueError("list the proxies' addresses or networks, e.g. 10.0.0.0/8; not *")
        try:
            # Networks normalized (10.1.2.3/8 is 10.0.0.0/8): uvicorn would quietly never match
            # one with host bits set, trusting nobody where the operator meant a network.
            return tuple(str(ipaddress.ip_network(item, strict=False)) for item in items)
        except ValueError:
            raise ValueError("must be comma-separated IP addresses or networks") from None


DEFAULT_WEBHOOK_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)


class WebhookSenderSettings(WebhookUrlSettings, CoreSettings):
    payment_webhook_queue: str = Field(
        default="payment-webhook-queue", description="queue name or URL"
    )
    # Seconds to wait before each retry; after the last one the delivery is failed.
    webhook_retry_schedule: Annotated[tuple[int, ...], NoDecode] = DEFAULT_WEBHOOK_RETRY_SCHEDULE
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Deliveries in flight at once in one process, and at most this many to one endpoint, so a
    # slow merchant can hold only a few of the slots.
    webhook_concurrency: int = Field(default=64, ge=1, le=1000)
    webhook_endpoint_concurrency: int = Field(default=4, ge=1, le=100)
    # How often the due-time table is polled for retries (new events wake it at once).
    webhook_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # SQS records handled at once: each one only writes delivery rows.
    webhook_queue_concurrency: int = Field(default=20, ge=1, le=100)
    # GET /health (probes) and GET /metrics (Prometheus) on one port; 0 turns both off.
    health_port: int = Field(default=9103, ge=0, le=65535)

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _seconds_list(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            if not parts:
                # Set but empty counts as unset, as for every other variable.
                return DEFAULT_WEBHOOK_RETRY_SCHEDULE
            if not all(part.isdigit() for part in parts):
                raise ValueError("must be comma-separated whole seconds, e.g. 5,300,1800")
            return tuple(int(part) for part in parts)
        return value

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _bounded(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if len(value) > 50 or any(seconds > 7 * 86_400 for seconds in value):
            raise ValueError("at most 50 retries, each at most 7 days")
        return value


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def _encryption_key(value: str) -> str:
    """base64 of 32 bytes; a ValueError whose message never quotes the key otherwise."""
    from payments_core.webhooks.secret_box import decode_key

    decode_key(value)
    return value


def describe_settings_error(error: ValidationError) -> str:
    """One line naming every variable that is missing or malformed."""
    problems = []
    for item in error.errors():
        variable = "_".join(str(part) for part in item["loc"]).upper()
        if not item["loc"]:  # a check across variables: its message names them
            problems.append(item["msg"].removeprefix("Value error, "))
        elif item["type"] == "missing":
            problems.append(f"{variable} is required but not set")
        else:
            problems.append(f"{variable} is invalid: {item['msg']}")
    return "configuration error: " + "; ".join(problems)


def load_settings(settings_class: type[SettingsT]) -> SettingsT:
    """Build settings from the environment or exit(2) with one clear line on stderr."""
    try:
        return settings_class()
    except ValidationError as error:
        print(describe_settings_error(error), file=sys.stderr)  # noqa: T201
        raise SystemExit(2) from None
