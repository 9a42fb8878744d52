"""Every error leaves in the contract's shape; FastAPI's 422 validation errors become 400."""

import re
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.routing import compile_path

from payments_api.responses import error_body
from payments_core.errors import PaymentsError

log = structlog.get_logger()

_HTTP_ERRORS = {
    404: ("invalid_request_error", "resource_missing"),
    405: ("invalid_request_error", "method_not_allowed"),
    413: ("invalid_request_error", "payload_too_large"),
    415: ("invalid_request_error", "unsupported_media_type"),
}


def correlation_id(request: Request) -> str:
    return str(getattr(request.state, "correlation_id", ""))


def request_error_body(
    request: Request, status_code: int, error_type: str, code: str, message: str, param: str | None
) -> dict[str, Any]:
    return error_body(
        status_code=status_code,
        error_type=error_type,
        code=code,
        message=message,
        param=param,
        path=request.url.path,
        method=request.method,
        correlation_id=correlation_id(request),
    )


def payments_error_body(request: Request, error: PaymentsError) -> dict[str, Any]:
    return request_error_body(
        request, error.status_code, error.error_type, error.code, error.message, error.param
    )


async def _on_payments_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, PaymentsError)
    headers = getattr(error, "headers", None)
    return JSONResponse(payments_error_body(request, error), error.status_code, headers=headers)


async def _on_validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    code, message, param = describe_validation_error(error.errors())
    body = request_error_body(request, 400, "invalid_request_error", code, message, param)
    return JSONResponse(body, 400)


async def _on_http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    error_type, code = _HTTP_ERRORS.get(error.status_code, ("invalid_request_error", "invalid"))
    if error.status_code == 404:
        message = f"no route for {request.method} {request.url.path}"
    elif error.status_code == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    else:
        message = str(error.detail)
    body = request_error_body(request, error.status_code, error_type, code, message, None)
    headers = dict(error.headers or {})
    if error.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return JSONResponse(body, error.status_code, headers=headers or None)


def _allowed_methods(request: Request) -> list[str]:
    """Every method any route serves on this path (Starlette names only the first route's)."""
    path_methods: list[tuple[re.Pattern[str], set[str]]] = request.app.state.path_methods
    methods = set()
    for pattern, route_methods in path_methods:
        if pattern.match(request.url.path):
            methods |= route_methods
    return sorted(methods)


def index_path_methods(
    prefix: str, routers: list[APIRouter]
) -> list[tuple[re.Pattern[str], set[str]]]:
    """(path pattern, methods) of every route, for the Allow header of 405 answers."""
    index = []
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.methods:
                pattern, _, _ = compile_path(prefix + route.path)
                index.append((pattern, set(route.methods)))
    return index


def describe_validation_error(errors: Any) -> tuple[str, str, str | None]:
    """(code, message, param) for the first problem, phrased for a merchant; never echoes input."""
    first: dict[str, Any] = dict(next(iter(errors), {"type": "value_error", "msg": "invalid"}))
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    # Union members and model names add noise to a location; keep the field path only.
    location = [part for part in location if not part[:1].isupper() and "[" not in part]
    param = ".".join(location) or None
    name = param or "request body"
    kind = str(first.get("type", ""))
    context: dict[str, Any] = dict(first.get("ctx") or {})
    if kind == "missing":
        return "parameter_missing", f"{name} is required", param
    if kind == "extra_forbidden":
        return "parameter_unknown", f"{name} is not a recognized parameter", param
    if kind in ("json_invalid", "json_type"):
        return "invalid_json", "request body must be valid JSON", None
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "parameter_invalid", f"{name} must be an integer", param
    if kind == "greater_than" and context.get("gt") == 0:
        return "parameter_invalid", f"{name} must be a positive integer", param
    if kind == "model_attributes_type" or kind == "dict_type":
        return "parameter_invalid", f"{name} must be a JSON object", param
    detail = str(first.get("msg", "is invalid")).removeprefix("Value error, ")
    return "parameter_invalid", f"{name}: {detail[:1].lower()}{detail[1:]}", param


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PaymentsError, _on_payments_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
