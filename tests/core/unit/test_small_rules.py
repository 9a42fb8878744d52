"""Pure rules: metadata limits, pagination cursors, secret masking, log redaction, references."""

import re
import uuid
from datetime import UTC, datetime

import pytest

from payments_core.errors import InvalidRequest
from payments_core.metadata import validate_metadata
from payments_core.pagination import Cursor
from payments_core.payments.references import new_reference
from payments_core.payments.status import PaymentStatus, can_transition
from payments_core.secret import Secret
from payments_core.telemetry.redaction import redact


def test_metadata_limits() -> None:
    assert validate_metadata({"a": "x" * 500, "n": 3, "b": True, "f": 1.5}) == {
        "a": "x" * 500, "n": 3, "b": True, "f": 1.5,
    }  # fmt: skip
    for bad in (
        {f"k{i}": "v" for i in range(51)},
        {"k" * 41: "v"},
        {"k": "v" * 501},
        {"k": {"nested": 1}},
        {"k": [1]},
        {"k": None},
        {"": "v"},
    ):
        with pytest.raises(ValueError, match="metadata"):
            validate_metadata(bad)


def test_cursor_round_trips_and_rejects_garbage() -> None:
    item_id = uuid.uuid4()
    cursor = Cursor(datetime(2026, 11, 27, 10, 0, tzinfo=UTC), str(item_id))
    assert Cursor.decode(cursor.encode()) == cursor
    assert cursor.id_for(column_is_uuid=True) == item_id
    for garbage in ("not-a-cursor", "", "W10", "e30"):
        with pytest.raises(InvalidRequest):
            Cursor.decode(garbage)


def test_an_event_cursor_is_refused_by_a_uuid_list() -> None:
    # Events are keyed by `evt_…` ids; their cursor must not reach a UUID column as a 500.
    cursor = Cursor.decode(Cursor(datetime(2026, 11, 27, tzinfo=UTC), "evt_" + "a" * 32).encode())
    assert cursor.id_for(column_is_uuid=False) == "evt_" + "a" * 32
    with pytest.raises(InvalidRequest):
        cursor.id_for(column_is_uuid=True)


def test_secret_never_prints() -> None:
    secret = Secret("4242424242424242")
    assert "4242" not in repr(secret) and "4242" not in str(secret) and "4242" not in f"{secret}"
    assert secret.reveal() == "4242424242424242"


def test_redaction_masks_keys_webhook_secrets_and_card_numbers() -> None:
    line = (
        "key sk_test_abcdefghijklmnopqrstuvwxyz0123456789 secret whsec_c2VjcmV0c2VjcmV0 "
        "card 4242 4242 4242 4242 and 5060666666666666666, amount 100000"
    )
    redacted = redact(line)
    assert "sk_test_abc" not in redacted and "whsec_c2V" not in redacted
    assert "4242 4242" not in redacted and "5060666666666666666" not in redacted
    assert "100000" in redacted


def test_references_are_pay_prefixed_and_unique() -> None:
    references = {new_reference() for _ in range(1000)}
    assert len(references) == 1000
    assert all(re.fullmatch(r"PAY-[0-9A-Z]{16}", reference) for reference in references)


def test_status_transitions() -> None:
    assert can_transition(PaymentStatus.PENDING, PaymentStatus.PROCESSING)
    assert can_transition(PaymentStatus.PROCESSING, PaymentStatus.COMPLETED)
    assert can_transition(PaymentStatus.COMPLETED, PaymentStatus.REFUNDED)
    assert not can_transition(PaymentStatus.COMPLETED, PaymentStatus.CANCELLED)
    assert not can_transition(PaymentStatus.FAILED, PaymentStatus.COMPLETED)
    assert not can_transition(PaymentStatus.REFUNDED, PaymentStatus.PENDING)
