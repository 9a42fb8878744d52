"""What crosses into workflow histories: the activities' inputs and results, and error types.

Plain dataclasses, one input per activity, so a field can be added (with a default) without
breaking the histories of running workflows. Nothing here imports the database or the gateway:
the workflow sandbox passes this module through cheaply.
"""

from dataclasses import dataclass

# ApplicationError types the activities raise and the workflows map to a failureReason.
# A decline's type is the decline code itself (card_declined, insufficient_funds, …).
CAPTURE_FAILED = "capture_failed"
REFUND_FAILED = "refund_failed"
GATEWAY_TIMEOUT = "gateway_timeout"
GATEWAY_UNAVAILABLE = "gateway_unavailable"
GATEWAY_UNREACHABLE = "gateway_unreachable"
# A void refused because the authorization was captured: the money moved after all.
AUTHORIZATION_CAPTURED = "authorization_captured"
# Whatever else went wrong for good (a bug, a payment that vanished): the payment fails with it.
PROCESSING_ERROR = "processing_error"
# The gateway asks the customer to authenticate first (gateway.errors.AuthenticationRequired).
AUTHENTICATION_REQUIRED = "authentication_required"


@dataclass(frozen=True)
class StartProcessingInput:
    payment_id: str
    # Also begin the authorization step in the same transaction (local-bookkeeping on); False
    # is what histories recorded before it meant.
    begin_authorization: bool = False


@dataclass(frozen=True)
class ProcessingStarted:
    """The payment as the workflow needs it, read in the transaction that started processing."""

    status: str
    amount: int
    currency: str
    # The vault token of the payment method; None for instruments without one.
    token: str | None
    # How long one gateway call may take on this worker (latency + the connector's own timeout
    # + a margin): the workflow's start_to_close for gateway activities, recorded in history.
    gateway_call_timeout_ms: int
    # Added with capture later; the defaults are what histories recorded before it meant.
    capture_method: str = "automatic"
    # A manual payment's hold lapses at this moment (ISO 8601, UTC); None for automatic ones.
    authorization_expires_at: str | None = None
    # The merchant's connector it was routed to; None: the sandbox, which never falls back
    # (and what histories recorded before connectors meant).
    connector_id: str | None = None


@dataclass(frozen=True)
class CancelInput:
    payment_id: str


@dataclass(frozen=True)
class BeginAuthorizationInput:
    payment_id: str


@dataclass(frozen=True)
class AuthorizeInput:
    payment_id: str
    amount: int
    currency: str
    token: str | None
    # The customer passed the challenge the gateway asked for: ask the gateway again.
    authenticated: bool = False
    # The merchant's connector the payment is routed to now; None: the sandbox (and histories
    # recorded before connectors), whose authorization needs nothing more from the database.
    connector_id: str | None = None


@dataclass(frozen=True)
class FallBackInput:
    payment_id: str
    # The connector that failed before holding any money, and how (the workflow's history and
    # the log line say both).
    from_connector_id: str
    reason: str


@dataclass(frozen=True)
class Authorization:
    reference: str


@dataclass(frozen=True)
class CaptureInput:
    payment_id: str
    authorization_reference: str
    amount: int
    currency: str
    # Also complete the payment in the transaction that records the capture (local-bookkeeping
    # on); False is what histories recorded before it meant: `complete` followed.
    complete: bool = False


@dataclass(frozen=True)
class Capture:
    reference: str


@dataclass(frozen=True)
class VoidInput:
    payment_id: str


@dataclass(frozen=True)
class RequireAuthenticationInput:
    payment_id: str
    # A processor hosting its own challenge (Stripe's 3-D Secure page): its operation and the
    # page the customer goes to. None for the sandbox (and in histories recorded before).
    processor_reference: str | None = None
    processor_url: str | None = None


@dataclass(frozen=True)
class AuthenticationChallenge:
    # How long the customer has left to answer, from when the activity answered.
    remaining_ms: int


@dataclass(frozen=True)
class SettleAuthenticationInput:
    payment_id: str
    # The workflow's wait ran out: an unanswered challenge is closed as timed out.
    timed_out: bool


@dataclass(frozen=True)
class SettleHoldInput:
    payment_id: str
    # The hold's expiry timer fired: with no decision yet, the platform decides to release it.
    expired: bool


@dataclass(frozen=True)
class HoldSettlement:
    """What becomes of the hold (capture, cancel, expire), None while nobody has decided."""

    decision: str | None
    amount_to_capture: int | None = None


@dataclass(frozen=True)
class ReleaseInput:
    payment_id: str


@dataclass(frozen=True)
class CompleteInput:
    payment_id: str


@dataclass(frozen=True)
class FailInput:
    payment_id: str
    failure_reason: str


@dataclass(frozen=True)
class RefundAtGatewayInput:
    refund_id: str


@dataclass(frozen=True)
class GatewayRefund:
    reference: str


@dataclass(frozen=True)
class SucceedRefundInput:
    refund_id: str
    gateway_reference: str


@dataclass(frozen=True)
class FailRefundInput:
    refund_id: str
    failure_reason: str


@dataclass(frozen=True)
class PaymentOutcome:
    """What PaymentProcessingWorkflow returns: the payment's status when the workflow ended."""

    status: str
    failure_reason: str | None = None


@dataclass(frozen=True)
class RefundOutcome:
    status: str
    failure_reason: str | None = None
