"""`STRIPE_FAKE=1 make up` end to end, twice on the same data: localstripe answers at the URL the
summary prints, the demo merchant has exactly one Stripe connector, the one printed, created by
the first run and kept by the second, and on each run a payment with the printed card goes through
it to localstripe (so the API and the worker were pointed at it)."""

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from payments_devstack.processes import port_accepts_connections
from tests.stack.support import DevStack, retire_demo_stripe_connectors, running_devstack

FAKE_LINE = re.compile(r"Stripe \(fake\)\s+(http://127\.0\.0\.1:(\d+)) \(localstripe")
CONNECTOR_LINE = re.compile(r"Stripe connector\s+([0-9a-f-]{36}) \(priority 0, enabled, (.+)\)")
CARD_LINE = re.compile(r"Stripe card\s+([0-9a-f-]{36}) \(4242")


def _printed(stack: DevStack, pattern: re.Pattern[str]) -> re.Match[str]:
    found = [match for line in stack.lines_from("devstack") if (match := pattern.search(line))]
    assert len(found) == 1, "\n".join(stack.output[-60:])
    return found[0]


def _stripe_connectors(stack: DevStack) -> list[dict[str, object]]:
    answer = httpx.get(
        f"{stack.api_url}/connectors",
        headers={"X-API-Key": stack.demo["api_key"]},
        params={"limit": 100},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return [item for item in answer.json()["data"] if item["type"] == "stripe"]


def _pay_through_stripe(stack: DevStack, card_id: str, connector_id: str, stripe_url: str) -> None:
    """A payment with `card_id`, as the summary's curl makes it: completed by the connector, with
    a PaymentIntent localstripe knows as its reference."""
    headers = {"X-API-Key": stack.demo["api_key"]}
    body = {"amount": 500000, "currency": "NGN", "paymentMethodId": card_id}
    with httpx.Client(base_url=stack.api_url, headers=headers, timeout=10) as api:
        created = api.post("/payments", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
        assert created.status_code == 201, created.text
        payment_id = created.json()["data"]["id"]
        deadline = time.monotonic() + 60
        while True:
            payment = api.get(f"/payments/{payment_id}").json()["data"]
            if payment["status"] not in ("pending", "processing"):
                break
            assert time.monotonic() < deadline, f"the payment did not end: {payment}"
            time.sleep(0.2)
    assert payment["status"] == "completed", payment
    assert payment["connector"] == {"id": connector_id, "type": "stripe"}
    reference = payment["gatewayReference"]
    assert reference.startswith("pi_"), reference
    intent = httpx.get(
        f"{stripe_url}/v1/payment_intents/{reference}", auth=("sk_test_probe", ""), timeout=5
    ).json()
    assert (intent["status"], intent["amount"]) == ("succeeded", 500000)
    assert intent["metadata"]["payment_id"] == payment_id


@pytest.fixture
def stack_dir(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A scratch directory for the stack; afterwards, whatever happened, the demo merchant (whom
    other tests use on this database) has no Stripe connector left."""
    directory = tmp_path_factory.mktemp("stripe-fake")
    yield directory
    retire_demo_stripe_connectors(directory, database_url)


@pytest.mark.slow
@pytest.mark.timeout(360)
def test_stripe_fake_starts_localstripe_and_connects_the_demo_merchant_once(
    database_url: str, stack_dir: Path
) -> None:
    env = {"STRIPE_FAKE": "1"}
    with running_devstack(stack_dir, database_url, env) as stack:
        url, port = _printed(stack, FAKE_LINE).groups()
        connector_id, how = _printed(stack, CONNECTOR_LINE).groups()

        # localstripe answers there, as Stripe would.
        customers = httpx.get(f"{url}/v1/customers", auth=("sk_test_probe", ""), timeout=5)
        assert customers.status_code == 200
        assert customers.json()["object"] == "list"
        (connector,) = _stripe_connectors(stack)
        assert connector["id"] == connector_id
        assert (connector["priority"], connector["enabled"], connector["mode"]) == (0, True, "test")
        assert how == "new"
        _pay_through_stripe(stack, _printed(stack, CARD_LINE)[1], connector_id, url)
    assert not port_accepts_connections(int(port)), "localstripe outlived the stack"

    with running_devstack(stack_dir, database_url, env) as again:
        kept_id, how = _printed(again, CONNECTOR_LINE).groups()
        assert (kept_id, how) == (connector_id, "kept from an earlier run")
        assert [item["id"] for item in _stripe_connectors(again)] == [connector_id]
        url = _printed(again, FAKE_LINE)[1]
        _pay_through_stripe(again, _printed(again, CARD_LINE)[1], connector_id, url)
