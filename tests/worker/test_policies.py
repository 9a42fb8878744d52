"""The retry budget keeps every test card within the contract's 60 s with default settings."""

from datetime import timedelta

from payments_core.settings import WorkerSettings
from payments_core.webhooks.secret_box import new_key
from payments_worker import policies
from payments_worker.worker import gateway_call_timeout


def test_never_answering_gateway_fails_within_the_contract() -> None:
    defaults = WorkerSettings(
        database_url="postgresql://x/y",
        temporal_address="localhost:7233",
        connector_encryption_key=new_key(),
    )
    latency = timedelta(milliseconds=defaults.sandbox_latency_ms)
    answer_timeout = timedelta(seconds=defaults.gateway_timeout_seconds)

    authorizing = policies.authorize_worst_case(answer_timeout, latency)
    # Then one void and one status write; allow each a whole gateway call (as long as the
    # slowest connector's, Stripe's, may take).
    total = authorizing + 2 * gateway_call_timeout(defaults)

    assert total < timedelta(seconds=60)
    # An activity start_to_close shorter than the connector's own timeout would hide it.
    assert policies.gateway_call_timeout(latency, answer_timeout) > answer_timeout


def test_transient_card_has_attempts_to_spare() -> None:
    # 4000000000000119 fails twice, then succeeds.
    assert policies.AUTHORIZE_RETRY.maximum_attempts >= 3
