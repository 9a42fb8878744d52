"""Properties of money, the wire formats and the status graph, checked on generated input.

Pure functions only (no database): each property runs its default 100 examples (the status walk
500) in well under a second. The database-bound properties are in tests/core/payments and tests/api.
"""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from payments_core.events.envelope import format_timestamp
from payments_core.idempotency.service import fingerprint
from payments_core.money import MAX_AMOUNT_MINOR_UNITS
from payments_core.pagination import Cursor
from payments_core.payments.schemas import PaymentCreate
from payments_core.payments.status import ALLOWED_TRANSITIONS, PaymentStatus, can_transition
from payments_core.refunds.schemas import RefundCreate

METHOD_ID = str(uuid.uuid4())
amounts = st.integers(min_value=1, max_value=MAX_AMOUNT_MINOR_UNITS)
TERMINAL = {PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.REFUNDED}
REFUNDED = {PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}
UNCHARGED = {
    PaymentStatus.PENDING,
    PaymentStatus.PROCESSING,
    PaymentStatus.FAILED,
    PaymentStatus.CANCELLED,
}


@given(amounts)
def test_any_positive_integer_amount_is_kept_exactly(amount: int) -> None:
    payment = PaymentCreate.model_validate({"amount": amount, "paymentMethodId": METHOD_ID})
    assert payment.amount == amount and type(payment.amount) is int
    assert RefundCreate.model_validate({"amount": amount}).amount == amount
    # Through JSON, as the API receives it: still the same integer.
    body = json.loads(json.dumps({"amount": amount, "paymentMethodId": METHOD_ID}))
    assert PaymentCreate.model_validate(body).amount == amount


@given(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(max_value=0),
        st.integers(min_value=MAX_AMOUNT_MINOR_UNITS + 1),
        st.booleans(),
        st.integers(min_value=1).map(str),
        st.decimals(allow_nan=False, allow_infinity=False).map(str),
    )
)
def test_an_amount_that_is_not_a_positive_integer_in_range_is_refused(amount: object) -> None:
    # Floats are refused even when integral (100.0): minor units leave no room for fractions.
    with pytest.raises(ValidationError):
        PaymentCreate.model_validate({"amount": amount, "paymentMethodId": METHOD_ID})
    with pytest.raises(ValidationError):
        RefundCreate.model_validate({"amount": amount})


@given(st.datetimes(timezones=st.just(UTC)), st.uuids().map(str) | st.just("evt_" + "a" * 32))
def test_pagination_cursor_round_trips(created_at: datetime, item_id: str) -> None:
    cursor = Cursor(created_at, item_id)
    token = cursor.encode()
    assert Cursor.decode(token) == cursor
    assert token.isascii() and "=" not in token  # URL-safe, unpadded


@given(st.datetimes(timezones=st.timezones()))
def test_timestamps_format_as_utc_milliseconds_and_parse_back(moment: datetime) -> None:
    text = format_timestamp(moment)
    assert text.endswith("Z")
    parsed = datetime.fromisoformat(text)
    assert parsed.utcoffset() == timedelta(0)
    assert abs(parsed - moment) < timedelta(milliseconds=1)
    assert format_timestamp(parsed) == text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6), st.randoms())
def test_idempotency_fingerprint_ignores_key_order_and_whitespace(
    body: dict[str, object], random: object
) -> None:
    items = list(body.items())
    random.shuffle(items)  # type: ignore[attr-defined]
    reordered = json.loads(json.dumps(dict(items), indent=2))
    assert fingerprint(reordered) == fingerprint(body)


@given(
    st.dictionaries(st.text(max_size=8), json_values, min_size=1, max_size=6),
    st.text(max_size=8),
    json_values,
)
def test_idempotency_fingerprint_tells_different_bodies_apart(
    body: dict[str, object], key: str, value: object
) -> None:
    changed = {**body, key: value}
    if changed != body:
        assert fingerprint(changed) != fingerprint(body)


# A broken edge three moves deep (completed back to pending) is found in 100 walks about three
# times in four; in 500, every time we tried. Each walk takes microseconds.
@settings(max_examples=500)
@given(st.lists(st.sampled_from(list(PaymentStatus)), max_size=30))
def test_random_walks_through_the_status_graph_stay_legal(targets: list[PaymentStatus]) -> None:
    status = PaymentStatus.PENDING
    path = [status]
    for target in targets:
        if can_transition(status, target):
            assert status not in TERMINAL, f"left terminal state {status}"
            status = target
            path.append(status)
    # Money moves one way: no refund status before the charge completed, and once charged a
    # payment never reads as uncharged again (pending, processing, failed or cancelled).
    charged = path.index(PaymentStatus.COMPLETED) if PaymentStatus.COMPLETED in path else len(path)
    assert not REFUNDED.intersection(path[:charged]), path
    assert not UNCHARGED.intersection(path[charged:]), path


def test_the_status_graph_is_the_contracts() -> None:
    reachable = {PaymentStatus.PENDING}
    frontier = [PaymentStatus.PENDING]
    while frontier:
        for target in ALLOWED_TRANSITIONS[frontier.pop()]:
            if target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert reachable == set(PaymentStatus)
    assert {status for status, targets in ALLOWED_TRANSITIONS.items() if not targets} == TERMINAL
    # Refund statuses come only after completion; cancel only before the charge (an authorized
    # payment's hold is voided first); completion only from processing or a captured hold.
    for status, targets in ALLOWED_TRANSITIONS.items():
        if targets & REFUNDED:
            assert status in {PaymentStatus.COMPLETED, PaymentStatus.PARTIALLY_REFUNDED}
        if PaymentStatus.CANCELLED in targets:
            assert status in {
                PaymentStatus.PENDING,
                PaymentStatus.PROCESSING,
                PaymentStatus.REQUIRES_ACTION,
                PaymentStatus.AUTHORIZED,
            }
        if PaymentStatus.COMPLETED in targets:
            assert status in {PaymentStatus.PROCESSING, PaymentStatus.AUTHORIZED}
