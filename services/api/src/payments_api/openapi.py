"""The OpenAPI document as the API behaves: FastAPI's own 422 answer is not part of it.

FastAPI documents a `422 Validation Error` (its `HTTPValidationError` body) on every route with
parameters, but this API reports validation failures as 400 in the contract's error envelope
(errors.py). A 422 here only ever means `idempotency_key_reused`, declared by the routes that take
an Idempotency-Key. So the generated 422s go, and with them the schemas nothing else uses.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_FASTAPI_422_REF = "#/components/schemas/HTTPValidationError"


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = without_fastapi_validation_errors(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def without_fastapi_validation_errors(document: dict[str, Any]) -> dict[str, Any]:
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if _is_fastapi_422(responses.get("422")):
                del responses["422"]
    schemas = document.get("components", {}).get("schemas", {})
    for name in FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    return document


def _is_fastapi_422(response: Any) -> bool:
    if not isinstance(response, dict):
        return False
    content = response.get("content", {}).get("application/json", {})
    return bool(content.get("schema", {}).get("$ref") == _FASTAPI_422_REF)
