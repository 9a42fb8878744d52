"""The retry schedule: one retry per entry, jittered up to 10% later, then none."""

import random

import pytest

from payments_core.settings import DEFAULT_WEBHOOK_RETRY_SCHEDULE, WebhookSenderSettings
from payments_core.webhooks.schedule import JITTER, retry_delay
from tests.api.support import WEBHOOK_ENCRYPTION_KEY


def test_each_retry_waits_its_entry_plus_at_most_ten_percent() -> None:
    rng = random.Random(7)
    schedule = (5, 300, 1800)
    for used, base in enumerate(schedule):
        for _ in range(50):
            delay = retry_delay(schedule, used, rng)
            assert delay is not None and base <= delay <= base * (1 + JITTER)
    assert retry_delay(schedule, len(schedule), rng) is None


def test_the_default_schedule_is_the_contracts() -> None:
    assert DEFAULT_WEBHOOK_RETRY_SCHEDULE == (5, 300, 1800, 7200, 18000, 36000, 36000)


def _settings(**values: object) -> WebhookSenderSettings:
    return WebhookSenderSettings(
        database_url="postgresql://u@h/db",
        webhook_encryption_key=WEBHOOK_ENCRYPTION_KEY,
        **values,  # type: ignore[arg-type]
    )


def test_the_schedule_is_read_as_comma_separated_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_RETRY_SCHEDULE", " 1, 2 ,30")
    assert _settings().webhook_retry_schedule == (1, 2, 30)
    monkeypatch.setenv("WEBHOOK_RETRY_SCHEDULE", "")
    assert _settings().webhook_retry_schedule == DEFAULT_WEBHOOK_RETRY_SCHEDULE


@pytest.mark.parametrize("bad", ["5,soon", "-1", "1.5", "999999999"])
def test_a_malformed_schedule_is_refused(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("WEBHOOK_RETRY_SCHEDULE", bad)
    with pytest.raises(ValueError, match="webhook_retry_schedule"):
        _settings()
