"""One error tree for the whole platform.

Domain code raises these; the API maps them to the contract's error object in one handler,
consumers map them to retry or dead-letter, activities to non-retryable errors.
"""

from typing import ClassVar


class PaymentsError(Exception):
    """Base of every error the platform raises on purpose."""

    status_code: ClassVar[int] = 500
    error_type: ClassVar[str] = "api_error"
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code  # type: ignore[misc]


class InvalidRequest(PaymentsError):
    status_code = 400
    error_type = "invalid_request_error"
    code = "parameter_invalid"


class NotFound(PaymentsError):
    status_code = 404
    error_type = "invalid_request_error"
    code = "resource_missing"


class AlreadyExists(PaymentsError):
    status_code = 409
    error_type = "invalid_request_error"
    code = "resource_already_exists"


class AuthenticationFailed(PaymentsError):
    status_code = 401
    error_type = "authentication_error"
    code = "unauthorized"


class InvalidState(PaymentsError):
    status_code = 409
    error_type = "invalid_state_error"
    code = "invalid_state"


class IdempotencyKeyInUse(PaymentsError):
    status_code = 409
    error_type = "idempotency_error"
    code = "idempotency_key_in_use"


class IdempotencyClaimLost(IdempotencyKeyInUse):
    """The request's claim on its key was taken over (it ran past the takeover window): it has
    committed nothing, and must neither store nor release anything on the key."""


class IdempotencyKeyReused(PaymentsError):
    status_code = 422
    error_type = "idempotency_error"
    code = "idempotency_key_reused"


class RateLimited(PaymentsError):
    status_code = 429
    error_type = "rate_limit_error"
    code = "rate_limit_exceeded"


class PayloadTooLarge(PaymentsError):
    status_code = 413
    error_type = "invalid_request_error"
    code = "payload_too_large"


class ServiceUnavailable(PaymentsError):
    status_code = 503
    error_type = "api_error"
    code = "service_unavailable"


class RequestTimedOut(ServiceUnavailable):
    """The request ran past its deadline or a database bound (statement or lock timeout) and
    was rolled back."""

    code = "request_timeout"
