"""Liveness and readiness: never authenticated, never rate limited."""

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy import text
from starlette.responses import JSONResponse

from payments_api.deps import StateDep
from payments_api.responses import success

router = APIRouter(tags=["health"])

READINESS_TIMEOUT_SECONDS = 2.0


@router.get("/health", summary="Liveness")
async def health() -> dict[str, Any]:
    return success({"status": "ok", "timestamp": datetime.now(UTC).isoformat()}, "OK")


@router.get(
    "/health/ready",
    summary="Readiness: the database (and SNS when publishing) answer",
    responses={503: {"description": "a dependency does not answer"}},
)
async def ready(state: StateDep) -> JSONResponse:
    checks = {"database": await _check_database(state)}
    if state.sns_check is not None:
        checks["sns"] = await _bounded(state.sns_check())
    healthy = all(value == "ok" for value in checks.values())
    status_code = 200 if healthy else 503
    body = success(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        "ready" if healthy else "not ready",
        status_code,
    )
    return JSONResponse(body, status_code)


async def _check_database(state: StateDep) -> str:
    async def ping() -> None:
        async with state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    return await _bounded(ping())


async def _bounded(check: Any) -> str:
    try:
        await asyncio.wait_for(check, READINESS_TIMEOUT_SECONDS)
        return "ok"
    except Exception as error:  # readiness reports, it never raises
        return f"error: {type(error).__name__}"
