"""One embedded stack per module, with one completed payment, for tests that only look."""

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.stack.support import DevStack, running_devstack


@dataclass(frozen=True)
class PaidStack:
    stack: DevStack
    payment_id: str


def pay(stack: DevStack, card_method_id: str | None = None, amount: int = 125_000) -> str:
    """Create a payment with the demo merchant and wait until it completes; its id."""
    demo = stack.demo
    headers = {"X-API-Key": demo["api_key"], "Idempotency-Key": str(uuid.uuid4())}
    body = {
        "amount": amount,
        "currency": "NGN",
        "paymentMethodId": card_method_id or demo["payment_method_id"],
        "reference": f"stack-{uuid.uuid4()}",
    }
    with httpx.Client(base_url=stack.api_url, timeout=10) as api:
        created = api.post("/payments", json=body, headers=headers)
        assert created.status_code == 201, created.text
        payment_id: str = created.json()["data"]["id"]
        deadline = time.monotonic() + 60
        while (
            api.get(f"/payments/{payment_id}", headers=headers).json()["data"]["status"]
            != "completed"
        ):
            assert time.monotonic() < deadline, "the payment did not complete"
            time.sleep(0.2)
    return payment_id


@pytest.fixture(scope="module")
def paid_stack(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PaidStack]:
    directory = tmp_path_factory.mktemp("devstack")
    with running_devstack(directory, database_url, {"LOG_FORMAT": "json"}) as stack:
        yield PaidStack(stack, pay(stack))
