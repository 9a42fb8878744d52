"""The API baseline: a minimal FastAPI + asyncpg endpoint that inserts one row and answers 201.

    python -m scripts.bench.baseline_app --database-url postgresql://… --port 3099

Served the way `python -m payments_api` serves the API (uvicorn, one process, no access log,
the same uvicorn options), against the same database, with a pool as large as the API's (pool
size plus overflow). What it lacks is what the figure prices: authentication, rate limiting,
idempotency, validation against the merchant's data, the outbox row and its relay, logging.
"""

import argparse
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, Field

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS bench_baseline_payments (
    id uuid PRIMARY KEY,
    amount bigint NOT NULL,
    currency text NOT NULL,
    payment_method_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""
_INSERT = (
    "INSERT INTO bench_baseline_payments (id, amount, currency, payment_method_id)"
    " VALUES ($1, $2, $3, $4) RETURNING created_at"
)


class PaymentIn(BaseModel):
    amount: int = Field(gt=0)
    currency: str = Field(min_length=3, max_length=3)
    payment_method_id: str = Field(alias="paymentMethodId")


def create_app(database_url: str, pool_size: int) -> FastAPI:
    pools: list[asyncpg.Pool] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(database_url, min_size=pool_size, max_size=2 * pool_size)
        await pool.execute(_CREATE_TABLE)
        pools.append(pool)
        yield
        await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/payments", status_code=201)
    async def create_payment(body: PaymentIn) -> dict[str, object]:
        payment_id = uuid.uuid4()
        created_at = await pools[0].fetchval(
            _INSERT, payment_id, body.amount, body.currency, body.payment_method_id
        )
        return {"data": {"id": str(payment_id), "status": "pending", "createdAt": str(created_at)}}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pool-size", type=int, default=10)
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.database_url, args.pool_size),
        host="127.0.0.1",
        port=args.port,
        log_level="info",
        log_config=None,
        access_log=False,
        proxy_headers=False,  # as the API runs (payments_api.__main__)
        server_header=False,
    )


if __name__ == "__main__":
    main()
