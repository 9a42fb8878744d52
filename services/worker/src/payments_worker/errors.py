"""The activities' error boundary (STYLE.md rule 3): our error tree in, Temporal failures out.

Final outcomes (a decline, a failed capture, a payment in the wrong state) become non-retryable
`ApplicationError`s whose `type` is the error's code, which the workflow maps to failureReason.
Transient gateway errors stay retryable, but also carry their code, so the workflow can name
the reason once the retries run out. Anything else propagates untouched and is retried.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio.exceptions import ApplicationError

from payments_core.errors import PaymentsError
from payments_core.gateway.errors import GatewayError


@contextmanager
def activity_errors() -> Iterator[None]:
    try:
        yield
    except GatewayError as error:
        raise ApplicationError(
            error.message, type=error.code, non_retryable=not error.retryable
        ) from error
    except PaymentsError as error:
        raise ApplicationError(error.message, type=error.code, non_retryable=True) from error
