"""`STRIPE_FAKE=1 make up`: localstripe as one more child, STRIPE_API_BASE for our services, and
the demo merchant's Stripe connector registered through the API once and kept across runs."""

import json
import re
import stat
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from payments_core.connectors.schemas import ConnectorCreate
from payments_core.payment_methods.schemas import PaymentMethodCreate
from payments_devstack import stripe_fake
from payments_devstack.environment import Ports
from payments_devstack.errors import DevstackError
from payments_devstack.processes import find_free_port
from payments_devstack.stripe_fake import (
    LOCALSTRIPE,
    DemoConnector,
    LocalStripe,
    ensure_demo_connector,
    find_uv,
    register_demo_card,
    stripe_fake_wanted,
)
from payments_devstack.up import Demo, StripeFake, summary_lines
from tests.localstripe import LOCALSTRIPE as TESTS_LOCALSTRIPE

API_URL = "http://127.0.0.1:3001/api/v1"
API_KEY = "sk_test_" + "d" * 40


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", " on "])
def test_stripe_fake_is_asked_for(value: str) -> None:
    assert stripe_fake_wanted({"STRIPE_FAKE": value})


@pytest.mark.parametrize(
    "env", [{}, {"STRIPE_FAKE": ""}, {"STRIPE_FAKE": "0"}, {"STRIPE_FAKE": "false"}]
)
def test_make_up_keeps_working_without_stripe(env: dict[str, str]) -> None:
    assert not stripe_fake_wanted(env)


def test_a_malformed_stripe_fake_is_named() -> None:
    with pytest.raises(
        DevstackError, match=r"^STRIPE_FAKE must be 1 or 0 \(true/false\), got 'maybe'$"
    ):
        stripe_fake_wanted({"STRIPE_FAKE": "maybe"})


class FakeApi:
    """The API's /connectors as the demo merchant sees them (newest first, pages of `page_size`),
    and its /payment-methods."""

    def __init__(self, connectors: list[dict[str, Any]] | None = None, page_size: int = 100):
        self.connectors = list(connectors or [])
        self.page_size = page_size
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("x-api-key") != API_KEY:
            return httpx.Response(401, json={"statusCode": 401, "message": "invalid API key"})
        if request.url.path == "/api/v1/payment-methods" and request.method == "POST":
            method = PaymentMethodCreate.model_validate(json.loads(request.content))
            return httpx.Response(
                201, json={"data": {"id": str(uuid.uuid4()), "type": method.type.value}}
            )
        assert request.url.path == "/api/v1/connectors"
        if request.method == "POST":
            body = json.loads(request.content)
            ConnectorCreate.model_validate(body)  # the API's own validation
            created = {
                "id": str(uuid.uuid4()),
                "type": body["type"],
                "priority": body["priority"],
                "enabled": body["enabled"],
                "mode": "test",
                "credentialsLast4": body["credentials"]["secretKey"][-4:],
            }
            self.connectors.insert(0, created)
            return httpx.Response(201, json={"statusCode": 201, "data": created})
        start = int(request.url.params.get("cursor") or 0)
        page = self.connectors[start : start + self.page_size]
        more = start + self.page_size < len(self.connectors)
        pagination = {"hasMore": more, "nextCursor": str(start + self.page_size) if more else None}
        return httpx.Response(200, json={"statusCode": 200, "data": page, "pagination": pagination})

    def posts(self, path: str = "/api/v1/connectors") -> list[dict[str, Any]]:
        return [
            json.loads(r.content)
            for r in self.requests
            if r.method == "POST" and r.url.path == path
        ]


def _ensure(api: FakeApi, key: str = API_KEY) -> DemoConnector:
    return ensure_demo_connector(API_URL, key, transport=httpx.MockTransport(api))


def _stripe_connector(priority: int, *, enabled: bool = True) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "type": "stripe", "priority": priority, "enabled": enabled,
            "mode": "test"}  # fmt: skip


def test_a_connector_is_registered_once_through_the_api_and_kept_on_the_next_run() -> None:
    api = FakeApi()

    first = _ensure(api)
    second = _ensure(api)

    (posted,) = api.posts()
    assert posted["type"] == "stripe"
    assert (posted["priority"], posted["enabled"]) == (0, True)
    assert re.fullmatch(r"sk_test_[A-Za-z0-9]{24}", posted["credentials"]["secretKey"])
    assert re.fullmatch(r"whsec_[A-Za-z0-9]{32}", posted["credentials"]["webhookSecret"])
    assert (first.created, first.priority, first.enabled, first.mode) == (True, 0, True, "test")
    assert second == DemoConnector(first.id, 0, True, "test", created=False)
    assert len(api.connectors) == 1


def test_each_registration_gets_fresh_credentials() -> None:
    first, second = FakeApi(), FakeApi()
    _ensure(first)
    _ensure(second)
    assert first.posts()[0]["credentials"] != second.posts()[0]["credentials"]


def test_a_connector_the_merchant_has_is_kept_enabled_and_first_in_line_preferred() -> None:
    disabled, later, first_in_line = (
        _stripe_connector(0, enabled=False),
        _stripe_connector(5),
        _stripe_connector(2),
    )
    api = FakeApi([disabled, later, first_in_line], page_size=1)  # one per page: cursors followed

    kept = _ensure(api)

    assert (kept.id, kept.created) == (first_in_line["id"], False)
    assert api.posts() == []
    cursors = [r.url.params.get("cursor") for r in api.requests]
    assert cursors == [None, "1", "2"]


def test_a_disabled_connector_is_still_kept_rather_than_doubled() -> None:
    disabled = _stripe_connector(0, enabled=False)
    kept = _ensure(FakeApi([disabled]))
    assert (kept.id, kept.enabled, kept.created) == (disabled["id"], False, False)


def test_a_card_is_registered_through_the_api_for_the_connector_to_vault() -> None:
    api = FakeApi()
    first = register_demo_card(API_URL, API_KEY, transport=httpx.MockTransport(api))
    second = register_demo_card(API_URL, API_KEY, transport=httpx.MockTransport(api))

    card = {"number": "4242424242424242", "expMonth": 12, "expYear": 2035, "cvc": "123"}
    assert api.posts("/api/v1/payment-methods") == [{"type": "card", "card": card}] * 2
    # A new one each run: only a card registered while this localstripe runs is surely its.
    assert first != second
    with pytest.raises(
        DevstackError, match=r"^Stripe card: POST /api/v1/payment-methods answered 401"
    ):
        register_demo_card(API_URL, "sk_test_wrong", transport=httpx.MockTransport(api))


def test_an_api_refusal_stops_make_up_with_one_line_naming_the_call() -> None:
    with pytest.raises(DevstackError) as raised:
        _ensure(FakeApi(), key="sk_test_wrong")
    assert str(raised.value) == (
        "Stripe connector: GET /api/v1/connectors answered 401: invalid API key"
    )


def test_an_unreachable_api_is_named() -> None:
    with pytest.raises(DevstackError, match=r"^Stripe connector: GET /api/v1/connectors failed"):
        ensure_demo_connector(f"http://127.0.0.1:{find_free_port()}/api/v1", API_KEY, timeout=2)


def _summary(stripe: StripeFake | None, demo: Demo | None) -> list[str]:
    return summary_lines(
        Ports.from_env({}),
        "postgresql://postgres@127.0.0.1:5432/payments",
        "dev_admin_token",
        demo,
        Path(".data/logs"),
        {},
        "http://127.0.0.1:4000/webhooks",
        stripe=stripe,
    )


DEMO = Demo("m-1", "demo@merchant.test", API_KEY, "pm-1", "we-1")
CONNECTOR_ID = "9a0c4a52-0d7f-4b8e-9a54-4b2d2bb1f3a1"


def test_the_summary_names_localstripe_the_connector_and_pays_with_a_card_it_holds() -> None:
    connector = DemoConnector(CONNECTOR_ID, 0, True, "test", created=True)
    lines = _summary(StripeFake("http://127.0.0.1:41234", connector, "card-1"), DEMO)

    assert "  Stripe (fake)      http://127.0.0.1:41234 (localstripe; STRIPE_API_BASE)" in lines
    assert f"  Stripe connector   {CONNECTOR_ID} (priority 0, enabled, new)" in lines
    assert "  Stripe card        card-1 (4242…, held by the Stripe connector)" in lines
    # The seed's card was registered before the connector: it could not pay.
    (body,) = [line for line in lines if "paymentMethodId" in line]
    assert '"paymentMethodId": "card-1"' in body
    assert any("(postgres, moto, temporal, localstripe)" in line for line in lines)
    kept = DemoConnector(CONNECTOR_ID, 0, True, "test", created=False)
    assert any("kept from an earlier run" in line for line in _summary(StripeFake("u", kept), DEMO))


def test_without_stripe_fake_the_summary_says_nothing_of_stripe() -> None:
    lines = _summary(None, DEMO)
    assert not any("Stripe" in line or "localstripe" in line for line in lines)
    (body,) = [line for line in lines if "paymentMethodId" in line]
    assert f'"paymentMethodId": "{DEMO.payment_method_id}"' in body


def test_localstripe_runs_in_its_own_uv_environment_with_the_tests_pin(tmp_path: Path) -> None:
    server = LocalStripe(41234, uv="/opt/uv", log_file=tmp_path / "localstripe.log")
    spec = server._spec()

    assert list(spec.argv) == ["/opt/uv", "tool", "run", "--from", LOCALSTRIPE, "localstripe",
                               "--port", "41234"]  # fmt: skip
    assert (spec.log_file, spec.echo, server.url) == (
        tmp_path / "localstripe.log",
        False,
        "http://127.0.0.1:41234",
    )
    # The tests' localstripe is the same one.
    assert LOCALSTRIPE == TESTS_LOCALSTRIPE


def test_uv_is_the_one_that_runs_us_else_the_one_on_path(tmp_path: Path) -> None:
    assert find_uv({"UV": "/opt/uv/bin/uv", "PATH": ""}) == "/opt/uv/bin/uv"
    on_path = tmp_path / "uv"
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    assert find_uv({"PATH": str(tmp_path)}) == str(on_path)
    with pytest.raises(DevstackError, match="uv was not found"):
        find_uv({"PATH": str(tmp_path / "nowhere")})


def _fake_uv(tmp_path: Path, script: str) -> str:
    """A stand-in for `uv tool run … localstripe --port N`: `script`, with $PORT set."""
    uv = tmp_path / "fake-uv"
    uv.write_text(f"#!/bin/sh\nfor PORT; do :; done\n{script}\n")
    uv.chmod(uv.stat().st_mode | stat.S_IXUSR)
    return str(uv)


def test_a_slow_first_start_is_shown_while_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stripe_fake, "PROGRESS_EVERY_SECONDS", 0.5)
    uv = _fake_uv(tmp_path, 'sleep 2; exec python3 -m http.server --bind 127.0.0.1 "$PORT"')
    notes: list[str] = []
    server = LocalStripe(find_free_port(), uv=uv, log_file=tmp_path / "localstripe.log")
    server.spawn()
    try:
        server.wait_ready(timeout=30, progress=notes.append)
    finally:
        server.stop()

    assert notes, "no progress while localstripe was starting"
    assert all(note.startswith("localstripe still starting after ") for note in notes)
    assert f"the first run installs {LOCALSTRIPE} with uv; log: {tmp_path}" in notes[0]


def test_a_localstripe_that_cannot_start_is_named_with_its_log(tmp_path: Path) -> None:
    uv = _fake_uv(tmp_path, "echo 'error: no network' >&2; exit 2")
    server = LocalStripe(find_free_port(), uv=uv, log_file=tmp_path / "localstripe.log")
    server.spawn()
    try:
        with pytest.raises(DevstackError) as raised:
            server.wait_ready(timeout=30)
    finally:
        server.stop()
    assert str(raised.value) == (
        f"localstripe exited during startup with code 2 (log: {tmp_path / 'localstripe.log'})"
    )
    assert "error: no network" in (tmp_path / "localstripe.log").read_text()
