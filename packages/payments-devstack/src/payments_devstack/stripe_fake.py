"""`STRIPE_FAKE=1 make up`: a fake Stripe beside the stack, and the demo merchant connected to it.

localstripe (PyPI, GPL-3.0) runs as one more child process, through `uv tool run` in an
environment of its own: it is never imported or vendored. The API and the worker get
`STRIPE_API_BASE` pointing at it, and once the API answers, the demo merchant gets a Stripe
connector through the API itself (`POST /connectors`), once: a later run keeps the one it finds.
Then a card is registered (`POST /payment-methods`), which the connector vaults: payments go only
to connectors holding the card, and the seed's card was registered before there was one.

localstripe keeps its objects in memory and in `/tmp/localstripe.pickle` (a fixed path of its
own, shared by every localstripe on the machine), which it reloads on start.
"""

from __future__ import annotations

import secrets
import shutil
import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from payments_devstack.errors import DevstackError
from payments_devstack.processes import ServiceSpec, wait_until
from payments_devstack.server import InfrastructureServer

LOCALSTRIPE = "localstripe==1.15.10"
# The first run downloads localstripe and its dependencies into uv's cache.
READY_TIMEOUT_SECONDS = 180.0
PROGRESS_EVERY_SECONDS = 10.0
# localstripe takes any `sk_…` key; this one only asks whether it answers.
PROBE_KEY = "sk_test_devstack"
CONNECTOR_PRIORITY = 0
# Stripe's test Visa, which localstripe takes as Stripe does.
DEMO_CARD = {"number": "4242424242424242", "expMonth": 12, "expYear": 2035, "cvc": "123"}
# What a failing call was for, at the head of its one line.
CONNECTOR, CARD = "Stripe connector", "Stripe card"
_ALPHANUMERIC = string.ascii_letters + string.digits
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def stripe_fake_wanted(env: Mapping[str, str]) -> bool:
    """Whether STRIPE_FAKE asks for the fake; a value that is neither yes nor no stops `make up`."""
    raw = env.get("STRIPE_FAKE", "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise DevstackError(f"STRIPE_FAKE must be 1 or 0 (true/false), got {raw!r}")


def find_uv(env: Mapping[str, str]) -> str:
    """The uv that runs us (`uv run` sets UV), else the first one on PATH."""
    found = env.get("UV") or shutil.which("uv", path=env.get("PATH"))
    if not found:
        raise DevstackError(
            "localstripe: STRIPE_FAKE=1 runs it with `uv tool run`, and uv was not found "
            "(make install installs it)"
        )
    return found


class LocalStripe(InfrastructureServer):
    """localstripe on 127.0.0.1:`port` (it listens on every interface; it holds fake data only)."""

    def __init__(self, port: int, *, uv: str, log_file: Path | None = None) -> None:
        super().__init__()
        self.port = port
        self.uv = uv
        self.log_file = log_file

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spec(self) -> ServiceSpec:
        tool_run = [self.uv, "tool", "run", "--from", LOCALSTRIPE, "localstripe"]
        return ServiceSpec(
            name="localstripe",
            argv=[*tool_run, "--port", str(self.port)],
            # It logs every request: to its file, as moto and Temporal do.
            log_file=self.log_file,
            echo=self.log_file is None,
        )

    def wait_ready(
        self,
        timeout: float = READY_TIMEOUT_SECONDS,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        """Wait until it answers, telling `progress` every few seconds while it is not yet there
        (the first run installs it)."""
        started = time.monotonic()
        next_note = started + PROGRESS_EVERY_SECONDS

        def ready() -> bool:
            nonlocal next_note
            if self._answers():
                return True
            if progress is not None and time.monotonic() >= next_note:
                next_note += PROGRESS_EVERY_SECONDS
                where = f"; log: {self.log_file}" if self.log_file else ""
                progress(
                    f"localstripe still starting after {time.monotonic() - started:.0f}s "
                    f"(the first run installs {LOCALSTRIPE} with uv{where})"
                )
            return False

        wait_until(ready, what="localstripe", timeout=timeout, process=self._process, interval=0.2)

    def _answers(self) -> bool:
        try:
            httpx.get(f"{self.url}/v1/customers", auth=(PROBE_KEY, ""), timeout=1)
        except httpx.HTTPError:
            return False
        return True  # any HTTP answer means it is up


@dataclass(frozen=True)
class DemoConnector:
    """The demo merchant's Stripe connector, as the API shows it."""

    id: str
    priority: int
    enabled: bool
    mode: str
    # False: found from an earlier run and kept.
    created: bool


def new_test_credentials() -> dict[str, str]:
    """A Stripe test key and webhook secret of the shapes Stripe issues; localstripe takes any."""
    key = "".join(secrets.choice(_ALPHANUMERIC) for _ in range(24))
    webhook = "".join(secrets.choice(_ALPHANUMERIC) for _ in range(32))
    return {"secretKey": f"sk_test_{key}", "webhookSecret": f"whsec_{webhook}"}


def ensure_demo_connector(
    api_url: str,
    api_key: str,
    *,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 10.0,
) -> DemoConnector:
    """The merchant's Stripe connector: the one it has (enabled first, then by priority), else a
    new one at priority 0 with fresh test credentials. Through the API, as a merchant would."""
    with httpx.Client(
        base_url=api_url.rstrip("/"),
        headers={"X-API-Key": api_key},
        timeout=timeout,
        transport=transport,
    ) as api:
        existing = [item for item in _all_connectors(api) if item.get("type") == "stripe"]
        if existing:
            kept = min(existing, key=lambda item: (not item.get("enabled"), item.get("priority")))
            return _connector(kept, created=False)
        body = {
            "type": "stripe",
            "credentials": new_test_credentials(),
            "priority": CONNECTOR_PRIORITY,
            "enabled": True,
        }
        created = _call(api, CONNECTOR, "POST", "/connectors", json=body)["data"]
        if not isinstance(created, dict):
            raise DevstackError(f"{CONNECTOR}: POST /connectors answered without a connector")
        return _connector(created, created=True)


def register_demo_card(
    api_url: str,
    api_key: str,
    *,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 30.0,
) -> str:
    """A card registered now, so that the merchant's connectors (Stripe's) hold it: its id.

    A new one on every run, as only a card registered while localstripe runs is surely known to
    it (localstripe's store may be gone since: a reboot empties /tmp)."""
    with httpx.Client(
        base_url=api_url.rstrip("/"),
        headers={"X-API-Key": api_key},
        timeout=timeout,
        transport=transport,
    ) as api:
        body = {"type": "card", "card": DEMO_CARD}
        created = _call(api, CARD, "POST", "/payment-methods", json=body)["data"]
    if not isinstance(created, dict) or "id" not in created:
        raise DevstackError(f"{CARD}: POST /payment-methods answered without a payment method")
    return str(created["id"])


def _all_connectors(api: httpx.Client) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    params: dict[str, str | int] = {"limit": 100}
    while True:
        body = _call(api, CONNECTOR, "GET", "/connectors", params=params)
        page = body["data"]
        if not isinstance(page, list):
            raise DevstackError(f"{CONNECTOR}: GET /connectors answered without a list")
        found += [item for item in page if isinstance(item, dict)]
        cursor = (body.get("pagination") or {}).get("nextCursor")
        if not cursor:
            return found
        params = {"limit": 100, "cursor": str(cursor)}


def _call(
    api: httpx.Client, subject: str, method: str, path: str, **request: Any
) -> dict[str, Any]:
    """The API's answer (an envelope with `data`); else DevstackError, one line naming the call."""
    what = f"{subject}: {method} {api.base_url.path.rstrip('/')}{path}"
    try:
        response = api.request(method, path, **request)
    except httpx.HTTPError as error:
        raise DevstackError(f"{what} failed: {error!r}") from error
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not response.is_success:
        message = body.get("message") if isinstance(body, dict) else None
        raise DevstackError(
            f"{what} answered {response.status_code}" + (f": {message}" if message else "")
        )
    if not isinstance(body, dict) or "data" not in body:
        raise DevstackError(f"{what} answered without data")
    return body


def _connector(item: dict[str, Any], *, created: bool) -> DemoConnector:
    return DemoConnector(
        id=str(item["id"]),
        priority=int(item.get("priority") or 0),
        enabled=bool(item.get("enabled")),
        mode=str(item.get("mode") or ""),
        created=created,
    )
