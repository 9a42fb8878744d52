"""AWS failures translated into our error tree at the boundary (like httpx's map_exceptions).

Callers decide on two questions only: is AWS unreachable or throttling us (retry later, report
not ready), or did it refuse the request (a bug or a misconfiguration to surface)?
"""

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from payments_core.errors import PaymentsError, ServiceUnavailable

TRANSIENT_ERROR_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "KMSThrottling",
    }
)


class AwsUnavailable(ServiceUnavailable):
    """AWS (or the emulator) did not answer, or asked us to slow down: retry later."""

    code = "aws_unavailable"


class AwsRequestError(PaymentsError):
    """AWS answered and refused the request; `aws_code` is its error code."""

    code = "aws_request_failed"

    def __init__(self, message: str, *, aws_code: str) -> None:
        super().__init__(message)
        self.aws_code = aws_code


def aws_error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def is_transient(error: BaseException) -> bool:
    if isinstance(error, ClientError):
        return aws_error_code(error) in TRANSIENT_ERROR_CODES
    # Credentials missing is configuration, not an outage: retrying will not fix it.
    return isinstance(error, BotoCoreError) and not isinstance(error, NoCredentialsError)


def translate_aws_error(error: BotoCoreError | ClientError, action: str) -> PaymentsError:
    if is_transient(error):
        return AwsUnavailable(f"{action}: AWS unavailable ({type(error).__name__}: {error})")
    if isinstance(error, ClientError):
        code = aws_error_code(error)
        return AwsRequestError(f"{action}: AWS refused the request ({code})", aws_code=code)
    return AwsRequestError(f"{action}: {error}", aws_code=type(error).__name__)


@contextmanager
def aws_errors(action: str) -> Iterator[None]:
    """Re-raise botocore errors as AwsUnavailable / AwsRequestError, naming the action."""
    try:
        yield
    except (BotoCoreError, ClientError) as error:
        raise translate_aws_error(error, action) from error
