"""Gateway outcomes as errors: final ones end the payment, transient ones are retried."""

from payments_core.errors import PaymentsError


class GatewayError(PaymentsError):
    status_code = 502
    error_type = "api_error"
    code = "gateway_error"
    # Whether a retry of the same call (same idempotency key) may succeed.
    retryable = False


class GatewayDeclined(GatewayError):
    """The issuer said no: `code` is the contract's failureReason (card_declined, …)."""

    code = "card_declined"


class AuthenticationRequired(GatewayError):
    """The issuer authorizes only after the customer authenticates: nothing is held. Ask again
    with `authenticated=True` once the customer passed the challenge.

    A processor that hosts the challenge itself (Stripe) names its operation (`reference`) and
    the page it sends the customer to (`redirect_url`); the sandbox's challenge is the
    platform's own page, so it names neither."""

    code = "authentication_required"

    def __init__(
        self, message: str, *, reference: str | None = None, redirect_url: str | None = None
    ) -> None:
        super().__init__(message)
        self.reference = reference
        self.redirect_url = redirect_url


class GatewayRefused(GatewayError):
    """The processor refused the request itself (not the issuer: a parameter, the account's
    settings). Final, like a decline; the payment fails with processing_error."""

    code = "processing_error"


class CaptureFailed(GatewayError):
    code = "capture_failed"


class VoidRefused(GatewayError):
    """The authorization was captured: the money moved, so only a refund can return it. Final;
    the pipeline never voids after a capture (its compensation for a capture is a refund)."""

    code = "authorization_captured"


class RefundFailed(GatewayError):
    code = "refund_failed"


class GatewayUnavailable(GatewayError):
    """A transient failure or no answer in time; retry with the same idempotency key."""

    code = "gateway_unavailable"
    retryable = True


class GatewayTimeout(GatewayUnavailable):
    code = "gateway_timeout"


class GatewayUnreachable(GatewayUnavailable):
    """No connection could be made (refused, no route, DNS): the request never left, so the
    gateway did nothing under its key. Routing may fall back to the next connector at once."""

    code = "gateway_unreachable"
