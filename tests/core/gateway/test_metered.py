"""The metered connector: every gateway call timed by operation and outcome."""

import pytest
from prometheus_client import REGISTRY

from payments_core.gateway.errors import GatewayDeclined, GatewayTimeout
from payments_core.gateway.metered import MeteredConnector
from payments_core.gateway.sandbox import SandboxConnector
from tests.core.gateway.sandbox_support import DECLINED_CARD, TIMEOUT_CARD, Payment, vault


def calls(operation: str, outcome: str) -> float:
    labels = {"gateway": "sandbox", "operation": operation, "outcome": outcome}
    return REGISTRY.get_sample_value("payments_gateway_call_duration_seconds_count", labels) or 0.0


async def test_calls_are_counted_by_operation_and_outcome(sandbox: SandboxConnector) -> None:
    metered = MeteredConnector(sandbox)
    outcomes = ("success", "declined", "timeout")
    before = {outcome: calls("authorize", outcome) for outcome in outcomes}
    tokenized_before = calls("tokenize", "success")

    declined, never_answers = (
        await vault(metered, DECLINED_CARD),
        await vault(metered, TIMEOUT_CARD),
    )

    await metered.authorize(Payment().authorize(None))
    with pytest.raises(GatewayDeclined):
        await metered.authorize(Payment().authorize(declined))
    with pytest.raises(GatewayTimeout):
        await metered.authorize(Payment().authorize(never_answers))

    assert metered.name == "sandbox"
    assert {outcome: calls("authorize", outcome) - before[outcome] for outcome in outcomes} == {
        "success": 1,
        "declined": 1,
        "timeout": 1,
    }
    assert calls("tokenize", "success") == tokenized_before + 2
