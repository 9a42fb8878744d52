"""The contract's envelopes: success `{statusCode, data, message}` and the error object."""

from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

from payments_core.events.envelope import format_timestamp
from payments_core.pagination import Page

T = TypeVar("T")


def success(data: Any, message: str, status_code: int = 200) -> dict[str, Any]:
    return {"statusCode": status_code, "data": data, "message": message}


def page_body(page: Page[Any], items: list[Any], message: str) -> dict[str, Any]:
    return {**success(items, message), "pagination": page.pagination()}


def error_body(
    *,
    status_code: int,
    error_type: str,
    code: str,
    message: str,
    param: str | None,
    path: str,
    method: str,
    correlation_id: str,
) -> dict[str, Any]:
    error: dict[str, Any] = {"type": error_type, "code": code, "message": message}
    if param is not None:
        error["param"] = param
    return {
        "statusCode": status_code,
        "error": error,
        "message": message,
        "path": path,
        "method": method,
        "timestamp": format_timestamp(datetime.now(UTC)),
        "correlationId": correlation_id,
    }


def json_response(
    body: dict[str, Any], status_code: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status_code, headers=headers)


# --- OpenAPI models: what the documents declare; responses are built as plain dicts above. ---


class Envelope(BaseModel, Generic[T]):
    status_code: int = Field(alias="statusCode", examples=[200])
    data: T
    message: str


class Pagination(BaseModel):
    limit: int = Field(examples=[50])
    has_more: bool = Field(alias="hasMore")
    next_cursor: str | None = Field(alias="nextCursor")


class ListEnvelope(BaseModel, Generic[T]):
    status_code: int = Field(alias="statusCode", examples=[200])
    data: list[T]
    message: str
    pagination: Pagination


class ErrorObject(BaseModel):
    type: str = Field(examples=["invalid_request_error"])
    code: str = Field(examples=["parameter_invalid"])
    message: str
    param: str | None = None


class ErrorEnvelope(BaseModel):
    status_code: int = Field(alias="statusCode", examples=[400])
    error: ErrorObject
    message: str
    path: str
    method: str
    timestamp: str
    correlation_id: str = Field(alias="correlationId")


_DESCRIPTIONS = {
    400: "Invalid request (validation failed)",
    401: "Missing, unknown or revoked credentials",
    403: "Not allowed",
    404: "No such object (or it belongs to another merchant)",
    409: "Conflict: duplicate, or the idempotency key is in use",
    413: "Request body over 64 KiB",
    422: "Idempotency key reused with a different request",
    429: "Rate limit exceeded",
    500: "Internal error",
    503: "A dependency is unavailable",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` declaring each error status a route can answer."""
    always = (400, 401, 404, 413, 429, 500)
    return {
        code: {"model": ErrorEnvelope, "description": _DESCRIPTIONS[code]}
        for code in sorted({*always, *codes})
    }
