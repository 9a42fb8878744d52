"""The local receiver verifies each webhook with the demo secret and prints one line for it."""

import http.client
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from payments_core.webhooks.signing import generate_secret, webhook_headers
from payments_devstack.processes import OutputWriter, Supervisor, find_free_port, wait_until
from payments_devstack.receiver import WebhookReceiver, describe

PAYMENT_ID = "3f2a9c1e-0000-4000-8000-000000000001"
EVENT_ID = "evt_0123456789abcdef0123456789abcdef"
EVENT = {
    "id": EVENT_ID,
    "type": "payment.completed",
    "timestamp": "2026-11-27T10:00:00.123Z",
    "merchantId": "5b1d0000-0000-4000-8000-000000000002",
    "data": {
        "payment": {"id": PAYMENT_ID, "status": "completed", "amount": 500000, "currency": "NGN"}
    },
}


@dataclass
class Running:
    url: str
    secret: str
    output: io.StringIO


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Running]:
    secret = generate_secret()
    state_file = tmp_path / "demo.json"
    state_file.write_text(json.dumps({"webhook_endpoint_id": "x", "webhook_secret": secret}))
    output = io.StringIO()
    supervisor = Supervisor(writer=OutputWriter(output, colour=False))
    server = WebhookReceiver(find_free_port(), state_file)
    server.start(supervisor)
    try:
        yield Running(server.url, secret, output)
    finally:
        supervisor.stop_all()


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    return httpx.post(url, content=body, headers=headers, timeout=10).status_code


def wait_for_line(output: io.StringIO, text: str) -> str:
    wait_until(lambda: text in output.getvalue(), what=f"a line with {text!r}", timeout=10)
    return next(line for line in output.getvalue().splitlines() if text in line)


def test_a_correctly_signed_webhook_is_accepted_and_summarised(receiver: Running) -> None:
    body = json.dumps(EVENT).encode()
    timestamp = int(time.time())
    headers = webhook_headers([receiver.secret], EVENT_ID, timestamp, body)

    assert post(receiver.url, body, headers) == 204

    line = wait_for_line(receiver.output, "signature ok")
    assert line == (
        f"receiver | webhook payment.completed {EVENT_ID} payment {PAYMENT_ID} completed "
        f"500000 NGN  signature ok (attempt webhook-timestamp {timestamp})"
    )


def test_a_wrong_signature_is_rejected_with_400(receiver: Running) -> None:
    body = json.dumps(EVENT).encode()
    headers = webhook_headers([generate_secret()], "evt_forged", int(time.time()), body)

    assert post(receiver.url, body, headers) == 400

    line = wait_for_line(receiver.output, "evt_forged")
    assert line == "receiver | webhook evt_forged rejected: No matching signature found"


def test_a_tampered_body_and_a_stale_timestamp_are_rejected(receiver: Running) -> None:
    body = json.dumps(EVENT).encode()
    headers = webhook_headers([receiver.secret], "evt_tampered", int(time.time()), body)
    assert post(receiver.url, body.replace(b"500000", b"900000"), headers) == 400

    stale = webhook_headers([receiver.secret], "evt_stale", int(time.time()) - 3600, body)
    assert post(receiver.url, body, stale) == 400

    assert "rejected: No matching signature found" in wait_for_line(receiver.output, "evt_tampe")
    assert "rejected: Message timestamp too old" in wait_for_line(receiver.output, "evt_stale")


def test_the_secret_is_never_printed(receiver: Running) -> None:
    body = json.dumps(EVENT).encode()
    good = webhook_headers([receiver.secret], "evt_good", int(time.time()), body)
    bad = webhook_headers([generate_secret()], "evt_bad", int(time.time()), body)
    post(receiver.url, body, good)
    post(receiver.url, body, bad)
    wait_for_line(receiver.output, "evt_bad")

    printed = receiver.output.getvalue()
    assert receiver.secret not in printed
    assert receiver.secret.removeprefix("whsec_") not in printed
    assert good["webhook-signature"].removeprefix("v1,") not in printed


def test_other_paths_are_not_found(receiver: Running) -> None:
    assert post(receiver.url.replace("/webhooks", "/other"), b"{}", {}) == 404


def test_refund_events_name_the_refund_and_its_payment() -> None:
    event = {
        "id": "evt_1",
        "type": "refund.succeeded",
        "data": {
            "refund": {"id": "r1", "status": "succeeded", "amount": 1000, "currency": "NGN"},
            "payment": {"id": "p1", "status": "partially_refunded"},
        },
    }
    assert (
        describe(event)
        == "webhook refund.succeeded evt_1 refund r1 succeeded 1000 NGN (payment p1)"
    )


def test_a_failed_payment_shows_its_reason() -> None:
    payment = {"id": "p1", "status": "failed", "amount": 1, "currency": "USD"}
    event = {
        "id": "evt_2",
        "type": "payment.failed",
        "data": {"payment": {**payment, "failureReason": "card_declined"}},
    }
    assert describe(event) == "webhook payment.failed evt_2 payment p1 failed 1 USD card_declined"


def test_the_connection_is_kept_alive_between_webhooks(receiver: Running) -> None:
    body = json.dumps(EVENT).encode()
    url = httpx.URL(receiver.url)
    connection = http.client.HTTPConnection(url.host, url.port, timeout=10)
    try:
        statuses, local_ports = [], []
        # A 404 between the two: its body is read too, so the next request is read cleanly.
        for path in (url.path, "/other", url.path):
            headers = webhook_headers([receiver.secret], EVENT_ID, int(time.time()), body)
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
            assert connection.sock is not None, "the receiver closed the connection"
            local_ports.append(connection.sock.getsockname()[1])
    finally:
        connection.close()
    assert statuses == [204, 404, 204]
    assert len(set(local_ports)) == 1
